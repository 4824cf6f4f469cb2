//! One compile conversation: parse → direct-mode lookup → preprocessor tier; a miss goes to
//! `daemon/miss.rs`.

use super::explain::Mismatch;
use super::keys::{manifest_key, preprocessor_key, time_macros_block};
use super::pathmap::PathMap;
use super::shadowing::{absent_candidates, group_still_absent, search_order, split_env_path};
use super::state::DaemonState;
use crate::ipc::{
    read_frame, write_frame, CompileRequest, FrameError, HitPlan, Materialize, Request, Response,
};
use crate::paths::resolve;
use crate::store::records::{ManifestEntry, ResultRecord};
use crate::store::Digest;
use serde_bytes::ByteBuf;
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use zccache_integrations::{
    depfile, detect_family, DepfilePlan, Family, Invocation, Language, Uncacheable,
};

/// Everything one conversation learned, passed between its steps.
pub(super) struct Ctx<'a> {
    pub state: &'a Arc<DaemonState>,
    pub req: &'a CompileRequest,
    pub env: HashMap<&'a str, &'a str>,
    pub inv: Invocation,
    pub cwd: &'a Path,
    pub compiler_id: Digest,
    pub manifest_key: Digest,
    /// Wall-clock ns when the request arrived: files changed after it were not what the
    /// compiler read.
    pub start_ns: i128,
    /// The base dir this C-family compile's paths are keyed relative to.
    pub relocation: Option<super::relocate::Relocation>,
    /// Files hashed for the key just now (the source and the operands), by absolute path:
    /// an entry check takes their digests from here instead of stating them again.
    pub hashed_for_key: HashMap<std::path::PathBuf, Digest>,
    /// With `Invocation::reads_prior_output`: the output's content before the tool ran
    /// (zeros: there was none), as keyed.
    pub prior_output_digest: Digest,
}

/// `path` as the build's processes resolve it from `cwd` (no lexical `..` folding: the
/// kernel follows symlinks first).
pub(super) fn join_cwd(cwd: &Path, path: &str) -> std::path::PathBuf {
    if path.starts_with('/') {
        std::path::PathBuf::from(path)
    } else {
        cwd.join(path)
    }
}

fn now_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

pub(super) fn send<C: Write>(conn: &mut C, resp: &Response) -> Result<(), FrameError> {
    write_frame(conn, resp)
}

/// Why a request ends before its key is known.
pub(super) enum Early {
    /// Run the real compiler uncached: the counted reason name and its description.
    Uncacheable(&'static str, String),
    /// Several sources: run each of these argument lists as its own compile.
    Split(Vec<Vec<String>>),
}

impl Early {
    fn named(why: Uncacheable) -> Early {
        Early::Uncacheable(why.name(), why.to_string())
    }

