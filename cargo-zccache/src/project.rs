//! The project a cargo command works on: workspace root and target dir from
//! `cargo metadata --no-deps`, honouring a `--manifest-path` among the cargo arguments.

use std::ffi::OsString;
use std::path::PathBuf;

/// Workspace root and target directory of the project.
#[derive(Debug, Clone)]
pub struct Project {
    pub workspace_root: PathBuf,
    pub target_dir: PathBuf,
}

/// The value of `--manifest-path` in cargo arguments (before a `--`), if any.
pub fn manifest_path_arg(args: &[OsString]) -> Option<PathBuf> {
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let s = arg.to_string_lossy();
        if s == "--" {
            break;
        }
        if s == "--manifest-path" {
            return it.next().map(PathBuf::from);
        }
        if let Some(v) = s.strip_prefix("--manifest-path=") {
            return Some(PathBuf::from(v));
        }
    }
    None
}

/// Whether the cargo arguments or environment select a target other than the host's.
pub fn cross_compiling(args: &[OsString], host: Option<&str>) -> bool {
    let mut targets = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let s = arg.to_string_lossy();
        if s == "--" {
            break;
        }
        if s == "--target" {
            if let Some(v) = it.next() {
                targets.push(v.to_string_lossy().into_owned());
            }
        } else if let Some(v) = s.strip_prefix("--target=") {
            targets.push(v.to_string());
        }
    }
    if let Ok(v) = std::env::var("CARGO_BUILD_TARGET") {
        if !v.is_empty() {
            targets.push(v);
        }
    }
    targets.iter().any(|t| Some(t.as_str()) != host)
}

/// Runs `cargo metadata --no-deps --format-version 1` for the project.
pub fn load(
    cargo: &std::path::Path,
    manifest: Option<&std::path::Path>,
) -> anyhow::Result<Project> {
    let mut cmd = cargo_metadata::MetadataCommand::new();
    cmd.cargo_path(cargo).no_deps();
    if let Some(m) = manifest {
        cmd.manifest_path(m);
    }
    let meta = cmd.exec()?;
    Ok(Project {
        workspace_root: meta.workspace_root.into_std_path_buf(),
        target_dir: meta.target_directory.into_std_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<OsString> {
        s.split(' ').map(OsString::from).collect()
    }

    #[test]
    fn finds_manifest_path_before_double_dash() {
        assert_eq!(
            manifest_path_arg(&v("build --manifest-path a/Cargo.toml")),
            Some(PathBuf::from("a/Cargo.toml"))
        );
        assert_eq!(
            manifest_path_arg(&v("build --manifest-path=b/Cargo.toml")),
            Some(PathBuf::from("b/Cargo.toml"))
        );
        assert_eq!(manifest_path_arg(&v("run -- --manifest-path x")), None);
    }

    #[test]
    fn detects_cross_targets() {
        let host = Some("x86_64-unknown-linux-gnu");
        assert!(!cross_compiling(&v("build"), host));
        assert!(!cross_compiling(
            &v("build --target x86_64-unknown-linux-gnu"),
            host
        ));
        assert!(cross_compiling(
            &v("build --target=aarch64-unknown-linux-gnu"),
            host
        ));
    }
}
