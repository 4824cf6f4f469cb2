//! Bounded reads of the small text files a parse needs (`@response` files, emcc's config file):
//! only regular files, and only up to a size, so a command line naming `/dev/zero`, a FIFO or a
//! huge file makes the compile uncacheable instead of hanging or exhausting the daemon.

use std::io::Read;
use std::path::Path;

/// Reads `path` as text if it is a regular file of at most `limit` bytes.
pub fn read_text(path: &Path, limit: u64) -> Result<String, String> {
    let name = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("{name}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{name}: not a regular file"));
    }
    let file = std::fs::File::open(path).map_err(|e| format!("{name}: {e}"))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{name}: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(format!("{name}: larger than {limit} bytes"));
    }
    String::from_utf8(bytes).map_err(|_| format!("{name}: not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_fifos_and_big_files_are_refused() {
        assert!(read_text(Path::new("/dev/zero"), 1 << 20)
            .unwrap_err()
            .contains("not a regular file"));
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let status = std::process::Command::new("mkfifo").arg(&fifo).status();
        if status.is_ok_and(|s| s.success()) {
            assert!(
                read_text(&fifo, 1 << 20).is_err(),
                "a FIFO would block the read"
            );
        }
        let big = dir.path().join("big");
        std::fs::write(&big, "x".repeat(11)).unwrap();
        assert!(read_text(&big, 10).unwrap_err().contains("larger than"));
        assert_eq!(read_text(&big, 11).unwrap(), "x".repeat(11));
    }
}
