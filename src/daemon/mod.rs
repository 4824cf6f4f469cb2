//! The per-user daemon: one per cache directory, started on demand, exits when idle.
//!
//! It owns the store (only the daemon writes the cache), keeps file hashes and compiler
//! identities warm, and serves one thread per connection.

pub mod accesses;
pub mod archive;
pub mod backfill;
pub mod background;
pub mod compile;
pub mod compiler_id;
pub mod explain;
pub mod journal;
pub mod key_parts;
pub mod keys;
pub mod large_outputs;
pub mod learn;
pub mod lifecycle;
pub mod link;
pub mod memory;
pub mod miss;
pub mod owners;
pub mod pathmap;
pub mod prior_output;
pub mod recorder;
pub mod relocate;
pub mod remote;
pub mod rustup;
pub mod session;
pub mod shadowing;
pub mod stale;
pub mod state;
pub mod stats;
pub mod unread_stores;
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

/// Creates the cache dir private to the user (0700), and this build's store dir in it; for
/// a read-only cache dir, the private runtime dir instead (refused unless it is ours and
/// private).
pub fn ensure_private_dir(layout: &Layout) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    if layout.read_only {
        // A store this user cannot write may be another user's: never serve it.
        // SAFETY: geteuid has no preconditions.
        let me = unsafe { libc::geteuid() };
        for dir in [&layout.root, &layout.store] {
            if std::fs::metadata(dir)?.uid() != me {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!("{} belongs to another user", dir.display()),
                ));
            }
        }
        let parent = layout.runtime.parent().unwrap_or(&layout.runtime);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&layout.runtime)?;
        for dir in [parent, layout.runtime.as_path()] {
            let meta = std::fs::symlink_metadata(dir)?;
            if !meta.is_dir() || meta.uid() != me || meta.mode() & 0o077 != 0 {
                return Err(std::io::Error::other(format!(
                    "{} is not a private directory of this user",
                    dir.display()
                )));
            }
        }
        return Ok(());
    }
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
    if !layout.store.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&layout.store)?;
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
    memory::limit_allocator_arenas();
    large_outputs::ignore_lease_breaks();
    let layout = Layout::new(&settings.dir.value).checked();
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
    // A read-only cache dir: the index is opened from a private copy (redb needs to write
    // even to recover a file that was not closed); blobs are read in place and nothing is
    // written to the cache dir (each store fails on its blob and is counted).
    let index_path = if layout.read_only {
        let copy = layout.runtime.join("index-of-read-only-store.redb");
        std::fs::copy(layout.index_db(), &copy)
            .with_context(|| format!("copying {}", layout.index_db().display()))?;
        tracing::info!("{} is read-only: lookups only", layout.store.display());
        copy
    } else {
        layout.index_db()
    };
    let index = Index::open(
        &index_path,
        blobs.clone(),
        settings.max_size.value,
        memory::index_page_cache(settings.max_memory.value),
    )?;
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
        misses: explain::MissRecords::new(&layout.store, settings.miss_journal.value),
        started: Instant::now(),
        active: Default::default(),
        last_activity: Mutex::new(Instant::now()),
        backfill: std::sync::OnceLock::new(),
        ingests: Mutex::new(Vec::new()),
        ingests_done: std::sync::Condvar::new(),
        unread_stores: Default::default(),
        recorder: match recorder::install(&layout) {
            Ok(path) => Some(path),
            Err(e) => {
                tracing::warn!("cannot install the access recorder ({e}); misses are not cached");
                None
            }
        },
        remote,
        owners: owners::Owners::default(),
    });
    let _ = state
        .backfill
        .set(backfill::Backfill::start(Arc::downgrade(&state)));
    state.stats.restore(state.index.load_stats());
    let warm = state.hashes.load(&layout.saved_hashes());
    tracing::debug!("{warm} file hashes from the previous daemon");

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
    lifecycle::record_start(&layout, &lifecycle::started_by());
    if !layout.read_only {
        let sweep_layout = layout.clone();
        let _ = std::thread::Builder::new()
            .name("stale-stores".into())
            .spawn(move || stale::sweep(&sweep_layout));
    }
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
/// and malloc arena page faults); grows when every thread is busy with a long miss. A thread
/// that served a miss is retired (see [`background`]), so a connection is only left to the
/// idle threads when there are at least as many of them as connections waiting.
struct ConnectionPool {
    state: Arc<DaemonState>,
    tx: std::sync::mpsc::Sender<(Stream, state::ActiveGuard)>,
    rx: Arc<Mutex<std::sync::mpsc::Receiver<(Stream, state::ActiveGuard)>>>,
    /// Threads waiting for a connection.
    idle: Arc<std::sync::atomic::AtomicUsize>,
    /// Connections sent and not yet taken by a thread.
    queued: Arc<std::sync::atomic::AtomicUsize>,
}

impl ConnectionPool {
    fn new(state: Arc<DaemonState>) -> ConnectionPool {
        let (tx, rx) = std::sync::mpsc::channel();
        ConnectionPool {
            state,
            tx,
            rx: Arc::new(Mutex::new(rx)),
            idle: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            queued: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
        }
    }

