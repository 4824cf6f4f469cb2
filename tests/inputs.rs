//! End-to-end tests that a miss learns every input the compiler and its subprocesses read or
//! probed, not only what the compiler's depfile lists: precompiled headers (gcc `.gch` files and
//! directories, clang `.pch`, CMake `target_precompile_headers`), files the assembler reads
//! (`.incbin`, `.include`, `-Wa,-I`), `__has_include` probes of headers that appear or vanish,
//! `-imacros`, `-specs=` files and the tools a `-B` dir supplies.
//!
//! Every scenario compiles through the real `zccache` binary, changes one input, compiles again
//! and compares what zccache produced with a compile of the current sources by the bare compiler
//! (byte for byte for objects, by running it for programs), and checks the hit/miss counters: a
//! changed input is never served from cache, and an unchanged rebuild still hits.

mod common;

use common::{assert_ok, require_tool, zccache_bin, Generator, TestCache};
use std::cell::RefCell;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

// ---------------------------------------------------------------------------------------------
// Helpers

/// What one compile through zccache must count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Served from cache.
    Hit,
    /// Compiled and stored.
    Miss,
    /// Anything but a hit: a miss, or passed through with a named uncacheable reason.
    NotHit,
    /// A hit or a miss (both are right, e.g. returning to an earlier state), never uncacheable.
    Cached,
}

/// The counters of `zccache stats --json` that the tests check.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Counts {
    hits: u64,
    misses: u64,
    uncacheable: u64,
    errors: u64,
    /// Uncacheable reasons (not the `error_*` ones) and their counts.
    reasons: Vec<(String, u64)>,
}

impl Counts {
    fn reason_total(&self) -> u64 {
        self.reasons.iter().map(|(_, n)| n).sum()
    }
}

/// A reason name as `zccache stats` reports it: a short snake_case word, never free text.
fn is_named_reason(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The problems one test found. A wrong count or a stale output is recorded rather than
/// panicking at once, so one run reports every problem of a test (the stale object after a wrong
/// hit is the interesting part); they are reported together, as one failure, when the report is
/// dropped at the end of the test. A compile that fails where it must not panics at once.
#[derive(Default)]
struct Report(Rc<RefCell<Vec<String>>>);

impl Report {
    /// A new isolated zccache world whose problems go to this report.
    fn session(&self) -> Session {
        Session {
            cache: TestCache::new(),
            problems: Rc::clone(&self.0),
        }
    }
}

impl Drop for Report {
    fn drop(&mut self) {
        let problems = self.0.borrow();
        if !problems.is_empty() && !std::thread::panicking() {
            panic!(
                "{} problem(s):\n  - {}",
                problems.len(),
                problems.join("\n  - ")
            );
        }
    }
}

/// One isolated zccache world (cache dir, daemon, work dir) of a test.
struct Session {
    cache: TestCache,
    problems: Rc<RefCell<Vec<String>>>,
}

impl Session {
    fn work(&self) -> &Path {
        &self.cache.work
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.cache.work.join(rel)
    }

    fn write(&self, rel: &str, text: &str) {
        self.cache.write(rel, text);
    }

    fn problem(&self, msg: String) {
        eprintln!("PROBLEM: {msg}");
        self.problems.borrow_mut().push(msg);
    }

    fn counts(&self) -> (Counts, String) {
        let stats = self.cache.stats();
        let get = |k: &str| stats[k].as_u64().unwrap_or(0);
        let mut reasons: Vec<(String, u64)> = stats["reasons"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| !k.starts_with("error_"))
                    .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default();
        reasons.sort();
        let counts = Counts {
            hits: get("hits"),
            misses: get("misses"),
            uncacheable: get("uncacheable"),
            errors: get("errors"),
            reasons,
        };
        (counts, stats.to_string())
    }

    /// Records a problem unless the counter change from `before` is what `expect` says and every
    /// uncacheable compile was counted under a named reason.
    fn expect_delta(&self, before: &Counts, expect: Expect, what: &str) {
        let (after, stats) = self.counts();
        let hits = after.hits - before.hits;
        let misses = after.misses - before.misses;
        let uncacheable = after.uncacheable - before.uncacheable;
        let errors = after.errors - before.errors;
        let ok = match expect {
            Expect::Hit => (hits, misses, uncacheable) == (1, 0, 0),
            Expect::Miss => (hits, misses, uncacheable) == (0, 1, 0),
            Expect::NotHit => hits == 0 && misses + uncacheable == 1,
            Expect::Cached => uncacheable == 0 && hits + misses == 1,
        };
        if !ok || errors != 0 {
            self.problem(format!(
                "{what}: expected {expect:?}, got {hits} hit(s), {misses} miss(es), \
                 {uncacheable} uncacheable, {errors} error(s); stats: {stats}"
            ));
        }
        if uncacheable > 0 && after.reason_total() - before.reason_total() != uncacheable {
            self.problem(format!(
                "{what}: an uncacheable compile was not counted under a reason; stats: {stats}"
            ));
        }
        for (name, _) in &after.reasons {
            if !is_named_reason(name) {
                self.problem(format!("{what}: reason {name:?} is not a named reason"));
            }
        }
    }

    /// Runs `zccache <args…>` in the work dir; panics if it fails, records a problem unless it
    /// counted as `expect`.
    fn zcc(&self, args: &[&str], expect: Expect, what: &str) -> Output {
        self.zcc_in(self.work(), args, expect, what)
    }

    fn zcc_in(&self, dir: &Path, args: &[&str], expect: Expect, what: &str) -> Output {
        let out = self.zcc_unchecked(dir, args, expect, what);
        assert_ok(&out, &format!("{what}: zccache {}", args.join(" ")));
        out
    }

    /// Like [`Session::zcc`], but a failed compile is returned, not a panic.
    fn zcc_unchecked(&self, dir: &Path, args: &[&str], expect: Expect, what: &str) -> Output {
        let (before, _) = self.counts();
        let out = self.cache.run(args, Some(dir));
        if out.status.success() {
            self.expect_delta(&before, expect, what);
        }
        out
    }

    /// Runs `args` through zccache and returns the output file, or records a problem (and
    /// returns None) when the compile failed: the bare compile of the same sources succeeds, so
    /// a failure is zccache's doing (e.g. a restored PCH the compiler rejects).
    fn produce(&self, args: &[&str], expect: Expect, what: &str) -> Option<Vec<u8>> {
        let out_path = self.path(output_of(args));
        let _ = std::fs::remove_file(&out_path);
        let out = self.zcc_unchecked(self.work(), args, expect, what);
        if !out.status.success() {
            self.problem(format!(
                "{what}: the compile through zccache FAILED ({}) where the bare compile \
                 succeeds:\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim_end()
            ));
            return None;
        }
        Some(read(&out_path))
    }

    /// Records a stale result unless what zccache produced equals the bare compile's output.
    fn same_output(&self, through_zccache: &[u8], bare: &[u8], what: &str) {
        if through_zccache != bare {
            self.problem(format!(
                "{what}: STALE RESULT: the output zccache produced ({} bytes) differs from a \
                 bare compile of the current sources ({} bytes)",
                through_zccache.len(),
                bare.len()
            ));
        }
    }

    /// Compiles `args` through zccache (expecting `expect`), then with the bare compiler on the
    /// same sources into `<output>.bare`, and checks both outputs are byte-identical. Returns
    /// the bare compile's output. Only for compiles that read no output of another compile (see
    /// [`Session::check_fresh`] for precompiled headers).
    fn check(&self, args: &[&str], expect: Expect, what: &str) -> Vec<u8> {
        let out = output_of(args);
        let produced = self.produce(args, expect, what);
        let bare_out = format!("{out}.bare");
        let bare_args: Vec<&str> = args
            .iter()
            .map(|a| if *a == out { bare_out.as_str() } else { a })
            .collect();
        bare_in(self.work(), &bare_args);
        let bare = read(&self.path(&bare_out));
        if let Some(produced) = produced {
            self.same_output(&produced, &bare, what);
        }
        bare
    }

    /// Compiles `args` through zccache (expecting `expect`), then rebuilds from scratch with the
    /// bare compiler: copies `sources` into a fresh directory, runs each of `bare_steps` there
    /// (precompile the header, then compile) and compares the last step's output with what
    /// zccache produced. Returns the bare output. Unlike an in-place bare compile, this also
    /// catches a stale precompiled header served from cache.
    fn check_fresh(
        &self,
        args: &[&str],
        expect: Expect,
        sources: &[&str],
        bare_steps: &[&[&str]],
        what: &str,
    ) -> Vec<u8> {
        let produced = self.produce(args, expect, what);
        let dir = self.fresh_dir(sources);
        for step in bare_steps {
            if let Some(parent) = Path::new(output_of(step)).parent() {
                std::fs::create_dir_all(dir.join(parent)).expect("mkdir output dir");
            }
            bare_in(&dir, step);
        }
        let last = bare_steps.last().expect("at least one bare step");
        let bare = read(&dir.join(output_of(last)));
        if let Some(produced) = produced {
            self.same_output(&produced, &bare, what);
        }
        bare
    }

    /// A new directory beside the work dir holding copies of `files` (relative to the work dir).
    fn fresh_dir(&self, files: &[&str]) -> PathBuf {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = self
            .cache
            .root
            .path()
            .join(format!("ref{}", NEXT.fetch_add(1, Ordering::Relaxed)));
        std::fs::create_dir_all(&dir).expect("mkdir fresh dir");
        for rel in files {
            let to = dir.join(rel);
            std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
            std::fs::copy(self.path(rel), &to)
                .unwrap_or_else(|e| panic!("copy {rel} to the fresh dir: {e}"));
        }
        dir
    }
}

/// Runs the bare compiler (`args[0]`, no zccache) in `dir` and asserts it succeeded.
fn bare_in(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(args[0])
        .args(&args[1..])
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", args[0]));
    assert_ok(&out, &format!("bare {}", args.join(" ")));
    out
}

/// The value of `-o` in a command line.
fn output_of<'a>(args: &[&'a str]) -> &'a str {
    let at = args
        .iter()
        .position(|a| *a == "-o")
        .expect("command line names its output with -o");
    args[at + 1]
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, bytes).expect("write fixture");
}

