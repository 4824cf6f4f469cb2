//! The gcc/clang adapter: one compile command line → [`Invocation`] or [`Uncacheable`].

mod dep_scan;
pub use dep_scan::DEP_SCAN_MARKER;
mod link;
pub mod options;

use crate::depfile::quote_target;
use crate::family::Family;
use crate::invocation::{
    DepfilePlan, IncludeDirs, Invocation, Language, OutputSlot, Uncacheable, DEPFILE_PLACEHOLDER,
};
use crate::response_file;
use options::{is_known_flag, lookup_valued, OptKind};
use std::path::Path;

/// Source language implied by a file name's extension, or None for a non-source operand.
pub fn language_of(path: &str) -> Option<Language> {
    let ext = Path::new(path).extension()?.to_str()?;
    Some(match ext {
        "c" => Language::C,
        "cc" | "cp" | "cxx" | "cpp" | "CPP" | "c++" | "C" | "cppm" | "hpp" | "hh" | "hxx" => {
            Language::Cxx
        }
        "m" => Language::ObjC,
        "mm" | "M" => Language::ObjCxx,
        "S" | "sx" => Language::Asm,
        "s" | "i" | "ii" | "mi" | "mii" => Language::Preprocessed,
        _ => return None,
    })
}

fn language_from_x(value: &str) -> Option<Language> {
    Some(match value {
        "c" | "c-header" => Language::C,
        "c++" | "c++-header" => Language::Cxx,
        "objective-c" | "objective-c-header" => Language::ObjC,
        "objective-c++" | "objective-c++-header" => Language::ObjCxx,
        "assembler-with-cpp" => Language::Asm,
        "assembler" | "cpp-output" | "c++-cpp-output" => Language::Preprocessed,
        "none" => return None,
        _ => return None,
    })
}

/// Replaces the extension of `path` (the part after the last '.' of its file name).
fn with_extension(path: &str, ext: &str) -> String {
    let name_start = path.rfind('/').map(|i| i + 1).unwrap_or(0);
    match path[name_start..].rfind('.') {
        Some(dot) if dot > 0 => format!("{}.{ext}", &path[..name_start + dot]),
        _ => format!("{path}.{ext}"),
    }
}

/// What the parse collected before building the [`Invocation`].
#[derive(Default)]
struct Scan {
    compile: bool,
    assemble_only: bool,
    output: Option<String>,
    sources: Vec<(String, Language)>,
    /// Index of each source in the (expanded) argv.
    source_positions: Vec<usize>,
    key_args: Vec<String>,
    /// Original args minus output/depfile options (for `-E` and for the miss run).
    passthrough: Vec<String>,
    dep_md: bool,
    dep_mmd: bool,
    dep_mf: Option<String>,
    dep_targets: Vec<String>,
    dep_phony: bool,
    include: IncludeDirs,
    extra_inputs: Vec<String>,
    default_dirs_args: Vec<String>,
    debug: bool,
    prefix_maps: Vec<String>,
    split_dwarf: bool,
    stack_usage: bool,
    records_switches: bool,
    /// The source is a header (`.h`, `-x c-header`…): the compile writes a precompiled
    /// header (`<source>.gch` unless `-o` says otherwise), with or without `-c`.
    header_input: bool,
    /// `-Xclang -fno-pch-timestamp`: a clang PCH does not record its headers' mtimes.
    no_pch_timestamp: bool,
    /// `-g3`, `-ggdb3`, `-fdebug-macro`: macro definitions go into the object, and `-E`
    /// output does not show them.
    macro_debug: bool,
    /// Operands that are not sources (objects, archives, shared libraries, linker scripts):
    /// inputs of a link.
    link_inputs: Vec<String>,
    /// `-M` or `-MM`: a dependency scan (see [`dep_scan`]).
    dep_scan: Option<String>,
}

/// Whether a source operand is a header that gcc/clang precompile.
fn is_header(path: &str, explicit_x: Option<&str>) -> bool {
    match explicit_x {
        Some(x) => x.ends_with("-header"),
        None => matches!(
            Path::new(path).extension().and_then(|e| e.to_str()),
            Some("h" | "hh" | "hpp" | "hxx" | "h++" | "H" | "HPP" | "tcc")
        ),
    }
}

/// Parses a gcc/clang command line (without the compiler itself).
pub fn parse(family: Family, raw_args: &[String], cwd: &Path) -> Result<Invocation, Uncacheable> {
    let (_, s) = scan(raw_args, cwd)?;
    build(family, s)
}

