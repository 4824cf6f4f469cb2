//! End-to-end tests of C/C++ caching with real gcc and clang: hits, misses, depfiles,
//! diagnostics, failures, shadowing, uncacheable reasons and the daemon's lifecycle.

mod common;

use common::{assert_ok, require_tool, TestCache};
use std::path::Path;
use std::process::{Command, Output};

fn zcc(cache: &TestCache, args: &[&str]) -> Output {
    cache.run(args, None)
}

fn zcc_in(cache: &TestCache, dir: &Path, args: &[&str]) -> Output {
    cache.run(args, Some(dir))
}

fn read(cache: &TestCache, rel: &str) -> Vec<u8> {
    std::fs::read(cache.work.join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

fn hello_project(cache: &TestCache) {
    cache.write("inc/config.h", "#define GREETING \"hello\"\n");
    cache.write(
        "main.c",
        "#include <stdio.h>\n#include \"config.h\"\nint main(void) { printf(\"%s\\n\", GREETING); return 0; }\n",
    );
}

fn compilers() -> Vec<&'static str> {
    require_tool("gcc");
    require_tool("clang");
    vec!["gcc", "clang"]
}

#[test]
fn hit_after_miss_restores_identical_object() {
    for cc in compilers() {
        let cache = TestCache::new();
        hello_project(&cache);
        let out = zcc(
            &cache,
            &[cc, "-Iinc", "-O2", "-c", "main.c", "-o", "cached.o"],
        );
        assert_ok(&out, "first compile");
        assert_eq!(cache.stat("misses"), 1, "{cc}");
        let first = read(&cache, "cached.o");
        std::fs::remove_file(cache.work.join("cached.o")).unwrap();
        let out = zcc(
            &cache,
            &[cc, "-Iinc", "-O2", "-c", "main.c", "-o", "cached.o"],
        );
        assert_ok(&out, "second compile");
        assert_eq!(cache.stat("hits"), 1, "{cc}");
        assert_eq!(read(&cache, "cached.o"), first);
        // Byte-identical to an uncached compile.
        let bare = Command::new(cc)
            .args(["-Iinc", "-O2", "-c", "main.c", "-o", "bare.o"])
            .current_dir(&cache.work)
            .output()
            .unwrap();
        assert_ok(&bare, "bare compile");
        assert_eq!(
            read(&cache, "bare.o"),
            first,
            "{cc}: cached object differs from bare"
        );
    }
}

#[test]
fn header_change_misses_touch_hits_define_misses() {
    let cache = TestCache::new();
    hello_project(&cache);
    let args = ["gcc", "-Iinc", "-c", "main.c", "-o", "main.o"];
    assert_ok(&zcc(&cache, &args), "cold");
    assert_ok(&zcc(&cache, &args), "warm");
    assert_eq!((cache.stat("hits"), cache.stat("misses")), (1, 1));

    // Same content, new mtime: still a hit.
    let header = cache.work.join("inc/config.h");
    let f = std::fs::File::options().append(true).open(&header).unwrap();
    f.set_modified(std::time::SystemTime::now()).unwrap();
    drop(f);
    assert_ok(&zcc(&cache, &args), "touched");
    assert_eq!(cache.stat("hits"), 2);

    // Changed header, written right before the compile: a miss with the new value.
    cache.write("inc/config.h", "#define GREETING \"howdy\"\n");
    assert_ok(&zcc(&cache, &args), "edited header");
    assert_eq!(cache.stat("misses"), 2);
    let link = Command::new("gcc")
        .args(["main.o", "-o", "app"])
        .current_dir(&cache.work)
        .output()
        .unwrap();
    assert_ok(&link, "link");
    let run = Command::new(cache.work.join("app")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout), "howdy\n");

    // A new -D is a different compile.
    assert_ok(
        &zcc(
            &cache,
            &["gcc", "-Iinc", "-DEXTRA=1", "-c", "main.c", "-o", "main.o"],
        ),
        "new define",
    );
    assert_eq!(cache.stat("misses"), 3);
}