fn remove(path: &Path) {
    std::fs::remove_file(path).unwrap_or_else(|e| panic!("remove {}: {e}", path.display()));
}

fn write_script(path: &Path, text: &str) {
    write(path, text);
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// Gives `path` a modification time `secs` seconds from now (whole seconds apart: clang keeps
/// a PCH's inputs' mtimes at that resolution).
fn set_mtime(path: &Path, secs: i64) {
    let now = std::time::SystemTime::now();
    let delta = std::time::Duration::from_secs(secs.unsigned_abs());
    let when = if secs >= 0 { now + delta } else { now - delta };
    let f = std::fs::File::options()
        .append(true)
        .open(path)
        .expect("open to set mtime");
    f.set_modified(when).expect("set mtime");
}

/// Asserts an edit changed the bare compile's result: otherwise the scenario could not tell a
/// stale hit from a right one and would prove nothing.
fn assert_changed(before: &[u8], after: &[u8], what: &str) {
    assert!(
        before != after,
        "test setup: {what} must change the object, or a stale hit would go unnoticed"
    );
}

fn compilers() -> [&'static str; 2] {
    require_tool("gcc");
    require_tool("clang");
    ["gcc", "clang"]
}

/// A header whose value `main` returns (so the object differs with every value).
fn value_header(value: u32) -> String {
    format!(
        "#ifndef VALUE\n#define VALUE {value}\n#endif\nstatic inline int value(void) {{ return VALUE; }}\n"
    )
}

const MAIN_RETURNS_VALUE: &str = "int main(void) { return value(); }\n";

// ---------------------------------------------------------------------------------------------
// 1–2. gcc precompiled headers

/// gcc `-include p.h` with `p.h.gch` beside it. The header compile itself is cached (an identical
/// second one hits); after `p.h` changes and `p.h.gch` is rebuilt, `main.c` misses and its object
/// equals a from-scratch bare build; back at the first header, the first entries serve again.
/// gcc's depfile for `main.c` lists neither `p.h` nor `p.h.gch` when the PCH is used, so only
/// what the compile really read can tell.
#[test]
fn gcc_include_with_gch_beside_header() {
    require_tool("gcc");
    let r = Report::default();
    let s = r.session();
    let gch: &[&str] = &["gcc", "-O2", "-x", "c-header", "p.h", "-o", "p.h.gch"];
    let main: &[&str] = &[
        "gcc", "-O2", "-include", "p.h", "-c", "main.c", "-o", "main.o",
    ];
    let sources = &["p.h", "main.c"];
    let steps: &[&[&str]] = &[gch, main];
    s.write("p.h", &value_header(1));
    s.write("main.c", MAIN_RETURNS_VALUE);

    s.zcc(gch, Expect::Miss, "precompile p.h");
    s.zcc(gch, Expect::Hit, "precompile p.h again (unchanged)");
    let v1 = s.check_fresh(main, Expect::Miss, sources, steps, "main.c, V=1");
    s.check_fresh(main, Expect::Hit, sources, steps, "main.c, V=1 unchanged");

    s.write("p.h", &value_header(2));
    s.zcc(gch, Expect::Miss, "precompile the changed p.h");
    let v2 = s.check_fresh(main, Expect::Miss, sources, steps, "main.c, V=2");
    assert_changed(&v1, &v2, "changing p.h");
    s.zcc(gch, Expect::Hit, "precompile p.h again (V=2, unchanged)");
    s.check_fresh(main, Expect::Hit, sources, steps, "main.c, V=2 unchanged");

    // Back to the first header: the first entries are right again.
    s.write("p.h", &value_header(1));
    s.zcc(gch, Expect::Cached, "precompile p.h back at V=1");
    let back = s.check_fresh(main, Expect::Cached, sources, steps, "main.c back at V=1");
    assert_eq!(back, v1, "test setup: back at V=1, the first object");
}

/// gcc `-include p.h` with a `p.h.gch/` directory: gcc picks a valid PCH from the directory.
/// Replacing the directory's file with one built from a changed header (under another name),
/// and then with one built from a different header while `p.h` stays as it is (so even the
/// `gcc -E` output is unchanged), each miss with the object a from-scratch bare build gives.
#[test]
fn gcc_include_with_gch_directory() {
    require_tool("gcc");
    let r = Report::default();
    let s = r.session();
    let main: &[&str] = &[
        "gcc", "-O2", "-include", "p.h", "-c", "main.c", "-o", "main.o",
    ];
    let a_gch: &[&str] = &["gcc", "-O2", "-x", "c-header", "p.h", "-o", "p.h.gch/a.gch"];
    let b_gch: &[&str] = &["gcc", "-O2", "-x", "c-header", "p.h", "-o", "p.h.gch/b.gch"];
    let other_gch: &[&str] = &[
        "gcc",
        "-O2",
        "-x",
        "c-header",
        "other.h",
        "-o",
        "p.h.gch/c.gch",
    ];
    let sources = &["p.h", "other.h", "main.c"];
    s.write("p.h", &value_header(1));
    s.write("other.h", &value_header(9));
    s.write("main.c", MAIN_RETURNS_VALUE);
    std::fs::create_dir(s.path("p.h.gch")).unwrap();

    s.zcc(a_gch, Expect::Miss, "precompile p.h into the dir");
    s.zcc(a_gch, Expect::Hit, "precompile p.h into the dir again");
    let v1 = s.check_fresh(main, Expect::Miss, sources, &[a_gch, main], "V=1");
    s.check_fresh(main, Expect::Hit, sources, &[a_gch, main], "V=1 unchanged");

    // The header changes; the dir's PCH is replaced by one of another name built from it.
    s.write("p.h", &value_header(2));
    remove(&s.path("p.h.gch/a.gch"));
    s.zcc(b_gch, Expect::Miss, "precompile the changed p.h as b.gch");
    let v2 = s.check_fresh(main, Expect::Miss, sources, &[b_gch, main], "V=2 (b.gch)");
    assert_changed(&v1, &v2, "a PCH of the changed p.h in the dir");
    s.check_fresh(main, Expect::Hit, sources, &[b_gch, main], "V=2 unchanged");

    // p.h stays as it is; the dir's PCH now comes from another header (gcc takes it: it does
    // not check which header a PCH was made from).
    remove(&s.path("p.h.gch/b.gch"));
    s.zcc(other_gch, Expect::Miss, "precompile other.h into p.h.gch/");
    let steps: &[&[&str]] = &[other_gch, main];
    let v9 = s.check_fresh(main, Expect::Miss, sources, steps, "PCH from other.h");
    assert_changed(&v2, &v9, "a PCH built from another header");
    s.check_fresh(
        main,
        Expect::Hit,
        sources,
        steps,
        "PCH from other.h unchanged",
    );
}

/// gcc `#include "x.h"` as the first line of the source picks up `x.h.gch` next to `x.h` (and
/// again lists neither in the depfile). Changing `x.h` and rebuilding the PCH misses, right.
#[test]
fn gcc_quoted_include_picks_up_gch() {
    require_tool("gcc");
    let r = Report::default();
    let s = r.session();
    let gch: &[&str] = &["gcc", "-O2", "-x", "c-header", "x.h", "-o", "x.h.gch"];
    let main: &[&str] = &["gcc", "-O2", "-c", "main.c", "-o", "main.o"];
    let sources = &["x.h", "main.c"];
    let steps: &[&[&str]] = &[gch, main];
    s.write("x.h", &value_header(1));
    s.write("main.c", &format!("#include \"x.h\"\n{MAIN_RETURNS_VALUE}"));

    s.zcc(gch, Expect::Miss, "precompile x.h");
    s.zcc(gch, Expect::Hit, "precompile x.h again");
    let v1 = s.check_fresh(main, Expect::Miss, sources, steps, "V=1");
    s.check_fresh(main, Expect::Hit, sources, steps, "V=1 unchanged");

    s.write("x.h", &value_header(2));
    s.zcc(gch, Expect::Miss, "precompile the changed x.h");
    let v2 = s.check_fresh(main, Expect::Miss, sources, steps, "V=2");
    assert_changed(&v1, &v2, "changing x.h");
    s.check_fresh(main, Expect::Hit, sources, steps, "V=2 unchanged");
}

// ---------------------------------------------------------------------------------------------
// 3. clang precompiled headers

/// The clang scenarios share one shape: precompile (cached: an identical one hits), compile,
/// then (a) change the header and rebuild the PCH, (b) rebuild the PCH from the same header with
/// another `-D` (clang accepts it; its depfile lists only the unchanged header), (c) return to
/// the first header text with a new mtime, as an editor's revert or a checkout gives, rebuild
/// the PCH and compile `main.c` and a second source that uses it. Each object equals what a
/// from-scratch bare build gives. `pch_flags` go to the header compile only.
///
/// Unless built with `-Xclang -fno-pch-timestamp`, a clang PCH records its inputs' mtimes and
/// clang refuses it once they differ ("has been modified since the precompiled header was
/// built"): in (c) the PCH of the first round must then not be restored (a hit would leave a
/// PCH that every later compile rejects); with the flag, restoring it is right.
fn clang_pch_scenario(pch_out: &str, pch_flags: &[&str], use_args: &[&str]) {
    require_tool("clang");
    let r = Report::default();
    let s = r.session();
    let timestamps = !pch_flags.contains(&"-fno-pch-timestamp");
    let pch_cmd = |define: Option<&'static str>| {
        let mut cmd: Vec<&str> = vec!["clang", "-O2"];
        cmd.extend_from_slice(pch_flags);
        cmd.extend(define);
        cmd.extend_from_slice(&["-x", "c-header", "x.h", "-o", pch_out]);
        cmd
    };
    let use_cmd = |source: &'static str, object: &'static str| {
        let mut cmd: Vec<&str> = vec!["clang", "-O2"];
        cmd.extend_from_slice(use_args);
        cmd.extend_from_slice(&["-c", source, "-o", object]);
        cmd
    };
    let (pch, pch3) = (pch_cmd(None), pch_cmd(Some("-DVALUE=3")));
    let (pch, pch3) = (pch.as_slice(), pch3.as_slice());
    let (main, other) = (use_cmd("main.c", "main.o"), use_cmd("other.c", "other.o"));
    let (main, other) = (main.as_slice(), other.as_slice());
    let sources = &["x.h", "main.c", "other.c"];
    let header = s.path("x.h");
    s.write("x.h", &value_header(1));
    // Whole seconds apart: clang records its inputs' mtimes in a PCH at that resolution.
    set_mtime(&header, -30);
    s.write("main.c", MAIN_RETURNS_VALUE);
    s.write("other.c", "int other(void) { return value() + 1; }\n");

    s.zcc(pch, Expect::Miss, "precompile x.h");
    s.zcc(pch, Expect::Hit, "precompile x.h again");
    let v1 = s.check_fresh(main, Expect::Miss, sources, &[pch, main], "V=1");
    s.check_fresh(main, Expect::Hit, sources, &[pch, main], "V=1 unchanged");

    s.write("x.h", &value_header(2));
    set_mtime(&header, -20);
    s.zcc(pch, Expect::Miss, "precompile the changed x.h");
    let v2 = s.check_fresh(main, Expect::Miss, sources, &[pch, main], "V=2");
    assert_changed(&v1, &v2, "changing x.h");
    s.check_fresh(main, Expect::Hit, sources, &[pch, main], "V=2 unchanged");

    s.zcc(pch3, Expect::Miss, "precompile x.h with -DVALUE=3");
    let v3 = s.check_fresh(main, Expect::Miss, sources, &[pch3, main], "PCH -DVALUE=3");
    assert_changed(&v2, &v3, "a PCH built with another -D from the same header");
    s.check_fresh(main, Expect::Hit, sources, &[pch3, main], "V=3 unchanged");

    // Back to the first header text, with a new mtime.
    s.write("x.h", &value_header(1));
    set_mtime(&header, -10);
    let again = if timestamps {
        Expect::NotHit
    } else {
        Expect::Cached
    };
    s.zcc(pch, again, "precompile x.h back at V=1 (new mtime)");
    let back = s.check_fresh(main, again, sources, &[pch, main], "main.c back at V=1");
    assert_eq!(back, v1, "test setup: back at V=1, the first object");
    // A source compiled against this PCH for the first time: clang itself reads the PCH.
    s.check_fresh(
        other,
        Expect::Miss,
        sources,
        &[pch, other],
        "other.c back at V=1",
    );
}

