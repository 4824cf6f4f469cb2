//! Per-compiler-family adapters: pure argv → [`Invocation`] parsing.
//!
//! An adapter looks at one compiler command line and either describes it as a cacheable
//! [`Invocation`] (what goes into the key, what the compile reads and writes, how to learn its
//! headers) or says why it cannot be cached ([`Uncacheable`]). Adapters do no I/O beyond what a
//! parse needs (reading `@response` files).

pub mod ar;
pub mod depfile;
pub mod emcc;
pub mod family;
pub mod gcc;
pub mod input_file;
pub mod invocation;
pub mod preprocessed;
pub mod response_file;
pub mod rustc;

pub use family::{detect_family, Family};
pub use invocation::{
    normalize_prefix_map_arg, DepfilePlan, IncludeDirs, Invocation, Language, OutputSlot,
    Uncacheable, CWD_PLACEHOLDER, DEPFILE_PLACEHOLDER,
};

use std::path::Path;

/// Parses a compiler command line (`args` excludes the compiler itself) for `family`.
pub fn parse(family: Family, args: &[String], cwd: &Path) -> Result<Invocation, Uncacheable> {
    match family {
        Family::Gcc | Family::Clang => gcc::parse(family, args, cwd),
        Family::Rustc => rustc::parse(args, cwd),
        Family::Emcc => emcc::parse(Path::new("emcc"), args, cwd, &emcc::Env::new()),
        Family::Ar => ar::parse(args, cwd),
        Family::Unknown => Err(Uncacheable::UnknownCompiler),
    }
}

/// Like [`parse`], for adapters that also need the resolved compiler path and the client's
/// environment (emcc: its tree, its config file, `EM_*` overrides).
pub fn parse_with_env(
    family: Family,
    compiler: &Path,
    args: &[String],
    cwd: &Path,
    env: &std::collections::HashMap<&str, &str>,
) -> Result<Invocation, Uncacheable> {
    match family {
        Family::Emcc => emcc::parse(compiler, args, cwd, env),
        _ => parse(family, args, cwd),
    }
}
