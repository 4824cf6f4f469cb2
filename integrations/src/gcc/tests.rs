//! Unit tests for the gcc/clang argv parser, on command lines real build systems pass.

use super::*;

fn args(line: &str) -> Vec<String> {
    crate::response_file::split(line)
}

/// A gcc command line (shell-split) parsed in a cwd that does not exist; shared with the link
/// and dependency-scan tests.
pub(super) fn parse_line(line: &str) -> Result<Invocation, Uncacheable> {
    parse(Family::Gcc, &args(line), Path::new("/nonexistent"))
}

fn ok(line: &str) -> Invocation {
    parse_line(line).unwrap_or_else(|e| panic!("{line}: {e}"))
}

fn reason(line: &str) -> &'static str {
    match parse_line(line) {
        Ok(inv) => panic!("{line}: expected uncacheable, got {inv:?}"),
        Err(e) => e.name(),
    }
}

#[test]
fn cmake_ninja_compile_line() {
    let inv = ok("-DGTEST_HAS_PTHREAD=1 -I/usr/src/googletest/googletest/include -I/usr/src/googletest/googletest -O3 -DNDEBUG -std=c++14 -Wall -Wshadow -Wconversion -MD -MT googletest/CMakeFiles/gtest.dir/src/gtest-all.cc.o -MF googletest/CMakeFiles/gtest.dir/src/gtest-all.cc.o.d -o googletest/CMakeFiles/gtest.dir/src/gtest-all.cc.o -c /usr/src/googletest/googletest/src/gtest-all.cc");
    assert_eq!(
        inv.source,
        "/usr/src/googletest/googletest/src/gtest-all.cc"
    );
    assert_eq!(inv.language, Language::Cxx);
    assert_eq!(
        inv.outputs[0].path,
        "googletest/CMakeFiles/gtest.dir/src/gtest-all.cc.o"
    );
    assert_eq!(
        inv.depfile,
        DepfilePlan::User {
            path: "googletest/CMakeFiles/gtest.dir/src/gtest-all.cc.o.d".into(),
            targets: vec!["googletest/CMakeFiles/gtest.dir/src/gtest-all.cc.o".into()],
            phony: false,
            user_headers_only: false,
        }
    );
    assert!(!inv.key_args.iter().any(|a| a.contains("CMakeFiles")));
    assert_eq!(
        inv.include_dirs.angle,
        vec![
            "/usr/src/googletest/googletest/include",
            "/usr/src/googletest/googletest"
        ]
    );
    assert!(!inv.debug_info);
}

#[test]
fn make_style_mmd_mp_line() {
    let inv = ok("-Wall -O2 -g -MMD -MP -c src/foo.c -o build/foo.o");
    assert_eq!(
        inv.depfile,
        DepfilePlan::User {
            path: "build/foo.d".into(),
            targets: vec!["build/foo.o".into()],
            phony: true,
            user_headers_only: true,
        }
    );
    assert!(inv.embeds_cwd("/home/u/p"));
    assert_eq!(inv.include_dirs.quote, vec!["src"]);
    assert!(inv.miss_args.ends_with(&[
        "-c".to_string(),
        "-o".into(),
        "build/foo.o".into(),
        "-MD".into(),
        "-MF".into(),
        DEPFILE_PLACEHOLDER.into()
    ]));
}

#[test]
fn prefix_map_hides_cwd() {
    let inv = ok("-g -fdebug-prefix-map=/home/u=. -c a.c");
    assert_eq!(inv.cwd_key("/home/u/p"), Some("/p".to_string()));
    assert!(inv.embeds_cwd("/srv/p"));
    let exact = ok("-g -fdebug-prefix-map=/home/u/p=. -c a.c");
    assert!(!exact.embeds_cwd("/home/u/p"));
    assert_eq!(
        crate::normalize_prefix_map_arg("-fdebug-prefix-map=/home/u/p=.", "/home/u/p"),
        Some(format!("-fdebug-prefix-map={}=.", crate::CWD_PLACEHOLDER))
    );
    assert_eq!(
        crate::normalize_prefix_map_arg("-fdebug-prefix-map=/other=.", "/home/u/p"),
        None
    );
    assert_eq!(inv.outputs[0].path, "a.o");
    assert_eq!(inv.depfile, DepfilePlan::Inject);
}

#[test]
fn output_location_is_not_in_the_key() {
    let a = ok("-O2 -c x.c -o one.o");
    let b = ok("-O2 -c x.c -o dir/two.o");
    assert_eq!(a.key_args, b.key_args);
    let c = ok("-O2 -DX -c x.c -o one.o");
    assert_ne!(a.key_args, c.key_args);
}

#[test]
fn joined_and_separate_forms() {
    let inv = ok("-Iinc -I other -isystem sys -iquote q -idirafter late -xc -c weird.txt -oout.o");
    assert_eq!(inv.include_dirs.angle, vec!["inc", "other"]);
    assert_eq!(inv.include_dirs.system, vec!["sys"]);
    assert_eq!(inv.include_dirs.quote, vec![".", "q"]);
    assert_eq!(inv.include_dirs.after, vec!["late"]);
    assert_eq!(inv.language, Language::C);
    assert_eq!(inv.outputs[0].path, "out.o");
}

