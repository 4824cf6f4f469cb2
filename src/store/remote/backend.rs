//! The one small interface every remote engine implements: get, put and "has" on two
//! namespaces, the action cache (`ac/<64 hex>`) and the content-addressed store
//! (`cas/<sha256 hex>`), each call bounded by a deadline.

use std::time::Duration;

/// The two namespaces of a remote cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Action cache: values are serialized REAPI `ActionResult` messages.
    Ac,
    /// Content-addressed store: values are blobs named by their SHA-256.
    Cas,
}

impl Kind {
    /// The path segment engines use for it.
    pub fn dir(self) -> &'static str {
        match self {
            Kind::Ac => "ac",
            Kind::Cas => "cas",
        }
    }
}

/// Why a remote call failed. Never a reason to fail a compile.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("timed out")]
    Timeout,
    #[error("{0}")]
    Failed(String),
    #[error("invalid remote configuration: {0}")]
    Config(String),
}

impl RemoteError {
    pub fn failed(what: impl std::fmt::Display) -> RemoteError {
        RemoteError::Failed(what.to_string())
    }
}

/// A remote engine. `key` is 64 lower-case hex characters; `size` (CAS) is the blob's length.
pub trait Backend: Send + Sync {
    /// The URL with credentials removed, for logs and `zccache stats`.
    fn describe(&self) -> &str;
    /// The value under `key`, or None when absent.
    fn get(
        &self,
        kind: Kind,
        key: &str,
        size: u64,
        deadline: Duration,
    ) -> Result<Option<Vec<u8>>, RemoteError>;
    /// Stores `bytes` under `key`.
    fn put(
        &self,
        kind: Kind,
        key: &str,
        bytes: &[u8],
        deadline: Duration,
    ) -> Result<(), RemoteError>;
    /// Which of these CAS blobs (`(key, size)`) the engine lacks.
    fn missing(
        &self,
        blobs: &[(String, u64)],
        deadline: Duration,
    ) -> Result<Vec<(String, u64)>, RemoteError>;
}
