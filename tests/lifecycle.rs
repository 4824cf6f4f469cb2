//! The daemon's lifecycle under upgrades, stops, owners and ends, with real gcc compiles:
//! another build of zccache gets a daemon and store of its own within the same compile;
//! `zccache stop` returns only once the daemon has exited, under concurrent compiles;
//! `start --owner` daemons end with their owners; `status` says why the last daemon ended.

mod common;

use common::{assert_ok, require_tool, test_tmp_root, zccache_bin, TestCache};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;
use zccache::pidwatch::{is_running, Watched};

/// Generous bound for a daemon to exit on its own (owners gone, idle): a hang fails the test,
/// the figure itself is never asserted.
const EXIT_BOUND: Duration = Duration::from_secs(120);

fn hello_project(cache: &TestCache) {
    cache.write("inc/config.h", "#define GREETING \"hello\"\n");
    cache.write(
        "main.c",
        "#include <stdio.h>\n#include \"config.h\"\nint main(void) { printf(\"%s\\n\", GREETING); return 0; }\n",
    );
}

/// `zccache`-compatible binary `bin` run against this test's cache.
fn run_with(cache: &TestCache, bin: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(bin);
    cache.apply_env(&mut cmd);
    cmd.args(args).current_dir(&cache.work);
    cmd.output().expect("spawn zccache")
}

fn stats_with(cache: &TestCache, bin: &Path) -> serde_json::Value {
    let out = run_with(cache, bin, &["stats", "--json"]);
    assert_ok(&out, "stats --json");
    serde_json::from_slice(&out.stdout).expect("stats JSON")
}

