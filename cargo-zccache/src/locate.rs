//! Finding the programs `cargo zccache` drives: zccache itself (next to this binary, else on
//! PATH), the cargo that ran us (`CARGO`), and the host target triple (`rustc -vV`).

use anyhow::{anyhow, Context};
use std::path::{Path, PathBuf};
use std::process::Command;

const ZCCACHE_EXE: &str = if cfg!(windows) {
    "zccache.exe"
} else {
    "zccache"
};

/// Absolute path of the zccache binary: the one installed next to `cargo-zccache` (also
/// through a symlink to it), else the first `zccache` on PATH.
pub fn zccache() -> anyhow::Result<PathBuf> {
    if let Ok(exe) = std::env::current_exe() {
        let mut dirs = Vec::new();
        if let Some(dir) = exe.parent() {
            dirs.push(dir.to_path_buf());
        }
        if let Ok(real) = std::fs::canonicalize(&exe) {
            if let Some(dir) = real.parent() {
                dirs.push(dir.to_path_buf());
            }
        }
        for dir in dirs {
            let candidate = dir.join(ZCCACHE_EXE);
            if candidate.is_file() {
                return Ok(absolute(&candidate));
            }
        }
    }
    which::which("zccache").map(|p| absolute(&p)).map_err(|_| {
        anyhow!(
            "cannot find the zccache binary next to cargo-zccache or on PATH \
             (install it with `cargo install --path .` in the zccache repository)"
        )
    })
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The cargo to call back: `CARGO` (set by cargo for subcommands), else `cargo` on PATH.
pub fn cargo() -> PathBuf {
    std::env::var_os("CARGO")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("cargo"))
}

/// The host triple, from `$RUSTC -vV` (or `rustc -vV`).
pub fn host_triple() -> anyhow::Result<String> {
    let rustc = std::env::var_os("RUSTC")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "rustc".into());
    let out = Command::new(&rustc)
        .arg("-vV")
        .output()
        .with_context(|| format!("running {} -vV", rustc.to_string_lossy()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(|h| h.trim().to_string())
        .ok_or_else(|| anyhow!("`rustc -vV` printed no host line"))
}
