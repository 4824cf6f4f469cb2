//! Outputs handed over by path instead of through the socket: the wrapper names outputs of
//! [`crate::ipc::PATH_HANDOVER_BYTES`] or more (a frame is limited to
//! [`crate::ipc::MAX_FRAME`]; an output of any size is cached), and the daemon copies each
//! into the store (an in-kernel copy) before answering, so the build may change or delete it
//! right after. An output the daemon cannot read (a sandbox it cannot see into) makes the
//! compile uncacheable with a counted reason; the build already has its output. The copy is
//! hashed into a blob after the wrapper was answered.

use crate::store::{BlobStore, Digest};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Reason counted when a path-handed output cannot be taken into the store.
pub const UNREADABLE: &str = "large_output_unreadable";

/// A large output copied into the store's temp dir before the wrapper was answered; it
/// becomes a blob in [`Copied::into_blob`] (after answering). Dropped unused, the copy is
/// removed.
#[derive(Debug)]
pub struct Copied {
    tmp: PathBuf,
    pub size: u64,
    pub mode: u32,
}

impl Drop for Copied {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// A large output now in the store.
#[derive(Debug, Clone, Copy)]
pub struct Captured {
    pub blob: Digest,
    pub size: u64,
    pub mode: u32,
}

/// Copies every path-handed output into the store's temp dir (in the kernel:
/// `copy_file_range`); one slot per planned output (None when it came through the socket or
/// is absent).
pub fn capture(
    tmp_dir: &Path,
    files: &[Option<(String, u32)>],
) -> Vec<Option<Result<Copied, String>>> {
    files
        .iter()
        .map(|f| {
            let (path, mode) = f.as_ref()?;
            Some(copy_one(tmp_dir, Path::new(path), *mode))
        })
        .collect()
}

fn copy_one(tmp_dir: &Path, path: &Path, mode: u32) -> Result<Copied, String> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = tmp_dir.join(format!("large-{}-{n}.tmp", std::process::id()));
    let copied = std::fs::create_dir_all(tmp_dir).and_then(|_| std::fs::copy(path, &tmp));
    match copied {
        Ok(size) => Ok(Copied { tmp, size, mode }),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(format!("{}: {e}", path.display()))
        }
    }
}

impl Copied {
    /// Hashes the copy and moves it into place as a blob (the digest names exactly the
    /// bytes stored).
    pub fn into_blob(&self, blobs: &BlobStore) -> Result<Captured, String> {
        let stored = (|| -> std::io::Result<Digest> {
            let mut hasher = blake3::Hasher::new();
            let mut file = std::fs::File::open(&self.tmp)?;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                match file.read(&mut buf)? {
                    0 => break,
                    k => {
                        hasher.update(&buf[..k]);
                    }
                }
            }
            let blob: Digest = *hasher.finalize().as_bytes();
            let dest = blobs.path(&blob);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::rename(&self.tmp, &dest)?;
            Ok(blob)
        })();
        stored
            .map(|blob| Captured {
                blob,
                size: self.size,
                mode: self.mode,
            })
            .map_err(|e| format!("{}: {e}", self.tmp.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_by_path_and_reports_unreadable() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::open(&dir.path().join("b"), &dir.path().join("t")).unwrap();
        let out = dir.path().join("big.o");
        std::fs::write(&out, vec![7u8; 3 << 20]).unwrap();
        let got = capture(
            &dir.path().join("t"),
            &[
                None,
                Some((out.display().to_string(), 0)),
                Some(("/nonexistent/x.o".into(), 0)),
            ],
        );
        assert!(got[0].is_none());
        let copied = got[1].as_ref().unwrap().as_ref().unwrap();
        let c = copied.into_blob(&blobs).unwrap();
        assert_eq!(c.size, 3 << 20);
        assert_eq!(
            std::fs::read(blobs.path(&c.blob)).unwrap(),
            std::fs::read(&out).unwrap()
        );
        assert_eq!(
            &c.blob,
            blake3::hash(&std::fs::read(&out).unwrap()).as_bytes()
        );
        assert!(got[2].as_ref().unwrap().is_err());
    }
}
