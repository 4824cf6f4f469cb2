//! The artifact store: content-addressed blobs on disk plus the redb index of manifests,
//! results and blob usage, with LRU eviction under a size budget.

pub mod blob;
pub mod evict;
pub mod index;
pub mod records;
pub mod remote;

pub use blob::BlobStore;
pub use index::Index;

/// A blake3 digest used as a key everywhere in the store.
pub type Digest = [u8; 32];

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("i/o error on {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("index database error: {0}")]
    Db(String),
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub fn io(path: &std::path::Path, source: std::io::Error) -> StoreError {
        StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Lower-case hex of a digest.
pub fn hex(d: &Digest) -> String {
    let mut s = String::with_capacity(64);
    for b in d {
        s.push_str(&format!("{b:02x}"));
    }
    s
}