#[test]
fn depfile_on_hit_equals_fresh_compile() {
    for cc in compilers() {
        for dep_args in [
            vec!["-MD", "-MT", "obj/main.o", "-MF", "obj/main.o.d"],
            vec!["-MMD", "-MP", "-MF", "obj/main.o.d"],
            vec!["-MD", "-MQ", "weird $name.o", "-MF", "obj/main.o.d"],
        ] {
            let cache = TestCache::new();
            hello_project(&cache);
            std::fs::create_dir_all(cache.work.join("obj")).unwrap();
            let mut args = vec![cc, "-Iinc", "-c", "main.c", "-o", "obj/main.o"];
            args.extend(dep_args.iter().copied());
            let bare = Command::new(cc)
                .args(&args[1..])
                .current_dir(&cache.work)
                .output()
                .unwrap();
            assert_ok(&bare, "bare");
            let expected = read(&cache, "obj/main.o.d");
            std::fs::remove_file(cache.work.join("obj/main.o.d")).unwrap();
            assert_ok(&zcc(&cache, &args), "miss");
            assert_eq!(
                String::from_utf8_lossy(&read(&cache, "obj/main.o.d")),
                String::from_utf8_lossy(&expected),
                "{cc} {dep_args:?}: depfile on miss"
            );
            std::fs::remove_file(cache.work.join("obj/main.o.d")).unwrap();
            assert_ok(&zcc(&cache, &args), "hit");
            assert_eq!(
                cache.stat("hits"),
                1,
                "{cc} {dep_args:?} {:?}",
                cache.stats()
            );
            assert_eq!(
                String::from_utf8_lossy(&read(&cache, "obj/main.o.d")),
                String::from_utf8_lossy(&expected),
                "{cc} {dep_args:?}: depfile on hit"
            );
        }
    }
}

#[test]
fn warnings_are_replayed_and_failures_not_cached() {
    let cache = TestCache::new();
    cache.write("warn.c", "int f(void) { int unused; return 0; }\n");
    let args = ["gcc", "-Wall", "-c", "warn.c", "-o", "warn.o"];
    let miss = zcc(&cache, &args);
    assert_ok(&miss, "miss");
    assert!(String::from_utf8_lossy(&miss.stderr).contains("unused"));
    let hit = zcc(&cache, &args);
    assert_ok(&hit, "hit");
    assert_eq!(cache.stat("hits"), 1);
    assert_eq!(hit.stderr, miss.stderr, "warnings replayed verbatim");

    cache.write("bad.c", "int f(void) { return missing_symbol; }\n");
    for round in 0..2 {
        let out = zcc(&cache, &["gcc", "-c", "bad.c", "-o", "bad.o"]);
        assert_eq!(out.status.code(), Some(1), "round {round}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("missing_symbol"));
        assert!(!cache.work.join("bad.o").exists());
    }
    assert_eq!(cache.stat("hits"), 1, "a failed compile is never a hit");
    assert_eq!(cache.reason("compile_failed"), 2);
    // Fixing the file compiles for real.
    cache.write("bad.c", "int f(void) { return 0; }\n");
    assert_ok(
        &zcc(&cache, &["gcc", "-c", "bad.c", "-o", "bad.o"]),
        "fixed",
    );
    assert!(cache.work.join("bad.o").exists());
}

#[test]
fn shadowing_header_created_earlier_on_path_misses() {
    let cache = TestCache::new();
    cache.write("b/x.h", "#define V 1\n");
    std::fs::create_dir_all(cache.work.join("a")).unwrap();
    cache.write("main.c", "#include <x.h>\nint v = V;\n");
    let args = ["gcc", "-Ia", "-Ib", "-c", "main.c", "-o", "main.o"];
    assert_ok(&zcc(&cache, &args), "cold");
    assert_ok(&zcc(&cache, &args), "warm");
    assert_eq!(cache.stat("hits"), 1);
    cache.write("a/x.h", "#define V 2\n");
    assert_ok(&zcc(&cache, &args), "shadowed");
    assert_eq!(
        cache.stat("hits"),
        1,
        "a shadowing header must not be served stale"
    );
    let nm = Command::new("objdump")
        .args(["-s", "-j", ".data", "main.o"])
        .current_dir(&cache.work)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&nm.stdout).contains("02000000"),
        "object must use the new header"
    );
    // Also a quote include next to the source shadowing an -I dir.
    cache.write("q/y.h", "#define W 1\n");
    cache.write("src/use.c", "#include \"y.h\"\nint w = W;\n");
    let args = ["gcc", "-Iq", "-c", "src/use.c", "-o", "use.o"];
    assert_ok(&zcc(&cache, &args), "cold");
    cache.write("src/y.h", "#define W 2\n");
    assert_ok(&zcc(&cache, &args), "shadowed by source dir");
    assert_eq!(cache.stat("hits"), 1);
}

