//! The safety net (`ZCCACHE_VERIFY=<fraction>`): on that share of hits, after the
//! build was answered, the daemon re-runs the real compile at idle priority into a scratch
//! dir and compares every output byte for byte with what the hit served. A difference is a
//! wrong cached result: it is counted, logged with the command line, and the result evicted.
//! When two fresh compiles differ from each other too, the compile is not reproducible by
//! design (e.g. gcc `-flto` without `-frandom-seed`) and is counted as such, never as a
//! mismatch.

use super::state::DaemonState;
use crate::store::records::ResultRecord;
use crate::store::Digest;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};
use zccache_integrations::{Family, Invocation, DEPFILE_PLACEHOLDER};

/// Verifications waiting for the verifier; more sampled hits are skipped (counted).
const QUEUE: usize = 256;
static SAMPLES: AtomicU64 = AtomicU64::new(0);

/// Whether this hit is in the sampled share.
pub fn sampled(fraction: f64) -> bool {
    if fraction <= 0.0 {
        return false;
    }
    if fraction >= 1.0 {
        return true;
    }
    let n = SAMPLES.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut h = blake3::Hasher::new();
    h.update(&n.to_le_bytes());
    h.update(&nanos.to_le_bytes());
    h.update(&std::process::id().to_le_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&h.finalize().as_bytes()[..8]);
    (u64::from_le_bytes(first) as f64 / u64::MAX as f64) < fraction
}

/// One re-compile to run.
pub struct Job {
    compiler: String,
    cwd: PathBuf,
    env: Vec<(String, String)>,
    /// Arguments with `{scratch}` where the scratch dir goes.
    args: Vec<String>,
    /// Per output: its file name in the scratch dir and the blob it must equal.
    outputs: Vec<(String, Digest)>,
    result_key: Digest,
    manifest_key: Digest,
}

/// Where mismatches are written, in the cache dir.
pub const MISMATCH_LOG: &str = "verify-mismatch.log";

const SCRATCH: &str = "\u{0}zccache-verify-scratch\u{0}";

impl Job {
    /// The re-compile of a hit, with every output redirected to a scratch dir (`-o` for
    /// gcc/clang/emcc, `--out-dir` for rustc, outputs derived from them land beside); None for
    /// compiles it cannot redirect.
    pub fn plan(
        inv: &Invocation,
        compiler: &str,
        cwd: &Path,
        env: &[(String, String)],
        record: &ResultRecord,
        result_key: Digest,
        manifest_key: Digest,
    ) -> Option<Job> {
        if inv.link && inv.outputs.len() > 1 {
            // A link's map or dependency file is named by a linker option, not derived from
            // `-o`: a re-link would write it over the build's own.
            return None;
        }
        let obj = inv.outputs.first()?;
        let file_name = |p: &str| Path::new(p).file_name()?.to_str().map(String::from);
        let mut args = Vec::with_capacity(inv.miss_args.len());
        let mut redirected = false;
        let mut after_out_dir = false;
        for (i, arg) in inv.miss_args.iter().enumerate() {
            let rustc = inv.family == Family::Rustc;
            if arg == DEPFILE_PLACEHOLDER {
                args.push(format!("{SCRATCH}/verify.d"));
            } else if rustc && after_out_dir {
                // rustc writes every output (and its dep-info) into --out-dir.
                args.push(SCRATCH.to_string());
                redirected = true;
            } else if rustc && arg.starts_with("--out-dir=") {
                args.push(format!("--out-dir={SCRATCH}"));
                redirected = true;
            } else if !rustc && *arg == obj.path && i > 0 && inv.miss_args[i - 1] == "-o" {
                args.push(format!("{SCRATCH}/{}", file_name(&obj.path)?));
                redirected = true;
            } else {
                args.push(arg.clone());
            }
            after_out_dir = rustc && arg == "--out-dir";
        }
        if !redirected {
            return None;
        }
        let mut outputs = Vec::new();
        for slot in &inv.outputs {
            if let Some(out) = record.outputs.iter().find(|o| o.role == slot.role) {
                outputs.push((file_name(&slot.path)?, out.blob));
            }
        }
        Some(Job {
            compiler: compiler.to_string(),
            cwd: cwd.to_path_buf(),
            env: env
                .iter()
                .filter(|(k, _)| k != crate::config::VERIFY_ENV)
                .cloned()
                .collect(),
            args,
            outputs,
            result_key,
            manifest_key,
        })
    }

