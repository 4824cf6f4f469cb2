//! End-to-end tests of "why did it miss?": `zccache explain` (a dry run naming the difference
//! against the nearest entry), the miss journal behind `zccache misses`, the top causes in
//! `zccache stats`, and the causes `cargo zccache` prints — with real gcc, clang, make and
//! cargo.

mod common;

use common::{assert_ok, require_tool, scrub, TestCache};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn compilers() -> Vec<&'static str> {
    require_tool("gcc");
    require_tool("clang");
    vec!["gcc", "clang"]
}

/// `zccache explain --json <command…>` in the work dir with extra env: (result, causes).
fn explain_with(
    cache: &TestCache,
    command: &[&str],
    env: &[(&str, &str)],
) -> (String, Vec<String>) {
    let mut cmd = cache.zccache();
    cmd.arg("explain").arg("--json").args(command);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("spawn zccache explain");
    assert_ok(&out, "zccache explain");
    let v: Value = serde_json::from_slice(&out.stdout).expect("explain --json is JSON");
    let result = v["result"].as_str().expect("result").to_string();
    let causes = v["causes"]
        .as_array()
        .expect("causes")
        .iter()
        .map(|c| c.as_str().expect("cause text").to_string())
        .collect();
    (result, causes)
}

fn explain(cache: &TestCache, command: &[&str]) -> (String, Vec<String>) {
    explain_with(cache, command, &[])
}

fn compile(cache: &TestCache, command: &[&str]) {
    assert_ok(&cache.run(command, None), &command.join(" "));
}

/// Names (and sizes, mtimes) of every file below `dir`: to prove a dry run wrote nothing.
fn snapshot(dir: &Path) -> Vec<(PathBuf, u64, std::time::SystemTime)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let meta = entry.metadata().expect("metadata");
        if meta.is_dir() {
            out.extend(snapshot(&entry.path()));
        } else {
            out.push((entry.path(), meta.len(), meta.modified().expect("mtime")));
        }
    }
    out.sort();
    out
}

/// `zccache misses --json` groups as (cause, count, examples).
fn misses(cache: &TestCache) -> Vec<(String, u64, Vec<String>)> {
    let out = cache.run(&["misses", "--json"], None);
    assert_ok(&out, "zccache misses --json");
    let v: Value = serde_json::from_slice(&out.stdout).expect("misses --json is JSON");
    v["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| {
            (
                g["cause"].as_str().expect("cause").to_string(),
                g["count"].as_u64().expect("count"),
                g["examples"]
                    .as_array()
                    .expect("examples")
                    .iter()
                    .map(|e| e.as_str().expect("example").to_string())
                    .collect(),
            )
        })
        .collect()
}

/// Ten sources; three include `config.h`.
fn write_make_project(cache: &TestCache) {
    cache.write("include/config.h", "#define LIMIT 10\n");
    cache.write("include/other.h", "#define OTHER 1\n");
    for i in 0..10 {
        let header = if i < 3 { "config.h" } else { "other.h" };
        let value = if i < 3 { "LIMIT" } else { "OTHER" };
        cache.write(
            &format!("src/f{i}.c"),
            &format!("#include \"{header}\"\nint f{i}(int x) {{ return x + {value} + {i}; }}\n"),
        );
    }
    let objs: Vec<String> = (0..10).map(|i| format!("obj/f{i}.o")).collect();
    cache.write(
        "Makefile",
        &format!(
            "OBJS = {}\nall: $(OBJS)\nobj/%.o: src/%.c\n\t@mkdir -p obj\n\t$(CC) -Iinclude -O1 -MMD -c $< -o $@\n-include $(OBJS:.o=.d)\n",
            objs.join(" ")
        ),
    );
}

fn make(cache: &TestCache, cc: &str) -> Output {
    require_tool("make");
    let mut cmd = Command::new("make");
    cache.apply_env(&mut cmd);
    cmd.args(["-j4", "-s"])
        .arg(format!("CC={} {cc}", common::zccache_bin().display()))
        .current_dir(&cache.work)
        .output()
        .expect("spawn make")
}