    pub(super) fn because(name: &'static str, description: &str) -> Early {
        Early::Uncacheable(name, description.to_string())
    }
}

/// Serves a `Compile` request to completion.
pub fn converse<C: super::session::Conn>(
    state: &Arc<DaemonState>,
    req: &CompileRequest,
    conn: &mut C,
) -> Result<(), FrameError> {
    let ctx = match prepare(state, req) {
        Ok(ctx) => ctx,
        Err(Early::Split(commands)) => return send(conn, &Response::Split { commands }),
        Err(Early::Uncacheable(reason, description)) => {
            state
                .stats
                .uncacheable(detect_family(Path::new(&req.compiler)).name(), reason);
            let sent = send(
                conn,
                &Response::Uncacheable {
                    reason: reason.to_string(),
                },
            );
            super::explain::journal_uncacheable(state, req, &description);
            return sent;
        }
    };
    serve(state, ctx, conn)
}

/// Everything up to the manifest key: parse, identify the compiler, hash what the key
/// needs. Shared by compiles and `zccache explain`.
pub(super) fn prepare<'a>(
    state: &'a Arc<DaemonState>,
    req: &'a CompileRequest,
) -> Result<Ctx<'a>, Early> {
    let start_ns = now_ns();
    let env: HashMap<&str, &str> = req
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let cwd = Path::new(&req.cwd);
    let family = detect_family(Path::new(&req.compiler));
    if env.contains_key("DEPENDENCIES_OUTPUT") || env.contains_key("SUNPRO_DEPENDENCIES") {
        return Err(Early::named(Uncacheable::DependencyEnv));
    }
    let inv = match zccache_integrations::parse_with_env(
        family,
        Path::new(&req.compiler),
        &req.args,
        cwd,
        &env,
    ) {
        Ok(inv) => inv,
        Err(Uncacheable::MultipleSources) => {
            let split = match family {
                Family::Gcc | Family::Clang => {
                    zccache_integrations::gcc::split_per_source(&req.args, cwd)
                }
                _ => None,
            };
            return Err(match split {
                Some(commands) => Early::Split(commands),
                None => Early::named(Uncacheable::MultipleSources),
            });
        }
        Err(why) => return Err(Early::named(why)),
    };
    let mut inv = inv;
    if inv.family == Family::Rustc && rust_hash_dir(state, &env) {
        // rlibs record the working dir (metadata paths, debug info): key by it.
        inv.debug_info = true;
    }
    let t_parsed = std::time::Instant::now();
    // rustc is identified by the binary that really compiles (through a rustup proxy, the
    // toolchain this build picks) and the sysroot its std comes from.
    let (identified, sysroot) = if inv.family == Family::Rustc {
        match super::rustup::real_compiler(&req.compiler, cwd, &env) {
            Some((real, sysroot)) => (real, Some(sysroot)),
            None => {
                return Err(Early::because(
                    "toolchain_unknown",
                    "the Rust toolchain behind this rustc is unknown",
                ))
            }
        }
    } else {
        (req.compiler.clone(), None)
    };
    let compiler_id = match state.compilers.identity(&identified) {
        Ok(id) => match &sysroot {
            Some(sysroot) => {
                let mut h = blake3::Hasher::new();
                h.update(&id);
                h.update(b"\0sysroot\0");
                h.update(sysroot.as_bytes());
                *h.finalize().as_bytes()
            }
            None => id,
        },
        Err(e) => {
            tracing::warn!("{e}");
            return Err(Early::because(
                "compiler_unreadable",
                "the compiler binary cannot be read",
            ));
        }
    };
    let mut hashed_for_key = HashMap::with_capacity(1 + inv.extra_inputs.len());
    let source_path = resolve(cwd, &inv.source);
    let source = match state.hashes.digest(&source_path) {
        Ok(d) => {
            hashed_for_key.insert(source_path, d.hash);
            d
        }
        Err(_) => {
            return Err(Early::because(
                "source_unreadable",
                "the source file cannot be read",
            ))
        }
    };
    if time_macros_block(source.time_macros, &env) {
        return Err(Early::named(Uncacheable::TimeMacros));
    }
    let mut extra = Vec::new();
    for input in &inv.extra_inputs {
        let path = resolve(cwd, input);
        match state.hashes.digest(&path) {
            Ok(d) => {
                extra.push((input.clone(), d.hash));
                hashed_for_key.insert(path, d.hash);
            }
            Err(_) => {
                return Err(Early::because(
                    "input_unreadable",
                    "an input named on the command line cannot be read",
                ))
            }
        }
    }
    let mut prior_output_digest = [0; 32];
    if inv.reads_prior_output {
        // Keyed without the output's name: another name with the same members shares.
        let (name, digest) = match super::prior_output::digest(state, cwd, &inv)? {
            Some(digest) => ("\0prior-output\0present", digest),
            None => ("\0prior-output", [0; 32]),
        };
        prior_output_digest = digest;
        extra.push((name.to_string(), digest));
    }
    let mut tool_ids = Vec::new();
    for tool in &inv.tool_identities {
        let Some(path) = resolve_tool(tool, cwd, env.get("PATH").copied()) else {
            return Err(Early::because(
                "tool_not_found",
                "a tool the compile runs is not on PATH",
            ));
        };
        match state.compilers.identity(&path) {
            Ok(id) => tool_ids.push(id),
            Err(_) => {
                return Err(Early::because(
                    "tool_unreadable",
                    "a tool the compile runs cannot be read",
                ))
            }
        }
    }
    let relocation = super::relocate::apply(state, &env, cwd, &mut inv);
    let paths = PathMap::new(&inv.path_prefix_map);
    let key = manifest_key(
        &inv,
        &compiler_id,
        &env,
        &req.cwd,
        &extra,
        &tool_ids,
        &paths,
    );
    if tracing::enabled!(tracing::Level::TRACE) {
        let args: Vec<String> = inv.key_args.iter().map(|a| paths.to_stored(a)).collect();
        let keyed_env: Vec<&(String, String)> = req
            .env
            .iter()
            .filter(|(k, _)| {
                super::keys::OUTPUT_ENV.contains(&k.as_str())
                    || (inv
                        .key_env_prefixes
                        .iter()
                        .any(|p| k.starts_with(p.as_str()))
                        && !inv.key_env_exclude.contains(k))
            })
            .collect();
        tracing::trace!("keyed env: {keyed_env:?}");
        tracing::trace!(
            "key {} (compiler {}) for {}: args={args:?} extra={extra:?} tools={}",
            crate::store::hex(&key),
            crate::store::hex(&compiler_id),
            inv.source,
            tool_ids.len()
        );
    }
    tracing::trace!("parse+identity+key in {:?}", t_parsed.elapsed());
    Ok(Ctx {
        state,
        req,
        env,
        inv,
        cwd,
        compiler_id,
        manifest_key: key,
        start_ns,
        relocation,
        hashed_for_key,
        prior_output_digest,
    })
}

