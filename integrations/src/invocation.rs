//! The normalized description of one cacheable compile, and the reasons a compile is not.

use crate::family::Family;
use serde::{Deserialize, Serialize};

/// One file the compile writes, named by a stable role so a cached result can be restored to
/// this invocation's own paths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputSlot {
    /// Stable role (`obj`, `dwo`, `su`, …) shared between the storing and the restoring compile.
    pub role: String,
    /// Path as this invocation names it (relative to its cwd or absolute).
    pub path: String,
    /// Whether the compile may legitimately not produce it.
    pub optional: bool,
}

/// How zccache learns which headers a compile read, and what depfile the build expects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DepfilePlan {
    /// The build asked for a depfile (`-MD`/`-MMD`): zccache must produce it on a hit.
    User {
        /// Where the build wants it.
        path: String,
        /// Targets exactly as the compiler would write them (already make-escaped).
        targets: Vec<String>,
        /// `-MP`: add a phony rule per header.
        phony: bool,
        /// `-MMD`: system headers are left out of the build's depfile.
        user_headers_only: bool,
    },
    /// The build asked for none: zccache injects `-MD -MF <tmp>` on a miss.
    Inject,
    /// No header discovery: the compile reads exactly `source` and `extra_inputs` (e.g. a
    /// link of objects). `miss_args` contain no depfile placeholder.
    None,
    /// rustc's own dep-info output (`--emit=dep-info`): the files it lists (and its
    /// `# env-dep:` lines) are the inputs; zccache rewrites it for this build's paths on a hit.
    RustDepInfo {
        /// Where this invocation's rustc writes it.
        path: String,
    },
}

/// A cacheable compile, as far as the argv tells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invocation {
    pub family: Family,
    /// Every argument that can affect the outputs, in order, with output locations removed.
    pub key_args: Vec<String>,
    /// The source file as written on the command line.
    pub source: String,
    /// Other files the compile reads whose contents must be in the key up front.
    pub extra_inputs: Vec<String>,
    /// Environment variables (beyond the family's standard list) whose values are in the key.
    pub key_env: Vec<String>,
    /// Prefixes of environment variable names whose values are all in the key (`EM_`).
    pub key_env_prefixes: Vec<String>,
    /// Names matched by `key_env_prefixes` that stay out of the key (paths, jobserver fds).
    pub key_env_exclude: Vec<String>,
    /// Path prefixes replaced by a placeholder wherever they appear in the key, the recorded
    /// inputs, the replayed output and the dep-info (e.g. cargo's target profile dir), so a
    /// result is shared between target dirs and restored with this build's paths.
    pub path_prefix_map: Vec<(String, String)>,
    /// Other tools whose identity goes into the key (the linker for linking crate types, the
    /// rustc behind clippy-driver): names resolved on PATH, or paths.
    pub tool_identities: Vec<String>,
    /// Files the compile writes.
    pub outputs: Vec<OutputSlot>,
    /// How headers are learned / which depfile the build wants.
    pub depfile: DepfilePlan,
    /// Whether the outputs carry debug info (which embeds the working directory).
    pub debug_info: bool,
    /// The output records each input's mtime (a clang PCH without `-fno-pch-timestamp`,
    /// which later compiles reject once a header's mtime differs): an entry then also
    /// requires its inputs' mtimes to be unchanged.
    pub embeds_input_mtimes: bool,
    /// Old prefixes of `-fdebug-prefix-map=OLD=NEW` / `-ffile-prefix-map=OLD=NEW`, and `-` for
    /// `-fdebug-compilation-dir` (which hides the cwd whatever it is).
    pub prefix_map_sources: Vec<String>,
    /// Arguments that run only the preprocessor, writing to stdout (`-E`).
    pub preprocess_args: Vec<String>,
    /// Arguments to run on a miss (the original argv with dependency options rewritten so the
    /// compiler writes a full depfile to `DEPFILE_PLACEHOLDER`).
    pub miss_args: Vec<String>,
    /// Include search directories from the argv, used to detect a header created earlier on
    /// the search path than the one a cached compile read.
    pub include_dirs: IncludeDirs,
    /// Source language (for the compiler's default include directories).
    pub language: Language,
    /// The arguments that change the compiler's default include directories (`-nostdinc`,
    /// `--sysroot`, `-target`, `-m32`, `-stdlib=`…), to ask it for them.
    pub default_dirs_args: Vec<String>,
    /// A gcc/clang link (objects → program or library), an archive (`ar`) or a dependency
    /// scan (`-M`/`-MM`): everything it
    /// reads beyond its operands is learned by the access recorder, and every file it writes
    /// must be a declared output. Links are counted under their own family name.
    #[serde(default)]
    pub link: bool,
    /// The tool reads the output's previous content when it exists (`ar r`/`q` add to an
    /// existing archive): that content, or its absence, is keyed before the tool runs.
    #[serde(default)]
    pub reads_prior_output: bool,
}

