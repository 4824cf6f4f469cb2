//! End-to-end test of `cargo zccache` (crate `cargo-zccache/`): real cargo builds a fixture
//! workspace (`tests/fixtures/cargo`: a leaf library, a build script compiling C with the `cc`
//! crate, a serde-derive user, a binary using regex; real crates from crates.io) through
//! zccache, and the per-build summary (`cargo zccache --json …`, a diff of `zccache stats
//! --json`) must show the expected hits and misses.
//!
//! The registry cache is the machine's default CARGO_HOME (shared, so crates download once);
//! every cargo run gets a target dir under the test's own temp dir and a private ZCCACHE_DIR.
//! One test function does the build scenarios on purpose: they reuse one cold build.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

use common::{assert_ok, copy_tree, scrub, TestCache};

/// What the fixture's binary prints.
const APP_OUTPUT: &str = "hello, point at (3, 4)\nmix(3, 4) = 97\nrange 10..20\n";
/// rustc compiles that depend on fx-core: fx-core, fx-model (lib) and fx-app (bin).
const FX_CORE_DEPENDENTS: u64 = 3;

fn checkout() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cargo_bin() -> PathBuf {
    PathBuf::from(option_env!("CARGO").unwrap_or("cargo"))
}

fn newest_mtime(dir: &Path) -> SystemTime {
    let mut newest = SystemTime::UNIX_EPOCH;
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        let t = if path.is_dir() {
            newest_mtime(&path)
        } else {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH)
        };
        newest = newest.max(t);
    }
    newest
}

/// The cargo-zccache binary next to the zccache under test, built (`cargo build -p
/// cargo-zccache`) when missing or older than its sources. Integration tests of the root
/// package cannot name other packages' binaries with `CARGO_BIN_EXE_…`.
fn cargo_zccache_bin() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let bin = common::zccache_bin()
                .parent()
                .expect("zccache has a parent dir")
                .join("cargo-zccache");
            let sources = newest_mtime(&checkout().join("cargo-zccache"));
            let fresh = std::fs::metadata(&bin)
                .and_then(|m| m.modified())
                .map(|t| t >= sources)
                .unwrap_or(false);
            if !fresh {
                let profile_release = bin.to_string_lossy().contains("/release/");
                let mut cmd = Command::new(cargo_bin());
                cmd.args(["build", "-p", "cargo-zccache"])
                    .current_dir(checkout());
                if profile_release {
                    cmd.arg("--release");
                }
                let out = cmd.output().expect("spawn cargo build -p cargo-zccache");
                assert_ok(&out, "cargo build -p cargo-zccache");
            }
            assert!(bin.is_file(), "missing {}", bin.display());
            bin
        })
        .clone()
}

/// The parts of a `cargo zccache --json` summary the assertions use.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    invocations: u64,
    hits: u64,
    misses: u64,
    uncacheable: u64,
    errors: u64,
}

impl Counts {
    fn from(v: &serde_json::Value) -> Option<Self> {
        let n = |k: &str| v.get(k).and_then(serde_json::Value::as_u64);
        Some(Counts {
            invocations: n("invocations")?,
            hits: n("hits")?,
            misses: n("misses")?,
            uncacheable: n("uncacheable")?,
            errors: n("errors")?,
        })
    }
}

#[derive(Debug)]
struct Summary {
    total: Counts,
    /// rustc / C-C++ split, when the daemon reports per-family counters.
    rustc: Option<Counts>,
    c_cpp: Option<Counts>,
    json: serde_json::Value,
    /// What cargo printed (its progress and rustc's diagnostics).
    stderr: String,
}

/// One checkout of the fixture workspace with its own target dir.
struct Checkout<'a> {
    cache: &'a TestCache,
    dir: PathBuf,
    target: PathBuf,
}

impl<'a> Checkout<'a> {
    fn new(cache: &'a TestCache, name: &str) -> Self {
        let dir = cache.work.join(name);
        copy_tree(&checkout().join("tests/fixtures/cargo"), &dir);
        let target = cache.work.join(format!("{name}-target"));
        Checkout { cache, dir, target }
    }

