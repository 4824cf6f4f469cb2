//! The file-access recorder (an `LD_PRELOAD` library built from `recorder/access_recorder.c`
//! by `build.rs`): embedded in the binary, installed once into the cache dir under a name
//! derived from its content, and handed to the wrapper for every miss.

use crate::config::Layout;
use std::path::PathBuf;

/// The recorder shared object, as built for this zccache.
pub const RECORDER_SO: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/libzccache_recorder.so"));

/// Environment variable naming the log the recorder appends to.
pub const LOG_ENV: &str = "ZCCACHE_ACCESS_LOG";
/// Environment variable naming the compile's working dir (relative paths stay relative there).
pub const CWD_ENV: &str = "ZCCACHE_ACCESS_CWD";

/// Installs the recorder into `<cache dir>/recorder/` (temp + rename, so concurrent daemons
/// of other versions never see a partial file) and returns its path. `LD_PRELOAD` splits on
/// spaces and colons, so a cache dir whose path has one gets the recorder in a private
/// per-user dir under the temp dir instead.
pub fn install(layout: &Layout) -> std::io::Result<PathBuf> {
    let hash = blake3::hash(RECORDER_SO);
    let dir = layout.root.join("recorder");
    let dir = if dir.to_string_lossy().contains([' ', ':']) {
        private_temp_dir()?
    } else {
        dir
    };
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("access-{}.so", &hash.to_hex()[..16]));
    if let Ok(existing) = std::fs::read(&path) {
        if existing == RECORDER_SO {
            return Ok(path);
        }
    }
    let tmp = dir.join(format!(".access-{}.tmp", std::process::id()));
    std::fs::write(&tmp, RECORDER_SO)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// `<temp dir>/zccache-recorder-<uid>`, created 0700 and refused unless it is ours and private.
fn private_temp_dir() -> std::io::Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    let dir = std::path::Path::new("/tmp").join(format!("zccache-recorder-{uid}"));
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let meta = std::fs::symlink_metadata(&dir)?;
    if !meta.is_dir() || meta.uid() != uid || meta.mode() & 0o077 != 0 {
        return Err(std::io::Error::other(format!(
            "{} is not a private directory of this user",
            dir.display()
        )));
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::accesses::Accesses;
    use std::process::Command;

    /// Relative paths are recorded as given while the process is in the compile's cwd, and
    /// resolved against the new directory after a `chdir` (tracked without a `getcwd` per
    /// access): one process (python) changes directory and back, a child starts elsewhere.
    #[test]
    fn relative_paths_follow_the_processes_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let work = root.join("w");
        std::fs::create_dir_all(work.join("sub")).unwrap();
        for f in ["a", "a2", "sub/b", "sub/c"] {
            std::fs::write(work.join(f), f).unwrap();
        }
        let recorder = install(&Layout::new(&root.join("cache"))).unwrap();
        let log = root.join("access.log");
        let script = "import os, subprocess\n\
                      open('a').read()\n\
                      os.chdir('sub')\n\
                      open('b').read()\n\
                      os.chdir('..')\n\
                      open('a2').read()\n\
                      subprocess.run(['cat', 'c'], cwd='sub', stdout=subprocess.DEVNULL, check=True)\n";
        let status = Command::new("python3")
            .args(["-c", script])
            .current_dir(&work)
            .env("LD_PRELOAD", &recorder)
            .env(LOG_ENV, &log)
            .env(CWD_ENV, &work)
            .status()
            .expect("python3 runs");
        assert!(status.success());
        let accesses = Accesses::parse(&std::fs::read(&log).unwrap());
        let sub = work.join("sub");
        for expected in [
            "a".to_string(),
            format!("{}/b", sub.display()),
            "a2".to_string(),
            format!("{}/c", sub.display()),
        ] {
            assert!(
                accesses.read.contains(&expected),
                "{expected} not among {:?}",
                accesses.read
            );
        }
        assert!(!accesses.read.contains(&"b".to_string()));
        assert!(!accesses.read.contains(&"c".to_string()));
    }
}