/// For `cc -c a.c b.c …` (several sources, no `-o`): one command line per source, each
/// compiling only that source, so every object is cached on its own. None when the command
/// is not such a compile.
pub fn split_per_source(raw_args: &[String], cwd: &Path) -> Option<Vec<Vec<String>>> {
    let (args, s) = scan(raw_args, cwd).ok()?;
    if s.sources.len() < 2 || s.output.is_some() || !(s.compile || s.assemble_only) {
        return None;
    }
    if s.dep_mf.is_some() || !s.dep_targets.is_empty() {
        return None;
    }
    let positions = &s.source_positions;
    Some(
        positions
            .iter()
            .map(|&keep| {
                args.iter()
                    .enumerate()
                    .filter(|(i, _)| *i == keep || !positions.contains(i))
                    .map(|(_, a)| a.clone())
                    .collect()
            })
            .collect(),
    )
}

/// Walks the argv once, classifying every argument.
fn scan(raw_args: &[String], cwd: &Path) -> Result<(Vec<String>, Scan), Uncacheable> {
    let args = if raw_args.iter().any(|a| a.starts_with('@')) {
        response_file::expand(raw_args, cwd).map_err(Uncacheable::BadResponseFile)?
    } else {
        raw_args.to_vec()
    };
    let mut s = Scan::default();
    let mut explicit_lang: Option<Option<Language>> = None;
    let mut explicit_x: Option<String> = None;
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "-" {
            return Err(Uncacheable::Stdin);
        }
        if !arg.starts_with('-') || arg.len() == 1 {
            let lang = match explicit_lang {
                Some(Some(lang)) => Some(lang),
                Some(None) | None => language_of(arg).or_else(|| {
                    // A `.h` precompiles as C (a C++ driver still keys its own identity).
                    is_header(arg, None).then_some(Language::C)
                }),
            };
            if lang.is_some() && is_header(arg, explicit_x.as_deref().filter(|x| *x != "none")) {
                s.header_input = true;
            }
            match lang {
                Some(lang) => {
                    s.sources.push((arg.clone(), lang));
                    s.source_positions.push(i - 1);
                }
                None => s.link_inputs.push(arg.clone()),
            }
            s.key_args.push(arg.clone());
            s.passthrough.push(arg.clone());
            continue;
        }
        if let Some(reason) = special(arg, &mut s)? {
            match reason {
                Special::Consumed => continue,
                Special::KeepFlag => {
                    s.key_args.push(arg.clone());
                    s.passthrough.push(arg.clone());
                    continue;
                }
            }
        }
        if let Some((name, kind, joined)) = lookup_valued(arg) {
            let value = options::take_value(arg, joined, &args, &mut i)?;
            let spelled = options::spelled(arg, joined.is_some(), &value);
            match kind {
                OptKind::Output => {
                    s.output = Some(value);
                    continue;
                }
                OptKind::DepFile => {
                    s.dep_mf = Some(value);
                    continue;
                }
                OptKind::DepTarget => {
                    s.dep_targets.push(value);
                    continue;
                }
                OptKind::DepTargetQuoted => {
                    s.dep_targets.push(quote_target(&value));
                    continue;
                }
                OptKind::Language => {
                    explicit_lang = Some(language_from_x(&value));
                    explicit_x = Some(value.clone());
                    if value != "none" && language_from_x(&value).is_none() {
                        return Err(Uncacheable::UnsupportedOption(format!("-x {value}")));
                    }
                }
                OptKind::IncludeAngle => s.include.angle.push(value),
                OptKind::IncludeQuote => s.include.quote.push(value),
                OptKind::IncludeSystem => s.include.system.push(value),
                OptKind::IncludeAfter => s.include.after.push(value),
                OptKind::InputFile => s.extra_inputs.push(value),
                OptKind::DefaultDirs => s.default_dirs_args.extend(spelled.iter().cloned()),
                OptKind::Keep => {
                    if name == "-Xclang" && value == "-fno-pch-timestamp" {
                        s.no_pch_timestamp = true;
                    }
                }
                OptKind::Unsupported => return Err(Uncacheable::UnsupportedOption(name.into())),
            }
            s.key_args.extend(spelled.iter().cloned());
            s.passthrough.extend(spelled);
            continue;
        }
        if is_known_flag(arg) {
            if is_default_dirs_flag(arg) {
                s.default_dirs_args.push(arg.clone());
            }
            s.key_args.push(arg.clone());
            s.passthrough.push(arg.clone());
            continue;
        }
        return Err(Uncacheable::UnknownOption(arg.clone()));
    }
    Ok((args, s))
}

enum Special {
    /// Handled entirely (recorded in the scan, not kept verbatim).
    Consumed,
    /// A standalone flag kept in key and passthrough.
    KeepFlag,
}

fn is_default_dirs_flag(arg: &str) -> bool {
    arg.starts_with("-nostdinc")
        || arg.starts_with("--sysroot=")
        || arg.starts_with("--target=")
        || arg.starts_with("-stdlib=")
        || arg == "-m32"
        || arg == "-m64"
        || arg == "-mx32"
        || arg == "-nobuiltininc"
        || arg == "-nostdlibinc"
}

