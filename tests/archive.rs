//! End-to-end tests of cached static libraries (`zccache ar …`, `gcc-ar`, `llvm-ar`) with the
//! real archivers: archives equal bare ones byte for byte and link; a changed member, member
//! list, operation or previous archive misses; LTO objects (indexed through the LTO plugin)
//! hit and link; CMake static libraries (through the module) equal CMake's own and hit; what
//! is not an archive build passes through with the archiver's own
//! behaviour and a reason.

mod common;

use common::{assert_ok, require_tool, TestCache};
use std::process::{Command, Output};

/// Runs a bare tool in the work dir and asserts success.
fn bare(cache: &TestCache, args: &[&str]) -> Output {
    cache.bare_tool(args)
}

/// Runs `zccache <args…>` in the work dir and asserts success.
fn zcc(cache: &TestCache, args: &[&str]) -> Output {
    cache.zccache_ok(args)
}

/// (hits, misses, uncacheable) of the `ar` family.
fn ar_counts(cache: &TestCache) -> (u64, u64, u64) {
    let stats = cache.stats();
    let f = &stats["families"]["ar"];
    let get = |k: &str| f[k].as_u64().unwrap_or(0);
    (get("hits"), get("misses"), get("uncacheable"))
}

fn read(cache: &TestCache, rel: &str) -> Vec<u8> {
    std::fs::read(cache.work.join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

fn remove(cache: &TestCache, rel: &str) {
    let _ = std::fs::remove_file(cache.work.join(rel));
}

/// Writes and compiles (bare) `f.c`, `g.c`, `h.c` and `main.c` with `flags`.
fn objects(cache: &TestCache, flags: &[&str]) {
    cache.write("f.c", "int f(void) { return 40; }\n");
    cache.write("g.c", "int g(void) { return 2; }\n");
    cache.write("h.c", "int h(void) { return 7; }\n");
    cache.write(
        "main.c",
        "#include <stdio.h>\nint f(void);\nint g(void);\n\
         int main(void) { printf(\"%d\\n\", f() + g()); return 0; }\n",
    );
    for src in ["f.c", "g.c", "h.c", "main.c"] {
        let obj = src.replace(".c", ".o");
        let mut args = vec!["gcc"];
        args.extend_from_slice(flags);
        args.extend(["-c", src, "-o", &obj]);
        bare(cache, &args);
    }
}

/// Archives bare, then through zccache twice (a miss, then a hit), the archive removed before
/// each: both equal the bare archive byte for byte. Returns the bare bytes.
fn archive_matches_bare(cache: &TestCache, args: &[&str], archive: &str) -> Vec<u8> {
    remove(cache, archive);
    bare(cache, args);
    let reference = read(cache, archive);
    let (hits, misses, _) = ar_counts(cache);
    for (what, hit) in [("miss", false), ("hit", true)] {
        remove(cache, archive);
        zcc(cache, args);
        let expected = if hit {
            (hits + 1, misses + 1)
        } else {
            (hits, misses + 1)
        };
        let (h, m, _) = ar_counts(cache);
        assert_eq!((h, m), expected, "{args:?}: {what}");
        assert!(
            read(cache, archive) == reference,
            "{args:?}: the {what} differs from a bare archive"
        );
    }
    reference
}

/// Links `main.o` with the archive (bare) and returns what the program prints.
fn link_and_run(cache: &TestCache, archive: &str, flags: &[&str]) -> String {
    let mut args = vec!["gcc"];
    args.extend_from_slice(flags);
    args.extend(["main.o", archive, "-o", "prog"]);
    bare(cache, &args);
    let out = Command::new(cache.work.join("prog"))
        .output()
        .expect("run prog");
    assert_ok(&out, "prog");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn archives_equal_bare_ones_and_link() {
    require_tool("gcc-ar");
    require_tool("llvm-ar");
    let cache = TestCache::new();
    objects(&cache, &["-O2"]);
    archive_matches_bare(&cache, &["ar", "rcs", "libfg.a", "f.o", "g.o"], "libfg.a");
    assert_eq!(link_and_run(&cache, "libfg.a", &[]), "42\n");
    // CMake's rule, with a dash, with verbose output (replayed on the hit).
    archive_matches_bare(
        &cache,
        &["ar", "qcs", "libq.a", "f.o", "g.o", "h.o"],
        "libq.a",
    );
    archive_matches_bare(&cache, &["ar", "-rcsv", "libv.a", "f.o", "g.o"], "libv.a");
    // libtool's flags (`u` changes nothing in a deterministic archive).
    archive_matches_bare(
        &cache,
        &["ar", "cru", "libtool.a", "f.o", "g.o"],
        "libtool.a",
    );
    remove(&cache, "libv.a");
    let verbose = zcc(&cache, &["ar", "-rcsv", "libv.a", "f.o", "g.o"]);
    assert_eq!(
        String::from_utf8_lossy(&verbose.stdout),
        "a - f.o\na - g.o\n"
    );
    archive_matches_bare(
        &cache,
        &["gcc-ar", "rcs", "libgccar.a", "f.o", "g.o"],
        "libgccar.a",
    );
    archive_matches_bare(
        &cache,
        &["llvm-ar", "rcs", "libllvm.a", "f.o", "g.o"],
        "libllvm.a",
    );
    assert_eq!(link_and_run(&cache, "libllvm.a", &[]), "42\n");
    // A response file naming the members.
    cache.write("objs.rsp", "g.o h.o\n");
    archive_matches_bare(&cache, &["ar", "rcs", "librsp.a", "@objs.rsp"], "librsp.a");
    // Another archive name with the same members shares the entry.
    let (h, m, _) = ar_counts(&cache);
    zcc(&cache, &["ar", "rcs", "libother.a", "f.o", "g.o"]);
    assert_eq!(ar_counts(&cache), (h + 1, m, 0));
    assert!(read(&cache, "libother.a") == read(&cache, "libfg.a"));
}

#[test]
fn changed_members_operations_and_previous_archives_miss() {
    let cache = TestCache::new();
    objects(&cache, &["-O2"]);
    let first = archive_matches_bare(&cache, &["ar", "rcs", "lib.a", "f.o", "g.o"], "lib.a");
    let (h, m, _) = ar_counts(&cache);

    // Another member order, another member list, another operation: misses.
    for args in [
        ["ar", "rcs", "lib.a", "g.o", "f.o"].as_slice(),
        &["ar", "rcs", "lib.a", "f.o", "g.o", "h.o"],
        &["ar", "rc", "lib.a", "f.o", "g.o"],
    ] {
        remove(&cache, "lib.a");
        zcc(&cache, args);
    }
    assert_eq!(ar_counts(&cache), (h, m + 3, 0));

    // A member recompiled with other contents misses and archives the new object.
    cache.write("g.c", "int g(void) { return 3; }\n");
    bare(&cache, &["gcc", "-O2", "-c", "g.c", "-o", "g.o"]);
    remove(&cache, "lib.a");
    zcc(&cache, &["ar", "rcs", "lib.a", "f.o", "g.o"]);
    assert_eq!(ar_counts(&cache), (h, m + 4, 0));
    assert!(read(&cache, "lib.a") != first);
    assert_eq!(link_and_run(&cache, "lib.a", &[]), "43\n");

    // `ar r` adds to an archive that exists: its previous content is keyed. Updating the
    // same previous archive twice hits and equals the bare update; another previous archive
    // misses; the result keeps the previous archive's other members.
    bare(&cache, &["gcc", "-O2", "-c", "g.c", "-o", "g.o"]);
    std::fs::write(cache.work.join("prev.a"), &first).unwrap();
    std::fs::copy(cache.work.join("prev.a"), cache.work.join("upd.a")).unwrap();
    bare(&cache, &["ar", "rcs", "upd.a", "h.o"]);
    let bare_update = read(&cache, "upd.a");
    let (h, m, _) = ar_counts(&cache);
    for round in 0..2 {
        std::fs::copy(cache.work.join("prev.a"), cache.work.join("upd.a")).unwrap();
        zcc(&cache, &["ar", "rcs", "upd.a", "h.o"]);
        assert!(read(&cache, "upd.a") == bare_update, "update round {round}");
    }
    assert_eq!(ar_counts(&cache), (h + 1, m + 1, 0));
    let listing = bare(&cache, &["ar", "t", "upd.a"]);
    assert_eq!(String::from_utf8_lossy(&listing.stdout), "f.o\ng.o\nh.o\n");
    bare(&cache, &["ar", "rcs", "other.a", "g.o"]);
    std::fs::copy(cache.work.join("other.a"), cache.work.join("upd.a")).unwrap();
    zcc(&cache, &["ar", "rcs", "upd.a", "h.o"]);
    assert_eq!(ar_counts(&cache), (h + 1, m + 2, 0));
    let listing = bare(&cache, &["ar", "t", "upd.a"]);
    assert_eq!(String::from_utf8_lossy(&listing.stdout), "g.o\nh.o\n");
    // `explain` names the previous archive as what differs (upd.a now holds g.o and h.o: an
    // archive never updated before).
    let explained = zcc(&cache, &["explain", "ar", "rcs", "upd.a", "h.o"]);
    let text = String::from_utf8_lossy(&explained.stdout);
    assert!(
        text.contains("upd.a (its content before the tool ran, or none) changed"),
        "{text}"
    );
}

#[test]
fn archives_of_lto_objects_hit_and_link() {
    require_tool("gcc-ar");
    let cache = TestCache::new();
    objects(&cache, &["-O2", "-flto"]);
    // Plain `ar` indexes LTO objects through the plugin it finds in bfd-plugins; `gcc-ar`
    // passes gcc's own.
    for tool in ["ar", "gcc-ar"] {
        let name = format!("lib{}.a", tool.replace('-', ""));
        archive_matches_bare(&cache, &[tool, "rcs", &name, "f.o", "g.o"], &name);
        assert_eq!(link_and_run(&cache, &name, &["-O2", "-flto"]), "42\n");
    }
    let listing = bare(&cache, &["nm", "--print-armap", "libgccar.a"]);
    let text = String::from_utf8_lossy(&listing.stdout);
    assert!(text.contains("f in f.o"), "the index names f: {text}");
}

#[test]
fn what_is_not_an_archive_build_passes_through() {
    let cache = TestCache::new();
    objects(&cache, &["-O2"]);
    zcc(&cache, &["ar", "rcs", "lib.a", "f.o", "g.o"]);
    // Listing, extracting, deleting: the archiver's own behaviour, counted uncacheable.
    let listing = zcc(&cache, &["ar", "t", "lib.a"]);
    assert_eq!(String::from_utf8_lossy(&listing.stdout), "f.o\ng.o\n");
    std::fs::create_dir_all(cache.work.join("x")).unwrap();
    let out = cache.run(&["ar", "x", "../lib.a", "f.o"], Some(&cache.work.join("x")));
    assert_ok(&out, "ar x");
    assert!(read(&cache, "x/f.o") == read(&cache, "f.o"));
    zcc(&cache, &["ar", "d", "lib.a", "g.o"]);
    let listing = bare(&cache, &["ar", "t", "lib.a"]);
    assert_eq!(String::from_utf8_lossy(&listing.stdout), "f.o\n");
    // Timestamps recorded (U) or a thin archive (T): not cached.
    remove(&cache, "libu.a");
    zcc(&cache, &["ar", "rcU", "libu.a", "f.o"]);
    zcc(&cache, &["ar", "rcT", "libt.a", "g.o"]);
    assert_eq!(cache.reason("ar_operation"), 3);
    assert_eq!(cache.reason("unsupported_option"), 2);
    assert_eq!(ar_counts(&cache).2, 5);
    // A missing member fails as the bare archiver does, and nothing is stored.
    remove(&cache, "libm.a");
    let out = cache.run(&["ar", "rcs", "libm.a", "f.o", "missing.o"], None);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("missing.o"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(cache.stat("errors"), 0);
}

/// With `-DZCCACHE_LINKS=ON` the CMake module archives static libraries through
/// `zccache ar qcs` and drops CMake's `ranlib` step: the library equals the one a CMake build
/// without zccache writes (`ar qc` + `ranlib`), with Ninja and with Makefiles, and a rebuild
/// from an empty build dir restores it from the cache.
#[test]
fn cmake_static_libraries_equal_cmakes_own_and_hit() {
    require_tool("cmake");
    require_tool("ninja");
    require_tool("make");
    let cache = TestCache::new();
    let module = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cmake/zccache.cmake");
    for i in 1..=3 {
        cache.write(
            &format!("p/f{i}.c"),
            &format!("int f{i}(void) {{ return {i}; }}\n"),
        );
    }
    cache.write(
        "p/main.c",
        "int f1(void);\nint main(void) { return f1() - 1; }\n",
    );
    cache.write(
        "p/CMakeLists.txt",
        &format!(
            "cmake_minimum_required(VERSION 3.21)\nproject(p C)\ninclude(\"{}\")\n\
             add_library(fs STATIC f1.c f2.c f3.c)\nadd_executable(m main.c)\n\
             target_link_libraries(m fs)\n",
            module.display()
        ),
    );
    let cmake = |args: &[&str]| {
        let mut cmd = Command::new("cmake");
        cache.apply_env(&mut cmd);
        for var in ["CC", "CFLAGS", "LDFLAGS", "MAKEFLAGS", "CMAKE_GENERATOR"] {
            cmd.env_remove(var);
        }
        let out = cmd
            .args(args)
            .current_dir(&cache.work)
            .output()
            .expect("spawn cmake");
        assert_ok(&out, &format!("cmake {args:?}"));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let program = format!("-DZCCACHE_PROGRAM={}", common::zccache_bin().display());
    cmake(&[
        "-S",
        "p",
        "-B",
        "bare",
        "-G",
        "Ninja",
        "-DZCCACHE_ENABLE=OFF",
    ]);
    cmake(&["--build", "bare"]);
    let reference = read(&cache, "bare/libfs.a");
    for (generator, dir) in [("Ninja", "ninja"), ("Unix Makefiles", "make")] {
        for round in ["miss", "hit"] {
            let _ = std::fs::remove_dir_all(cache.work.join(dir));
            let (h, m, _) = ar_counts(&cache);
            cmake(&[
                "-S",
                "p",
                "-B",
                dir,
                "-G",
                generator,
                "-DZCCACHE_LINKS=ON",
                &program,
            ]);
            let log = cmake(&["--build", dir, "-v"]);
            assert!(
                log.contains(" qcs libfs.a"),
                "{generator}: archived through zccache:\n{log}"
            );
            assert!(
                !log.contains("ranlib"),
                "{generator}: no ranlib step:\n{log}"
            );
            assert!(
                read(&cache, &format!("{dir}/libfs.a")) == reference,
                "{generator} {round}: the library differs from CMake's own"
            );
            let expected = match (generator, round) {
                ("Ninja", "miss") => (h, m + 1),
                _ => (h + 1, m),
            };
            let (h2, m2, _) = ar_counts(&cache);
            assert_eq!((h2, m2), expected, "{generator} {round}");
            let status = Command::new(cache.work.join(dir).join("m"))
                .status()
                .expect("run m");
            assert!(status.success());
        }
    }
}
