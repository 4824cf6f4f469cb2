//! The wrapper: what build systems spawn per compile. No async runtime, little parsing; it
//! asks the daemon, restores a hit, or runs the compiler. Whatever fails, the build gets the
//! real compiler's behaviour.

pub mod color;
pub mod connect;
mod discard;
mod leave_early;
pub mod resolve;
pub mod run;

use crate::config::{Layout, Settings};
use crate::ipc::{
    read_frame, write_frame, CompilePlan, CompileRequest, FrameError, HitPlan, Request, Response,
    StoreRequest, PROTOCOL_VERSION,
};
use interprocess::local_socket::Stream;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Set by the Bazel toolchain's wrapper script: this compile runs inside a Bazel action.
pub const IN_BAZEL_ACTION_ENV: &str = "ZCCACHE_IN_BAZEL_ACTION";

/// Runs one wrapped compile. `command` is the compiler (name or path) and its arguments.
/// Returns the exit code for the process.
pub fn run_wrapper(command: Vec<OsString>) -> i32 {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let command: Vec<OsString> = match command
        .iter()
        .map(|a| a.to_str().map(String::from))
        .collect::<Option<Vec<String>>>()
    {
        Some(strings) => resolve::unwrap_stacked(strings)
            .into_iter()
            .map(OsString::from)
            .collect(),
        None => command,
    };
    let Some(first) = command.first().and_then(|c| c.to_str()) else {
        eprintln!("zccache: no compiler given (usage: zccache <compiler> <args…>)");
        return 2;
    };
    let Some(compiler) = resolve::resolve_compiler(first, &cwd) else {
        eprintln!("zccache: compiler `{first}` not found on PATH");
        return 127;
    };
    let args: Vec<OsString> = command[1..].to_vec();

    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("zccache: {e}; running the compiler uncached");
            return run::exec_compiler(&compiler, &args);
        }
    };
    if settings.disable.value {
        return run::exec_compiler(&compiler, &args);
    }
    crate::logging::init_file(&settings, &Layout::new(&settings.dir.value), "client");

    let Some(str_args) = args
        .iter()
        .map(|a| a.to_str().map(String::from))
        .collect::<Option<Vec<String>>>()
    else {
        return run::exec_compiler(&compiler, &args);
    };
    let (Some(cwd_str), Some(compiler_str)) = (cwd.to_str(), compiler.to_str()) else {
        return run::exec_compiler(&compiler, &args);
    };

    let layout = Layout::new(&settings.dir.value);
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("zccache"));
    let connected = if std::env::var_os(IN_BAZEL_ACTION_ENV).is_some() {
        // Inside a Bazel action a daemon started here would die with the action (and the
        // sandbox usually hides the cache dir): only connect to the one the toolchain's
        // configure step started, and say why nothing is cached.
        connect::connect_existing(&layout).inspect_err(|_| {
            eprintln!(
                "zccache: no daemon is running for {} (this compile runs uncached; one started \
                 inside a Bazel action would end with it). The zccache toolchain starts it when \
                 Bazel configures the toolchain (a new Bazel server, `bazel clean`, `bazel sync \
                 --configure`); to start it now, run `zccache start` outside Bazel",
                layout.root.display()
            );
        })
    } else {
        connect::connect_or_start(&layout, &exe)
    };
    let mut conn = match connected {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("daemon unavailable ({e}); running the compiler uncached");
            return run::exec_compiler(&compiler, &args);
        }
    };
    let request = Request::Compile(CompileRequest {
        protocol: PROTOCOL_VERSION,
        cwd: cwd_str.to_string(),
        compiler: compiler_str.to_string(),
        args: str_args,
        env: std::env::vars().collect(),
    });
    match converse(&mut conn, &request, &compiler, &layout.root) {
        Ok(Outcome::Done(code)) => code,
        Ok(Outcome::Split(commands)) => {
            drop(conn);
            run_split(&layout, &exe, &compiler, request, commands)
        }
        Ok(Outcome::RunUncached) => run::exec_compiler(&compiler, &args),
        Err(e) => {
            tracing::warn!("daemon conversation failed ({e}); running the compiler uncached");
            report_fallback(&layout, "conversation_failed");
            run::exec_compiler(&compiler, &args)
        }
    }
}

/// Runs a multi-source compile as one wrapped compile per source, in order, like the
/// compiler would; returns the first non-zero exit code (or 0).
fn run_split(
    layout: &Layout,
    exe: &Path,
    compiler: &Path,
    request: Request,
    commands: Vec<Vec<String>>,
) -> i32 {
    let Request::Compile(base) = request else {
        return 2;
    };
    let mut status = 0;
    for args in commands {
        let sub = Request::Compile(CompileRequest {
            args: args.clone(),
            ..base.clone()
        });
        let outcome = connect::connect_or_start(layout, exe)
            .map_err(|e| e.to_string())
            .and_then(|mut conn| {
                converse(&mut conn, &sub, compiler, &layout.root).map_err(|e| e.to_string())
            });
        let code = match outcome {
            Ok(Outcome::Done(code)) => code,
            Ok(Outcome::RunUncached) | Ok(Outcome::Split(_)) | Err(_) => {
                match std::process::Command::new(compiler).args(&args).status() {
                    Ok(s) => run::exit_code_of(s),
                    Err(e) => {
                        eprintln!("zccache: cannot run {}: {e}", compiler.display());
                        127
                    }
                }
            }
        };
        if status == 0 {
            status = code;
        }
    }
    status
}

