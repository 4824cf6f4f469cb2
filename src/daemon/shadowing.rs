//! Include-path shadowing: for each header a compile read, the paths earlier on the search
//! path where a newly created file of the same name would be picked up instead. A cached
//! entry is only valid while those paths stay absent.

use crate::paths::{normalize, resolve};
use std::path::{Path, PathBuf};
use zccache_integrations::IncludeDirs;

/// The full search order: quote dirs, `-I`, `CPATH`, `-isystem`, `*_INCLUDE_PATH`, the
/// compiler's defaults, `-idirafter`. Relative entries are kept relative (resolved per cwd).
pub fn search_order(
    dirs: &IncludeDirs,
    cpath: &[String],
    lang_path: &[String],
    defaults: &[String],
) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    for d in dirs
        .quote
        .iter()
        .chain(&dirs.angle)
        .chain(cpath)
        .chain(&dirs.system)
        .chain(lang_path)
        .chain(defaults)
        .chain(&dirs.after)
    {
        if !order.contains(d) {
            order.push(d.clone());
        }
    }
    order
}

/// Splits a `PATH`-style include variable (empty elements mean the cwd, as gcc treats them).
pub fn split_env_path(value: Option<&str>) -> Vec<String> {
    match value {
        None => Vec::new(),
        Some(v) => v
            .split(':')
            .map(|p| {
                if p.is_empty() {
                    ".".to_string()
                } else {
                    p.to_string()
                }
            })
            .collect(),
    }
}

/// For each header (not the source), the candidate paths before the directory it was found
/// in that do not exist now; returned as strings relative when the search dir was relative.
pub fn absent_candidates(cwd: &Path, order: &[String], headers: &[String]) -> Vec<String> {
    let resolved: Vec<PathBuf> = order.iter().map(|d| resolve(cwd, d)).collect();
    let mut absent: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for header in headers {
        let abs = resolve(cwd, header);
        // Every search dir that contains the header is a possible "found in" dir (we cannot
        // tell which spelling the #include used); candidates of all of them are recorded.
        for (found_at, found_dir) in resolved.iter().enumerate() {
            let Ok(rel) = abs.strip_prefix(found_dir) else {
                continue;
            };
            for (dir_text, dir_abs) in order.iter().zip(&resolved).take(found_at) {
                let candidate_abs = normalize(&dir_abs.join(rel));
                if candidate_abs == abs || !seen.insert(candidate_abs.clone()) {
                    continue;
                }
                if std::fs::symlink_metadata(&candidate_abs).is_ok() {
                    continue;
                }
                let text = if Path::new(dir_text).is_absolute() {
                    candidate_abs.to_string_lossy().into_owned()
                } else {
                    Path::new(dir_text).join(rel).to_string_lossy().into_owned()
                };
                absent.push(text);
            }
        }
    }
    absent
}

/// Whether `path` (absolute, normalized) lies under one of `system_dirs`.
pub fn is_system_header(cwd: &Path, path: &str, system_dirs: &[String]) -> bool {
    let abs = resolve(cwd, path);
    system_dirs.iter().any(|d| abs.starts_with(resolve(cwd, d)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_shadow_candidates_before_the_found_dir() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a")).unwrap();
        std::fs::create_dir_all(root.join("b")).unwrap();
        std::fs::write(root.join("b/x.h"), "").unwrap();
        let dirs = IncludeDirs {
            quote: vec![".".into()],
            angle: vec!["a".into(), "b".into()],
            ..Default::default()
        };
        let order = search_order(&dirs, &[], &[], &[]);
        let absent = absent_candidates(root, &order, &["b/x.h".to_string()]);
        assert!(absent.contains(&"./x.h".to_string()), "{absent:?}");
        assert!(absent.contains(&"a/x.h".to_string()), "{absent:?}");
    }
}
