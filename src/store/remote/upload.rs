//! Write-behind uploads: a stored miss is queued (bounded, de-duplicated by result key) and
//! one background thread sends it to every writable engine — CAS blobs the engine lacks
//! (checked with HEAD / FindMissingBlobs first), the result's action-cache value, then the
//! manifest merged with the engine's own. A full queue drops the job and counts it; builds
//! never wait for uploads (`zccache stop` and idle exit flush with a deadline).

use super::backend::{Backend, Kind, RemoteError};
use super::entry::{self, action_key, BlobRef, RecordMeta, ResultRefs};
use super::{RemoteCounters, RemoteTier};
use crate::store::records::{Manifest, ManifestEntry, ResultRecord};
use crate::store::Digest;
use std::collections::{HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

/// Most jobs waiting.
const CAPACITY: usize = 256;

/// One stored miss to upload.
pub struct Job {
    pub manifest_key: Digest,
    pub result_key: Digest,
    pub entry: ManifestEntry,
    pub record: ResultRecord,
    /// The local blob file of each of `record.outputs`, in order.
    pub blob_paths: Vec<PathBuf>,
}

#[derive(Default)]
struct Pending {
    jobs: VecDeque<Job>,
    keys: HashSet<Digest>,
    busy: bool,
    started: bool,
}

pub struct Queue {
    tier: Weak<RemoteTier>,
    pending: Arc<(Mutex<Pending>, Condvar)>,
}

impl Queue {
    pub fn new(tier: Weak<RemoteTier>) -> Queue {
        Queue {
            tier,
            pending: Arc::new((Mutex::new(Pending::default()), Condvar::new())),
        }
    }

    pub fn push(&self, job: Job, counters: &RemoteCounters) {
        let (lock, cond) = &*self.pending;
        let mut p = lock.lock().unwrap_or_else(|e| e.into_inner());
        if p.keys.contains(&job.result_key) {
            return;
        }
        if p.jobs.len() >= CAPACITY {
            RemoteCounters::add(&counters.uploads_dropped, 1);
            return;
        }
        p.keys.insert(job.result_key);
        p.jobs.push_back(job);
        if !p.started {
            p.started = true;
            let pending = self.pending.clone();
            let tier = self.tier.clone();
            let spawned = std::thread::Builder::new()
                .name("zccache-upload".into())
                .spawn(move || worker(tier, pending));
            if spawned.is_err() {
                p.started = false;
            }
        }
        cond.notify_all();
    }

    pub fn flush(&self, limit: Duration) {
        let (lock, cond) = &*self.pending;
        let p = lock.lock().unwrap_or_else(|e| e.into_inner());
        let _ = cond.wait_timeout_while(p, limit, |p| !p.jobs.is_empty() || p.busy);
    }
}

fn worker(tier: Weak<RemoteTier>, pending: Arc<(Mutex<Pending>, Condvar)>) {
    let (lock, cond) = &*pending;
    loop {
        let job = {
            let mut p = lock.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(job) = p.jobs.pop_front() {
                    p.busy = true;
                    break job;
                }
                let (next, timeout) = cond
                    .wait_timeout(p, Duration::from_secs(30))
                    .unwrap_or_else(|e| e.into_inner());
                p = next;
                if timeout.timed_out() && tier.strong_count() == 0 {
                    return;
                }
            }
        };
        if let Some(tier) = tier.upgrade() {
            tier.upload(&job);
        }
        let mut p = lock.lock().unwrap_or_else(|e| e.into_inner());
        p.keys.remove(&job.result_key);
        p.busy = false;
        cond.notify_all();
    }
}

fn deadline_for(bytes: u64) -> Duration {
    Duration::from_secs(10) + Duration::from_millis(bytes / 10_000)
}

/// Sends `job` to one engine; returns the bytes uploaded.
pub(super) fn send(
    tier: &RemoteTier,
    backend: &dyn Backend,
    job: &Job,
) -> Result<u64, RemoteError> {
    let started = Instant::now();
    let secret = tier.secret.as_deref();
    let mut blobs: Vec<(BlobRef, Vec<u8>)> = Vec::new();
    let mut outputs = Vec::new();
    for (out, path) in job.record.outputs.iter().zip(&job.blob_paths) {
        let bytes = std::fs::read(path)
            .map_err(|e| RemoteError::failed(format!("reading a local blob: {e}")))?;
        let blob = BlobRef::of(&bytes);
        outputs.push((out.role.clone(), blob.clone(), out.mode & 0o111 != 0));
        blobs.push((blob, bytes));
    }
    let meta = RecordMeta::of(&job.record).encode();
    let record = BlobRef::of(&meta);
    blobs.push((record.clone(), meta));
    let mut stream = |bytes: &[u8]| {
        (!bytes.is_empty()).then(|| {
            let blob = BlobRef::of(bytes);
            blobs.push((blob.clone(), bytes.to_vec()));
            blob
        })
    };
    let stdout = stream(&job.record.stdout);
    let stderr = stream(&job.record.stderr);
    let refs = ResultRefs {
        outputs,
        record,
        stdout,
        stderr,
    };

    // The manifest, merged with what the engine already holds for this key.
    let manifest_ac = action_key("manifest", &job.manifest_key);
    let mut manifest = remote_manifest(backend, &manifest_ac, secret).unwrap_or_default();
    manifest.push_front(job.entry.clone());
    let manifest_bytes = entry::encode_manifest_blob(&manifest);
    let manifest_blob = BlobRef::of(&manifest_bytes);
    blobs.push((manifest_blob.clone(), manifest_bytes));

    let total: u64 = blobs.iter().map(|(b, _)| b.size).sum();
    let deadline = deadline_for(total);
    let mut unique: Vec<(String, u64)> = blobs
        .iter()
        .map(|(b, _)| (b.hash.clone(), b.size))
        .collect();
    unique.sort();
    unique.dedup();
    let missing: HashSet<String> = backend
        .missing(&unique, deadline)?
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let mut sent = 0u64;
    let mut done = HashSet::new();
    for (blob, bytes) in &blobs {
        if missing.contains(&blob.hash) && done.insert(blob.hash.clone()) {
            backend.put(Kind::Cas, &blob.hash, bytes, deadline)?;
            sent += bytes.len() as u64;
        }
    }
    let result_ac = action_key("result", &job.result_key);
    let value = entry::encode_result(&refs, &result_ac, secret);
    backend.put(Kind::Ac, &result_ac, &value, deadline)?;
    let value = entry::encode_manifest(&manifest_blob, &manifest_ac, secret);
    backend.put(Kind::Ac, &manifest_ac, &value, deadline)?;
    sent += value.len() as u64;
    tracing::debug!(
        "uploaded result {} to {} ({sent} bytes) in {:?}",
        crate::store::hex(&job.result_key),
        backend.describe(),
        started.elapsed()
    );
    Ok(sent)
}

fn remote_manifest(backend: &dyn Backend, ac_key: &str, secret: Option<&[u8]>) -> Option<Manifest> {
    let deadline = Duration::from_secs(5);
    let value = backend
        .get(Kind::Ac, ac_key, entry::ACTION_SIZE, deadline)
        .ok()??;
    let blob = entry::decode_manifest(&value, ac_key, secret).ok()?;
    let bytes = backend
        .get(Kind::Cas, &blob.hash, blob.size, deadline)
        .ok()??;
    (entry::sha256_hex(&bytes) == blob.hash).then_some(())?;
    entry::decode_manifest_blob(&bytes)
}
