//! End-to-end tests of the CMake integration (`cmake/zccache.cmake`, `cmake/zccacheConfig.cmake`,
//! `cmake/install.sh`): real cmake + ninja / make builds — googletest and small projects — whose
//! compiles are routed through the `zccache` binary by the include or the package config, checked
//! through `zccache stats --json`, the compile command lines, and the built objects themselves.

mod common;

use common::{assert_ok, require_tool, zccache_bin, Generator, TestCache};
use std::path::{Path, PathBuf};
use std::process::Command;

/// googletest sources as installed by the distribution (`googletest` package).
const GTEST_SRC: &str = "/usr/src/googletest";

/// Parallelism for every build: the CI machines have 2 cores.
const JOBS: &str = "2";

fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// `cmake/zccache.cmake` as a CMake string literal body (forward slashes, quotes escaped).
fn module_path() -> String {
    cmake_str(&repo_path("cmake/zccache.cmake"))
}

fn cmake_str(path: &Path) -> String {
    path.to_string_lossy()
        .replace('\\', "/")
        .replace('"', "\\\"")
}

fn zccache_str() -> String {
    zccache_bin().to_string_lossy().into_owned()
}

/// A `cmake` command bound to `cache`, with the ambient compiler/launcher/flag environment removed
/// so the host's settings cannot leak into what is tested.
fn cmake(cache: &TestCache) -> Command {
    let mut cmd = Command::new(require_tool("cmake"));
    hermetic(cache, &mut cmd);
    cmd
}

fn hermetic(cache: &TestCache, cmd: &mut Command) {
    cache.apply_env(cmd);
    for var in [
        "CC",
        "CXX",
        "CFLAGS",
        "CXXFLAGS",
        "CPPFLAGS",
        "LDFLAGS",
        "CMAKE_GENERATOR",
        "CMAKE_BUILD_TYPE",
        "CMAKE_PREFIX_PATH",
        "CMAKE_TOOLCHAIN_FILE",
        "CMAKE_C_COMPILER_LAUNCHER",
        "CMAKE_CXX_COMPILER_LAUNCHER",
        "CMAKE_BUILD_PARALLEL_LEVEL",
        "MAKEFLAGS",
        "MFLAGS",
        "CCACHE_DIR",
    ] {
        cmd.env_remove(var);
    }
    // A ccache the tests run (masquerade test) must not touch the user's cache.
    cmd.env("CCACHE_DIR", cache.root.path().join("ccache"));
}

/// Runs `cmd`, asserts success, and returns stdout + stderr.
fn run(mut cmd: Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    assert_ok(&out, what);
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `cmake -S src -B build -G gen <extra…>`; returns the configure output.
fn configure(
    cache: &TestCache,
    src: &Path,
    build: &Path,
    gen: Generator,
    extra: &[&str],
) -> String {
    configure_with(cache, src, build, gen, extra, |_| {})
}

fn configure_with(
    cache: &TestCache,
    src: &Path,
    build: &Path,
    gen: Generator,
    extra: &[&str],
    tweak: impl FnOnce(&mut Command),
) -> String {
    require_tool(gen.tool());
    let mut cmd = cmake(cache);
    cmd.arg("-S")
        .arg(src)
        .arg("-B")
        .arg(build)
        .arg("-G")
        .arg(gen.cmake_name())
        .args(extra);
    tweak(&mut cmd);
    run(
        cmd,
        &format!("cmake configure ({gen:?}, {})", src.display()),
    )
}

/// `cmake --build build -j2 -v`; returns the build log (with every command line).
fn build(cache: &TestCache, build: &Path) -> String {
    let mut cmd = cmake(cache);
    cmd.arg("--build").arg(build).args(["-j", JOBS, "-v"]);
    run(cmd, &format!("cmake --build {}", build.display()))
}

/// The compile command lines of a verbose build log that compile `source`.
fn compile_lines<'a>(log: &'a str, source: &str) -> Vec<&'a str> {
    log.lines()
        .filter(|l| l.contains(" -c ") && l.contains(source))
        .collect()
}

