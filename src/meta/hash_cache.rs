//! Path → (size, mtime, ctime, inode) → blake3, validated by a `stat` on every use.
//!
//! A cached hash is only trusted when the file's stat still matches and the file was already
//! "settled" when it was hashed — a file written twice within one timestamp tick could
//! otherwise keep an old hash. Settled means: the clock files are stamped from had passed the
//! file's newest stamp before its content was read (on local filesystems, see
//! [`crate::meta::stamp_clock`]), or else its stamps were older than a wide margin
//! ([`settle_ns`]). Unsettled files are re-read every time, so a header saved a millisecond
//! before a compile is always seen.

use crate::meta::stamp_clock;
use crate::store::Digest;
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How old a file's timestamps must be before its hash is reused without re-reading, on a
/// filesystem whose timestamps may be whole seconds (FAT, HFS+, ext4 with small inodes, some
/// network filesystems).
pub const SETTLE: Duration = Duration::from_secs(2);

/// The same on a filesystem with sub-second timestamps. Linux stamps files from a clock that
/// advances every 1–10 ms; 100 ms leaves a wide margin, and lets a freshly written `.rmeta`
/// or header be hashed once instead of once per compile that reads it.
pub const SETTLE_FINE: Duration = Duration::from_millis(100);

/// How old (ns) timestamps with these sub-second parts must be before they are trusted to
/// change on the next write: [`SETTLE_FINE`] when either has a sub-second part (the
/// filesystem keeps them), else [`SETTLE`].
pub fn settle_ns(mtime_nsec: i64, ctime_nsec: i64) -> i128 {
    if mtime_nsec != 0 || ctime_nsec != 0 {
        SETTLE_FINE.as_nanos() as i128
    } else {
        SETTLE.as_nanos() as i128
    }
}

/// The source uses `__DATE__` or `__TIME__`.
pub const USES_DATE_TIME: u8 = 1;
/// The source uses `__TIMESTAMP__` (the file's mtime: never reproducible).
pub const USES_TIMESTAMP: u8 = 2;

/// A file's content digest plus facts found while reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileDigest {
    pub hash: Digest,
    pub time_macros: u8,
    /// Newest of mtime/ctime, nanoseconds since the epoch.
    pub changed_ns: i128,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct StatKey {
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    ino: u64,
    dev: u64,
    /// See [`settle_ns`].
    settle_ns: i128,
}

impl StatKey {
    fn of(meta: &std::fs::Metadata) -> StatKey {
        StatKey {
            size: meta.len(),
            mtime_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
            ctime_ns: meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128,
            ino: meta.ino(),
            dev: meta.dev(),
            settle_ns: settle_ns(meta.mtime_nsec(), meta.ctime_nsec()),
        }
    }
    fn changed_ns(&self) -> i128 {
        self.mtime_ns.max(self.ctime_ns)
    }
    /// Any write after content read from `read_started_ns` on (coarse clock) changes this
    /// stat: see the module doc.
    fn settled(&self, read_started_ns: Option<i128>, path: &Path) -> bool {
        let fine_stamps = self.settle_ns == SETTLE_FINE.as_nanos() as i128;
        (fine_stamps
            && stamp_clock::stamp_passed(read_started_ns, self.changed_ns(), self.dev, path))
            || now_ns() - self.changed_ns() >= self.settle_ns
    }
}

struct Entry {
    stat: StatKey,
    digest: FileDigest,
}

/// Format of [`HashCache::save`]'s file.
const SAVED_VERSION: u32 = 1;

/// What [`HashCache::save`] writes: paths as raw bytes.
#[derive(serde::Serialize, serde::Deserialize)]
struct Saved {
    version: u32,
    entries: Vec<(Vec<u8>, StatKey, FileDigest)>,
    listings: Vec<(Vec<u8>, StatKey, Digest)>,
}

/// The daemon's shared hash cache.
#[derive(Default)]
pub struct HashCache {
    entries: Mutex<HashMap<PathBuf, Entry>>,
    /// Directory listings (sorted names), validated the same way by the directory's stat.
    listings: Mutex<HashMap<PathBuf, (StatKey, Digest)>>,
}

fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

/// Scans content for the time macros that make output depend on the wall clock.
pub fn scan_time_macros(bytes: &[u8]) -> u8 {
    let mut flags = 0;
    if memchr::memmem::find(bytes, b"__DATE__").is_some() {
        flags |= USES_DATE_TIME;
    }
    if let Some(pos) = memchr::memmem::find(bytes, b"__TIME") {
        // Either __TIME__ or __TIMESTAMP__ (look at every occurrence).
        let mut rest = &bytes[pos..];
        while let Some(p) = memchr::memmem::find(rest, b"__TIME") {
            let tail = &rest[p..];
            if tail.starts_with(b"__TIMESTAMP__") {
                flags |= USES_TIMESTAMP;
            } else if tail.starts_with(b"__TIME__") {
                flags |= USES_DATE_TIME;
            }
            rest = &rest[p + 6..];
        }
    }
    flags
}

