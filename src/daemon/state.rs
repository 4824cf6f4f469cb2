//! Everything the daemon keeps warm, shared by its connection threads.

use super::compiler_id::CompilerCache;
use super::stats::Stats;
use crate::config::{Layout, Settings};
use crate::ipc::StatsSnapshot;
use crate::meta::HashCache;
use crate::store::{BlobStore, Digest, Index};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Shared daemon state.
pub struct DaemonState {
    pub settings: Settings,
    pub layout: Layout,
    pub blobs: Arc<BlobStore>,
    pub index: Index,
    pub hashes: HashCache,
    pub compilers: CompilerCache,
    pub stats: Stats,
    /// The miss journal and what `explain` compares a miss against.
    pub misses: super::explain::MissRecords,
    pub started: Instant,
    /// Connections being served right now.
    pub active: AtomicUsize,
    /// When the last connection ended.
    pub last_activity: Mutex<Instant>,
    /// Background preprocessor-tier filler.
    pub backfill: std::sync::OnceLock<super::backfill::Backfill>,
    /// Manifest keys of misses already answered (the wrapper has exited) whose results are
    /// still being stored.
    pub ingests: Mutex<Vec<Digest>>,
    /// Signalled whenever an ingest finishes.
    pub ingests_done: Condvar,
    /// Misses whose store may be sent without waiting for an answer, not yet read.
    pub unread_stores: Arc<super::unread_stores::UnreadStores>,
    /// The installed file-access recorder (None if it could not be installed: misses are
    /// then not cached).
    pub recorder: Option<std::path::PathBuf>,
    /// The remote tier, when remotes are configured.
    pub remote: Option<Arc<crate::store::remote::RemoteTier>>,
    /// `zccache start --owner` processes: the daemon exits once they are all gone.
    pub owners: super::owners::Owners,
}

impl DaemonState {
    /// Full stats snapshot, with store sizes.
    pub fn snapshot(&self) -> StatsSnapshot {
        let mut s = self.stats.snapshot();
        s.entries = self.index.usage.entries.load(Ordering::Relaxed);
        s.cache_size_bytes = self.index.usage.total_bytes.load(Ordering::Relaxed);
        s.evictions = self.index.usage.evictions.load(Ordering::Relaxed);
        s.max_size_bytes = self.settings.max_size.value;
        s.daemon_pid = std::process::id();
        s.daemon_uptime_s = self.started.elapsed().as_secs();
        s.cache_dir = self.layout.root.display().to_string();
        if let Some(remote) = &self.remote {
            s.remotes = remote.describe();
        }
        s.memory_bytes = super::memory::enforce(self);
        s.max_memory_bytes = self.settings.max_memory.value;
        s
    }

    /// Records real work (a compile), restarting the idle countdown. Control requests
    /// (`status`, `stats`) do not keep the daemon alive.
    pub fn touch(&self) {
        if let Ok(mut t) = self.last_activity.lock() {
            *t = Instant::now();
        }
    }

    /// Marks a miss as being stored after its wrapper was answered; the guard marks it
    /// stored.
    pub fn begin_ingest(self: &Arc<Self>, manifest_key: Digest) -> IngestGuard {
        self.ingests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(manifest_key);
        IngestGuard {
            state: self.clone(),
            manifest_key,
        }
    }

    /// Waits (at most `limit`) until every answered miss (and every miss whose unanswered store
    /// was sent) is stored, so stats, clear and
    /// shutdown see the whole build.
    pub fn wait_for_ingests(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        self.unread_stores.wait(None, deadline);
        let limit = deadline.saturating_duration_since(Instant::now());
        let pending = self.ingests.lock().unwrap_or_else(|p| p.into_inner());
        let _ = self
            .ingests_done
            .wait_timeout_while(pending, limit, |keys| !keys.is_empty());
    }

    /// Waits (at most `limit`) until no answered miss with this manifest key is still being
    /// stored, so the same compile run right again finds its result.
    pub fn wait_for_ingest_of(&self, manifest_key: &Digest, limit: Duration) {
        let deadline = Instant::now() + limit;
        self.unread_stores.wait(Some(manifest_key), deadline);
        let limit = deadline.saturating_duration_since(Instant::now());
        let pending = self.ingests.lock().unwrap_or_else(|p| p.into_inner());
        let _ = self
            .ingests_done
            .wait_timeout_while(pending, limit, |keys| keys.contains(manifest_key));
    }

    /// Marks a connection as started; the guard marks it finished.
    pub fn enter(self: &Arc<Self>) -> ActiveGuard {
        self.active.fetch_add(1, Ordering::SeqCst);
        ActiveGuard(self.clone())
    }
}

/// Keeps the daemon from idling out while a connection is served.
pub struct ActiveGuard(Arc<DaemonState>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One ingest in flight; dropping it wakes anyone waiting for ingests to finish.
pub struct IngestGuard {
    state: Arc<DaemonState>,
    manifest_key: Digest,
}

impl Drop for IngestGuard {
    fn drop(&mut self) {
        let mut pending = self.state.ingests.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(at) = pending.iter().position(|k| *k == self.manifest_key) {
            pending.swap_remove(at);
        }
        self.state.ingests_done.notify_all();
    }
}