    /// Queues the verification for the daemon's one verifier thread (stats wait for it like
    /// for a store); skipped and counted when the queue is full.
    pub fn start(self, state: &Arc<DaemonState>) {
        type Queued = (Job, super::state::IngestGuard, Arc<DaemonState>);
        static VERIFIER: OnceLock<Mutex<SyncSender<Queued>>> = OnceLock::new();
        let sender = VERIFIER.get_or_init(|| {
            let (tx, rx) = sync_channel::<Queued>(QUEUE);
            let _ = std::thread::Builder::new()
                .name("verify".into())
                .spawn(move || {
                    for (job, guard, state) in rx {
                        job.run(&state);
                        drop(guard);
                    }
                });
            Mutex::new(tx)
        });
        let guard = state.begin_ingest(self.manifest_key);
        let queued = sender
            .lock()
            .map(|tx| tx.try_send((self, guard, state.clone())).is_ok())
            .unwrap_or(false);
        if !queued {
            state.stats.verified(&state.stats.verify_skipped);
        }
    }

    fn run(&self, state: &DaemonState) {
        let stats = &state.stats;
        let command = format!("{} {}", self.compiler, self.args.join(" "));
        let Some(first) = self.compile_once(state, "a") else {
            tracing::debug!("verify: could not re-run `{command}`");
            stats.verified(&stats.verify_skipped);
            return;
        };
        let differing: Vec<&str> = self
            .outputs
            .iter()
            .zip(&first)
            .filter(|((_, blob), fresh)| blake3::hash(fresh).as_bytes() != blob)
            .map(|((name, _), _)| name.as_str())
            .collect();
        if differing.is_empty() {
            stats.verified(&stats.verify_ok);
            return;
        }
        // Does the compile reproduce itself? If not, a difference proves nothing.
        match self.compile_once(state, "b") {
            Some(second) if second != first => {
                tracing::info!("verify: `{command}` is not reproducible ({differing:?} differ)");
                stats.verified(&stats.verify_unreproducible);
            }
            Some(_) => {
                tracing::warn!(
                    "verify: MISMATCH: a cached result differs from a fresh compile in \
                     {differing:?}; evicted. cwd {} command: {command}",
                    self.cwd.display()
                );
                state.index.remove_result(&self.result_key);
                stats.verified(&stats.verify_mismatch);
                self.report_mismatch(state, &command, &differing);
            }
            None => stats.verified(&stats.verify_skipped),
        }
    }

    /// Appends the mismatch to `verify-mismatch.log` in the cache dir (always, whatever the
    /// log level): the evidence a user reports.
    fn report_mismatch(&self, state: &DaemonState, command: &str, differing: &[&str]) {
        use std::io::Write;
        let path = state.layout.root.join(MISMATCH_LOG);
        let when = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let line = format!(
            "{when} cwd={} differing={differing:?} command: {command}\n",
            self.cwd.display()
        );
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = f.write_all(line.as_bytes());
        }
    }

    /// Compiles into a fresh scratch dir; the outputs' bytes in order, or None.
    fn compile_once(&self, state: &DaemonState, tag: &str) -> Option<Vec<Vec<u8>>> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let scratch = state
            .layout
            .tmp()
            .join(format!("verify-{}-{nanos}-{tag}", std::process::id()));
        std::fs::create_dir_all(&scratch).ok()?;
        let scratch_text = scratch.to_str()?.to_string();
        let args: Vec<String> = self
            .args
            .iter()
            .map(|a| a.replace(SCRATCH, &scratch_text))
            .collect();
        let mut cmd = Command::new(&self.compiler);
        cmd.args(&args)
            .current_dir(&self.cwd)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        {
            use std::os::unix::process::CommandExt;
            // SAFETY: setpriority is async-signal-safe; it only lowers this child's priority.
            unsafe {
                cmd.pre_exec(|| {
                    libc::setpriority(libc::PRIO_PROCESS, 0, 19);
                    Ok(())
                });
            }
        }
        let status = cmd.status();
        let outputs = match status {
            Ok(s) if s.success() => self
                .outputs
                .iter()
                .map(|(name, _)| std::fs::read(scratch.join(name)).ok())
                .collect::<Option<Vec<_>>>(),
            _ => None,
        };
        let _ = std::fs::remove_dir_all(&scratch);
        outputs
    }
}