    fn cargo(&self) -> Command {
        let mut cmd = Command::new(cargo_bin());
        scrub(&mut cmd);
        self.cache.apply_env(&mut cmd);
        cmd.env("CARGO_TARGET_DIR", &self.target)
            .current_dir(&self.dir);
        cmd
    }

    /// `cargo <args>` without zccache (CARGO_INCREMENTAL=0 like cargo zccache).
    fn plain(&self, args: &[&str]) -> Output {
        let mut cmd = self.cargo();
        cmd.env("CARGO_INCREMENTAL", "0").args(args);
        cmd.output().expect("spawn cargo")
    }

    /// `cargo zccache --json <args>` (as cargo runs it: argv[1] is `zccache`), with `envs`.
    fn zccache(&self, args: &[&str], envs: &[(&str, &str)]) -> Summary {
        let mut cmd = Command::new(cargo_zccache_bin());
        scrub(&mut cmd);
        self.cache.apply_env(&mut cmd);
        cmd.env("CARGO", cargo_bin())
            .env("CARGO_TARGET_DIR", &self.target)
            .current_dir(&self.dir)
            .arg("zccache")
            .arg("--json")
            .args(args);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("spawn cargo-zccache");
        assert_ok(&out, &format!("cargo zccache {}", args.join(" ")));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .unwrap_or_else(|| panic!("no JSON summary on stdout:\n{stdout}"));
        let json: serde_json::Value = serde_json::from_str(line).expect("summary is JSON");
        let summary = Summary {
            total: Counts::from(&json["total"]).expect("total counters"),
            rustc: Counts::from(&json["rustc"]),
            c_cpp: Counts::from(&json["c_cpp"]),
            json,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        eprintln!(
            "cargo zccache {} -> {:?} {:?} {:?}",
            args.join(" "),
            summary.total,
            summary.rustc,
            summary.c_cpp
        );
        assert_eq!(summary.total.errors, 0, "zccache errors: {}", summary.json);
        summary
    }

    fn clean(&self) {
        assert_ok(&self.plain(&["clean", "-q"]), "cargo clean");
    }

    fn app_output(&self) -> String {
        let out = Command::new(self.target.join("debug/fx-app"))
            .output()
            .expect("run fx-app");
        assert_ok(&out, "fx-app");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `.rlib` files of target/debug/deps by file name.
    fn rlibs(&self) -> std::collections::BTreeMap<String, Vec<u8>> {
        rlibs_in(&self.target)
    }
}

fn rlibs_in(target: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(target.join("debug/deps"))
        .expect("deps dir")
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".rlib") {
            out.insert(name, std::fs::read(entry.path()).expect("read rlib"));
        }
    }
    out
}

fn assert_same_rlibs(
    what: &str,
    got: &std::collections::BTreeMap<String, Vec<u8>>,
    want: &std::collections::BTreeMap<String, Vec<u8>>,
) {
    let names =
        |m: &std::collections::BTreeMap<String, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(got), names(want), "{what}: rlib file names differ");
    let differing: Vec<&String> = got
        .iter()
        .filter(|(name, bytes)| want.get(*name) != Some(bytes))
        .map(|(name, _)| name)
        .collect();
    assert!(
        differing.is_empty(),
        "{what}: rlibs differ from the uncached build: {differing:?}"
    );
}

