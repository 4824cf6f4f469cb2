//! Shared helpers for the end-to-end tests: an isolated cache directory with its own daemon,
//! a way to run the real `zccache` binary against it, and readers for `zccache stats --json`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Path of the `zccache` binary cargo built for this test run.
pub fn zccache_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_zccache"))
}

/// Fails loudly when a tool the suite needs is missing: tests never skip silently.
pub fn require_tool(name: &str) -> PathBuf {
    which(name).unwrap_or_else(|| {
        panic!("required tool `{name}` is not on PATH; run .ci/run (it installs it) or install it")
    })
}

/// Looks a program up on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// One isolated zccache world: a private cache dir (and daemon) plus a scratch work dir.
/// Dropping it stops the daemon.
pub struct TestCache {
    pub root: tempfile::TempDir,
    pub cache_dir: PathBuf,
    pub work: PathBuf,
}

impl TestCache {
    pub fn new() -> Self {
        let root = tempfile::Builder::new()
            .prefix("zcc-")
            .tempdir_in(test_tmp_root())
            .expect("create test root");
        let cache_dir = root.path().join("c");
        let work = root.path().join("w");
        std::fs::create_dir_all(&work).expect("create work dir");
        TestCache {
            root,
            cache_dir,
            work,
        }
    }

    /// A `Command` for `zccache <args…>` bound to this cache, run in the work dir.
    pub fn zccache(&self) -> Command {
        let mut cmd = Command::new(zccache_bin());
        self.apply_env(&mut cmd);
        cmd.current_dir(&self.work);
        cmd
    }

    /// Sets the environment that binds any command (make, cmake, cargo…) to this cache.
    pub fn apply_env(&self, cmd: &mut Command) {
        cmd.env("ZCCACHE_DIR", &self.cache_dir);
        cmd.env_remove("ZCCACHE_DISABLE");
        cmd.env_remove("ZCCACHE_LOG");
        cmd.env_remove("ZCCACHE_MAXSIZE");
        cmd.env_remove("ZCCACHE_BASE_DIR");
        cmd.env_remove("ZCCACHE_PATH_REMAP");
        for var in [
            "ZCCACHE_REMOTE",
            "ZCCACHE_REMOTE_READ_ONLY",
            "ZCCACHE_REMOTE_KEY",
            "ZCCACHE_REMOTE_HEADER",
            "ZCCACHE_REMOTE_TIMEOUT",
        ] {
            cmd.env_remove(var);
        }
    }

    /// Runs `zccache <args…>` in `cwd` (the work dir when None) and returns its output.
    pub fn run(&self, args: &[&str], cwd: Option<&Path>) -> Output {
        let mut cmd = self.zccache();
        cmd.args(args);
        if let Some(dir) = cwd {
            cmd.current_dir(dir);
        }
        cmd.output().expect("spawn zccache")
    }

    /// This build's daemon and store directory (`<cache>/v/<build>/`): the only one in a
    /// test's cache dir once a daemon has run.
    pub fn store(&self) -> PathBuf {
        let stores: Vec<PathBuf> = std::fs::read_dir(self.cache_dir.join("v"))
            .expect("the cache dir has stores (a daemon ran)")
            .map(|e| e.expect("store entry").path())
            .collect();
        assert_eq!(stores.len(), 1, "exactly one store: {stores:?}");
        stores.into_iter().next().expect("one store")
    }

