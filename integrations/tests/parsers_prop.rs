//! Property tests of the argv, depfile, dep-info and response-file parsers (the fast,
//! always-run companion of the cargo-fuzz targets in `fuzz/`): random command lines never
//! panic, and what the renderers write parses back to what went in.

use proptest::prelude::*;
use std::path::Path;
use zccache_integrations::depfile::{self, quote_target, unescape};
use zccache_integrations::response_file::{expand_with, quote, split};
use zccache_integrations::{gcc, rustc, Family};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    }
}

/// Arguments drawn mostly from real option spellings, plus arbitrary text.
fn arg() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "-c",
            "-S",
            "-E",
            "-o",
            "-MD",
            "-MMD",
            "-MF",
            "-MT",
            "-MQ",
            "-MP",
            "-x",
            "c++",
            "c-header",
            "-I",
            "-isystem",
            "-D",
            "-g",
            "-g3",
            "-O2",
            "-Wl,-Map,m",
            "-Xlinker",
            "-include",
            "a.c",
            "b.cc",
            "x.h",
            "a.o",
            "lib.a",
            "-",
            "@",
            "--crate-name",
            "--crate-type",
            "lib",
            "bin",
            "--emit",
            "dep-info,link",
            "--out-dir",
            "/t/deps",
            "-C",
            "extra-filename=-1",
            "--extern",
            "a=/x.rlib",
            "-L",
            "-l",
            "static=foo",
            "-s",
            "-sUSE_SDL=2",
            "--embed-file",
            "--pre-js",
            "-fprofile-use",
            "src/main.rs",
        ])
        .prop_map(str::to_string),
        "[ -~]{0,12}",
        any::<String>(),
    ]
}

/// A path make syntax can carry (no newline, no `:`, no trailing backslash), with blanks, `$`,
/// `#` and backslashes.
fn make_path() -> impl Strategy<Value = String> {
    "[a-z/._ $#\\\\\t-]{0,6}[a-z.]".prop_map(|s| s.to_string())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_argv_never_panics(args in prop::collection::vec(arg(), 0..12)) {
        let cwd = Path::new("/nonexistent-zccache-proptest");
        for family in [Family::Gcc, Family::Clang, Family::Rustc, Family::Emcc] {
            let _ = zccache_integrations::parse(family, &args, cwd);
        }
        if let Some(commands) = gcc::split_per_source(&args, cwd) {
            for command in commands {
                prop_assert!(gcc::split_per_source(&command, cwd).is_none());
            }
        }
        let _ = rustc::parse(&args, cwd);
    }

    #[test]
    fn rendered_depfile_parses_back_to_its_paths(
        target in make_path(),
        deps in prop::collection::vec(make_path(), 0..30),
        clang in any::<bool>(),
    ) {
        let family = if clang { Family::Clang } else { Family::Gcc };
        let quoted: Vec<String> = deps.iter().map(|d| quote_target(d)).collect();
        let text = depfile::render(family, &[quote_target(&target)], &quoted, true);
        let parsed = depfile::parse(&text);
        let targets: Vec<String> = parsed.targets.iter().map(|t| unescape(t)).collect();
        let back: Vec<String> = parsed.deps.iter().map(|t| unescape(t)).collect();
        prop_assert_eq!(targets, vec![target]);
        prop_assert_eq!(back, deps);
    }

    #[test]
    fn any_depfile_text_reparses_the_same(text in "[a-z:. \\\\\n$#\t]{0,80}") {
        let parsed = depfile::parse(&text);
        if parsed.targets.iter().chain(&parsed.deps).all(|t| !t.ends_with('\\')) {
            let again = depfile::parse(&depfile::render(Family::Gcc, &parsed.targets, &parsed.deps, false));
            prop_assert_eq!(again, parsed);
        }
    }

    #[test]
    fn response_file_quoting_round_trips(args in prop::collection::vec(any::<String>(), 0..10)) {
        let text: Vec<String> = args.iter().map(|a| quote(a)).collect();
        prop_assert_eq!(split(&text.join(" \n")), args);
    }

    #[test]
    fn response_file_expansion_is_bounded(
        files in prop::collection::vec("(@f[0-3] ?){0,4}[a-z ]{0,4}", 1..4),
    ) {
        let args = vec!["@f0".to_string()];
        let mut reads = 0usize;
        let result = expand_with(&args, |name| {
            reads += 1;
            name.strip_prefix('f')
                .and_then(|n| n.parse::<usize>().ok())
                .and_then(|n| files.get(n).cloned())
                .ok_or_else(|| format!("{name}: no such file"))
        });
        prop_assert!(reads <= zccache_integrations::response_file::MAX_FILES);
        if let Ok(out) = result {
            prop_assert!(out.iter().all(|a| !a.starts_with('@')));
        }
    }

    #[test]
    fn dep_info_env_and_files_round_trip(
        files in prop::collection::vec("[a-z/._ $#-]{0,6}[a-z]", 0..8),
        env in prop::collection::vec(("[A-Z_\\\\]{1,6}", prop::option::of("[a-z\\\\\n\r=#]{0,8}")), 0..5),
    ) {
        let escape = |s: &str| s.replace('\\', "\\\\").replace('\n', "\\n").replace('\r', "\\r");
        let mut unique: Vec<String> = Vec::new();
        for f in files {
            if !unique.contains(&f) {
                unique.push(f);
            }
        }
        let deps: Vec<String> = unique.iter().map(|f| f.replace(' ', "\\ ")).collect();
        let mut text = format!("/t/deps/p-1.d: {}\n\n", deps.join(" "));
        for d in &deps {
            text.push_str(&format!("{d}:\n"));
        }
        text.push('\n');
        for (k, v) in &env {
            match v {
                Some(v) => text.push_str(&format!("# env-dep:{}={}\n", escape(k), escape(v))),
                None => text.push_str(&format!("# env-dep:{}\n", escape(k))),
            }
        }
        let parsed = rustc::parse_dep_info(&text);
        prop_assert_eq!(parsed.files, unique);
        prop_assert_eq!(parsed.env, env);
    }
}
