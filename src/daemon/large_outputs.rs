//! Outputs handed over by path instead of through the socket: the wrapper names outputs of
//! [`crate::ipc::PATH_HANDOVER_BYTES`] or more (a frame is limited to
//! [`crate::ipc::MAX_FRAME`]; an output of any size is cached). The build may change or
//! delete an output as soon as the wrapper is answered, so before answering the daemon either
//! opens it under a read lease (`F_SETLEASE`: nobody can open it for writing or truncate it
//! until the lease is released; O(1) whatever its size) and copies it right after answering,
//! or, where a lease cannot be had (another owner, a filesystem without leases, leases
//! disabled), copies it (an in-kernel copy) before answering. An output the daemon cannot read
//! (a sandbox it cannot see into) makes the compile uncacheable with a counted reason; the
//! build already has its output. The copy is hashed into a blob after the wrapper was
//! answered.

use crate::store::{BlobStore, Digest};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Reason counted when a path-handed output cannot be taken into the store.
pub const UNREADABLE: &str = "large_output_unreadable";

/// A large output copied into the store's temp dir before the wrapper was answered; it
/// becomes a blob in [`Copied::into_blob`] (after answering). Dropped unused, the copy is
/// removed.
#[derive(Debug)]
pub struct Copied {
    tmp: PathBuf,
    pub size: u64,
    pub mode: u32,
}

impl Drop for Copied {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// A large output now in the store.
#[derive(Debug, Clone, Copy)]
pub struct Captured {
    pub blob: Digest,
    pub size: u64,
    pub mode: u32,
}

/// A large output taken before the wrapper is answered: already copied, or held open under
/// a read lease until [`finish`] copies it.
#[derive(Debug)]
pub enum Taken {
    Copied(Copied),
    Leased {
        file: std::fs::File,
        path: PathBuf,
        mode: u32,
    },
}

/// Slots of [`capture`]: one per planned output (None when it came through the socket or is
/// absent).
pub type TakenOutputs = Vec<Option<Result<Taken, String>>>;

/// Takes every path-handed output before the wrapper is answered: under a read lease where
/// possible, else copied into the store's temp dir (in the kernel: `copy_file_range`).
pub fn capture(tmp_dir: &Path, files: &[Option<(String, u32)>]) -> TakenOutputs {
    files
        .iter()
        .map(|f| {
            let (path, mode) = f.as_ref()?;
            let path = Path::new(path);
            Some(match lease(path) {
                Some(file) => Ok(Taken::Leased {
                    file,
                    path: path.to_path_buf(),
                    mode: *mode,
                }),
                None => copy_one(tmp_dir, path, *mode).map(Taken::Copied),
            })
        })
        .collect()
}

/// Takes the path-handed outputs a wrapper passed along already opened under a read lease
/// (one descriptor per `files` entry, in order); an entry without its descriptor, or whose
/// lease is gone, cannot be stored.
pub fn adopt(passed: Vec<std::os::fd::OwnedFd>, files: &[Option<(String, u32)>]) -> TakenOutputs {
    let mut passed = passed.into_iter();
    files
        .iter()
        .map(|f| {
            let (path, mode) = f.as_ref()?;
            let Some(fd) = passed.next() else {
                return Some(Err(format!("{path}: its descriptor was not passed")));
            };
            let file = std::fs::File::from(fd);
            let is_file = file.metadata().map(|m| m.is_file()).unwrap_or(false);
            Some(if is_file && lease_held(&file) {
                Ok(Taken::Leased {
                    file,
                    path: PathBuf::from(path),
                    mode: *mode,
                })
            } else {
                Err(format!("{path}: passed without its read lease"))
            })
        })
        .collect()
}

/// After answering: copies the leased outputs, then releases their leases.
pub fn finish(tmp_dir: &Path, taken: TakenOutputs) -> Vec<Option<Result<Copied, String>>> {
    taken
        .into_iter()
        .map(|slot| {
            Some(match slot? {
                Ok(Taken::Copied(c)) => Ok(c),
                Ok(Taken::Leased { file, path, mode }) => copy_leased(tmp_dir, file, &path, mode),
                Err(e) => Err(e),
            })
        })
        .collect()
}

/// Makes the daemon deaf to lease-break signals: a lease's holder gets SIGIO (which would
/// end the process) when someone opens the file for writing; the daemon instead checks after
/// copying that its lease held. A no-op handler (not SIG_IGN, which programs the daemon runs
/// would inherit), restarting interrupted calls. Call once at start, before taking a lease.
pub fn ignore_lease_breaks() {
    #[cfg(target_os = "linux")]
    {
        extern "C" fn lease_broken(_: libc::c_int) {}
        // SAFETY: installs a handler that does nothing (async-signal-safe) for SIGIO; the
        // sigaction struct is zero-initialised and then filled in.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = lease_broken as extern "C" fn(libc::c_int) as usize;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(libc::SIGIO, &action, std::ptr::null_mut());
        }
    }
}

/// Opens `path` under a read lease: until the file is closed, an open for writing or a
/// truncate waits (the kernel's lease-break-time at most), so what is copied is exactly what
/// the compiler wrote. None where no lease can be had (then the output is copied at once).
/// The lease belongs to the open file, so it holds wherever the descriptor is passed.
pub fn lease(path: &Path) -> Option<std::fs::File> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let file = std::fs::File::open(path).ok()?;
        if !file.metadata().ok()?.is_file() {
            return None;
        }
        // SAFETY: fcntl on a descriptor this function owns.
        let set = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLEASE, libc::F_RDLCK) };
        (set == 0).then_some(file)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = path;
        None
    }
}