    fn dispatch(&self, conn: Stream) {
        let guard = self.state.enter();
        // `queued` is read before `idle` and a thread lowers `idle` before `queued`, so a
        // stale pair can only make this spawn a thread too many, never one too few.
        let queued = self.queued.fetch_add(1, Ordering::SeqCst) + 1;
        if self.idle.load(Ordering::SeqCst) < queued {
            self.spawn_worker();
        }
        if self.tx.send((conn, guard)).is_err() {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            tracing::warn!("connection pool is gone");
        }
    }

    fn spawn_worker(&self) {
        let (state, rx) = (self.state.clone(), self.rx.clone());
        let (idle, queued) = (self.idle.clone(), self.queued.clone());
        idle.fetch_add(1, Ordering::SeqCst);
        let spawned = std::thread::Builder::new()
            .name("conn".into())
            .spawn(move || loop {
                let next = rx.lock().ok().and_then(|r| r.recv().ok());
                let Some((conn, guard)) = next else {
                    return;
                };
                idle.fetch_sub(1, Ordering::SeqCst);
                queued.fetch_sub(1, Ordering::SeqCst);
                session::serve(&state, conn);
                drop(guard);
                if background::this_thread_lowered() {
                    // Its priority cannot be raised again: dispatch spawns fresh threads.
                    return;
                }
                idle.fetch_add(1, Ordering::SeqCst);
            });
        if let Err(e) = spawned {
            self.idle.fetch_sub(1, Ordering::SeqCst);
            tracing::warn!("cannot spawn connection thread: {e}");
        }
    }
}

/// Saves stats now and then, and exits the process when idle past the timeout or when every
/// owner process is gone (a daemon with owners never idles out).
fn spawn_housekeeping(state: Arc<DaemonState>) {
    let _ = std::thread::Builder::new()
        .name("housekeeping".into())
        .spawn(move || {
            let idle = Duration::from_secs(state.settings.idle_timeout.value.max(1));
            let mut saved_generation = state.stats.generation.load(Ordering::Relaxed);
            let mut ticks: u64 = 0;
            loop {
                std::thread::sleep(Duration::from_millis(200));
                let generation = state.stats.generation.load(Ordering::Relaxed);
                if generation != saved_generation {
                    state.index.save_stats(state.stats.to_pairs());
                    saved_generation = generation;
                }
                ticks += 1;
                if ticks.is_multiple_of(KEY_PARTS_SAVE_TICKS) {
                    state.misses.key_parts.save_if_dirty();
                }
                if ticks.is_multiple_of(10) {
                    memory::enforce(&state);
                }
                if state.owners.all_gone() {
                    tracing::info!("every owner process is gone; exiting");
                    shutdown(&state, lifecycle::ExitReason::OwnersGone);
                }
                let last = state
                    .last_activity
                    .lock()
                    .map(|t| *t)
                    .unwrap_or_else(|_| Instant::now());
                let never = state.settings.idle_timeout.value == 0 || state.owners.any();
                if !never && state.active.load(Ordering::SeqCst) == 0 && last.elapsed() >= idle {
                    tracing::info!("idle for {:?}; exiting", idle);
                    shutdown(&state, lifecycle::ExitReason::Idle);
                }
            }
        });
}

/// Housekeeping ticks (of 200 ms) between saves of the key parts `explain` compares against.
const KEY_PARTS_SAVE_TICKS: u64 = 150;

/// Longest a stats/clear/stop request waits for answered misses to be stored.
pub const INGEST_WAIT: Duration = Duration::from_secs(30);

/// Longest `zccache stats` waits for queued remote uploads (so a build's uploads show).
pub const STATS_UPLOAD_WAIT: Duration = Duration::from_secs(3);

/// Longest stop / idle exit waits for queued remote uploads.
pub const REMOTE_FLUSH: Duration = Duration::from_secs(10);

/// Longest shutdown waits for conversations in flight (a compile that already connected)
/// to end before exiting; they fall back to an uncached compile if cut.
pub const DRAIN_WAIT: Duration = Duration::from_secs(10);

/// Stops serving and exits the process: removes the socket first (a compile arriving now
/// starts the next daemon once this one has exited), lets conversations in flight finish
/// (bounded), stores answered misses, flushes remote uploads, persists everything, logs why,
/// exits. Only the first caller proceeds; any other parks until the process is gone.
pub fn shutdown(state: &DaemonState, reason: lifecycle::ExitReason) -> ! {
    static SHUTTING_DOWN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if SHUTTING_DOWN.swap(true, Ordering::SeqCst) {
        loop {
            std::thread::park();
        }
    }
    let _ = std::fs::remove_file(state.layout.socket());
    let _ = std::fs::remove_file(state.layout.pid_file());
    // The caller's own connection (a `stop`) counts as one.
    let own = usize::from(reason == lifecycle::ExitReason::Stop);
    let deadline = Instant::now() + DRAIN_WAIT;
    while state.active.load(Ordering::SeqCst) > own && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    state.wait_for_ingests(INGEST_WAIT);
    if let Some(remote) = &state.remote {
        remote.flush(REMOTE_FLUSH);
    }
    state.index.save_stats(state.stats.to_pairs());
    state.misses.key_parts.save_if_dirty();
    state.index.close();
    if !state.layout.read_only {
        // Within the memory budget already; the next daemon starts with these hashes.
        if let Err(e) = state.hashes.save(&state.layout.saved_hashes()) {
            tracing::debug!("cannot save the file hashes: {e}");
        }
    }
    lifecycle::record_exit(&state.layout, reason);
    std::process::exit(0);
}
