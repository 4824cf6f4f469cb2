//! Running one cargo command with zccache wired in: locate zccache, make sure its daemon is
//! up, snapshot its stats, run cargo with the routing environment, snapshot again, summarize.

use crate::cc_env::{self, CcInputs};
use crate::cli::Cli;
use crate::{locate, project, summary};
use serde_json::Value;
use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// `zccache stats --json`, or why it could not be had.
fn stats(zccache: &Path) -> Result<Value, String> {
    let out = Command::new(zccache)
        .args(["stats", "--json"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running {} stats --json: {e}", zccache.display()))?;
    if !out.status.success() {
        return Err(format!(
            "zccache stats --json failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("zccache stats --json: {e}"))
}

/// The groups of `zccache misses --json` since `since_ms` (unix ms: the build's misses by
/// cause, most frequent first); empty when zccache cannot say (an older zccache).
fn miss_causes(zccache: &Path, since_ms: u64) -> Vec<summary::MissCause> {
    let out = Command::new(zccache)
        .args(["misses", "--json", "--since-ms", &since_ms.to_string()])
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(out) if out.status.success() => serde_json::from_slice::<Value>(&out.stdout)
            .map(|v| summary::miss_causes(&v))
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// Starts the daemon (`zccache start`); a failure is only a warning: the wrapper then runs
/// the compilers directly and the build still works.
fn start_daemon(zccache: &Path) -> Option<String> {
    match Command::new(zccache)
        .arg("start")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .output()
    {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(format!(
            "`zccache start` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Some(format!("`zccache start` could not run: {e}")),
    }
}

fn env_str(key: &str) -> Option<String> {
    std::env::var_os(key).map(|v| v.to_string_lossy().into_owned())
}

/// Runs `cargo <args…>` with zccache; returns cargo's exit code.
pub fn cargo_with_zccache(cli: &Cli, args: &[OsString]) -> anyhow::Result<i32> {
    let zccache = locate::zccache()?;
    let zccache_str = zccache.to_string_lossy().into_owned();
    let cargo = locate::cargo();
    let mut notes = Vec::new();

    // Daemon start, `cargo metadata` and `rustc -vV` are independent: run them side by side
    // (they are this command's fixed cost on top of cargo's).
    let manifest = project::manifest_path_arg(args);
    let (daemon_warning, before, proj, host) = std::thread::scope(|s| {
        let daemon = s.spawn(|| (start_daemon(&zccache), stats(&zccache)));
        let metadata = s.spawn(|| project::load(&cargo, manifest.as_deref()));
        let host = (!cli.no_cc).then(|| s.spawn(locate::host_triple));
        let (warning, before) = daemon.join().unwrap_or_else(|_| {
            (
                Some("starting the daemon panicked".to_string()),
                Err("no stats".to_string()),
            )
        });
        let proj = metadata
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("cargo metadata panicked")));
        let host = host.map(|h| {
            h.join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("rustc -vV panicked")))
        });
        (warning, before, proj, host)
    });
    if let Some(warning) = daemon_warning {
        eprintln!("warning: {warning}; compiles run uncached");
        notes.push(warning);
    }
    let cache_dir = before
        .as_ref()
        .ok()
        .and_then(|v| v.get("cache_dir"))
        .and_then(Value::as_str)
        .map(String::from);
    let proj = match proj {
        Ok(p) => Some(p),
        Err(e) => {
            notes.push(format!(
                "cargo metadata failed: {}",
                first_line(&format!("{e:#}"))
            ));
            None
        }
    };

    let mut cmd = Command::new(&cargo);
    cmd.args(args);

    // rustc through zccache.
    if let Some(old) = env_str("RUSTC_WRAPPER").filter(|v| !v.is_empty()) {
        let stem = Path::new(&old)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned());
        if stem.as_deref() != Some("zccache") {
            notes.push(format!("your RUSTC_WRAPPER={old} was replaced by zccache"));
        }
    }
    cmd.env("RUSTC_WRAPPER", &zccache);

    // Incremental: workspace members compiled with -C incremental are not cacheable.
    let incremental = match env_str("CARGO_INCREMENTAL") {
        Some(v) => (Some(v), "user"),
        None if cli.incremental => (None, "cargo"),
        None => {
            cmd.env("CARGO_INCREMENTAL", "0");
            (Some("0".to_string()), "cargo-zccache")
        }
    };

    // C/C++ of build scripts.
    let mut c_routed = false;
    if cli.no_cc {
        notes.push("--no-cc: C/C++ compiles not routed".into());
    } else {
        let host = match host {
            Some(Ok(h)) => Some(h),
            None => None,
            Some(Err(e)) => {
                notes.push(format!("host triple unknown ({e:#}): only CC/CXX set"));
                None
            }
        };
        let cross = project::cross_compiling(args, host.as_deref());
        let getenv = |k: &str| env_str(k);
        let plan = cc_env::plan(&CcInputs {
            zccache: &zccache_str,
            host: host.as_deref(),
            cross,
            getenv: &getenv,
        });
        for (k, v) in &plan.set {
            cmd.env(k, v);
        }
        c_routed = plan.routed;
        notes.extend(plan.notes);
    }

    let started = Instant::now();
    let started_unix_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let status = cmd
        .status()
        .map_err(|e| anyhow::anyhow!("running {}: {e}", cargo.display()))?;
    let duration_ms = started.elapsed().as_millis() as u64;
    let exit_code = exit_code(&status);

    if cli.quiet {
        return Ok(exit_code);
    }
    // The daemon answers stats only once every answered compile is stored.
    let after = stats(&zccache);
    let (delta, stats_error) = match (&before, &after) {
        (Ok(b), Ok(a)) => (summary::delta(b, a), None),
        (Err(e), _) | (_, Err(e)) => (summary::Delta::default(), Some(e.clone())),
    };
    let miss_causes = if delta.total.misses + delta.total.uncacheable > 0 {
        miss_causes(&zccache, started_unix_ms)
    } else {
        Vec::new()
    };
    let cx = summary::Context {
        command: args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        exit_code,
        duration_ms,
        cache_dir,
        workspace_root: proj
            .as_ref()
            .map(|p| p.workspace_root.display().to_string()),
        target_dir: proj.as_ref().map(|p| p.target_dir.display().to_string()),
        incremental,
        c_routed,
        notes,
        stats_error,
        miss_causes,
    };
    if cli.json {
        println!("{}", summary::to_json(&delta, &cx));
    } else {
        eprintln!("{}", summary::to_text(&delta, &cx));
    }
    Ok(exit_code)
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

#[cfg(unix)]
fn exit_code(status: &std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1)
}

#[cfg(not(unix))]
fn exit_code(status: &std::process::ExitStatus) -> i32 {
    status.code().unwrap_or(1)
}