#[test]
fn uncacheable_cases_pass_through_with_reasons() {
    let cache = TestCache::new();
    cache.write("a.c", "int a(void){return 1;}\n");
    cache.write("b.c", "int main(void){return 0;}\n");
    cache.write("t.c", "const char *t = __DATE__;\n");
    let cases: &[(&[&str], &str)] = &[
        (&["gcc", "b.c", "-o", "linked"], "compile_and_link"),
        (&["gcc", "-E", "a.c"], "preprocess_only"),
        (&["gcc", "-c", "t.c", "-o", "t.o"], "time_macros"),
        (
            &["gcc", "--coverage", "-c", "a.c", "-o", "cov.o"],
            "coverage",
        ),
        (
            &[
                "gcc",
                "-fprofile-use",
                "-Wno-missing-profile",
                "-c",
                "a.c",
                "-o",
                "pu.o",
            ],
            "profile_use",
        ),
    ];
    for (args, reason) in cases {
        let out = zcc(&cache, args);
        assert_ok(&out, &format!("{args:?}"));
        assert_eq!(cache.reason(reason), 1, "{args:?} should count {reason}");
    }
    assert!(cache.work.join("linked").exists());
    // stdin source.
    let out = cache
        .zccache()
        .args(["gcc", "-x", "c", "-c", "-", "-o", "stdin.o"])
        .stdin(std::fs::File::open(cache.work.join("a.c")).unwrap())
        .output()
        .unwrap();
    assert_ok(&out, "stdin");
    assert_eq!(cache.reason("stdin"), 1);
    // SOURCE_DATE_EPOCH makes __DATE__ reproducible: cacheable.
    for _ in 0..2 {
        let out = cache
            .zccache()
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args(["gcc", "-c", "t.c", "-o", "t.o"])
            .output()
            .unwrap();
        assert_ok(&out, "sde");
    }
    assert_eq!(cache.stat("hits"), 1);
    assert_eq!(cache.stat("hits") + cache.stat("misses"), 2);
}

#[test]
fn debug_info_is_not_shared_across_directories() {
    let cache = TestCache::new();
    for dir in ["one", "two"] {
        cache.write(&format!("{dir}/m.c"), "int m(void){return 3;}\n");
        // Two checkouts (git worktrees) of one project.
        std::fs::create_dir_all(cache.work.join(dir).join(".git")).unwrap();
    }
    let one = cache.work.join("one");
    let two = cache.work.join("two");
    assert_ok(&zcc_in(&cache, &one, &["gcc", "-g", "-c", "m.c"]), "one");
    assert_ok(&zcc_in(&cache, &two, &["gcc", "-g", "-c", "m.c"]), "two");
    assert_eq!(cache.stat("hits"), 0, "-g embeds the cwd");
    assert_ok(
        &zcc_in(&cache, &one, &["gcc", "-O1", "-c", "m.c"]),
        "one nodebug",
    );
    assert_ok(
        &zcc_in(&cache, &two, &["gcc", "-O1", "-c", "m.c"]),
        "two nodebug",
    );
    assert_eq!(cache.stat("hits"), 1, "without -g another checkout hits");
    assert_eq!(
        std::fs::read(one.join("m.o")).unwrap(),
        std::fs::read(two.join("m.o")).unwrap()
    );
}