impl HashCache {
    pub fn new() -> HashCache {
        HashCache::default()
    }

    /// Digest of the file at `path` (absolute), or the I/O error (missing, unreadable).
    pub fn digest(&self, path: &Path) -> std::io::Result<FileDigest> {
        let meta = std::fs::metadata(path)?;
        self.digest_with_metadata(path, &meta)
    }

    /// [`HashCache::digest`] for a caller that has just stat'ed `path` (saves a second stat
    /// per input on a miss: a link reads hundreds).
    pub fn digest_with_metadata(
        &self,
        path: &Path,
        meta: &std::fs::Metadata,
    ) -> std::io::Result<FileDigest> {
        let stat = StatKey::of(meta);
        {
            let entries = self
                .entries
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(e) = entries.get(path) {
                if e.stat == stat {
                    return Ok(e.digest);
                }
            }
        }
        let read_started_ns = stamp_clock::coarse_now_ns();
        let bytes = std::fs::read(path)?;
        tracing::trace!("hashing {} ({} bytes)", path.display(), bytes.len());
        let digest = FileDigest {
            hash: *blake3::hash(&bytes).as_bytes(),
            time_macros: scan_time_macros(&bytes),
            changed_ns: stat.changed_ns(),
        };
        // Re-check: a write during the read makes this digest unreliable for caching.
        let after = std::fs::metadata(path).map(|m| StatKey::of(&m)).ok();
        let settled = stat.settled(read_started_ns, path);
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if settled && after == Some(stat) {
            entries.insert(path.to_path_buf(), Entry { stat, digest });
        } else {
            entries.remove(path);
        }
        Ok(digest)
    }

    /// Digest of the sorted entry names of the directory at `path` (what a compile that listed
    /// it could have seen), cached while the directory's stat is unchanged and settled.
    pub fn listing(&self, path: &Path) -> std::io::Result<Digest> {
        let meta = std::fs::metadata(path)?;
        let stat = StatKey::of(&meta);
        if let Some((known, digest)) = self
            .listings
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(path)
        {
            if *known == stat {
                return Ok(*digest);
            }
        }
        let read_started_ns = stamp_clock::coarse_now_ns();
        let mut names: Vec<std::ffi::OsString> = std::fs::read_dir(path)?
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        names.sort();
        let mut h = blake3::Hasher::new();
        for name in &names {
            use std::os::unix::ffi::OsStrExt;
            h.update(name.as_bytes());
            h.update(b"\0");
        }
        let digest = *h.finalize().as_bytes();
        let after = std::fs::metadata(path).map(|m| StatKey::of(&m)).ok();
        let mut listings = self
            .listings
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if stat.settled(read_started_ns, path) && after == Some(stat) {
            listings.insert(path.to_path_buf(), (stat, digest));
        } else {
            listings.remove(path);
        }
        Ok(digest)
    }

    /// Number of files currently remembered.
    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Approximate heap bytes held (paths, entries and table overhead).
    pub fn approx_bytes(&self) -> usize {
        const PER_ENTRY: usize = std::mem::size_of::<(PathBuf, Entry)>() + 16;
        const PER_LISTING: usize = std::mem::size_of::<(PathBuf, (StatKey, Digest))>() + 16;
        let entries: usize = self
            .entries
            .lock()
            .map(|e| e.keys().map(|p| p.as_os_str().len() + PER_ENTRY).sum())
            .unwrap_or_default();
        let listings: usize = self
            .listings
            .lock()
            .map(|l| l.keys().map(|p| p.as_os_str().len() + PER_LISTING).sum())
            .unwrap_or_default();
        entries + listings
    }

    /// Forgets about half of what is remembered (whichever entries the table yields first:
    /// random replacement); a forgotten file is simply hashed again when next used.
    pub fn evict_half(&self) {
        if let Ok(mut e) = self.entries.lock() {
            let mut keep = false;
            e.retain(|_, _| {
                keep = !keep;
                keep
            });
            e.shrink_to_fit();
        }
        if let Ok(mut l) = self.listings.lock() {
            let mut keep = false;
            l.retain(|_, _| {
                keep = !keep;
                keep
            });
            l.shrink_to_fit();
        }
    }

