//! The redb index: manifests, results, preprocessor-tier keys, blob usage and stats.
//!
//! Reads go through an in-memory cache (so a hit never waits on the database); writes update
//! that cache at once and reach redb through one writer thread that batches commits.

use super::evict;
use super::records::{decode, encode, Manifest, ResultRecord};
use super::{BlobStore, Digest, StoreError};
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MANIFESTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("manifests");
const RESULTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("results");
const PREPROC: TableDefinition<&[u8], &[u8]> = TableDefinition::new("preprocessor");
/// blob digest → (size, last use in seconds since the epoch)
const BLOBS: TableDefinition<&[u8], (u64, u64)> = TableDefinition::new("blobs");
const STATS: TableDefinition<&str, u64> = TableDefinition::new("stats");

enum WriteOp {
    Manifest(Digest, Vec<u8>),
    Result(Digest, Vec<u8>),
    RemoveResult(Digest),
    Preproc(Digest, Digest),
    Blob(Digest, u64),
    Touch(Digest),
    Stats(Vec<(String, u64)>),
    Flush(Sender<()>),
    Clear(Sender<()>),
    /// Commit durably and end the writer (the daemon is exiting).
    Close,
}

#[derive(Default)]
struct MemCache {
    manifests: HashMap<Digest, Arc<Manifest>>,
    results: HashMap<Digest, Arc<ResultRecord>>,
    preproc: HashMap<Digest, Digest>,
}

/// Sizes the writer keeps current for stats.
#[derive(Debug, Default)]
pub struct Usage {
    pub total_bytes: AtomicU64,
    pub entries: AtomicU64,
    pub evictions: AtomicU64,
}

