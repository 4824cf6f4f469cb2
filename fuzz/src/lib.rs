//! Helpers shared by the fuzz targets: turning fuzz bytes into a command line the way the
//! wrapper hands one to the daemon, and a scratch working directory for the parsers.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Splits fuzz input into argv items on NUL (the separator no real argument can contain).
/// Each item goes through `OsStr` as the wrapper's `args_os()` would; items that are not
/// UTF-8 are converted lossily (the wrapper runs those compiles uncached, so the daemon
/// only ever sees valid strings — every valid string is fair game here).
pub fn argv(data: &[u8]) -> Vec<String> {
    if data.is_empty() {
        return Vec::new();
    }
    data.split(|&b| b == 0)
        .map(|item| OsStr::from_bytes(item).to_string_lossy().into_owned())
        .collect()
}

/// A private, per-process working directory for the parsers (relative `@file`s, `-L` dirs and
/// inputs resolve inside it), holding a small response file `args.rsp` and an object `a.o`.
pub fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("zccache-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("lib")).expect("create the fuzz scratch dir");
        std::fs::write(dir.join("args.rsp"), "-O2 -DX=1 'a b.c'\n").expect("write args.rsp");
        std::fs::write(dir.join("a.o"), "obj").expect("write a.o");
        std::fs::write(dir.join("lib/libfoo.a"), "ar").expect("write libfoo.a");
        dir
    })
}
