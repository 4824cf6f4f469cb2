//! Records kept in the index: manifests (direct-mode lookups) and results (what to restore).

use super::Digest;
use serde::{Deserialize, Serialize};

/// Most entries kept per source content in a manifest (header-state variants of one source);
/// the oldest are dropped first.
pub const MAX_MANIFEST_ENTRIES: usize = 24;

/// Most entries kept per manifest in all. One manifest key can serve several different
/// sources: same-named files in sibling directories compiled from their own directory with
/// the same arguments (recursive make), whose paths are keyed relative to the cwd. Each keeps
/// its own variants, so a pass over up to this many such siblings still hits.
pub const MAX_MANIFEST_TOTAL: usize = 256;

/// All known header-state variants for one (compiler, args, source path) key.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Manifest {
    /// Most recent first.
    pub entries: Vec<ManifestEntry>,
}

/// One variant: when every file still has its hash, every absent path is still absent, every
/// listed directory has the same names and every variable read has its value, `result` is the
/// cached outcome.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestEntry {
    /// Files the compile read (paths as the compiler named them; relative ones resolve against
    /// the cwd), source first.
    pub files: Vec<(String, Digest)>,
    /// Paths that did not exist and would have shadowed a header had they existed, grouped
    /// by directory.
    pub absent: Vec<AbsentGroup>,
    /// Environment variables the compile read (rustc `env-dep` and every variable the
    /// recorder saw read), with their values (None = unset); stored with path placeholders.
    pub env: Vec<(String, Option<String>)>,
    /// Directories the compile listed, with the digest of their sorted entry names.
    pub listings: Vec<(String, Digest)>,
    /// Inputs whose mtime (whole seconds) the output records, with that mtime.
    pub mtimes: Vec<(String, i64)>,
    /// Set when the outputs name their checkout (an absolute path below the base dir): the
    /// working dir and base dir they were built in, the only compiles they may be served to.
    pub tied_to: Option<String>,
    pub result: Digest,
}

impl Manifest {
    /// Adds an entry at the front, replacing an equal one, keeping the size bounded.
    pub fn push_front(&mut self, entry: ManifestEntry) {
        self.entries.retain(|e| {
            e.files != entry.files
                || e.absent != entry.absent
                || e.listings != entry.listings
                || e.mtimes != entry.mtimes
                || e.env != entry.env
                || e.tied_to != entry.tied_to
        });
        let source = entry.files.first().map(|(_, digest)| *digest);
        self.entries.insert(0, entry);
        let mut variants = 0;
        self.entries.retain(|e| {
            if e.files.first().map(|(_, digest)| *digest) != source {
                return true;
            }
            variants += 1;
            variants <= MAX_MANIFEST_ENTRIES
        });
        self.entries.truncate(MAX_MANIFEST_TOTAL);
    }
}

/// Shadowing candidates in one directory, with the directory's state when they were recorded:
/// while the directory is still missing, or its mtime is unchanged (and was settled), no file
/// can have appeared in it, so one `stat` covers all its candidates.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AbsentGroup {
    pub dir: String,
    /// None: the directory did not exist. Some(mtime ns): it existed with this mtime.
    pub dir_mtime_ns: Option<i128>,
    /// Whether `dir_mtime_ns` was old enough to be trusted as a "nothing created" proof.
    pub settled: bool,
    /// File paths below `dir` (relative to it) that must stay absent.
    pub names: Vec<String>,
}

/// One output file of a cached compile.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredOutput {
    pub role: String,
    pub blob: Digest,
    pub size: u64,
    pub mode: u32,
    /// The blob file's ctime (ns) when the result was stored: while it is unchanged, the blob
    /// is exactly what was written (any write changes ctime) and a restore need not re-hash it.
    pub blob_ctime_ns: i128,
}

/// A cached compile outcome.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ResultRecord {
    pub outputs: Vec<StoredOutput>,
    #[serde(with = "serde_bytes")]
    pub stdout: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub stderr: Vec<u8>,
    /// Depfile prerequisites as the compiler escaped them, in its order (source first).
    pub deps: Vec<String>,
    /// Per dep: whether it is a system header (left out of `-MMD` depfiles).
    pub system_deps: Vec<bool>,
    /// How long the compile took, for "time saved".
    pub compile_ms: u64,
    /// rustc dep-info text with path placeholders, re-rendered for each hit.
    pub dep_info: Option<String>,
    /// Whether the compile read nothing beyond its depfile's files and toolchain executables,
    /// so the preprocessor tier (same `-E` output ⇒ same result) is sound for it.
    pub preprocessor_ok: bool,
}

/// Encodes a record for the index.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).unwrap_or_default()
}

/// Decodes a record; a corrupt record reads as None (a miss, never a wrong hit).
pub fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Option<T> {
    postcard::from_bytes(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(source: u8, header: u8) -> ManifestEntry {
        ManifestEntry {
            files: vec![
                ("unit.c".into(), [source; 32]),
                ("h.h".into(), [header; 32]),
            ],
            absent: Vec::new(),
            env: Vec::new(),
            listings: Vec::new(),
            mtimes: Vec::new(),
            tied_to: None,
            result: [source ^ header; 32],
        }
    }

    #[test]
    fn variants_are_bounded_per_source_and_sources_share_the_manifest() {
        let mut m = Manifest::default();
        // 40 different sources under one key, then 30 header variants of source 0.
        for s in 0..40 {
            m.push_front(entry(s, 0));
        }
        assert_eq!(m.entries.len(), 40, "every sibling source keeps its entry");
        for h in 1..=30 {
            m.push_front(entry(0, h));
        }
        let of_source_0 = m.entries.iter().filter(|e| e.files[0].1 == [0; 32]).count();
        assert_eq!(of_source_0, MAX_MANIFEST_ENTRIES);
        assert_eq!(m.entries.len(), 39 + MAX_MANIFEST_ENTRIES);
        assert_eq!(m.entries[0], entry(0, 30), "newest first");
        for s in 0..255 {
            m.push_front(entry(s, 200));
        }
        assert_eq!(m.entries.len(), MAX_MANIFEST_TOTAL);
    }
}
