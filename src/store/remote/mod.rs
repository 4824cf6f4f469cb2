//! The remote tier behind the local store: existing engines (Bazel HTTP cache, REAPI gRPC,
//! Redis, S3) consulted only on a local miss, with a short adaptive deadline and a circuit
//! breaker per engine; read in order, all written from a bounded background queue. Every
//! downloaded blob is verified by its SHA-256; a signed deployment (`ZCCACHE_REMOTE_KEY`)
//! ignores unsigned or mis-signed entries. Nothing here can fail a compile.

pub mod backend;
pub mod breaker;
pub mod compress;
pub mod entry;
pub mod http;
pub mod reapi;
pub mod redis;
pub mod s3;
pub mod upload;
pub mod url;

use self::backend::{Backend, Kind, RemoteError};
use self::breaker::Breaker;
use self::entry::{action_key, BlobRef, RecordMeta, Rejected};
use crate::store::records::Manifest;
use crate::store::Digest;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the tier counts (shown by `zccache stats`).
#[derive(Debug, Default)]
pub struct RemoteCounters {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub errors: AtomicU64,
    pub timeouts: AtomicU64,
    pub uploads: AtomicU64,
    pub uploads_dropped: AtomicU64,
    pub bytes_down: AtomicU64,
    pub bytes_up: AtomicU64,
    pub bad_signatures: AtomicU64,
}

impl RemoteCounters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// The remote settings the tier is built from.
#[derive(Debug, Clone, Default)]
pub struct RemoteConfig {
    pub urls: Vec<String>,
    pub read_only: bool,
    pub secret: Option<String>,
    pub header: Option<String>,
    /// Longest a lookup may take (the adaptive deadline stays below it).
    pub max_lookup: Duration,
}

/// One engine and its breaker.
struct Slot {
    backend: Box<dyn Backend>,
    breaker: Breaker,
}

