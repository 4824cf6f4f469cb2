//! Finding the real compiler: explicit (`zccache gcc …`), by path, or masquerading
//! (a `gcc` symlink to zccache first on PATH), skipping zccache itself and other wrappers.

use std::path::{Path, PathBuf};

/// Compiler-cache wrappers that are unwrapped instead of stacked.
const WRAPPERS: &[&str] = &["zccache", "ccache", "sccache", "buildcache"];

/// Whether a file name is a known compiler-cache wrapper.
pub fn is_wrapper_name(name: &str) -> bool {
    WRAPPERS.contains(&name)
}

fn file_name(path: &Path) -> &str {
    path.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
}

/// Identity (device, inode) of this executable, to recognise ourselves behind any symlink.
fn self_identity() -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self/exe")
        .or_else(|_| std::fs::metadata(std::env::current_exe()?))
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// Whether `candidate` is this zccache (by inode, through symlinks) or a symlink to another
/// cache wrapper (ccache's masquerade dirs link straight to the `ccache` binary).
fn is_self_or_wrapper(candidate: &Path, me: Option<(u64, u64)>) -> bool {
    use std::os::unix::fs::MetadataExt;
    if let Ok(meta) = std::fs::metadata(candidate) {
        if Some((meta.dev(), meta.ino())) == me {
            return true;
        }
    }
    let mut link = candidate.to_path_buf();
    for _ in 0..8 {
        match std::fs::read_link(&link) {
            Ok(target) => {
                if is_wrapper_name(file_name(&target)) {
                    return true;
                }
                link = match link.parent() {
                    Some(dir) => dir.join(target),
                    None => target,
                };
            }
            Err(_) => return false,
        }
    }
    false
}

/// Looks `name` up on `path_var`, skipping zccache itself and cache wrappers.
pub fn find_on_path(name: &str, path_var: Option<&std::ffi::OsStr>, cwd: &Path) -> Option<PathBuf> {
    let me = self_identity();
    let path_var = path_var?;
    for dir in std::env::split_paths(path_var) {
        let dir = if dir.as_os_str().is_empty() {
            cwd.to_path_buf()
        } else if dir.is_relative() {
            cwd.join(dir)
        } else {
            dir
        };
        let candidate = dir.join(name);
        if !is_executable(&candidate) {
            continue;
        }
        if is_self_or_wrapper(&candidate, me) {
            continue;
        }
        return Some(candidate);
    }
    None
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Strips stacked wrappers (`ccache gcc …`, `zccache gcc …`) from the front of a command.
pub fn unwrap_stacked(mut argv: Vec<String>) -> Vec<String> {
    while argv.len() > 1 {
        let first = Path::new(&argv[0]);
        if is_wrapper_name(file_name(first)) {
            argv.remove(0);
        } else {
            break;
        }
    }
    argv
}

/// Resolves the compiler named by `first` (a bare name, or a path) to an absolute path.
pub fn resolve_compiler(first: &str, cwd: &Path) -> Option<PathBuf> {
    if first.contains('/') {
        let p = if Path::new(first).is_absolute() {
            PathBuf::from(first)
        } else {
            cwd.join(first)
        };
        if !is_executable(&p) {
            return None;
        }
        if is_self_or_wrapper(&p, self_identity()) {
            // A path to a masquerade symlink: find the real compiler of that name on PATH.
            return find_on_path(file_name(&p), std::env::var_os("PATH").as_deref(), cwd);
        }
        return Some(p);
    }
    find_on_path(first, std::env::var_os("PATH").as_deref(), cwd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwraps_stacked_wrappers() {
        let v = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(unwrap_stacked(v("ccache gcc -c a.c")), v("gcc -c a.c"));
        assert_eq!(
            unwrap_stacked(v("/usr/bin/sccache zccache gcc -c a.c")),
            v("gcc -c a.c")
        );
        assert_eq!(unwrap_stacked(v("gcc -c a.c")), v("gcc -c a.c"));
    }
}
