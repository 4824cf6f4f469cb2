//! What went into a compile's manifest key, kept per source in readable form, so a miss whose
//! key is new can name what differs from the last stored compile of the same source (an
//! argument, the compiler, a keyed variable, an `--extern`). Recorded on misses only; kept in
//! memory (bounded) and saved to the cache dir now and then.

use super::compile::{resolve_tool, Ctx};
use super::keys::OUTPUT_ENV;
use crate::paths::resolve;
use crate::store::Digest;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use zccache_integrations::normalize_prefix_map_arg;

/// File (in the cache dir) the remembered key parts are saved to.
pub const FILE: &str = "explain-keys.bin";
/// Sources remembered; the least recently compiled are forgotten first.
const MAX_SOURCES: usize = 20_000;
/// Argument variants remembered per source.
const MAX_VARIANTS: usize = 4;

/// The readable parts of one manifest key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyParts {
    pub manifest_key: Digest,
    /// The compiler as the request named it (absolute).
    pub compiler: String,
    /// Its identity (content, version; rustc: the real toolchain and sysroot).
    pub compiler_id: Digest,
    pub language: String,
    /// Arguments as keyed (output locations removed, path placeholders applied).
    pub args: Vec<String>,
    /// Keyed environment variables (None: unset).
    pub env: Vec<(String, Option<String>)>,
    /// The part of the cwd the outputs embed.
    pub cwd: Option<String>,
    /// Extra inputs (`--extern` rlibs…) with their content hashes.
    pub extra: Vec<(String, Digest)>,
    /// Other tools in the key (linker…) with their identities.
    pub tools: Vec<(String, Digest)>,
    /// The first output path, as the invocation names it.
    pub output: String,
    /// When this compile was stored (unix ms).
    pub stored_ms: u64,
}

impl KeyParts {
    /// The parts of `ctx`'s key (re-hashing extra inputs and tools through the warm caches).
    pub(super) fn of(ctx: &Ctx) -> KeyParts {
        let paths = ctx.paths();
        let inv = &ctx.inv;
        let args = inv
            .key_args
            .iter()
            .map(|a| {
                normalize_prefix_map_arg(a, &ctx.req.cwd).unwrap_or_else(|| paths.to_stored(a))
            })
            .collect();
        let mut env: Vec<(String, Option<String>)> = OUTPUT_ENV
            .iter()
            .map(|v| (v.to_string(), ctx.env.get(v).map(|s| s.to_string())))
            .collect();
        for var in &inv.key_env {
            env.push((
                var.clone(),
                ctx.env.get(var.as_str()).map(|s| s.to_string()),
            ));
        }
        let mut prefixed: Vec<(String, Option<String>)> = ctx
            .env
            .iter()
            .filter(|(k, _)| {
                inv.key_env_prefixes
                    .iter()
                    .any(|p| k.starts_with(p.as_str()))
            })
            .filter(|(k, _)| !inv.key_env_exclude.iter().any(|x| x == *k))
            .map(|(k, v)| (k.to_string(), Some(paths.to_stored(v))))
            .collect();
        prefixed.sort();
        env.extend(prefixed);
        let mut extra: Vec<(String, Digest)> = inv
            .extra_inputs
            .iter()
            .filter_map(|input| {
                let d = ctx.state.hashes.digest(&resolve(ctx.cwd, input)).ok()?;
                Some((paths.to_stored(input), d.hash))
            })
            .collect();
        if inv.reads_prior_output {
            if let Some(output) = inv.outputs.first() {
                // As keyed before the tool ran (the output is rewritten by then).
                extra.push((
                    super::prior_output::name(&output.path),
                    ctx.prior_output_digest,
                ));
            }
        }
        let tools = inv
            .tool_identities
            .iter()
            .filter_map(|tool| {
                let path = resolve_tool(tool, ctx.cwd, ctx.env.get("PATH").copied())?;
                let id = ctx.state.compilers.identity(&path).ok()?;
                Some((tool.clone(), id))
            })
            .collect();
        KeyParts {
            manifest_key: ctx.manifest_key,
            compiler: ctx.req.compiler.clone(),
            compiler_id: ctx.compiler_id,
            language: inv.language.x_name().to_string(),
            args,
            env,
            cwd: inv.cwd_key(&ctx.req.cwd),
            extra,
            tools,
            output: inv
                .outputs
                .first()
                .map(|o| o.path.clone())
                .unwrap_or_default(),
            stored_ms: super::journal::now_ms(),
        }
    }

