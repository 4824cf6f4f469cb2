//! Previous outputs, removed before the compiler runs without making the build wait for it.
//!
//! A miss never lets the compiler write through an old output (it could be a user's hard link
//! to another file), so the old file must be gone before the compiler starts. Unlinking a
//! large file is not free (freeing its page cache: ≈ 0.3–1 ms for a 2 MB program), and the
//! linker would otherwise do it itself on the build's critical path. Here each large old
//! output is renamed aside in its own directory (metadata only) and unlinked once the compiler
//! has started, while it runs (the wrapper is only waiting for it then: no thread needed).

use std::path::{Path, PathBuf};

/// Smaller old outputs are removed in place: renaming first would cost more than it saves
/// (an object of a compile miss, typically).
const ASIDE_FROM_BYTES: u64 = 256 * 1024;

/// Old outputs moved aside; removed by [`Discard::finish`] (or when dropped unfinished, e.g.
/// when the compiler could not be started).
pub struct Discard(Vec<PathBuf>);

impl Drop for Discard {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Discard {
    /// Moves each existing file of `outputs` out of the compiler's way: large ones renamed
    /// aside, the rest removed. An output that cannot be renamed (another filesystem's rules,
    /// permissions) is removed in place, as before.
    pub fn start(outputs: &[String]) -> Discard {
        let mut aside = Vec::new();
        for (i, out) in outputs.iter().enumerate() {
            let out = Path::new(out);
            let Ok(meta) = out.symlink_metadata() else {
                continue; // nothing there
            };
            let target = aside_name(out, i);
            if meta.is_file()
                && meta.len() >= ASIDE_FROM_BYTES
                && std::fs::rename(out, &target).is_ok()
            {
                aside.push(target);
            } else {
                let _ = std::fs::remove_file(out);
            }
        }
        Discard(aside)
    }

    /// Removes what was set aside (call it once the compiler is running).
    pub fn finish(self) {
        drop(self);
    }
}

/// A hidden name next to `out` that no build rule or glob (`*.o`) picks up.
fn aside_name(out: &Path, index: usize) -> PathBuf {
    let name = format!(".zccache-old-{}-{index}", std::process::id());
    match out.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(name),
        _ => PathBuf::from(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_outputs_are_gone_and_nothing_is_left_aside() {
        let dir = tempfile::tempdir().unwrap();
        let prog = dir.path().join("prog");
        let obj = dir.path().join("a.o");
        std::fs::write(&prog, vec![7u8; 1 << 20]).unwrap();
        let absent = dir.path().join("absent.map");
        let outputs: Vec<String> = [&prog, &obj, &absent]
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        std::fs::write(&obj, "o").unwrap();
        let discard = Discard::start(&outputs);
        assert!(
            !prog.exists() && !obj.exists(),
            "gone before the compiler runs"
        );
        discard.finish();
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }

    #[test]
    fn a_hard_link_to_an_old_output_keeps_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.o");
        let user = dir.path().join("user-copy.o");
        std::fs::write(&out, "old").unwrap();
        std::fs::hard_link(&out, &user).unwrap();
        Discard::start(&[out.to_string_lossy().into_owned()]).finish();
        std::fs::write(&out, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&user).unwrap(), "old");
    }
}
