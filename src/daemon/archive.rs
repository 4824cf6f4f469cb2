//! Checks on an archive `ar` wrote on a miss, before it is stored: it must be deterministic
//! (every member header with timestamp, owner and group 0, as `ar D` writes them — the default
//! of Debian's binutils and of llvm-ar). An archiver built to record real timestamps writes
//! member headers that differ on every run: such an archive is not cached, so a hit never
//! restores a timestamp the bare archiver would not have written.

use super::compile::{join_cwd, Ctx};
use super::learn::IngestError;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Reason counted when the archiver recorded timestamps or owners.
pub const NOT_DETERMINISTIC: &str = "ar_not_deterministic";

const HEADER_LEN: u64 = 60;

/// Checks the archive the invocation wrote (its first output).
pub(super) fn check_deterministic(ctx: &Ctx) -> Result<(), IngestError> {
    let Some(output) = ctx.inv.outputs.first() else {
        return Ok(());
    };
    let path = join_cwd(ctx.cwd, &output.path);
    match members_are_deterministic(&path) {
        Ok(true) => Ok(()),
        Ok(false) => {
            tracing::debug!(
                "{}: member headers carry timestamps or owners; not cached",
                path.display()
            );
            Err(IngestError::Uncacheable(NOT_DETERMINISTIC))
        }
        Err(e) => Err(IngestError::Failed(format!("{}: {e}", path.display()))),
    }
}

/// Whether every member header of the archive at `path` has timestamp, uid and gid 0.
fn members_are_deterministic(path: &Path) -> std::io::Result<bool> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut magic = [0u8; 8];
    file.read_exact_at(&mut magic, 0)?;
    let thin = match &magic {
        b"!<arch>\n" => false,
        b"!<thin>\n" => true,
        _ => return Err(std::io::Error::other("not an ar archive")),
    };
    let mut offset = 8u64;
    let mut header = [0u8; HEADER_LEN as usize];
    while offset < len {
        file.read_exact_at(&mut header, offset)?;
        if &header[58..60] != b"`\n" {
            return Err(std::io::Error::other(format!(
                "malformed member header at offset {offset}"
            )));
        }
        let field =
            |range: std::ops::Range<usize>| std::str::from_utf8(&header[range]).map(str::trim_end);
        // The long-name table's header leaves these fields blank.
        let zero =
            |range: std::ops::Range<usize>| field(range).is_ok_and(|f| f == "0" || f.is_empty());
        if !(zero(16..28) && zero(28..34) && zero(34..40)) {
            return Ok(false);
        }
        let name = field(0..16).unwrap_or("");
        let size: u64 = field(48..58)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad member size at {offset}")))?;
        // A thin archive holds only its symbol table and long-name table; members stay
        // outside (named by path, which the key covers).
        let stored = !thin || name == "/" || name == "//" || name == "/SYM64/";
        offset += HEADER_LEN + if stored { size + size % 2 } else { 0 };
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn ar(dir: &Path, args: &[&str]) {
        let status = Command::new("ar")
            .args(args)
            .current_dir(dir)
            .status()
            .expect("ar runs");
        assert!(status.success());
    }

    #[test]
    fn deterministic_and_timestamped_archives_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.o"), b"odd length member").unwrap();
        std::fs::write(
            dir.path().join("a_member_with_a_long_name.o"),
            b"even length!",
        )
        .unwrap();
        ar(
            dir.path(),
            &["rcD", "d.a", "a.o", "a_member_with_a_long_name.o"],
        );
        ar(
            dir.path(),
            &["rcU", "u.a", "a.o", "a_member_with_a_long_name.o"],
        );
        ar(
            dir.path(),
            &["rcDT", "t.a", "a.o", "a_member_with_a_long_name.o"],
        );
        assert!(members_are_deterministic(&dir.path().join("d.a")).unwrap());
        assert!(members_are_deterministic(&dir.path().join("t.a")).unwrap());
        assert!(!members_are_deterministic(&dir.path().join("u.a")).unwrap());
        std::fs::write(dir.path().join("x.a"), b"!<arch>\nshort").unwrap();
        assert!(members_are_deterministic(&dir.path().join("x.a")).is_err());
        std::fs::write(dir.path().join("y.a"), b"not an archive").unwrap();
        assert!(members_are_deterministic(&dir.path().join("y.a")).is_err());
    }
}
