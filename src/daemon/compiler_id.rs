//! Compiler identity (path + size + mtime → blake3 of the binary and its `--version` output)
//! and the compiler's default include directories, both computed once and cached.

use crate::store::Digest;
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use zccache_integrations::Language;

/// Env vars that add include dirs; removed when asking the compiler for its defaults.
const INCLUDE_ENV: &[&str] = &[
    "CPATH",
    "C_INCLUDE_PATH",
    "CPLUS_INCLUDE_PATH",
    "OBJC_INCLUDE_PATH",
];

#[derive(Clone, Copy, PartialEq, Eq)]
struct BinaryStat {
    size: u64,
    mtime_ns: i128,
    ino: u64,
}

/// Errors identifying a compiler.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("cannot read compiler {0}: {1}")]
    Read(String, std::io::Error),
    #[error("cannot run {0} --version: {1}")]
    Run(String, std::io::Error),
}

/// (compiler identity, language, args that change the defaults)
type DefaultDirsKey = (Digest, Language, Vec<String>);

/// Caches for compiler facts.
#[derive(Default)]
pub struct CompilerCache {
    identities: Mutex<HashMap<String, (BinaryStat, Digest)>>,
    default_dirs: Mutex<HashMap<DefaultDirsKey, Vec<String>>>,
}

fn stat_of(path: &Path) -> std::io::Result<BinaryStat> {
    let m = std::fs::metadata(path)?;
    Ok(BinaryStat {
        size: m.len(),
        mtime_ns: m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
        ino: m.ino(),
    })
}

impl CompilerCache {
    pub fn new() -> CompilerCache {
        CompilerCache::default()
    }

    /// Identity digest of the compiler at `path` (absolute).
    pub fn identity(&self, path: &str) -> Result<Digest, IdentityError> {
        let stat = stat_of(Path::new(path)).map_err(|e| IdentityError::Read(path.into(), e))?;
        if let Ok(ids) = self.identities.lock() {
            if let Some((s, id)) = ids.get(path) {
                if *s == stat {
                    return Ok(*id);
                }
            }
        }
        let binary = std::fs::read(path).map_err(|e| IdentityError::Read(path.into(), e))?;
        let version = Command::new(path)
            .arg("--version")
            .stdin(Stdio::null())
            .env("LC_ALL", "C")
            .output()
            .map_err(|e| IdentityError::Run(path.into(), e))?;
        let mut h = blake3::Hasher::new();
        h.update(b"zccache-compiler-identity-v1\0");
        h.update(blake3::hash(&binary).as_bytes());
        h.update(&version.stdout);
        h.update(&version.stderr);
        let id = *h.finalize().as_bytes();
        if let Ok(mut ids) = self.identities.lock() {
            ids.insert(path.to_string(), (stat, id));
        }
        Ok(id)
    }

    /// The compiler's built-in include search directories for `language` (quote-less `<…>`
    /// list), given the args that can change them. Empty when the compiler won't say.
    pub fn default_include_dirs(
        &self,
        compiler: &str,
        id: Digest,
        language: Language,
        args: &[String],
    ) -> Vec<String> {
        let key = (id, language, args.to_vec());
        if let Ok(cache) = self.default_dirs.lock() {
            if let Some(dirs) = cache.get(&key) {
                return dirs.clone();
            }
        }
        let lang = match language {
            Language::Preprocessed => return Vec::new(),
            other => other.x_name(),
        };
        let mut cmd = Command::new(compiler);
        cmd.args(args)
            .args(["-x", lang, "-E", "-v", "/dev/null", "-o", "/dev/null"])
            .stdin(Stdio::null())
            .env("LC_ALL", "C");
        for var in INCLUDE_ENV {
            cmd.env_remove(var);
        }
        let dirs = match cmd.output() {
            Ok(out) => parse_search_list(&String::from_utf8_lossy(&out.stderr)),
            Err(e) => {
                tracing::warn!("cannot ask {compiler} for its include dirs: {e}");
                Vec::new()
            }
        };
        if let Ok(mut cache) = self.default_dirs.lock() {
            cache.insert(key, dirs.clone());
        }
        dirs
    }
}

/// Parses the `#include <...> search starts here:` block of `cc -v` output.
pub fn parse_search_list(stderr: &str) -> Vec<String> {
    let mut dirs = Vec::new();
    let mut inside = false;
    for line in stderr.lines() {
        if line.starts_with("#include <...> search starts here:") {
            inside = true;
            continue;
        }
        if line.starts_with("End of search list.") {
            break;
        }
        if inside {
            let dir = line.trim().trim_end_matches(" (framework directory)");
            if !dir.is_empty() {
                dirs.push(dir.to_string());
            }
        }
    }
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_gcc_search_list() {
        let text = "ignoring nonexistent directory \"/x\"\n#include \"...\" search starts here:\n#include <...> search starts here:\n /usr/lib/gcc/x86_64-linux-gnu/12/include\n /usr/local/include\n /usr/include\nEnd of search list.\n";
        assert_eq!(
            parse_search_list(text),
            vec![
                "/usr/lib/gcc/x86_64-linux-gnu/12/include",
                "/usr/local/include",
                "/usr/include"
            ]
        );
    }
}
