//! Content-addressed blob files: `blobs/ab/<hex>`, written to a temp file then renamed.

use super::{hex, Digest, StoreError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Blob files under one directory.
#[derive(Debug)]
pub struct BlobStore {
    root: PathBuf,
    tmp: PathBuf,
    counter: AtomicU64,
}

impl BlobStore {
    pub fn open(root: &Path, tmp: &Path) -> Result<BlobStore, StoreError> {
        std::fs::create_dir_all(root).map_err(|e| StoreError::io(root, e))?;
        std::fs::create_dir_all(tmp).map_err(|e| StoreError::io(tmp, e))?;
        Ok(BlobStore {
            root: root.to_path_buf(),
            tmp: tmp.to_path_buf(),
            counter: AtomicU64::new(0),
        })
    }

    /// Where the blob with this digest lives.
    pub fn path(&self, digest: &Digest) -> PathBuf {
        let h = hex(digest);
        self.root.join(&h[..2]).join(&h)
    }

    /// Stores `bytes`, returning its digest; an existing intact blob is kept as is.
    pub fn put(&self, bytes: &[u8]) -> Result<Digest, StoreError> {
        let digest: Digest = *blake3::hash(bytes).as_bytes();
        let dest = self.path(&digest);
        if let Ok(meta) = std::fs::metadata(&dest) {
            if meta.len() == bytes.len() as u64 {
                return Ok(digest);
            }
        }
        let parent = dest.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(parent).map_err(|e| StoreError::io(parent, e))?;
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let tmp = self.tmp.join(format!("{}-{n}.tmp", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.flush()?;
            std::fs::rename(&tmp, &dest)
        };
        if let Err(e) = write() {
            let _ = std::fs::remove_file(&tmp);
            return Err(StoreError::io(&dest, e));
        }
        Ok(digest)
    }

    /// ctime (ns) of the blob file, if it exists.
    pub fn ctime_ns(&self, digest: &Digest) -> Option<i128> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(self.path(digest)).ok()?;
        Some(m.ctime() as i128 * 1_000_000_000 + m.ctime_nsec() as i128)
    }

    /// Removes a blob (eviction, corruption). Missing is fine.
    pub fn remove(&self, digest: &Digest) {
        let _ = std::fs::remove_file(self.path(digest));
    }

    /// Removes every blob and temp file.
    pub fn clear(&self) -> Result<(), StoreError> {
        for dir in [&self.root, &self.tmp] {
            if dir.exists() {
                std::fs::remove_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
            }
            std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_is_content_addressed_and_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(&dir.path().join("b"), &dir.path().join("t")).unwrap();
        let a = store.put(b"hello").unwrap();
        let b = store.put(b"hello").unwrap();
        assert_eq!(a, b);
        assert_eq!(std::fs::read(store.path(&a)).unwrap(), b"hello");
        store.remove(&a);
        assert!(!store.path(&a).exists());
    }
}
