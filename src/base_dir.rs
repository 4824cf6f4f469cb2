//! Base dirs: the root a C-family compile's paths are relative to (its checkout), so that
//! two checkouts of one project share cache entries. Owns the setting's value, finding the
//! root for a compile (an explicit `ZCCACHE_BASE_DIR`, else the enclosing git worktree, else
//! the common ancestor of the build and source dirs) and the placeholder pairs that key the
//! paths below it relative to the compile's working directory.

use std::path::{Path, PathBuf};

/// The variable behind `base_dir`; also honoured per compile, from the build's environment.
pub const BASE_DIR_ENV: &str = "ZCCACHE_BASE_DIR";
/// The variable behind `path_remap`; also honoured per compile.
pub const PATH_REMAP_ENV: &str = "ZCCACHE_PATH_REMAP";

/// The `base_dir` setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseDirs {
    /// Find the root by itself (git worktree, else common ancestor of build and source).
    Auto,
    /// Keys name absolute paths as they are: nothing is shared between directories.
    Off,
    /// These roots (absolute); a compile uses the deepest one holding its cwd or source.
    Dirs(Vec<PathBuf>),
}

impl BaseDirs {
    /// Parses `auto`, `off` (or `none`, `0`, `false`), or `<dir>[:<dir>…]` (absolute dirs).
    pub fn parse(text: &str) -> Result<BaseDirs, String> {
        let text = text.trim();
        match text {
            "" | "auto" => return Ok(BaseDirs::Auto),
            "off" | "none" | "0" | "false" | "no" => return Ok(BaseDirs::Off),
            _ => {}
        }
        Self::from_list(text.split(':').filter(|d| !d.is_empty()))
    }

    /// From a list of directories (zccache.toml's array form).
    pub fn from_list<'a>(dirs: impl Iterator<Item = &'a str>) -> Result<BaseDirs, String> {
        let mut out = Vec::new();
        for dir in dirs {
            let path = Path::new(dir);
            if !path.is_absolute() {
                return Err(format!("base dir {dir:?} is not an absolute path"));
            }
            let trimmed = crate::paths::normalize(path);
            if trimmed == Path::new("/") {
                return Err("`/` cannot be a base dir".into());
            }
            out.push(trimmed);
        }
        if out.is_empty() {
            return Ok(BaseDirs::Auto);
        }
        Ok(BaseDirs::Dirs(out))
    }

    /// How `zccache config` shows it.
    pub fn describe(&self) -> String {
        match self {
            BaseDirs::Auto => {
                "auto (git worktree, else common ancestor of build and source)".into()
            }
            BaseDirs::Off => "off".into(),
            BaseDirs::Dirs(dirs) => dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(":"),
        }
    }
}

/// The root found for one compile, and why it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    pub dir: PathBuf,
    pub origin: &'static str,
}

/// Characters a root may contain: anything else (spaces, `$`, `#`, `:`, `\`…) is escaped in
/// depfiles or quoted in diagnostics, where a plain prefix swap could not find it.
fn plain_path(path: &str) -> bool {
    path.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+@,~=".contains(&b))
}

/// The root `cwd`'s compile of `source` is relative to, or None when paths stay absolute.
/// Without a source, the cwd's own root.
pub fn find_root(setting: &BaseDirs, cwd: &Path, source: Option<&str>) -> Option<Root> {
    let source_dir = source
        .and_then(|s| {
            crate::paths::resolve(cwd, s)
                .parent()
                .map(Path::to_path_buf)
        })
        .unwrap_or_else(|| cwd.to_path_buf());
    let root = match setting {
        BaseDirs::Off => return None,
        BaseDirs::Dirs(dirs) => dirs
            .iter()
            .filter(|d| cwd.starts_with(d) || source_dir.starts_with(d))
            .max_by_key(|d| d.components().count())
            .map(|d| Root {
                dir: d.clone(),
                origin: "base_dir",
            })?,
        BaseDirs::Auto => match git_worktree(cwd).or_else(|| git_worktree(&source_dir)) {
            Some(dir) => Root {
                dir,
                origin: "git worktree",
            },
            None => Root {
                dir: common_ancestor(cwd, &source_dir),
                origin: "common ancestor of the build and source dirs",
            },
        },
    };
    let text = root.dir.to_str()?;
    (root.dir.parent().is_some() && plain_path(text) && cwd.to_str().is_some_and(plain_path))
        .then_some(root)
}

