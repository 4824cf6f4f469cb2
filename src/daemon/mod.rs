//! The per-user daemon: one per cache directory, started on demand, exits when idle.
//!
//! It owns the store (only the daemon writes the cache), keeps file hashes and compiler
//! identities warm, and serves one thread per connection.

pub mod accesses;
pub mod backfill;
pub mod compile;
pub mod compiler_id;
pub mod explain;
pub mod journal;
pub mod key_parts;
pub mod keys;
pub mod learn;
pub mod link;
pub mod pathmap;
pub mod recorder;
pub mod relocate;
pub mod remote;
pub mod rustup;
pub mod session;
pub mod shadowing;
pub mod state;
pub mod stats;
pub mod verify;

use crate::config::{Layout, Settings};
use crate::meta::HashCache;
use crate::store::{BlobStore, Index};
use anyhow::Context;
use interprocess::local_socket::{prelude::*, GenericFilePath, ListenerOptions, Stream};
use state::DaemonState;
use std::fs::File;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Creates the cache dir private to the user (0700).
pub fn ensure_private_dir(layout: &Layout) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if !layout.root.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&layout.root)?;
    }
    let meta = std::fs::metadata(&layout.root)?;
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(&layout.root, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Closes inherited descriptors (a make jobserver pipe, a build's log) so the daemon never
/// holds a build's files open.
fn close_inherited_fds() {
    if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
        let fds: Vec<i32> = entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .filter(|&fd| fd > 2)
            .collect();
        for fd in fds {
            // SAFETY: closing descriptors this process inherited and does not use yet.
            unsafe {
                libc::close(fd);
            }
        }
    }
}

/// Runs the daemon in the foreground until idle or asked to stop.
/// Returns Ok(()) at once if another daemon already owns this cache dir.
pub fn run(settings: Settings) -> anyhow::Result<()> {
    close_inherited_fds();
    let layout = Layout::new(&settings.dir.value);
    ensure_private_dir(&layout)
        .with_context(|| format!("creating cache dir {}", layout.root.display()))?;
    let lock = File::create(layout.daemon_lock()).context("creating daemon lock")?;
    // Another daemon may own the dir: if it answers, leave; if it is shutting down, wait for
    // its lock so a client starting us during its exit still gets a daemon.
    let mut attempts = 0;
    while lock.try_lock().is_err() {
        if crate::client::connect::ping(&layout).is_ok() || attempts > 200 {
            return Ok(());
        }
        attempts += 1;
        std::thread::sleep(Duration::from_millis(25));
    }
    crate::logging::init_file(&settings, &layout, "daemon");

    let blobs = Arc::new(BlobStore::open(&layout.blobs(), &layout.tmp())?);
    let index = Index::open(&layout.index_db(), blobs.clone(), settings.max_size.value)?;
    let stats = stats::Stats::default();
    let remote = crate::store::remote::RemoteTier::new(
        &crate::store::remote::RemoteConfig {
            urls: settings.remote.value.clone(),
            read_only: settings.remote_read_only.value,
            secret: settings.remote_key.value.clone(),
            header: settings.remote_header.value.clone(),
            max_lookup: Duration::from_millis(settings.remote_timeout_ms.value),
        },
        stats.remote.clone(),
    );
    let state = Arc::new(DaemonState {
        settings: settings.clone(),
        layout: layout.clone(),
        blobs,
        index,
        hashes: HashCache::new(),
        compilers: compiler_id::CompilerCache::new(),
        stats,
        misses: explain::MissRecords::new(&layout.root, settings.miss_journal.value),
        started: Instant::now(),
        active: Default::default(),
        last_activity: Mutex::new(Instant::now()),
        backfill: std::sync::OnceLock::new(),
        ingests: Mutex::new(Vec::new()),
        ingests_done: std::sync::Condvar::new(),
        recorder: match recorder::install(&layout) {
            Ok(path) => Some(path),
            Err(e) => {
                tracing::warn!("cannot install the access recorder ({e}); misses are not cached");
                None
            }
        },
        remote,
    });
    let _ = state
        .backfill
        .set(backfill::Backfill::start(Arc::downgrade(&state)));
    state.stats.restore(state.index.load_stats());

    let socket = layout.socket();
    let _ = std::fs::remove_file(&socket);
    let name = socket
        .as_path()
        .to_fs_name::<GenericFilePath>()
        .context("socket name")?;
    let listener = ListenerOptions::new()
        .name(name)
        .create_sync()
        .with_context(|| format!("listening on {}", socket.display()))?;
    std::fs::write(layout.pid_file(), std::process::id().to_string()).ok();
    tracing::info!(
        "daemon {} serving {}",
        std::process::id(),
        layout.root.display()
    );

    spawn_housekeeping(state.clone());

    let pool = ConnectionPool::new(state.clone());
    for conn in listener.incoming() {
        match conn {
            Ok(conn) => pool.dispatch(conn),
            Err(e) => tracing::warn!("accept failed: {e}"),
        }
    }
    Ok(())
}

/// Connection threads kept warm between compiles (a fresh thread per hit pays for its stack
/// and malloc arena page faults); grows when every thread is busy with a long miss.
struct ConnectionPool {
    state: Arc<DaemonState>,
    tx: std::sync::mpsc::Sender<(Stream, state::ActiveGuard)>,
    rx: Arc<Mutex<std::sync::mpsc::Receiver<(Stream, state::ActiveGuard)>>>,
    idle: Arc<std::sync::atomic::AtomicUsize>,
}

impl ConnectionPool {
    fn new(state: Arc<DaemonState>) -> ConnectionPool {
        let (tx, rx) = std::sync::mpsc::channel();
        ConnectionPool {
            state,
            tx,
            rx: Arc::new(Mutex::new(rx)),
            idle: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
        }
    }

    fn dispatch(&self, conn: Stream) {
        let guard = self.state.enter();
        if self.idle.load(Ordering::SeqCst) == 0 {
            self.spawn_worker();
        }
        if self.tx.send((conn, guard)).is_err() {
            tracing::warn!("connection pool is gone");
        }
    }

    fn spawn_worker(&self) {
        let (state, rx, idle) = (self.state.clone(), self.rx.clone(), self.idle.clone());
        idle.fetch_add(1, Ordering::SeqCst);
        let spawned = std::thread::Builder::new()
            .name("conn".into())
            .spawn(move || loop {
                let next = rx.lock().ok().and_then(|r| r.recv().ok());
                let Some((conn, guard)) = next else {
                    return;
                };
                idle.fetch_sub(1, Ordering::SeqCst);
                session::serve(&state, conn);
                drop(guard);
                idle.fetch_add(1, Ordering::SeqCst);
            });
        if let Err(e) = spawned {
            self.idle.fetch_sub(1, Ordering::SeqCst);
            tracing::warn!("cannot spawn connection thread: {e}");
        }
    }
}

/// Saves stats now and then, and exits the process when idle past the timeout.
fn spawn_housekeeping(state: Arc<DaemonState>) {
    let _ = std::thread::Builder::new()
        .name("housekeeping".into())
        .spawn(move || {
            let idle = Duration::from_secs(state.settings.idle_timeout.value.max(1));
            let mut saved_generation = state.stats.generation.load(Ordering::Relaxed);
            let mut ticks: u64 = 0;
            loop {
                std::thread::sleep(Duration::from_millis(500));
                let generation = state.stats.generation.load(Ordering::Relaxed);
                if generation != saved_generation {
                    state.index.save_stats(state.stats.to_pairs());
                    saved_generation = generation;
                }
                ticks += 1;
                if ticks.is_multiple_of(KEY_PARTS_SAVE_TICKS) {
                    state.misses.key_parts.save_if_dirty();
                }
                let last = state
                    .last_activity
                    .lock()
                    .map(|t| *t)
                    .unwrap_or_else(|_| Instant::now());
                let never = state.settings.idle_timeout.value == 0;
                if !never && state.active.load(Ordering::SeqCst) == 0 && last.elapsed() >= idle {
                    tracing::info!("idle for {:?}; exiting", idle);
                    shutdown(&state);
                }
            }
        });
}

/// Housekeeping ticks (of 500 ms) between saves of the key parts `explain` compares against.
const KEY_PARTS_SAVE_TICKS: u64 = 60;

/// Longest a stats/clear/stop request waits for answered misses to be stored.
pub const INGEST_WAIT: Duration = Duration::from_secs(30);

/// Longest `zccache stats` waits for queued remote uploads (so a build's uploads show).
pub const STATS_UPLOAD_WAIT: Duration = Duration::from_secs(3);

/// Longest stop / idle exit waits for queued remote uploads.
pub const REMOTE_FLUSH: Duration = Duration::from_secs(10);

/// Stops serving: removes the socket, persists everything, exits the process.
pub fn shutdown(state: &DaemonState) -> ! {
    state.wait_for_ingests(INGEST_WAIT);
    let _ = std::fs::remove_file(state.layout.socket());
    if let Some(remote) = &state.remote {
        remote.flush(REMOTE_FLUSH);
    }
    let _ = std::fs::remove_file(state.layout.pid_file());
    state.index.save_stats(state.stats.to_pairs());
    state.misses.key_parts.save_if_dirty();
    state.index.close();
    std::process::exit(0);
}