/// Handle to the index, shared by the daemon's connection threads.
pub struct Index {
    /// `None` once closed: the database is closed cleanly on exit, so the next daemon opens it
    /// without a repair pass.
    db: Mutex<Option<Arc<Database>>>,
    cache: Mutex<MemCache>,
    tx: Sender<WriteOp>,
    pub usage: Arc<Usage>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

fn db_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Db(e.to_string())
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Index {
    /// Opens (or creates) the index; a database that cannot be opened is moved aside and
    /// recreated empty (the cache is only a cache). `page_cache` bounds redb's own page cache
    /// (its default is 1 GiB, which a large store would fill).
    pub fn open(
        path: &Path,
        blobs: Arc<BlobStore>,
        max_size: u64,
        page_cache: usize,
    ) -> Result<Index, StoreError> {
        let create = |path: &Path| Database::builder().set_cache_size(page_cache).create(path);
        let db = match create(path) {
            Ok(db) => db,
            Err(first) => {
                tracing::warn!(
                    "index {} unusable ({first}); starting fresh",
                    path.display()
                );
                let aside = path.with_extension("redb.corrupt");
                let _ = std::fs::rename(path, &aside);
                create(path).map_err(db_err)?
            }
        };
        let db = Arc::new(db);
        {
            let txn = db.begin_write().map_err(db_err)?;
            txn.open_table(MANIFESTS).map_err(db_err)?;
            txn.open_table(RESULTS).map_err(db_err)?;
            txn.open_table(PREPROC).map_err(db_err)?;
            txn.open_table(BLOBS).map_err(db_err)?;
            txn.open_table(STATS).map_err(db_err)?;
            txn.commit().map_err(db_err)?;
        }
        let usage = Arc::new(Usage::default());
        {
            let txn = db.begin_read().map_err(db_err)?;
            let blobs_t = txn.open_table(BLOBS).map_err(db_err)?;
            let mut total = 0;
            for row in blobs_t.iter().map_err(db_err)? {
                let (_, v) = row.map_err(db_err)?;
                total += v.value().0;
            }
            usage.total_bytes.store(total, Ordering::Relaxed);
            let results = txn.open_table(RESULTS).map_err(db_err)?;
            usage
                .entries
                .store(results.len().map_err(db_err)?, Ordering::Relaxed);
        }
        let (tx, rx) = mpsc::channel();
        let writer = {
            let db = db.clone();
            let usage = usage.clone();
            std::thread::Builder::new()
                .name("index-writer".into())
                .spawn(move || writer_loop(db, rx, usage, blobs, max_size))
                .map_err(|e| StoreError::io(path, e))?
        };
        Ok(Index {
            db: Mutex::new(Some(db)),
            cache: Mutex::new(MemCache::default()),
            tx,
            usage,
            writer: Mutex::new(Some(writer)),
        })
    }

    /// The open database, or `None` after [`Index::close`].
    fn database(&self) -> Option<Arc<Database>> {
        lock(&self.db).clone()
    }

    fn read_raw(&self, table: TableDefinition<&[u8], &[u8]>, key: &Digest) -> Option<Vec<u8>> {
        let txn = self.database()?.begin_read().ok()?;
        let t = txn.open_table(table).ok()?;
        let v = t.get(key.as_slice()).ok()??;
        Some(v.value().to_vec())
    }

    pub fn manifest(&self, key: &Digest) -> Option<Arc<Manifest>> {
        if let Some(m) = lock(&self.cache).manifests.get(key) {
            return Some(m.clone());
        }
        let m: Manifest = decode(&self.read_raw(MANIFESTS, key)?)?;
        let m = Arc::new(m);
        lock(&self.cache).manifests.insert(*key, m.clone());
        Some(m)
    }

    pub fn put_manifest(&self, key: Digest, manifest: Manifest) {
        let bytes = encode(&manifest);
        lock(&self.cache).manifests.insert(key, Arc::new(manifest));
        let _ = self.tx.send(WriteOp::Manifest(key, bytes));
    }

    pub fn result(&self, key: &Digest) -> Option<Arc<ResultRecord>> {
        if let Some(r) = lock(&self.cache).results.get(key) {
            return Some(r.clone());
        }
        let r: ResultRecord = decode(&self.read_raw(RESULTS, key)?)?;
        let r = Arc::new(r);
        lock(&self.cache).results.insert(*key, r.clone());
        Some(r)
    }

    pub fn put_result(&self, key: Digest, record: ResultRecord) {
        let bytes = encode(&record);
        lock(&self.cache).results.insert(key, Arc::new(record));
        let _ = self.tx.send(WriteOp::Result(key, bytes));
    }

    /// Forgets a result whose blobs are gone or corrupt.
    pub fn remove_result(&self, key: &Digest) {
        lock(&self.cache).results.remove(key);
        let _ = self.tx.send(WriteOp::RemoveResult(*key));
    }

    pub fn preproc(&self, key: &Digest) -> Option<Digest> {
        if let Some(r) = lock(&self.cache).preproc.get(key) {
            return Some(*r);
        }
        let raw = self.read_raw(PREPROC, key)?;
        let digest: Digest = raw.as_slice().try_into().ok()?;
        lock(&self.cache).preproc.insert(*key, digest);
        Some(digest)
    }

    pub fn put_preproc(&self, key: Digest, result: Digest) {
        lock(&self.cache).preproc.insert(key, result);
        let _ = self.tx.send(WriteOp::Preproc(key, result));
    }

    /// Records a newly stored blob (for size accounting and LRU).
    pub fn add_blob(&self, digest: Digest, size: u64) {
        let _ = self.tx.send(WriteOp::Blob(digest, size));
    }

    /// Marks a blob as just used (LRU).
    pub fn touch_blob(&self, digest: Digest) {
        let _ = self.tx.send(WriteOp::Touch(digest));
    }

    /// Persists the counters.
    pub fn save_stats(&self, stats: Vec<(String, u64)>) {
        let _ = self.tx.send(WriteOp::Stats(stats));
    }

    /// Counters saved by a previous daemon.
    pub fn load_stats(&self) -> Vec<(String, u64)> {
        let read = || -> Option<Vec<(String, u64)>> {
            let txn = self.database()?.begin_read().ok()?;
            let t = txn.open_table(STATS).ok()?;
            let mut out = Vec::new();
            for row in t.iter().ok()? {
                let (k, v) = row.ok()?;
                out.push((k.value().to_string(), v.value()));
            }
            Some(out)
        };
        read().unwrap_or_default()
    }

    /// Waits until everything sent so far is durably committed.
    pub fn flush(&self) {
        let (ack_tx, ack_rx) = mpsc::channel();
        if self.tx.send(WriteOp::Flush(ack_tx)).is_ok() {
            let _ = ack_rx.recv_timeout(Duration::from_secs(30));
        }
    }

    /// Drops every record (blobs are cleared by the writer too).
    pub fn clear(&self) {
        *lock(&self.cache) = MemCache::default();
        let (ack_tx, ack_rx) = mpsc::channel();
        if self.tx.send(WriteOp::Clear(ack_tx)).is_ok() {
            let _ = ack_rx.recv_timeout(Duration::from_secs(60));
        }
        *lock(&self.cache) = MemCache::default();
    }

    /// Approximate bytes held by the in-memory read cache, with `manifest` and `result`
    /// sizing one record each.
    pub fn memory_bytes(
        &self,
        manifest: impl Fn(&Manifest) -> usize,
        result: impl Fn(&ResultRecord) -> usize,
    ) -> usize {
        let cache = lock(&self.cache);
        cache
            .manifests
            .values()
            .map(|m| manifest(m) + 64)
            .sum::<usize>()
            + cache
                .results
                .values()
                .map(|r| result(r) + 64)
                .sum::<usize>()
            + cache.preproc.len() * 96
    }

    /// Drops the in-memory read cache (a memory budget is exceeded); every record stays in
    /// the database and is read again when next used.
    pub fn drop_memory_cache(&self) {
        *lock(&self.cache) = MemCache::default();
    }

    /// Flushes, stops the writer and closes the database cleanly (redb marks the file as not
    /// needing recovery, so the next open skips its repair pass). Reads after this find
    /// nothing; writes are dropped. If another thread still holds the database (a read in
    /// flight), it is left to the process exit, and the next open repairs it.
    pub fn close(&self) {
        self.flush();
        if let Some(handle) = lock(&self.writer).take() {
            let _ = self.tx.send(WriteOp::Close);
            if handle.join().is_err() {
                tracing::warn!("index writer panicked while closing");
            }
        }
        let Some(db) = lock(&self.db).take() else {
            return;
        };
        match Arc::try_unwrap(db) {
            Ok(db) => {
                if let Err(e) = db.close() {
                    tracing::warn!("index close failed: {e}");
                }
            }
            Err(_) => tracing::debug!("index still in use at close; left to the process exit"),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How long a new entry may stay in the index without being synced to disk (a crash within
/// this loses it: a later miss, never a wrong hit).
const ENTRY_DURABLE_WITHIN: Duration = Duration::from_millis(250);

fn writer_loop(
    db: Arc<Database>,
    rx: Receiver<WriteOp>,
    usage: Arc<Usage>,
    blobs: Arc<BlobStore>,
    max_size: u64,
) {
    let mut last_durable = Instant::now();
    let mut dirty = false;
    // New entries not yet durable: made so within ENTRY_DURABLE_WITHIN.
    let mut entry_pending = false;
    loop {
        let wait = if entry_pending {
            ENTRY_DURABLE_WITHIN.saturating_sub(last_durable.elapsed())
        } else {
            Duration::from_secs(2)
        };
        let first = match rx.recv_timeout(wait) {
            Ok(op) => op,
            Err(RecvTimeoutError::Timeout) => {
                if dirty {
                    if let Err(e) = durable_commit(&db) {
                        tracing::warn!("index durable commit failed: {e}");
                    }
                    dirty = false;
                    last_durable = Instant::now();
                }
                // Nothing left to sync (also after a batch that failed to apply): no timer.
                entry_pending = false;
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut batch = vec![first];
        while let Ok(op) = rx.try_recv() {
            batch.push(op);
            if batch.len() > 4096 {
                break;
            }
        }
        let close = batch.iter().any(|op| matches!(op, WriteOp::Close));
        let mut acks = Vec::new();
        let mut clears = Vec::new();
        // A new entry is made durable within ENTRY_DURABLE_WITHIN: a daemon that is
        // SIGKILLed (or crashes) a few seconds after each start must still keep what it
        // stored, or the cache never fills (found by scripts/soak.sh: a kill every ~3 s kept
        // nothing when entries waited 5 s); one sync per entry cost a link miss ≈ 0.6 ms of
        // daemon CPU. Stats and LRU touches stay lazy (durable within 5 s, or after 2 s idle).
        let new_entry = batch.iter().any(|op| {
            matches!(
                op,
                WriteOp::Manifest(..) | WriteOp::Result(..) | WriteOp::Blob(..) | WriteOp::Clear(_)
            )
        });
        match apply_batch(&db, batch, &usage, &mut acks, &mut clears) {
            Ok(()) => dirty = true,
            Err(e) => tracing::warn!("index write failed: {e}"),
        }
        for ack in clears {
            let _ = blobs.clear();
            usage.total_bytes.store(0, Ordering::Relaxed);
            usage.entries.store(0, Ordering::Relaxed);
            let _ = ack.send(());
        }
        if usage.total_bytes.load(Ordering::Relaxed) > max_size {
            match evict::evict(&db, &blobs, &usage, max_size) {
                Ok(n) => tracing::debug!("evicted {n} blobs"),
                Err(e) => tracing::warn!("eviction failed: {e}"),
            }
        }
        entry_pending |= new_entry;
        let entry_due = entry_pending && last_durable.elapsed() >= ENTRY_DURABLE_WITHIN;
        if !acks.is_empty() || entry_due || last_durable.elapsed() > Duration::from_secs(5) {
            if let Err(e) = durable_commit(&db) {
                tracing::warn!("index durable commit failed: {e}");
            }
            dirty = false;
            entry_pending = false;
            last_durable = Instant::now();
        }
        for ack in acks {
            let _ = ack.send(());
        }
        if close {
            break;
        }
    }
    let _ = durable_commit(&db);
}

fn durable_commit(db: &Database) -> Result<(), StoreError> {
    let mut txn = db.begin_write().map_err(db_err)?;
    txn.set_durability(Durability::Immediate).map_err(db_err)?;
    txn.commit().map_err(db_err)
}

fn apply_batch(
    db: &Database,
    batch: Vec<WriteOp>,
    usage: &Usage,
    acks: &mut Vec<Sender<()>>,
    clears: &mut Vec<Sender<()>>,
) -> Result<(), StoreError> {
    let mut txn = db.begin_write().map_err(db_err)?;
    txn.set_durability(Durability::None).map_err(db_err)?;
    {
        let mut manifests = txn.open_table(MANIFESTS).map_err(db_err)?;
        let mut results = txn.open_table(RESULTS).map_err(db_err)?;
        let mut preproc = txn.open_table(PREPROC).map_err(db_err)?;
        let mut blobs = txn.open_table(BLOBS).map_err(db_err)?;
        let mut stats = txn.open_table(STATS).map_err(db_err)?;
        let now = now_secs();
        for op in batch {
            match op {
                WriteOp::Manifest(k, v) => {
                    manifests
                        .insert(k.as_slice(), v.as_slice())
                        .map_err(db_err)?;
                }
                WriteOp::Result(k, v) => {
                    let old = results.insert(k.as_slice(), v.as_slice()).map_err(db_err)?;
                    if old.is_none() {
                        usage.entries.fetch_add(1, Ordering::Relaxed);
                    }
                }
                WriteOp::RemoveResult(k) => {
                    if results.remove(k.as_slice()).map_err(db_err)?.is_some() {
                        usage.entries.fetch_sub(1, Ordering::Relaxed);
                    }
                }
                WriteOp::Preproc(k, v) => {
                    preproc.insert(k.as_slice(), v.as_slice()).map_err(db_err)?;
                }
                WriteOp::Blob(k, size) => {
                    let old = blobs.insert(k.as_slice(), (size, now)).map_err(db_err)?;
                    if old.is_none() {
                        usage.total_bytes.fetch_add(size, Ordering::Relaxed);
                    }
                }
                WriteOp::Touch(k) => {
                    let size = blobs
                        .get(k.as_slice())
                        .map_err(db_err)?
                        .map(|v| v.value().0);
                    if let Some(size) = size {
                        blobs.insert(k.as_slice(), (size, now)).map_err(db_err)?;
                    }
                }
                WriteOp::Stats(values) => {
                    for (name, value) in values {
                        stats.insert(name.as_str(), value).map_err(db_err)?;
                    }
                }
                WriteOp::Flush(ack) => acks.push(ack),
                WriteOp::Close => {}
                WriteOp::Clear(ack) => {
                    manifests.retain(|_, _| false).map_err(db_err)?;
                    results.retain(|_, _| false).map_err(db_err)?;
                    preproc.retain(|_, _| false).map_err(db_err)?;
                    blobs.retain(|_, _| false).map_err(db_err)?;
                    clears.push(ack);
                }
            }
        }
    }
    txn.commit().map_err(db_err)
}

/// Table handle for eviction.
pub(super) fn blobs_table() -> TableDefinition<'static, &'static [u8], (u64, u64)> {
    BLOBS
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    #[test]
    fn close_leaves_a_database_that_opens_without_repair() {
        let dir = tempfile::tempdir().expect("tempdir");
        let blobs = Arc::new(
            BlobStore::open(&dir.path().join("blobs"), &dir.path().join("tmp")).expect("blobs"),
        );
        let path = dir.path().join("index.redb");
        let index = Index::open(&path, blobs, u64::MAX, 1 << 20).expect("open");
        index.put_preproc([7; 32], [9; 32]);
        index.save_stats(vec![("hits".into(), 3)]);
        index.close();
        assert_eq!(
            index.preproc(&[1; 32]),
            None,
            "a closed index reads nothing"
        );
        drop(index);

        static REPAIRED: AtomicBool = AtomicBool::new(false);
        let db = Database::builder()
            .set_repair_callback(|_| REPAIRED.store(true, Ordering::SeqCst))
            .create(&path)
            .expect("reopen");
        assert!(
            !REPAIRED.load(Ordering::SeqCst),
            "a closed index must not need repair"
        );
        let txn = db.begin_read().expect("read");
        let t = txn.open_table(PREPROC).expect("table");
        let v = t.get([7u8; 32].as_slice()).expect("get").expect("row kept");
        assert_eq!(v.value(), [9u8; 32].as_slice());
    }
}
