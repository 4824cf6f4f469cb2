//! What a miss read, learned while the build's files still exist (a Bazel sandbox vanishes as
//! soon as the wrapper exits): the depfile's files (for the build's own depfile and the
//! preprocessor tier) and everything the access recorder saw the compiler and its
//! subprocesses read, list, probe and find absent, exec by name, and read from the
//! environment. Anything that cannot be learned reliably makes the compile uncacheable.

use super::accesses::Accesses;
use super::compile::{include_search, join_cwd, Ctx};
use super::keys::time_macros_block;
use super::shadowing::{is_system_header, recorded_absent_groups};
use crate::ipc::StoreRequest;
use crate::paths::normalize;
use crate::store::records::AbsentGroup;
use crate::store::Digest;
use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use zccache_integrations::{depfile, DepfilePlan, Family, Uncacheable};

/// Why a miss was not stored.
pub enum IngestError {
    Uncacheable(&'static str),
    Failed(String),
}

/// Everything a miss's entry and result record need from its inputs.
pub struct Learned {
    /// Every input with its content hash (stored paths), the depfile's first (source first).
    pub files: Vec<(String, Digest)>,
    /// Paths probed and found absent, grouped by directory.
    pub absent: Vec<AbsentGroup>,
    /// Directories listed, with the digest of their names.
    pub listings: Vec<(String, Digest)>,
    /// Inputs whose mtime the output records (see `Invocation::embeds_input_mtimes`).
    pub mtimes: Vec<(String, i64)>,
    /// Depfile tokens as the compiler wrote them (stored form), and which are system headers.
    pub tokens: Vec<String>,
    pub system_deps: Vec<bool>,
    /// Variables read (rustc `# env-dep:` lines and the recorder's), with their values
    /// (stored form).
    pub env: Vec<(String, Option<String>)>,
    /// rustc's dep-info with this build's paths replaced by placeholders.
    pub dep_info_text: Option<String>,
    /// See [`crate::store::records::ResultRecord::preprocessor_ok`].
    pub preprocessor_ok: bool,
}

/// Environment variables whose value never changes what a compile produces (temp dirs,
/// jobserver handles, the shell's bookkeeping, how to reach zccache), or that are covered
/// otherwise (`PATH`: each program looked up on it is keyed by what was found and what was
/// absent before it; `PWD`: the cwd is keyed where it leaks into outputs).
const UNKEYED_ENV: &[&str] = &[
    "PATH",
    "PWD",
    "OLDPWD",
    "TMPDIR",
    "TMP",
    "TEMP",
    "TEMPDIR",
    "MAKEFLAGS",
    "MFLAGS",
    "MAKELEVEL",
    "CARGO_MAKEFLAGS",
    "TERM",
    "SHLVL",
    "_",
    "LD_PRELOAD",
];

fn env_is_keyed(name: &str) -> bool {
    !UNKEYED_ENV.contains(&name) && !name.starts_with("ZCCACHE_")
}

/// Hashes every input of a miss.
pub(super) fn learn_inputs(ctx: &Ctx, store: &StoreRequest) -> Result<Learned, IngestError> {
    let state = ctx.state;
    let paths = ctx.paths();
    let is_rust = matches!(ctx.inv.depfile, DepfilePlan::RustDepInfo { .. });
    // Inputs named by the depfile: (path as the compiler named it, escaped depfile token).
    let mut dep_info_text = None;
    let mut env = Vec::new();
    let (inputs, tokens): (Vec<String>, Vec<String>) =
        match (&ctx.inv.depfile, store.depfile.as_deref()) {
            (DepfilePlan::None, _) => (
                vec![ctx.inv.source.clone()],
                vec![ctx.inv.source.replace(' ', "\\ ")],
            ),
            (DepfilePlan::RustDepInfo { .. }, Some(text)) => {
                let text = String::from_utf8_lossy(text).into_owned();
                let info = zccache_integrations::rustc::parse_dep_info(&text);
                env = info
                    .env
                    .into_iter()
                    .map(|(k, v)| (k, v.map(|v| paths.to_stored(&v))))
                    .collect();
                dep_info_text = Some(paths.to_stored(&text));
                (info.files.clone(), info.files)
            }
            (_, Some(text)) => {
                let parsed = depfile::parse(&String::from_utf8_lossy(text));
                (
                    parsed.deps.iter().map(|t| depfile::unescape(t)).collect(),
                    parsed.deps.iter().map(|t| paths.to_stored(t)).collect(),
                )
            }
            (_, None) => return Err(IngestError::Failed("compiler wrote no depfile".into())),
        };
    if inputs.is_empty() {
        return Err(IngestError::Failed("empty depfile".into()));
    }
    let system_dirs = if is_rust {
        Vec::new()
    } else {
        include_search(ctx).1
    };
    let mut files = Vec::with_capacity(inputs.len());
    let mut mtimes = Vec::new();
    let mut system_deps = Vec::with_capacity(inputs.len());
    let mut macros = 0u8;
    for path in &inputs {
        let digest = state
            .hashes
            .digest(&join_cwd(ctx.cwd, path))
            .map_err(|e| IngestError::Failed(format!("{path}: {e}")))?;
        if digest.changed_ns > ctx.start_ns {
            return Err(IngestError::Uncacheable("input_changed_during_compile"));
        }
        macros |= digest.time_macros;
        if ctx.inv.embeds_input_mtimes {
            use std::os::unix::fs::MetadataExt;
            let meta = std::fs::metadata(join_cwd(ctx.cwd, path))
                .map_err(|e| IngestError::Failed(format!("{path}: {e}")))?;
            mtimes.push((paths.to_stored(path), meta.mtime()));
        }
        system_deps.push(!is_rust && is_system_header(ctx.cwd, path, &system_dirs));
        files.push((paths.to_stored(path), digest.hash));
    }
    if !is_rust && time_macros_block(macros, &ctx.env) {
        return Err(IngestError::Uncacheable(Uncacheable::TimeMacros.name()));
    }

    let Some(log) = store.accesses.as_deref() else {
        return Err(IngestError::Uncacheable("recorder_unavailable"));
    };
    let accesses = Accesses::parse(log);
    if let Err(why) = accesses.check_complete() {
        tracing::debug!("{}: not cached: {why}", ctx.inv.source);
        return Err(IngestError::Uncacheable("unrecorded_access"));
    }
    if ctx.inv.link {
        super::link::check_writes(ctx, &accesses)?;
    }
    let recorded = Recorded::learn(ctx, &accesses, &inputs)?;
    files.extend(recorded.files);
    for (name, value) in recorded.env {
        if !env.iter().any(|(k, _)| *k == name) {
            env.push((name, value));
        }
    }
    Ok(Learned {
        files,
        absent: recorded.absent,
        listings: recorded.listings,
        mtimes,
        tokens,
        system_deps,
        env,
        dep_info_text,
        preprocessor_ok: !is_rust && recorded.only_toolchain_extras,
    })
}

/// The recorder's contribution to an entry (beyond the depfile's files).
struct Recorded {
    files: Vec<(String, Digest)>,
    absent: Vec<AbsentGroup>,
    listings: Vec<(String, Digest)>,
    env: Vec<(String, Option<String>)>,
    /// Every file read beyond the depfile's is a toolchain executable.
    only_toolchain_extras: bool,
}

impl Recorded {
    fn learn(ctx: &Ctx, acc: &Accesses, depfile_inputs: &[String]) -> Result<Self, IngestError> {
        let cwd = ctx.cwd;
        let paths = ctx.paths();
        let cache_root = &ctx.state.layout.root;
        let normal = |p: &str| normalize(&join_cwd(cwd, p));
        let written: HashSet<PathBuf> = acc.written.iter().map(|p| normal(p)).collect();
        let ours = |abs: &Path| written.contains(abs) || abs.starts_with(cache_root);
        let mut known: HashSet<String> = depfile_inputs.iter().cloned().collect();
        let toolchain_dirs = toolchain_dirs(&ctx.req.compiler);
        let mut out = Recorded {
            files: Vec::new(),
            absent: Vec::new(),
            listings: Vec::new(),
            env: Vec::new(),
            only_toolchain_extras: acc.listed.is_empty(),
        };
        let changed = || IngestError::Uncacheable("input_changed_during_compile");

        // Programs exec'ed by bare name: libc searched PATH; key what it found and what was
        // missing before it.
        let mut reads: Vec<String> = acc.read.clone();
        reads.extend(acc.executables.iter().cloned());
        let mut absent: Vec<String> = acc.absent.clone();
        let path_var = ctx.env.get("PATH").copied().unwrap_or("");
        for prog in &acc.path_lookups {
            for dir in path_var.split(':') {
                let dir = if dir.is_empty() { "." } else { dir };
                let candidate = format!("{}/{prog}", dir.trim_end_matches('/'));
                match std::fs::metadata(join_cwd(cwd, &candidate)) {
                    Ok(meta) if meta.is_file() => {
                        reads.push(candidate);
                        if meta.permissions().mode() & 0o111 != 0 {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => absent.push(candidate),
                }
            }
        }

        let cwd_prefix = format!("{}/", cwd.display());
        for path in &reads {
            if !known.insert(path.clone()) {
                continue;
            }
            let abs = normal(path);
            if ours(&abs) {
                continue;
            }
            let fs_path = join_cwd(cwd, path);
            let Ok(meta) = std::fs::metadata(&fs_path) else {
                return Err(changed());
            };
            if meta.is_dir() {
                continue;
            }
            if !meta.is_file() {
                if matches!(abs.to_str(), Some("/dev/null" | "/dev/zero")) {
                    // Always the same (nothing, or zeros): nothing to key, never to be read.
                    continue;
                }
                // A device, FIFO or socket (/dev/urandom…): no content to key.
                return Err(IngestError::Uncacheable("unhashable_input"));
            }
            let digest = ctx
                .state
                .hashes
                .digest(&fs_path)
                .map_err(|e| IngestError::Failed(format!("{path}: {e}")))?;
            if digest.changed_ns > ctx.start_ns {
                return Err(changed());
            }
            let executable = meta.permissions().mode() & 0o111 != 0;
            if !(executable && toolchain_dirs.iter().any(|d| abs.starts_with(d))) {
                out.only_toolchain_extras = false;
            }
            let stored = paths.to_stored(path);
            // An absolute path inside the cwd may have been derived from the cwd: in another
            // directory the compile would read the file there, so key both.
            if let Some(rel) = path.strip_prefix(&cwd_prefix) {
                if stored == *path && !known.contains(rel) {
                    known.insert(rel.to_string());
                    out.files.push((rel.to_string(), digest.hash));
                }
            }
            out.files.push((stored, digest.hash));
        }

        // Directory listings (rustc lists its -L dirs to find crates: every crate it loads
        // is keyed by content, so those listings are not).
        if ctx.inv.family != Family::Rustc {
            for dir in &acc.listed {
                let abs = normal(dir);
                if ours(&abs) || written.iter().any(|w| w.starts_with(&abs)) {
                    continue;
                }
                let digest = ctx
                    .state
                    .hashes
                    .listing(&join_cwd(cwd, dir))
                    .map_err(|_| changed())?;
                out.listings.push((paths.to_stored(dir), digest));
            }
        }

        let mut probes = Vec::with_capacity(absent.len());
        let mut probed = HashSet::new();
        for path in &absent {
            if known.contains(path) || !probed.insert(path.as_str()) {
                continue;
            }
            let abs = normal(path);
            if ours(&abs) {
                continue;
            }
            probes.push((paths.to_stored(path), join_cwd(cwd, path)));
        }
        out.absent = recorded_absent_groups(&probes).map_err(|appeared| {
            tracing::debug!("{}: {appeared} appeared during the compile", ctx.inv.source);
            changed()
        })?;

        for name in &acc.env {
            if env_is_keyed(name) {
                let value = ctx.env.get(name.as_str()).map(|v| paths.to_stored(v));
                out.env.push((name.clone(), value));
            }
        }
        Ok(out)
    }
}

/// Directories whose executables count as the toolchain (for the preprocessor tier): the
/// system's, and the real compiler's own directory.
fn toolchain_dirs(compiler: &str) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = ["/usr/bin", "/usr/lib", "/usr/libexec", "/bin", "/lib"]
        .iter()
        .map(PathBuf::from)
        .collect();
    if let Some(parent) = Path::new(compiler).parent() {
        dirs.push(parent.to_path_buf());
    }
    dirs
}
