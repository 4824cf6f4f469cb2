//! End-to-end tests of cached dependency scans (`zccache gcc -MM a.c b.c …`, as Redis's
//! Makefile runs to make `Makefile.dep`) with real gcc and clang: the rules printed (or
//! written with `-MF`) equal a bare scan's byte for byte, miss then hit; a changed header, a
//! header that appears earlier on the search path, a new `#include` of a system header, a
//! changed flag or source list miss; a scan that fails fails like the bare one and stores
//! nothing; make rebuilds `Makefile.dep` from cache.

mod common;

use common::{require_tool, TestCache};
use std::process::Output;

/// (hits, misses, uncacheable) of the `<compiler>-deps` family.
fn scan_counts(cache: &TestCache, compiler: &str) -> (u64, u64, u64) {
    let stats = cache.stats();
    let f = &stats["families"][format!("{compiler}-deps")];
    let get = |k: &str| f[k].as_u64().unwrap_or(0);
    (get("hits"), get("misses"), get("uncacheable"))
}

fn project(cache: &TestCache) {
    cache.write("inc/config.h", "#define SIZE 4\n");
    cache.write("inc/util.h", "#include \"config.h\"\nint util(int);\n");
    cache.write(
        "src/a.c",
        "#include <stdio.h>\n#include \"util.h\"\nint a(void) { return SIZE; }\n",
    );
    cache.write(
        "src/b.c",
        "#include \"util.h\"\n#include \"local.h\"\nint b(void) { return 2; }\n",
    );
    cache.write("src/local.h", "#define LOCAL 1\n");
}

/// Runs the scan bare and through zccache; asserts equal stdout and exit code; returns the
/// zccache output.
fn scan_matches_bare(cache: &TestCache, args: &[&str]) -> Output {
    let bare = std::process::Command::new(args[0])
        .args(&args[1..])
        .current_dir(&cache.work)
        .output()
        .expect("spawn bare scan");
    let ours = cache.run(args, None);
    assert_eq!(
        String::from_utf8_lossy(&ours.stdout),
        String::from_utf8_lossy(&bare.stdout),
        "rules differ from the bare scan's for {args:?}"
    );
    assert_eq!(
        ours.status.code(),
        bare.status.code(),
        "exit code of {args:?}"
    );
    ours
}

fn scans_hit_and_miss_like_bare(compiler: &str) {
    require_tool(compiler);
    let cache = TestCache::new();
    project(&cache);
    let scan = [compiler, "-O2", "-Iinc", "-MM", "src/a.c", "src/b.c"];
    scan_matches_bare(&cache, &scan);
    assert_eq!(
        scan_counts(&cache, compiler),
        (0, 1, 0),
        "first scan misses"
    );
    scan_matches_bare(&cache, &scan);
    assert_eq!(scan_counts(&cache, compiler), (1, 1, 0), "same scan hits");

    // A header's content changes (config.h is only reached through util.h).
    cache.write("inc/config.h", "#define SIZE 8\n#include \"extra.h\"\n");
    cache.write("inc/extra.h", "\n");
    let out = scan_matches_bare(&cache, &scan);
    assert!(String::from_utf8_lossy(&out.stdout).contains("extra.h"));
    assert_eq!(
        scan_counts(&cache, compiler),
        (1, 2, 0),
        "changed header misses"
    );
    scan_matches_bare(&cache, &scan);
    assert_eq!(scan_counts(&cache, compiler), (2, 2, 0));

    // A header appears earlier on the search path: `#include "util.h"` from src/ now finds
    // src/util.h first (the quote search starts in the source's directory).
    cache.write("src/util.h", "int util2(int);\n");
    let out = scan_matches_bare(&cache, &scan);
    assert!(String::from_utf8_lossy(&out.stdout).contains("src/util.h"));
    assert_eq!(
        scan_counts(&cache, compiler),
        (2, 3, 0),
        "shadowing header misses"
    );

    // -M lists system headers too; a flag and the source list are keyed.
    let full = [compiler, "-O2", "-Iinc", "-M", "src/a.c", "src/b.c"];
    let out = scan_matches_bare(&cache, &full);
    assert!(String::from_utf8_lossy(&out.stdout).contains("stdio.h"));
    let one = [compiler, "-O2", "-Iinc", "-MM", "src/b.c"];
    scan_matches_bare(&cache, &one);
    assert_eq!(scan_counts(&cache, compiler), (2, 5, 0));

    // A source now includes another system header: its own content changed, so a miss.
    cache.write(
        "src/b.c",
        "#include <stdlib.h>\n#include \"util.h\"\nint b(void) { return 3; }\n",
    );
    let out = scan_matches_bare(&cache, &full);
    assert!(String::from_utf8_lossy(&out.stdout).contains("stdlib.h"));
    assert_eq!(scan_counts(&cache, compiler), (2, 6, 0));
}

