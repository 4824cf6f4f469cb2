//! End-to-end tests of cached gcc/clang links with the real tools (gcc, clang, ld.bfd, lld,
//! gold, make, cmake + googletest): outputs equal bare links byte for byte and run, every
//! input the linker resolved is keyed (objects, archives, `-L`/`LIBRARY_PATH` search results,
//! linker scripts, flags), and links that cannot be cached pass through with a reason.

mod common;

use common::{assert_ok, require_tool, zccache_bin, TestCache};
use std::path::Path;
use std::process::{Command, Output};

/// Runs a bare tool in the work dir and asserts success.
fn bare(cache: &TestCache, args: &[&str]) -> Output {
    cache.bare_tool(args)
}

/// Runs `zccache <args…>` in the work dir and asserts success.
fn zcc(cache: &TestCache, args: &[&str]) -> Output {
    cache.zccache_ok(args)
}

/// (hits, misses, uncacheable) of one stats family (`gcc-link`, `clang-link`, `gcc`…).
fn family(cache: &TestCache, name: &str) -> (u64, u64, u64) {
    let stats = cache.stats();
    let f = &stats["families"][name];
    let get = |k: &str| f[k].as_u64().unwrap_or(0);
    (get("hits"), get("misses"), get("uncacheable"))
}

fn read(cache: &TestCache, rel: &str) -> Vec<u8> {
    std::fs::read(cache.work.join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

/// Runs a program of the work dir and returns its stdout.
fn run_program(cache: &TestCache, rel: &str) -> String {
    let out = Command::new(cache.work.join(rel))
        .current_dir(&cache.work)
        .output()
        .unwrap_or_else(|e| panic!("run {rel}: {e}"));
    assert_ok(&out, rel);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("stat output")
        .permissions()
        .mode()
        & 0o111
        != 0
}

/// The GNU build-id note of an ELF file, as `readelf -n` prints it.
fn build_id(path: &Path) -> Option<String> {
    let out = Command::new("readelf").arg("-n").arg(path).output().ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.trim().strip_prefix("Build ID: ").map(str::to_string))
}

/// Links `out` bare, then through zccache twice (removing the output before each): the miss
/// and the hit both produce exactly the bare link's bytes, with the same build-id and an
/// executable mode. Returns the bare bytes.
fn link_matches_bare(cache: &TestCache, family_name: &str, link: &[&str], out: &str) -> Vec<u8> {
    let mut args: Vec<&str> = link.to_vec();
    args.extend(["-o", out]);
    let _ = std::fs::remove_file(cache.work.join(out));
    bare(cache, &args);
    let reference = read(cache, out);
    let reference_id = build_id(&cache.work.join(out));
    let reference_exec = is_executable(&cache.work.join(out));
    let (hits, misses, _) = family(cache, family_name);
    for (what, expect_hit) in [("miss", false), ("hit", true)] {
        std::fs::remove_file(cache.work.join(out)).expect("remove output");
        zcc(cache, &args);
        let (h, m, _) = family(cache, family_name);
        if expect_hit {
            assert_eq!((h, m), (hits + 1, misses + 1), "{link:?}: {what}");
        } else {
            assert_eq!((h, m), (hits, misses + 1), "{link:?}: {what}");
        }
        assert!(
            read(cache, out) == reference,
            "{link:?}: the {what} differs from a bare link"
        );
        assert_eq!(build_id(&cache.work.join(out)), reference_id, "{link:?}");
        assert_eq!(
            is_executable(&cache.work.join(out)),
            reference_exec,
            "{link:?}: mode bits"
        );
    }
    reference
}

const MAIN_C: &str = "#include <stdio.h>\nint f(void);\nint g(void);\n\
int main(void) { printf(\"%d\\n\", f() + g()); return 0; }\n";

fn write_sources(cache: &TestCache) {
    cache.write("main.c", MAIN_C);
    cache.write("f.c", "int f(void) { return 40; }\n");
    cache.write("g.c", "int g(void) { return 2; }\n");
}

/// Compiles `sources` (bare) into objects named after them.
fn compile(cache: &TestCache, cc: &str, flags: &[&str], sources: &[&str]) {
    for src in sources {
        let obj = src.replace(".c", ".o");
        let mut args = vec![cc];
        args.extend_from_slice(flags);
        args.extend(["-c", src, "-o", &obj]);
        bare(cache, &args);
    }
}

#[test]
fn programs_and_shared_libraries_equal_bare_links_and_run() {
    for tool in ["gcc", "clang", "ld.lld", "ld.bfd", "ld.gold", "readelf"] {
        require_tool(tool);
    }
    let cache = TestCache::new();
    write_sources(&cache);
    compile(&cache, "gcc", &["-O2", "-fPIC"], &["main.c", "f.c", "g.c"]);
    let objs = ["main.o", "f.o", "g.o"];
    let with = |pre: &[&'static str]| -> Vec<&str> {
        let mut v = pre.to_vec();
        v.extend(objs);
        v
    };
    for (fam, link, out) in [
        ("gcc-link", with(&["gcc"]), "p_bfd"),
        ("gcc-link", with(&["gcc", "-fuse-ld=bfd", "-pie"]), "p_pie"),
        (
            "gcc-link",
            with(&["gcc", "-fuse-ld=lld", "-Wl,-O1"]),
            "p_gcc_lld",
        ),
        ("clang-link", with(&["clang", "-fuse-ld=lld"]), "p_lld"),
        ("gcc-link", with(&["g++", "-fuse-ld=gold"]), "p_gold"),
        ("gcc-link", with(&["gcc", "-static"]), "p_static"),
    ] {
        let bytes = link_matches_bare(&cache, fam, &link, out);
        assert!(!bytes.is_empty());
        assert!(build_id(&cache.work.join(out)).is_some(), "{out}: build-id");
        assert_eq!(run_program(&cache, out), "42\n", "{out}");
    }

    // A shared library, and a program using it through an rpath.
    link_matches_bare(
        &cache,
        "gcc-link",
        &["gcc", "-shared", "-Wl,-soname,libfg.so", "f.o", "g.o"],
        "libfg.so",
    );
    link_matches_bare(
        &cache,
        "clang-link",
        &["clang", "-fuse-ld=lld", "-shared", "f.o", "g.o"],
        "libfg_lld.so",
    );
    let rpath = format!("-Wl,-rpath,{}", cache.work.display());
    link_matches_bare(
        &cache,
        "gcc-link",
        &["gcc", "main.o", "-L.", "-lfg", &rpath],
        "p_shared",
    );
    assert_eq!(run_program(&cache, "p_shared"), "42\n");

    // `-r`: a relocatable object, and a response file.
    link_matches_bare(&cache, "gcc-link", &["gcc", "-r", "f.o", "g.o"], "fg.o");
    cache.write("link.rsp", "main.o f.o\ng.o -O2\n");
    link_matches_bare(&cache, "gcc-link", &["gcc", "@link.rsp"], "p_rsp");
    assert_eq!(run_program(&cache, "p_rsp"), "42\n");

    // A map file is an output: restored on a hit.
    zcc(
        &cache,
        &[
            "gcc",
            "main.o",
            "f.o",
            "g.o",
            "-Wl,-Map=p.map",
            "-o",
            "p_map",
        ],
    );
    let map = read(&cache, "p.map");
    std::fs::remove_file(cache.work.join("p.map")).unwrap();
    let (hits, _, _) = family(&cache, "gcc-link");
    zcc(
        &cache,
        &[
            "gcc",
            "main.o",
            "f.o",
            "g.o",
            "-Wl,-Map=p.map",
            "-o",
            "p_map",
        ],
    );
    assert_eq!(family(&cache, "gcc-link").0, hits + 1);
    assert_eq!(read(&cache, "p.map"), map);
    assert_eq!(cache.stat("errors"), 0);
}

#[test]
fn changed_inputs_and_flags_miss() {
    let cache = TestCache::new();
    write_sources(&cache);
    compile(&cache, "gcc", &["-O2"], &["main.c", "f.c", "g.c"]);
    bare(&cache, &["ar", "rcs", "libg.a", "g.o"]);
    cache.write("ver.map", "{ global: main; local: *; };\n");
    let link = [
        "gcc",
        "main.o",
        "f.o",
        "-L.",
        "-lg",
        "-Wl,--version-script=ver.map",
        "-o",
        "prog",
    ];
    let check = |what: &str, hit: bool, output: &str| {
        let (h, m, _) = family(&cache, "gcc-link");
        std::fs::remove_file(cache.work.join("prog")).ok();
        zcc(&cache, &link);
        let (h2, m2, _) = family(&cache, "gcc-link");
        let got = if hit { (h + 1, m) } else { (h, m + 1) };
        assert_eq!(
            (h2, m2),
            got,
            "{what}: expected a {}",
            if hit { "hit" } else { "miss" }
        );
        assert_eq!(run_program(&cache, "prog"), output, "{what}");
    };
    check("cold", false, "42\n");
    check("warm", true, "42\n");

    // One object edited.
    cache.write("f.c", "int f(void) { return 50; }\n");
    compile(&cache, "gcc", &["-O2"], &["f.c"]);
    check("edited object", false, "52\n");
    check("edited object, warm", true, "52\n");

    // The static library (found through -L) rebuilt with other content.
    cache.write("g.c", "int g(void) { return 3; }\n");
    compile(&cache, "gcc", &["-O2"], &["g.c"]);
    std::fs::remove_file(cache.work.join("libg.a")).unwrap();
    bare(&cache, &["ar", "rcs", "libg.a", "g.o"]);
    check("edited static library", false, "53\n");
    check("edited static library, warm", true, "53\n");

    // The version script (read by the linker only).
    cache.write("ver.map", "{ global: main; f; local: *; };\n");
    check("edited version script", false, "53\n");
    check("edited version script, warm", true, "53\n");

    // The flags.
    let (h, m, _) = family(&cache, "gcc-link");
    zcc(
        &cache,
        &[
            "gcc",
            "main.o",
            "f.o",
            "-L.",
            "-lg",
            "-Wl,--version-script=ver.map",
            "-Wl,-z,now",
            "-o",
            "prog",
        ],
    );
    assert_eq!(
        family(&cache, "gcc-link"),
        (h, m + 1, 0),
        "other flags miss"
    );

    // A linker script given with -T: editing it misses.
    cache.write(
        "prog.ld",
        "SECTIONS { .zcc_note : { LONG(1) } } INSERT AFTER .text;\n",
    );
    let tlink = [
        "gcc", "main.o", "f.o", "-L.", "-lg", "-T", "prog.ld", "-o", "tprog",
    ];
    zcc(&cache, &tlink);
    let first = read(&cache, "tprog");
    zcc(&cache, &tlink);
    let (h, m, _) = family(&cache, "gcc-link");
    cache.write(
        "prog.ld",
        "SECTIONS { .zcc_note : { LONG(2) } } INSERT AFTER .text;\n",
    );
    zcc(&cache, &tlink);
    assert_eq!(
        family(&cache, "gcc-link"),
        (h, m + 1, 0),
        "edited -T script"
    );
    assert_ne!(read(&cache, "tprog"), first);
    assert_eq!(run_program(&cache, "tprog"), "53\n");
    assert_eq!(cache.stat("errors"), 0);
}

#[test]
fn lto_links_hit_and_run() {
    require_tool("ld.lld");
    let cache = TestCache::new();
    write_sources(&cache);
    // gcc: -flto=auto runs lto-wrapper, make and lto1 under the recorder.
    for src in ["main", "f", "g"] {
        let seed = format!("-frandom-seed={src}");
        bare(
            &cache,
            &[
                "gcc",
                "-O2",
                "-flto",
                &seed,
                "-c",
                &format!("{src}.c"),
                "-o",
                &format!("{src}.gl.o"),
            ],
        );
        bare(
            &cache,
            &[
                "clang",
                "-O2",
                "-flto",
                "-c",
                &format!("{src}.c"),
                "-o",
                &format!("{src}.cl.o"),
            ],
        );
    }
    link_matches_bare(
        &cache,
        "gcc-link",
        &["gcc", "-O2", "-flto=auto", "main.gl.o", "f.gl.o", "g.gl.o"],
        "p_gcc_lto",
    );
    assert_eq!(run_program(&cache, "p_gcc_lto"), "42\n");
    link_matches_bare(
        &cache,
        "clang-link",
        &[
            "clang",
            "-O2",
            "-flto",
            "-fuse-ld=lld",
            "main.cl.o",
            "f.cl.o",
            "g.cl.o",
        ],
        "p_clang_lto",
    );
    assert_eq!(run_program(&cache, "p_clang_lto"), "42\n");
    assert_eq!(cache.stat("errors"), 0);
}

#[test]
fn a_library_shadowing_the_one_used_misses() {
    let cache = TestCache::new();
    write_sources(&cache);
    compile(&cache, "gcc", &["-O2"], &["main.c", "f.c", "g.c"]);
    std::fs::create_dir_all(cache.work.join("first")).unwrap();
    std::fs::create_dir_all(cache.work.join("second")).unwrap();
    bare(&cache, &["ar", "rcs", "second/libg.a", "g.o"]);
    let link = [
        "gcc", "main.o", "f.o", "-Lfirst", "-Lsecond", "-lg", "-o", "prog",
    ];
    zcc(&cache, &link);
    zcc(&cache, &link);
    assert_eq!(family(&cache, "gcc-link"), (1, 1, 0));
    assert_eq!(run_program(&cache, "prog"), "42\n");

    // A libg.a appears in the earlier -L dir: the linker would now use it.
    cache.write("g2.c", "int g(void) { return 7; }\n");
    bare(&cache, &["gcc", "-O2", "-c", "g2.c", "-o", "g2.o"]);
    bare(&cache, &["ar", "rcs", "first/libg.a", "g2.o"]);
    zcc(&cache, &link);
    assert_eq!(family(&cache, "gcc-link"), (1, 2, 0), "shadowing library");
    assert_eq!(run_program(&cache, "prog"), "47\n");
    zcc(&cache, &link);
    assert_eq!(family(&cache, "gcc-link"), (2, 2, 0));
}

/// `LIBRARY_PATH` decides which file `-l` resolves to: changing it misses. (gcc and clang
/// search `LIBRARY_PATH` after their default dirs, so a `libm.a` there does not replace the
/// system's `-lm`: that link is a hit, and equals a bare link.)
#[test]
fn libraries_resolving_elsewhere_through_library_path_miss() {
    let cache = TestCache::new();
    cache.write(
        "main.c",
        "#include <stdio.h>\n#include <math.h>\nint zcc(void);\n\
         int main(void) { printf(\"%d %g\\n\", zcc(), sqrt(16.0)); return 0; }\n",
    );
    bare(
        &cache,
        &["gcc", "-O0", "-fno-builtin", "-c", "main.c", "-o", "main.o"],
    );
    for (dir, value) in [("a", 1), ("b", 2)] {
        cache.write(
            &format!("{dir}/zcc.c"),
            &format!("int zcc(void) {{ return {value}; }}\n"),
        );
        let obj = format!("{dir}/zcc.o");
        bare(&cache, &["gcc", "-c", &format!("{dir}/zcc.c"), "-o", &obj]);
        bare(&cache, &["ar", "rcs", &format!("{dir}/libzcc.a"), &obj]);
    }
    let link = ["gcc", "main.o", "-lzcc", "-lm", "-o", "prog"];
    let with_library_path = |value: &str| {
        let paths: Vec<String> = value
            .split(':')
            .map(|d| cache.work.join(d).display().to_string())
            .collect();
        let mut cmd = cache.zccache();
        cmd.args(link).env("LIBRARY_PATH", paths.join(":"));
        assert_ok(&cmd.output().expect("spawn"), "link");
        let mut bare_cmd = Command::new("gcc");
        bare_cmd
            .args(&link[1..5])
            .arg("bare_prog")
            .env("LIBRARY_PATH", paths.join(":"))
            .current_dir(&cache.work);
        assert_ok(&bare_cmd.output().expect("spawn"), "bare link");
        assert!(
            read(&cache, "prog") == read(&cache, "bare_prog"),
            "LIBRARY_PATH={value}: differs from a bare link"
        );
    };
    with_library_path("a");
    with_library_path("a");
    assert_eq!(family(&cache, "gcc-link"), (1, 1, 0));
    assert_eq!(run_program(&cache, "prog"), "1 4\n");

    with_library_path("b:a");
    assert_eq!(family(&cache, "gcc-link"), (1, 2, 0), "LIBRARY_PATH=b:a");
    assert_eq!(run_program(&cache, "prog"), "2 4\n");

    // A libm.a in a LIBRARY_PATH dir: the linker still takes the system's libm first.
    cache.write("b/fake.c", "double sqrt(double x) { return x; }\n");
    bare(&cache, &["gcc", "-c", "b/fake.c", "-o", "b/fake.o"]);
    bare(&cache, &["ar", "rcs", "b/libm.a", "b/fake.o"]);
    with_library_path("b:a");
    assert_eq!(run_program(&cache, "prog"), "2 4\n");
    with_library_path("a");
    assert_eq!(run_program(&cache, "prog"), "1 4\n");
    let (hits, misses, _) = family(&cache, "gcc-link");
    assert_eq!(hits + misses, 5);
}

#[test]
fn links_that_cannot_be_cached_pass_through_with_reasons() {
    let cache = TestCache::new();
    write_sources(&cache);
    compile(&cache, "gcc", &["-O2"], &["main.c", "f.c", "g.c"]);
    // A random build-id: not reproducible by design.
    zcc(
        &cache,
        &[
            "gcc",
            "main.o",
            "f.o",
            "g.o",
            "-Wl,--build-id=uuid",
            "-o",
            "p1",
        ],
    );
    assert_eq!(cache.reason("link_not_reproducible"), 1);
    // A map file named inside a linker response file: written, but not a known output.
    cache.write("ld.rsp", "-Map=hidden.map\n");
    zcc(
        &cache,
        &["gcc", "main.o", "f.o", "g.o", "-Wl,@ld.rsp", "-o", "p2"],
    );
    assert_eq!(cache.reason("link_undeclared_output"), 1);
    assert!(cache.work.join("hidden.map").is_file());
    // The same, with the build moving the file away the moment the link returns: the wrapper
    // checks what the link left before it leaves, since the daemon may look only later
    // (whether it would is up to the scheduler; the check itself is tested deterministically
    // in `client::leave_early`).
    for round in 0..3 {
        let script = format!(
            "\"$ZCC\" gcc main.o f.o g.o -Wl,--defsym=zcc_moved_{round}=0 -Wl,@ld.rsp -o p2 \
             && mv hidden.map moved.map"
        );
        cache.script_ok(&script, "link then move its map away");
        assert_eq!(cache.reason("link_undeclared_output"), 2 + round);
    }
    // Compile and link in one command.
    zcc(&cache, &["gcc", "main.c", "f.o", "g.o", "-o", "p3"]);
    assert_eq!(cache.reason("compile_and_link"), 1);
    for p in ["p1", "p2", "p3"] {
        assert_eq!(run_program(&cache, p), "42\n", "{p}");
    }
    let stats = cache.stats();
    assert_eq!(stats["hits"].as_u64(), Some(0), "{stats}");
    assert_eq!(stats["errors"].as_u64(), Some(0), "{stats}");
}

const MAKEFILE: &str = r#"CC = $(ZCCACHE) gcc
AR = $(ZCCACHE) ar
CFLAGS = -O2 -fPIC
PROGS = app1 app2 app3
all: $(PROGS) libshared.so
libutil.a: util.o
	$(AR) rcs $@ $^
libshared.so: shared.o
	$(CC) -shared -o $@ $^
app%: app%.o libutil.a
	$(CC) -o $@ $< -L. -lutil -lm
%.o: %.c
	$(CC) $(CFLAGS) -c $< -o $@
clean:
	rm -f *.o *.a *.so $(PROGS)
"#;

#[test]
fn make_project_rebuilds_links_from_cache() {
    require_tool("make");
    let cache = TestCache::new();
    cache.write("Makefile", MAKEFILE);
    cache.write("util.c", "int util(int x) { return x * 2; }\n");
    cache.write("shared.c", "int shared(void) { return 1; }\n");
    for i in 1..=3 {
        cache.write(
            &format!("app{i}.c"),
            &format!(
                "#include <stdio.h>\n#include <math.h>\nint util(int);\n\
                 int main(void) {{ printf(\"%d\\n\", util({i}) + (int)sqrt(16.0)); return 0; }}\n"
            ),
        );
    }
    let make = |target: &str| {
        let mut cmd = Command::new("make");
        cache.apply_env(&mut cmd);
        cmd.env("ZCCACHE", zccache_bin())
            .env_remove("MAKEFLAGS")
            .arg(target)
            .current_dir(&cache.work);
        assert_ok(
            &cmd.output().expect("spawn make"),
            &format!("make {target}"),
        );
    };
    make("all");
    assert_eq!(family(&cache, "gcc-link"), (0, 4, 0));
    assert_eq!(family(&cache, "ar"), (0, 1, 0));
    let first: Vec<Vec<u8>> = ["app1", "app2", "app3", "libshared.so"]
        .iter()
        .map(|p| read(&cache, p))
        .collect();
    make("clean");
    cache.zero();
    make("all");
    assert_eq!(
        family(&cache, "gcc-link"),
        (4, 0, 0),
        "rebuild: every link hits"
    );
    assert_eq!(
        family(&cache, "gcc"),
        (5, 0, 0),
        "rebuild: every compile hits"
    );
    assert_eq!(family(&cache, "ar"), (1, 0, 0), "rebuild: the archive hits");
    for (i, p) in ["app1", "app2", "app3", "libshared.so"].iter().enumerate() {
        assert!(read(&cache, p) == first[i], "{p} differs after the rebuild");
    }
    for i in 1..=3 {
        assert_eq!(
            run_program(&cache, &format!("app{i}")),
            format!("{}\n", 2 * i + 4)
        );
    }
}

const GTEST_SRC: &str = "/usr/src/googletest";

#[test]
fn cmake_googletest_project_rebuilds_links_from_cache() {
    require_tool("cmake");
    require_tool("ninja");
    assert!(
        Path::new(GTEST_SRC)
            .join("googletest/src/gtest-all.cc")
            .is_file(),
        "googletest sources missing at {GTEST_SRC}"
    );
    let cache = TestCache::new();
    let module = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cmake/zccache.cmake");
    let mut lists = format!(
        "cmake_minimum_required(VERSION 3.21)\nproject(zcc_link C CXX)\ninclude(\"{}\")\n\
         set(BUILD_GMOCK OFF CACHE BOOL \"\" FORCE)\nset(INSTALL_GTEST OFF CACHE BOOL \"\" FORCE)\n\
         add_subdirectory(\"{GTEST_SRC}\" googletest)\nenable_testing()\n\
         add_library(calc SHARED calc.cc)\n",
        module.display()
    );
    let tests = 3;
    for i in 0..tests {
        lists.push_str(&format!(
            "add_executable(t{i} t{i}.cc)\ntarget_link_libraries(t{i} gtest_main calc)\nadd_test(NAME t{i} COMMAND t{i})\n"
        ));
        cache.write(
            &format!("proj/t{i}.cc"),
            &format!(
                "#include <gtest/gtest.h>\nint calc(int);\nTEST(T{i}, Calc) {{ EXPECT_EQ(calc({i}), {}); }}\n",
                i + 1
            ),
        );
    }
    cache.write("proj/CMakeLists.txt", &lists);
    cache.write("proj/calc.cc", "int calc(int x) { return x + 1; }\n");
    let src = cache.work.join("proj");
    let bdir = cache.work.join("build");
    let cmake = |args: &[&str]| {
        let mut cmd = Command::new("cmake");
        cache.apply_env(&mut cmd);
        for var in [
            "CC",
            "CXX",
            "CFLAGS",
            "CXXFLAGS",
            "LDFLAGS",
            "MAKEFLAGS",
            "CMAKE_GENERATOR",
        ] {
            cmd.env_remove(var);
        }
        cmd.args(args).current_dir(&cache.work);
        let out = cmd.output().expect("spawn cmake");
        assert_ok(&out, &format!("cmake {args:?}"));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let program = format!("-DZCCACHE_PROGRAM={}", zccache_bin().display());
    let configure = || {
        cmake(&[
            "-S",
            src.to_str().unwrap(),
            "-B",
            bdir.to_str().unwrap(),
            "-G",
            "Ninja",
            "-DCMAKE_BUILD_TYPE=",
            "-DZCCACHE_LINKS=ON",
            &program,
        ])
    };
    let ctest = || {
        let out = Command::new("ctest")
            .arg("--test-dir")
            .arg(&bdir)
            .output()
            .expect("spawn ctest");
        assert_ok(&out, "ctest");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(text.contains("100% tests passed"), "{text}");
    };
    let log = configure();
    assert!(log.contains("links go through"), "status line:\n{log}");
    cache.zero();
    cmake(&["--build", bdir.to_str().unwrap(), "-j", "2"]);
    // The shared library and one program per test link; gtest and gtest_main are archived.
    assert_eq!(
        family(&cache, "clang-link").1 + family(&cache, "gcc-link").1,
        tests + 1
    );
    assert_eq!(family(&cache, "ar"), (0, 2, 0));
    ctest();

    std::fs::remove_dir_all(&bdir).unwrap();
    configure();
    cache.zero();
    cmake(&["--build", bdir.to_str().unwrap(), "-j", "2"]);
    let (h, m, u) = family(&cache, "gcc-link");
    let (ch, cm, cu) = family(&cache, "clang-link");
    assert_eq!(
        (h + ch, m + cm, u + cu),
        (tests + 1, 0, 0),
        "rebuild: every link hits"
    );
    assert_eq!(cache.stat("misses"), 0, "rebuild: every compile hits");
    assert_eq!(
        family(&cache, "ar"),
        (2, 0, 0),
        "rebuild: both archives hit"
    );
    ctest();
}

/// `ZCCACHE_VERIFY=1` re-links a hit into a scratch dir: the cached program equals the fresh
/// link; a link writing a map file (named by a linker option) is not re-linked.
#[test]
fn verify_mode_relinks_hits() {
    let cache = TestCache::new();
    write_sources(&cache);
    compile(&cache, "gcc", &["-O2"], &["main.c", "f.c", "g.c"]);
    let verified = |args: &[&str]| {
        let mut cmd = cache.zccache();
        cmd.args(args).env("ZCCACHE_VERIFY", "1");
        assert_ok(&cmd.output().expect("spawn"), "verified link");
    };
    let link = ["gcc", "main.o", "f.o", "g.o", "-o", "prog"];
    zcc(&cache, &link);
    verified(&link);
    let map = [
        "gcc",
        "main.o",
        "f.o",
        "g.o",
        "-Wl,-Map=prog.map",
        "-o",
        "prog2",
    ];
    zcc(&cache, &map);
    verified(&map);
    let stats = cache.stats();
    let get = |k: &str| stats[k].as_u64().unwrap_or(0);
    assert_eq!(
        (
            get("verify_ok"),
            get("verify_mismatch"),
            get("verify_skipped")
        ),
        (1, 0, 1),
        "{stats}"
    );
    assert_eq!(family(&cache, "gcc-link").0, 2);
    assert_eq!(run_program(&cache, "prog"), "42\n");
}

/// A build step that rewrites a large program in place right after its link (as a
/// post-link patcher does): whatever the cache kept is the program as the linker wrote it, so
/// a later relink equals a bare link, never the patched bytes. Run for several rounds, with
/// the rewrite starting at once and after short delays. (Whether the rewrite lands while the
/// daemon still holds the output is up to the scheduler; the lease that makes that case safe
/// is tested deterministically in `daemon::large_outputs`.)
#[test]
fn a_program_rewritten_right_after_its_link_is_never_what_a_hit_restores() {
    require_tool("gcc");
    let cache = TestCache::new();
    write_sources(&cache);
    // A program over the 1 MiB path hand-over threshold.
    cache.write(
        "f.c",
        "char big[3 << 20] = {1, 1};\nint f(void) { return 40 + big[1]; }\n",
    );
    compile(&cache, "gcc", &["-O2"], &["main.c", "f.c", "g.c"]);
    let link = ["gcc", "-O2", "main.o", "f.o", "g.o", "-o", "prog"];
    bare(&cache, &link);
    let reference = read(&cache, "prog");
    assert!(reference.len() > 3 << 20);
    for (round, delay) in ["0", "0", "0.001", "0.005", "0.02"].iter().enumerate() {
        // A fresh cache key each round (a different -Wl,--defsym), the same program bytes
        // apart from that symbol: compare with a bare link of the same command.
        let defsym = format!("-Wl,--defsym=zcc_round_{round}=0");
        let mut args: Vec<&str> = link.to_vec();
        args.push(&defsym);
        let _ = std::fs::remove_file(cache.work.join("prog"));
        bare(&cache, &args);
        let expected = read(&cache, "prog");
        std::fs::remove_file(cache.work.join("prog")).expect("remove prog");
        let script = format!(
            "\"$ZCC\" {} && sleep {delay} && printf PATCHED | dd of=prog bs=1 seek=4096 conv=notrunc status=none",
            args.join(" ")
        );
        cache.script_ok(&script, "link then patch");
        assert_ne!(read(&cache, "prog"), expected, "the patch was applied");
        std::fs::remove_file(cache.work.join("prog")).expect("remove prog");
        zcc(&cache, &args);
        assert!(
            read(&cache, "prog") == expected,
            "round {round} (patch after {delay} s): the relink differs from a bare link"
        );
    }
    assert_eq!(run_program(&cache, "prog").trim(), "43");
}

/// A link's inputs are learned after the wrapper is answered: a library the build replaces
/// right after the link (`cp` over it, or patched in place) must never leave an entry that
/// restores a program linked from the other library. Each round links against `libfg.a`,
/// replaces it at once or after a short delay, then relinks against each version: every
/// relink equals the bare link of the library it names.
#[test]
fn a_library_replaced_right_after_the_link_is_never_mixed_up() {
    require_tool("gcc");
    let cache = TestCache::new();
    write_sources(&cache);
    compile(&cache, "gcc", &["-O2"], &["main.c", "f.c", "g.c"]);
    bare(&cache, &["ar", "rcs", "libone.a", "f.o", "g.o"]);
    cache.write("f.c", "int f(void) { return 50; }\n");
    compile(&cache, "gcc", &["-O2"], &["f.c"]);
    bare(&cache, &["ar", "rcs", "libtwo.a", "f.o", "g.o"]);
    let link = ["gcc", "-O2", "main.o", "-L.", "-lfg", "-o", "prog"];
    let mut expected = std::collections::HashMap::new();
    for lib in ["libone.a", "libtwo.a"] {
        std::fs::copy(cache.work.join(lib), cache.work.join("libfg.a")).unwrap();
        bare(&cache, &link);
        expected.insert(lib, read(&cache, "prog"));
    }
    assert_ne!(expected["libone.a"], expected["libtwo.a"]);
    for (round, delay) in ["0", "0", "0.001", "0.005"].iter().enumerate() {
        let (first, second) = if round % 2 == 0 {
            ("libone.a", "libtwo.a")
        } else {
            ("libtwo.a", "libone.a")
        };
        std::fs::copy(cache.work.join(first), cache.work.join("libfg.a")).unwrap();
        let _ = std::fs::remove_file(cache.work.join("prog"));
        let script = format!(
            "\"$ZCC\" {} && sleep {delay} && cp {second} libfg.a",
            link.join(" ")
        );
        cache.script_ok(&script, "link then replace the library");
        assert!(
            read(&cache, "prog") == expected[first],
            "round {round}: the miss itself"
        );
        for lib in [first, second, first] {
            std::fs::copy(cache.work.join(lib), cache.work.join("libfg.a")).unwrap();
            std::fs::remove_file(cache.work.join("prog")).expect("remove prog");
            zcc(&cache, &link);
            assert!(
                read(&cache, "prog") == expected[lib],
                "round {round} (replaced after {delay} s): a relink against {lib} differs \
                 from its bare link"
            );
        }
    }
}
