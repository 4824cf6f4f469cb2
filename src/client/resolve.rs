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

/// Whether `candidate` is this zccache or another cache wrapper (directly or via symlink,
/// as ccache's masquerade dirs are).
fn is_self_or_wrapper(candidate: &Path, me: Option<&Path>) -> bool {
    let Ok(real) = std::fs::canonicalize(candidate) else {
        return false;
    };
    if Some(real.as_path()) == me {
        return true;
    }
    is_wrapper_name(file_name(&real))
}

/// Looks `name` up on `path_var`, skipping zccache itself and cache wrappers.
pub fn find_on_path(name: &str, path_var: Option<&std::ffi::OsStr>, cwd: &Path) -> Option<PathBuf> {
    let me = std::env::current_exe()
        .ok()
        .and_then(|p| std::fs::canonicalize(p).ok());
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
        if is_self_or_wrapper(&candidate, me.as_deref()) {
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
        let me = std::env::current_exe()
            .ok()
            .and_then(|p| std::fs::canonicalize(p).ok());
        if is_self_or_wrapper(&p, me.as_deref()) {
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
