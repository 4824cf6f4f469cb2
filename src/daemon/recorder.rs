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
/// of other versions never see a partial file) and returns its path.
pub fn install(layout: &Layout) -> std::io::Result<PathBuf> {
    let hash = blake3::hash(RECORDER_SO);
    let dir = layout.root.join("recorder");
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