/// Include directories given on the command line, per search class, each in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncludeDirs {
    /// Searched first for `#include "…"` only: the source's directory, then `-iquote`.
    pub quote: Vec<String>,
    /// `-I` directories.
    pub angle: Vec<String>,
    /// `-isystem` directories.
    pub system: Vec<String>,
    /// `-idirafter` directories (searched after the compiler's defaults).
    pub after: Vec<String>,
}

impl Invocation {
    /// The family name hits and misses are counted under: `gcc-link`/`clang-link` for links.
    pub fn stats_family(&self) -> &'static str {
        match (self.link, self.family, self.is_dependency_scan()) {
            (true, Family::Gcc, true) => "gcc-deps",
            (true, Family::Clang, true) => "clang-deps",
            (true, Family::Gcc, false) => "gcc-link",
            (true, Family::Clang, false) => "clang-link",
            _ => self.family.name(),
        }
    }

    /// A gcc/clang `-M`/`-MM` run that only prints dependency rules (learned like a link).
    pub fn is_dependency_scan(&self) -> bool {
        self.key_args.first().map(String::as_str) == Some(crate::gcc::DEP_SCAN_MARKER)
    }

    /// Whether the outputs embed `cwd`, so a result is only valid for the same directory.
    pub fn embeds_cwd(&self, cwd: &str) -> bool {
        self.cwd_key(cwd).is_some()
    }

    /// The part of `cwd` the outputs depend on: None when they don't (no debug info, or a
    /// prefix map equal to the cwd, or `-fdebug-compilation-dir`); the remainder below a
    /// mapped parent dir; else the whole cwd.
    pub fn cwd_key(&self, cwd: &str) -> Option<String> {
        if !self.debug_info {
            return None;
        }
        let mut best: Option<String> = Some(cwd.to_string());
        for old in &self.prefix_map_sources {
            if old == "-" {
                return None;
            }
            let old = old.trim_end_matches('/');
            if old.is_empty() {
                continue;
            }
            if cwd == old {
                return None;
            }
            if let Some(rest) = cwd.strip_prefix(old).filter(|r| r.starts_with('/')) {
                if best.as_ref().is_none_or(|b| rest.len() < b.len()) {
                    best = Some(rest.to_string());
                }
            }
        }
        best
    }
}

/// Placeholder for a prefix-map source that covers the cwd (`-fdebug-prefix-map=<cwd>=.`),
/// so the key does not depend on where the build ran.
pub const CWD_PLACEHOLDER: &str = "\u{1}ZCCACHE_CWD\u{1}";

/// Rewrites `-fdebug-prefix-map=OLD=NEW`-style args whose OLD is the cwd or one of its
/// parents to use [`CWD_PLACEHOLDER`] (the remainder is keyed by [`Invocation::cwd_key`]).
pub fn normalize_prefix_map_arg(arg: &str, cwd: &str) -> Option<String> {
    for flag in [
        "-fdebug-prefix-map=",
        "-ffile-prefix-map=",
        "-fmacro-prefix-map=",
        "-fcoverage-prefix-map=",
    ] {
        if let Some(map) = arg.strip_prefix(flag) {
            let (old, new) = map.split_once('=')?;
            let trimmed = old.trim_end_matches('/');
            let covers = !trimmed.is_empty()
                && (cwd == trimmed
                    || cwd
                        .strip_prefix(trimmed)
                        .is_some_and(|rest| rest.starts_with('/')));
            return covers.then(|| format!("{flag}{CWD_PLACEHOLDER}={new}"));
        }
    }
    None
}

/// Source language, for asking the compiler its default include directories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Language {
    C,
    Cxx,
    ObjC,
    ObjCxx,
    Asm,
    /// Already preprocessed (`.i`, `.ii`): no headers.
    Preprocessed,
    /// Rust (rustc).
    Rust,
}

