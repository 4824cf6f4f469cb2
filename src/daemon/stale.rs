//! Removing the stores other zccache builds left in this cache dir (each build keeps its
//! own under `v/<build>/`, and pre-versioned builds kept theirs in the root). A store is
//! removed only when no daemon holds its lock and it was last written more than
//! [`STALE_AFTER`] ago, so a daemon of another version that is still in use keeps its cache.

use crate::config::{Layout, STORES_DIR};
use std::fs::File;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// How long another build's store is kept after its last write.
pub const STALE_AFTER: Duration = Duration::from_secs(30 * 24 * 3600);

/// Files a pre-versioned zccache kept in the cache root.
const LEGACY_FILES: [&str; 4] = ["index.redb", "daemon.lock", "spawn.lock", "daemon.pid"];
const LEGACY_DIRS: [&str; 2] = ["blobs", "tmp"];

/// Removes stale stores of other builds (best effort, logged).
pub fn sweep(layout: &Layout) {
    sweep_at(layout, SystemTime::now());
}

fn sweep_at(layout: &Layout, now: SystemTime) {
    let stores = layout.root.join(STORES_DIR);
    if let Ok(entries) = std::fs::read_dir(&stores) {
        for entry in entries.flatten() {
            let dir = entry.path();
            if dir == layout.store || !dir.is_dir() {
                continue;
            }
            if is_stale(&dir, now) {
                tracing::info!(
                    "removing the stale store of another build: {}",
                    dir.display()
                );
                if let Err(e) = std::fs::remove_dir_all(&dir) {
                    tracing::warn!("cannot remove {}: {e}", dir.display());
                }
            }
        }
    }
    if layout.root.join("index.redb").exists() && is_stale(&layout.root, now) {
        tracing::info!(
            "removing the stale pre-versioned store in {}",
            layout.root.display()
        );
        for name in LEGACY_FILES {
            let _ = std::fs::remove_file(layout.root.join(name));
        }
        for name in LEGACY_DIRS {
            let _ = std::fs::remove_dir_all(layout.root.join(name));
        }
    }
}

/// No daemon holds `dir/daemon.lock`, and nothing in `dir` that records use is newer than
/// [`STALE_AFTER`].
fn is_stale(dir: &Path, now: SystemTime) -> bool {
    let lock = dir.join("daemon.lock");
    if let Ok(f) = File::open(&lock) {
        if f.try_lock().is_err() {
            return false;
        }
    }
    let newest = ["index.redb", "daemon.lock"]
        .iter()
        .filter_map(|n| std::fs::metadata(dir.join(n)).ok()?.modified().ok())
        .max();
    match newest {
        Some(t) => now
            .duration_since(t)
            .map(|age| age > STALE_AFTER)
            .unwrap_or(false),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_only_old_unlocked_stores_of_other_builds() {
        let dir = tempfile::tempdir().unwrap();
        let mine = Layout::new(dir.path());
        let other = Layout::for_build(dir.path(), "0.0.1-p1-old");
        let busy = Layout::for_build(dir.path(), "0.0.2-p1-busy");
        for l in [&mine, &other, &busy] {
            std::fs::create_dir_all(l.blobs()).unwrap();
            std::fs::write(l.index_db(), b"x").unwrap();
            std::fs::write(l.daemon_lock(), b"").unwrap();
        }
        std::fs::write(dir.path().join("index.redb"), b"x").unwrap();
        std::fs::create_dir_all(dir.path().join("blobs")).unwrap();
        let held = File::open(busy.daemon_lock()).unwrap();
        held.lock().unwrap();
        // Today nothing is stale; in a year everything unlocked but ours is.
        sweep_at(&mine, SystemTime::now());
        assert!(other.store.exists() && dir.path().join("index.redb").exists());
        sweep_at(&mine, SystemTime::now() + STALE_AFTER * 12);
        assert!(!other.store.exists());
        assert!(!dir.path().join("index.redb").exists());
        assert!(!dir.path().join("blobs").exists());
        assert!(busy.store.exists() && mine.store.exists());
    }
}
