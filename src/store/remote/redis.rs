//! Redis (`redis://[:password@]host:port[/db]`, `rediss://…`, `redis+unix:///path`): the
//! same records as every engine under `ac/<hex>` and `cas/<hex>` keys, compressed with
//! zstd. One connection, opened lazily and dropped on any error (the next call reconnects).

use super::backend::{Backend, Kind, RemoteError};
use super::compress::{compress, decompress};
use super::url::redact;
use std::sync::Mutex;
use std::time::Duration;

pub struct RedisBackend {
    client: redis::Client,
    shown: String,
    conn: Mutex<Option<redis::Connection>>,
}

fn failed(e: redis::RedisError) -> RemoteError {
    if e.is_timeout() {
        RemoteError::Timeout
    } else {
        // The error text never carries the password (redis-rs prints the kind and detail).
        RemoteError::Failed(format!("redis: {}", e.kind_str()))
    }
}

/// The error kind only: redis-rs detail strings can echo the request.
trait KindStr {
    fn kind_str(&self) -> String;
}

impl KindStr for redis::RedisError {
    fn kind_str(&self) -> String {
        if self.is_connection_refusal() {
            "connection refused".into()
        } else if self.is_io_error() {
            "i/o error".into()
        } else {
            format!("{:?}", self.kind())
        }
    }
}

impl RedisBackend {
    pub fn new(url: &str) -> Result<Self, RemoteError> {
        let client = redis::Client::open(url)
            .map_err(|_| RemoteError::Config(format!("{}: not a valid redis URL", redact(url))))?;
        Ok(RedisBackend {
            client,
            shown: redact(url),
            conn: Mutex::new(None),
        })
    }

    fn with_conn<T>(
        &self,
        deadline: Duration,
        op: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, RemoteError> {
        let mut slot = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            let conn = self
                .client
                .get_connection_with_timeout(deadline)
                .map_err(failed)?;
            *slot = Some(conn);
        }
        let Some(conn) = slot.as_mut() else {
            return Err(RemoteError::failed("redis: no connection"));
        };
        let timeouts = conn
            .set_read_timeout(Some(deadline))
            .and_then(|_| conn.set_write_timeout(Some(deadline)));
        let result = timeouts.and_then(|_| op(conn));
        if result.is_err() {
            *slot = None;
        }
        result.map_err(failed)
    }
}

fn key(kind: Kind, key: &str) -> String {
    format!("{}/{key}", kind.dir())
}

impl Backend for RedisBackend {
    fn describe(&self) -> &str {
        &self.shown
    }

    fn get(
        &self,
        kind: Kind,
        k: &str,
        _size: u64,
        deadline: Duration,
    ) -> Result<Option<Vec<u8>>, RemoteError> {
        let value: Option<Vec<u8>> =
            self.with_conn(deadline, |c| redis::cmd("GET").arg(key(kind, k)).query(c))?;
        value.map(|v| decompress(&v)).transpose()
    }

    fn put(
        &self,
        kind: Kind,
        k: &str,
        bytes: &[u8],
        deadline: Duration,
    ) -> Result<(), RemoteError> {
        let packed = compress(bytes)?;
        self.with_conn(deadline, |c| {
            redis::cmd("SET")
                .arg(key(kind, k))
                .arg(packed)
                .query::<()>(c)
        })
    }

    fn missing(
        &self,
        blobs: &[(String, u64)],
        deadline: Duration,
    ) -> Result<Vec<(String, u64)>, RemoteError> {
        if blobs.is_empty() {
            return Ok(Vec::new());
        }
        let present: Vec<bool> = self.with_conn(deadline, |c| {
            let mut pipe = redis::pipe();
            for (k, _) in blobs {
                pipe.cmd("EXISTS").arg(key(Kind::Cas, k));
            }
            pipe.query(c)
        })?;
        Ok(blobs
            .iter()
            .zip(present)
            .filter(|(_, here)| !here)
            .map(|(b, _)| b.clone())
            .collect())
    }
}
