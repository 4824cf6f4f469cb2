//! The rustc adapter: one rustc command line (as cargo passes it) → [`Invocation`].
//!
//! Keys never contain the target dir: cargo's profile dir (the parent of `--out-dir …/deps`)
//! is mapped to a placeholder, `--extern` crates are keyed by name and hashed by content, and
//! the dep-info is rewritten for the current target dir on a hit.

use crate::family::Family;
use crate::invocation::{DepfilePlan, IncludeDirs, Invocation, Language, OutputSlot, Uncacheable};
use crate::response_file;
use std::path::Path;

/// Placeholder for cargo's profile dir (`target/debug`) in keys, records and replayed output.
pub const TARGET_PLACEHOLDER: &str = "\u{1}ZCCACHE_TARGET\u{1}";

/// Environment set by cargo that stays out of the key: paths of this checkout/target dir
/// and per-run values. (Crates that read them through `env!` record them as `env-dep`s in
/// their dep-info, which zccache checks per entry.)
const ENV_EXCLUDE: &[&str] = &[
    "CARGO_MAKEFLAGS",
    "CARGO_HOME",
    "CARGO",
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_TARGET_TMPDIR",
    "CARGO_RUSTC_CURRENT_DIR",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_INCREMENTAL",
    "CARGO_TERM_COLOR",
    "CARGO_TERM_PROGRESS_WHEN",
    "CARGO_TERM_PROGRESS_WIDTH",
    "CARGO_TERM_VERBOSE",
    "CARGO_TERM_QUIET",
    "CARGO_LOG",
];

#[derive(Default)]
struct Scan {
    crate_name: Option<String>,
    crate_types: Vec<String>,
    emit: Vec<String>,
    out_dir: Option<String>,
    extra_filename: String,
    source: Option<String>,
    key_args: Vec<String>,
    externs: Vec<(String, String)>,
    lib_dirs: Vec<String>,
    libs: Vec<(String, String)>,
    linker: Option<String>,
    target_file: Option<String>,
}

/// Options taking a value (separate or `=`-joined).
const VALUED: &[&str] = &[
    "--crate-name",
    "--crate-type",
    "--emit",
    "--out-dir",
    "--extern",
    "-L",
    "-l",
    "-C",
    "--codegen",
    "--cfg",
    "--check-cfg",
    "--cap-lints",
    "--edition",
    "--target",
    "--sysroot",
    "--error-format",
    "--json",
    "--color",
    "-A",
    "-W",
    "-D",
    "-F",
    "--allow",
    "--warn",
    "--deny",
    "--forbid",
    "--force-warn",
    "--remap-path-prefix",
    "-Z",
    "--print",
    "-o",
    "--explain",
    "--diagnostic-width",
    "--crate-attr",
    "--env-set",
];

