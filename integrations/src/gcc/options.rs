//! The gcc-family option table shared by the gcc/clang adapter (and later emcc): which options
//! take a value, and what each means for caching.

/// What an option means to the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptKind {
    /// Affects output; kept in the key as is.
    Keep,
    /// `-o`: output location.
    Output,
    /// `-MF`: depfile location.
    DepFile,
    /// `-MT`: depfile target, used verbatim.
    DepTarget,
    /// `-MQ`: depfile target, make-quoted.
    DepTargetQuoted,
    /// `-x`: language of the following inputs.
    Language,
    /// `-I`: include directory.
    IncludeAngle,
    /// `-iquote`.
    IncludeQuote,
    /// `-isystem` (and `-cxx-isystem`, `-iframework`…).
    IncludeSystem,
    /// `-idirafter`.
    IncludeAfter,
    /// Reads a file whose content must be hashed (`-include-pch`, `--config`, `-fplugin=`…).
    InputFile,
    /// Changes the compiler's default include dirs (`--sysroot`, `-target`…): kept in key too.
    DefaultDirs,
    /// Makes the compile uncacheable with this reason name.
    Unsupported,
}

/// Options whose value is the next argument (or joined, where `joined` says so).
/// Sorted by nothing; looked up linearly (short table, parse is not the hot cost).
pub const SEPARATE: &[(&str, OptKind, bool)] = &[
    // (name, kind, may also be written joined like `-Ifoo`)
    ("-o", OptKind::Output, true),
    ("-MF", OptKind::DepFile, true),
    ("-MT", OptKind::DepTarget, true),
    ("-MQ", OptKind::DepTargetQuoted, true),
    ("-x", OptKind::Language, true),
    ("-I", OptKind::IncludeAngle, true),
    ("-iquote", OptKind::IncludeQuote, true),
    ("-isystem", OptKind::IncludeSystem, true),
    ("-cxx-isystem", OptKind::IncludeSystem, true),
    ("-iframework", OptKind::IncludeSystem, true),
    ("-idirafter", OptKind::IncludeAfter, true),
    ("-F", OptKind::IncludeAngle, true),
    ("-D", OptKind::Keep, true),
    ("-U", OptKind::Keep, true),
    ("-A", OptKind::Keep, true),
    ("-include", OptKind::Keep, true),
    ("-imacros", OptKind::Keep, true),
    ("-iprefix", OptKind::Keep, true),
    ("-iwithprefix", OptKind::Keep, true),
    ("-iwithprefixbefore", OptKind::Keep, true),
    ("-imultilib", OptKind::DefaultDirs, true),
    ("-imultiarch", OptKind::DefaultDirs, true),
    ("-isysroot", OptKind::DefaultDirs, true),
    ("--sysroot", OptKind::DefaultDirs, false),
    ("-target", OptKind::DefaultDirs, false),
    ("--gcc-toolchain", OptKind::DefaultDirs, false),
    ("-gcc-toolchain", OptKind::DefaultDirs, false),
    ("-resource-dir", OptKind::DefaultDirs, false),
    ("-arch", OptKind::DefaultDirs, false),
    ("-B", OptKind::DefaultDirs, true),
    ("-Xpreprocessor", OptKind::Keep, false),
    ("-Xassembler", OptKind::Keep, false),
    ("-Xlinker", OptKind::Keep, false),
    ("-Xclang", OptKind::Keep, false),
    ("-mllvm", OptKind::Keep, false),
    ("-Xanalyzer", OptKind::Keep, false),
    ("-Xopenmp-target", OptKind::Keep, false),
    ("-L", OptKind::Keep, true),
    ("-l", OptKind::Keep, true),
    ("-u", OptKind::Keep, false),
    ("-T", OptKind::Keep, false),
    ("-e", OptKind::Keep, false),
    ("-z", OptKind::Keep, false),
    ("-G", OptKind::Keep, false),
    ("--param", OptKind::Keep, false),
    ("-specs", OptKind::InputFile, false),
    ("-dumpbase", OptKind::Keep, false),
    ("-dumpbase-ext", OptKind::Keep, false),
    ("-dumpdir", OptKind::Keep, false),
    ("-framework", OptKind::Keep, false),
    ("-include-pch", OptKind::InputFile, false),
    ("--config", OptKind::InputFile, false),
    ("-ivfsoverlay", OptKind::Unsupported, false),
    ("-aux-info", OptKind::Unsupported, false),
    ("-MJ", OptKind::Unsupported, false),
    ("-serialize-diagnostics", OptKind::Unsupported, false),
    ("--serialize-diagnostics", OptKind::Unsupported, false),
    ("-working-directory", OptKind::Unsupported, false),
];