/// Asserts `source` was compiled exactly once in `log`, with (or without) zccache as launcher.
fn assert_launched(log: &str, source: &str, through: &str, expected: bool) {
    let lines = compile_lines(log, source);
    assert_eq!(
        lines.len(),
        1,
        "expected one compile of {source} in:\n{log}"
    );
    assert_eq!(
        lines[0].contains(through),
        expected,
        "compile of {source} should {}go through {through}:\n{}",
        if expected { "" } else { "not " },
        lines[0]
    );
}

/// Object files of the targets in a build tree, relative to it, sorted.
fn objects(build: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read build dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "o" || e == "obj")
                && path.to_string_lossy().contains(".dir/")
            {
                out.push(path.strip_prefix(root).expect("under root").to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(build, build, &mut out);
    out.sort();
    out
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write fixture");
}

fn stats_line(cache: &TestCache) -> String {
    cache.stats().to_string()
}

/// Asserts the counters since the last `zero()`.
fn assert_counts(cache: &TestCache, hits: u64, misses: u64, when: &str) {
    let stats = cache.stats();
    let get = |k: &str| stats[k].as_u64().unwrap_or(0);
    assert_eq!(
        (get("hits"), get("misses"), get("errors")),
        (hits, misses, 0),
        "{when}: expected {hits} hits / {misses} misses / 0 errors; stats: {stats}"
    );
}

// ---------------------------------------------------------------------------------------------
// googletest

/// A wrapper project building googletest (gtest + gtest_main, no gmock) plus a small test
/// program linked against gtest_main.
fn write_gtest_project(dir: &Path) {
    require_tool("c++");
    assert!(
        Path::new(GTEST_SRC).join("googletest/src/gtest-all.cc").is_file(),
        "googletest sources missing at {GTEST_SRC}; install the `googletest` package (.ci/run does)"
    );
    write(
        &dir.join("CMakeLists.txt"),
        &format!(
            r#"cmake_minimum_required(VERSION 3.16)
project(zcc_gtest C CXX)
include("{module}")
set(BUILD_GMOCK OFF CACHE BOOL "" FORCE)
set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
add_subdirectory("{gtest}" googletest)
add_executable(smoke smoke_test.cc)
target_link_libraries(smoke gtest_main)
"#,
            module = module_path(),
            gtest = GTEST_SRC
        ),
    );
    write(
        &dir.join("smoke_test.cc"),
        r#"#include <gtest/gtest.h>
#include <string>

static int add(int a, int b) { return a + b; }

TEST(Smoke, Adds) { EXPECT_EQ(add(2, 3), 5); }
TEST(Smoke, Strings) { EXPECT_EQ(std::string("zc").append("cache"), "zccache"); }
"#,
    );
}

/// No build type: no `-g` (objects do not embed the build dir) and the cheapest compiles.
const GTEST_ARGS: &[&str] = &["-DCMAKE_BUILD_TYPE="];

fn run_smoke(build: &Path) {
    let out = Command::new(build.join("smoke"))
        .output()
        .expect("run the smoke test built from cache");
    assert_ok(&out, "smoke test (gtest_main)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("[  PASSED  ] 2 tests"),
        "smoke test output:\n{stdout}"
    );
}

/// First build misses on every compile, a rebuild from a clean build dir hits on every compile,
/// and the programs built from cache work. `before_first` runs once the project is written.
fn gtest_miss_then_hit(cache: &TestCache, gen: Generator, before_first: impl FnOnce(&Path, &Path)) {
    let src = cache.work.join("proj");
    let bdir = cache.work.join("build");
    write_gtest_project(&src);
    before_first(&src, &bdir);
    let program = format!("-DZCCACHE_PROGRAM={}", zccache_str());
    let mut args = vec![program.as_str()];
    args.extend_from_slice(GTEST_ARGS);

    // 1. cold: every compile is a miss.
    let log = configure(cache, &src, &bdir, gen, &args);
    assert!(
        log.contains("zccache: C, CXX compiles go through"),
        "status line missing:\n{log}"
    );
    cache.zero();
    let log = build(cache, &bdir);
    let objs = objects(&bdir);
    assert_eq!(objs.len(), 3, "gtest-all, gtest_main, smoke_test: {objs:?}");
    for source in ["gtest-all.cc", "gtest_main.cc", "smoke_test.cc"] {
        assert_launched(&log, source, &zccache_str(), true);
    }
    assert_counts(cache, 0, objs.len() as u64, "first build");
    run_smoke(&bdir);

    // 2. clean build dir: every compile is a hit.
    std::fs::remove_dir_all(&bdir).expect("remove build dir");
    configure(cache, &src, &bdir, gen, &args);
    cache.zero();
    build(cache, &bdir);
    assert_eq!(objects(&bdir), objs, "same objects after the rebuild");
    assert_counts(
        cache,
        objs.len() as u64,
        0,
        "rebuild from a clean build dir",
    );
    run_smoke(&bdir);
}

#[test]
fn googletest_ninja_misses_then_hits_with_identical_objects() {
    let cache = TestCache::new();
    let reference = cache.work.join("reference");
    gtest_miss_then_hit(&cache, Generator::Ninja, |src, bdir| {
        // An uncached reference build in the very same build path, moved aside afterwards, so the
        // objects can be compared byte for byte.
        let log = configure(
            &cache,
            src,
            bdir,
            Generator::Ninja,
            &[GTEST_ARGS[0], "-DZCCACHE_ENABLE=OFF"],
        );
        assert!(
            log.contains("zccache: disabled (ZCCACHE_ENABLE=OFF)"),
            "{log}"
        );
        cache.zero();
        let log = build(&cache, bdir);
        assert!(
            !log.contains(&zccache_str()),
            "ZCCACHE_ENABLE=OFF still launched:\n{log}"
        );
        assert_counts(&cache, 0, 0, "uncached reference build");
        std::fs::rename(bdir, &reference).expect("move the reference build aside");
    });
    let bdir = cache.work.join("build");
    let objs = objects(&bdir);
    assert_eq!(
        objects(&reference),
        objs,
        "same object set as the uncached build"
    );
    for rel in &objs {
        let cached = std::fs::read(bdir.join(rel)).expect("read cached object");
        let plain = std::fs::read(reference.join(rel)).expect("read reference object");
        assert!(
            cached == plain,
            "{} differs between the build from cache and the uncached build",
            rel.display()
        );
    }
}

#[test]
fn googletest_makefiles_misses_then_hits() {
    let cache = TestCache::new();
    gtest_miss_then_hit(&cache, Generator::Make, |_, _| {});
}

// ---------------------------------------------------------------------------------------------
// Small projects: one C and one C++ compile.

const SMALL_LIB_C: &str = "int lib_value(void) { return 42; }\n";
const SMALL_APP_CPP: &str = r#"extern "C" int lib_value(void);
int main() { return lib_value() == 42 ? 0 : 1; }
"#;

/// Writes a small C + C++ project whose CMakeLists is `head` followed by the targets.
fn write_small_project(dir: &Path, head: &str) {
    write(&dir.join("lib.c"), SMALL_LIB_C);
    write(&dir.join("app.cpp"), SMALL_APP_CPP);
    write(
        &dir.join("CMakeLists.txt"),
        &format!(
            "{head}\nadd_library(lib STATIC lib.c)\nadd_executable(app app.cpp)\ntarget_link_libraries(app lib)\n"
        ),
    );
}

fn standard_head() -> String {
    format!(
        "cmake_minimum_required(VERSION 3.16)\nproject(small C CXX)\ninclude(\"{}\")\n",
        module_path()
    )
}

fn run_app(build: &Path) {
    let out = Command::new(build.join("app")).output().expect("run app");
    assert_ok(&out, "app built through the launcher");
}

#[test]
fn user_launcher_is_kept() {
    let cache = TestCache::new();
    let src = cache.work.join("proj");
    write_small_project(&src, &standard_head());
    let program = format!("-DZCCACHE_PROGRAM={}", zccache_str());

    // Given on the command line (a cache variable).
    let bdir = cache.work.join("build-cli");
    let log = configure(
        &cache,
        &src,
        &bdir,
        Generator::Ninja,
        &[&program, "-DCMAKE_CXX_COMPILER_LAUNCHER=/usr/bin/env"],
    );
    assert!(log.contains("CXX (keeps launcher env)"), "{log}");
    cache.zero();
    let log = build(&cache, &bdir);
    assert_launched(&log, "lib.c", &zccache_str(), true);
    assert_launched(&log, "app.cpp", &zccache_str(), false);
    assert_launched(&log, "app.cpp", "/usr/bin/env", true);
    assert_counts(
        &cache,
        0,
        1,
        "C through zccache, C++ through the user's launcher",
    );
    run_app(&bdir);

    // Given in the environment (CMake >= 3.17 reads CMAKE_<LANG>_COMPILER_LAUNCHER).
    let bdir = cache.work.join("build-env");
    let log = configure_with(&cache, &src, &bdir, Generator::Ninja, &[&program], |cmd| {
        cmd.env("CMAKE_CXX_COMPILER_LAUNCHER", "/usr/bin/env");
    });
    assert!(log.contains("CXX (keeps launcher env"), "{log}");
    let log = build(&cache, &bdir);
    assert_launched(&log, "app.cpp", &zccache_str(), false);
    assert_launched(&log, "app.cpp", "/usr/bin/env", true);
    assert_launched(&log, "lib.c", &zccache_str(), true);
    run_app(&bdir);

    // The environment form alone (no include at all) routes through zccache too.
    let cache = TestCache::new();
    let plain = cache.work.join("plain");
    write_small_project(
        &plain,
        "cmake_minimum_required(VERSION 3.17)\nproject(small C CXX)\n",
    );
    let bdir = cache.work.join("build-env-only");
    configure_with(&cache, &plain, &bdir, Generator::Ninja, &[], |cmd| {
        cmd.env("CMAKE_C_COMPILER_LAUNCHER", zccache_bin());
        cmd.env("CMAKE_CXX_COMPILER_LAUNCHER", zccache_bin());
    });
    cache.zero();
    let log = build(&cache, &bdir);
    assert_launched(&log, "lib.c", &zccache_str(), true);
    assert_launched(&log, "app.cpp", &zccache_str(), true);
    assert_counts(&cache, 0, 2, "environment launcher only");
}

#[test]
fn disabled_or_missing_zccache_still_builds() {
    let cache = TestCache::new();
    let src = cache.work.join("proj");
    write_small_project(&src, &standard_head());
    let program = format!("-DZCCACHE_PROGRAM={}", zccache_str());

    let check_plain_build = |bdir: &Path| {
        let log = build(&cache, bdir);
        for launcher in [zccache_str().as_str(), "/nonexistent/"] {
            assert_launched(&log, "lib.c", launcher, false);
            assert_launched(&log, "app.cpp", launcher, false);
        }
        run_app(bdir);
    };

    // -DZCCACHE_ENABLE=OFF
    let bdir = cache.work.join("b-off");
    let log = configure(
        &cache,
        &src,
        &bdir,
        Generator::Ninja,
        &[&program, "-DZCCACHE_ENABLE=OFF"],
    );
    assert!(
        log.contains("zccache: disabled (ZCCACHE_ENABLE=OFF)"),
        "{log}"
    );
    assert!(
        !log.contains("CMake Warning"),
        "no warning when turned off:\n{log}"
    );
    check_plain_build(&bdir);

    // ZCCACHE_DISABLE=1 in the environment at configure time.
    let bdir = cache.work.join("b-env-disable");
    let log = configure_with(&cache, &src, &bdir, Generator::Make, &[&program], |cmd| {
        cmd.env("ZCCACHE_DISABLE", "1");
    });
    assert!(log.contains("zccache: disabled (ZCCACHE_DISABLE"), "{log}");
    check_plain_build(&bdir);

    // A ZCCACHE_PROGRAM that does not exist: a warning, then a normal build.
    for gen in [Generator::Ninja, Generator::Make] {
        let bdir = cache.work.join(format!("b-missing-{gen:?}"));
        let log = configure(
            &cache,
            &src,
            &bdir,
            gen,
            &["-DZCCACHE_PROGRAM=/nonexistent/zccache"],
        );
        assert!(log.contains("CMake Warning"), "{log}");
        assert!(log.contains("binary was not found"), "{log}");
        check_plain_build(&bdir);
    }

    // No zccache anywhere: PATH without it, and a HOME without ~/.cargo/bin.
    let path = std::env::var_os("PATH").unwrap_or_default();
    let path = std::env::join_paths(
        std::env::split_paths(&path).filter(|dir| !dir.join("zccache").exists()),
    )
    .expect("join PATH");
    let home = cache.work.join("empty-home");
    std::fs::create_dir_all(&home).expect("mkdir home");
    let bdir = cache.work.join("b-not-installed");
    let log = configure_with(&cache, &src, &bdir, Generator::Ninja, &[], |cmd| {
        cmd.env("PATH", &path)
            .env("HOME", &home)
            .env_remove("CARGO_HOME");
    });
    assert!(log.contains("binary was not found"), "{log}");
    check_plain_build(&bdir);
}

#[test]
fn paths_with_spaces() {
    for gen in [Generator::Ninja, Generator::Make] {
        let cache = TestCache::new();
        let root = cache.work.join("dir with spaces");
        let src = root.join("my project");
        let bdir = root.join("build dir");
        write_small_project(&src, &standard_head());
        // The binary itself at a path with spaces, too.
        let bin_dir = root.join("bin dir");
        std::fs::create_dir_all(&bin_dir).expect("mkdir bin dir");
        let bin = bin_dir.join("zccache");
        std::os::unix::fs::symlink(zccache_bin(), &bin).expect("symlink zccache");
        let program = format!("-DZCCACHE_PROGRAM={}", bin.display());

        configure(&cache, &src, &bdir, gen, &[&program]);
        cache.zero();
        let log = build(&cache, &bdir);
        assert_launched(&log, "lib.c", "bin dir", true);
        assert_counts(&cache, 0, 2, &format!("{gen:?} first build"));
        run_app(&bdir);

        std::fs::remove_dir_all(&bdir).expect("remove build dir");
        configure(&cache, &src, &bdir, gen, &[&program]);
        cache.zero();
        build(&cache, &bdir);
        assert_counts(&cache, 2, 0, &format!("{gen:?} rebuild"));
        run_app(&bdir);
    }
}

#[test]
fn included_twice_before_project_and_late_language() {
    let cache = TestCache::new();
    let src = cache.work.join("proj");
    let module = module_path();
    write_small_project(
        &src,
        &format!(
            "cmake_minimum_required(VERSION 3.16)\ninclude(\"{module}\")\nproject(late C)\n\
             include(\"{module}\")\nenable_language(CXX)\n"
        ),
    );
    let bdir = cache.work.join("build");
    let program = format!("-DZCCACHE_PROGRAM={}", zccache_str());
    let log = configure(&cache, &src, &bdir, Generator::Ninja, &[&program]);
    let status: Vec<&str> = log.lines().filter(|l| l.contains("zccache:")).collect();
    let expected = [
        format!("-- zccache: C compiles go through {}", zccache_str()),
        format!("-- zccache: CXX compiles go through {}", zccache_str()),
    ];
    assert_eq!(
        status,
        expected.iter().map(String::as_str).collect::<Vec<_>>(),
        "one status line per language, none for the second include:\n{log}"
    );
    cache.zero();
    let log = build(&cache, &bdir);
    assert_launched(&log, "lib.c", &zccache_str(), true);
    assert_launched(&log, "app.cpp", &zccache_str(), true);
    assert_counts(&cache, 0, 2, "first build");

    // Reconfiguring an existing build dir keeps the launchers.
    let log = configure(&cache, &src, &bdir, Generator::Ninja, &[]);
    assert_eq!(log.matches("compiles go through").count(), 2, "{log}");
}

#[test]
fn ccache_masquerade_compiler_is_not_wrapped() {
    let cache = TestCache::new();
    let ccache = require_tool("ccache");
    let masq = cache.work.join("masq");
    std::fs::create_dir_all(&masq).expect("mkdir");
    for name in ["gcc", "g++"] {
        std::os::unix::fs::symlink(&ccache, masq.join(name)).expect("masquerade symlink");
    }
    let src = cache.work.join("proj");
    write_small_project(&src, &standard_head());
    let bdir = cache.work.join("build");
    let log = configure(
        &cache,
        &src,
        &bdir,
        Generator::Ninja,
        &[
            &format!("-DZCCACHE_PROGRAM={}", zccache_str()),
            &format!("-DCMAKE_C_COMPILER={}", masq.join("gcc").display()),
            &format!("-DCMAKE_CXX_COMPILER={}", masq.join("g++").display()),
        ],
    );
    assert!(log.contains("is already a cache"), "{log}");
    cache.zero();
    let log = build(&cache, &bdir);
    assert_launched(&log, "lib.c", &zccache_str(), false);
    assert_launched(&log, "app.cpp", &zccache_str(), false);
    assert_counts(&cache, 0, 0, "nothing went through zccache");
    run_app(&bdir);
}

#[test]
fn emscripten_toolchain() {
    let cache = TestCache::new();
    let emcmake = require_tool("emcmake");
    require_tool("emcc");
    let src = cache.work.join("proj");
    write_small_project(&src, &standard_head());
    let bdir = cache.work.join("build");
    let program = format!("-DZCCACHE_PROGRAM={}", zccache_str());
    let emconfigure = |bdir: &Path| {
        let mut cmd = Command::new(&emcmake);
        hermetic(&cache, &mut cmd);
        cmd.arg(require_tool("cmake"))
            .arg("-S")
            .arg(&src)
            .arg("-B")
            .arg(bdir)
            .args(["-G", "Ninja", &program, "-DCMAKE_BUILD_TYPE="]);
        run(cmd, "emcmake cmake")
    };
    let log = emconfigure(&bdir);
    assert!(log.contains("zccache: C, CXX compiles go through"), "{log}");
    cache.zero();
    let log = build(&cache, &bdir);
    assert_launched(&log, "lib.c", &zccache_str(), true);
    assert_launched(&log, "lib.c", "emcc", true);
    assert_launched(&log, "app.cpp", &zccache_str(), true);
    assert!(bdir.join("app.wasm").is_file(), "app.wasm built");
    assert_counts(&cache, 0, 2, "first emscripten build");

    std::fs::remove_dir_all(&bdir).expect("remove build dir");
    emconfigure(&bdir);
    cache.zero();
    build(&cache, &bdir);
    assert_counts(&cache, 2, 0, "emscripten rebuild");
}

/// The Xcode and Visual Studio generators do not exist on Linux; their code paths are checked
/// in `cmake -P` script mode, where CMAKE_GENERATOR is an ordinary variable.
#[test]
fn xcode_launcher_scripts_and_visual_studio_message() {
    let cache = TestCache::new();
    let cc = require_tool("cc");
    let cxx = require_tool("c++");
    let module = module_path();
    let dir = cache.work.join("xcode");
    write(
        &dir.join("xcode.cmake"),
        &format!(
            r#"set(CMAKE_GENERATOR Xcode)
set(CMAKE_C_COMPILER "{cc}")
set(CMAKE_CXX_COMPILER "{cxx}")
set(ZCCACHE_PROGRAM "{zccache}")
set(_ZCCACHE_DEFINE_ONLY TRUE)
include("{module}")
zccache_enable(LANGUAGES C CXX)
file(WRITE "${{CMAKE_BINARY_DIR}}/result.txt" "CC=${{CMAKE_XCODE_ATTRIBUTE_CC}}\nCXX=${{CMAKE_XCODE_ATTRIBUTE_CXX}}\nLD=${{CMAKE_XCODE_ATTRIBUTE_LD}}\nLAUNCHER=${{CMAKE_C_COMPILER_LAUNCHER}}\n")
"#,
            cc = cmake_str(&cc),
            cxx = cmake_str(&cxx),
            zccache = cmake_str(&zccache_bin()),
        ),
    );
    let mut cmd = cmake(&cache);
    cmd.arg("-P").arg("xcode.cmake").current_dir(&dir);
    let log = run(cmd, "cmake -P xcode.cmake");
    assert!(log.contains("Xcode launcher scripts"), "{log}");
    let result = std::fs::read_to_string(dir.join("result.txt")).expect("result.txt");
    let launch_c = dir.join("CMakeFiles/zccache/launch-c");
    assert!(
        result.contains(&format!("CC={}\n", launch_c.display())),
        "{result}"
    );
    assert!(
        result.contains("CMakeFiles/zccache/launch-cxx\n"),
        "{result}"
    );
    assert!(
        result.contains(&format!("LD={}\n", cc.display())),
        "{result}"
    );
    assert!(
        result.contains("LAUNCHER=\n"),
        "no launcher variable for Xcode: {result}"
    );

    // The generated script compiles through zccache: a miss, then a hit.
    write(&dir.join("hello.c"), "int hello(void) { return 1; }\n");
    for (hits, misses) in [(0, 1), (1, 0)] {
        let _ = std::fs::remove_file(dir.join("hello.o"));
        cache.zero();
        let mut cmd = Command::new(&launch_c);
        hermetic(&cache, &mut cmd);
        cmd.args(["-c", "hello.c", "-o", "hello.o"])
            .current_dir(&dir);
        run(cmd, "Xcode launch-c script");
        assert!(dir.join("hello.o").is_file());
        assert_counts(&cache, hits, misses, "compile through launch-c");
    }

    // Visual Studio: a clear warning, no launcher, configure goes on.
    write(
        &dir.join("vs.cmake"),
        &format!(
            r#"set(CMAKE_GENERATOR "Visual Studio 17 2022")
set(ZCCACHE_PROGRAM "{zccache}")
include("{module}")
zccache_enable(LANGUAGES C CXX)
message(STATUS "launcher=[${{CMAKE_C_COMPILER_LAUNCHER}}] configure continues")
"#,
            zccache = cmake_str(&zccache_bin()),
        ),
    );
    let mut cmd = cmake(&cache);
    cmd.arg("-P").arg("vs.cmake").current_dir(&dir);
    let log = run(cmd, "cmake -P vs.cmake");
    assert!(log.contains("generator is not supported yet"), "{log}");
    assert!(log.contains("launcher=[] configure continues"), "{log}");
}

#[test]
fn package_config_via_install_script() {
    let cache = TestCache::new();
    let prefix = cache.work.join("pre fix");
    let mut cmd = Command::new("sh");
    hermetic(&cache, &mut cmd);
    cmd.arg(repo_path("cmake/install.sh"))
        .arg(&prefix)
        .arg(zccache_bin());
    run(cmd, "cmake/install.sh");
    let pkg = prefix.join("lib/cmake/zccache");
    for file in [
        "zccacheConfig.cmake",
        "zccacheConfigVersion.cmake",
        "zccache.cmake",
    ] {
        assert!(
            pkg.join(file).is_file(),
            "{file} installed in {}",
            pkg.display()
        );
    }
    let installed_bin = prefix.join("bin/zccache");
    assert!(installed_bin.is_file(), "binary installed");

    let src = cache.work.join("proj");
    write_small_project(
        &src,
        "cmake_minimum_required(VERSION 3.16)\nproject(pkg C CXX)\n\
         find_package(zccache REQUIRED)\nzccache_enable()\n\
         message(STATUS \"zccache_EXECUTABLE=${zccache_EXECUTABLE}\")\n",
    );
    let home = cache.work.join("empty-home");
    std::fs::create_dir_all(&home).expect("mkdir home");

    // Found through CMAKE_PREFIX_PATH…
    let bdir = cache.work.join("build-prefix");
    let log = configure_with(
        &cache,
        &src,
        &bdir,
        Generator::Ninja,
        &[&format!("-DCMAKE_PREFIX_PATH={}", prefix.display())],
        |cmd| {
            cmd.env("HOME", &home);
        },
    );
    assert!(
        log.contains(&format!("zccache_EXECUTABLE={}", installed_bin.display())),
        "{log}"
    );
    cache.zero();
    let log = build(&cache, &bdir);
    assert_launched(&log, "lib.c", &installed_bin.to_string_lossy(), true);
    assert_launched(&log, "app.cpp", &installed_bin.to_string_lossy(), true);
    assert_counts(&cache, 0, 2, "package config build");
    run_app(&bdir);

    // …and through PATH alone (<prefix>/bin on PATH => <prefix>/lib/cmake searched).
    let path = std::env::var_os("PATH").unwrap_or_default();
    let path = std::env::join_paths(
        std::iter::once(prefix.join("bin")).chain(std::env::split_paths(&path)),
    )
    .expect("join PATH");
    let bdir = cache.work.join("build-path");
    let log = configure_with(&cache, &src, &bdir, Generator::Make, &[], |cmd| {
        cmd.env("PATH", &path).env("HOME", &home);
    });
    assert!(
        log.contains(&format!("zccache_EXECUTABLE={}", installed_bin.display())),
        "{log}\nstats: {}",
        stats_line(&cache)
    );
}
