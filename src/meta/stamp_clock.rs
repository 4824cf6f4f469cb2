//! When a file's timestamps are sure to change on its next write, read from the clock the
//! kernel stamps files with.
//!
//! Linux stamps a file's mtime/ctime from the coarse realtime clock (one tick, 1–10 ms), or a
//! finer reading of it that is never earlier. So once the coarse clock, read *before* a file's
//! content is read, is past the file's newest stamp by more than the filesystem's timestamp
//! granularity, any later write stamps a different time: a digest of the content read after
//! that moment stays valid for as long as the stat does. That holds only where the stamps come
//! from this machine's clock at fine granularity: local filesystems, listed by their magic
//! number. Elsewhere (NFS, FUSE, 9p, virtiofs: another machine's or process's clock) callers
//! fall back to a wide age margin ([`crate::meta::hash_cache::settle_ns`]).

use std::collections::HashMap;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

/// Margin over the filesystem's timestamp granularity (1 ns for every filesystem listed in
/// [`LOCAL_CLOCK_FILESYSTEMS`]): the coarse clock must be this far past a stamp.
const GRANULARITY_MARGIN_NS: i128 = 1_000_000;

/// `statfs` magic numbers of local filesystems that stamp files from this kernel's clock with
/// nanosecond timestamps (ext2/3/4 report one magic; an ext4 with second timestamps is caught
/// by the caller, whose stamps then have no sub-second part).
const LOCAL_CLOCK_FILESYSTEMS: &[i64] = &[
    0xEF53,      // ext2/ext3/ext4
    0x5846_5342, // xfs
    0x9123_683E, // btrfs
    0x0102_1994, // tmpfs
    0x794C_7630, // overlayfs
    0xF2F5_2010, // f2fs
    0xCA45_1A4E, // bcachefs
    0x2FC1_2FC1, // zfs
];

/// The coarse realtime clock (what file stamps are taken from), in ns since the epoch; `None`
/// if it cannot be read.
pub fn coarse_now_ns() -> Option<i128> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128)
}

/// The coarse clock read at `read_started_ns` (before the content was read) is far enough past
/// `changed_ns` (the file's newest stamp) that any later write to a file on device `dev`
/// (holding `path`) gets another stamp.
pub fn stamp_passed(
    read_started_ns: Option<i128>,
    changed_ns: i128,
    dev: u64,
    path: &Path,
) -> bool {
    match read_started_ns {
        Some(start) if start - changed_ns >= GRANULARITY_MARGIN_NS => {
            stamps_follow_local_clock(dev, path)
        }
        _ => false,
    }
}

/// Whether files on device `dev` (one of them at `path`) are stamped by this kernel's clock
/// at fine granularity; remembered per device.
fn stamps_follow_local_clock(dev: u64, path: &Path) -> bool {
    static KNOWN: OnceLock<Mutex<HashMap<u64, bool>>> = OnceLock::new();
    let known = KNOWN.get_or_init(Default::default);
    if let Some(local) = known
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(&dev)
    {
        return *local;
    }
    let Some(fs_type) = filesystem_type(path) else {
        return false; // not remembered: the next file may tell
    };
    let local = LOCAL_CLOCK_FILESYSTEMS.contains(&fs_type);
    known
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .insert(dev, local);
    local
}

/// The `statfs` magic number of the filesystem holding `path`.
fn filesystem_type(path: &Path) -> Option<i64> {
    let c_path = CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: zeroed statfs is a valid out-parameter; `c_path` is NUL-terminated.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statfs(c_path.as_ptr(), &mut fs) };
    #[allow(clippy::unnecessary_cast)] // f_type's width differs between targets
    (rc == 0).then_some(fs.f_type as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_stamp_has_not_passed_and_an_older_one_has() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let meta = std::fs::metadata(&file).unwrap();
        use std::os::unix::fs::MetadataExt;
        let changed = meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128;
        let dev = meta.dev();
        assert!(!stamp_passed(Some(changed), changed, dev, &file));
        assert!(!stamp_passed(None, changed, dev, &file));
        let later = changed + 20_000_000;
        // The test's temp dir is on a local filesystem on every machine this runs on.
        assert_eq!(
            stamp_passed(Some(later), changed, dev, &file),
            filesystem_type(&file).is_some_and(|t| LOCAL_CLOCK_FILESYSTEMS.contains(&t))
        );
    }

    #[test]
    fn file_stamps_never_run_ahead_of_the_coarse_clock_read_after_the_write() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        for round in 0..200 {
            std::fs::write(&file, format!("{round}")).unwrap();
            let after = coarse_now_ns().unwrap();
            let meta = std::fs::metadata(&file).unwrap();
            use std::os::unix::fs::MetadataExt;
            let changed = meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128;
            // A stamp may be finer than the coarse clock but never a tick ahead of it.
            assert!(changed <= after + 10_000_000, "{changed} vs {after}");
        }
    }
}
