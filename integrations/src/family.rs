//! Compiler family detection from the compiler's (or archiver's) file name.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// The compiler families zccache knows how to parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Family {
    /// GCC and gcc-compatible drivers (`gcc`, `g++`, `cc`, `c++`, `x86_64-linux-gnu-gcc-12`).
    Gcc,
    /// Clang (`clang`, `clang++`, `clang-14`).
    Clang,
    /// rustc, and clippy-driver (whose first argument is the rustc it wraps).
    Rustc,
    /// Emscripten's drivers (`emcc`, `em++`, `emcc.py`, emsdk's `upstream/emscripten/emcc`).
    Emcc,
    /// Archivers (`ar`, `gcc-ar`, `llvm-ar`, `x86_64-linux-gnu-ar`).
    Ar,
    /// Anything else: passed through uncached.
    Unknown,
}

impl Family {
    /// Stable name used in keys and stats.
    pub fn name(self) -> &'static str {
        match self {
            Family::Gcc => "gcc",
            Family::Clang => "clang",
            Family::Rustc => "rustc",
            Family::Emcc => "emcc",
            Family::Ar => "ar",
            Family::Unknown => "unknown",
        }
    }
}

/// Strips a version suffix (`-12`, `-14.0`) and a target-triple prefix from a compiler name.
pub fn base_compiler_name(file_name: &str) -> &str {
    let mut name = file_name;
    if let Some(stripped) = name.strip_suffix(".exe") {
        name = stripped;
    }
    // Drop a trailing "-<digits/dots>" version suffix.
    if let Some(pos) = name.rfind('-') {
        let suffix = &name[pos + 1..];
        if !suffix.is_empty() && suffix.chars().all(|c| c.is_ascii_digit() || c == '.') {
            name = &name[..pos];
        }
    }
    // Drop a target-triple prefix: keep the last '-' separated component family name.
    match name.rfind('-') {
        Some(pos) => &name[pos + 1..],
        None => name,
    }
}

/// Detects the family from the compiler path's file name.
pub fn detect_family(compiler: &Path) -> Family {
    let file_name = compiler
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let plain = file_name.strip_suffix(".exe").unwrap_or(file_name);
    if plain == "rustc" || plain == "clippy-driver" {
        return Family::Rustc;
    }
    if matches!(plain, "emcc" | "em++" | "emcc.py" | "em++.py") {
        return Family::Emcc;
    }
    match base_compiler_name(file_name) {
        "gcc" | "g++" | "cc" | "c++" => Family::Gcc,
        "clang" | "clang++" => Family::Clang,
        "ar" => Family::Ar,
        _ => Family::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_versioned_and_triple_prefixed_names() {
        for (name, fam) in [
            ("gcc", Family::Gcc),
            ("g++-12", Family::Gcc),
            ("x86_64-linux-gnu-gcc-12", Family::Gcc),
            ("/usr/bin/cc", Family::Gcc),
            ("c++", Family::Gcc),
            ("clang", Family::Clang),
            ("clang++-14", Family::Clang),
            ("/usr/lib/llvm-14/bin/clang", Family::Clang),
            ("ld", Family::Unknown),
            ("python3", Family::Unknown),
            ("/x/bin/rustc", Family::Rustc),
            ("clippy-driver", Family::Rustc),
            ("emcc", Family::Emcc),
            ("/usr/bin/em++", Family::Emcc),
            ("/opt/emsdk/upstream/emscripten/emcc", Family::Emcc),
            ("emcc.py", Family::Emcc),
            ("em-config", Family::Unknown),
            ("ar", Family::Ar),
            ("/usr/bin/gcc-ar-12", Family::Ar),
            ("x86_64-linux-gnu-ar", Family::Ar),
            ("llvm-ar-14", Family::Ar),
            ("ranlib", Family::Unknown),
        ] {
            assert_eq!(detect_family(Path::new(name)), fam, "{name}");
        }
    }
}
