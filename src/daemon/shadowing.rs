//! Absent paths that keep an entry valid: the paths a compile probed and found missing (as
//! the access recorder saw them), and — for entries learned without the recorder (after a
//! preprocessor-tier hit) — the include-path shadowing candidates: for each header, the paths
//! earlier on the search path where a newly created file of the same name would win. An
//! entry is only valid while those paths stay absent; they are grouped by the directory whose
//! unchanged mtime proves it.

use crate::paths::{normalize, resolve};
use crate::store::records::AbsentGroup;
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

fn mtime_ns(meta: &std::fs::Metadata) -> i128 {
    use std::os::unix::fs::MetadataExt;
    meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128
}

fn now_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

/// For each header (not the source), the candidate paths before the directory it was found
/// in that do not exist now, grouped by their parent directory (kept relative when the search
/// dir was relative). A missing parent is recorded at its highest missing ancestor below the
/// search dir, so one `stat` covers a whole missing subtree.
pub fn absent_candidates(cwd: &Path, order: &[String], headers: &[String]) -> Vec<AbsentGroup> {
    let resolved: Vec<PathBuf> = order.iter().map(|d| resolve(cwd, d)).collect();
    let mut groups: Vec<AbsentGroup> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let now = now_ns();
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
                // The directory that anchors the group: the candidate's parent if it exists,
                // else its highest missing ancestor below (or at) the search dir.
                let mut anchor = candidate_abs
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default();
                let anchor_meta = std::fs::metadata(&anchor).ok();
                if anchor_meta.is_none() {
                    while anchor != *dir_abs {
                        match anchor.parent() {
                            Some(p) if p.starts_with(dir_abs) && std::fs::metadata(p).is_err() => {
                                anchor = p.to_path_buf()
                            }
                            _ => break,
                        }
                    }
                }
                let Ok(name) = candidate_abs.strip_prefix(&anchor) else {
                    continue;
                };
                let name = name.to_string_lossy().into_owned();
                let dir_text = if Path::new(dir_text).is_absolute() {
                    anchor.to_string_lossy().into_owned()
                } else {
                    let below = anchor.strip_prefix(dir_abs).unwrap_or(Path::new(""));
                    Path::new(dir_text)
                        .join(below)
                        .to_string_lossy()
                        .into_owned()
                };
                let (dir_mtime_ns, settled) = match &anchor_meta {
                    Some(meta) => anchor_state(meta, now),
                    None => (None, true),
                };
                match groups.iter_mut().find(|g| g.dir == dir_text) {
                    Some(g) => g.names.push(name),
                    None => groups.push(AbsentGroup {
                        dir: dir_text,
                        dir_mtime_ns,
                        settled,
                        names: vec![name],
                    }),
                }
            }
        }
    }
    groups
}

/// The state of an existing anchor directory: its mtime and whether it is old enough to
/// prove that nothing was created in it since (one whose mtime is this recent may still gain
/// a file within the same timestamp tick).
fn anchor_state(meta: &std::fs::Metadata, now: i128) -> (Option<i128>, bool) {
    use std::os::unix::fs::MetadataExt;
    let m = mtime_ns(meta);
    let settle = crate::meta::hash_cache::settle_ns(meta.mtime_nsec(), meta.ctime_nsec());
    (Some(m), now - m >= settle)
}

/// Splits a stored path into its parent text (`.` for a bare name) and last component.
fn split_parent(text: &str) -> (String, String) {
    let trimmed = text.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(0) => ("/".to_string(), trimmed[1..].to_string()),
        Some(i) => (trimmed[..i].to_string(), trimmed[i + 1..].to_string()),
        None => (".".to_string(), trimmed.to_string()),
    }
}