/// Parses a rustc command line. For `clippy-driver`, the first argument is the rustc path.
pub fn parse(raw_args: &[String], cwd: &Path) -> Result<Invocation, Uncacheable> {
    let mut args = if raw_args.iter().any(|a| a.starts_with('@')) {
        response_file::expand(raw_args, cwd).map_err(Uncacheable::BadResponseFile)?
    } else {
        raw_args.to_vec()
    };
    // clippy-driver (and cargo's RUSTC_WORKSPACE_WRAPPER convention) pass the rustc path first.
    let mut tools = Vec::new();
    if args.first().is_some_and(|a| {
        !a.starts_with('-') && Path::new(a).file_name().is_some_and(|n| n == "rustc")
    }) {
        tools.push(args.remove(0));
    }
    let mut s = Scan::default();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].clone();
        i += 1;
        if arg == "-" {
            return Err(Uncacheable::Stdin);
        }
        if !arg.starts_with('-') {
            if s.source.is_some() {
                return Err(Uncacheable::MultipleSources);
            }
            s.source = Some(arg.clone());
            s.key_args.push(arg);
            continue;
        }
        match arg.as_str() {
            "-vV" | "-V" | "--version" | "-h" | "--help" | "-v" => return Err(Uncacheable::Query),
            "--test" | "-g" | "-O" => {
                s.key_args.push(arg);
                continue;
            }
            _ => {}
        }
        let (name, value) = match split_valued(&arg) {
            Some((name, Some(value))) => (name, value),
            Some((name, None)) => {
                let Some(v) = args.get(i) else {
                    return Err(Uncacheable::UnsupportedOption(format!(
                        "{arg} without value"
                    )));
                };
                i += 1;
                (name, v.clone())
            }
            None => {
                // Unknown flags without values are kept (rustc rejects what it doesn't know).
                s.key_args.push(arg);
                continue;
            }
        };
        match name {
            "--print" | "--explain" => return Err(Uncacheable::Query),
            "-o" => return Err(Uncacheable::ExplicitOutputPath),
            "--crate-name" => {
                s.crate_name = Some(value.clone());
                push_pair(&mut s.key_args, name, &value);
            }
            "--crate-type" => {
                s.crate_types
                    .extend(value.split(',').map(|t| t.trim().to_string()));
                push_pair(&mut s.key_args, name, &value);
            }
            "--emit" => {
                for kind in value.split(',') {
                    if kind.contains('=') {
                        return Err(Uncacheable::ExplicitOutputPath);
                    }
                    s.emit.push(kind.trim().to_string());
                }
                push_pair(&mut s.key_args, name, &value);
            }
            "--out-dir" => s.out_dir = Some(value),
            "--extern" => {
                // [opts:]name[=path]
                let (opts_name, path) = match value.split_once('=') {
                    Some((n, p)) => (n.to_string(), Some(p.to_string())),
                    None => (value.clone(), None),
                };
                match path {
                    Some(p) => {
                        s.externs.push((opts_name.clone(), p));
                        push_pair(&mut s.key_args, name, &format!("{opts_name}=<content>"));
                    }
                    None => push_pair(&mut s.key_args, name, &opts_name),
                }
            }
            "-L" => {
                let dir = value.split_once('=').map_or(value.as_str(), |(_, d)| d);
                s.lib_dirs.push(dir.to_string());
                push_pair(&mut s.key_args, name, &value);
            }
            "-l" => {
                let (kind, lib) = match value.split_once('=') {
                    Some((k, l)) => (k.to_string(), l.to_string()),
                    None => (String::new(), value.clone()),
                };
                let lib = lib.split(':').next().unwrap_or_default().to_string();
                s.libs.push((kind, lib));
                push_pair(&mut s.key_args, name, &value);
            }
            "-C" | "--codegen" => {
                let (key, val) = value.split_once('=').unwrap_or((value.as_str(), ""));
                match key {
                    "incremental" => return Err(Uncacheable::Incremental),
                    "extra-filename" => s.extra_filename = val.to_string(),
                    "linker" => s.linker = Some(val.to_string()),
                    _ => {}
                }
                push_pair(&mut s.key_args, "-C", &value);
            }
            "--target" => {
                if value.ends_with(".json") {
                    s.target_file = Some(value.clone());
                }
                push_pair(&mut s.key_args, name, &value);
            }
            _ => push_pair(&mut s.key_args, name, &value),
        }
    }
    build(s, raw_args.to_vec(), tools, cwd)
}

fn push_pair(out: &mut Vec<String>, name: &str, value: &str) {
    out.push(name.to_string());
    out.push(value.to_string());
}

/// Recognises a valued option: `(name, Some(joined value))` or `(name, None)` when the value
/// is the next argument.
fn split_valued(arg: &str) -> Option<(&'static str, Option<String>)> {
    for &name in VALUED {
        if arg == name {
            return Some((name, None));
        }
        if let Some(rest) = arg.strip_prefix(name) {
            if let Some(v) = rest.strip_prefix('=') {
                return Some((name, Some(v.to_string())));
            }
            // Short options take joined values: -Cfoo=bar, -Ldir, -lfoo, -Awarnings.
            if name.len() == 2 && !rest.is_empty() {
                return Some((name, Some(rest.to_string())));
            }
        }
    }
    None
}

/// The dir whose path is replaced by [`TARGET_PLACEHOLDER`]: cargo's profile dir.
fn target_base(out_dir: &str) -> String {
    let p = Path::new(out_dir.trim_end_matches('/'));
    let base = match p.file_name().and_then(|n| n.to_str()) {
        Some("deps") | Some("examples") => p.parent(),
        _ => match p.parent() {
            Some(parent) if parent.file_name().is_some_and(|n| n == "build") => parent.parent(),
            _ => Some(p),
        },
    };
    base.unwrap_or(p).to_string_lossy().into_owned()
}

