//! End-to-end tests of path-independent C/C++ keys (base dirs): two checkouts of one project
//! at different depths share entries when the objects do not name their checkout, never serve
//! one checkout's path to the other, and give the second build its own depfiles and
//! diagnostics — with real gcc, cmake + ninja, make and googletest.

mod common;

use common::{assert_ok, copy_tree, require_tool, zccache_bin, TestCache};
use std::path::{Path, PathBuf};
use std::process::Command;

const GTEST_SRC: &str = "/usr/src/googletest/googletest";

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// A checkout: googletest's sources copied in, a plain C file whose header warns, a C file
/// with an `assert` kept in Release (`-UNDEBUG`), a plain C++ file and a gtest program.
fn write_checkout(dir: &Path) {
    assert!(
        Path::new(GTEST_SRC).join("src/gtest-all.cc").is_file(),
        "googletest sources missing at {GTEST_SRC}; install the `googletest` package (.ci/run does)"
    );
    copy_tree(Path::new(GTEST_SRC), &dir.join("third_party/googletest"));
    write(
        &dir.join("CMakeLists.txt"),
        r#"cmake_minimum_required(VERSION 3.16)
project(checkouts C CXX)
set(BUILD_GMOCK OFF CACHE BOOL "" FORCE)
set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
set(CMAKE_C_FLAGS_RELEASE "-O1 -DNDEBUG")
set(CMAKE_CXX_FLAGS_RELEASE "-O1 -DNDEBUG")
add_subdirectory(third_party/googletest)
add_library(plain STATIC src/plain.c src/checked.c src/shapes.cc)
target_include_directories(plain PUBLIC include)
target_compile_options(plain PRIVATE -Wall)
set_source_files_properties(src/checked.c PROPERTIES COMPILE_OPTIONS "-UNDEBUG")
add_executable(smoke src/smoke_test.cc)
target_link_libraries(smoke plain gtest_main)
"#,
    );
    write(
        &dir.join("include/warn.h"),
        "static int unused_helper(void) { return 1; }\nint plain(int x);\nint checked(int x);\n",
    );
    write(
        &dir.join("src/plain.c"),
        "#include \"warn.h\"\nint plain(int x) { return x * 7 + 1; }\n",
    );
    write(
        &dir.join("src/checked.c"),
        "#include <assert.h>\n#include \"warn.h\"\nint checked(int x) { assert(x > 0); return x - 1; }\n",
    );
    write(
        &dir.join("src/shapes.cc"),
        "#include <vector>\n#include <numeric>\nint area(const std::vector<int>& v) { return std::accumulate(v.begin(), v.end(), 0); }\n",
    );
    write(
        &dir.join("src/smoke_test.cc"),
        "#include <gtest/gtest.h>\nextern \"C\" int plain(int);\nTEST(Smoke, Plain) { EXPECT_EQ(plain(1), 8); }\n",
    );
    let out = Command::new("git")
        .args(["init", "-q"])
        .current_dir(dir)
        .output()
        .expect("git init");
    assert_ok(&out, "git init");
}

