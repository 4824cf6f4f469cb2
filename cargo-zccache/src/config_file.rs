//! `cargo zccache setup [--undo]`: writes or removes `[build] rustc-wrapper = "<zccache>"` in
//! the project's `.cargo/config.toml` (or `$CARGO_HOME/config.toml` with `--global`).
//!
//! Edits go through `toml_edit`, which keeps every other key, the comments, blank lines and
//! key order of the file exactly as they were: a user's hand-written config survives a
//! setup / undo round trip byte for byte (a plain `toml` parse + serialize would drop the
//! comments and reformat the file).

use crate::{locate, project};
use anyhow::{anyhow, bail, Context};
use std::path::{Path, PathBuf};
use toml_edit::{DocumentMut, Item, Table, Value};

const KEY: &str = "rustc-wrapper";

/// The config file to edit: `config.toml` in `dir`, or the legacy `config` when only that
/// exists.
fn config_in(dir: &Path) -> PathBuf {
    let modern = dir.join("config.toml");
    let legacy = dir.join("config");
    if !modern.exists() && legacy.is_file() {
        legacy
    } else {
        modern
    }
}

fn cargo_home() -> anyhow::Result<PathBuf> {
    if let Some(h) = std::env::var_os("CARGO_HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(h));
    }
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cargo"))
        .ok_or_else(|| anyhow!("neither CARGO_HOME nor HOME is set"))
}

fn is_zccache(path: &str) -> bool {
    Path::new(path.trim())
        .file_stem()
        .map(|s| s == "zccache")
        .unwrap_or(false)
}

/// Sets `build.rustc-wrapper` in `text`; returns the new text and the previous value.
pub fn set_wrapper(text: &str, wrapper: &str) -> anyhow::Result<(String, Option<String>)> {
    let mut doc: DocumentMut = text.parse().context("parsing the cargo config")?;
    let build = doc
        .entry("build")
        .or_insert_with(|| Item::Table(Table::new()));
    let table = build
        .as_table_like_mut()
        .ok_or_else(|| anyhow!("`build` in the cargo config is not a table"))?;
    let old = table.get(KEY).and_then(Item::as_str).map(String::from);
    match table.get_mut(KEY).and_then(Item::as_value_mut) {
        Some(v) => {
            // Replace the value, keep the comment/whitespace around it.
            let decor = v.decor().clone();
            *v = Value::from(wrapper);
            *v.decor_mut() = decor;
        }
        None => {
            table.insert(KEY, Item::Value(Value::from(wrapper)));
        }
    }
    Ok((doc.to_string(), old))
}

/// Removes a zccache `build.rustc-wrapper` from `text`; `Ok(None)` when there is none.
/// An empty `[build]` table left behind (without comments) is removed too.
pub fn remove_wrapper(text: &str) -> anyhow::Result<Option<String>> {
    let mut doc: DocumentMut = text.parse().context("parsing the cargo config")?;
    let Some(build) = doc.get_mut("build") else {
        return Ok(None);
    };
    let Some(table) = build.as_table_like_mut() else {
        return Ok(None);
    };
    let Some(current) = table.get(KEY).map(|i| i.as_str().map(String::from)) else {
        return Ok(None);
    };
    match current {
        Some(v) if is_zccache(&v) => {}
        other => bail!(
            "build.rustc-wrapper is {}, not zccache: left as is",
            other.unwrap_or_else(|| "not a string".into())
        ),
    }
    table.remove(KEY);
    let now_empty = table.is_empty();
    let has_comments = build
        .as_table()
        .map(|t| {
            let d = t.decor();
            let s = |r: Option<&toml_edit::RawString>| {
                r.and_then(|r| r.as_str())
                    .map(|s| s.contains('#'))
                    .unwrap_or(false)
            };
            s(d.prefix()) || s(d.suffix())
        })
        .unwrap_or(false);
    if now_empty && !has_comments {
        doc.remove("build");
    }
    Ok(Some(doc.to_string()))
}