/// Direct mode, then the preprocessor tier, then the miss, for a prepared compile.
fn serve<C: super::session::Conn>(
    state: &Arc<DaemonState>,
    mut ctx: Ctx,
    conn: &mut C,
) -> Result<(), FrameError> {
    let key = ctx.manifest_key;

    // Direct mode.
    state.wait_for_ingest_of(&key, super::INGEST_WAIT);
    let manifest = state.index.manifest(&key);
    if let Some(manifest) = &manifest {
        for entry in &manifest.entries {
            let started = std::time::Instant::now();
            let mismatch = first_mismatch(&ctx, entry);
            tracing::debug!(
                "entry check for {} -> {}: {} files, {} absent, {} in {:?}",
                ctx.inv.source,
                super::explain::first_output(&ctx.inv),
                entry.files.len(),
                entry.absent.len(),
                match &mismatch {
                    None => "matched".to_string(),
                    Some(m) => format!("differs: {m}"),
                },
                started.elapsed()
            );
            if mismatch.is_some() {
                continue;
            }
            if let Some(done) = try_hit(&mut ctx, conn, &entry.result, false)? {
                return done;
            }
        }
    }

    // A remote entry whose inputs match this build's files.
    if let Some(done) = super::remote::try_remote(&mut ctx, conn)? {
        return done;
    }

    // Preprocessor tier: only when this source was compiled before (an edit is likely);
    // a first-ever compile goes straight to the compiler.
    let mut pp_key = None;
    let has_history = manifest.as_ref().is_some_and(|m| !m.entries.is_empty());
    if state.settings.preprocessor.value
        && has_history
        && ctx.inv.language != Language::Preprocessed
        && !ctx.inv.preprocess_args.is_empty()
    {
        send(
            conn,
            &Response::RunPreprocessor {
                args: ctx.inv.preprocess_args.clone(),
            },
        )?;
        match read_frame::<Request>(conn)? {
            Request::Preprocessed { output_hash, files } => {
                let pkey = preprocessor_key(&key, &output_hash);
                if let Some(result) = state.index.preproc(&pkey) {
                    let record = state.index.result(&result);
                    let original = manifest
                        .as_ref()
                        .and_then(|m| m.entries.iter().find(|e| e.result == result));
                    if let (Some(record), Some(original)) = (record, original) {
                        let beyond = beyond_preprocessor(original, &record);
                        if record.preprocessor_ok && entry_matches(&ctx, &beyond) {
                            if let Some(done) = try_hit(&mut ctx, conn, &result, true)? {
                                record_entry_from_files(&ctx, &files, &result, beyond);
                                return done;
                            }
                        }
                    }
                }
                pp_key = Some(pkey);
            }
            Request::PreprocessFailed => {}
            other => {
                return send(
                    conn,
                    &Response::Error {
                        message: format!("unexpected message {other:?}"),
                    },
                )
            }
        }
    }

    super::miss::miss(&mut ctx, conn, pp_key)
}

/// Whether rustc compiles are keyed by their working dir: the build's own
/// `ZCCACHE_RUST_HASH_DIR` wins over the daemon's setting.
fn rust_hash_dir(state: &DaemonState, env: &HashMap<&str, &str>) -> bool {
    match env.get(crate::config::RUST_HASH_DIR_ENV) {
        Some(text) => crate::config::parse_bool(crate::config::RUST_HASH_DIR_ENV, text)
            .unwrap_or(state.settings.rust_hash_dir.value),
        None => state.settings.rust_hash_dir.value,
    }
}

