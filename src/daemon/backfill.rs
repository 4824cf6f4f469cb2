//! Preprocessor-tier backfill: after a miss is stored, run `-E` for it in the background, at
//! idle CPU priority, and record preprocessed-hash → result. Then a later edit that changes
//! only comments or whitespace is a hit for the cost of one `-E` run, while misses themselves
//! never pay for the extra preprocessor run.

use super::keys::preprocessor_key;
use super::state::DaemonState;
use crate::paths::resolve;
use crate::store::Digest;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// One stored miss to preprocess.
pub struct Job {
    pub compiler: String,
    pub args: Vec<String>,
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
    pub manifest_key: Digest,
    pub result_key: Digest,
    /// The entry's files and hashes: the job is dropped if any changed meanwhile.
    pub files: Vec<(String, Digest)>,
}

/// Queue handle; jobs beyond its capacity are dropped (the tier is best effort).
pub struct Backfill {
    tx: SyncSender<Job>,
}

impl Backfill {
    /// Starts the worker thread.
    pub fn start(state: Weak<DaemonState>) -> Backfill {
        let (tx, rx) = sync_channel(1024);
        let _ = std::thread::Builder::new()
            .name("pp-backfill".into())
            .spawn(move || worker(state, rx));
        Backfill { tx }
    }

    pub fn submit(&self, job: Job) {
        match self.tx.try_send(job) {
            Ok(()) | Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

/// Lowers this thread (and the compilers it starts) to idle scheduling.
fn become_idle_priority() {
    // SAFETY: plain syscalls on the calling thread with valid arguments.
    unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        if libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) != 0 {
            libc::setpriority(libc::PRIO_PROCESS, 0, 19);
        }
    }
}

/// How long the daemon must have served no compile before backfill work runs: builds keep
/// it busy, so the extra `-E` runs happen after the build instead of competing with it.
const QUIET_FOR: Duration = Duration::from_millis(300);

fn worker(state: Weak<DaemonState>, rx: Receiver<Job>) {
    become_idle_priority();
    while let Ok(job) = rx.recv() {
        loop {
            let Some(state) = state.upgrade() else {
                return;
            };
            let quiet = state.active.load(Ordering::SeqCst) == 0
                && state
                    .last_activity
                    .lock()
                    .map(|t| t.elapsed() >= QUIET_FOR)
                    .unwrap_or(true);
            if quiet {
                break;
            }
            drop(state);
            std::thread::sleep(Duration::from_millis(50));
        }
        let Some(state) = state.upgrade() else {
            return;
        };
        run_job(&state, job);
    }
}

fn run_job(state: &Arc<DaemonState>, job: Job) {
    let _guard = state.enter();
    let out = Command::new(&job.compiler)
        .args(&job.args)
        .current_dir(&job.cwd)
        .env_clear()
        .envs(job.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    let Ok(out) = out else {
        return;
    };
    if !out.status.success() {
        return;
    }
    // Only record it if the inputs are still exactly those the stored result was built from.
    let unchanged = job.files.iter().all(|(path, hash)| {
        state
            .hashes
            .digest(&resolve(&job.cwd, path))
            .map(|d| d.hash == *hash)
            .unwrap_or(false)
    });
    if !unchanged {
        return;
    }
    let pp_hash: Digest = *blake3::hash(&out.stdout).as_bytes();
    let pkey = preprocessor_key(&job.manifest_key, &pp_hash);
    state.index.put_preproc(pkey, job.result_key);
    state.touch();
    tracing::debug!("backfilled preprocessor key for {}", job.cwd.display());
}