fn build(
    s: Scan,
    miss_args: Vec<String>,
    tools: Vec<String>,
    cwd: &Path,
) -> Result<Invocation, Uncacheable> {
    let source = s.source.ok_or(Uncacheable::NoSource)?;
    let crate_name = s.crate_name.ok_or(Uncacheable::NoSource)?;
    if crate_name == "___" {
        return Err(Uncacheable::Query);
    }
    // Both name the output files: a `/` (or anything rustc would refuse) would put them
    // outside the out dir.
    if crate_name.is_empty() || !crate_name.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return Err(Uncacheable::UnsupportedOption(format!(
            "--crate-name {crate_name}"
        )));
    }
    if s.extra_filename.contains('/') {
        return Err(Uncacheable::UnsupportedOption(format!(
            "-C extra-filename={}",
            s.extra_filename
        )));
    }
    let out_dir = s.out_dir.ok_or(Uncacheable::ExplicitOutputPath)?;
    let crate_types = if s.crate_types.is_empty() {
        vec!["bin".to_string()]
    } else {
        s.crate_types
    };
    let emit = if s.emit.is_empty() {
        vec!["link".to_string()]
    } else {
        s.emit
    };
    let stem = format!("{crate_name}{}", s.extra_filename);
    let join = |file: String| -> String { format!("{}/{file}", out_dir.trim_end_matches('/')) };
    let mut outputs = Vec::new();
    let mut add = |file: String| {
        if !outputs.iter().any(|o: &OutputSlot| o.role == file) {
            outputs.push(OutputSlot {
                role: file.clone(),
                path: join(file),
                optional: false,
            });
        }
    };
    let mut links = false;
    for kind in &emit {
        match kind.as_str() {
            // The dep-info is handled as the depfile (rewritten per build), not as a blob.
            "dep-info" => {}
            "metadata" => {
                if crate_types
                    .iter()
                    .any(|t| matches!(t.as_str(), "lib" | "rlib" | "dylib" | "proc-macro"))
                {
                    add(format!("lib{stem}.rmeta"));
                }
            }
            "link" => {
                for t in &crate_types {
                    match t.as_str() {
                        "lib" | "rlib" => add(format!("lib{stem}.rlib")),
                        "bin" => {
                            add(stem.clone());
                            links = true;
                        }
                        "dylib" | "cdylib" | "proc-macro" => {
                            add(format!("lib{stem}.so"));
                            links = true;
                        }
                        "staticlib" => add(format!("lib{stem}.a")),
                        other => {
                            return Err(Uncacheable::UnsupportedOption(format!(
                                "--crate-type {other}"
                            )))
                        }
                    }
                }
            }
            "asm" | "llvm-ir" | "llvm-bc" | "obj" | "mir" => {
                return Err(Uncacheable::UnsupportedOption(format!("--emit {kind}")))
            }
            other => return Err(Uncacheable::UnsupportedOption(format!("--emit {other}"))),
        }
    }
    if !emit.iter().any(|e| e == "dep-info") {
        return Err(Uncacheable::UnsupportedOption(
            "--emit without dep-info".to_string(),
        ));
    }
    let depinfo_path = join(format!("{stem}.d"));

    let base = target_base(&out_dir);
    let path_prefix_map = vec![(base, TARGET_PLACEHOLDER.to_string())];

    // Inputs hashed by content up front: externs, native libs that get bundled or linked,
    // a custom target spec.
    let mut extra_inputs: Vec<String> = s.externs.iter().map(|(_, p)| p.clone()).collect();
    for (kind, lib) in &s.libs {
        if let Some(found) = find_native_lib(&s.lib_dirs, kind, lib, cwd) {
            extra_inputs.push(found);
        }
    }
    if let Some(t) = s.target_file {
        extra_inputs.push(t);
    }
    let mut tool_identities = tools;
    if links {
        tool_identities.push(s.linker.unwrap_or_else(|| "cc".to_string()));
    }

    Ok(Invocation {
        family: Family::Rustc,
        key_args: s.key_args,
        source,
        extra_inputs,
        key_env: Vec::new(),
        key_env_prefixes: vec!["CARGO_".into(), "RUSTC_BOOTSTRAP".into()],
        key_env_exclude: ENV_EXCLUDE.iter().map(|s| s.to_string()).collect(),
        path_prefix_map,
        tool_identities,
        outputs,
        depfile: DepfilePlan::RustDepInfo { path: depinfo_path },
        debug_info: false,
        embeds_input_mtimes: false,
        prefix_map_sources: Vec::new(),
        preprocess_args: Vec::new(),
        miss_args,
        include_dirs: IncludeDirs::default(),
        language: Language::Rust,
        default_dirs_args: Vec::new(),
        link: false,
        reads_prior_output: false,
    })
}