/// Configures and builds `src` into `src/build`, through zccache or bare; returns the log.
fn cmake_build(
    cache: &TestCache,
    src: &Path,
    build_type: &str,
    cached: bool,
    env: &[(&str, &str)],
) -> String {
    let bdir = src.join("build");
    let mut configure = Command::new(require_tool("cmake"));
    cache.apply_env(&mut configure);
    configure
        .args(["-G", "Ninja", "-S"])
        .arg(src)
        .arg("-B")
        .arg(&bdir)
        .arg(format!("-DCMAKE_BUILD_TYPE={build_type}"));
    if cached {
        let z = zccache_bin();
        configure
            .arg(format!("-DCMAKE_C_COMPILER_LAUNCHER={}", z.display()))
            .arg(format!("-DCMAKE_CXX_COMPILER_LAUNCHER={}", z.display()));
    }
    for var in [
        "CC",
        "CXX",
        "CFLAGS",
        "CXXFLAGS",
        "CMAKE_GENERATOR",
        "MAKEFLAGS",
    ] {
        configure.env_remove(var);
    }
    configure.env("CC", "gcc").env("CXX", "g++");
    let out = configure.output().expect("cmake");
    assert_ok(&out, "cmake configure");
    let mut build = Command::new("cmake");
    cache.apply_env(&mut build);
    build.envs(env.iter().copied());
    build.arg("--build").arg(&bdir).args(["-j", "2", "-v"]);
    let out = build.output().expect("cmake --build");
    assert_ok(&out, "cmake --build");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every object below `dir`, relative to it, sorted.
fn objects(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "o") {
                out.push(path.strip_prefix(root).expect("below root").to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Builds checkout `b` bare, keeps its objects, then through zccache in the same build dir.
/// Returns (bare objects dir, cached build log).
fn bare_then_cached(
    cache: &TestCache,
    b: &Path,
    build_type: &str,
    env: &[(&str, &str)],
) -> (PathBuf, String) {
    cmake_build(cache, b, build_type, false, &[]);
    let bare = b.parent().expect("parent").join("bare-objects");
    copy_tree(&b.join("build"), &bare);
    std::fs::remove_dir_all(b.join("build")).expect("rm build");
    cache.zero();
    let log = cmake_build(cache, b, build_type, true, env);
    (bare, log)
}

#[test]
fn release_second_checkout_hits_what_does_not_name_its_checkout() {
    require_tool("ninja");
    let cache = TestCache::new();
    let a = cache.work.join("first/proj");
    let b = cache.work.join("deeper/level/second/proj");
    write_checkout(&a);
    write_checkout(&b);
    let a_root = a.to_string_lossy().into_owned();
    let b_root = b.to_string_lossy().into_owned();

    cmake_build(&cache, &a, "Release", true, &[]);
    let (bare, log) = bare_then_cached(&cache, &b, "Release", &[]);

    // Byte for byte the bare build of the second checkout; which objects name it decides
    // which may hit.
    let objs = objects(&b.join("build"));
    assert_eq!(objs, objects(&bare), "same objects as the bare build");
    let mut naming = Vec::new();
    for obj in &objs {
        let cached = std::fs::read(b.join("build").join(obj)).expect("read object");
        let reference = std::fs::read(bare.join(obj)).expect("read bare object");
        assert!(
            cached == reference,
            "{} differs from a bare build",
            obj.display()
        );
        assert!(
            !contains(&cached, &a_root),
            "{} names the first checkout",
            obj.display()
        );
        if contains(&cached, &b_root) {
            naming.push(obj.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    for name in ["gtest-all.cc.o", "gtest_main.cc.o", "checked.c.o"] {
        assert!(
            naming.iter().any(|n| n == name),
            "{name} embeds its path: {naming:?}"
        );
    }
    for name in ["plain.c.o", "shapes.cc.o"] {
        assert!(
            !naming.iter().any(|n| n == name),
            "{name} does not: {naming:?}"
        );
    }
    assert_eq!(
        cache.stat("misses"),
        naming.len() as u64,
        "objects naming the checkout miss ({naming:?})"
    );
    assert_eq!(
        cache.stat("hits"),
        (objs.len() - naming.len()) as u64,
        "every other compile hits"
    );

    // The header's warning is replayed with this checkout's path.
    let warning = format!("{b_root}/include/warn.h");
    assert!(
        log.lines()
            .any(|l| l.contains(&warning) && l.contains("unused_helper")),
        "warning replayed with the second checkout's path:\n{log}"
    );
    assert!(
        !log.contains(&a_root),
        "the first checkout's path leaked into the log:\n{log}"
    );

    // Ninja's deps name this checkout's files only.
    let out = Command::new("ninja")
        .args(["-t", "deps"])
        .current_dir(b.join("build"))
        .output()
        .expect("ninja -t deps");
    assert_ok(&out, "ninja -t deps");
    let deps = String::from_utf8_lossy(&out.stdout);
    assert!(
        deps.contains(&format!("{b_root}/include/warn.h")),
        "deps:\n{deps}"
    );
    assert!(
        !deps.contains(&a_root),
        "ninja deps name the first checkout:\n{deps}"
    );
    let smoke = Command::new(b.join("build/smoke"))
        .output()
        .expect("run smoke");
    assert_ok(&smoke, "smoke test");
}

#[test]
fn debug_builds_never_carry_the_other_checkouts_path_and_share_with_path_remap() {
    require_tool("ninja");
    let cache = TestCache::new();
    let a = cache.work.join("one/proj");
    let b = cache.work.join("x/two/proj");
    write_checkout(&a);
    write_checkout(&b);
    let a_root = a.to_string_lossy().into_owned();
    let b_root = b.to_string_lossy().into_owned();

    // Without a remap, -g objects name their checkout: the second checkout compiles its own.
    cmake_build(&cache, &a, "Debug", true, &[]);
    let (bare, _) = bare_then_cached(&cache, &b, "Debug", &[]);
    let objs = objects(&b.join("build"));
    for obj in &objs {
        let cached = std::fs::read(b.join("build").join(obj)).expect("read object");
        assert!(
            !contains(&cached, &a_root),
            "{} names the first checkout",
            obj.display()
        );
        assert!(
            cached == std::fs::read(bare.join(obj)).expect("bare"),
            "{} differs",
            obj.display()
        );
    }
    assert_eq!(
        cache.stat("hits"),
        0,
        "no -g object is shared without a prefix map"
    );

    // With ZCCACHE_PATH_REMAP=1 every compile of the second checkout hits, googletest's
    // included, and no object names either checkout.
    std::fs::remove_dir_all(a.join("build")).expect("rm");
    std::fs::remove_dir_all(b.join("build")).expect("rm");
    let remap = [("ZCCACHE_PATH_REMAP", "1")];
    cmake_build(&cache, &a, "Debug", true, &remap);
    cache.zero();
    cmake_build(&cache, &b, "Debug", true, &remap);
    let objs = objects(&b.join("build"));
    assert_eq!(
        cache.stat("hits"),
        objs.len() as u64,
        "every compile hits with the remap"
    );
    assert_eq!(cache.stat("misses"), 0);
    for obj in &objs {
        let cached = std::fs::read(b.join("build").join(obj)).expect("read object");
        for root in [&a_root, &b_root] {
            assert!(!contains(&cached, root), "{} names {root}", obj.display());
        }
    }
    let smoke = Command::new(b.join("build/smoke"))
        .output()
        .expect("run smoke");
    assert_ok(&smoke, "smoke test (remapped)");
}

/// A make project with relative and `$(CURDIR)` paths, and a file using `__FILE__`.
fn write_make_project(dir: &Path) {
    write(
        &dir.join("Makefile"),
        "OBJS = obj/a.o obj/b.o obj/c.o obj/where.o\n\
         all: $(OBJS)\n\
         obj/%.o: src/%.c\n\
         \t@mkdir -p obj\n\
         \t$(CC) -O1 -Iinclude -I$(CURDIR)/gen -MMD -c $< -o $@\n\
         obj/where.o: $(CURDIR)/src/where.c\n\
         \t@mkdir -p obj\n\
         \t$(CC) -O1 -Iinclude -c $(CURDIR)/src/where.c -o $@\n\
         -include obj/*.d\n",
    );
    write(&dir.join("include/lib.h"), "#define SCALE 3\n");
    write(&dir.join("gen/gen.h"), "#define OFFSET 11\n");
    for name in ["a", "b", "c"] {
        write(
            &dir.join(format!("src/{name}.c")),
            &format!("#include \"lib.h\"\n#include \"gen.h\"\nint {name}(int x) {{ return x * SCALE + OFFSET; }}\n"),
        );
    }
    write(
        &dir.join("src/where.c"),
        "const char *where(void) { return __FILE__; }\n",
    );
}

fn make(cache: &TestCache, dir: &Path, cc: &str, env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(require_tool("make"));
    cache.apply_env(&mut cmd);
    cmd.envs(env.iter().copied())
        .env_remove("MAKEFLAGS")
        .arg("-j4")
        .arg(format!("CC={cc}"))
        .current_dir(dir);
    cmd.output().expect("make")
}

/// Four checkouts below one base dir, built bare for reference, then through zccache: the
/// second shares what does not name its checkout; the last two are built at the same time.
fn make_checkouts_share(compiler: &str) {
    require_tool(compiler);
    let cache = TestCache::new();
    let base = cache.work.join("src");
    let checkouts: Vec<PathBuf> = ["p1", "nested/p2", "p3", "deep/er/p4"]
        .iter()
        .map(|c| base.join(c))
        .collect();
    for dir in &checkouts {
        write_make_project(dir);
    }
    let env = [("ZCCACHE_BASE_DIR", base.to_str().expect("utf-8"))];
    let cc = format!("{} {compiler}", zccache_bin().display());

    // Bare references, moved aside.
    let mut bare = Vec::new();
    for dir in &checkouts {
        assert_ok(&make(&cache, dir, compiler, &[]), "bare make");
        let keep = dir.join("bare-obj");
        std::fs::rename(dir.join("obj"), &keep).expect("move bare objects");
        bare.push(keep);
    }

    // The first checkout fills the cache; the second shares what does not name its path.
    assert_ok(&make(&cache, &checkouts[0], &cc, &env), "make p1");
    cache.zero();
    assert_ok(&make(&cache, &checkouts[1], &cc, &env), "make p2");
    assert_eq!(cache.stat("hits"), 3, "a, b, c hit in the second checkout");
    assert_eq!(
        cache.stat("misses"),
        1,
        "where.c names its checkout through __FILE__"
    );
    let deps = std::fs::read_to_string(checkouts[1].join("obj/a.d")).expect("depfile");
    let p2 = checkouts[1].to_string_lossy().into_owned();
    assert!(
        deps.contains(&format!("{p2}/gen/gen.h")),
        "depfile names this checkout:\n{deps}"
    );
    assert!(
        !deps.contains(checkouts[0].to_str().unwrap()),
        "depfile:\n{deps}"
    );

    // Two more checkouts built at the same time stay correct.
    let (c3, c4) = (checkouts[2].clone(), checkouts[3].clone());
    std::thread::scope(|s| {
        let h3 = s.spawn(|| make(&cache, &c3, &cc, &env));
        let h4 = s.spawn(|| make(&cache, &c4, &cc, &env));
        assert_ok(&h3.join().expect("thread"), "make p3");
        assert_ok(&h4.join().expect("thread"), "make p4");
    });
    for (dir, reference) in checkouts.iter().zip(&bare) {
        for name in ["a.o", "b.o", "c.o", "where.o"] {
            let got = std::fs::read(dir.join("obj").join(name)).expect("object");
            let want = std::fs::read(reference.join(name)).expect("bare object");
            assert!(
                got == want,
                "{}/obj/{name} differs from a bare build",
                dir.display()
            );
        }
    }
}

#[test]
fn make_checkouts_share_under_a_base_dir_even_built_at_the_same_time() {
    make_checkouts_share("gcc");
}

#[test]
fn clang_make_checkouts_share_under_a_base_dir() {
    make_checkouts_share("clang");
}

#[test]
fn config_names_the_base_dir_in_effect() {
    let cache = TestCache::new();
    let checkout = cache.work.join("repo");
    std::fs::create_dir_all(checkout.join(".git")).expect("mkdir .git");
    std::fs::create_dir_all(checkout.join("build")).expect("mkdir build");
    let out = cache.run(&["config"], Some(&checkout.join("build")));
    assert_ok(&out, "zccache config");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("base_dir") && text.contains("(default)"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "keyed relative to {} (git worktree)",
            checkout.display()
        )),
        "{text}"
    );
    let mut cmd = cache.zccache();
    cmd.arg("config")
        .current_dir(checkout.join("build"))
        .env("ZCCACHE_BASE_DIR", &cache.work);
    let out = cmd.output().expect("zccache config");
    assert_ok(&out, "zccache config with ZCCACHE_BASE_DIR");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("(env ZCCACHE_BASE_DIR)"), "{text}");
    assert!(
        text.contains(&format!(
            "keyed relative to {} (base_dir)",
            cache.work.display()
        )),
        "{text}"
    );
    let mut cmd = cache.zccache();
    cmd.arg("config").env("ZCCACHE_BASE_DIR", "relative/dir");
    let out = cmd.output().expect("zccache config");
    assert!(!out.status.success(), "a relative base dir is an error");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not an absolute path"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn emcc_compiles_share_between_checkouts() {
    require_tool("emcc");
    let cache = TestCache::new();
    let clean = |cmd: &mut Command| {
        for var in [
            "EM_CONFIG",
            "EM_CACHE",
            "EMCC_CFLAGS",
            "EM_COMPILER_WRAPPER",
            "EMCC_DEBUG",
        ] {
            cmd.env_remove(var);
        }
    };
    for (i, checkout) in ["one/web", "deeper/two/web"].iter().enumerate() {
        let dir = cache.work.join(checkout);
        write(&dir.join("include/scale.h"), "#define SCALE 5\n");
        write(
            &dir.join("src/calc.c"),
            "#include \"scale.h\"\nint calc(int x) { return x * SCALE; }\n",
        );
        std::fs::create_dir_all(dir.join(".git")).expect("mark the checkout");
        let src = dir.join("src/calc.c");
        let inc = format!("-I{}", dir.join("include").display());
        let args = ["-O1", &inc, "-c", src.to_str().unwrap(), "-o", "calc.o"];
        let mut bare = Command::new("emcc");
        clean(&mut bare);
        let out = bare.args(args).current_dir(&dir).output().expect("emcc");
        assert_ok(&out, "bare emcc");
        let reference = std::fs::read(dir.join("calc.o")).expect("bare object");
        std::fs::remove_file(dir.join("calc.o")).expect("rm");
        cache.zero();
        let mut cmd = cache.zccache();
        clean(&mut cmd);
        let out = cmd
            .arg("emcc")
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("zccache emcc");
        assert_ok(&out, "zccache emcc");
        let got = std::fs::read(dir.join("calc.o")).expect("object");
        assert!(
            got == reference,
            "{checkout}: object equals a bare emcc compile"
        );
        assert_eq!(
            cache.stat("hits"),
            i as u64,
            "{checkout}: the second checkout hits"
        );
    }
}

/// A recursive-make layout: 40 sibling directories of one checkout each compile their own
/// `unit.c` from their own directory with the same arguments. Each directory keeps its own
/// entries (no directory's compile pushes out another's), so a second pass hits all 40, and a
/// second checkout of the same tree hits them too.
#[test]
fn same_named_sources_in_sibling_dirs_all_hit() {
    const DIRS: usize = 40;
    let cache = TestCache::new();
    let checkouts = ["a/tree", "b/tree"];
    for checkout in checkouts {
        let root = cache.work.join(checkout);
        std::fs::create_dir_all(root.join(".git")).expect("mark the checkout");
        for d in 0..DIRS {
            write(
                &root.join(format!("mod{d:02}/unit.c")),
                &format!("int unit(int x) {{ return x * {d} + 1; }}\n"),
            );
        }
    }
    let pass = |checkout: &str| {
        for d in 0..DIRS {
            let dir = cache.work.join(checkout).join(format!("mod{d:02}"));
            let out = cache.run(&["gcc", "-O2", "-c", "unit.c", "-o", "unit.o"], Some(&dir));
            assert_ok(&out, "zccache gcc");
        }
    };
    pass(checkouts[0]);
    assert_eq!(cache.stat("misses"), DIRS as u64, "first pass: all miss");
    cache.zero();
    pass(checkouts[0]);
    assert_eq!(cache.stat("hits"), DIRS as u64, "second pass: all hit");
    cache.zero();
    pass(checkouts[1]);
    assert_eq!(cache.stat("hits"), DIRS as u64, "another checkout: all hit");
    for d in 0..DIRS {
        let dir = cache.work.join(checkouts[1]).join(format!("mod{d:02}"));
        let got = std::fs::read(dir.join("unit.o")).expect("object");
        let out = Command::new("gcc")
            .args(["-O2", "-c", "unit.c", "-o", "bare.o"])
            .current_dir(&dir)
            .output()
            .expect("gcc");
        assert_ok(&out, "bare gcc");
        let bare = std::fs::read(dir.join("bare.o")).expect("bare object");
        assert!(got == bare, "mod{d:02}: object equals a bare compile");
    }
}