#[test]
fn cargo_zccache_caches_a_real_workspace() {
    let cache = TestCache::new();
    let a = Checkout::new(&cache, "a");

    // Reference: a plain, uncached build (its rlibs are what every cached build must produce).
    let out = a.plain(&["build", "--locked"]);
    assert_ok(&out, "plain cargo build");
    assert_eq!(a.app_output(), APP_OUTPUT);
    let reference = a.rlibs();
    assert!(
        reference.len() >= 15,
        "expected the fixture's rlibs, got {:?}",
        reference.keys()
    );
    a.clean();

    // Cold: everything cacheable misses, the C file too.
    let cold = a.zccache(&["build", "--locked"], &[]);
    assert_eq!(a.app_output(), APP_OUTPUT);
    assert_eq!(cold.total.hits, 0, "cold build hit an empty cache");
    assert!(
        cold.total.misses >= 20,
        "cold build: rustc and cc compiles must be cacheable"
    );
    assert_eq!(cold.json["cargo_incremental"], "0");
    assert_eq!(cold.json["cargo_incremental_set_by"], "cargo-zccache");
    assert_eq!(cold.json["c_cpp_routed"], true);
    if let (Some(rustc), Some(c)) = (cold.rustc, cold.c_cpp) {
        assert!(rustc.misses >= 19, "cold rustc misses: {rustc:?}");
        assert!(
            c.misses >= 1,
            "cold build: fx-native's mix.c must reach zccache: {c:?}"
        );
    }
    assert_same_rlibs("cold cached build", &a.rlibs(), &reference);
    let cacheable = cold.total.misses;

    // Warm after `cargo clean`: every cacheable compile hits, outputs byte-identical.
    a.clean();
    let warm = a.zccache(&["build", "--locked"], &[]);
    assert_eq!(a.app_output(), APP_OUTPUT);
    assert_eq!(warm.total.misses, 0, "warm build missed: {}", warm.json);
    assert_eq!(
        warm.total.hits, cacheable,
        "warm build: every cacheable compile hits"
    );
    assert_eq!(warm.total.invocations, cold.total.invocations);
    assert_eq!(warm.total.uncacheable, cold.total.uncacheable);
    if let (Some(rustc), Some(c)) = (warm.rustc, warm.c_cpp) {
        assert_eq!(rustc.misses, 0);
        assert!(c.hits >= 1, "mix.c must hit: {c:?}");
    }
    assert_same_rlibs("warm cached build", &a.rlibs(), &reference);

    // Editing fx-core misses exactly the crates that depend on it (after a clean, so cargo
    // itself recompiles everything and only zccache decides).
    let lib = a.dir.join("fx-core/src/lib.rs");
    let original = std::fs::read_to_string(&lib).expect("read fx-core");
    std::fs::write(&lib, original.replace("hello, {name}", "hi, {name}")).expect("edit");
    a.clean();
    let edited = a.zccache(&["build", "--locked"], &[]);
    assert_eq!(a.app_output(), APP_OUTPUT.replace("hello,", "hi,"));
    assert_eq!(
        edited.total.misses, FX_CORE_DEPENDENTS,
        "edit: {}",
        edited.json
    );
    assert_eq!(edited.total.hits, cacheable - FX_CORE_DEPENDENTS);
    std::fs::write(&lib, &original).expect("revert");
    a.clean();
    let reverted = a.zccache(&["build", "--locked"], &[]);
    assert_eq!(
        reverted.total.misses, 0,
        "reverted source must hit the first entries"
    );
    assert_eq!(a.app_output(), APP_OUTPUT);

    // `cargo check` after `cargo build` caches separately (metadata-only compiles never hit
    // build entries), then hits itself; the build entries survive.
    let check = a.zccache(&["check", "--locked"], &[]);
    assert!(
        check.total.misses >= 10,
        "first check must miss: {}",
        check.json
    );
    assert_eq!(
        check.total.hits, 0,
        "check hit a build entry: {}",
        check.json
    );
    a.clean();
    let check2 = a.zccache(&["check", "--locked"], &[]);
    assert_eq!(check2.total.misses, 0, "second check: {}", check2.json);
    assert!(check2.total.hits >= check.total.misses);
    let build_again = a.zccache(&["build", "--locked"], &[]);
    assert_eq!(
        build_again.total.misses, 0,
        "build after check: {}",
        build_again.json
    );
    assert_eq!(a.app_output(), APP_OUTPUT);

    // RUSTFLAGS and features are part of the key.
    let flags = a.zccache(
        &["build", "--locked", "-p", "fx-core"],
        &[("RUSTFLAGS", "--cfg zcc_flag")],
    );
    assert_eq!(
        (flags.total.hits, flags.total.misses),
        (0, 1),
        "RUSTFLAGS: {}",
        flags.json
    );
    let feature = a.zccache(
        &["build", "--locked", "-p", "fx-core", "--features", "extra"],
        &[],
    );
    assert_eq!(
        (feature.total.hits, feature.total.misses),
        (0, 1),
        "feature: {}",
        feature.json
    );
    assert_ok(
        &a.plain(&["clean", "-q", "-p", "fx-core"]),
        "cargo clean -p fx-core",
    );
    let flags2 = a.zccache(
        &["build", "--locked", "-p", "fx-core"],
        &[("RUSTFLAGS", "--cfg zcc_flag")],
    );
    assert_eq!(
        (flags2.total.hits, flags2.total.misses),
        (1, 0),
        "RUSTFLAGS again: {}",
        flags2.json
    );

    // A second checkout in another directory (own target dir) builds correctly and hits every
    // compile whose output does not depend on where the checkout is. Exactly three miss: mix.c
    // (cc-rs passes its absolute path and -g records it), fx-native (its rlib bundles that
    // object) and fx-app (links fx-native).
    let b = Checkout::new(&cache, "b");
    let other = b.zccache(&["build", "--locked"], &[]);
    assert_eq!(b.app_output(), APP_OUTPUT);
    assert_eq!(
        (other.total.hits, other.total.misses),
        (cacheable - 3, 3),
        "second checkout: {}",
        other.json
    );
    assert_eq!(
        other.c_cpp.map(|c| c.misses),
        Some(1),
        "second checkout: mix.c misses: {}",
        other.json
    );
    // And the first checkout is unaffected by the second.
    a.clean();
    let again = a.zccache(&["build", "--locked"], &[]);
    assert_eq!(again.total.misses, 0);
    assert_eq!(a.app_output(), APP_OUTPUT);
}