/// Prefixes of single-argument options that are safe to keep in the key as they are.
pub const KEEP_PREFIXES: &[&str] = &[
    "-f",
    "-W",
    "-m",
    "-O",
    "-g",
    "-std=",
    "-ansi",
    "-pedantic",
    "-w",
    "-pipe",
    "-pthread",
    "-D",
    "-U",
    "-I",
    "-nostdinc",
    "-nostdlib",
    "-nodefaultlibs",
    "-nostartfiles",
    "-undef",
    "-trigraphs",
    "-traditional",
    "-C",
    "-P",
    "-H",
    "-p",
    "-pg",
    "-shared",
    "-static",
    "-rdynamic",
    "-s",
    "-integrated-as",
    "-no-integrated-as",
    "-emit-llvm",
    "--driver-mode=",
    "--target=",
    "--sysroot=",
    "-stdlib=",
    "-rtlib=",
    "-unwindlib=",
    "-fuse-ld=",
    "-Qunused-arguments",
    "-Qn",
    "-Qy",
    "-no-canonical-prefixes",
    "-flto",
    "-ffp-",
    "-march=",
    "-mtune=",
    "-mcpu=",
    "-isystem",
    "-iquote",
    "-idirafter",
    "-include",
    "-imacros",
    "-L",
    "-l",
    "-x",
    "-o",
    "-MF",
    "-MT",
    "-MQ",
    "-F",
    "-Xarch_",
    "--std=",
    "-print-missing-file-dependencies",
    "-CC",
    "-finput-charset=",
    "-fexec-charset=",
    "-Xclang",
    "-mllvm",
    "--rtlib=",
    "-pie",
    "-no-pie",
    "-r",
    "-bundle",
    "-dynamiclib",
    "-arch",
    "-ObjC",
    "-fobjc",
    "-isysroot",
    "-cl-",
    "-ccc-",
    "--gcc-toolchain=",
    "--gcc-install-dir=",
    "-nogpulib",
    "-nobuiltininc",
    "-nostdlibinc",
    "-ffile-prefix-map=",
    "-fdebug-prefix-map=",
    "-fmacro-prefix-map=",
    "-B",
    "-G",
    "-save-stats",
    "--analyze",
    "-Xassembler",
    "-Xlinker",
    "-Xpreprocessor",
    "-Wa,",
    "-Wl,",
    "-specs=",
    "-Q",
    "-dumpbase",
    "-dumpdir",
];

/// Looks up an argument in [`SEPARATE`]: returns the kind and the joined value if the option
/// was written joined (`-Ifoo` → `Some("foo")`), or None for the value when it is the next arg.
pub fn lookup_valued(arg: &str) -> Option<(&'static str, OptKind, Option<&str>)> {
    let mut best: Option<(&'static str, OptKind, Option<&str>)> = None;
    for &(name, kind, joined) in SEPARATE {
        if arg == name {
            return Some((name, kind, None));
        }
        if let Some(rest) = arg.strip_prefix(name) {
            // `--sysroot=x`, `-specs=x`, `--config=x`: the `=` form.
            if let Some(value) = rest.strip_prefix('=') {
                if !joined {
                    if best.is_none_or(|(b, _, _)| b.len() < name.len()) {
                        best = Some((name, kind, Some(value)));
                    }
                    continue;
                }
            }
            if joined && best.is_none_or(|(b, _, _)| b.len() < name.len()) {
                best = Some((name, kind, Some(rest)));
            }
        }
    }
    best
}

/// Whether a standalone option is known (kept in the key as is).
pub fn is_known_flag(arg: &str) -> bool {
    KEEP_PREFIXES.iter().any(|p| arg.starts_with(p))
}

/// The value of a valued option: the joined part, or the next argument (advancing `next`).
pub fn take_value(
    arg: &str,
    joined: Option<&str>,
    args: &[String],
    next: &mut usize,
) -> Result<String, crate::invocation::Uncacheable> {
    match joined {
        Some(v) => Ok(v.to_string()),
        None => {
            let v = args.get(*next).ok_or_else(|| {
                crate::invocation::Uncacheable::UnsupportedOption(format!("{arg} without value"))
            })?;
            *next += 1;
            Ok(v.clone())
        }
    }
}

/// The option as written: one argument when joined, else the option and its value.
pub fn spelled(arg: &str, joined: bool, value: &str) -> Vec<String> {
    if joined {
        vec![arg.to_string()]
    } else {
        vec![arg.to_string(), value.to_string()]
    }
}