/// Counts a fallback the daemon could not see (best effort).
fn report_fallback(layout: &Layout, reason: &str) {
    if let Ok(mut conn) = connect::connect_existing(layout) {
        let _ = write_frame(
            &mut conn,
            &Request::ReportFallback {
                reason: reason.to_string(),
            },
        );
        let _ = read_frame::<Response>(&mut conn);
    }
}

enum Outcome {
    /// The compile is finished with this exit code.
    Done(i32),
    /// Run each of these argument lists as its own wrapped compile.
    Split(Vec<Vec<String>>),
    /// Run the real compiler with the original args.
    RunUncached,
}

/// Errors during a conversation; all lead to running the compiler uncached, except after the
/// compiler already ran (then the result is handled in place).
#[derive(Debug, thiserror::Error)]
enum ConverseError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("daemon error: {0}")]
    Daemon(String),
    #[error("unexpected answer from daemon")]
    Unexpected,
}

fn converse(
    conn: &mut Stream,
    request: &Request,
    compiler: &Path,
    cache_root: &Path,
) -> Result<Outcome, ConverseError> {
    // Diagnostics keep their colour only where the compiler would colour them here.
    let keep_color = match request {
        Request::Compile(c) => color::keep_for(&c.args),
        _ => true,
    };
    write_frame(conn, request)?;
    loop {
        let response: Response = read_frame(conn)?;
        match response {
            Response::Hit(plan) => match restore(&plan) {
                Ok(()) => {
                    if keep_color {
                        run::replay(&plan.stdout, &plan.stderr);
                    } else {
                        run::replay(&plan.stdout, &color::strip(&plan.stderr));
                    }
                    return Ok(Outcome::Done(plan.exit_code));
                }
                Err(reason) => {
                    tracing::warn!("cached result unusable: {reason}");
                    write_frame(conn, &Request::HitFailed { reason })?;
                }
            },
            Response::Uncacheable { reason } => {
                tracing::debug!("uncacheable: {reason}");
                return Ok(Outcome::RunUncached);
            }
            Response::Split { commands } => return Ok(Outcome::Split(commands)),
            Response::RunPreprocessor { args } => {
                let answer = preprocess(compiler, &args);
                write_frame(conn, &answer)?;
            }
            Response::Compile(plan) => {
                return compile_and_store(conn, compiler, &plan, keep_color, cache_root)
            }
            Response::Error { message } => return Err(ConverseError::Daemon(message)),
            _ => return Err(ConverseError::Unexpected),
        }
    }
}

/// Restores every cached file of a hit.
fn restore(plan: &HitPlan) -> Result<(), String> {
    for m in &plan.files {
        run::materialize(m)?;
    }
    for (path, bytes) in &plan.inline_files {
        run::write_file(Path::new(path), bytes, 0)?;
    }
    Ok(())
}

/// Runs `-E` and summarizes its output for the preprocessor tier.
fn preprocess(compiler: &Path, args: &[String]) -> Request {
    match run::run_captured(compiler, args, &[]) {
        Ok(c) if c.exit_code == 0 => Request::Preprocessed {
            output_hash: *blake3::hash(&c.stdout).as_bytes(),
            files: zccache_integrations::preprocessed::files_from_line_markers(&c.stdout),
        },
        _ => Request::PreprocessFailed,
    }
}

/// Unique temp file path with this extension (TMPDIR is writable even inside build
/// sandboxes).
fn temp_file(ext: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!("zccache-{}-{nanos}.{ext}", std::process::id()))
}

/// The environment that preloads the access recorder into the compile (kept after any
/// `LD_PRELOAD` the build set), or None when the recorder is not reachable from here (a
/// sandbox that hides the cache dir): the miss then runs without it and is not cached.
fn recorder_env(recorder: &str, log: &Path, cwd: &Path) -> Option<Vec<(String, String)>> {
    if !Path::new(recorder).is_file() || recorder.contains([' ', ':']) {
        return None;
    }
    let preload = match std::env::var("LD_PRELOAD") {
        Ok(existing) if !existing.trim().is_empty() => format!("{existing}:{recorder}"),
        _ => recorder.to_string(),
    };
    Some(vec![
        ("LD_PRELOAD".to_string(), preload),
        (
            crate::daemon::recorder::LOG_ENV.to_string(),
            log.to_str()?.to_string(),
        ),
        (
            crate::daemon::recorder::CWD_ENV.to_string(),
            cwd.to_str()?.to_string(),
        ),
    ])
}