/// Whether the read lease on `file` still holds (no writer has come since it was taken).
fn lease_held(file: &std::fs::File) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: fcntl on a descriptor borrowed for the call.
        let kind = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLEASE) };
        kind == libc::F_RDLCK
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = file;
        false
    }
}

fn temp_path(tmp_dir: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    tmp_dir.join(format!("large-{}-{n}.tmp", std::process::id()))
}

fn copy_one(tmp_dir: &Path, path: &Path, mode: u32) -> Result<Copied, String> {
    let tmp = temp_path(tmp_dir);
    let copied = std::fs::create_dir_all(tmp_dir).and_then(|_| std::fs::copy(path, &tmp));
    match copied {
        Ok(size) => Ok(Copied { tmp, size, mode }),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(format!("{}: {e}", path.display()))
        }
    }
}

/// Copies a leased output (from the descriptor: the build may have renamed or deleted the
/// path meanwhile); the lease is released when `file` is dropped.
fn copy_leased(
    tmp_dir: &Path,
    mut file: std::fs::File,
    path: &Path,
    mode: u32,
) -> Result<Copied, String> {
    let tmp = temp_path(tmp_dir);
    let copied = (|| -> std::io::Result<u64> {
        std::fs::create_dir_all(tmp_dir)?;
        let mut dest = std::fs::File::create(&tmp)?;
        std::io::copy(&mut file, &mut dest)
    })();
    let outcome = match copied {
        // A lease broken before the copy ended (the kernel gives up on a holder after its
        // lease-break-time) proves nothing about what was copied.
        Ok(_) if !lease_held(&file) => Err(format!(
            "{}: opened for writing while it was being stored",
            path.display()
        )),
        Ok(size) => return Ok(Copied { tmp, size, mode }),
        Err(e) => Err(format!("{}: {e}", path.display())),
    };
    let _ = std::fs::remove_file(&tmp);
    outcome
}

impl Copied {
    /// Hashes the copy and moves it into place as a blob (the digest names exactly the
    /// bytes stored).
    pub fn into_blob(&self, blobs: &BlobStore) -> Result<Captured, String> {
        let stored = (|| -> std::io::Result<Digest> {
            let mut hasher = blake3::Hasher::new();
            let mut file = std::fs::File::open(&self.tmp)?;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                match file.read(&mut buf)? {
                    0 => break,
                    k => {
                        hasher.update(&buf[..k]);
                    }
                }
            }
            let blob: Digest = *hasher.finalize().as_bytes();
            let dest = blobs.path(&blob);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::rename(&self.tmp, &dest)?;
            Ok(blob)
        })();
        stored
            .map(|blob| Captured {
                blob,
                size: self.size,
                mode: self.mode,
            })
            .map_err(|e| format!("{}: {e}", self.tmp.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_by_path_and_reports_unreadable() {
        ignore_lease_breaks();
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::open(&dir.path().join("b"), &dir.path().join("t")).unwrap();
        let out = dir.path().join("big.o");
        std::fs::write(&out, vec![7u8; 3 << 20]).unwrap();
        let taken = capture(
            &dir.path().join("t"),
            &[
                None,
                Some((out.display().to_string(), 0)),
                Some(("/nonexistent/x.o".into(), 0)),
            ],
        );
        assert!(matches!(taken[1], Some(Ok(Taken::Leased { .. }))));
        let got = finish(&dir.path().join("t"), taken);
        assert!(got[0].is_none());
        let copied = got[1].as_ref().unwrap().as_ref().unwrap();
        let c = copied.into_blob(&blobs).unwrap();
        assert_eq!(c.size, 3 << 20);
        assert_eq!(
            std::fs::read(blobs.path(&c.blob)).unwrap(),
            std::fs::read(&out).unwrap()
        );
        assert_eq!(
            &c.blob,
            blake3::hash(&std::fs::read(&out).unwrap()).as_bytes()
        );
        assert!(got[2].as_ref().unwrap().is_err());
    }

    /// The build rewrites (truncates) and deletes the output right after the wrapper was
    /// answered: the writer waits for the lease, so the store gets exactly what the compiler
    /// wrote, or nothing.
    #[test]
    fn an_output_rewritten_right_after_answering_is_stored_as_written_or_not_at_all() {
        ignore_lease_breaks();
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::open(&dir.path().join("b"), &dir.path().join("t")).unwrap();
        let out = dir.path().join("prog");
        let original = vec![1u8; 4 << 20];
        std::fs::write(&out, &original).unwrap();
        let taken = capture(
            &dir.path().join("t"),
            &[Some((out.display().to_string(), 0))],
        );
        assert!(matches!(taken[0], Some(Ok(Taken::Leased { .. }))));
        let writer = {
            let out = out.clone();
            std::thread::spawn(move || {
                std::fs::write(&out, vec![2u8; 1 << 20]).unwrap();
                std::fs::remove_file(&out).unwrap();
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        let got = finish(&dir.path().join("t"), taken);
        writer.join().unwrap();
        assert!(!out.exists());
        match got[0].as_ref().unwrap() {
            Ok(copied) => {
                let c = copied.into_blob(&blobs).unwrap();
                assert_eq!(std::fs::read(blobs.path(&c.blob)).unwrap(), original);
            }
            Err(why) => assert!(why.contains("opened for writing"), "{why}"),
        }
    }

    /// Without a lease (a file open for writing elsewhere) the output is copied at once.
    #[test]
    fn an_output_open_for_writing_is_copied_before_answering() {
        ignore_lease_breaks();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("prog");
        std::fs::write(&out, b"written").unwrap();
        let _held = std::fs::OpenOptions::new().append(true).open(&out).unwrap();
        let taken = capture(
            &dir.path().join("t"),
            &[Some((out.display().to_string(), 0))],
        );
        assert!(matches!(taken[0], Some(Ok(Taken::Copied(_)))));
    }
}