/// clang `-include-pch x.pch` (built with `clang -x c-header x.h -o x.pch`).
#[test]
fn clang_include_pch() {
    clang_pch_scenario("x.pch", &[], &["-include-pch", "x.pch"]);
}

/// clang `-include x.h` with `x.h.pch` beside it (clang looks for `x.h.pch` when `-include` is
/// given and uses it instead of the header's text).
#[test]
fn clang_include_with_pch_beside_header() {
    clang_pch_scenario("x.h.pch", &[], &["-include", "x.h"]);
}

/// clang `-include-pch` with a PCH built with `-Xclang -fno-pch-timestamp` (what ccache asks
/// for): the PCH does not record its inputs' mtimes, so restoring an earlier one is right.
#[test]
fn clang_include_pch_without_timestamps() {
    clang_pch_scenario(
        "x.pch",
        &["-Xclang", "-fno-pch-timestamp"],
        &["-include-pch", "x.pch"],
    );
}

// ---------------------------------------------------------------------------------------------
// 3b. A header of macros only

/// A header of macros only (a `config.h`) precompiled, then its value edited twice, the PCH
/// rebuilt each time. Its preprocessed text (`-E`) is the same for every value (`-E` drops
/// `#define`s) but the PCH holds the definitions: the header compile must never be answered
/// from the preprocessor tier, and `main.c` (which returns `VALUE`) must equal a from-scratch
/// bare build. Two edits, because the tier learns a compile's `-E` hash either in the
/// background after its miss or at once on a miss that ran `-E` itself (the first edit), so the
/// second edit meets it whatever the timing. `pch_flags` go to the header compile only.
fn macro_only_header_scenario(cc: &str, pch_out: &str, pch_flags: &[&str]) {
    require_tool(cc);
    let r = Report::default();
    let s = r.session();
    let mut pch: Vec<&str> = vec![cc, "-O2"];
    pch.extend_from_slice(pch_flags);
    pch.extend_from_slice(&["-x", "c-header", "config.h", "-o", pch_out]);
    let pch = pch.as_slice();
    let main: &[&str] = &[
        cc, "-O2", "-include", "config.h", "-c", "main.c", "-o", "main.o",
    ];
    let sources = &["config.h", "main.c"];
    let steps: &[&[&str]] = &[pch, main];
    s.write("config.h", "#define VALUE 1\n");
    s.write("main.c", "int main(void) { return VALUE; }\n");

    s.zcc(pch, Expect::Miss, &format!("{cc}: precompile config.h"));
    s.zcc(
        pch,
        Expect::Hit,
        &format!("{cc}: precompile config.h again"),
    );
    let mut last = s.check_fresh(main, Expect::Miss, sources, steps, &format!("{cc}: V=1"));
    s.check_fresh(
        main,
        Expect::Hit,
        sources,
        steps,
        &format!("{cc}: V=1 again"),
    );

    for value in [2, 3] {
        let what = format!("{cc}: V={value}");
        s.write("config.h", &format!("#define VALUE {value}\n"));
        s.zcc(
            pch,
            Expect::Miss,
            &format!("{what}: precompile the edited config.h"),
        );
        let now = s.check_fresh(main, Expect::Miss, sources, steps, &what);
        assert_changed(&last, &now, "editing config.h");
        s.zcc(
            pch,
            Expect::Hit,
            &format!("{what}: precompile config.h again"),
        );
        s.check_fresh(main, Expect::Hit, sources, steps, &format!("{what} again"));
        last = now;
    }
}