/// The nearest ancestor of `dir` (itself included) holding a `.git` entry.
fn git_worktree(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .take_while(|d| d.parent().is_some())
        .find(|d| std::fs::symlink_metadata(d.join(".git")).is_ok())
        .map(Path::to_path_buf)
}

fn common_ancestor(a: &Path, b: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for (x, y) in a.components().zip(b.components()) {
        if x != y {
            break;
        }
        out.push(x.as_os_str());
    }
    out
}

/// Placeholder pairs, longest prefix first: each of `cwd`'s ancestors from `cwd` up to
/// `root` is named by its distance from `cwd` (so a path is keyed relative to the build dir,
/// as a relative path would be); when `cwd` lies outside `root`, the root alone.
pub fn prefix_pairs(root: &Path, cwd: &Path) -> Vec<(String, String)> {
    let text = |p: &Path| p.to_string_lossy().trim_end_matches('/').to_string();
    if !cwd.starts_with(root) {
        return vec![(text(root), "\u{1}BASE\u{1}".to_string())];
    }
    cwd.ancestors()
        .take_while(|d| d.starts_with(root))
        .enumerate()
        .map(|(level, dir)| (text(dir), format!("\u{1}BASE{level}\u{1}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_settings() {
        assert_eq!(BaseDirs::parse("auto"), Ok(BaseDirs::Auto));
        assert_eq!(BaseDirs::parse("off"), Ok(BaseDirs::Off));
        assert_eq!(
            BaseDirs::parse("/a/b:/c/"),
            Ok(BaseDirs::Dirs(vec![
                PathBuf::from("/a/b"),
                PathBuf::from("/c")
            ]))
        );
        assert!(BaseDirs::parse("rel/dir").is_err());
        assert!(BaseDirs::parse("/").is_err());
    }

    #[test]
    fn explicit_dirs_pick_the_deepest_holding_the_build() {
        let dirs = BaseDirs::parse("/src:/src/a").unwrap();
        let root = find_root(&dirs, Path::new("/src/a/build"), Some("../x.c")).unwrap();
        assert_eq!(root.dir, PathBuf::from("/src/a"));
        assert!(find_root(&dirs, Path::new("/elsewhere"), Some("x.c")).is_none());
        let spaced = BaseDirs::parse("/my src").unwrap();
        assert!(find_root(&spaced, Path::new("/my src/b"), Some("x.c")).is_none());
    }

    #[test]
    fn auto_falls_back_to_the_common_ancestor() {
        let root = find_root(
            &BaseDirs::Auto,
            Path::new("/nonexistent-zcc/p/build"),
            Some("/nonexistent-zcc/p/src/x.c"),
        )
        .unwrap();
        assert_eq!(root.dir, PathBuf::from("/nonexistent-zcc/p"));
        assert!(find_root(&BaseDirs::Auto, Path::new("/a1zz"), Some("/b1zz/x.c")).is_none());
    }

    #[test]
    fn pairs_name_ancestors_by_distance() {
        let pairs = prefix_pairs(Path::new("/w/a"), Path::new("/w/a/b/build"));
        let prefixes: Vec<&str> = pairs.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(prefixes, ["/w/a/b/build", "/w/a/b", "/w/a"]);
        assert_eq!(pairs[2].1, "\u{1}BASE2\u{1}");
        let outside = prefix_pairs(Path::new("/w/a"), Path::new("/tmp/build"));
        assert_eq!(outside, vec![("/w/a".to_string(), "\u{1}BASE\u{1}".into())]);
    }
}