    /// Each difference from `old` (what changed since that compile), most telling first.
    pub fn differences(&self, old: &KeyParts) -> Vec<String> {
        let mut out = Vec::new();
        if self.compiler_id != old.compiler_id {
            if self.compiler == old.compiler {
                out.push(format!(
                    "compiler {} changed (binary content)",
                    self.compiler
                ));
            } else {
                out.push(format!(
                    "compiler changed: {} (the entry used {}, other binary content)",
                    self.compiler, old.compiler
                ));
            }
        }
        if self.language != old.language {
            out.push(format!(
                "language {} (the entry had {})",
                self.language, old.language
            ));
        }
        out.extend(arg_differences(&old.args, &self.args));
        let old_env: HashMap<&str, &Option<String>> =
            old.env.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let new_env: HashMap<&str, &Option<String>> =
            self.env.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let mut names: Vec<&str> = old_env.keys().chain(new_env.keys()).copied().collect();
        names.sort();
        names.dedup();
        for name in names {
            let (was, now) = (
                old_env.get(name).copied().cloned().flatten(),
                new_env.get(name).copied().cloned().flatten(),
            );
            if was != now {
                out.push(format!("env {name} differs"));
            }
        }
        if self.cwd != old.cwd {
            out.push(format!(
                "working directory differs (the output embeds it; the entry was compiled in {})",
                old.cwd.as_deref().unwrap_or("a directory it did not embed")
            ));
        }
        let old_extra: HashMap<&str, &Digest> =
            old.extra.iter().map(|(p, d)| (p.as_str(), d)).collect();
        for (path, digest) in &self.extra {
            match old_extra.get(path.as_str()) {
                Some(d) if *d == digest => {}
                Some(_) => out.push(match crate_of(path) {
                    Some((name, file)) => format!("dependency {name} changed ({file})"),
                    None => format!("input {path} changed"),
                }),
                None => out.push(match crate_of(path) {
                    Some((name, file)) => format!("new dependency {name} ({file})"),
                    None => format!("new input {path}"),
                }),
            }
        }
        for (path, _) in &old.extra {
            if !self.extra.iter().any(|(p, _)| p == path) {
                out.push(match crate_of(path) {
                    Some((name, file)) => format!("dependency {name} no longer used ({file})"),
                    None => format!("input {path} no longer used"),
                });
            }
        }
        for (tool, id) in &self.tools {
            match old.tools.iter().find(|(t, _)| t == tool) {
                Some((_, old_id)) if old_id == id => {}
                _ => out.push(format!("tool {tool} changed (binary content)")),
            }
        }
        out
    }

    /// How alike two compiles of one source are (for picking the nearest).
    fn closeness(&self, other: &KeyParts) -> usize {
        (self.output == other.output) as usize * 1000
            + self.args.iter().filter(|a| other.args.contains(a)).count()
    }
}

/// The crate an `--extern` input is (`libfoo-1a2b.rlib` → (`foo`, file name)); None for
/// other inputs.
fn crate_of(path: &str) -> Option<(&str, &str)> {
    let file = Path::new(path).file_name()?.to_str()?;
    let is_crate = [".rlib", ".rmeta", ".so", ".dylib"]
        .iter()
        .any(|ext| file.ends_with(ext));
    let stem = file.strip_prefix("lib").filter(|_| is_crate)?;
    Some((stem.split(['-', '.']).next().unwrap_or(stem), file))
}

/// Options whose value is the next argument: shown and compared together (`-C opt-level=2`).
const TAKES_VALUE: &[&str] = &[
    "-C",
    "-L",
    "-l",
    "--cfg",
    "--check-cfg",
    "--cap-lints",
    "-Z",
    "-A",
    "-W",
    "-D",
    "-U",
    "-I",
    "-isystem",
    "-iquote",
    "-idirafter",
    "-include",
    "-imacros",
    "-x",
    "-Xclang",
    "-Xlinker",
    "-target",
    "--target",
    "-arch",
    "-s",
    "--sysroot",
];

/// Arguments with separate option values joined to their option.
fn joined(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match it.clone().next() {
            Some(value) if TAKES_VALUE.contains(&a.as_str()) => {
                out.push(format!("{a} {value}"));
                it.next();
            }
            _ => out.push(a.clone()),
        }
    }
    out
}

/// Added and removed arguments; a `-DNAME=…`/`-O…`-style replacement is one difference.
pub fn arg_differences(old: &[String], new: &[String]) -> Vec<String> {
    let (old, new) = (&joined(old)[..], &joined(new)[..]);
    let mut removed: Vec<&String> = Vec::new();
    let mut remaining: Vec<&String> = new.iter().collect();
    for a in old {
        match remaining.iter().position(|b| *b == a) {
            Some(i) => {
                remaining.remove(i);
            }
            None => removed.push(a),
        }
    }
    let added = remaining;
    let mut out = Vec::new();
    let mut used = vec![false; removed.len()];
    for a in &added {
        let twin = removed
            .iter()
            .enumerate()
            .position(|(i, r)| !used[i] && option_name(r) == option_name(a));
        match twin {
            Some(i) => {
                used[i] = true;
                out.push(format!("new argument {a} (the entry had {})", removed[i]));
            }
            None => out.push(format!("new argument {a}")),
        }
    }
    for (i, r) in removed.iter().enumerate() {
        if !used[i] {
            out.push(format!("argument {r} removed"));
        }
    }
    if out.is_empty() && old != new {
        out.push("arguments reordered".to_string());
    }
    out
}