/// gcc: `config.h` → `config.h.gch`, used through `-include config.h`.
#[test]
fn gcc_gch_of_macro_only_header() {
    macro_only_header_scenario("gcc", "config.h.gch", &[]);
}

/// clang: `config.h` → `config.h.pch` (without timestamps, so clang takes an earlier PCH of a
/// same-size header and a stale one is not merely rejected), used through `-include config.h`.
#[test]
fn clang_pch_of_macro_only_header() {
    macro_only_header_scenario("clang", "config.h.pch", &["-Xclang", "-fno-pch-timestamp"]);
}

// ---------------------------------------------------------------------------------------------
// 4. CMake target_precompile_headers

/// A `cmake` command bound to the session's cache, with the host's compiler, launcher and flag
/// settings removed so they cannot leak into what is tested.
fn cmake(s: &Session) -> Command {
    let mut cmd = Command::new(require_tool("cmake"));
    s.cache.apply_env(&mut cmd);
    for var in [
        "CC",
        "CXX",
        "CFLAGS",
        "CXXFLAGS",
        "CPPFLAGS",
        "LDFLAGS",
        "CMAKE_GENERATOR",
        "CMAKE_BUILD_TYPE",
        "CMAKE_C_COMPILER_LAUNCHER",
        "CMAKE_CXX_COMPILER_LAUNCHER",
        "CMAKE_BUILD_PARALLEL_LEVEL",
        "MAKEFLAGS",
        "MFLAGS",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn cmake_configure(s: &Session, src: &Path, build: &Path, gen: Generator, cc: &str) {
    require_tool(gen.tool());
    let mut cmd = cmake(s);
    cmd.arg("-S")
        .arg(src)
        .arg("-B")
        .arg(build)
        .arg("-G")
        .arg(gen.cmake_name())
        .arg(format!("-DCMAKE_C_COMPILER={}", require_tool(cc).display()))
        .arg(format!(
            "-DCMAKE_C_COMPILER_LAUNCHER={}",
            zccache_bin().display()
        ))
        .arg("-DCMAKE_BUILD_TYPE=");
    let out = cmd.output().expect("spawn cmake");
    assert_ok(&out, &format!("cmake configure ({gen:?}, {cc})"));
}

/// `cmake --build <build> -j2 -v <extra…>`: the build log, or a recorded problem (None) if the
/// build failed.
fn cmake_build(s: &Session, build: &Path, extra: &[&str], what: &str) -> Option<String> {
    let mut cmd = cmake(s);
    cmd.arg("--build")
        .arg(build)
        .args(["-j", "2", "-v"])
        .args(extra);
    let out = cmd.output().expect("spawn cmake --build");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Some(log)
    } else {
        s.problem(format!("{what}: the build through zccache FAILED:\n{log}"));
        None
    }
}

/// Records a problem unless the program built in `build` prints `expected`.
fn expect_app_prints(s: &Session, build: &Path, expected: &str, what: &str) {
    match Command::new(build.join("app")).output() {
        Ok(out) if out.status.success() => {
            let printed = String::from_utf8_lossy(&out.stdout);
            if printed != expected {
                s.problem(format!(
                    "{what}: STALE PROGRAM: prints {printed:?}, the sources say {expected:?}"
                ));
            }
        }
        other => s.problem(format!("{what}: the program did not run: {other:?}")),
    }
}

/// Records a problem unless the counters since the last `zero()` are `hits`/`misses` (None:
/// any) with no errors and nothing uncacheable.
fn expect_build_counts(s: &Session, hits: Option<u64>, misses: Option<u64>, what: &str) {
    let (c, stats) = s.counts();
    if c.errors != 0
        || c.uncacheable != 0
        || hits.is_some_and(|h| h != c.hits)
        || misses.is_some_and(|m| m != c.misses)
    {
        s.problem(format!(
            "{what}: expected {hits:?} hits / {misses:?} misses / 0 uncacheable / 0 errors; \
             stats: {stats}"
        ));
    }
}

/// Sleeps past the next whole second, so the next edit's mtime differs from the last one's at
/// the resolution clang keeps in a PCH.
fn next_second() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    std::thread::sleep(std::time::Duration::from_nanos(
        1_000_000_000 - u64::from(now.subsec_nanos()) + 20_000_000,
    ));
}