/// Miss: remove stale outputs, compile, send the outputs to the daemon, write what it says.
fn compile_and_store(
    conn: &mut Stream,
    compiler: &Path,
    plan: &CompilePlan,
    keep_color: bool,
    cache_root: &Path,
) -> Result<Outcome, ConverseError> {
    // Never let the compiler write through a previous output (a user's hard link).
    let discard = if plan.keep_prior_outputs {
        discard::Discard::start(&[])
    } else {
        discard::Discard::start(&plan.outputs)
    };
    let depfile = temp_file("d");
    let depfile_str = depfile.to_string_lossy().into_owned();
    let args: Vec<String> = match &plan.depfile_placeholder {
        Some(ph) => plan
            .args
            .iter()
            .map(|a| {
                if a == ph {
                    depfile_str.clone()
                } else {
                    a.clone()
                }
            })
            .collect(),
        None => plan.args.clone(),
    };
    let access_log = temp_file("access");
    let mut env = plan.extra_env.clone();
    let recording = match plan.recorder.as_deref().and_then(|r| {
        let cwd = std::env::current_dir().ok()?;
        recorder_env(r, &access_log, &cwd)
    }) {
        Some(recorder_env) => {
            env.extend(recorder_env);
            true
        }
        None => false,
    };
    // Output is streamed to the build as it comes (cargo reads rustc's artifact
    // notifications while it runs) and captured for the cache.
    let captured = run::run_streamed(compiler, &args, &env, !keep_color, || discard.finish());
    let accesses = if recording {
        let log = std::fs::read(&access_log).ok();
        let _ = std::fs::remove_file(&access_log);
        log
    } else {
        None
    };
    let captured = match captured {
        Ok(c) => c,
        Err(e) => {
            eprintln!("zccache: cannot run {}: {e}", compiler.display());
            return Ok(Outcome::Done(127));
        }
    };
    let depfile_bytes = match &plan.depfile_path {
        Some(path) => std::fs::read(path).ok(),
        None => {
            let bytes = std::fs::read(&depfile).ok();
            let _ = std::fs::remove_file(&depfile);
            bytes
        }
    };
    // Large outputs go by path (an output of any size is cached; the daemon copies it in
    // the kernel), the rest through the socket.
    let mut output_files = vec![None; plan.outputs.len()];
    let outputs = if captured.exit_code == 0 {
        plan.outputs
            .iter()
            .zip(output_files.iter_mut())
            .map(|(p, by_path)| {
                let len = std::fs::metadata(p).ok()?.len();
                if len >= crate::ipc::PATH_HANDOVER_BYTES {
                    let abs = std::env::current_dir().ok()?.join(p);
                    *by_path = Some((abs.to_str()?.to_string(), output_mode(Path::new(p))));
                    return None;
                }
                let bytes = std::fs::read(p).ok()?;
                Some((serde_bytes::ByteBuf::from(bytes), output_mode(Path::new(p))))
            })
            .collect()
    } else {
        Vec::new()
    };
    let handover = match std::env::current_dir() {
        Ok(cwd) if captured.exit_code == 0 => {
            leave_early::prepare(plan, &output_files, accesses.as_deref(), &cwd, cache_root)
        }
        _ => None,
    };
    let store = Request::Store(StoreRequest {
        exit_code: captured.exit_code,
        stdout: captured.stdout.clone(),
        stderr: captured.stderr.clone(),
        outputs,
        depfile: depfile_bytes,
        compile_ms: captured.millis,
        accesses,
        output_files,
        unanswered: handover.is_some(),
    });
    if let Some(handover) = handover {
        // Nothing comes back for the build: leave once the daemon has it all. Should the send
        // fail, the build still has every output of a successful compile.
        use std::os::fd::AsFd;
        let fds: Vec<_> = handover.files.iter().map(|f| f.as_fd()).collect();
        let sock = crate::ipc::fds::socket_of(conn);
        if let Err(e) = crate::ipc::write_frame_with_fds(sock, &store, &fds) {
            tracing::warn!("could not hand the compile's result to the daemon: {e}");
        }
        return Ok(Outcome::Done(captured.exit_code));
    }
    let t_store = std::time::Instant::now();
    let stored = write_frame(conn, &store).and_then(|_| read_frame::<Response>(conn));
    tracing::debug!(
        "miss: compiler ran {} ms; store answered in {:?}",
        captured.millis,
        t_store.elapsed()
    );
    match stored {
        Ok(Response::Stored { inline_files }) => {
            for (path, bytes) in &inline_files {
                if let Err(e) = run::write_file(Path::new(path), bytes, 0) {
                    eprintln!("zccache: cannot write {path}: {e}");
                    return Ok(Outcome::RunUncached);
                }
            }
            Ok(Outcome::Done(captured.exit_code))
        }
        Ok(_) | Err(_) => {
            // The daemon went away after the compile: the build's own depfile was not
            // produced, so run the compiler as the build asked.
            tracing::warn!("daemon lost after compiling; re-running uncached");
            Ok(Outcome::RunUncached)
        }
    }
}

/// Mode bits worth restoring (only when executable; otherwise the umask default applies).
fn output_mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(path) {
        Ok(m) if m.permissions().mode() & 0o111 != 0 => m.permissions().mode() & 0o7777,
        _ => 0,
    }
}
