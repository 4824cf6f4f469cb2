//! Builds the file-access recorder (`recorder/access_recorder.c`) as a shared object with the
//! system C compiler; the daemon embeds it and installs it into the cache dir, and misses run
//! the compiler with it preloaded. A zccache that cannot record a compile's reads does not
//! cache it, so a failure to build the recorder fails the build loudly.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let source = "recorder/access_recorder.c";
    println!("cargo:rerun-if-changed={source}");
    println!("cargo:rerun-if-env-changed=ZCCACHE_RECORDER_CC");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR set by cargo"))
        .join("libzccache_recorder.so");
    // The recorder is loaded into the host's compilers (glibc), whatever target zccache
    // itself is linked for (a static build included): use the host's C compiler.
    let cc = std::env::var("ZCCACHE_RECORDER_CC").unwrap_or_else(|_| "cc".to_string());
    let status = Command::new(&cc)
        .args([
            "-shared",
            "-fPIC",
            "-O2",
            "-g0",
            "-Wall",
            "-Wno-nonnull-compare",
            "-o",
        ])
        .arg(&out)
        .arg(source)
        .arg("-ldl")
        .status()
        .unwrap_or_else(|e| panic!("cannot run `{cc}` to build the access recorder: {e}"));
    assert!(
        status.success(),
        "`{cc}` failed to build the access recorder ({source})"
    );
}