/// CMake `target_precompile_headers(app PRIVATE common.h)` with zccache as the C compiler
/// launcher: the program prints the value from `common.h` after every edit (1 → 2 → 3 → 1), a
/// clean rebuild of unchanged sources hits on both compiles (the PCH and `main.c`), and a fresh
/// build dir of the same sources builds a right program, also after another edit. After the
/// revert a second source joins the target and compiles against the PCH on disk (clang refuses
/// a PCH whose recorded header mtime is not the header's). `common.h` holds only an include
/// and a macro, so its `-E` text is the same for every value.
fn cmake_pch(gen: Generator, cc: &str) {
    let r = Report::default();
    let s = r.session();
    let what = format!("{gen:?}/{cc}");
    let src = s.path("proj");
    let cmake_lists = |sources: &str| {
        format!(
            "cmake_minimum_required(VERSION 3.16)\nproject(pchapp C)\n\
             add_executable(app {sources})\ntarget_precompile_headers(app PRIVATE common.h)\n"
        )
    };
    write(&src.join("CMakeLists.txt"), cmake_lists("main.c"));
    let common = src.join("common.h");
    let header = |v: u32| format!("#include <stdio.h>\n#define VALUE {v}\n");
    let edit = |v: u32| {
        next_second();
        write(&common, header(v));
    };
    write(&common, header(1));
    write(
        &src.join("main.c"),
        "int main(void) { printf(\"%d\\n\", VALUE); return 0; }\n",
    );
    let bdir = s.path("build");

    cmake_configure(&s, &src, &bdir, gen, cc);
    s.cache.zero();
    if let Some(log) = cmake_build(&s, &bdir, &[], &format!("{what}: first build")) {
        let launcher = zccache_bin().display().to_string();
        let pch_compiles = log
            .lines()
            .filter(|l| l.contains("cmake_pch.h.") && l.contains(" -x c-header"))
            .collect::<Vec<_>>();
        assert!(
            pch_compiles.len() == 1 && pch_compiles[0].contains(&launcher),
            "{what}: the PCH is built once, through zccache:\n{log}"
        );
    }
    expect_app_prints(&s, &bdir, "1\n", &format!("{what}: first build"));
    expect_build_counts(&s, Some(0), Some(2), &format!("{what}: first build"));

    // Unchanged sources, clean rebuild: both compiles hit.
    cmake_build(&s, &bdir, &["--target", "clean"], &format!("{what}: clean"));
    s.cache.zero();
    cmake_build(&s, &bdir, &[], &format!("{what}: clean rebuild"));
    expect_app_prints(&s, &bdir, "1\n", &format!("{what}: clean rebuild"));
    expect_build_counts(&s, Some(2), Some(0), &format!("{what}: clean rebuild"));

    // Edit the precompiled header twice (see `macro_only_header_scenario` for why twice):
    // nothing may come from cache.
    for value in [2, 3] {
        let when = format!("{what}: common.h edited to {value}");
        edit(value);
        s.cache.zero();
        cmake_build(&s, &bdir, &[], &when);
        expect_app_prints(&s, &bdir, &format!("{value}\n"), &when);
        expect_build_counts(&s, Some(0), None, &when);
    }

    // ABA: back to the first value (these compiles may hit the first entries).
    edit(1);
    cmake_build(&s, &bdir, &[], &format!("{what}: reverted common.h"));
    expect_app_prints(&s, &bdir, "1\n", &format!("{what}: reverted common.h"));
    // A source added to the target now compiles against the PCH that is on disk (nothing
    // rebuilds the PCH): it must be one the compiler accepts.
    write(&src.join("CMakeLists.txt"), cmake_lists("main.c second.c"));
    write(
        &src.join("second.c"),
        "int second_value(void) { return VALUE; }\n",
    );
    cmake_build(
        &s,
        &bdir,
        &[],
        &format!("{what}: a source added after the revert"),
    );
    expect_app_prints(&s, &bdir, "1\n", &format!("{what}: a source added"));

    // A fresh build dir of the same sources, then another edit there.
    let fresh = s.path("build2");
    cmake_configure(&s, &src, &fresh, gen, cc);
    cmake_build(&s, &fresh, &[], &format!("{what}: fresh build dir"));
    expect_app_prints(&s, &fresh, "1\n", &format!("{what}: fresh build dir"));
    edit(4);
    cmake_build(&s, &fresh, &[], &format!("{what}: fresh build dir, edited"));
    expect_app_prints(
        &s,
        &fresh,
        "4\n",
        &format!("{what}: fresh build dir, edited"),
    );
    let (c, stats) = s.counts();
    if c.errors != 0 || c.uncacheable != 0 {
        s.problem(format!(
            "{what}: no errors, nothing uncacheable; stats: {stats}"
        ));
    }
}