/// A result fetched from a remote, verified.
pub struct FetchedResult {
    pub meta: RecordMeta,
    /// (role, content, mode) per output.
    pub outputs: Vec<(String, Vec<u8>, u32)>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

pub struct RemoteTier {
    slots: Vec<Slot>,
    pub read_only: bool,
    secret: Option<Vec<u8>>,
    pub counters: Arc<RemoteCounters>,
    /// Smoothed latency of successful lookups, µs.
    latency_us: Mutex<Option<f64>>,
    max_lookup: Duration,
    /// Configuration problems (one line each, credentials removed).
    pub problems: Vec<String>,
    uploads: upload::Queue,
    _runtime: tokio::runtime::Runtime,
}

impl RemoteTier {
    /// Builds the tier, or None when no remote is configured. A URL that cannot be used is
    /// one warning (in the log and in `problems`), never an error.
    pub fn new(config: &RemoteConfig, counters: Arc<RemoteCounters>) -> Option<Arc<RemoteTier>> {
        if config.urls.is_empty() {
            return None;
        }
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("zccache-remote")
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                tracing::warn!("remote cache disabled: cannot start its runtime: {e}");
                return None;
            }
        };
        let mut slots = Vec::new();
        let mut problems = Vec::new();
        for url in &config.urls {
            match make_backend(url, config.header.as_deref(), runtime.handle().clone()) {
                Ok(backend) => slots.push(Slot {
                    backend,
                    breaker: Breaker::default(),
                }),
                Err(e) => {
                    tracing::warn!("remote cache {}: {e}", url::redact(url));
                    problems.push(format!("{}: {e}", url::redact(url)));
                }
            }
        }
        let tier = Arc::new_cyclic(|weak| RemoteTier {
            slots,
            read_only: config.read_only,
            secret: config.secret.as_ref().map(|s| s.as_bytes().to_vec()),
            counters,
            latency_us: Mutex::new(None),
            max_lookup: config.max_lookup.max(Duration::from_millis(20)),
            problems,
            uploads: upload::Queue::new(weak.clone()),
            _runtime: runtime,
        });
        Some(tier)
    }

    /// One line per engine: its redacted URL and state.
    pub fn describe(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .slots
            .iter()
            .map(|s| {
                format!(
                    "{} ({}{})",
                    s.backend.describe(),
                    s.breaker.describe(),
                    if self.read_only { ", read-only" } else { "" }
                )
            })
            .collect();
        out.extend(self.problems.iter().map(|p| format!("unusable: {p}")));
        out
    }

    /// The deadline of one lookup: a few times the observed latency, within bounds.
    pub fn lookup_deadline(&self) -> Duration {
        let observed = *self.latency_us.lock().unwrap_or_else(|p| p.into_inner());
        match observed {
            None => self.max_lookup,
            Some(us) => Duration::from_micros((us * 4.0) as u64 + 30_000)
                .clamp(Duration::from_millis(50), self.max_lookup),
        }
    }

    /// Downloads of a known result's blobs get more time: the entry is worth it.
    fn fetch_deadline(&self, bytes: u64) -> Duration {
        self.lookup_deadline() * 4 + Duration::from_millis(bytes / 20_000)
    }

    fn observe(&self, took: Duration) {
        let mut l = self.latency_us.lock().unwrap_or_else(|p| p.into_inner());
        let us = took.as_micros() as f64;
        *l = Some(match *l {
            None => us,
            Some(prev) => prev * 0.8 + us * 0.2,
        });
    }

    fn count_error(&self, slot: &Slot, what: &str, e: &RemoteError) {
        match e {
            RemoteError::Timeout => RemoteCounters::add(&self.counters.timeouts, 1),
            _ => RemoteCounters::add(&self.counters.errors, 1),
        }
        tracing::debug!("remote {} {what}: {e}", slot.backend.describe());
        slot.breaker.failure(matches!(e, RemoteError::Timeout));
    }

    /// One call on one engine, with breaker and counters.
    fn call<T>(
        &self,
        slot: &Slot,
        what: &str,
        op: impl FnOnce(&dyn Backend) -> Result<T, RemoteError>,
    ) -> Option<T> {
        if !slot.breaker.allow() {
            return None;
        }
        let started = Instant::now();
        match op(slot.backend.as_ref()) {
            Ok(v) => {
                slot.breaker.success();
                if what == "lookup" {
                    self.observe(started.elapsed());
                }
                Some(v)
            }
            Err(e) => {
                self.count_error(slot, what, &e);
                None
            }
        }
    }

    /// A verified CAS blob from one engine.
    fn cas(&self, slot: &Slot, blob: &BlobRef) -> Option<Vec<u8>> {
        let deadline = self.fetch_deadline(blob.size);
        let bytes = self.call(slot, "download", |b| {
            b.get(Kind::Cas, &blob.hash, blob.size, deadline)
        })??;
        RemoteCounters::add(&self.counters.bytes_down, bytes.len() as u64);
        if bytes.len() as u64 != blob.size || entry::sha256_hex(&bytes) != blob.hash {
            tracing::warn!(
                "remote {}: blob {} failed verification; ignored",
                slot.backend.describe(),
                blob.hash
            );
            RemoteCounters::add(&self.counters.errors, 1);
            return None;
        }
        Some(bytes)
    }

    fn ac(&self, slot: &Slot, key: &str) -> Option<Vec<u8>> {
        let deadline = self.lookup_deadline();
        let bytes = self.call(slot, "lookup", |b| {
            b.get(Kind::Ac, key, entry::ACTION_SIZE, deadline)
        })??;
        RemoteCounters::add(&self.counters.bytes_down, bytes.len() as u64);
        Some(bytes)
    }

    fn rejected(&self, slot: &Slot, why: Rejected) {
        match why {
            Rejected::BadSignature => RemoteCounters::add(&self.counters.bad_signatures, 1),
            Rejected::Malformed => RemoteCounters::add(&self.counters.errors, 1),
        }
        tracing::debug!("remote {}: entry ignored: {why}", slot.backend.describe());
    }

    /// The remote manifest of a manifest key, from the first engine that has a valid one.
    pub fn fetch_manifest(&self, key: &Digest) -> Option<Manifest> {
        let ac_key = action_key("manifest", key);
        for slot in &self.slots {
            let Some(value) = self.ac(slot, &ac_key) else {
                continue;
            };
            let blob = match entry::decode_manifest(&value, &ac_key, self.secret.as_deref()) {
                Ok(blob) => blob,
                Err(why) => {
                    self.rejected(slot, why);
                    continue;
                }
            };
            let Some(bytes) = self.cas(slot, &blob) else {
                continue;
            };
            match entry::decode_manifest_blob(&bytes) {
                Some(m) => return Some(m),
                None => RemoteCounters::add(&self.counters.errors, 1),
            }
        }
        None
    }

    /// A result, with every blob verified, from the first engine that has it whole.
    pub fn fetch_result(&self, key: &Digest) -> Option<FetchedResult> {
        let ac_key = action_key("result", key);
        'engines: for slot in &self.slots {
            let Some(value) = self.ac(slot, &ac_key) else {
                continue;
            };
            let refs = match entry::decode_result(&value, &ac_key, self.secret.as_deref()) {
                Ok(refs) => refs,
                Err(why) => {
                    self.rejected(slot, why);
                    continue;
                }
            };
            let Some(meta) = self
                .cas(slot, &refs.record)
                .and_then(|b| RecordMeta::decode(&b))
            else {
                continue;
            };
            let mut outputs = Vec::new();
            for (role, blob, _) in &refs.outputs {
                let Some(mode) = meta
                    .outputs
                    .iter()
                    .find(|(r, _)| r == role)
                    .map(|(_, m)| *m)
                else {
                    continue 'engines;
                };
                let Some(bytes) = self.cas(slot, blob) else {
                    continue 'engines;
                };
                outputs.push((role.clone(), bytes, mode));
            }
            let stream = |blob: &Option<BlobRef>| match blob {
                None => Some(Vec::new()),
                Some(b) => self.cas(slot, b),
            };
            let (Some(stdout), Some(stderr)) = (stream(&refs.stdout), stream(&refs.stderr)) else {
                continue;
            };
            return Some(FetchedResult {
                meta,
                outputs,
                stdout,
                stderr,
            });
        }
        None
    }

    /// Queues a stored miss for upload (never blocks; a full queue drops and counts).
    pub fn enqueue(&self, job: upload::Job) {
        if self.read_only || self.slots.is_empty() {
            return;
        }
        self.uploads.push(job, &self.counters);
    }

    /// Waits (at most `limit`) for queued uploads.
    pub fn flush(&self, limit: Duration) {
        self.uploads.flush(limit);
    }

    /// Uploads one job to every writable engine.
    fn upload(&self, job: &upload::Job) {
        for slot in &self.slots {
            if !slot.breaker.allow() {
                RemoteCounters::add(&self.counters.uploads_dropped, 1);
                continue;
            }
            match upload::send(self, slot.backend.as_ref(), job) {
                Ok(bytes) => {
                    slot.breaker.success();
                    RemoteCounters::add(&self.counters.uploads, 1);
                    RemoteCounters::add(&self.counters.bytes_up, bytes);
                }
                Err(e) => self.count_error(slot, "upload", &e),
            }
        }
    }
}

fn make_backend(
    url: &str,
    header: Option<&str>,
    runtime: tokio::runtime::Handle,
) -> Result<Box<dyn Backend>, RemoteError> {
    Ok(match url::scheme(url)? {
        url::Scheme::Http => Box::new(http::HttpBackend::new(url, header, runtime)?),
        url::Scheme::Grpc => Box::new(reapi::ReapiBackend::new(url, header, runtime)?),
        url::Scheme::Redis => Box::new(redis::RedisBackend::new(url)?),
        url::Scheme::S3 => Box::new(s3::S3Backend::new(url, runtime)?),
    })
}
