//! Checkout-independent C-family keys: a gcc/clang/emcc invocation gets its base dir's
//! placeholder pairs (so the key, the recorded inputs, the replayed diagnostics and the
//! depfile name paths relative to the checkout), `ZCCACHE_PATH_REMAP`'s prefix map when
//! asked for, and — on a miss — the verdict whether the outputs name the checkout, which
//! ties the entry to it (served only to compiles in the same directory of the same root).

use super::state::DaemonState;
use crate::base_dir::{find_root, prefix_pairs, BaseDirs, BASE_DIR_ENV, PATH_REMAP_ENV};
use memchr::memmem;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use zccache_integrations::{Family, Invocation};

/// The base dir in effect for one compile.
pub struct Relocation {
    /// What an entry whose outputs name the checkout is tied to: the cwd and the root.
    pub tie: String,
    root: PathBuf,
    cwd: PathBuf,
}

/// The build's own setting wins over the daemon's.
fn base_dirs(state: &DaemonState, env: &HashMap<&str, &str>) -> BaseDirs {
    match env.get(BASE_DIR_ENV) {
        Some(text) => BaseDirs::parse(text).unwrap_or_else(|why| {
            tracing::warn!("{BASE_DIR_ENV}: {why}; using the daemon's setting");
            state.settings.base_dir.value.clone()
        }),
        None => state.settings.base_dir.value.clone(),
    }
}

fn path_remap(state: &DaemonState, env: &HashMap<&str, &str>) -> bool {
    match env.get(PATH_REMAP_ENV) {
        Some(text) => crate::config::parse_bool(PATH_REMAP_ENV, text)
            .unwrap_or(state.settings.path_remap.value),
        None => state.settings.path_remap.value,
    }
}

/// Makes `inv` checkout-independent when a base dir applies to it.
pub(super) fn apply(
    state: &DaemonState,
    env: &HashMap<&str, &str>,
    cwd: &Path,
    inv: &mut Invocation,
) -> Option<Relocation> {
    if !matches!(inv.family, Family::Gcc | Family::Clang | Family::Emcc) {
        return None;
    }
    let root = find_root(&base_dirs(state, env), cwd, Some(&inv.source))?;
    let root_text = root.dir.to_string_lossy().into_owned();
    tracing::debug!(
        "{}: paths keyed relative to {root_text} ({})",
        inv.source,
        root.origin
    );
    inv.path_prefix_map = prefix_pairs(&root.dir, cwd);
    if path_remap(state, env) {
        let map = format!("-ffile-prefix-map={root_text}=.");
        inv.key_args.insert(0, map.clone());
        inv.miss_args.insert(0, map.clone());
        if !inv.preprocess_args.is_empty() {
            inv.preprocess_args.insert(0, map);
        }
        inv.prefix_map_sources.push(root_text.clone());
    }
    Some(Relocation {
        tie: format!("{}\n{root_text}", cwd.display()),
        root: root.dir,
        cwd: cwd.to_path_buf(),
    })
}

impl Relocation {
    /// Whether any output names this checkout (or cannot be searched for it: compressed
    /// sections, LTO or bitcode streams), so the entry must stay tied to it.
    pub fn outputs_name_checkout<'a>(&self, outputs: impl Iterator<Item = &'a [u8]>) -> bool {
        let needles = self.needles();
        outputs
            .into_iter()
            .any(|bytes| opaque(bytes) || needles.iter().any(|n| memmem::find(bytes, n).is_some()))
    }

    /// Byte strings whose presence in an output means it names this checkout: the root (and
    /// the cwd when it lies outside), as spelled and as the kernel resolves them, and as a
    /// symbol name spells them (gcc's `_GLOBAL__sub_I_<file>` fallback turns every
    /// non-alphanumeric byte into `_`).
    fn needles(&self) -> Vec<Vec<u8>> {
        let mut spellings = vec![self.root.clone()];
        if !self.cwd.starts_with(&self.root) {
            spellings.push(self.cwd.clone());
        }
        let mut needles: Vec<Vec<u8>> = Vec::new();
        for path in spellings {
            if let Ok(real) = std::fs::canonicalize(&path) {
                needles.push(real.as_os_str().as_encoded_bytes().to_vec());
            }
            needles.push(path.as_os_str().as_encoded_bytes().to_vec());
        }
        let mangled: Vec<Vec<u8>> = needles
            .iter()
            .map(|n| {
                n.iter()
                    .map(|&b| if b.is_ascii_alphanumeric() { b } else { b'_' })
                    .collect()
            })
            .collect();
        needles.extend(mangled);
        needles.sort();
        needles.dedup();
        needles
    }
}