#[test]
fn cmake_precompiled_header_ninja_gcc() {
    cmake_pch(Generator::Ninja, "gcc");
}

#[test]
fn cmake_precompiled_header_makefiles_gcc() {
    cmake_pch(Generator::Make, "gcc");
}

#[test]
fn cmake_precompiled_header_ninja_clang() {
    cmake_pch(Generator::Ninja, "clang");
}

// ---------------------------------------------------------------------------------------------
// 5. Files the assembler reads

/// `.incbin "data.bin"` from inline asm in a C file (read by `as` for gcc, by clang's integrated
/// assembler for clang; neither depfile lists it): editing `data.bin` in place (same size), to
/// another size, and back each give the object a bare compile gives; unchanged rebuilds hit.
#[test]
fn incbin_from_inline_asm() {
    let r = Report::default();
    for cc in compilers() {
        let s = r.session();
        s.write(
            "blob.c",
            "__asm__(\".section .rodata\\n.global blob\\nblob: .incbin \\\"data.bin\\\"\\n\
             .global blob_end\\nblob_end:\\n.previous\");\n",
        );
        let args: &[&str] = &[cc, "-c", "blob.c", "-o", "blob.o"];
        s.write("data.bin", "ABCD");
        let abcd = s.check(args, Expect::Miss, &format!("{cc}: ABCD"));
        s.check(args, Expect::Hit, &format!("{cc}: unchanged"));
        s.write("data.bin", "WXYZ");
        let wxyz = s.check(args, Expect::Miss, &format!("{cc}: same size edit"));
        assert_changed(&abcd, &wxyz, "editing data.bin");
        s.write("data.bin", "0123456789");
        let long = s.check(args, Expect::Miss, &format!("{cc}: other size"));
        assert_changed(&wxyz, &long, "resizing data.bin");
        s.check(args, Expect::Hit, &format!("{cc}: unchanged again"));
        s.write("data.bin", "ABCD");
        let back = s.check(args, Expect::Cached, &format!("{cc}: back to ABCD"));
        assert_eq!(back, abcd, "test setup: {cc}: back to ABCD");
    }
}

/// A `.S` file with `.include "macros.inc"` and `.incbin "data.bin"` (assembler directives, not
/// preprocessor ones: the depfile lists only the `.S` and preprocessor headers). Editing either
/// file misses with the right object.
#[test]
fn assembler_include_and_incbin_in_dot_s() {
    let r = Report::default();
    for cc in compilers() {
        let s = r.session();
        s.write(
            "s.S",
            "#define SEVEN 7\n.include \"macros.inc\"\n.section .rodata\n.global sblob\n\
             sblob: .incbin \"data.bin\"\nemit_word SEVEN\n",
        );
        let macros = |n: u32| format!(".macro emit_word v\n.long \\v + {n}\n.endm\n");
        s.write("macros.inc", &macros(0));
        s.write("data.bin", "ABCD");
        let args: &[&str] = &[cc, "-c", "s.S", "-o", "s.o"];
        let first = s.check(args, Expect::Miss, &format!("{cc}: first"));
        s.check(args, Expect::Hit, &format!("{cc}: unchanged"));
        s.write("macros.inc", &macros(1));
        let edited = s.check(args, Expect::Miss, &format!("{cc}: macros.inc edited"));
        assert_changed(&first, &edited, "editing macros.inc");
        s.write("data.bin", "ABCDEFGH");
        let data = s.check(args, Expect::Miss, &format!("{cc}: data.bin edited"));
        assert_changed(&edited, &data, "editing data.bin");
        s.check(args, Expect::Hit, &format!("{cc}: unchanged again"));
    }
}

/// `-Wa,-Iasminc` names the directory holding `macros.inc` and `data.bin`: editing them there
/// misses; and a `macros.inc` that appears next to the source later (the assembler looks there
/// before the `-I` dirs) misses too.
#[test]
fn assembler_include_dir_from_wa_i() {
    let r = Report::default();
    for cc in compilers() {
        let s = r.session();
        s.write(
            "s.S",
            ".include \"macros.inc\"\n.section .rodata\n.global sblob\n\
             sblob: .incbin \"data.bin\"\nemit_word 7\n",
        );
        let macros = |n: u32| format!(".macro emit_word v\n.long \\v + {n}\n.endm\n");
        s.write("asminc/macros.inc", &macros(0));
        s.write("asminc/data.bin", "ABCD");
        let args: &[&str] = &[cc, "-Wa,-Iasminc", "-c", "s.S", "-o", "s.o"];
        let first = s.check(args, Expect::Miss, &format!("{cc}: first"));
        s.check(args, Expect::Hit, &format!("{cc}: unchanged"));
        s.write("asminc/macros.inc", &macros(1));
        let edited = s.check(args, Expect::Miss, &format!("{cc}: -I dir macros.inc"));
        assert_changed(&first, &edited, "editing asminc/macros.inc");
        s.write("asminc/data.bin", "WXYZ");
        let data = s.check(args, Expect::Miss, &format!("{cc}: -I dir data.bin"));
        assert_changed(&edited, &data, "editing asminc/data.bin");
        s.check(args, Expect::Hit, &format!("{cc}: unchanged again"));
        s.write("macros.inc", &macros(2));
        let shadow = s.check(args, Expect::Miss, &format!("{cc}: macros.inc beside"));
        assert_changed(&data, &shadow, "a macros.inc beside the source");
    }
}

