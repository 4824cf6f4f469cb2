//! Builds the file-access recorder (`recorder/access_recorder.c`) as a shared object with the
//! system C compiler; the daemon embeds it and installs it into the cache dir, and misses run
//! the compiler with it preloaded. A zccache that cannot record a compile's reads does not
//! cache it, so a failure to build the recorder fails the build loudly.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    build_identity();
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

/// Names this build for the daemon hand-over: `ZCCACHE_BUILD` is `ZCCACHE_BUILD_ID` when set
/// at compile time, else the git commit of the source (else `unknown`). Clients only talk to
/// a daemon of their own build (its socket and store live in a directory named after it), so
/// two builds of zccache never misunderstand each other.
fn build_identity() {
    println!("cargo:rerun-if-env-changed=ZCCACHE_BUILD_ID");
    let injected = std::env::var("ZCCACHE_BUILD_ID")
        .ok()
        .filter(|id| !id.trim().is_empty());
    let build = match injected {
        Some(id) => id,
        None => {
            let git = |args: &[&str]| -> Option<String> {
                let out = Command::new("git").args(args).output().ok()?;
                if !out.status.success() {
                    return None;
                }
                Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
            };
            // Rebuild when the checkout moves to another commit (only files that exist:
            // cargo reruns a script forever for a missing one).
            for path in [
                git(&["rev-parse", "--git-path", "HEAD"]),
                git(&["rev-parse", "--symbolic-full-name", "HEAD"])
                    .filter(|r| r.starts_with("refs/"))
                    .and_then(|r| git(&["rev-parse", "--git-path", &r])),
                git(&["rev-parse", "--git-path", "packed-refs"]),
            ]
            .into_iter()
            .flatten()
            {
                if std::path::Path::new(&path).exists() {
                    println!("cargo:rerun-if-changed={path}");
                }
            }
            git(&["rev-parse", "--short=10", "HEAD"]).unwrap_or_else(|| "unknown".to_string())
        }
    };
    let safe: String = build
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    println!("cargo:rustc-env=ZCCACHE_BUILD={safe}");
}
