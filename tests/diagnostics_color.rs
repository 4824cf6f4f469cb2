//! Diagnostics colour on hits and misses, with real gcc: a replay is coloured exactly where
//! gcc would colour its own output (a terminal, `-fdiagnostics-color=…`, `CLICOLOR_FORCE`,
//! `TERM=dumb`, an empty `GCC_COLORS`), whatever the stderr of the compile that was stored.

mod common;

use common::{assert_ok, require_tool, zccache_bin, TestCache};
use std::process::{Command, Output};

const ESC: &[u8] = b"\x1b[";

fn has_color(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|w| w == ESC)
}

fn project(cache: &TestCache) {
    cache.write("w.c", "int f(void) { int unused; return 0; }\n");
}

/// `zccache gcc -Wall -c w.c` with extra args and env, stderr a pipe.
fn wrapped(cache: &TestCache, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = cache.zccache();
    cmd.env_remove("CLICOLOR_FORCE").env_remove("GCC_COLORS");
    cmd.args(["gcc", "-Wall"])
        .args(extra)
        .args(["-c", "w.c", "-o", "w.o"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run zccache");
    assert_ok(&out, "wrapped compile");
    out
}

fn bare(cache: &TestCache, extra: &[&str]) -> Output {
    let out = Command::new("gcc")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("GCC_COLORS")
        .args(["-Wall"])
        .args(extra)
        .args(["-c", "w.c", "-o", "bare.o"])
        .current_dir(&cache.work)
        .output()
        .expect("run gcc");
    assert_ok(&out, "bare gcc");
    out
}

/// The transcript of `command` run under a pseudo-terminal (`script`), with `term`.
fn on_terminal(cache: &TestCache, command: &str, term: &str) -> Vec<u8> {
    let mut cmd = Command::new(require_tool("script"));
    cache.apply_env(&mut cmd);
    cmd.env_remove("CLICOLOR_FORCE")
        .env_remove("GCC_COLORS")
        .env("TERM", term)
        .args(["-q", "-e", "-c", command, "/dev/null"])
        .current_dir(&cache.work);
    let out = cmd.output().expect("run script");
    assert_ok(&out, command);
    out.stdout
}

#[test]
fn hits_are_coloured_as_gcc_would_colour_them() {
    require_tool("gcc");
    let cache = TestCache::new();
    project(&cache);

    // Miss with stderr a pipe: plain, exactly what gcc writes to a pipe.
    let plain = bare(&cache, &[]);
    assert!(String::from_utf8_lossy(&plain.stderr).contains("unused"));
    assert!(!has_color(&plain.stderr));
    let miss = wrapped(&cache, &[], &[]);
    assert_eq!(miss.stderr, plain.stderr, "miss to a pipe");
    assert_eq!(cache.stat("misses"), 1);

    // Hits to a pipe: plain again.
    let hit = wrapped(&cache, &[], &[]);
    assert_eq!(hit.stderr, plain.stderr, "hit to a pipe");
    // CLICOLOR_FORCE: coloured, as gcc -fdiagnostics-color=always writes it.
    let coloured = bare(&cache, &["-fdiagnostics-color=always"]);
    assert!(has_color(&coloured.stderr));
    let forced = wrapped(&cache, &[], &[("CLICOLOR_FORCE", "1")]);
    assert_eq!(forced.stderr, coloured.stderr, "hit with CLICOLOR_FORCE");
    assert_eq!(cache.stat("hits"), 2, "one entry serves every stderr");

    // On a terminal: coloured; on a dumb one, or with GCC_COLORS empty: plain.
    let zcc = zccache_bin();
    let command = format!("{} gcc -Wall -c w.c -o w.o", zcc.display());
    let tty = on_terminal(&cache, &command, "xterm");
    assert!(has_color(&tty), "{}", String::from_utf8_lossy(&tty));
    let gcc_tty = on_terminal(&cache, "gcc -Wall -c w.c -o bare.o", "xterm");
    assert!(has_color(&gcc_tty), "gcc itself colours a terminal");
    let dumb = on_terminal(&cache, &command, "dumb");
    assert!(String::from_utf8_lossy(&dumb).contains("unused"));
    assert!(!has_color(&dumb), "{}", String::from_utf8_lossy(&dumb));
    let empty = on_terminal(&cache, &format!("GCC_COLORS= {command}"), "xterm");
    assert!(!has_color(&empty), "{}", String::from_utf8_lossy(&empty));
    // gcc reads GCC_COLORS (its palette shapes the stored colours): its value is keyed, so
    // the empty one was a miss of its own.
    assert_eq!(cache.stat("hits"), 4);
    assert_eq!(cache.stat("misses"), 2);

    // An explicit choice wins over everything (and keys its own entry).
    let never = wrapped(
        &cache,
        &["-fdiagnostics-color=never"],
        &[("CLICOLOR_FORCE", "1")],
    );
    assert!(!has_color(&never.stderr));
    let never_hit = wrapped(
        &cache,
        &["-fdiagnostics-color=never"],
        &[("CLICOLOR_FORCE", "1")],
    );
    assert!(!has_color(&never_hit.stderr));
    let always = wrapped(&cache, &["-fdiagnostics-color=always"], &[]);
    assert_eq!(always.stderr, coloured.stderr);
    let always_hit = wrapped(&cache, &["-fdiagnostics-color=always"], &[]);
    assert_eq!(always_hit.stderr, coloured.stderr);
    assert_eq!(cache.stat("hits"), 6);

    // The object never depends on the colour.
    assert_eq!(
        std::fs::read(cache.work.join("w.o")).unwrap(),
        std::fs::read(cache.work.join("bare.o")).unwrap()
    );
}

/// The same for clang: a hit to a pipe is plain, with `CLICOLOR_FORCE` it is exactly what
/// `clang -fdiagnostics-color=always` writes.
#[test]
fn clang_hits_are_coloured_as_clang_would_colour_them() {
    require_tool("clang");
    let cache = TestCache::new();
    project(&cache);
    let run = |extra_env: &[(&str, &str)]| {
        let mut cmd = cache.zccache();
        cmd.env_remove("CLICOLOR_FORCE");
        cmd.args(["clang", "-Wall", "-c", "w.c", "-o", "w.o"]);
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run zccache");
        assert_ok(&out, "wrapped clang");
        out.stderr
    };
    let bare = |extra: &[&str]| {
        let out = Command::new("clang")
            .env_remove("CLICOLOR_FORCE")
            .args(["-Wall"])
            .args(extra)
            .args(["-c", "w.c", "-o", "bare.o"])
            .current_dir(&cache.work)
            .output()
            .expect("run clang");
        assert_ok(&out, "bare clang");
        out.stderr
    };
    let plain = bare(&[]);
    assert!(String::from_utf8_lossy(&plain).contains("unused"));
    assert_eq!(run(&[]), plain, "miss to a pipe");
    assert_eq!(run(&[]), plain, "hit to a pipe");
    let coloured = bare(&["-fdiagnostics-color=always"]);
    assert!(has_color(&coloured));
    assert_eq!(
        run(&[("CLICOLOR_FORCE", "1")]),
        coloured,
        "hit, CLICOLOR_FORCE"
    );
    assert_eq!(cache.stat("hits"), 2);
    assert_eq!(
        std::fs::read(cache.work.join("w.o")).unwrap(),
        std::fs::read(cache.work.join("bare.o")).unwrap()
    );
}