/// Options with meaning beyond "keep in key"; returns None when the generic table applies.
fn special(arg: &str, s: &mut Scan) -> Result<Option<Special>, Uncacheable> {
    let keep = Ok(Some(Special::KeepFlag));
    let consumed = Ok(Some(Special::Consumed));
    if arg == "-fdebug-macro" {
        s.macro_debug = true;
    }
    match arg {
        "-c" => {
            s.compile = true;
            return consumed;
        }
        "-S" => {
            s.assemble_only = true;
            return consumed;
        }
        "-E" => return Err(Uncacheable::PreprocessOnly),
        "-M" | "-MM" => {
            if s.dep_scan.is_some() {
                return Err(Uncacheable::PreprocessOnly);
            }
            s.dep_scan = Some(arg.to_string());
            return consumed;
        }
        "-MD" => {
            s.dep_md = true;
            return consumed;
        }
        "-MMD" => {
            s.dep_mmd = true;
            return consumed;
        }
        "-MP" => {
            s.dep_phony = true;
            return consumed;
        }
        "-MG" => return Err(Uncacheable::UnsupportedOption(arg.into())),
        "-v" | "-###" | "--version" | "--help" | "-dumpversion" | "-dumpfullversion"
        | "-dumpmachine" | "-dumpspecs" | "-V" => return Err(Uncacheable::Query),
        "-fsyntax-only" | "-time" | "-fpch-preprocess" | "-frecord-command-line-no" => {
            return Err(Uncacheable::UnsupportedOption(arg.into()))
        }
        "--coverage" | "-ftest-coverage" | "-fprofile-arcs" => return Err(Uncacheable::Coverage),
        "-gsplit-dwarf" => {
            s.split_dwarf = true;
            s.debug = true;
            return keep;
        }
        "-fstack-usage" => {
            s.stack_usage = true;
            return keep;
        }
        "-frecord-gcc-switches" | "-frecord-command-line" => {
            s.records_switches = true;
            return keep;
        }
        "-g0" | "-ggdb0" | "-gline-tables-only0" => {
            s.debug = false;
            return keep;
        }
        _ => {}
    }
    if arg.starts_with("-print-") || arg.starts_with("--print-") {
        return Err(Uncacheable::Query);
    }
    if arg.starts_with("-save-temps")
        || arg.starts_with("-fdump-")
        || arg.starts_with("-ftime-trace")
        || arg.starts_with("-fcallgraph-info")
        || arg.starts_with("-fmodules")
        || arg == "-fcxx-modules"
        || arg.starts_with("-fmodule-file")
        || arg.starts_with("-fcrash-diagnostics")
        || arg.starts_with("-fsave-optimization-record")
        || arg.starts_with("-foptimization-record-file")
    {
        return Err(Uncacheable::UnsupportedOption(arg.into()));
    }
    if arg.starts_with("-fprofile-use")
        || arg.starts_with("-fprofile-instr-use")
        || arg.starts_with("-fauto-profile")
        || arg.starts_with("-fprofile-sample-use")
    {
        return Err(Uncacheable::ProfileUse);
    }
    if arg.starts_with("-fprofile-generate")
        || arg.starts_with("-fprofile-instr-generate")
        || arg.starts_with("-fcs-profile-generate")
    {
        return Err(Uncacheable::Coverage);
    }
    if let Some(rest) = arg.strip_prefix("-Wp,") {
        if rest.split(',').any(|p| p.starts_with("-M")) {
            return Err(Uncacheable::UnsupportedOption("-Wp,-M…".into()));
        }
        return keep;
    }
    for prefix in [
        "-fplugin=",
        "-fsanitize-blacklist=",
        "-fsanitize-ignorelist=",
        "-fprofile-list=",
        "-fxray-attr-list=",
        "-fxray-always-instrument=",
        "-fxray-never-instrument=",
    ] {
        if let Some(file) = arg.strip_prefix(prefix) {
            s.extra_inputs.push(file.to_string());
            return keep;
        }
    }
    for prefix in ["-fdebug-prefix-map=", "-ffile-prefix-map="] {
        if let Some(map) = arg.strip_prefix(prefix) {
            let old = map.split('=').next().unwrap_or_default();
            s.prefix_maps.push(old.to_string());
            return keep;
        }
    }
    if arg.starts_with("-fdebug-compilation-dir") {
        s.prefix_maps.push("-".to_string());
        return keep;
    }
    if arg.starts_with("-g") && !arg.starts_with("-gno-") && !arg.starts_with("-gz") {
        // -g, -g1..3, -ggdb, -gdwarf-5, -gline-tables-only…: debug info embeds the cwd.
        let level_zero = arg.ends_with('0') && !arg.starts_with("-gdwarf");
        s.debug = !level_zero;
        // Only the level options (-g, -g0…-g3, -ggdb, -ggdb0…-ggdb3) set the macro level.
        let level = arg.strip_prefix("-ggdb").or_else(|| arg.strip_prefix("-g"));
        if matches!(level, Some("" | "0" | "1" | "2" | "3")) {
            s.macro_debug = arg.ends_with('3');
        }
        return keep;
    }
    Ok(None)
}

