//! File metadata and content hashes kept warm in the daemon's memory.

pub mod hash_cache;
pub mod stamp_clock;

pub use hash_cache::{FileDigest, HashCache};