/// An output whose paths may be compressed or bit-packed, where a byte search proves nothing.
fn opaque(bytes: &[u8]) -> bool {
    const BITCODE: &[u8] = b"BC\xC0\xDE";
    const BITCODE_WRAPPER: &[u8] = &[0xDE, 0xC0, 0x17, 0x0B];
    if bytes.starts_with(BITCODE) || bytes.starts_with(BITCODE_WRAPPER) {
        return true;
    }
    if bytes.starts_with(b"\x7fELF") {
        return elf_has_opaque_section(bytes).unwrap_or(true);
    }
    false
}

/// Whether an ELF object has a compressed section (`SHF_COMPRESSED`, `.zdebug*`) or an LTO /
/// embedded-bitcode section. None when the headers cannot be read.
fn elf_has_opaque_section(b: &[u8]) -> Option<bool> {
    const SHF_COMPRESSED: u64 = 0x800;
    let wide = match b.get(4)? {
        1 => false,
        2 => true,
        _ => return None,
    };
    let little = match b.get(5)? {
        1 => true,
        2 => false,
        _ => return None,
    };
    let uint = |at: usize, len: usize| -> Option<u64> {
        let raw = b.get(at..at.checked_add(len)?)?;
        let mut value = 0u64;
        for i in 0..len {
            let byte = if little { raw[len - 1 - i] } else { raw[i] };
            value = (value << 8) | byte as u64;
        }
        Some(value)
    };
    let (shoff, shentsize, shnum, shstrndx) = if wide {
        (
            uint(0x28, 8)?,
            uint(0x3A, 2)?,
            uint(0x3C, 2)?,
            uint(0x3E, 2)?,
        )
    } else {
        (
            uint(0x20, 4)?,
            uint(0x2E, 2)?,
            uint(0x30, 2)?,
            uint(0x32, 2)?,
        )
    };
    let header = |index: u64| -> Option<usize> {
        usize::try_from(shoff.checked_add(index.checked_mul(shentsize)?)?).ok()
    };
    // (name offset, flags, file offset) of section `index`.
    let section = |index: u64| -> Option<(u64, u64, u64)> {
        let at = header(index)?;
        if wide {
            Some((uint(at, 4)?, uint(at + 8, 8)?, uint(at + 0x18, 8)?))
        } else {
            Some((uint(at, 4)?, uint(at + 8, 4)?, uint(at + 0x10, 4)?))
        }
    };
    if shnum == 0 {
        return Some(false);
    }
    let (_, _, names_at) = section(shstrndx)?;
    for index in 0..shnum {
        let (name_off, flags, _) = section(index)?;
        if flags & SHF_COMPRESSED != 0 {
            return Some(true);
        }
        let start = usize::try_from(names_at.checked_add(name_off)?).ok()?;
        let name = b.get(start..)?;
        let name = &name[..name.iter().position(|&c| c == 0)?];
        if [
            &b".gnu.lto_"[..],
            b".zdebug",
            b".llvmbc",
            b".llvm.lto",
            b".gnu.debuglto_",
        ]
        .iter()
        .any(|p| name.starts_with(p))
        {
            return Some(true);
        }
    }
    Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn compile(dir: &Path, extra: &[&str]) -> Vec<u8> {
        let src = dir.join("x.c");
        std::fs::write(&src, "int f(int x) { return x * 3; }\n").unwrap();
        let obj = dir.join("x.o");
        let status = Command::new("gcc")
            .args(extra)
            .arg("-c")
            .arg(&src)
            .arg("-o")
            .arg(&obj)
            .status()
            .expect("gcc");
        assert!(status.success());
        std::fs::read(obj).unwrap()
    }

    #[test]
    fn plain_objects_are_searchable_lto_and_compressed_debug_are_not() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!opaque(&compile(dir.path(), &["-O2"])));
        assert!(opaque(&compile(dir.path(), &["-O2", "-flto"])));
        assert!(opaque(&compile(dir.path(), &["-g", "-gz"])));
        assert!(!opaque(&compile(dir.path(), &["-g"])));
        assert!(opaque(b"BC\xC0\xDE rest"));
        assert!(opaque(b"\x7fELF\x02\x01 truncated"));
        assert!(!opaque(b"plain text output"));
    }
}