impl Language {
    /// The `-x` spelling.
    pub fn x_name(self) -> &'static str {
        match self {
            Language::C => "c",
            Language::Cxx => "c++",
            Language::ObjC => "objective-c",
            Language::ObjCxx => "objective-c++",
            Language::Asm => "assembler-with-cpp",
            Language::Preprocessed => "cpp-output",
            Language::Rust => "rust",
        }
    }
}

/// Placeholder in [`Invocation::miss_args`] replaced by the temp depfile path on a miss.
pub const DEPFILE_PLACEHOLDER: &str = "\u{0}ZCCACHE_DEPFILE\u{0}";

/// Why a command line is run uncached. The `name` is what stats count.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum Uncacheable {
    #[error("an object or library operand in a compile (-c/-S with a link input)")]
    Linking,
    #[error("preprocessing only (-E; -M/-MM mixed with -c, -MD or objects)")]
    PreprocessOnly,
    #[error("more than one source file")]
    MultipleSources,
    #[error("no source file")]
    NoSource,
    #[error("source read from stdin")]
    Stdin,
    #[error("profile-guided optimisation input is not hashed")]
    ProfileUse,
    #[error("coverage or profile-generation output")]
    Coverage,
    #[error("__DATE__/__TIME__/__TIMESTAMP__ used without SOURCE_DATE_EPOCH")]
    TimeMacros,
    #[error("unsupported option {0}")]
    UnsupportedOption(String),
    #[error("unknown option {0}")]
    UnknownOption(String),
    #[error("response file could not be read: {0}")]
    BadResponseFile(String),
    #[error("non-UTF-8 argument or path")]
    NonUtf8,
    #[error("compiler not recognised")]
    UnknownCompiler,
    #[error("information query (--version, -v, --help, -print-*)")]
    Query,
    #[error("dependency environment variables set (DEPENDENCIES_OUTPUT/SUNPRO_DEPENDENCIES)")]
    DependencyEnv,
    #[error("compiler exited non-zero")]
    CompileFailed,
    #[error("output file missing after compile")]
    MissingOutput,
    #[error("incremental compilation (-C incremental)")]
    Incremental,
    #[error("output named with -o or --emit=kind=path")]
    ExplicitOutputPath,
    #[error(
        "Emscripten port build (-sUSE_*, --use-port, -l<port>) writes into the Emscripten cache"
    )]
    EmscriptenPort,
    #[error("Emscripten setup not understood: {0}")]
    EmscriptenSetup(String),
    #[error("compile and link in one command (source files in a link)")]
    CompileAndLink,
    #[error("link input not found or not hashable: {0}")]
    LinkInputUnresolved(String),
    #[error("link output is not reproducible: {0}")]
    LinkNotReproducible(String),
    #[error("archiver operation that does not build an archive from files: {0}")]
    ArchiveOperation(String),
}

impl Uncacheable {
    /// Short stable name for stats.
    pub fn name(&self) -> &'static str {
        match self {
            Uncacheable::Linking => "linking",
            Uncacheable::PreprocessOnly => "preprocess_only",
            Uncacheable::MultipleSources => "multiple_sources",
            Uncacheable::NoSource => "no_source",
            Uncacheable::Stdin => "stdin",
            Uncacheable::ProfileUse => "profile_use",
            Uncacheable::Coverage => "coverage",
            Uncacheable::TimeMacros => "time_macros",
            Uncacheable::UnsupportedOption(_) => "unsupported_option",
            Uncacheable::UnknownOption(_) => "unknown_option",
            Uncacheable::BadResponseFile(_) => "bad_response_file",
            Uncacheable::NonUtf8 => "non_utf8",
            Uncacheable::UnknownCompiler => "unknown_compiler",
            Uncacheable::Query => "query",
            Uncacheable::DependencyEnv => "dependency_env",
            Uncacheable::CompileFailed => "compile_failed",
            Uncacheable::MissingOutput => "missing_output",
            Uncacheable::Incremental => "incremental",
            Uncacheable::ExplicitOutputPath => "explicit_output_path",
            Uncacheable::EmscriptenPort => "emscripten_port",
            Uncacheable::EmscriptenSetup(_) => "emscripten_setup",
            Uncacheable::CompileAndLink => "compile_and_link",
            Uncacheable::LinkInputUnresolved(_) => "link_input_unresolved",
            Uncacheable::LinkNotReproducible(_) => "link_not_reproducible",
            Uncacheable::ArchiveOperation(_) => "ar_operation",
        }
    }
}