/// What an argument sets, without its value: `-DFOO` for `-DFOO=1`, `-O` for `-O2`,
/// `-std=` for `-std=c11`, `opt-level=` for `opt-level=3`.
fn option_name(arg: &str) -> String {
    if let Some(define) = arg.strip_prefix("-D") {
        return format!("-D{}", define.split('=').next().unwrap_or(define));
    }
    if let Some((name, _)) = arg.split_once('=') {
        return format!("{name}=");
    }
    if arg.starts_with("-O") {
        return "-O".to_string();
    }
    arg.to_string()
}

/// The remembered key parts of recent misses, per (cwd, source).
pub struct KeyPartsStore {
    file: PathBuf,
    inner: Mutex<Option<Remembered>>,
    dirty: AtomicBool,
}

#[derive(Default, Serialize, Deserialize)]
struct Remembered {
    by_source: HashMap<String, Vec<KeyParts>>,
    /// Least recently compiled first.
    order: VecDeque<String>,
}

/// The lookup id of a source: its absolute path and the cwd it was compiled from.
pub fn source_id(cwd: &str, source: &str) -> String {
    format!("{cwd}\0{}", resolve(Path::new(cwd), source).display())
}

impl KeyPartsStore {
    pub fn new(cache_dir: &Path) -> KeyPartsStore {
        KeyPartsStore {
            file: cache_dir.join(FILE),
            inner: Mutex::new(None),
            dirty: AtomicBool::new(false),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Remembered) -> T) -> T {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let remembered = inner.get_or_insert_with(|| {
            std::fs::read(&self.file)
                .ok()
                .and_then(|bytes| crate::store::records::decode(&bytes))
                .unwrap_or_default()
        });
        f(remembered)
    }

    /// Remembers the parts of a stored compile.
    pub fn remember(&self, id: String, parts: KeyParts) {
        self.with(|r| {
            let variants = r.by_source.entry(id.clone()).or_default();
            variants.retain(|v| v.manifest_key != parts.manifest_key);
            variants.insert(0, parts);
            variants.truncate(MAX_VARIANTS);
            if let Some(at) = r.order.iter().position(|o| *o == id) {
                r.order.remove(at);
            }
            r.order.push_back(id);
            while r.order.len() > MAX_SOURCES {
                if let Some(old) = r.order.pop_front() {
                    r.by_source.remove(&old);
                }
            }
        });
        self.dirty.store(true, Ordering::Relaxed);
    }

    /// The remembered compile of this source nearest to `parts` (same output first, then the
    /// most arguments in common).
    pub fn nearest(&self, id: &str, parts: &KeyParts) -> Option<KeyParts> {
        self.with(|r| {
            r.by_source
                .get(id)?
                .iter()
                .max_by_key(|v| v.closeness(parts))
                .cloned()
        })
    }

    /// Writes the remembered parts if they changed since the last save.
    pub fn save_if_dirty(&self) {
        if !self.dirty.swap(false, Ordering::Relaxed) {
            return;
        }
        let bytes = self.with(|r| crate::store::records::encode(r));
        let tmp = self.file.with_extension("tmp");
        let saved = std::fs::write(&tmp, bytes).and_then(|_| std::fs::rename(&tmp, &self.file));
        if let Err(e) = saved {
            tracing::debug!("cannot save {}: {e}", self.file.display());
        }
    }

    /// Forgets everything (`zccache clear`).
    pub fn clear(&self) {
        self.with(|r| *r = Remembered::default());
        self.dirty.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn argument_differences_read_naturally() {
        assert_eq!(
            arg_differences(&v(&["-c", "-DFOO=1"]), &v(&["-c", "-DFOO=2"])),
            vec!["new argument -DFOO=2 (the entry had -DFOO=1)"]
        );
        assert_eq!(
            arg_differences(&v(&["-c"]), &v(&["-c", "-DNDEBUG"])),
            vec!["new argument -DNDEBUG"]
        );
        assert_eq!(
            arg_differences(&v(&["-c", "-O2"]), &v(&["-c"])),
            vec!["argument -O2 removed"]
        );
        assert_eq!(
            arg_differences(&v(&["-a", "-b"]), &v(&["-b", "-a"])),
            vec!["arguments reordered"]
        );
        assert_eq!(
            arg_differences(
                &v(&["-C", "opt-level=0", "-C", "panic=abort"]),
                &v(&["-C", "opt-level=2", "-C", "panic=abort"])
            ),
            vec!["new argument -C opt-level=2 (the entry had -C opt-level=0)"]
        );
        assert_eq!(
            crate_of("/t/deps/libfx_core-1234.rlib"),
            Some(("fx_core", "libfx_core-1234.rlib"))
        );
        assert_eq!(crate_of("/t/include/x.h"), None);
    }
}