#[test]
fn header_edit_in_a_make_build_is_one_cause_counted_three_times() {
    for cc in compilers() {
        let cache = TestCache::new();
        write_make_project(&cache);
        assert_ok(&make(&cache, cc), "cold make");
        cache.zero();
        cache.write("include/config.h", "#define LIMIT 11\n");
        assert_ok(&make(&cache, cc), "make after the header edit");

        let groups = misses(&cache);
        let edited: Vec<&(String, u64, Vec<String>)> = groups
            .iter()
            .filter(|(cause, _, _)| !cause.contains("first compile"))
            .collect();
        assert_eq!(edited.len(), 1, "{cc}: one cause expected, got {groups:?}");
        let (cause, count, examples) = edited[0];
        assert_eq!(cause, "include/config.h changed", "{cc}");
        assert_eq!(*count, 3, "{cc}");
        let mut names: Vec<&str> = examples
            .iter()
            .map(|e| e.rsplit('/').next().unwrap_or(e))
            .collect();
        names.sort();
        assert_eq!(names, vec!["f0.o", "f1.o", "f2.o"], "{cc}");

        // `stats` shows the causes since the --zero: only this one.
        let top = cache.stats()["top_miss_causes"].clone();
        assert_eq!(
            top,
            serde_json::json!([{"cause": "include/config.h changed", "count": 3}]),
            "{cc}"
        );
        let text = cache.run(&["stats"], None);
        assert!(
            String::from_utf8_lossy(&text.stdout).contains("3 compiles: include/config.h changed")
        );

        // The edit again, then `explain` of one of the three names the header too.
        cache.write("include/config.h", "#define LIMIT 12\n");
        let (result, causes) = explain(
            &cache,
            &[
                cc,
                "-Iinclude",
                "-O1",
                "-MMD",
                "-c",
                "src/f1.c",
                "-o",
                "obj/f1.o",
            ],
        );
        assert_eq!(result, "miss", "{cc}: {causes:?}");
        assert!(
            causes[0]
                .starts_with("include/config.h changed (content differs from the entry stored 20"),
            "{cc}: {causes:?}"
        );
        // …while an untouched one would hit.
        let (result, causes) = explain(
            &cache,
            &[
                cc,
                "-Iinclude",
                "-O1",
                "-MMD",
                "-c",
                "src/f5.c",
                "-o",
                "obj/f5.o",
            ],
        );
        assert_eq!(
            (result.as_str(), causes.len()),
            ("hit", 0),
            "{cc}: {causes:?}"
        );
    }
}

#[test]
fn explain_names_each_kind_of_difference() {
    for cc in compilers() {
        let cache = TestCache::new();
        cache.write("main.c", "int main(void) { return FOO; }\n");
        let cmd = |define: &'static str| -> Vec<&'static str> {
            vec![cc, define, "-c", "main.c", "-o", "main.o"]
        };

        // First compile: nothing to compare with, and the dry run writes nothing.
        let before = snapshot(&cache.work);
        let (result, causes) = explain(&cache, &cmd("-DFOO=1"));
        assert_eq!(result, "miss");
        assert_eq!(
            causes,
            vec!["no entry for this source and arguments (first compile)"]
        );
        assert_eq!(
            snapshot(&cache.work),
            before,
            "{cc}: explain must create no file"
        );

        compile(&cache, &cmd("-DFOO=1"));
        let before = snapshot(&cache.work);
        let (result, causes) = explain(&cache, &cmd("-DFOO=1"));
        assert_eq!(
            (result.as_str(), causes.len()),
            ("hit", 0),
            "{cc}: {causes:?}"
        );
        assert_eq!(
            snapshot(&cache.work),
            before,
            "{cc}: explain of a hit must write nothing"
        );
        assert_eq!(cache.stat("hits"), 0, "{cc}: explain must count nothing");

        // Another -D value.
        let (result, causes) = explain(&cache, &cmd("-DFOO=2"));
        assert_eq!(result, "miss");
        assert_eq!(
            causes,
            vec!["new argument -DFOO=2 (the entry had -DFOO=1)"],
            "{cc}"
        );

        // An output-affecting variable.
        let (result, causes) = explain_with(&cache, &cmd("-DFOO=1"), &[("SOURCE_DATE_EPOCH", "1")]);
        assert_eq!(result, "miss");
        assert_eq!(causes, vec!["env SOURCE_DATE_EPOCH differs"], "{cc}");

        // Compiling and linking in one command is not cached (a link of objects is).
        let (result, causes) = explain(&cache, &[cc, "main.c", "-o", "prog"]);
        assert_eq!(result, "uncacheable");
        assert!(causes[0].contains("compile and link"), "{cc}: {causes:?}");
        assert!(!cache.work.join("prog").exists());

        // The real compiles of the same cases are journaled with the same causes.
        compile(&cache, &cmd("-DFOO=2"));
        let _ = cache.run(&[cc, "main.c", "-o", "prog"], None);
        let causes: Vec<String> = misses(&cache).into_iter().map(|g| g.0).collect();
        assert!(
            causes.contains(&"new argument -DFOO=2 (the entry had -DFOO=1)".to_string()),
            "{causes:?}"
        );
        assert!(
            causes.contains(&"no entry for this source and arguments (first compile)".to_string())
        );
        assert!(
            causes
                .iter()
                .any(|c| c.starts_with("uncacheable: compile and link")),
            "{causes:?}"
        );
    }
}

