//! rustc inputs that dep-info does not name: a proc-macro that opens a file while expanding
//! and one that reads an environment variable (`std::env::var` at expansion: sccache #972).
//! After `cargo clean`, a bare build sees the new file content / variable value; a build
//! through zccache must too, and an unchanged rebuild must still hit (and verify clean under
//! `ZCCACHE_VERIFY=1`).

mod common;

use common::{assert_ok, copy_tree, scrub, TestCache};
use std::path::{Path, PathBuf};
use std::process::Command;

fn cargo_bin() -> PathBuf {
    PathBuf::from(option_env!("CARGO").unwrap_or("cargo"))
}

struct Probe<'a> {
    cache: &'a TestCache,
    dir: PathBuf,
    target: PathBuf,
}

impl Probe<'_> {
    /// `cargo build` through `RUSTC_WRAPPER=zccache` with `PROBE_VALUE=value`, then the
    /// program's output.
    fn build_and_run(&self, value: &str) -> String {
        self.build_and_run_with(value, &[])
    }

    fn build_and_run_with(&self, value: &str, extra_env: &[(&str, &str)]) -> String {
        let mut cmd = Command::new(cargo_bin());
        scrub(&mut cmd);
        self.cache.apply_env(&mut cmd);
        cmd.env("CARGO_TARGET_DIR", &self.target)
            .env("CARGO_INCREMENTAL", "0")
            .env("RUSTC_WRAPPER", common::zccache_bin())
            .env("PROBE_VALUE", value)
            .envs(extra_env.iter().copied())
            .current_dir(&self.dir)
            .args(["build", "-q"]);
        assert_ok(&cmd.output().expect("spawn cargo"), "cargo build");
        let out = Command::new(self.target.join("debug/probe-app"))
            .output()
            .expect("run probe-app");
        assert_ok(&out, "probe-app");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn clean(&self) {
        let mut cmd = Command::new(cargo_bin());
        scrub(&mut cmd);
        cmd.env("CARGO_TARGET_DIR", &self.target)
            .current_dir(&self.dir)
            .args(["clean", "-q"]);
        assert_ok(&cmd.output().expect("spawn cargo clean"), "cargo clean");
    }

    fn write_schema(&self, text: &str) {
        std::fs::write(self.dir.join("probe-app/schema.txt"), text).expect("write schema");
    }
}

fn rustc_counts(cache: &TestCache) -> (u64, u64) {
    let stats = cache.stats();
    let family = &stats["families"]["rustc"];
    (
        family["hits"].as_u64().unwrap_or(0),
        family["misses"].as_u64().unwrap_or(0),
    )
}

#[test]
fn proc_macro_file_and_env_reads_are_keyed() {
    let cache = TestCache::new();
    let dir = cache.work.join("probe");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cargo-probe"),
        &dir,
    );
    let probe = Probe {
        cache: &cache,
        target: cache.work.join("probe-target"),
        dir,
    };

    assert_eq!(probe.build_and_run("one"), "schema=v1 env=one");
    let (hits0, misses0) = rustc_counts(&cache);
    assert_eq!(hits0, 0, "a cold build hits nothing");
    assert!(misses0 >= 2, "macro crate and app compiled: {misses0}");

    // Unchanged after `cargo clean`: every rustc call hits.
    probe.clean();
    assert_eq!(probe.build_and_run("one"), "schema=v1 env=one");
    let (hits1, misses1) = rustc_counts(&cache);
    assert_eq!(misses1, misses0, "an unchanged rebuild must not miss");
    assert!(hits1 >= 2, "an unchanged rebuild hits: {hits1}");

    // Verify mode re-compiles every hit (rustc too) and finds them all right.
    probe.clean();
    assert_eq!(
        probe.build_and_run_with("one", &[("ZCCACHE_VERIFY", "1")]),
        "schema=v1 env=one"
    );
    let stats = cache.stats();
    let verified = |k: &str| stats[k].as_u64().unwrap_or(0);
    assert_eq!(verified("verify_mismatch"), 0, "{stats}");
    assert_eq!(verified("verify_skipped"), 0, "{stats}");
    assert!(
        verified("verify_ok") >= 2,
        "every rustc hit verified: {stats}"
    );
    let (_, misses_v) = rustc_counts(&cache);
    assert_eq!(misses_v, misses1);

    // The file the macro reads changes: the app must see it (the macro crate itself hits).
    probe.clean();
    probe.write_schema("v2\n");
    assert_eq!(probe.build_and_run("one"), "schema=v2 env=one");
    let (_, misses2) = rustc_counts(&cache);
    assert_eq!(misses2, misses1 + 1, "exactly the app recompiles");

    // The variable the macro reads changes.
    probe.clean();
    assert_eq!(probe.build_and_run("two"), "schema=v2 env=two");
    let (_, misses3) = rustc_counts(&cache);
    assert_eq!(misses3, misses2 + 1, "exactly the app recompiles");

    // Back to the first state: hits again, with the first output.
    probe.clean();
    probe.write_schema("v1\n");
    let (hits_before, _) = rustc_counts(&cache);
    assert_eq!(probe.build_and_run("one"), "schema=v1 env=one");
    let (hits4, misses4) = rustc_counts(&cache);
    assert_eq!(misses4, misses3, "the first state is still cached");
    assert!(hits4 >= hits_before + 2);
}
