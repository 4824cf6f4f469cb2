//! Everything the daemon keeps warm, shared by its connection threads.

use super::compiler_id::CompilerCache;
use super::stats::Stats;
use crate::config::{Layout, Settings};
use crate::ipc::StatsSnapshot;
use crate::meta::HashCache;
use crate::store::{BlobStore, Index};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Shared daemon state.
pub struct DaemonState {
    pub settings: Settings,
    pub layout: Layout,
    pub blobs: Arc<BlobStore>,
    pub index: Index,
    pub hashes: HashCache,
    pub compilers: CompilerCache,
    pub stats: Stats,
    pub started: Instant,
    /// Connections being served right now.
    pub active: AtomicUsize,
    /// When the last connection ended.
    pub last_activity: Mutex<Instant>,
    /// Background preprocessor-tier filler.
    pub backfill: std::sync::OnceLock<super::backfill::Backfill>,
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
        s
    }

    /// Records real work (a compile), restarting the idle countdown. Control requests
    /// (`status`, `stats`) do not keep the daemon alive.
    pub fn touch(&self) {
        if let Ok(mut t) = self.last_activity.lock() {
            *t = Instant::now();
        }
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
