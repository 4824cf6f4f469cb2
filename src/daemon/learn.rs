//! What a miss read: the depfile's files (for the build's own depfile and the preprocessor
//! tier) and everything the access recorder saw the compiler and its subprocesses read, list,
//! probe and find absent, exec by name, and read from the environment. Inputs inside the
//! build's cwd are learned before the wrapper is answered, while they surely exist (a Bazel
//! sandbox vanishes as soon as the wrapper exits); the rest (toolchain, system headers and
//! libraries) after, so a miss does not wait for hundreds of stats (see [`Phase`]); a link or
//! an archive learns all of them after answering. Anything that cannot be learned reliably
//! makes the compile uncacheable.

use super::accesses::Accesses;
use super::compile::{join_cwd, system_include_roots, Ctx};
use super::keys::time_macros_block;
use super::shadowing::{is_under_system_root, recorded_absent_groups};
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

/// When an input is learned. Paths inside the build's cwd (or relative to it) are learned
/// before the wrapper is answered: the build may change or delete them as soon as the wrapper
/// exits (a Bazel sandbox vanishes). Absolute paths elsewhere (the toolchain, system headers
/// and libraries, the sources of an out-of-tree build) are learned after: that is safe, since
/// an input changed after the compile started carries a newer ctime and one deleted cannot be
/// hashed, and either way the entry is not stored.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    BeforeAnswer,
    AfterAnswer,
}

fn phase_of(cwd: &Path, path: &str) -> Phase {
    if !path.starts_with('/') || crate::paths::resolve(cwd, path).starts_with(cwd) {
        Phase::BeforeAnswer
    } else {
        Phase::AfterAnswer
    }
}

/// A depfile input: hashed before answering, or named to be hashed after.
struct DepInput {
    /// As the compiler named it.
    path: String,
    stored: String,
    digest: Option<Digest>,
}

/// What a miss learned before the wrapper was answered; [`Pending::finish`] learns the rest
/// (after answering) and gives the entry's [`Learned`].
pub struct Pending {
    inputs: Vec<DepInput>,
    accesses: Accesses,
    before: Recorded,
    mtimes: Vec<(String, i64)>,
    macros: u8,
    /// Depfile tokens as the compiler wrote them (stored form), and which are system headers:
    /// all the build's own depfile needs.
    pub tokens: Vec<String>,
    pub system_deps: Vec<bool>,
    env: Vec<(String, Option<String>)>,
    dep_info_text: Option<String>,
    is_rust: bool,
}

/// Digest of a depfile input, checked to be unchanged since the compile started; its
/// mtime too when the output records it.
fn hash_dep_input(
    ctx: &Ctx,
    path: &str,
    macros: &mut u8,
    mtimes: &mut Vec<(String, i64)>,
) -> Result<Digest, IngestError> {
    let fs_path = join_cwd(ctx.cwd, path);
    let digest = ctx.state.hashes.digest(&fs_path).map_err(|e| {
        if fs_path.exists() {
            IngestError::Failed(format!("{path}: {e}"))
        } else {
            // Deleted since the compile read it: not an error of ours.
            IngestError::Uncacheable("input_changed_during_compile")
        }
    })?;
    if digest.changed_ns > ctx.start_ns {
        return Err(IngestError::Uncacheable("input_changed_during_compile"));
    }
    *macros |= digest.time_macros;
    if ctx.inv.embeds_input_mtimes {
        use std::os::unix::fs::MetadataExt;
        let meta =
            std::fs::metadata(&fs_path).map_err(|e| IngestError::Failed(format!("{path}: {e}")))?;
        mtimes.push((ctx.paths().to_stored(path), meta.mtime()));
    }
    Ok(digest.hash)
}

/// The access log, checked to be complete; for a link or an archive, also what must hold
/// before the wrapper exits: every file it left behind is a declared output (a file the build
/// removes right after would look like a temporary one), and an archive is deterministic.
pub(super) fn checked_accesses(ctx: &Ctx, store: &StoreRequest) -> Result<Accesses, IngestError> {
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
    if ctx.inv.family == Family::Ar {
        super::archive::check_deterministic(ctx)?;
    }
    Ok(accesses)
}

/// Learns what a compile must learn while the build's files surely exist (see [`Phase`]):
/// the depfile's inputs and the recorder's, those of [`Phase::BeforeAnswer`] hashed now.
/// A link or an archive calls this after answering (it writes no depfile for the build, and
/// is not run inside vanishing sandboxes: an input changed or removed since it ran is caught
/// by its ctime or its absence, and the entry is then not stored).
pub(super) fn learn_inputs(
    ctx: &Ctx,
    store: &StoreRequest,
    accesses: Accesses,
) -> Result<Pending, IngestError> {
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
    let system_roots = if is_rust {
        Vec::new()
    } else {
        system_include_roots(ctx)
    };
    let mut dep_inputs = Vec::with_capacity(inputs.len());
    let mut mtimes = Vec::new();
    let mut system_deps = Vec::with_capacity(inputs.len());
    let mut macros = 0u8;
    for path in inputs {
        let digest = match phase_of(ctx.cwd, &path) {
            Phase::BeforeAnswer => Some(hash_dep_input(ctx, &path, &mut macros, &mut mtimes)?),
            Phase::AfterAnswer => None,
        };
        system_deps.push(!is_rust && is_under_system_root(ctx.cwd, &path, &system_roots));
        dep_inputs.push(DepInput {
            stored: paths.to_stored(&path),
            path,
            digest,
        });
    }

    let before = Recorded::learn(ctx, &accesses, &dep_inputs, Phase::BeforeAnswer)?;
    Ok(Pending {
        inputs: dep_inputs,
        accesses,
        before,
        mtimes,
        macros,
        tokens,
        system_deps,
        env,
        dep_info_text,
        is_rust,
    })
}