/// Groups probed-and-missing paths — `(stored form, path to stat)` — by the directory that
/// proves their absence: the parent when it exists, else its highest missing ancestor.
/// Returns the stored form of a path that exists now (it appeared during the compile).
pub fn recorded_absent_groups(paths: &[(String, PathBuf)]) -> Result<Vec<AbsentGroup>, String> {
    let now = now_ns();
    let mut groups: Vec<AbsentGroup> = Vec::new();
    let mut by_dir: std::collections::HashMap<String, usize> = Default::default();
    let mut anchors: std::collections::HashMap<PathBuf, (Option<i128>, bool)> = Default::default();
    for (stored, fs_path) in paths {
        if std::fs::symlink_metadata(fs_path).is_ok() {
            return Err(stored.clone());
        }
        let (mut dir_text, mut name) = split_parent(stored);
        let mut dir_fs = fs_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"));
        let state = match anchors.get(&dir_fs) {
            Some(state) => *state,
            None => {
                let state = match std::fs::metadata(&dir_fs) {
                    Ok(meta) => anchor_state(&meta, now),
                    Err(_) => {
                        // Climb to the highest missing ancestor: one stat covers the subtree.
                        while let Some(up) = dir_fs.parent() {
                            if up.as_os_str().is_empty() || std::fs::metadata(up).is_ok() {
                                break;
                            }
                            let (up_text, last) = split_parent(&dir_text);
                            if up_text == dir_text {
                                break;
                            }
                            name = format!("{last}/{name}");
                            dir_text = up_text;
                            dir_fs = up.to_path_buf();
                        }
                        (None, true)
                    }
                };
                if state.0.is_some() {
                    anchors.insert(dir_fs.clone(), state);
                }
                state
            }
        };
        match by_dir.get(&dir_text) {
            Some(&i) => groups[i].names.push(name),
            None => {
                by_dir.insert(dir_text.clone(), groups.len());
                groups.push(AbsentGroup {
                    dir: dir_text,
                    dir_mtime_ns: state.0,
                    settled: state.1,
                    names: vec![name],
                });
            }
        }
    }
    Ok(groups)
}

/// Whether every candidate of `group` (whose directory is at `dir` for this build) is still
/// absent; one `stat` when the directory proves nothing was created in it.
pub fn group_still_absent(dir: &Path, group: &AbsentGroup) -> bool {
    match (std::fs::metadata(dir), group.dir_mtime_ns) {
        (Err(_), None) => return true,
        (Ok(meta), Some(recorded)) if group.settled && mtime_ns(&meta) == recorded => return true,
        _ => {}
    }
    group
        .names
        .iter()
        .all(|name| std::fs::symlink_metadata(dir.join(name)).is_err())
}

/// Whether `path` lies under one of the system include dirs `roots` (resolved against `cwd`
/// once by the caller: a depfile names hundreds of headers).
pub fn is_under_system_root(cwd: &Path, path: &str, roots: &[PathBuf]) -> bool {
    let abs = resolve(cwd, path);
    roots.iter().any(|root| abs.starts_with(root))
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
        let flat: Vec<String> = absent
            .iter()
            .flat_map(|g| {
                g.names
                    .iter()
                    .map(move |n| Path::new(&g.dir).join(n).to_string_lossy().into_owned())
            })
            .collect();
        assert!(flat.contains(&"./x.h".to_string()), "{flat:?}");
        assert!(flat.contains(&"a/x.h".to_string()), "{flat:?}");
        let still = |g: &AbsentGroup| group_still_absent(&resolve(root, &g.dir), g);
        assert!(absent.iter().all(still));
        std::fs::write(root.join("a/x.h"), "").unwrap();
        assert!(!absent.iter().all(still));
    }

    #[test]
    fn recorded_absent_paths_group_by_parent_or_missing_ancestor() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("inc")).unwrap();
        let items: Vec<(String, PathBuf)> = ["inc/a.h", "inc/b.h", "gone/deep/c.h", "top.h"]
            .iter()
            .map(|p| (p.to_string(), root.join(p)))
            .collect();
        let groups = recorded_absent_groups(&items).unwrap();
        let dirs: Vec<&str> = groups.iter().map(|g| g.dir.as_str()).collect();
        assert_eq!(dirs, vec!["inc", "gone", "."]);
        assert_eq!(groups[1].names, vec!["deep/c.h"]);
        assert_eq!(groups[1].dir_mtime_ns, None);
        let still = |g: &AbsentGroup| group_still_absent(&root.join(&g.dir), g);
        assert!(groups.iter().all(still));
        std::fs::create_dir_all(root.join("gone/deep")).unwrap();
        std::fs::write(root.join("gone/deep/c.h"), "").unwrap();
        assert!(!groups.iter().all(still));
        std::fs::write(root.join("inc/a.h"), "").unwrap();
        assert_eq!(
            recorded_absent_groups(&items).unwrap_err(),
            "inc/a.h".to_string()
        );
    }
}
