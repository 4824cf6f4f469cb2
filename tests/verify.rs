//! The verify mode (`ZCCACHE_VERIFY`): sampled hits are re-compiled in the background and
//! compared with what was served. A stale hit made on purpose is caught (counted, evicted,
//! the next compile right); a normal build verifies clean; a compile that does not reproduce
//! itself (gcc `-flto` without `-frandom-seed`) is reported as such, never as a mismatch.

mod common;

use common::{assert_ok, TestCache};
use std::path::Path;

fn counter(cache: &TestCache, name: &str) -> u64 {
    cache.stats()[name]
        .as_u64()
        .unwrap_or_else(|| panic!("{name} in stats"))
}

/// A `gcc` whose output depends on a variable read by a shell (no `getenv`: invisible to the
/// access recorder) — a compiler wrapper outside zccache's knowledge.
fn write_flavored_gcc(dir: &Path) -> std::path::PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let gcc = bin.join("gcc");
    std::fs::write(
        &gcc,
        "#!/bin/sh\nexec /usr/bin/gcc -DFLAVOR=\"${FLAVOR:-1}\" \"$@\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&gcc, std::fs::Permissions::from_mode(0o755)).unwrap();
    gcc
}

#[test]
fn a_stale_hit_is_caught_counted_and_evicted() {
    let cache = TestCache::new();
    let gcc = write_flavored_gcc(&cache.work);
    std::fs::write(
        cache.work.join("f.c"),
        "int flavor(void) { return FLAVOR; }\n",
    )
    .unwrap();
    let compile = |flavor: &str, verify: &str| {
        let mut cmd = cache.zccache();
        cmd.args([gcc.to_str().unwrap(), "-c", "f.c", "-o", "f.o"])
            .env("FLAVOR", flavor)
            .env("ZCCACHE_VERIFY", verify);
        assert_ok(&cmd.output().unwrap(), "zccache gcc");
    };
    compile("1", "0");
    // FLAVOR=2 is outside the key: a stale hit, which verify must catch.
    compile("2", "1");
    assert_eq!(counter(&cache, "hits"), 1);
    assert_eq!(counter(&cache, "verify_mismatch"), 1);
    assert_eq!(counter(&cache, "verify_ok"), 0);
    let human = cache.run(&["stats"], None);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.starts_with("!! verify: 1 cached result"), "{text}");
    let report = std::fs::read_to_string(cache.cache_dir.join("verify-mismatch.log")).unwrap();
    assert!(report.contains("f.c") && report.contains("-o"), "{report}");
    // Evicted: the next compile recompiles and is right.
    compile("2", "0");
    assert_eq!(counter(&cache, "misses"), 2);
    let bare = std::process::Command::new(&gcc)
        .args(["-c", "f.c", "-o", "bare.o"])
        .env("FLAVOR", "2")
        .current_dir(&cache.work)
        .output()
        .unwrap();
    assert_ok(&bare, "bare gcc");
    assert_eq!(
        std::fs::read(cache.work.join("f.o")).unwrap(),
        std::fs::read(cache.work.join("bare.o")).unwrap()
    );
}

#[test]
fn a_normal_build_verifies_every_sampled_hit_clean() {
    let cache = TestCache::new();
    for i in 0..6 {
        std::fs::write(
            cache.work.join(format!("s{i}.c")),
            format!(
                "#include <string.h>\nint s{i}(const char *p) {{ return (int)strlen(p) + {i}; }}\n"
            ),
        )
        .unwrap();
    }
    for pass in 0..2 {
        for i in 0..6 {
            let src = format!("s{i}.c");
            let obj = format!("s{i}.o");
            let mut cmd = cache.zccache();
            cmd.args(["gcc", "-O2", "-c", &src, "-o", &obj])
                .env("ZCCACHE_VERIFY", "1");
            assert_ok(&cmd.output().unwrap(), "zccache gcc");
        }
        assert_eq!(counter(&cache, "hits"), 6 * pass);
    }
    assert_eq!(counter(&cache, "verify_ok"), 6);
    assert_eq!(counter(&cache, "verify_mismatch"), 0);
    assert_eq!(counter(&cache, "verify_unreproducible"), 0);
}

#[test]
fn an_unreproducible_compile_is_not_called_a_mismatch() {
    let cache = TestCache::new();
    std::fs::write(
        cache.work.join("lto.c"),
        "static int helper(int x) { return x * 3; }\nint api(int x) { return helper(x) + 1; }\n",
    )
    .unwrap();
    for _ in 0..2 {
        let mut cmd = cache.zccache();
        cmd.args(["gcc", "-O2", "-flto", "-c", "lto.c", "-o", "lto.o"])
            .env("ZCCACHE_VERIFY", "1");
        assert_ok(&cmd.output().unwrap(), "zccache gcc -flto");
    }
    assert_eq!(counter(&cache, "hits"), 1);
    assert_eq!(counter(&cache, "verify_mismatch"), 0);
    assert_eq!(
        counter(&cache, "verify_unreproducible") + counter(&cache, "verify_ok"),
        1,
        "one verification, reported as unreproducible (or equal, if gcc happened to agree)"
    );
}