    /// `zccache stats --json` as a JSON value.
    pub fn stats(&self) -> serde_json::Value {
        let out = self.run(&["stats", "--json"], None);
        assert!(
            out.status.success(),
            "zccache stats --json failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("stats --json is JSON")
    }

    /// One counter from `stats --json` (`hits`, `misses`, `uncacheable`, `errors`, …).
    pub fn stat(&self, name: &str) -> u64 {
        self.stats()[name].as_u64().unwrap_or(0)
    }

    /// Count of one uncacheable reason.
    pub fn reason(&self, reason: &str) -> u64 {
        self.stats()["reasons"][reason].as_u64().unwrap_or(0)
    }

    /// Resets the counters (`zccache stats --zero`).
    pub fn zero(&self) {
        let out = self.run(&["stats", "--zero"], None);
        assert!(out.status.success(), "stats --zero failed");
    }

    /// Runs a tool without zccache (`args[0]` on PATH) in the work dir; asserts success.
    pub fn bare_tool(&self, args: &[&str]) -> Output {
        let out = Command::new(args[0])
            .args(&args[1..])
            .current_dir(&self.work)
            .output()
            .expect("spawn tool");
        assert_ok(&out, &format!("{args:?}"));
        out
    }

    /// Runs `zccache <args…>` in the work dir and asserts success.
    pub fn zccache_ok(&self, args: &[&str]) -> Output {
        let out = self.run(args, None);
        assert_ok(&out, &format!("zccache {args:?}"));
        out
    }

    /// Runs a shell script in the work dir with this cache's environment and `$ZCC` naming
    /// the zccache binary; asserts success.
    pub fn script_ok(&self, script: &str, what: &str) -> Output {
        let mut sh = Command::new("sh");
        self.apply_env(&mut sh);
        let out = sh
            .args(["-c", script])
            .env("ZCC", zccache_bin())
            .current_dir(&self.work)
            .output()
            .expect("spawn sh");
        assert_ok(&out, what);
        out
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.work.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, text).expect("write fixture");
        path
    }
}

impl Drop for TestCache {
    fn drop(&mut self) {
        let _ = self.run(&["stop"], None);
    }
}

/// Where test scratch dirs live: under target/ (short paths keep the socket path well under
/// the 108-byte limit; avoids /tmp so tests also cover the non-/tmp layout).
pub fn test_tmp_root() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&dir).expect("create CARGO_TARGET_TMPDIR");
    dir
}

/// Asserts a command succeeded, printing its stderr otherwise.
pub fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Copies a fixture tree: regular files and directories only (no symlinks such as Bazel's
/// `bazel-*` convenience links), skipping any `target` directory a local build left behind.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read fixture dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        let kind = entry.file_type().expect("file type");
        if kind.is_dir() {
            if entry.file_name() != "target" {
                copy_tree(&entry.path(), &target);
            }
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target).expect("copy fixture file");
        }
    }
}

/// Removes what the outer `cargo test` put into our environment that would leak into the
/// nested cargo (jobserver, wrappers, flags, target dirs), keeping CARGO_HOME and network
/// settings so the machine's registry cache is shared.
pub fn scrub(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        let keep = key == "CARGO_HOME"
            || key.starts_with("CARGO_NET_")
            || key.starts_with("CARGO_HTTP_")
            || key.starts_with("CARGO_REGISTRIES_");
        let drop = (key.starts_with("CARGO_") && !keep)
            || key.starts_with("RUSTC")
            || key.starts_with("RUSTDOC")
            || key.starts_with("CMAKE_")
            || key.starts_with("CC_")
            || key.starts_with("CXX_")
            || key.starts_with("HOST_")
            || key.starts_with("TARGET_")
            || matches!(
                key.as_str(),
                "RUSTFLAGS"
                    | "CC"
                    | "CXX"
                    | "CFLAGS"
                    | "CXXFLAGS"
                    | "MAKEFLAGS"
                    | "MFLAGS"
                    | "OUT_DIR"
                    | "TARGET"
                    | "HOST"
                    | "OPT_LEVEL"
                    | "PROFILE"
                    | "DEBUG"
                    | "NUM_JOBS"
            );
        if drop {
            cmd.env_remove(&key);
        }
    }
    cmd.env("CARGO_TERM_COLOR", "never");
}

/// A CMake generator the tests drive, and the build tool it writes for.
#[derive(Clone, Copy, Debug)]
pub enum Generator {
    Ninja,
    Make,
}

impl Generator {
    pub fn cmake_name(self) -> &'static str {
        match self {
            Generator::Ninja => "Ninja",
            Generator::Make => "Unix Makefiles",
        }
    }

    pub fn tool(self) -> &'static str {
        match self {
            Generator::Ninja => "ninja",
            Generator::Make => "make",
        }
    }
}
