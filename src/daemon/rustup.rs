//! rustc's identity beyond its binary: the sysroot it compiles against, and the toolchain a
//! rustup proxy (`~/.cargo/bin/rustc` → `rustup`) would pick for this build.
//!
//! cargo under rustup hands the wrapper the toolchain's own `rustc`, but a build that names
//! `rustc` itself (`RUSTC=rustc`, a hand-run `zccache rustc …`) reaches the proxy, whose
//! binary and `--version` say nothing of the toolchain it will run: that depends on
//! `RUSTUP_TOOLCHAIN`, override files and the directory. Such a compile is identified by the
//! real rustc the proxy resolves to, asked with the build's own environment and cwd.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Whether `compiler` (whose symlinks resolve to `canonical`) is a rustup proxy: a link to,
/// or a hard-linked copy of, the `rustup` binary.
fn is_rustup_proxy(compiler: &Path, canonical: &Path) -> bool {
    if canonical
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("rustup"))
    {
        return true;
    }
    use std::os::unix::fs::MetadataExt;
    let sibling = compiler.with_file_name("rustup");
    match (std::fs::metadata(canonical), std::fs::metadata(sibling)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// The sysroot `compiler` uses, asked the way the build would run it (its env and cwd).
fn print_sysroot(compiler: &Path, cwd: &Path, env: &HashMap<&str, &str>) -> Option<PathBuf> {
    let out = Command::new(compiler)
        .args(["--print", "sysroot"])
        .env_clear()
        .envs(env.iter().map(|(k, v)| (*k, *v)))
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let sysroot = PathBuf::from(text.trim());
    sysroot.is_absolute().then_some(sysroot)
}

/// The rustc (or clippy-driver) binary that really compiles, and its sysroot. For a rustup
/// proxy this asks the proxy (one `--print sysroot` per compile: only builds that bypass
/// cargo's own resolution pay it); otherwise the sysroot is the binary's `bin/..`.
/// None when a proxy cannot tell (the compile is then not cached).
pub fn real_compiler(
    compiler: &str,
    cwd: &Path,
    env: &HashMap<&str, &str>,
) -> Option<(String, String)> {
    let path = Path::new(compiler);
    let canonical = std::fs::canonicalize(path).ok()?;
    if is_rustup_proxy(path, &canonical) {
        let sysroot = print_sysroot(path, cwd, env)?;
        let real = sysroot.join("bin").join(path.file_name()?);
        let real_canonical = std::fs::canonicalize(&real).ok()?;
        if !real_canonical.is_file() || is_rustup_proxy(&real, &real_canonical) {
            return None;
        }
        return Some((
            real.to_string_lossy().into_owned(),
            sysroot.to_string_lossy().into_owned(),
        ));
    }
    let sysroot = canonical.parent()?.parent()?;
    Some((compiler.to_string(), sysroot.to_string_lossy().into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_binary_sysroot_is_its_bin_parent() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("tc/bin");
        std::fs::create_dir_all(&bin).unwrap();
        let rustc = bin.join("rustc");
        std::fs::write(&rustc, b"not rustup").unwrap();
        let (real, sysroot) =
            real_compiler(rustc.to_str().unwrap(), dir.path(), &HashMap::new()).unwrap();
        assert_eq!(real, rustc.to_str().unwrap());
        assert_eq!(
            Path::new(&sysroot),
            std::fs::canonicalize(dir.path().join("tc")).unwrap()
        );
    }

    #[test]
    fn symlink_to_rustup_is_a_proxy() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("rustup"), b"x").unwrap();
        std::os::unix::fs::symlink("rustup", dir.path().join("rustc")).unwrap();
        let proxy = |name: &str| {
            let path = dir.path().join(name);
            is_rustup_proxy(&path, &std::fs::canonicalize(&path).unwrap())
        };
        assert!(proxy("rustc"));
        std::fs::write(dir.path().join("cc"), b"y").unwrap();
        assert!(!proxy("cc"));
    }
}