#[test]
fn cached_warnings_are_shown_again() {
    // rustc's JSON diagnostics are replayed on a hit: cargo prints the warning again, for
    // `cargo check` and `cargo build` alike, with this checkout's relative path.
    let cache = TestCache::new();
    let a = Checkout::new(&cache, "warn");
    let lib = a.dir.join("fx-core/src/lib.rs");
    let mut text = std::fs::read_to_string(&lib).expect("read fx-core");
    text.push_str("\n/// Warns.\npub fn warns() -> u32 {\n    let zcc_unused = 1;\n    2\n}\n");
    std::fs::write(&lib, text).expect("write fx-core");
    let warning = "unused variable: `zcc_unused`";
    for subcommand in ["check", "build"] {
        let args = [subcommand, "--locked", "-p", "fx-core"];
        let cold = a.zccache(&args, &[]);
        assert_eq!((cold.total.hits, cold.total.misses), (0, 1), "{subcommand}");
        assert!(
            cold.stderr.contains(warning),
            "cold {subcommand}:\n{}",
            cold.stderr
        );
        a.clean();
        let warm = a.zccache(&args, &[]);
        assert_eq!(
            (warm.total.hits, warm.total.misses),
            (1, 0),
            "warm {subcommand}: {}",
            warm.json
        );
        assert!(
            warm.stderr.contains(warning) && warm.stderr.contains("fx-core/src/lib.rs"),
            "warm {subcommand} must show the cached warning:\n{}",
            warm.stderr
        );
        a.clean();
    }
}