#[test]
fn mq_is_quoted_mt_is_verbatim() {
    let inv = ok("-MD -MQ a$b -MT c$d -c x.c");
    match inv.depfile {
        DepfilePlan::User { targets, path, .. } => {
            assert_eq!(targets, vec!["a$$b", "c$d"]);
            assert_eq!(path, "x.d");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn split_dwarf_adds_dwo_and_keys_output() {
    let inv = ok("-gsplit-dwarf -c a.c -o out/a.o");
    assert_eq!(inv.outputs[1].path, "out/a.dwo");
    assert!(inv.key_args.iter().any(|a| a == "-oout/a.o"));
}

#[test]
fn uncacheable_reasons() {
    assert_eq!(reason("a.c -o a"), "compile_and_link");
    assert_eq!(reason("-E a.c"), "preprocess_only");
    assert_eq!(reason("-M -c a.c"), "preprocess_only");
    assert_eq!(reason("-c a.c b.c"), "multiple_sources");
    assert_eq!(reason("-c -x c -"), "stdin");
    assert_eq!(reason("-c"), "no_source");
    assert_eq!(reason("-fprofile-use -c a.c"), "profile_use");
    assert_eq!(reason("--coverage -c a.c"), "coverage");
    assert_eq!(reason("-save-temps -c a.c"), "unsupported_option");
    assert_eq!(reason("--frobnicate x -c a.c"), "unknown_option");
    assert_eq!(reason("--version"), "query");
    assert_eq!(reason("-c a.c @/nonexistent/rsp"), "bad_response_file");
    assert_eq!(reason("-Wp,-MD,dep.d -c a.c"), "unsupported_option");
}

#[test]
fn response_files_are_expanded() {
    let dir = std::env::temp_dir().join(format!("zcc-rsp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("args.rsp"), "-DFROM_RSP=1 -Iinc\n-c main.c").unwrap();
    let inv = parse(Family::Gcc, &args("-O2 @args.rsp -o main.o"), &dir).unwrap();
    assert!(inv.key_args.iter().any(|a| a == "-DFROM_RSP=1"));
    assert_eq!(inv.source, "main.c");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn clang_style_flags() {
    let inv = parse(
        Family::Clang,
        &args("--target=x86_64-linux-gnu -Xclang -fno-pch-timestamp -fcolor-diagnostics -mllvm -inline-threshold=10 -c a.cpp"),
        Path::new("/"),
    )
    .unwrap();
    assert!(inv
        .default_dirs_args
        .iter()
        .any(|a| a == "--target=x86_64-linux-gnu"));
    assert_eq!(inv.language, Language::Cxx);
}

#[test]
fn preprocess_args_drop_outputs_and_deps() {
    let inv = ok("-DX -MD -MF a.d -c a.c -o a.o");
    assert_eq!(inv.preprocess_args, vec!["-DX", "a.c", "-E"]);
}

#[test]
fn several_sources_split_into_one_compile_each() {
    let split = split_per_source(&args("-O2 -c a.c -DX b.cpp"), Path::new("/")).unwrap();
    assert_eq!(
        split,
        vec![args("-O2 -c a.c -DX"), args("-O2 -c -DX b.cpp")]
    );
    assert!(split_per_source(&args("-c a.c"), Path::new("/")).is_none());
    assert!(split_per_source(&args("a.c b.c -o app"), Path::new("/")).is_none());
}

#[test]
fn header_compiles_and_macro_debug_skip_the_preprocessor_tier() {
    let pch = parse(
        Family::Gcc,
        &args("-x c-header p.h -o p.h.gch"),
        Path::new("/w"),
    )
    .unwrap();
    assert_eq!(pch.outputs[0].path, "p.h.gch");
    assert!(pch.preprocess_args.is_empty());
    let default_out = parse(Family::Gcc, &args("-c sub/p.h"), Path::new("/w")).unwrap();
    assert_eq!(default_out.outputs[0].path, "sub/p.h.gch");
    let g3 = parse(
        Family::Gcc,
        &args("-g3 -gcolumn-info -c a.c"),
        Path::new("/w"),
    )
    .unwrap();
    assert!(g3.preprocess_args.is_empty());
    let g = parse(Family::Gcc, &args("-g3 -g -c a.c"), Path::new("/w")).unwrap();
    assert!(!g.preprocess_args.is_empty());
    let clang_pch = parse(
        Family::Clang,
        &args("-x c-header p.h -o p.pch"),
        Path::new("/w"),
    );
    assert!(clang_pch.unwrap().embeds_input_mtimes);
    let no_stamp = parse(
        Family::Clang,
        &args("-Xclang -fno-pch-timestamp -x c-header p.h -o p.pch"),
        Path::new("/w"),
    );
    assert!(!no_stamp.unwrap().embeds_input_mtimes);
    assert!(
        !pch.embeds_input_mtimes,
        "gcc's .gch does not record mtimes"
    );
}