#[test]
fn gcc_scans_hit_and_miss_like_bare() {
    scans_hit_and_miss_like_bare("gcc");
}

#[test]
fn clang_scans_hit_and_miss_like_bare() {
    scans_hit_and_miss_like_bare("clang");
}

#[test]
fn rules_written_to_a_file_are_restored_and_a_failing_scan_stores_nothing() {
    require_tool("gcc");
    let cache = TestCache::new();
    project(&cache);
    let scan = [
        "gcc", "-Iinc", "-MM", "-MP", "-MT", "obj/a.o", "-MF", "a.d", "src/a.c",
    ];
    cache.bare_tool(&scan);
    let bare = std::fs::read(cache.work.join("a.d")).expect("bare a.d");
    for round in 0..2 {
        std::fs::remove_file(cache.work.join("a.d")).expect("rm a.d");
        cache.zccache_ok(&scan);
        let ours = std::fs::read(cache.work.join("a.d")).expect("a.d");
        assert_eq!(
            ours, bare,
            "a.d of round {round} differs from the bare scan's"
        );
    }
    assert_eq!(scan_counts(&cache, "gcc"), (1, 1, 0));

    // A header the source includes is gone: gcc fails, and so does the cached run, the same
    // way, without storing anything (a later scan with the header back runs again).
    std::fs::remove_file(cache.work.join("inc/config.h")).expect("rm config.h");
    let out = scan_matches_bare(&cache, &["gcc", "-Iinc", "-MM", "src/a.c"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("config.h"));
    let again = scan_matches_bare(&cache, &["gcc", "-Iinc", "-MM", "src/a.c"]);
    assert!(
        !again.status.success(),
        "a failed scan is never replayed as a success"
    );
    let (hits, _, _) = scan_counts(&cache, "gcc");
    assert_eq!(hits, 1, "a failed scan is not a hit");
}

#[test]
fn make_rebuilds_its_dependency_file_from_cache() {
    require_tool("gcc");
    require_tool("make");
    let cache = TestCache::new();
    project(&cache);
    cache.write(
        "Makefile",
        "SRCS := src/a.c src/b.c\n\
         Makefile.dep:\n\t-$(CC) -Iinc -MM $(SRCS) > Makefile.dep 2>/dev/null || true\n\
         -include Makefile.dep\n\
         all: Makefile.dep\n\
         clean:\n\trm -f Makefile.dep\n",
    );
    let make = |cc: &str| {
        cache.script_ok(&format!("make -s clean && make -s all CC=\"{cc}\""), "make");
        std::fs::read(cache.work.join("Makefile.dep")).expect("Makefile.dep")
    };
    let bare = make("gcc");
    assert!(String::from_utf8_lossy(&bare).contains("inc/config.h"));
    assert_eq!(make("$ZCC gcc"), bare);
    assert_eq!(make("$ZCC gcc"), bare);
    assert_eq!(scan_counts(&cache, "gcc"), (1, 1, 0));
}