// ---------------------------------------------------------------------------------------------
// 6. __has_include probes

/// A wrapper `opt.h` that includes the next `opt.h` on the path only if there is one.
const WRAP_OPT_H: &str =
    "#if __has_include_next(<opt.h>)\n#include_next <opt.h>\n#else\n#define OPT 0\n#endif\n";

fn has_include_session(r: &Report, source: &str) -> Session {
    let s = r.session();
    s.write("main.c", source);
    for dir in ["inc", "sys", "after", "next"] {
        std::fs::create_dir_all(s.path(dir)).unwrap();
    }
    s.write("wrap/opt.h", WRAP_OPT_H);
    s
}

/// One `__has_include` scenario: `opt_path` (relative to the work dir) absent at first, then
/// created, then removed (the first entry is right again); and the reverse, present at first,
/// then removed. Every step's object equals a bare compile.
fn has_include_scenario(
    r: &Report,
    cc: &str,
    source: &str,
    extra: &[&str],
    opt_path: &str,
    what: &str,
) {
    let opt_text = "#define OPT 5\n";
    let mut args: Vec<&str> = vec![cc];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-c", "main.c", "-o", "main.o"]);
    let args = args.as_slice();
    let what = format!("{cc} {what}");

    let s = has_include_session(r, source);
    let opt = s.path(opt_path);
    let absent = s.check(args, Expect::Miss, &format!("{what}: absent"));
    s.check(args, Expect::Hit, &format!("{what}: absent, unchanged"));
    write(&opt, opt_text);
    let present = s.check(args, Expect::Miss, &format!("{what}: created"));
    assert_changed(&absent, &present, &format!("creating {opt_path}"));
    s.check(args, Expect::Hit, &format!("{what}: created, unchanged"));
    remove(&opt);
    let gone = s.check(args, Expect::Cached, &format!("{what}: removed again"));
    assert_eq!(gone, absent, "test setup: {what}: removed again");
    drop(s); // stops its daemon before the next session starts

    let s = has_include_session(r, source);
    let opt = s.path(opt_path);
    write(&opt, opt_text);
    let present = s.check(args, Expect::Miss, &format!("{what}: present first"));
    s.check(
        args,
        Expect::Hit,
        &format!("{what}: present first, unchanged"),
    );
    remove(&opt);
    let absent = s.check(args, Expect::Miss, &format!("{what}: removed"));
    assert_changed(&present, &absent, &format!("removing {opt_path}"));
    s.check(args, Expect::Hit, &format!("{what}: removed, unchanged"));
}

/// `#if __has_include("opt.h")` (quote form: the source's dir) and `<opt.h>` found through `-I`,
/// `-isystem` and `-idirafter`, for gcc and clang, including the header when it is there.
#[test]
fn has_include_header_appears_and_disappears() {
    let r = Report::default();
    let quoted = "#if __has_include(\"opt.h\")\n#include \"opt.h\"\n#else\n#define OPT 0\n#endif\n\
                  int opt = OPT;\n";
    let angled = "#if __has_include(<opt.h>)\n#include <opt.h>\n#else\n#define OPT 0\n#endif\n\
                  int opt = OPT;\n";
    for cc in compilers() {
        has_include_scenario(&r, cc, quoted, &[], "opt.h", "quote form");
        has_include_scenario(&r, cc, angled, &["-Iinc"], "inc/opt.h", "-I");
        has_include_scenario(
            &r,
            cc,
            angled,
            &["-isystem", "sys"],
            "sys/opt.h",
            "-isystem",
        );
        has_include_scenario(
            &r,
            cc,
            angled,
            &["-idirafter", "after"],
            "after/opt.h",
            "-idirafter",
        );
    }
}

/// `__has_include` used only as a test, never followed by an include: gcc's depfile lists the
/// header in no state (clang's lists it while it is there).
#[test]
fn has_include_probe_only() {
    let r = Report::default();
    let probe =
        "#if __has_include(\"opt.h\")\nint have_opt = 1;\n#else\nint have_opt = 0;\n#endif\n";
    for cc in compilers() {
        has_include_scenario(&r, cc, probe, &[], "opt.h", "probe only");
    }
}

