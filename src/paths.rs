//! Lexical path helpers shared by the client and the daemon (no symlink resolution).

use std::path::{Component, Path, PathBuf};

/// `path` made absolute against `cwd` and lexically normalized (`.`/`..` removed).
pub fn resolve(cwd: &Path, path: &str) -> PathBuf {
    // Fast path: an absolute path without `.`/`..`/`//` segments is already normal.
    if path.starts_with('/') && !path.contains("/.") && !path.contains("//") {
        return PathBuf::from(path);
    }
    let joined = if Path::new(path).is_absolute() {
        PathBuf::from(path)
    } else {
        cwd.join(path)
    };
    normalize(&joined)
}

/// Removes `.` and folds `..` lexically.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for comp in path.components() {
        match comp {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_relative_and_dots() {
        assert_eq!(
            resolve(Path::new("/a/b"), "./c/../d.h"),
            PathBuf::from("/a/b/d.h")
        );
        assert_eq!(resolve(Path::new("/a/b"), "/x/./y"), PathBuf::from("/x/y"));
    }
}