/// The share of hits to verify: the build's own `ZCCACHE_VERIFY` wins over the daemon's.
fn verify_fraction(state: &DaemonState, env: &HashMap<&str, &str>) -> f64 {
    match env.get(crate::config::VERIFY_ENV) {
        Some(text) if !text.is_empty() => {
            crate::config::parse_fraction(crate::config::VERIFY_ENV, text)
                .unwrap_or(state.settings.verify.value)
        }
        _ => state.settings.verify.value,
    }
}

/// A tool named by an adapter (`cc`, `/path/rustc`), resolved on the compile's PATH.
pub(super) fn resolve_tool(tool: &str, cwd: &Path, path_var: Option<&str>) -> Option<String> {
    if tool.contains('/') {
        return Some(resolve(cwd, tool).to_string_lossy().into_owned());
    }
    std::env::split_paths(path_var?)
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
        .map(|p| p.to_string_lossy().into_owned())
}

impl Ctx<'_> {
    pub(super) fn paths(&self) -> PathMap<'_> {
        PathMap::new(&self.inv.path_prefix_map)
    }

    /// A recorded (placeholder) path as this build's processes would open it.
    pub(super) fn local_path(&self, stored: &str) -> std::path::PathBuf {
        join_cwd(self.cwd, &self.paths().to_local(stored))
    }
}

/// Whether every file of `entry` still has its recorded hash, every listed directory its
/// names, every probed path is still absent and every environment variable it read still has
/// its value.
pub(super) fn entry_matches(ctx: &Ctx, entry: &ManifestEntry) -> bool {
    first_mismatch(ctx, entry).is_none()
}

/// The first thing that differs between `entry` and the current state (None: it matches).
pub(super) fn first_mismatch<'e>(ctx: &Ctx, entry: &'e ManifestEntry) -> Option<Mismatch<'e>> {
    if let Some(tie) = &entry.tied_to {
        if ctx.relocation.as_ref().map(|r| &r.tie) != Some(tie) {
            return Some(Mismatch::TiedTo(tie));
        }
    }
    for (path, hash) in &entry.files {
        let local = ctx.local_path(path);
        if let Some(digest) = ctx.hashed_for_key.get(&local) {
            if digest != hash {
                return Some(Mismatch::FileChanged(path));
            }
            continue;
        }
        match ctx.state.hashes.digest(&local) {
            Ok(d) if d.hash == *hash => {}
            Ok(_) => return Some(Mismatch::FileChanged(path)),
            Err(_) => return Some(Mismatch::FileGone(path)),
        }
    }
    for (path, secs) in &entry.mtimes {
        use std::os::unix::fs::MetadataExt;
        match std::fs::metadata(ctx.local_path(path)) {
            Ok(meta) if meta.mtime() == *secs => {}
            _ => return Some(Mismatch::Mtime(path)),
        }
    }
    for (dir, digest) in &entry.listings {
        match ctx.state.hashes.listing(&ctx.local_path(dir)) {
            Ok(d) if d == *digest => {}
            _ => return Some(Mismatch::Listing(dir)),
        }
    }
    let paths = ctx.paths();
    for (name, value) in &entry.env {
        let current = ctx.env.get(name.as_str()).map(|v| paths.to_stored(v));
        if current.as_ref() != value.as_ref() {
            return Some(Mismatch::Env(name));
        }
    }
    entry
        .absent
        .iter()
        .find(|group| !group_still_absent(&ctx.local_path(&group.dir), group))
        .map(Mismatch::Appeared)
}