#[test]
fn explain_names_a_shadowing_header() {
    for cc in compilers() {
        let cache = TestCache::new();
        cache.write("b/x.h", "#define V 1\n");
        std::fs::create_dir_all(cache.work.join("a")).expect("mkdir a");
        cache.write("main.c", "#include <x.h>\nint v = V;\n");
        let cmd = [cc, "-Ia", "-Ib", "-c", "main.c", "-o", "main.o"];
        compile(&cache, &cmd);
        assert_eq!(explain(&cache, &cmd).0, "hit");
        cache.write("a/x.h", "#define V 2\n");
        let (result, causes) = explain(&cache, &cmd);
        assert_eq!(result, "miss");
        assert_eq!(causes, vec!["a new header a/x.h now shadows b/x.h"], "{cc}");
    }
}

#[test]
fn explain_names_another_compiler_of_the_same_name() {
    let cache = TestCache::new();
    // A second gcc earlier on PATH: the same driver with other bytes (still runs).
    let on_path = require_tool("gcc");
    let real = std::fs::canonicalize(&on_path).expect("resolve gcc");
    let bin = cache.root.path().join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir bin");
    let mut bytes = std::fs::read(&real).expect("read gcc");
    bytes.extend_from_slice(b"\0another build");
    std::fs::write(bin.join("gcc"), bytes).expect("write gcc copy");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(bin.join("gcc"), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
    }
    cache.write("main.c", "int main(void) { return 0; }\n");
    let cmd = ["gcc", "-c", "main.c", "-o", "main.o"];
    compile(&cache, &cmd);
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let (result, causes) = explain_with(&cache, &cmd, &[("PATH", &path)]);
    assert_eq!(result, "miss");
    assert_eq!(
        causes,
        vec![format!(
            "compiler changed: {} (the entry used {}, other binary content)",
            bin.join("gcc").display(),
            on_path.display()
        )]
    );
}

/// The cargo-zccache binary next to the zccache under test (built when missing or stale).
fn cargo_zccache_bin() -> PathBuf {
    let bin = common::zccache_bin()
        .parent()
        .expect("zccache has a parent dir")
        .join("cargo-zccache");
    let mut cmd = Command::new(option_env!("CARGO").unwrap_or("cargo"));
    cmd.args(["build", "-q", "-p", "cargo-zccache"])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if bin.to_string_lossy().contains("/release/") {
        cmd.arg("--release");
    }
    assert_ok(
        &cmd.output().expect("spawn cargo build"),
        "cargo build -p cargo-zccache",
    );
    bin
}