    /// Writes what is remembered to `path` (temp + rename), so the next daemon starts warm.
    /// Safe to reuse whenever: every entry is still checked against the file's full stat
    /// (size, mtime, ctime, inode, device) before it is trusted.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        use std::os::unix::ffi::OsStrExt;
        let saved = Saved {
            version: SAVED_VERSION,
            entries: self
                .entries
                .lock()
                .map(|e| {
                    e.iter()
                        .map(|(p, e)| (p.as_os_str().as_bytes().to_vec(), e.stat, e.digest))
                        .collect()
                })
                .unwrap_or_default(),
            listings: self
                .listings
                .lock()
                .map(|l| {
                    l.iter()
                        .map(|(p, (stat, d))| (p.as_os_str().as_bytes().to_vec(), *stat, *d))
                        .collect()
                })
                .unwrap_or_default(),
        };
        let bytes = postcard::to_stdvec(&saved).map_err(std::io::Error::other)?;
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, path)
    }

    /// Loads what [`HashCache::save`] wrote (nothing if absent, unreadable or of another
    /// format); returns how many entries were loaded.
    pub fn load(&self, path: &Path) -> usize {
        use std::os::unix::ffi::OsStrExt;
        let Ok(bytes) = std::fs::read(path) else {
            return 0;
        };
        let Ok(saved) = postcard::from_bytes::<Saved>(&bytes) else {
            return 0;
        };
        if saved.version != SAVED_VERSION {
            return 0;
        }
        let to_path = |b: &[u8]| PathBuf::from(std::ffi::OsStr::from_bytes(b));
        let n = saved.entries.len();
        if let Ok(mut e) = self.entries.lock() {
            for (p, stat, digest) in saved.entries {
                e.entry(to_path(&p)).or_insert(Entry { stat, digest });
            }
        }
        if let Ok(mut l) = self.listings.lock() {
            for (p, stat, digest) in saved.listings {
                l.entry(to_path(&p)).or_insert((stat, digest));
            }
        }
        n
    }

    /// Forgets everything (after `zccache clear`).
    pub fn clear(&self) {
        if let Ok(mut e) = self.entries.lock() {
            e.clear();
        }
        if let Ok(mut l) = self.listings.lock() {
            l.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_hashes_load_and_are_still_checked_by_stat() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.h");
        std::fs::write(&file, "int a;").unwrap();
        // Old enough to be remembered.
        let old = std::time::SystemTime::now() - Duration::from_secs(10);
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(old)
            .unwrap();
        std::thread::sleep(SETTLE_FINE * 2);
        let first = HashCache::new();
        let digest = first.digest(&file).unwrap();
        assert_eq!(first.len(), 1);
        let saved = dir.path().join("hashes.bin");
        first.save(&saved).unwrap();
        let second = HashCache::new();
        assert_eq!(second.load(&saved), 1);
        assert_eq!(second.digest(&file).unwrap(), digest);
        std::fs::write(&file, "int b;").unwrap();
        assert_ne!(second.digest(&file).unwrap().hash, digest.hash);
        assert_eq!(HashCache::new().load(&dir.path().join("absent.bin")), 0);
    }

    #[test]
    fn detects_time_macros() {
        assert_eq!(scan_time_macros(b"int x;"), 0);
        assert_eq!(
            scan_time_macros(b"const char* d = __DATE__;"),
            USES_DATE_TIME
        );
        assert_eq!(scan_time_macros(b"__TIME__"), USES_DATE_TIME);
        assert_eq!(scan_time_macros(b"x __TIMESTAMP__"), USES_TIMESTAMP);
    }

    #[test]
    fn a_file_is_remembered_once_the_clock_has_ticked_past_its_write() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("lib.a");
        std::fs::write(&file, "archive").unwrap();
        // Two coarse ticks (≤ 10 ms each) plus the granularity margin, far below SETTLE_FINE.
        std::thread::sleep(Duration::from_millis(25));
        let cache = HashCache::new();
        cache.digest(&file).unwrap();
        let local = {
            use std::os::unix::fs::MetadataExt;
            let dev = std::fs::metadata(&file).unwrap().dev();
            crate::meta::stamp_clock::stamp_passed(Some(i128::MAX / 2), 0, dev, &file)
        };
        assert_eq!(
            cache.len(),
            usize::from(local),
            "remembered on a local filesystem"
        );
    }

    #[test]
    /// On kernels with multigrain timestamps (6.13+) a write after a `stat` always gets a new
    /// stamp, so this only bites a wrong settle rule on older kernels (Debian 12's 6.1).
    fn same_size_rewrites_at_any_moment_are_never_served_stale() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gen.h");
        let cache = HashCache::new();
        for round in 0..400u32 {
            let content = format!("#define V {:08}\n", round % 7);
            std::fs::write(&file, &content).unwrap();
            // Hash at varied offsets from the write: same tick, the next tick, later.
            if round % 3 == 1 {
                std::thread::sleep(Duration::from_micros(u64::from(round % 11) * 700));
            }
            let digest = cache.digest(&file).unwrap();
            assert_eq!(
                digest.hash,
                *blake3::hash(content.as_bytes()).as_bytes(),
                "round {round}: a stale digest was served"
            );
        }
    }

    #[test]
    fn sees_a_rewrite_immediately() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.h");
        std::fs::write(&p, "int a;").unwrap();
        let cache = HashCache::new();
        let d1 = cache.digest(&p).unwrap();
        std::fs::write(&p, "int b;").unwrap(); // same size, maybe same mtime tick
        let d2 = cache.digest(&p).unwrap();
        assert_ne!(d1.hash, d2.hash);
    }
}