impl Pending {
    /// Learns the inputs outside the build's cwd (after the wrapper was answered).
    pub(super) fn finish(self, ctx: &Ctx) -> Result<Learned, IngestError> {
        let Pending {
            inputs,
            accesses,
            before,
            mut mtimes,
            mut macros,
            tokens,
            system_deps,
            mut env,
            dep_info_text,
            is_rust,
        } = self;
        let mut files = Vec::with_capacity(inputs.len());
        for input in &inputs {
            let hash = match input.digest {
                Some(hash) => hash,
                None => hash_dep_input(ctx, &input.path, &mut macros, &mut mtimes)?,
            };
            files.push((input.stored.clone(), hash));
        }
        if !is_rust && time_macros_block(macros, &ctx.env) {
            return Err(IngestError::Uncacheable(Uncacheable::TimeMacros.name()));
        }
        let after = Recorded::learn(ctx, &accesses, &inputs, Phase::AfterAnswer)?;
        let mut absent = before.absent;
        absent.extend(after.absent);
        let mut listings = before.listings;
        listings.extend(after.listings);
        files.extend(before.files);
        files.extend(after.files);
        for (name, value) in before.env {
            if !env.iter().any(|(k, _)| *k == name) {
                env.push((name, value));
            }
        }
        Ok(Learned {
            files,
            absent,
            listings,
            mtimes,
            tokens,
            system_deps,
            env,
            dep_info_text,
            preprocessor_ok: !is_rust
                && before.only_toolchain_extras
                && after.only_toolchain_extras,
        })
    }
}

/// The recorder's contribution to an entry (beyond the depfile's files), for one [`Phase`].
struct Recorded {
    files: Vec<(String, Digest)>,
    absent: Vec<AbsentGroup>,
    listings: Vec<(String, Digest)>,
    /// Variables read (learned before answering: nothing to read from disk).
    env: Vec<(String, Option<String>)>,
    /// Every file read beyond the depfile's is a toolchain executable.
    only_toolchain_extras: bool,
}

impl Recorded {
    fn learn(
        ctx: &Ctx,
        acc: &Accesses,
        depfile_inputs: &[DepInput],
        phase: Phase,
    ) -> Result<Self, IngestError> {
        let cwd = ctx.cwd;
        let paths = ctx.paths();
        let cache_root = &ctx.state.layout.root;
        let normal = |p: &str| normalize(&join_cwd(cwd, p));
        let in_phase = |p: &str| phase_of(cwd, p) == phase;
        let written: HashSet<PathBuf> = acc.written.iter().map(|p| normal(p)).collect();
        let ours = |abs: &Path| written.contains(abs) || abs.starts_with(cache_root);
        let mut known: HashSet<String> = depfile_inputs.iter().map(|i| i.path.clone()).collect();
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
        // missing before it (in the phase of the PATH's own entries: all after answering
        // unless one is relative or inside the cwd).
        let mut reads: Vec<&str> = acc.read.iter().map(String::as_str).collect();
        reads.extend(acc.executables.iter().map(String::as_str));
        let mut absent: Vec<&str> = acc
            .absent
            .iter()
            .map(String::as_str)
            .filter(|p| in_phase(p))
            .collect();
        let mut absent_on_path = Vec::new();
        let path_var = ctx.env.get("PATH").copied().unwrap_or("");
        let path_phase = if path_var
            .split(':')
            .any(|d| d.is_empty() || phase_of(cwd, d) == Phase::BeforeAnswer)
        {
            Phase::BeforeAnswer
        } else {
            Phase::AfterAnswer
        };
        let mut found_on_path = Vec::new();
        if path_phase == phase {
            for prog in &acc.path_lookups {
                for dir in path_var.split(':') {
                    let dir = if dir.is_empty() { "." } else { dir };
                    let candidate = format!("{}/{prog}", dir.trim_end_matches('/'));
                    match std::fs::metadata(join_cwd(cwd, &candidate)) {
                        Ok(meta) if meta.is_file() => {
                            found_on_path.push(candidate);
                            if meta.permissions().mode() & 0o111 != 0 {
                                break;
                            }
                        }
                        Ok(_) => {}
                        Err(_) => absent_on_path.push(candidate),
                    }
                }
            }
        }

        let cwd_prefix = format!("{}/", cwd.display());
        let on_path = found_on_path.iter().map(String::as_str);
        for path in reads.into_iter().filter(|p| in_phase(p)).chain(on_path) {
            if !known.insert(path.to_string()) {
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
                .digest_with_metadata(&fs_path, &meta)
                .map_err(|e| match fs_path.exists() {
                    false => changed(),
                    true => IngestError::Failed(format!("{path}: {e}")),
                })?;
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
            for dir in acc.listed.iter().filter(|d| in_phase(d)) {
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

        absent.extend(absent_on_path.iter().map(String::as_str));
        let mut probes = Vec::with_capacity(absent.len());
        let mut probed = HashSet::new();
        for path in absent {
            if known.contains(path) || !probed.insert(path) {
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

        if phase == Phase::BeforeAnswer {
            for name in &acc.env {
                if env_is_keyed(name) {
                    let value = ctx.env.get(name.as_str()).map(|v| paths.to_stored(v));
                    out.env.push((name.clone(), value));
                }
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