fn build(family: Family, mut s: Scan) -> Result<Invocation, Uncacheable> {
    if let Some(mode) = s.dep_scan.take() {
        return dep_scan::build(family, s, &mode);
    }
    if s.header_input && !s.assemble_only {
        // Precompiling a header: gcc and clang write the PCH with or without `-c`.
        s.compile = true;
    }
    if !s.compile && !s.assemble_only {
        if !s.sources.is_empty() {
            return Err(Uncacheable::CompileAndLink);
        }
        return link::build(family, s);
    }
    if !s.link_inputs.is_empty() {
        // `-c a.c b.o`: the compiler ignores the object; not worth a rule of its own.
        return Err(Uncacheable::Linking);
    }
    let (source, language) = match s.sources.as_slice() {
        [] => return Err(Uncacheable::NoSource),
        [one] => one.clone(),
        _ => return Err(Uncacheable::MultipleSources),
    };
    let file_name = Path::new(&source)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("a");
    let output = match &s.output {
        Some(o) => o.clone(),
        None if s.header_input && s.compile => format!("{source}.gch"),
        None => with_extension(file_name, if s.compile { "o" } else { "s" }),
    };
    let mut key_args = s.key_args.clone();
    key_args.push(if s.compile { "-c" } else { "-S" }.to_string());
    if s.records_switches || s.split_dwarf {
        // The output name is embedded in the object: it must be in the key.
        key_args.push(format!("-o{output}"));
    }

    let mut outputs = vec![OutputSlot {
        role: "obj".into(),
        path: output.clone(),
        optional: false,
    }];
    if s.split_dwarf && s.compile {
        outputs.push(OutputSlot {
            role: "dwo".into(),
            path: with_extension(&output, "dwo"),
            optional: true,
        });
    }
    if s.stack_usage {
        outputs.push(OutputSlot {
            role: "su".into(),
            path: with_extension(&output, "su"),
            optional: true,
        });
    }

    let depfile = if s.dep_md || s.dep_mmd {
        let path = s
            .dep_mf
            .clone()
            .unwrap_or_else(|| with_extension(&output, "d"));
        let targets = if s.dep_targets.is_empty() {
            vec![quote_target(&output)]
        } else {
            s.dep_targets.clone()
        };
        DepfilePlan::User {
            path,
            targets,
            phony: s.dep_phony,
            user_headers_only: s.dep_mmd && !s.dep_md,
        }
    } else {
        DepfilePlan::Inject
    };

    // The preprocessor tier needs the `-E` output to determine the result; it does not for a
    // precompiled header or macro debug info (both carry `#define`s, which `-E` drops).
    let preprocess_args = if s.header_input || s.macro_debug {
        Vec::new()
    } else {
        let mut args = s.passthrough.clone();
        args.push("-E".into());
        args
    };

    let mut miss_args = s.passthrough.clone();
    miss_args.push(if s.compile { "-c" } else { "-S" }.into());
    miss_args.push("-o".into());
    miss_args.push(output.clone());
    miss_args.extend(
        ["-MD", "-MF", DEPFILE_PLACEHOLDER]
            .iter()
            .map(|a| a.to_string()),
    );

    let source_dir = Path::new(&source)
        .parent()
        .and_then(|p| p.to_str())
        .filter(|p| !p.is_empty())
        .unwrap_or(".")
        .to_string();
    let mut include = s.include;
    include.quote.insert(0, source_dir);

    Ok(Invocation {
        family,
        key_args,
        source,
        extra_inputs: s.extra_inputs,
        key_env: Vec::new(),
        key_env_prefixes: Vec::new(),
        key_env_exclude: Vec::new(),
        path_prefix_map: Vec::new(),
        tool_identities: Vec::new(),
        outputs,
        depfile,
        debug_info: s.debug,
        // A clang PCH records its headers' mtimes unless told not to.
        embeds_input_mtimes: s.header_input && family == Family::Clang && !s.no_pch_timestamp,
        prefix_map_sources: s.prefix_maps,
        preprocess_args,
        miss_args,
        include_dirs: include,
        language,
        default_dirs_args: s.default_dirs_args,
        link: false,
        reads_prior_output: false,
    })
}

#[cfg(test)]
mod tests;