/// Finds `lib<name>.a` / `lib<name>.so` in the `-L` dirs (what rustc would bundle or link).
fn find_native_lib(dirs: &[String], kind: &str, name: &str, cwd: &Path) -> Option<String> {
    let kind = kind.split(':').next().unwrap_or_default();
    let candidates: Vec<String> = match kind {
        "static" => vec![format!("lib{name}.a")],
        "dylib" => vec![format!("lib{name}.so")],
        _ => vec![format!("lib{name}.a"), format!("lib{name}.so")],
    };
    for dir in dirs {
        for file in &candidates {
            let p = Path::new(dir).join(file);
            let abs = if p.is_absolute() {
                p.clone()
            } else {
                cwd.join(&p)
            };
            if abs.is_file() {
                return Some(p.to_string_lossy().into_owned());
            }
        }
    }
    None
}

/// A parsed rustc dep-info: the input files and the `# env-dep:` pairs.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DepInfo {
    pub files: Vec<String>,
    pub env: Vec<(String, Option<String>)>,
}

/// Parses rustc's dep-info: the prerequisites of its rules (each file once, in order) and its
/// `# env-dep:NAME[=VALUE]` lines.
pub fn parse_dep_info(text: &str) -> DepInfo {
    let mut out = DepInfo::default();
    for line in text.lines() {
        if let Some(env) = line.strip_prefix("# env-dep:") {
            let (k, v) = match env.split_once('=') {
                Some((k, v)) => (unescape_env(k), Some(unescape_env(v))),
                None => (unescape_env(env), None),
            };
            out.env.push((k, v));
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let parsed = crate::depfile::parse(&format!("{line}\n"));
        for dep in parsed.deps {
            let dep = unescape_path(&dep);
            if !out.files.contains(&dep) {
                out.files.push(dep);
            }
        }
    }
    out
}

/// Undoes rustc's escaping of a dep-info path, which escapes blanks only (`\ `): unlike gcc it
/// writes `$`, `#` and other backslashes as they are.
fn unescape_path(token: &str) -> String {
    token.replace("\\ ", " ")
}

/// Undoes rustc's escaping of an env-dep name or value (`\n`, `\r`, `\\`), in one pass so an
/// escaped backslash followed by `n` stays a backslash and an `n`.
fn unescape_env(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(other) => {
                if other != '\\' {
                    out.push('\\');
                }
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn cargo_lib_invocation() {
        let inv = parse(
            &args("--crate-name itoa --edition=2021 /reg/itoa-1.0.19/src/lib.rs --error-format=json --json=diagnostic-rendered-ansi,artifacts,future-incompat --crate-type lib --emit=dep-info,metadata,link -C embed-bitcode=no -C debuginfo=2 -C metadata=a9c1 -C extra-filename=-6c1e --out-dir /t/p/target/debug/deps -L dependency=/t/p/target/debug/deps --cap-lints allow"),
            Path::new("/reg/itoa-1.0.19"),
        )
        .unwrap();
        let roles: Vec<&str> = inv.outputs.iter().map(|o| o.role.as_str()).collect();
        assert_eq!(roles, vec!["libitoa-6c1e.rmeta", "libitoa-6c1e.rlib"]);
        assert_eq!(
            inv.outputs[1].path,
            "/t/p/target/debug/deps/libitoa-6c1e.rlib"
        );
        assert_eq!(
            inv.depfile,
            DepfilePlan::RustDepInfo {
                path: "/t/p/target/debug/deps/itoa-6c1e.d".into()
            }
        );
        assert_eq!(
            inv.path_prefix_map,
            vec![(
                "/t/p/target/debug".to_string(),
                TARGET_PLACEHOLDER.to_string()
            )]
        );
        assert!(!inv
            .key_args
            .iter()
            .any(|a| a.contains("/t/p/target") && !a.starts_with("dependency=")));
        assert!(inv.tool_identities.is_empty());
    }

    #[test]
    fn bin_links_and_externs_are_keyed_by_name() {
        let inv = parse(
            &args("--crate-name p --edition=2024 src/main.rs --crate-type bin --emit=dep-info,link -C extra-filename=-34 --out-dir /t/target/debug/deps -L dependency=/t/target/debug/deps --extern itoa=/t/target/debug/deps/libitoa-6c.rlib"),
            Path::new("/t"),
        )
        .unwrap();
        assert_eq!(inv.outputs[0].role, "p-34");
        assert_eq!(
            inv.extra_inputs,
            vec!["/t/target/debug/deps/libitoa-6c.rlib"]
        );
        assert!(inv.key_args.contains(&"itoa=<content>".to_string()));
        assert_eq!(inv.tool_identities, vec!["cc"]);
    }

    #[test]
    fn passthrough_reasons() {
        let reason = |s: &str| parse(&args(s), Path::new("/")).unwrap_err().name();
        assert_eq!(reason("-vV"), "query");
        assert_eq!(
            reason("- --crate-name ___ --print=file-names --crate-type bin"),
            "stdin"
        );
        assert_eq!(
            reason("--crate-name ___ --print=file-names src/lib.rs"),
            "query"
        );
        assert_eq!(
            reason("--crate-name p src/main.rs -C incremental=/t/inc --out-dir /t/deps --emit=dep-info,link"),
            "incremental"
        );
    }

    #[test]
    fn clippy_driver_takes_rustc_first() {
        let inv = parse(
            &args("/tc/bin/rustc --crate-name a src/lib.rs --crate-type lib --emit=dep-info,metadata --out-dir /t/target/debug/deps"),
            Path::new("/t"),
        )
        .unwrap();
        assert_eq!(inv.tool_identities, vec!["/tc/bin/rustc"]);
        assert_eq!(inv.outputs.len(), 1);
    }

    #[test]
    fn build_script_out_dir_maps_to_profile() {
        assert_eq!(
            target_base("/t/target/debug/build/serde-12ab"),
            "/t/target/debug"
        );
        assert_eq!(target_base("/t/target/debug/deps"), "/t/target/debug");
    }

    #[test]
    fn dep_info_files_and_env() {
        let text = "/t/deps/p-1.d: src/main.rs src/a\\ b.rs\n\n/t/deps/p-1: src/main.rs src/a\\ b.rs\n\nsrc/main.rs:\nsrc/a\\ b.rs:\n\n# env-dep:CARGO_PKG_NAME=p\n# env-dep:ZZ\n";
        let d = parse_dep_info(text);
        assert_eq!(d.files, vec!["src/main.rs", "src/a b.rs"]);
        assert_eq!(
            d.env,
            vec![
                ("CARGO_PKG_NAME".to_string(), Some("p".to_string())),
                ("ZZ".to_string(), None)
            ]
        );
    }

    #[test]
    fn dep_info_escapes_are_undone_as_rustc_wrote_them() {
        // Found by the dep_info fuzz target: the value `a\nb` (a backslash, then `n`) is
        // written `a\\nb` and was read back with a newline.
        let d = parse_dep_info("# env-dep:MULTI=a\\\\nb\\nc\\\\\n# env-dep:K\\\\EY\n");
        assert_eq!(
            d.env,
            vec![
                ("MULTI".to_string(), Some("a\\nb\nc\\".to_string())),
                ("K\\EY".to_string(), None)
            ]
        );
        // rustc escapes only blanks in paths: `$$` and `\#` are the file's own characters.
        let d = parse_dep_info("/t/p.d: src/a$$b.rs src/c\\#d.rs src/e\\ f.rs\n");
        assert_eq!(d.files, vec!["src/a$$b.rs", "src/c\\#d.rs", "src/e f.rs"]);
    }

    #[test]
    fn output_names_stay_in_the_out_dir() {
        // Found by the rustc_argv fuzz target: `--crate-name it/src/lib.rs` planned
        // `<out-dir>/libit/src/lib.rs-6c1e.rmeta`, outside the out dir.
        let reason = |s: &str| parse(&args(s), Path::new("/")).unwrap_err().name();
        let tail = "src/lib.rs --crate-type lib --emit=dep-info,metadata --out-dir /t/deps";
        assert_eq!(
            reason(&format!("--crate-name it/src/lib.rs {tail}")),
            "unsupported_option"
        );
        assert_eq!(
            reason(&format!("--crate-name a -C extra-filename=/x {tail}")),
            "unsupported_option"
        );
        assert!(parse(&args(&format!("--crate-name a_1 {tail}")), Path::new("/")).is_ok());
    }
}