/// Runs `setup` / `setup --undo`; returns the exit code.
pub fn setup(undo: bool, global: bool, manifest: Option<&Path>) -> anyhow::Result<i32> {
    let path = if global {
        config_in(&cargo_home()?)
    } else {
        let proj = project::load(&locate::cargo(), manifest)
            .context("finding the project (run inside a cargo project, or use --manifest-path)")?;
        config_in(&proj.workspace_root.join(".cargo"))
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };

    if undo {
        match remove_wrapper(&text).with_context(|| path.display().to_string())? {
            None => println!("{}: no zccache rustc-wrapper to remove", path.display()),
            Some(new) if new.trim().is_empty() => {
                std::fs::remove_file(&path)
                    .with_context(|| format!("removing {}", path.display()))?;
                if let Some(dir) = path.parent() {
                    let _ = std::fs::remove_dir(dir); // only succeeds when empty
                }
                println!(
                    "removed {} (it held only the zccache rustc-wrapper)",
                    path.display()
                );
            }
            Some(new) => {
                write(&path, &new)?;
                println!("removed build.rustc-wrapper from {}", path.display());
            }
        }
        return Ok(0);
    }

    let zccache = locate::zccache()?;
    let zccache = zccache.to_string_lossy();
    let (new, old) = set_wrapper(&text, &zccache).with_context(|| path.display().to_string())?;
    if new == text {
        println!(
            "{}: build.rustc-wrapper is already {zccache}",
            path.display()
        );
        return Ok(0);
    }
    write(&path, &new)?;
    match old {
        Some(old) => println!(
            "{}: build.rustc-wrapper = \"{zccache}\" (was \"{old}\")",
            path.display()
        ),
        None => println!("{}: build.rustc-wrapper = \"{zccache}\"", path.display()),
    }
    println!(
        "plain `cargo build` {} now caches rustc through zccache; `cargo zccache build` also \
         caches build scripts' C/C++ and sets CARGO_INCREMENTAL=0. Undo: cargo zccache setup --undo{}",
        if global { "everywhere" } else { "in this project" },
        if global { " --global" } else { "" }
    );
    Ok(0)
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = path.with_extension("toml.zccache-tmp");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMENTED: &str = "\
# Project cargo config — keep these comments!
[alias]
b = \"build\"   # short

[build]
# parallelism
jobs = 2

[env]
FOO = \"bar\" # trailing
";

    #[test]
    fn round_trip_keeps_comments() {
        let (set, old) = set_wrapper(COMMENTED, "/opt/z/zccache").unwrap();
        assert_eq!(old, None);
        assert!(set.contains("rustc-wrapper = \"/opt/z/zccache\""));
        assert!(set.contains("# parallelism\njobs = 2"));
        assert!(set.contains("FOO = \"bar\" # trailing"));
        let parsed: DocumentMut = set.parse().unwrap();
        assert_eq!(parsed["build"][KEY].as_str(), Some("/opt/z/zccache"));
        assert_eq!(remove_wrapper(&set).unwrap().unwrap(), COMMENTED);
    }

    #[test]
    fn round_trip_without_build_table() {
        let text = "# only a comment\n[net]\nretry = 3\n";
        let (set, _) = set_wrapper(text, "/z/zccache").unwrap();
        assert!(set.starts_with(text));
        assert_eq!(remove_wrapper(&set).unwrap().unwrap(), text);
        let (empty, _) = set_wrapper("", "/z/zccache").unwrap();
        assert_eq!(remove_wrapper(&empty).unwrap().unwrap().trim(), "");
    }

    #[test]
    fn replaces_existing_wrapper_and_refuses_to_remove_foreign() {
        let text = "[build]\nrustc-wrapper = \"sccache\" # old cache\n";
        let (set, old) = set_wrapper(text, "/z/zccache").unwrap();
        assert_eq!(old.as_deref(), Some("sccache"));
        assert_eq!(set, "[build]\nrustc-wrapper = \"/z/zccache\" # old cache\n");
        assert!(remove_wrapper(text).is_err());
        assert_eq!(remove_wrapper("[build]\njobs = 1\n").unwrap(), None);
    }

    #[test]
    fn dotted_build_keys_are_kept() {
        let text = "build.jobs = 3 # dotted\n";
        let (set, _) = set_wrapper(text, "/z/zccache").unwrap();
        let parsed: DocumentMut = set.parse().unwrap();
        assert_eq!(parsed["build"]["jobs"].as_integer(), Some(3));
        assert_eq!(parsed["build"][KEY].as_str(), Some("/z/zccache"));
        assert_eq!(remove_wrapper(&set).unwrap().unwrap(), text);
    }
}