#[test]
fn rust_hash_dir_keeps_checkouts_apart() {
    // By default a second checkout hits (rlibs then name the first checkout in their metadata
    // and debug info); ZCCACHE_RUST_HASH_DIR=1 keys rustc by its working dir, so each
    // checkout's rlibs are exactly what an uncached build there makes.
    let cache = TestCache::new();
    let fx_core = ["build", "--locked", "-p", "fx-core"];
    let strict = [("ZCCACHE_RUST_HASH_DIR", "1")];

    let shared_a = Checkout::new(&cache, "shared-a");
    let shared_b = Checkout::new(&cache, "shared-b");
    let first = shared_a.zccache(&fx_core, &[]);
    assert_eq!((first.total.hits, first.total.misses), (0, 1));
    let second = shared_b.zccache(&fx_core, &[]);
    assert_eq!(
        (second.total.hits, second.total.misses),
        (1, 0),
        "default: another checkout hits: {}",
        second.json
    );

    let strict_a = Checkout::new(&cache, "strict-a");
    let strict_b = Checkout::new(&cache, "strict-b");
    let first = strict_a.zccache(&fx_core, &strict);
    assert_eq!((first.total.hits, first.total.misses), (0, 1));
    let second = strict_b.zccache(&fx_core, &strict);
    assert_eq!(
        (second.total.hits, second.total.misses),
        (0, 1),
        "hash dir: another checkout misses: {}",
        second.json
    );
    // Its rlib is the one an uncached build in that checkout makes.
    let cached = strict_b.rlibs();
    strict_b.clean();
    assert_ok(&strict_b.plain(&fx_core), "plain build of fx-core");
    assert_same_rlibs("hash dir, second checkout", &cached, &strict_b.rlibs());
    // The same checkout still hits.
    strict_a.clean();
    let again = strict_a.zccache(&fx_core, &strict);
    assert_eq!(
        (again.total.hits, again.total.misses),
        (1, 0),
        "hash dir: same checkout hits: {}",
        again.json
    );
}

#[test]
fn setup_round_trips_a_commented_config() {
    let cache = TestCache::new();
    let a = Checkout::new(&cache, "s");
    let config = a.dir.join(".cargo/config.toml");
    let original = "\
# Team settings — keep this comment.
[build]
jobs = 2 # two cores here

[alias]
b = \"build\"
";
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, original).unwrap();

    let run = |args: &[&str], dir: &Path| {
        let mut cmd = Command::new(cargo_zccache_bin());
        scrub(&mut cmd);
        cache.apply_env(&mut cmd);
        cmd.env("CARGO", cargo_bin())
            .current_dir(dir)
            .arg("zccache")
            .args(args);
        cmd.output().expect("spawn cargo-zccache")
    };
    // From a member directory: the config goes to the workspace root.
    let out = run(&["setup"], &a.dir.join("fx-app"));
    assert_ok(&out, "cargo zccache setup");
    let text = std::fs::read_to_string(&config).unwrap();
    let zccache = std::fs::canonicalize(common::zccache_bin()).unwrap();
    let wrapper_line = format!("rustc-wrapper = \"{}\"", zccache.display());
    let direct = format!("rustc-wrapper = \"{}\"", common::zccache_bin().display());
    assert!(
        text.contains(&wrapper_line) || text.contains(&direct),
        "no rustc-wrapper line:\n{text}"
    );
    assert!(text.contains("# Team settings — keep this comment."));
    assert!(text.contains("jobs = 2 # two cores here"));
    // Cargo itself accepts the file.
    let mut meta = a.cargo();
    meta.args(["metadata", "--no-deps", "--format-version", "1", "-q"]);
    assert_ok(
        &meta.output().unwrap(),
        "cargo metadata with the edited config",
    );
    // Running setup twice changes nothing.
    assert_ok(&run(&["setup"], &a.dir), "second setup");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), text);

    let out = run(&["setup", "--undo"], &a.dir);
    assert_ok(&out, "cargo zccache setup --undo");
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        original,
        "undo must restore the file byte for byte"
    );

    // Without a config: setup creates it, undo removes it again.
    std::fs::remove_dir_all(a.dir.join(".cargo")).unwrap();
    assert_ok(&run(&["setup"], &a.dir), "setup without config");
    assert!(config.is_file());
    assert_ok(&run(&["setup", "--undo"], &a.dir), "undo without config");
    assert!(!config.exists(), "undo must remove the config it created");
}