/// Sends a hit for `result` if every blob is present; returns Some(outcome) when the
/// conversation ended (hit served), None to keep looking.
pub(super) fn try_hit<C: super::session::Conn>(
    ctx: &mut Ctx,
    conn: &mut C,
    result_key: &Digest,
    preprocessor: bool,
) -> Result<Option<Result<(), FrameError>>, FrameError> {
    let state = ctx.state;
    let Some(record) = state.index.result(result_key) else {
        return Ok(None);
    };
    let Some(plan) = hit_plan(ctx, &record) else {
        state.index.remove_result(result_key);
        return Ok(None);
    };
    // Counted before answering so `zccache stats` right after the build sees it.
    if preprocessor {
        state
            .stats
            .preprocessor_hit(ctx.inv.stats_family(), record.compile_ms);
    } else {
        state
            .stats
            .direct_hit(ctx.inv.stats_family(), record.compile_ms);
    }
    let t_send = std::time::Instant::now();
    send(conn, &Response::Hit(plan))?;
    tracing::trace!("hit sent in {:?}", t_send.elapsed());
    tracing::debug!(
        "hit ({}) {} -> {}",
        if preprocessor {
            "preprocessor"
        } else {
            "direct"
        },
        ctx.inv.source,
        super::explain::first_output(&ctx.inv)
    );
    // The client closes the connection after restoring; a HitFailed means a blob was bad.
    match read_frame::<Request>(conn) {
        Err(FrameError::Closed) => {
            for out in &record.outputs {
                state.index.touch_blob(out.blob);
            }
            if super::verify::sampled(verify_fraction(state, &ctx.env)) {
                let job = super::verify::Job::plan(
                    &ctx.inv,
                    &ctx.req.compiler,
                    ctx.cwd,
                    &ctx.req.env,
                    &record,
                    *result_key,
                    ctx.manifest_key,
                );
                match job {
                    Some(job) => job.start(state),
                    None => state.stats.verified(&state.stats.verify_skipped),
                }
            }
            Ok(Some(Ok(())))
        }
        Ok(Request::HitFailed { reason }) => {
            tracing::warn!("cached result could not be restored ({reason}); recompiling");
            state
                .stats
                .undo_hit(ctx.inv.stats_family(), preprocessor, record.compile_ms);
            state.stats.error("restore_failed");
            for out in &record.outputs {
                state.blobs.remove(&out.blob);
            }
            state.index.remove_result(result_key);
            Ok(Some(super::miss::miss(ctx, conn, None)))
        }
        Ok(other) => Ok(Some(send(
            conn,
            &Response::Error {
                message: format!("unexpected message {other:?}"),
            },
        ))),
        Err(e) => Err(e),
    }
}

/// The files a hit restores for this invocation, or None if a blob is gone.
pub(super) fn hit_plan(ctx: &Ctx, record: &ResultRecord) -> Option<HitPlan> {
    let mut files = Vec::new();
    for slot in &ctx.inv.outputs {
        match record.outputs.iter().find(|o| o.role == slot.role) {
            Some(out) => {
                use std::os::unix::fs::MetadataExt;
                let blob_path = ctx.state.blobs.path(&out.blob);
                let meta = std::fs::metadata(&blob_path).ok()?;
                if meta.len() != out.size {
                    return None;
                }
                let ctime = meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128;
                files.push(Materialize {
                    blob_path: blob_path.to_string_lossy().into_owned(),
                    hash: out.blob,
                    dest: slot.path.clone(),
                    mode: out.mode,
                    unchanged_since_stored: out.blob_ctime_ns != 0 && ctime == out.blob_ctime_ns,
                });
            }
            None if slot.optional => {}
            None => return None,
        }
    }
    let paths = ctx.paths();
    Some(HitPlan {
        files,
        inline_files: user_depfile(ctx, record).into_iter().collect(),
        stdout: paths.bytes_to_local(&record.stdout),
        stderr: paths.bytes_to_local(&record.stderr),
        exit_code: 0,
    })
}

/// The depfile the build asked for, rendered as its compiler would write it.
fn user_depfile(ctx: &Ctx, record: &ResultRecord) -> Option<(String, ByteBuf)> {
    if let DepfilePlan::RustDepInfo { path } = &ctx.inv.depfile {
        let text = ctx.paths().to_local(record.dep_info.as_deref()?);
        return Some((path.clone(), ByteBuf::from(text.into_bytes())));
    }
    render_user_depfile(ctx, &record.deps, &record.system_deps)
}

/// The `-MD`/`-MF` depfile of a C-family build, from the compiler's depfile tokens (stored
/// form; and which of them are system headers, for `-MMD`). None when the build asked for
/// none.
pub(super) fn render_user_depfile(
    ctx: &Ctx,
    tokens: &[String],
    system_deps: &[bool],
) -> Option<(String, ByteBuf)> {
    let DepfilePlan::User {
        path,
        targets,
        phony,
        user_headers_only,
    } = &ctx.inv.depfile
    else {
        return None;
    };
    let paths = ctx.paths();
    let deps: Vec<String> = tokens
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            !*user_headers_only || *i == 0 || !system_deps.get(*i).copied().unwrap_or(false)
        })
        .map(|(_, d)| paths.to_local(d))
        .collect();
    let text = depfile::render(ctx.inv.family, targets, &deps, *phony);
    Some((path.clone(), ByteBuf::from(text.into_bytes())))
}