#[test]
fn corrupt_blob_is_a_miss_then_repaired() {
    let cache = TestCache::new();
    hello_project(&cache);
    let args = ["gcc", "-Iinc", "-c", "main.c", "-o", "main.o"];
    assert_ok(&zcc(&cache, &args), "cold");
    let good = read(&cache, "main.o");
    // Stats wait until the answered miss is stored.
    assert_eq!(cache.stat("misses"), 1);
    // Corrupt every blob in place.
    for entry in walk(&cache.store().join("blobs")) {
        let mut bytes = std::fs::read(&entry).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        std::fs::write(&entry, bytes).unwrap();
    }
    assert_ok(&zcc(&cache, &args), "corrupt");
    assert_eq!(read(&cache, "main.o"), good, "never a wrong hit");
    assert_eq!(cache.stat("hits"), 0);
    assert_ok(&zcc(&cache, &args), "repaired");
    assert_eq!(cache.stat("hits"), 1);
    assert_eq!(read(&cache, "main.o"), good);
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn eviction_keeps_store_under_max_size() {
    let cache = TestCache::new();
    std::fs::create_dir_all(&cache.cache_dir).unwrap();
    std::fs::write(cache.cache_dir.join("zccache.toml"), "max_size = \"64K\"\n").unwrap();
    for i in 0..12 {
        let body: String = (0..200)
            .map(|j| format!("int f{i}_{j}(int x) {{ return x * {j} + {i}; }}\n"))
            .collect();
        cache.write(&format!("e{i}.c"), &body);
        let name = format!("e{i}.c");
        let obj = format!("e{i}.o");
        assert_ok(&zcc(&cache, &["gcc", "-c", &name, "-o", &obj]), "compile");
    }
    // The writer evicts asynchronously; give it a moment.
    let mut size = u64::MAX;
    for _ in 0..50 {
        size = cache.stat("cache_size_bytes");
        if size <= 64 * 1024 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(size <= 64 * 1024, "store is {size} bytes");
    assert!(cache.stat("evictions") > 0);
    // An evicted entry is a miss, and still correct.
    assert_ok(
        &zcc(&cache, &["gcc", "-c", "e0.c", "-o", "again.o"]),
        "recompile",
    );
    assert_eq!(read(&cache, "again.o"), read(&cache, "e0.o"));
}

#[test]
fn masquerade_symlink_and_stacked_wrappers() {
    let cache = TestCache::new();
    hello_project(&cache);
    let masq = cache.root.path().join("masq");
    std::fs::create_dir_all(&masq).unwrap();
    std::os::unix::fs::symlink(common::zccache_bin(), masq.join("gcc")).unwrap();
    let path = format!(
        "{}:{}",
        masq.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for _ in 0..2 {
        let mut cmd = Command::new("gcc");
        cache.apply_env(&mut cmd);
        let out = cmd
            .env("PATH", &path)
            .args(["-Iinc", "-c", "main.c", "-o", "m.o"])
            .current_dir(&cache.work)
            .output()
            .unwrap();
        assert_ok(&out, "masquerade gcc");
    }
    assert_eq!((cache.stat("misses"), cache.stat("hits")), (1, 1));
    // zccache zccache gcc / zccache ccache gcc unwrap instead of recursing.
    let bin = common::zccache_bin();
    let bin = bin.to_str().unwrap();
    assert_ok(
        &zcc(&cache, &[bin, "gcc", "-Iinc", "-c", "main.c", "-o", "m.o"]),
        "zccache zccache",
    );
    assert_ok(
        &zcc(
            &cache,
            &["ccache", "gcc", "-Iinc", "-c", "main.c", "-o", "m.o"],
        ),
        "zccache ccache",
    );
    assert_eq!(cache.stat("hits"), 3);
}

#[test]
fn disable_is_pure_pass_through() {
    let cache = TestCache::new();
    hello_project(&cache);
    let out = cache
        .zccache()
        .env("ZCCACHE_DISABLE", "1")
        .args(["gcc", "-Iinc", "-c", "main.c", "-o", "main.o"])
        .output()
        .unwrap();
    assert_ok(&out, "disabled");
    assert!(cache.work.join("main.o").exists());
    assert!(!cache.cache_dir.join("v").exists(), "no daemon started");
}

#[test]
fn unreachable_daemon_falls_back_to_the_compiler() {
    let cache = TestCache::new();
    hello_project(&cache);
    // A cache dir that cannot be created: the wrapper must still compile.
    let out = Command::new(common::zccache_bin())
        .env("ZCCACHE_DIR", "/proc/zccache-cannot-exist")
        .args(["gcc", "-Iinc", "-c", "main.c", "-o", "main.o"])
        .current_dir(&cache.work)
        .output()
        .unwrap();
    assert_ok(&out, "fallback");
    assert!(cache.work.join("main.o").exists());
    assert!(
        out.stderr.is_empty(),
        "quiet fallback: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn forty_wrappers_start_exactly_one_daemon() {
    let cache = TestCache::new();
    for i in 0..40 {
        cache.write(
            &format!("p{i}.c"),
            &format!("int p{i}(void){{return {i};}}\n"),
        );
    }
    let children: Vec<_> = (0..40)
        .map(|i| {
            cache
                .zccache()
                .args(["gcc", "-c", &format!("p{i}.c"), "-o", &format!("p{i}.o")])
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    assert_eq!(cache.stat("misses"), 40);
    assert_eq!(cache.stat("errors"), 0);
    let pids = Command::new("pgrep")
        .args(["-f", &format!("{} daemon", common::zccache_bin().display())])
        .output()
        .unwrap();
    let ours: Vec<String> = String::from_utf8_lossy(&pids.stdout)
        .lines()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| {
                    String::from_utf8_lossy(&env)
                        .contains(&format!("ZCCACHE_DIR={}", cache.cache_dir.display()))
                })
                .unwrap_or(false)
        })
        .map(String::from)
        .collect();
    assert_eq!(
        ours.len(),
        1,
        "exactly one daemon for the cache dir: {ours:?}"
    );
}

fn write_make_project(cache: &TestCache, n: usize) {
    let mut objs = Vec::new();
    cache.write("common.h", "#pragma once\nint twice(int);\n");
    for i in 0..n {
        cache.write(
            &format!("src/f{i}.c"),
            &format!("#include \"../common.h\"\nint f{i}(int x) {{ return twice(x) + {i}; }}\n"),
        );
        objs.push(format!("obj/f{i}.o"));
    }
    let makefile = format!(
        "CC ?= gcc\nOBJS = {}\nall: $(OBJS)\nobj/%.o: src/%.c common.h\n\t@mkdir -p obj\n\t$(CC) -O1 -MMD -c $< -o $@\nclean:\n\trm -rf obj\n",
        objs.join(" ")
    );
    cache.write("Makefile", &makefile);
}

fn make(cache: &TestCache, cc: &str, extra: &[&str]) -> Output {
    require_tool("make");
    let mut cmd = Command::new("make");
    cache.apply_env(&mut cmd);
    cmd.args(["-j8", "-s", &format!("CC={cc}")])
        .args(extra)
        .current_dir(&cache.work)
        .output()
        .unwrap()
}

#[test]
fn parallel_make_is_correct_and_loses_nothing() {
    let cache = TestCache::new();
    write_make_project(&cache, 60);
    let cc = format!("{} gcc", common::zccache_bin().display());
    assert_ok(&make(&cache, &cc, &[]), "cold make");
    assert_eq!(cache.stat("misses"), 60);
    let cold: Vec<Vec<u8>> = (0..60)
        .map(|i| read(&cache, &format!("obj/f{i}.o")))
        .collect();
    assert_ok(&make(&cache, &cc, &["clean"]), "clean");
    assert_ok(&make(&cache, &cc, &[]), "warm make");
    assert_eq!(cache.stat("hits"), 60, "no lost entries");
    for (i, bytes) in cold.iter().enumerate() {
        assert_eq!(&read(&cache, &format!("obj/f{i}.o")), bytes);
    }
}

#[test]
fn daemon_killed_mid_build_still_succeeds_and_later_hits() {
    let cache = TestCache::new();
    write_make_project(&cache, 80);
    let cc = format!("{} gcc", common::zccache_bin().display());
    // Start the daemon, then kill it with SIGKILL while make -j runs.
    assert_ok(&cache.run(&["start"], None), "start");
    let pid: i32 = std::fs::read_to_string(cache.store().join("daemon.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut cmd = Command::new("make");
    cache.apply_env(&mut cmd);
    let child = cmd
        .args(["-j4", "-s", &format!("CC={cc}")])
        .current_dir(&cache.work)
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    // SAFETY: sending a signal to the daemon process this test started.
    unsafe {
        libc_kill(pid);
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "make must succeed despite the killed daemon"
    );
    for i in 0..80 {
        assert!(cache.work.join(format!("obj/f{i}.o")).exists());
    }
    // A later build (after clean) hits on what was stored, and completes the rest.
    assert_ok(&make(&cache, &cc, &["clean"]), "clean");
    assert_ok(&make(&cache, &cc, &[]), "rebuild");
    assert_ok(&make(&cache, &cc, &["clean"]), "clean");
    cache.zero();
    assert_ok(&make(&cache, &cc, &[]), "rebuild 2");
    assert_eq!(cache.stat("hits"), 80);
}

unsafe fn libc_kill(pid: i32) {
    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
}

#[test]
fn malformed_requests_get_errors_and_daemon_keeps_serving() {
    use std::io::{Read, Write};
    let cache = TestCache::new();
    hello_project(&cache);
    assert_ok(&cache.run(&["start"], None), "start");
    let sock = cache.store().join("zccache.sock");
    for garbage in [
        vec![5u8, 0, 0, 0, 0xff, 0xfe, 0xfd, 0xfc, 0xfb],
        vec![0xff, 0xff, 0xff, 0x7f],
        vec![1, 2],
    ] {
        let mut s = std::os::unix::net::UnixStream::connect(&sock).unwrap();
        s.write_all(&garbage).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
    }
    let args = ["gcc", "-Iinc", "-c", "main.c", "-o", "main.o"];
    assert_ok(&zcc(&cache, &args), "after garbage");
    assert_ok(&zcc(&cache, &args), "after garbage 2");
    assert_eq!(cache.stat("hits"), 1);
}

/// Stray bytes never act: the 5-byte frames that used to mean `Clear` and `Shutdown`, and
/// 300 random frames, leave the daemon running with every entry (a hello comes first).
#[test]
fn stray_frames_neither_wipe_nor_stop_the_daemon() {
    use std::io::{Read, Write};
    let cache = TestCache::new();
    hello_project(&cache);
    let args = ["gcc", "-Iinc", "-c", "main.c", "-o", "main.o"];
    assert_ok(&zcc(&cache, &args), "first compile");
    let pid = cache.stats()["daemon_pid"].as_u64();
    let entries = cache.stat("entries");
    assert_eq!(entries, 1);
    let sock = cache.store().join("zccache.sock");
    let mut frames: Vec<Vec<u8>> = (0u8..=12).map(|v| vec![1, 0, 0, 0, v]).collect();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..300 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = (seed % 24) as usize;
        let mut frame = (len as u32).to_le_bytes().to_vec();
        frame.extend((0..len).map(|i| (seed >> (i % 8 * 8)) as u8));
        frames.push(frame);
    }
    for frame in &frames {
        let mut s = std::os::unix::net::UnixStream::connect(&sock).unwrap();
        let _ = s.write_all(frame);
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
    }
    assert_eq!(
        cache.stats()["daemon_pid"].as_u64(),
        pid,
        "the daemon kept running"
    );
    assert_eq!(cache.stat("entries"), entries, "no entry was dropped");
    assert_ok(&zcc(&cache, &args), "compile after the stray frames");
    assert_eq!(cache.stat("hits"), 1);
}

#[test]
fn cli_stats_zero_clear_config() {
    let cache = TestCache::new();
    hello_project(&cache);
    let args = ["gcc", "-Iinc", "-c", "main.c", "-o", "main.o"];
    assert_ok(&zcc(&cache, &args), "cold");
    assert_ok(&zcc(&cache, &args), "warm");
    let s = cache.stats();
    for key in [
        "hits",
        "misses",
        "uncacheable",
        "errors",
        "entries",
        "cache_size_bytes",
        "reasons",
    ] {
        assert!(s.get(key).is_some(), "stats --json has {key}");
    }
    assert_eq!(s["entries"], 1);
    let human = zcc(&cache, &["stats"]);
    assert!(String::from_utf8_lossy(&human.stdout).contains("hits"));
    cache.zero();
    assert_eq!(cache.stat("hits"), 0);
    assert_ok(&zcc(&cache, &["clear"]), "clear");
    assert_eq!(cache.stat("entries"), 0);
    assert_ok(&zcc(&cache, &args), "after clear");
    assert_eq!(cache.stat("misses"), 1);
    let config = zcc(&cache, &["config"]);
    let text = String::from_utf8_lossy(&config.stdout);
    assert!(
        text.contains("max_size") && text.contains("env ZCCACHE_DIR"),
        "{text}"
    );
    let version = zcc(&cache, &["--version"]);
    assert!(String::from_utf8_lossy(&version.stdout).contains("zccache"));
    // Stats survive a daemon restart.
    assert_ok(&zcc(&cache, &["stop"]), "stop");
    assert_eq!(cache.stat("misses"), 1);
    assert_ok(&zcc(&cache, &args), "after restart");
    assert_eq!(cache.stat("hits"), 1, "cache kept across restarts");
}

#[test]
fn comment_only_edit_hits_via_preprocessor() {
    let cache = TestCache::new();
    cache.write(
        "lib.c",
        "/* version one */\nint lib(int x) { return x + 1; }\n",
    );
    let args = ["gcc", "-O2", "-c", "lib.c", "-o", "lib.o"];
    assert_ok(&zcc(&cache, &args), "cold");
    let first = read(&cache, "lib.o");
    // Let the daemon record the preprocessed form of the first version in the background.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    cache.write(
        "lib.c",
        "/* version two */\nint lib(int x) { return x + 1; }\n",
    );
    assert_ok(&zcc(&cache, &args), "comment edit");
    assert_eq!(
        cache.stat("preprocessor_hits"),
        1,
        "comment-only edit is a hit"
    );
    assert_eq!(read(&cache, "lib.o"), first);
    assert_ok(&zcc(&cache, &args), "again");
    assert_eq!(cache.stat("direct_hits"), 1, "then a direct hit");
}

#[test]
fn gcc_and_cxx_with_versioned_and_absolute_names() {
    let cache = TestCache::new();
    cache.write(
        "v.cpp",
        "#include <vector>\nint v() { std::vector<int> a{1,2}; return a[1]; }\n",
    );
    let gxx = common::which("g++").unwrap();
    let gxx = gxx.to_str().unwrap();
    for cc in [gxx, "g++", "c++"] {
        assert_ok(&zcc(&cache, &[cc, "-c", "v.cpp", "-o", "v.o"]), cc);
    }
    assert!(cache.stat("hits") >= 1);
    if let Some(versioned) = ["g++-12", "g++-13", "g++-14"]
        .iter()
        .find(|n| common::which(n).is_some())
    {
        assert_ok(
            &zcc(&cache, &[versioned, "-c", "v.cpp", "-o", "v.o"]),
            versioned,
        );
    }
}

#[test]
fn daemon_exits_when_idle_and_restarts_on_demand() {
    let cache = TestCache::new();
    hello_project(&cache);
    let args = ["gcc", "-Iinc", "-c", "main.c", "-o", "main.o"];
    let out = cache
        .zccache()
        .env("ZCCACHE_IDLE_TIMEOUT", "1")
        .args(args)
        .output()
        .unwrap();
    assert_ok(&out, "cold");
    let mut gone = false;
    for _ in 0..50 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        if !cache.run(&["status"], None).status.success() {
            gone = true;
            break;
        }
    }
    assert!(gone, "daemon should exit after 1s idle");
    assert_ok(&zcc(&cache, &args), "restarted");
    assert_eq!(cache.stat("hits"), 1, "cache kept across the idle restart");
}

#[test]
fn debug_prefix_map_of_the_cwd_shares_across_directories() {
    let cache = TestCache::new();
    for dir in ["one", "two"] {
        cache.write(&format!("{dir}/m.c"), "int m(void){return 3;}\n");
        // Two checkouts (git worktrees) of one project.
        std::fs::create_dir_all(cache.work.join(dir).join(".git")).unwrap();
    }
    for dir in ["one", "two"] {
        let d = cache.work.join(dir);
        let map = format!("-fdebug-prefix-map={}=.", d.display());
        assert_ok(&zcc_in(&cache, &d, &["gcc", "-g", &map, "-c", "m.c"]), dir);
    }
    assert_eq!(
        cache.stat("hits"),
        1,
        "the map hides the cwd: second dir hits"
    );
    assert_eq!(
        std::fs::read(cache.work.join("one/m.o")).unwrap(),
        std::fs::read(cache.work.join("two/m.o")).unwrap()
    );
}

#[test]
fn corrupt_index_database_is_replaced_not_fatal() {
    let cache = TestCache::new();
    hello_project(&cache);
    let args = ["gcc", "-Iinc", "-c", "main.c", "-o", "main.o"];
    assert_ok(&zcc(&cache, &args), "cold");
    assert_ok(&zcc(&cache, &["stop"]), "stop");
    std::fs::write(cache.store().join("index.redb"), b"this is not a redb file").unwrap();
    assert_ok(&zcc(&cache, &args), "after corruption");
    assert!(cache.work.join("main.o").exists());
    assert_ok(&zcc(&cache, &args), "again");
    assert_eq!(cache.stat("hits"), 1, "a fresh index works again");
}

#[test]
fn several_sources_in_one_call_are_cached_per_file() {
    let cache = TestCache::new();
    cache.write("a.c", "int a(void){return 1;}\n");
    cache.write("b.c", "int b(void){return 2;}\n");
    assert_ok(&zcc(&cache, &["gcc", "-O1", "-c", "a.c", "b.c"]), "cold");
    assert_eq!(cache.stat("misses"), 2);
    let a = read(&cache, "a.o");
    let b = read(&cache, "b.o");
    std::fs::remove_file(cache.work.join("a.o")).unwrap();
    std::fs::remove_file(cache.work.join("b.o")).unwrap();
    assert_ok(&zcc(&cache, &["gcc", "-O1", "-c", "a.c", "b.c"]), "warm");
    assert_eq!(cache.stat("hits"), 2);
    assert_eq!((read(&cache, "a.o"), read(&cache, "b.o")), (a, b));
    // A failing source fails the call, and the good one is still built.
    cache.write("bad.c", "int bad(void){return nope;}\n");
    let out = zcc(&cache, &["gcc", "-c", "bad.c", "a.c"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
    assert!(cache.work.join("a.o").exists());
}

/// `LD_PRELOAD` cannot name a path with a space: with such a cache dir the access recorder
/// lives in a private per-user dir instead, and compiles are still recorded and cached.
#[test]
fn cache_dir_with_a_space_still_records_and_hits() {
    let mut cache = TestCache::new();
    cache.cache_dir = cache.root.path().join("cache dir");
    hello_project(&cache);
    for _ in 0..2 {
        let out = zcc(&cache, &["gcc", "-Iinc", "-c", "main.c", "-o", "main.o"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(cache.stat("misses"), 1);
    assert_eq!(cache.stat("hits"), 1);
    assert_eq!(cache.stat("uncacheable"), 0, "{}", cache.stats());
}

/// A sanitizer ignorelist is read by clang but named in no depfile: editing it recompiles,
/// and the object equals a bare compile with the edited list.
#[test]
fn sanitizer_ignorelist_is_an_input() {
    require_tool("clang");
    let cache = TestCache::new();
    cache.write(
        "f.c",
        "int g[4];\nint get(int i) { return g[i]; }\nint put(int i, int v) { g[i] = v; return v; }\n",
    );
    cache.write("ign.txt", "fun:put\n");
    let args = [
        "clang",
        "-O1",
        "-fsanitize=address",
        "-fsanitize-ignorelist=ign.txt",
        "-c",
        "f.c",
        "-o",
        "f.o",
    ];
    assert_ok(&zcc(&cache, &args), "first compile");
    assert_ok(&zcc(&cache, &args), "second compile");
    assert_eq!(cache.stat("hits"), 1);
    cache.write("ign.txt", "fun:put\nfun:get\n");
    assert_ok(&zcc(&cache, &args), "compile after editing the ignorelist");
    assert_eq!(cache.stat("misses"), 2, "{}", cache.stats());
    let bare = Command::new("clang")
        .args(&args[1..6])
        .args(["-o", "bare.o"])
        .current_dir(&cache.work)
        .output()
        .expect("bare clang");
    assert_ok(&bare, "bare clang");
    assert_eq!(read(&cache, "f.o"), read(&cache, "bare.o"));
}