#[test]
fn help_and_stats_behave_like_cargo_subcommands() {
    let cache = TestCache::new();
    let run = |args: &[&str]| {
        let mut cmd = Command::new(cargo_zccache_bin());
        scrub(&mut cmd);
        cache.apply_env(&mut cmd);
        cmd.current_dir(&cache.work).args(args);
        cmd.output().expect("spawn cargo-zccache")
    };
    for args in [
        &["zccache", "--help"][..],
        &["--help"],
        &["zccache", "help"],
    ] {
        let out = run(args);
        assert_ok(&out, &format!("cargo-zccache {args:?}"));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Usage: cargo zccache"), "{args:?}: {text}");
        assert!(text.contains("setup") && text.contains("stats"), "{text}");
    }
    let out = run(&["zccache"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "no subcommand: usage and exit 2"
    );
    let out = run(&["zccache", "--version"]);
    assert_ok(&out, "--version");

    assert_ok(&cache.run(&["start"], None), "zccache start");
    let out = run(&["zccache", "stats", "--json"]);
    assert_ok(&out, "cargo zccache stats --json");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stats JSON");
    assert!(v.get("hits").is_some(), "{v}");
    let out = run(&["zccache", "stats"]);
    assert_ok(&out, "cargo zccache stats");
    assert!(String::from_utf8_lossy(&out.stdout).contains("hits"));
}

#[test]
fn rustup_proxy_compiles_are_keyed_by_the_toolchain_it_picks() {
    // A rustup proxy (`~/.cargo/bin/rustc` → rustup) runs whichever toolchain the build's env
    // and directory pick, so its own binary and `--version` identify nothing. Stand-ins: two
    // toolchains whose `rustc` (distinct binaries) run the real rustc, and a `rustup` whose
    // `rustc` link picks one by ZCC_TOOLCHAIN, as rustup does by RUSTUP_TOOLCHAIN.
    let cache = TestCache::new();
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .expect("rustc --print sysroot");
    let real = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim()).join("bin/rustc");
    assert!(real.is_file(), "real rustc at {}", real.display());
    let write_exe = |path: &Path, text: String| {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    for tc in ["one", "two"] {
        let dir = cache.work.join(format!("tc-{tc}"));
        write_exe(
            &dir.join("bin/rustc"),
            format!(
                "#!/bin/sh\n# toolchain {tc}\nif [ \"$1\" = --print ] && [ \"$2\" = sysroot ]; then echo {}; exit 0; fi\nexec {} \"$@\"\n",
                dir.display(),
                real.display()
            ),
        );
    }
    let proxy_dir = cache.work.join("proxy");
    write_exe(
        &proxy_dir.join("rustup"),
        format!(
            "#!/bin/sh\nexec {}/tc-$ZCC_TOOLCHAIN/bin/$(basename \"$0\") \"$@\"\n",
            cache.work.display()
        ),
    );
    std::os::unix::fs::symlink("rustup", proxy_dir.join("rustc")).unwrap();
    std::fs::write(cache.work.join("lib.rs"), "pub fn f() -> u32 { 1 }\n").unwrap();
    std::fs::create_dir_all(cache.work.join("out")).unwrap();

    let compile = |tc: &str| {
        let out = cache
            .zccache()
            .env("ZCC_TOOLCHAIN", tc)
            .arg(proxy_dir.join("rustc"))
            .args(["--crate-name", "px", "--crate-type", "lib"])
            .args([
                "--emit=dep-info,metadata,link",
                "--out-dir",
                "out",
                "lib.rs",
            ])
            .output()
            .expect("spawn zccache");
        assert_ok(&out, &format!("compile with toolchain {tc}"));
    };
    compile("one");
    compile("two");
    assert_eq!(
        (cache.stat("hits"), cache.stat("misses")),
        (0, 2),
        "another toolchain behind the same proxy must not hit: {}",
        cache.stats()
    );
    compile("one");
    compile("two");
    assert_eq!(
        (cache.stat("hits"), cache.stat("misses")),
        (2, 2),
        "each toolchain hits its own entry: {}",
        cache.stats()
    );
}