/// Search order and system dirs for this invocation (for shadowing and `-MMD`).
pub(super) fn include_search(ctx: &Ctx) -> (Vec<String>, Vec<String>) {
    let defaults = ctx.state.compilers.default_include_dirs(
        &ctx.req.compiler,
        ctx.compiler_id,
        ctx.inv.language,
        &ctx.inv.default_dirs_args,
    );
    let cpath = split_env_path(ctx.env.get("CPATH").copied());
    let lang_var = match ctx.inv.language {
        Language::Cxx | Language::ObjCxx => "CPLUS_INCLUDE_PATH",
        Language::ObjC => "OBJC_INCLUDE_PATH",
        _ => "C_INCLUDE_PATH",
    };
    let lang_path = split_env_path(ctx.env.get(lang_var).copied());
    let order = search_order(&ctx.inv.include_dirs, &cpath, &lang_path, &defaults);
    let mut system: Vec<String> = ctx.inv.include_dirs.system.clone();
    system.extend(lang_path);
    system.extend(defaults);
    system.extend(ctx.inv.include_dirs.after.iter().cloned());
    (order, system)
}

/// The system include dirs of [`include_search`], resolved against the cwd (for
/// [`super::shadowing::is_under_system_root`]).
pub(super) fn system_include_roots(ctx: &Ctx) -> Vec<std::path::PathBuf> {
    include_search(ctx)
        .1
        .iter()
        .map(|d| crate::paths::resolve(ctx.cwd, d))
        .collect()
}

/// What an entry depends on beyond the `-E` output (the toolchain executables it ran, the
/// variables it read, the paths it found absent): the preprocessor tier may only reuse its
/// result while all of that still holds.
pub(super) fn beyond_preprocessor(entry: &ManifestEntry, record: &ResultRecord) -> ManifestEntry {
    let headers: std::collections::HashSet<String> =
        record.deps.iter().map(|t| depfile::unescape(t)).collect();
    ManifestEntry {
        files: entry
            .files
            .iter()
            .filter(|(path, _)| !headers.contains(path))
            .cloned()
            .collect(),
        ..entry.clone()
    }
}

/// After a preprocessor-tier hit, remember the header set (with what the original entry
/// needed beyond its headers) so the next call is a direct hit.
fn record_entry_from_files(ctx: &Ctx, files: &[String], result: &Digest, beyond: ManifestEntry) {
    let mut hashed = Vec::with_capacity(files.len() + beyond.files.len());
    // The source first, as in entries built from depfiles.
    let mut ordered: Vec<&String> = files.iter().filter(|f| **f == ctx.inv.source).collect();
    ordered.extend(files.iter().filter(|f| **f != ctx.inv.source));
    if ordered.first().map(|f| f.as_str()) != Some(ctx.inv.source.as_str()) {
        return;
    }
    let paths = ctx.paths();
    for f in ordered {
        match ctx.state.hashes.digest(&join_cwd(ctx.cwd, f)) {
            Ok(d) if d.changed_ns <= ctx.start_ns => hashed.push((f.clone(), d.hash)),
            _ => return,
        }
    }
    let (order, _) = include_search(ctx);
    let headers: Vec<String> = hashed.iter().skip(1).map(|(p, _)| p.clone()).collect();
    for (path, _) in &mut hashed {
        *path = paths.to_stored(path);
    }
    let mut absent = absent_candidates(ctx.cwd, &order, &headers);
    for group in &mut absent {
        group.dir = paths.to_stored(&group.dir);
    }
    absent.extend(beyond.absent);
    for file in beyond.files {
        if !hashed.iter().any(|(p, _)| *p == file.0) {
            hashed.push(file);
        }
    }
    let mut manifest = ctx
        .state
        .index
        .manifest(&ctx.manifest_key)
        .map(|m| (*m).clone())
        .unwrap_or_default();
    manifest.push_front(ManifestEntry {
        files: hashed,
        absent,
        env: beyond.env,
        listings: beyond.listings,
        mtimes: beyond.mtimes,
        tied_to: beyond.tied_to,
        result: *result,
    });
    ctx.state.index.put_manifest(ctx.manifest_key, manifest);
}

/// The file set of the manifest entry pointing at `result`.
pub(super) fn manifest_files_of(
    index: &crate::store::Index,
    key: &Digest,
    result: &Digest,
) -> Vec<(String, Digest)> {
    index
        .manifest(key)
        .and_then(|m| m.entries.iter().find(|e| e.result == *result).cloned())
        .map(|e| e.files)
        .unwrap_or_default()
}