/// `__has_include_next(<opt.h>)` in a wrapper header `wrap/opt.h`, with `-Iwrap -Inext`: a
/// `next/opt.h` that appears (or vanishes) changes what the wrapper includes.
#[test]
fn has_include_next_header_appears_and_disappears() {
    let r = Report::default();
    let source = "#include <opt.h>\nint opt = OPT;\n";
    for cc in compilers() {
        has_include_scenario(
            &r,
            cc,
            source,
            &["-Iwrap", "-Inext"],
            "next/opt.h",
            "include_next",
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 7. -imacros, -specs=, -B

/// `-imacros m.h`: editing the macro file misses with the right object.
#[test]
fn imacros_file_is_an_input() {
    let r = Report::default();
    for cc in compilers() {
        let s = r.session();
        s.write("m.h", "#define M 7\n");
        s.write("m.c", "int v = M;\n");
        let args: &[&str] = &[cc, "-imacros", "m.h", "-c", "m.c", "-o", "m.o"];
        let first = s.check(args, Expect::Miss, &format!("{cc}: M=7"));
        s.check(args, Expect::Hit, &format!("{cc}: unchanged"));
        s.write("m.h", "#define M 8\n");
        let edited = s.check(args, Expect::Miss, &format!("{cc}: M=8"));
        assert_changed(&first, &edited, "editing m.h");
        s.check(args, Expect::Hit, &format!("{cc}: M=8 unchanged"));
    }
}

/// `-specs=my.specs` adding `-DFROM_SPECS=<n>` to the preprocessor: editing the specs file
/// (same size, then another size) never gives a stale object; an unchanged rebuild hits.
#[test]
fn specs_file_is_an_input() {
    require_tool("gcc");
    let r = Report::default();
    let s = r.session();
    s.write(
        "s.c",
        "#ifndef FROM_SPECS\n#define FROM_SPECS 0\n#endif\nint s = FROM_SPECS;\n",
    );
    let specs = |v: &str| format!("*cpp_unique_options:\n+ -DFROM_SPECS={v}\n\n");
    s.write("my.specs", &specs("1"));
    let args: &[&str] = &["gcc", "-specs=my.specs", "-c", "s.c", "-o", "s.o"];
    let one = s.check(args, Expect::Miss, "specs 1");
    s.check(args, Expect::Hit, "specs 1, unchanged");
    s.write("my.specs", &specs("2"));
    let two = s.check(args, Expect::NotHit, "specs 2 (same size)");
    assert_changed(&one, &two, "editing my.specs");
    s.write("my.specs", &specs("300"));
    let three = s.check(args, Expect::NotHit, "specs 300 (other size)");
    assert_changed(&two, &three, "resizing my.specs");
}

/// `-Btools/` where `tools/` first holds nothing gcc uses, then gains an `as` wrapper script
/// (runs the real `as`, then appends a byte to the object) whose text then changes, then a
/// `specs` file (gcc reads `<-B dir>/specs` by itself). No step gives a stale object;
/// unchanged rebuilds hit.
#[test]
fn b_dir_assembler_and_specs() {
    require_tool("gcc");
    let real_as = require_tool("as");
    let r = Report::default();
    let s = r.session();
    s.write(
        "m.c",
        "#ifndef FROM_SPECS\n#define FROM_SPECS 0\n#endif\nint v = FROM_SPECS;\n",
    );
    std::fs::create_dir_all(s.path("tools")).unwrap();
    let as_wrapper = |byte: char| {
        format!(
            "#!/bin/sh\nout=a.out\nprev=\nfor a in \"$@\"; do [ \"$prev\" = -o ] && out=$a; \
             prev=$a; done\n{} \"$@\" || exit $?\nprintf '{byte}' >> \"$out\"\n",
            real_as.display()
        )
    };
    let args: &[&str] = &["gcc", "-Btools/", "-c", "m.c", "-o", "m.o"];
    let plain = s.check(args, Expect::Miss, "-B: empty dir");
    s.check(args, Expect::Hit, "-B: empty dir, unchanged");

    write_script(&s.path("tools/as"), &as_wrapper('A'));
    let a = s.check(args, Expect::NotHit, "-B: an as wrapper appears");
    assert_changed(&plain, &a, "an `as` in the -B dir");
    s.check(args, Expect::Hit, "-B: as wrapper, unchanged");
    write_script(&s.path("tools/as"), &as_wrapper('B'));
    let b = s.check(args, Expect::NotHit, "-B: as wrapper edited");
    assert_changed(&a, &b, "editing the `as` wrapper");

    s.write("tools/specs", "*cpp_unique_options:\n+ -DFROM_SPECS=4\n\n");
    let specs = s.check(args, Expect::NotHit, "-B: a specs file appears");
    assert_changed(&b, &specs, "a specs file in the -B dir");
    s.check(args, Expect::Hit, "-B: specs, unchanged");
}

/// `-Btools/` where `tools/cc1` is a wrapper that runs gcc's real `cc1` with an extra `-D`: the
/// wrapper appearing and then changing never gives a stale object.
#[test]
fn b_dir_cc1_wrapper() {
    require_tool("gcc");
    let r = Report::default();
    let s = r.session();
    let real_cc1 = Command::new("gcc")
        .arg("-print-prog-name=cc1")
        .output()
        .expect("gcc -print-prog-name=cc1");
    let real_cc1 = String::from_utf8(real_cc1.stdout)
        .unwrap()
        .trim()
        .to_string();
    assert!(Path::new(&real_cc1).is_file(), "gcc's cc1 at {real_cc1:?}");
    s.write(
        "m.c",
        "#ifndef FROM_CC1\n#define FROM_CC1 0\n#endif\nint v = FROM_CC1;\n",
    );
    std::fs::create_dir_all(s.path("tools")).unwrap();
    let wrapper = |v: u32| format!("#!/bin/sh\nexec {real_cc1} \"$@\" -DFROM_CC1={v}\n");
    let args: &[&str] = &["gcc", "-Btools/", "-c", "m.c", "-o", "m.o"];
    let plain = s.check(args, Expect::Miss, "-B: no cc1");
    s.check(args, Expect::Hit, "-B: no cc1, unchanged");
    write_script(&s.path("tools/cc1"), &wrapper(1));
    let one = s.check(args, Expect::NotHit, "-B: a cc1 wrapper appears");
    assert_changed(&plain, &one, "a cc1 in the -B dir");
    s.check(args, Expect::Hit, "-B: cc1 wrapper, unchanged");
    write_script(&s.path("tools/cc1"), &wrapper(2));
    let two = s.check(args, Expect::NotHit, "-B: cc1 wrapper edited");
    assert_changed(&one, &two, "editing the cc1 wrapper");
}

// ---------------------------------------------------------------------------------------------
// 8. The normal cases still hit

/// A source with a few headers (quoted, `-I`, nested, system) misses once and then hits, for
/// gcc and clang, also after touching a header without changing it; editing a nested header
/// misses; a link is cached (it misses once) and a `-E` run is passed through under its reason.
#[test]
fn ordinary_compiles_still_hit_and_reasons_are_named() {
    let r = Report::default();
    for cc in compilers() {
        let s = r.session();
        s.write("local.h", "#define LOCAL 1\n");
        s.write(
            "inc/lib.h",
            "#include \"inner.h\"\n#define LIB (INNER + 1)\n",
        );
        s.write("inc/inner.h", "#define INNER 2\n");
        s.write(
            "main.c",
            "#include <stdio.h>\n#include <string.h>\n#include \"local.h\"\n#include <lib.h>\n\
             int main(void) { printf(\"%d\\n\", LOCAL + LIB + (int)strlen(\"ab\")); return 0; }\n",
        );
        let args: &[&str] = &[cc, "-O2", "-Iinc", "-c", "main.c", "-o", "main.o"];
        let first = s.check(args, Expect::Miss, &format!("{cc}: cold"));
        s.check(args, Expect::Hit, &format!("{cc}: warm"));
        s.check(args, Expect::Hit, &format!("{cc}: warm again"));
        set_mtime(&s.path("inc/inner.h"), 0);
        s.check(args, Expect::Hit, &format!("{cc}: touched header"));
        s.write("inc/inner.h", "#define INNER 3\n");
        let edited = s.check(args, Expect::Miss, &format!("{cc}: edited header"));
        assert_changed(&first, &edited, "editing inc/inner.h");
        s.check(args, Expect::Hit, &format!("{cc}: edited, warm"));

        s.zcc(
            &[cc, "main.o", "-o", "app"],
            Expect::Miss,
            &format!("{cc}: link"),
        );
        s.zcc(
            &[cc, "-Iinc", "-E", "main.c", "-o", "main.i"],
            Expect::NotHit,
            &format!("{cc}: -E"),
        );
        let (c, stats) = s.counts();
        assert_eq!(
            (c.hits, c.misses, c.uncacheable, c.errors),
            (4, 3, 1, 0),
            "{cc}: {stats}"
        );
        let named: Vec<&str> = c
            .reasons
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(name, _)| name.as_str())
            .collect();
        assert_eq!(named, ["preprocess_only"], "{cc}: {stats}");
        let run = Command::new(s.path("app")).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&run.stdout), "7\n", "{cc}");
    }
}