/// The pid `zccache status` reports as running, if any.
fn running_pid(cache: &TestCache, bin: &Path) -> Option<u32> {
    let out = run_with(cache, bin, &["status"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.strip_prefix("running (pid ")?
        .split(')')
        .next()?
        .parse()
        .ok()
}

fn status_text(cache: &TestCache) -> String {
    let out = cache.run(&["status"], None);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn bare_object(cache: &TestCache, args: &[&str], name: &str) -> Vec<u8> {
    let out = Command::new("gcc")
        .args(args)
        .args(["-o", name])
        .current_dir(&cache.work)
        .output()
        .expect("run gcc");
    assert_ok(&out, "bare gcc");
    std::fs::read(cache.work.join(name)).expect("bare object")
}

/// A second, real build of zccache: this source compiled with another build id
/// (`ZCCACHE_BUILD_ID`, read by build.rs at compile time), into its own target dir kept
/// between test runs. To the hand-over it is exactly a build from another commit: daemons
/// and stores are told apart by that id.
fn other_build() -> PathBuf {
    let target = test_tmp_root().join("other-build-target");
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    common::scrub(&mut cmd);
    cmd.args(["build", "--quiet", "--bin", "zccache", "--manifest-path"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .env("ZCCACHE_BUILD_ID", "lifecycle-test-other-build");
    let out = cmd.output().expect("run cargo build");
    assert_ok(&out, "building the other zccache");
    let bin = target.join("debug").join("zccache");
    assert!(bin.is_file(), "{} was built", bin.display());
    bin
}

#[test]
fn another_build_gets_its_own_daemon_and_both_cache() {
    require_tool("gcc");
    let other = other_build();
    let ours = zccache_bin();
    let version = |bin: &Path| {
        let out = Command::new(bin).arg("--version").output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_ne!(version(&ours), version(&other), "two different builds");

    let cache = TestCache::new();
    hello_project(&cache);
    let args = ["gcc", "-Iinc", "-O2", "-c", "main.c", "-o", "main.o"];
    let bare = bare_object(&cache, &args[1..5], "bare.o");
    // Ours, then the other build meeting our running daemon, then each again (ours meets
    // the other's daemon): every compile is cached by a daemon of its own build.
    for (round, bin) in [&ours, &other, &ours, &other].into_iter().enumerate() {
        let out = run_with(&cache, bin, &args);
        assert_ok(&out, &format!("compile {round} with {}", bin.display()));
        assert_eq!(std::fs::read(cache.work.join("main.o")).unwrap(), bare);
    }
    for bin in [&ours, &other] {
        let stats = stats_with(&cache, bin);
        assert_eq!(stats["misses"], 1, "{}: {stats}", bin.display());
        assert_eq!(stats["hits"], 1, "{}: {stats}", bin.display());
        assert_eq!(stats["errors"], 0, "{}: {stats}", bin.display());
    }
    let (a, b) = (running_pid(&cache, &ours), running_pid(&cache, &other));
    assert!(
        a.is_some() && b.is_some() && a != b,
        "two daemons: {a:?} {b:?}"
    );
    let stores = std::fs::read_dir(cache.cache_dir.join("v"))
        .unwrap()
        .count();
    assert_eq!(stores, 2, "one store per build");

    // Stopping ours leaves the other's daemon (and cache) alone.
    assert_ok(&cache.run(&["stop"], None), "stop ours");
    assert!(!is_running(a.unwrap()));
    assert_eq!(running_pid(&cache, &other), b);
    assert_ok(&run_with(&cache, &other, &args), "other after our stop");
    assert_eq!(stats_with(&cache, &other)["hits"], 2);
    assert_ok(&run_with(&cache, &other, &["stop"]), "stop the other");
    assert!(!is_running(b.unwrap()));
}

#[test]
fn stop_is_final_under_concurrent_compiles() {
    require_tool("gcc");
    let cache = TestCache::new();
    for i in 0..4 {
        cache.write(
            &format!("t{i}/f.c"),
            &format!("int f{i}(int x) {{ return x * {i} + 1; }}\n"),
        );
    }
    let zcc = zccache_bin();
    for round in 0..100 {
        assert_ok(&cache.run(&["start"], None), "start");
        let pid = running_pid(&cache, &zcc).expect("started");
        let stopped = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..4)
                .map(|i| {
                    let cache = &cache;
                    let zcc = &zcc;
                    scope.spawn(move || {
                        for n in 0..3 {
                            let dir = cache.work.join(format!("t{i}"));
                            let obj = format!("f{n}.o");
                            let _ = std::fs::remove_file(dir.join(&obj));
                            let mut cmd = Command::new(zcc);
                            cache.apply_env(&mut cmd);
                            let out = cmd
                                .args(["gcc", "-O1", "-c", "f.c", "-o", &obj])
                                .current_dir(&dir)
                                .output()
                                .expect("spawn wrapper");
                            assert_ok(&out, &format!("round {round} compile t{i}/{obj}"));
                            assert!(dir.join(&obj).is_file());
                        }
                    })
                })
                .collect();
            let stopped = cache.run(&["stop"], None);
            // The moment stop returns, the daemon it stopped is gone.
            let gone = !is_running(pid);
            for w in workers {
                w.join().expect("compile thread");
            }
            (stopped, gone)
        });
        assert_ok(&stopped.0, &format!("round {round}: stop"));
        assert!(
            stopped.1,
            "round {round}: daemon {pid} still running after stop"
        );
        // A compile that began after the stop may have started the next daemon (that is
        // how builds keep their cache); never the stopped one.
        assert_ne!(running_pid(&cache, &zcc), Some(pid), "round {round}");
    }
    assert_ok(&cache.run(&["stop"], None), "final stop");
    let sock = cache.store().join("zccache.sock");
    assert!(
        std::os::unix::net::UnixStream::connect(&sock).is_err(),
        "the socket refuses after stop"
    );
    assert!(status_text(&cache).contains("(stop)"));
}

#[test]
fn owned_daemon_exits_once_every_owner_is_gone() {
    require_tool("gcc");
    let cache = TestCache::new();
    hello_project(&cache);
    let mut a = Command::new("sleep").arg("600").spawn().unwrap();
    let mut b = Command::new("sleep").arg("600").spawn().unwrap();
    let (pa, pb) = (a.id().to_string(), b.id().to_string());
    let out = cache
        .zccache()
        .env("ZCCACHE_IDLE_TIMEOUT", "0")
        .args(["start", "--owner", &pa, "--owner", &pb])
        .output()
        .unwrap();
    assert_ok(&out, "start --owner");
    let pid = running_pid(&cache, &zccache_bin()).expect("running");
    let status = status_text(&cache);
    assert!(status.contains(&pa) && status.contains(&pb), "{status}");
    assert!(status.contains("zccache start"), "who started it: {status}");

    let args = ["gcc", "-Iinc", "-c", "main.c", "-o", "main.o"];
    assert_ok(&cache.run(&args, None), "compile");
    a.kill().unwrap();
    a.wait().unwrap();
    // One owner left: still serving, same daemon.
    assert_ok(&cache.run(&args, None), "compile with one owner left");
    assert_eq!(cache.stat("hits"), 1);
    assert_eq!(running_pid(&cache, &zccache_bin()), Some(pid));
    b.kill().unwrap();
    b.wait().unwrap();
    let watched = Watched::new(pid);
    assert!(
        watched.map(|w| w.wait(EXIT_BOUND)).unwrap_or(true),
        "the daemon exits once its owners are gone (idle timeout off)"
    );
    let status = status_text(&cache);
    assert!(status.starts_with("not running"), "{status}");
    assert!(status.contains("(owners gone)"), "{status}");

    // An owner that is not running is refused.
    let mut dead = Command::new("true").spawn().unwrap();
    let dead_pid = dead.id().to_string();
    dead.wait().unwrap();
    let out = cache.run(&["start", "--owner", &dead_pid], None);
    assert!(!out.status.success(), "a dead owner is refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains(&dead_pid));
    assert_ok(&cache.run(&["stop"], None), "stop");
}

#[test]
fn status_says_why_the_last_daemon_ended() {
    require_tool("gcc");
    let cache = TestCache::new();
    hello_project(&cache);
    let args = ["gcc", "-Iinc", "-c", "main.c", "-o", "main.o"];
    let zcc = zccache_bin();

    // Idle.
    let out = cache
        .zccache()
        .env("ZCCACHE_IDLE_TIMEOUT", "1")
        .args(args)
        .output()
        .unwrap();
    assert_ok(&out, "compile (idle timeout 1 s)");
    let pid = running_pid(&cache, &zcc);
    if let Some(pid) = pid {
        if let Ok(w) = Watched::new(pid) {
            assert!(w.wait(EXIT_BOUND), "idles out");
        }
    }
    let status = status_text(&cache);
    assert!(status.contains("(idle)"), "{status}");
    assert!(status.contains("gcc"), "started by a compile: {status}");

    // Stop.
    assert_ok(&cache.run(&args, None), "compile");
    assert_ok(&cache.run(&["stop"], None), "stop");
    let status = status_text(&cache);
    assert!(status.contains("(stop)"), "{status}");

    // Killed: nothing said, so status says so.
    assert_ok(&cache.run(&["start"], None), "start");
    sigkill_running_daemon(&cache, &zcc);
    let status = status_text(&cache);
    assert!(status.contains("killed or crashed"), "{status}");
}

/// SIGKILLs this cache's running daemon and waits until it is gone.
fn sigkill_running_daemon(cache: &TestCache, zcc: &Path) {
    let pid = running_pid(cache, zcc).expect("running");
    let w = Watched::new(pid).unwrap();
    kill9(pid);
    assert!(w.wait(EXIT_BOUND));
}

/// SIGKILL to a daemon this test started.
fn kill9(pid: u32) {
    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
}

/// An object larger than the 1 GiB frame limit is cached (handed over by path, never
/// through the socket), restored identical on a hit, and no error is counted.
#[test]
fn output_larger_than_a_frame_is_cached() {
    require_tool("gcc");
    let cache = TestCache::new();
    let size = zccache::ipc::MAX_FRAME + (1 << 20);
    cache.write(
        "big.c",
        &format!("char big[{size}] = {{1}};\nint answer(void) {{ return 42; }}\n"),
    );
    let args = ["gcc", "-c", "big.c", "-o", "big.o"];
    assert_ok(&cache.run(&args, None), "cold compile of a > 1 GiB object");
    let object = cache.work.join("big.o");
    let len = std::fs::metadata(&object).unwrap().len();
    assert!(
        len > zccache::ipc::MAX_FRAME as u64,
        "object of {len} bytes"
    );
    assert_eq!(cache.stat("misses"), 1);
    std::fs::remove_file(&object).unwrap();
    assert_ok(&cache.run(&args, None), "hit");
    let stats = cache.stats();
    assert_eq!(stats["hits"], 1, "{stats}");
    assert_eq!(stats["errors"], 0, "{stats}");
    // Compared by digest: two 1 GiB objects are neither kept in memory nor on disk at once.
    let cached = file_digest(&object);
    std::fs::remove_file(&object).unwrap();
    let bare = cache.work.join("bare.o");
    let out = Command::new("gcc")
        .args(&args[1..3])
        .arg("-o")
        .arg(&bare)
        .current_dir(&cache.work)
        .output()
        .expect("run gcc");
    assert_ok(&out, "bare gcc");
    assert!(
        cached == file_digest(&bare),
        "the restored object equals a bare compile"
    );
    std::fs::remove_file(&bare).unwrap();
}

/// blake3 of a file's content, read in chunks.
fn file_digest(path: &Path) -> blake3::Hash {
    let mut hasher = blake3::Hasher::new();
    hasher
        .update_reader(std::fs::File::open(path).expect("open"))
        .expect("read");
    hasher.finalize()
}

/// Runs `argv` as uid/gid `uid` (no supplementary groups) with `env`, in `cwd`.
fn as_user(uid: u32, cwd: &Path, env: &[(&str, &Path)], argv: &[&str]) -> Output {
    let mut cmd = Command::new(require_tool("setpriv"));
    cmd.args([
        &format!("--reuid={uid}"),
        &format!("--regid={uid}"),
        "--clear-groups",
        "--",
    ])
    .args(argv)
    .current_dir(cwd)
    .env_remove("ZCCACHE_DIR")
    .env_remove("XDG_CACHE_HOME")
    .env_remove("XDG_CONFIG_HOME")
    .env("HOME", cwd);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("spawn setpriv")
}

/// A second uid can neither reach this user's daemon nor read its cache (even with the
/// directory opened up, the daemon refuses a peer of another uid), its compiles still work,
/// and its own zccache caches normally.
#[test]
fn another_user_cannot_reach_this_cache_and_has_its_own() {
    use std::os::unix::fs::PermissionsExt;
    require_tool("gcc");
    const OTHER: u32 = 4321;
    let cache = TestCache::new();
    hello_project(&cache);
    let args = ["gcc", "-Iinc", "-c", "main.c", "-o", "main.o"];
    assert_ok(&cache.run(&args, None), "our compile");
    let entries = cache.stat("entries");
    let store = cache.store();
    let blob = walk_files(&store.join("blobs"))
        .into_iter()
        .next()
        .expect("a blob");

    // The other user's world: a work dir it owns, outside our private dirs.
    let theirs = tempfile::Builder::new()
        .prefix("zcc-other-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(theirs.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let work = theirs.path().join("w");
    std::fs::create_dir_all(work.join("inc")).unwrap();
    for rel in ["main.c", "inc/config.h"] {
        std::fs::copy(cache.work.join(rel), work.join(rel)).unwrap();
    }
    for path in [theirs.path().to_path_buf(), work.clone(), work.join("inc")] {
        std::os::unix::fs::chown(&path, Some(OTHER), Some(OTHER)).unwrap();
    }
    for rel in ["main.c", "inc/config.h"] {
        std::os::unix::fs::chown(work.join(rel), Some(OTHER), Some(OTHER)).unwrap();
    }
    // Our binary must be reachable by them: copy it into their world.
    let bin = theirs.path().join("zccache");
    std::fs::copy(zccache_bin(), &bin).unwrap();
    let bin = bin.to_str().unwrap().to_string();
    let ours: &[(&str, &Path)] = &[("ZCCACHE_DIR", &cache.cache_dir)];

    // Reading our cache or connecting to our daemon fails.
    let read = as_user(OTHER, &work, &[], &["cat", blob.to_str().unwrap()]);
    assert!(!read.status.success(), "they cannot read our blobs");
    let stats = as_user(OTHER, &work, ours, &[&bin, "stats", "--json"]);
    assert!(!stats.status.success(), "they cannot reach our daemon");
    // Their compile pointed at our cache still compiles (uncached), and leaves ours alone.
    let compile = as_user(
        OTHER,
        &work,
        ours,
        &[&bin, "gcc", "-Iinc", "-c", "main.c", "-o", "main.o"],
    );
    assert_ok(&compile, "their compile against our cache dir");
    assert!(work.join("main.o").is_file());
    // Even with our directories opened up, the daemon refuses a peer of another uid.
    for dir in [&cache.cache_dir, &cache.cache_dir.join("v"), &store] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711)).unwrap();
    }
    std::fs::set_permissions(cache.root.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let sock = store.join("zccache.sock");
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o777)).unwrap();
    let stats = as_user(OTHER, &work, ours, &[&bin, "stats", "--json"]);
    assert!(!stats.status.success(), "the daemon refuses another uid");
    for dir in [&cache.cache_dir, &cache.cache_dir.join("v"), &store] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    assert_eq!(
        cache.stat("entries"),
        entries,
        "nothing of theirs in our cache"
    );
    assert_eq!(cache.stat("errors"), 0);

    // Their own zccache (default cache dir under their HOME) caches normally.
    let own_args = [&bin[..], "gcc", "-Iinc", "-c", "main.c", "-o", "main.o"];
    assert_ok(&as_user(OTHER, &work, &[], &own_args), "their cold compile");
    assert_ok(&as_user(OTHER, &work, &[], &own_args), "their warm compile");
    let stats = as_user(OTHER, &work, &[], &[&bin, "stats", "--json"]);
    assert_ok(&stats, "their stats");
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(stats["hits"], 1, "{stats}");
    assert_ok(&as_user(OTHER, &work, &[], &[&bin, "stop"]), "their stop");
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk_files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Files under `dir` with their size and modification time.
fn snapshot(dir: &Path) -> Vec<(PathBuf, u64, std::time::SystemTime)> {
    let mut files: Vec<_> = walk_files(dir)
        .into_iter()
        .map(|p| {
            let meta = std::fs::symlink_metadata(&p).unwrap();
            (p, meta.len(), meta.modified().unwrap())
        })
        .collect();
    files.sort();
    files
}

/// Makes a directory read-only in place (a read-only bind mount over itself) until dropped:
/// as root, permissions would not stop writes.
struct ReadOnlyMount(PathBuf);

impl ReadOnlyMount {
    fn new(dir: &Path) -> ReadOnlyMount {
        let run = |args: &[&str]| {
            let out = Command::new(require_tool("mount"))
                .args(args)
                .arg(dir)
                .arg(dir)
                .output()
                .expect("run mount");
            assert_ok(&out, &format!("mount {args:?} (tests need root)"));
        };
        run(&["--bind"]);
        let mount = ReadOnlyMount(dir.to_path_buf());
        let out = Command::new("mount")
            .args(["-o", "remount,ro,bind"])
            .arg(dir)
            .output()
            .expect("run mount");
        assert_ok(&out, "remount read-only");
        mount
    }
}

impl Drop for ReadOnlyMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A cache dir mounted read-only (a CI cache): builds are correct, what is cached hits, the
/// rest compiles with a counted error, and nothing in the cache dir changes.
#[test]
fn read_only_cache_dir_hits_where_it_can_and_writes_nothing() {
    require_tool("gcc");
    let cache = TestCache::new();
    cache.write("a.c", "int a(int x) { return x * 3; }\n");
    cache.write("b.c", "int b(int x) { return x * 5; }\n");
    let compile = |src: &str| {
        let obj = src.replace(".c", ".o");
        let out = cache.run(&["gcc", "-O1", "-c", src, "-o", &obj], None);
        assert_ok(&out, &format!("compile {src}"));
        let got = std::fs::read(cache.work.join(&obj)).unwrap();
        std::fs::remove_file(cache.work.join(&obj)).unwrap();
        got
    };
    let a = compile("a.c");
    cache.zero();
    assert_ok(&cache.run(&["stop"], None), "stop");
    let before = snapshot(&cache.cache_dir);

    let mount = ReadOnlyMount::new(&cache.cache_dir);
    assert!(std::fs::write(cache.cache_dir.join("probe"), b"x").is_err());
    assert_eq!(compile("a.c"), a, "the cached object is served");
    let b_bare = bare_object(&cache, &["-O1", "-c", "b.c"], "b-bare.o");
    assert_eq!(compile("b.c"), b_bare, "a new compile is correct");
    assert_eq!(compile("b.c"), b_bare, "and again");
    let stats = cache.stats();
    assert_eq!(stats["hits"], 1, "{stats}");
    assert!(stats["errors"].as_u64().unwrap_or(0) >= 2, "{stats}");
    assert_ok(&cache.run(&["stop"], None), "stop");
    drop(mount);

    assert_eq!(snapshot(&cache.cache_dir), before, "nothing was written");
}

/// `ZCCACHE_MAX_MEMORY` bounds the daemon's in-memory caches (file hashes, manifests,
/// results): with a small budget they are shed and compiles still hit; without it the same
/// build holds far more.
#[test]
fn memory_budget_bounds_the_in_memory_caches() {
    require_tool("gcc");
    const BUDGET: u64 = 64 * 1024;
    let build = |budget: Option<&str>| -> (u64, u64, TestCache) {
        let cache = TestCache::new();
        let mut all = String::new();
        for i in 0..300 {
            cache.write(
                &format!("include/some/long/directory/name/header_{i}.h"),
                &format!("#define VALUE_{i} {i}\n"),
            );
            all.push_str(&format!(
                "#include \"include/some/long/directory/name/header_{i}.h\"\n"
            ));
        }
        for j in 0..20 {
            cache.write(
                &format!("s{j}.c"),
                &format!("{all}int f{j}(void) {{ return VALUE_{j} + {j}; }}\n"),
            );
        }
        let mut start = cache.zccache();
        start.arg("start");
        if let Some(b) = budget {
            start.env("ZCCACHE_MAX_MEMORY", b);
        }
        assert_ok(&start.output().unwrap(), "start");
        for round in 0..2 {
            for j in 0..20 {
                let out = cache.run(
                    &["gcc", "-c", &format!("s{j}.c"), "-o", &format!("s{j}.o")],
                    None,
                );
                assert_ok(&out, &format!("round {round} s{j}"));
            }
        }
        let stats = cache.stats();
        assert_eq!(stats["hits"], 20, "{stats}");
        assert_eq!(stats["misses"], 20, "{stats}");
        let used = stats["memory_bytes"].as_u64().unwrap();
        let max = stats["max_memory_bytes"].as_u64().unwrap();
        (used, max, cache)
    };
    let (used, max, cache) = build(Some("64K"));
    assert_eq!(max, BUDGET);
    assert!(
        used <= BUDGET,
        "{used} bytes held with a {BUDGET}-byte budget"
    );
    let bare = bare_object(&cache, &["-c", "s7.c"], "bare7.o");
    assert_eq!(std::fs::read(cache.work.join("s7.o")).unwrap(), bare);
    drop(cache);
    let (unbounded, _, _) = build(None);
    assert!(
        unbounded > BUDGET,
        "the same build holds {unbounded} bytes by default"
    );
}

/// A daemon's exit leaves its file hashes for the next one (warm from the first compile);
/// they are still checked against each file's stat, so a header edited while no daemon ran
/// is seen.
#[test]
fn the_next_daemon_starts_with_the_file_hashes_and_still_sees_edits() {
    require_tool("gcc");
    let cache = TestCache::new();
    hello_project(&cache);
    // Settled inputs (the hash cache only keeps files whose timestamps are old enough).
    std::thread::sleep(Duration::from_millis(300));
    let args = ["gcc", "-Iinc", "-c", "main.c", "-o", "main.o"];
    assert_ok(&cache.run(&args, None), "cold");
    assert_ok(&cache.run(&["stop"], None), "stop");
    assert!(cache.store().join("hashes.bin").is_file());
    // The next daemon holds the hashes before any compile.
    let stats = cache.stats();
    assert!(stats["memory_bytes"].as_u64().unwrap() > 0, "{stats}");
    assert_ok(&cache.run(&args, None), "warm after restart");
    assert_eq!(cache.stat("hits"), 1);
    assert_ok(&cache.run(&["stop"], None), "stop");
    // Edited while no daemon ran: a miss, and the right object.
    cache.write("inc/config.h", "#define GREETING \"howdy\"\n");
    assert_ok(&cache.run(&args, None), "after the edit");
    let bare = bare_object(&cache, &args[1..4], "bare.o");
    assert_eq!(std::fs::read(cache.work.join("main.o")).unwrap(), bare);
    assert_eq!(cache.stat("misses"), 2);
}

/// An entry is durable soon after it is stored (within 250 ms; at once when `stats` asks): a
/// daemon SIGKILLed right after a miss was stored (well within the index's lazy commit window
/// for stats) keeps it, and the next daemon hits. With entries committed lazily (5 s), a daemon
/// killed every few seconds (scripts/soak.sh) kept nothing.
#[test]
fn an_entry_stored_just_before_a_sigkill_survives_it() {
    require_tool("gcc");
    let cache = TestCache::new();
    hello_project(&cache);
    std::thread::sleep(Duration::from_millis(300));
    let args = ["gcc", "-Iinc", "-c", "main.c", "-o", "main.o"];
    let zcc = zccache_bin();
    assert_ok(&cache.run(&args, None), "cold");
    // `stats` returns once the answered miss is stored and synced.
    assert_eq!(cache.stat("misses"), 1);
    std::thread::sleep(Duration::from_millis(300));
    sigkill_running_daemon(&cache, &zcc);
    std::fs::remove_file(cache.work.join("main.o")).unwrap();
    assert_ok(&cache.run(&args, None), "after the kill");
    let bare = bare_object(&cache, &args[1..4], "bare.o");
    assert_eq!(std::fs::read(cache.work.join("main.o")).unwrap(), bare);
    assert_eq!(cache.stat("hits"), 1, "the entry survived the SIGKILL");
}

/// Without anyone asking for stats, a new entry is synced by the index writer within its
/// window (250 ms): a daemon SIGKILLed a little later keeps it.
#[test]
fn an_entry_is_synced_within_its_window_without_a_stats_request() {
    require_tool("gcc");
    let cache = TestCache::new();
    hello_project(&cache);
    let args = ["gcc", "-Iinc", "-c", "main.c", "-o", "main.o"];
    let zcc = zccache_bin();
    assert_ok(&cache.run(&args, None), "cold");
    // The store finishes after the answer (milliseconds), the sync within 250 ms of it.
    std::thread::sleep(Duration::from_millis(1000));
    sigkill_running_daemon(&cache, &zcc);
    std::fs::remove_file(cache.work.join("main.o")).unwrap();
    assert_ok(&cache.run(&args, None), "after the kill");
    assert_eq!(cache.stat("hits"), 1, "the entry survived the SIGKILL");
}