#[test]
fn cargo_zccache_names_the_crate_and_file_that_changed() {
    let cache = TestCache::new();
    cache.write(
        "ws/Cargo.toml",
        "[workspace]\nmembers = [\"leaf\", \"app\"]\nresolver = \"2\"\n",
    );
    cache.write(
        "ws/leaf/Cargo.toml",
        "[package]\nname = \"leaf\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    cache.write("ws/leaf/src/lib.rs", "pub fn answer() -> u32 { 41 }\n");
    cache.write(
        "ws/app/Cargo.toml",
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nleaf = { path = \"../leaf\" }\n",
    );
    cache.write(
        "ws/app/src/main.rs",
        "fn main() { println!(\"{}\", leaf::answer()); }\n",
    );
    let bin = cargo_zccache_bin();
    let build = || {
        let mut cmd = Command::new(&bin);
        scrub(&mut cmd);
        cache.apply_env(&mut cmd);
        cmd.env("CARGO", option_env!("CARGO").unwrap_or("cargo"))
            .env("CARGO_TARGET_DIR", cache.work.join("target"))
            .current_dir(cache.work.join("ws"))
            .args(["zccache", "build", "--offline"]);
        let out = cmd.output().expect("spawn cargo zccache");
        assert_ok(&out, "cargo zccache build");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    build();
    cache.write("ws/leaf/src/lib.rs", "pub fn answer() -> u32 { 42 }\n");
    let summary = build();
    assert!(
        !summary.contains("first compile"),
        "only this build's misses:\n{summary}"
    );
    assert!(
        summary.contains("why it missed"),
        "no miss causes in the summary:\n{summary}"
    );
    assert!(
        summary.contains("leaf: source leaf/src/lib.rs changed"),
        "the summary must name the crate and the file:\n{summary}"
    );
    assert!(
        summary.contains("app: dependency leaf changed (libleaf-"),
        "the dependent crate's cause:\n{summary}"
    );
}

#[test]
fn help_leads_with_wrapping_a_compile() {
    let cache = TestCache::new();
    let out = cache.run(&["--help"], None);
    assert_ok(&out, "zccache --help");
    let text = String::from_utf8_lossy(&out.stdout);
    let commands = text.find("Commands:").expect("a command list");
    for needle in [
        "zccache <compiler> <args…>",
        "masquerade",
        "cargo zccache build",
        "CMAKE_C_COMPILER_LAUNCHER=zccache",
        "bazel build",
        "emscripten/env.sh",
        "zccache explain",
    ] {
        let at = text
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} missing:\n{text}"));
        assert!(
            at < commands,
            "{needle} must come before the command list:\n{text}"
        );
    }
}

#[test]
fn explain_works_for_emcc() {
    require_tool("emcc");
    let cache = TestCache::new();
    cache.write("util.h", "#define N 1\n");
    cache.write(
        "main.c",
        "#include \"util.h\"\nint main(void) { return N; }\n",
    );
    let emcc = |cache: &TestCache, args: &[&str]| -> (String, Vec<String>) {
        let mut cmd = cache.zccache();
        for var in [
            "EM_CONFIG",
            "EM_CACHE",
            "EMCC_CFLAGS",
            "EM_COMPILER_WRAPPER",
        ] {
            cmd.env_remove(var);
        }
        let out = cmd.args(args).output().expect("spawn zccache");
        assert_ok(&out, &args.join(" "));
        let v: Value = if args[0] == "explain" {
            serde_json::from_slice(&out.stdout).expect("explain --json is JSON")
        } else {
            Value::Null
        };
        (
            v["result"].as_str().unwrap_or_default().to_string(),
            v["causes"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|c| c.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
        )
    };
    let compile = ["emcc", "-O1", "-c", "main.c", "-o", "main.o"];
    emcc(&cache, &compile);
    let mut explain = vec!["explain", "--json"];
    explain.extend(compile);
    assert_eq!(emcc(&cache, &explain), ("hit".to_string(), vec![]));
    cache.write("util.h", "#define N 2\n");
    let (result, causes) = emcc(&cache, &explain);
    assert_eq!(result, "miss");
    assert!(causes[0].starts_with("util.h changed"), "{causes:?}");
    let (result, causes) = emcc(
        &cache,
        &[
            "explain", "--json", "emcc", "-O2", "-c", "main.c", "-o", "main.o",
        ],
    );
    assert_eq!(result, "miss");
    assert_eq!(causes, vec!["new argument -O2 (the entry had -O1)"]);
}

#[test]
fn explain_sees_a_comment_only_edit_hit_through_the_preprocessor() {
    let cache = TestCache::new();
    require_tool("gcc");
    cache.write("include/config.h", "#define LIMIT 10\n");
    cache.write("main.c", "#include \"config.h\"\nint limit = LIMIT;\n");
    let cmd = ["gcc", "-Iinclude", "-c", "main.c", "-o", "main.o"];
    compile(&cache, &cmd);
    // A real edit compiled with history goes through the preprocessor tier, which records
    // the preprocessed form of this version (no waiting for the background backfill).
    cache.write("include/config.h", "#define LIMIT 11\n");
    compile(&cache, &cmd);
    cache.write("include/config.h", "/* a comment */\n#define LIMIT 11\n");
    let before = snapshot(&cache.work);
    let (result, causes) = explain(&cache, &cmd);
    assert_eq!(result, "hit", "{causes:?}");
    assert_eq!(
        causes,
        vec!["through the preprocessor tier: include/config.h changed, but the preprocessed source is the same"]
    );
    assert_eq!(snapshot(&cache.work), before, "explain must write nothing");
    compile(&cache, &cmd);
    assert_eq!(
        cache.stat("preprocessor_hits"),
        1,
        "the compile agrees with explain"
    );
}

#[test]
fn causes_survive_a_daemon_restart() {
    require_tool("gcc");
    let cache = TestCache::new();
    cache.write("main.c", "int main(void) { return FOO; }\n");
    compile(&cache, &["gcc", "-DFOO=1", "-c", "main.c", "-o", "main.o"]);
    assert_ok(&cache.run(&["stop"], None), "zccache stop");
    let (result, causes) = explain(&cache, &["gcc", "-DFOO=3", "-c", "main.c", "-o", "main.o"]);
    assert_eq!(result, "miss");
    assert_eq!(causes, vec!["new argument -DFOO=3 (the entry had -DFOO=1)"]);
    let groups = misses(&cache);
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(
        groups[0].0,
        "no entry for this source and arguments (first compile)"
    );
}
