//! Why a compile missed: the cause named against the nearest entry (a changed header, a new
//! argument, another compiler, a variable, a shadowing header, a first compile), for
//! `zccache explain` (a dry run) and for the miss journal. Everything here runs on the miss
//! path after the wrapper was answered, or for `explain`: never on a hit.

use super::compile::{beyond_preprocessor, first_mismatch, hit_plan, prepare, Ctx, Early};
use super::journal::{self, Journal, Kind, Record};
use super::key_parts::{source_id, KeyParts, KeyPartsStore};
use super::state::DaemonState;
use crate::ipc::{CompileRequest, ExplainReport, MissReport};
use crate::store::records::{AbsentGroup, Manifest, ManifestEntry};
use std::path::Path;
use std::sync::Arc;
use zccache_integrations::{detect_family, Family, Invocation, Language};

/// The first difference between a manifest entry and the current state.
#[derive(Debug, Clone, Copy)]
pub enum Mismatch<'e> {
    /// A file the compile read has other content.
    FileChanged(&'e str),
    /// A file the compile read is gone or unreadable.
    FileGone(&'e str),
    /// An input whose mtime the output records has another mtime.
    Mtime(&'e str),
    /// A directory the compile listed has other names.
    Listing(&'e str),
    /// An environment variable the compile read has another value.
    Env(&'e str),
    /// A path the compile found absent (one that would shadow a header) now exists.
    Appeared(&'e AbsentGroup),
    /// The entry's outputs name the checkout it was built in (cwd and base dir), and this
    /// compile runs elsewhere.
    TiedTo(&'e str),
}

impl std::fmt::Display for Mismatch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mismatch::FileChanged(p) => write!(f, "{p} changed"),
            Mismatch::FileGone(p) => write!(f, "{p} is gone"),
            Mismatch::Mtime(p) => write!(f, "{p} has another mtime"),
            Mismatch::Listing(d) => write!(f, "directory {d} lists other names"),
            Mismatch::Env(v) => write!(f, "env {v} differs"),
            Mismatch::Appeared(g) => write!(f, "a file appeared in {}", g.dir),
            Mismatch::TiedTo(_) => write!(f, "the entry is tied to another checkout"),
        }
    }
}

/// What the daemon keeps to explain misses: the journal and the key parts of recent misses.
pub struct MissRecords {
    pub journal: Journal,
    pub key_parts: KeyPartsStore,
}

impl MissRecords {
    pub fn new(cache_dir: &Path, journal_capacity: usize) -> MissRecords {
        MissRecords {
            journal: Journal::new(cache_dir, journal_capacity),
            key_parts: KeyPartsStore::new(cache_dir),
        }
    }

    /// The journaled misses since `since_ms` (None: since the last zero), grouped by cause.
    pub fn report(&self, since_ms: Option<u64>) -> MissReport {
        journal::group(&self.journal.since(since_ms))
    }
}

/// One cause: a summary that is the same for every compile it hits (so the journal groups
/// them), and a detail for this compile only.
pub struct Cause {
    pub summary: String,
    pub detail: Option<String>,
}

impl Cause {
    fn plain(summary: String) -> Cause {
        Cause {
            summary,
            detail: None,
        }
    }

    fn full(&self) -> String {
        match &self.detail {
            Some(d) => format!("{} ({d})", self.summary),
            None => self.summary.clone(),
        }
    }
}

/// The first output of an invocation, for logs.
pub fn first_output(inv: &Invocation) -> &str {
    inv.outputs.first().map_or("-", |o| o.path.as_str())
}

/// Why `ctx` found no usable entry, given the manifest as it was at lookup (None: none).
pub(super) fn diagnose(ctx: &Ctx, prior: Option<&Manifest>) -> Vec<Cause> {
    if let Some(manifest) = prior.filter(|m| !m.entries.is_empty()) {
        if manifest
            .entries
            .iter()
            .any(|e| first_mismatch(ctx, e).is_none())
        {
            return vec![Cause::plain(
                "the cached outputs were missing or damaged (evicted or removed)".to_string(),
            )];
        }
        // The most recent entry is the previous build of this command.
        let nearest = &manifest.entries[0];
        if let Some(m) = first_mismatch(ctx, nearest) {
            return vec![describe(ctx, nearest, m)];
        }
    }
    let current = KeyParts::of(ctx);
    let id = source_id(&ctx.req.cwd, &ctx.inv.source);
    match ctx.state.misses.key_parts.nearest(&id, &current) {
        Some(old) if old.manifest_key == current.manifest_key => vec![Cause::plain(
            "the entries for this command were evicted".to_string(),
        )],
        Some(old) => {
            let differences = current.differences(&old);
            if differences.is_empty() {
                return vec![Cause::plain(
                    "the entries for this command were evicted".to_string(),
                )];
            }
            differences.into_iter().map(Cause::plain).collect()
        }
        None => vec![Cause::plain(
            "no entry for this source and arguments (first compile)".to_string(),
        )],
    }
}

/// A stored path as the user knows it: relative to the cwd when below it.
fn shown(ctx: &Ctx, stored: &str) -> String {
    let local = ctx.paths().to_local(stored);
    let cwd = ctx.req.cwd.trim_end_matches('/');
    match local.strip_prefix(cwd).and_then(|r| r.strip_prefix('/')) {
        Some(rest) => rest.to_string(),
        None => local,
    }
}

/// The cause one entry mismatch stands for.
fn describe(ctx: &Ctx, entry: &ManifestEntry, mismatch: Mismatch) -> Cause {
    match mismatch {
        Mismatch::FileChanged(path) => {
            let source = entry.files.first().map(|(p, _)| p.as_str()) == Some(path);
            Cause {
                summary: if source {
                    format!("source {} changed", shown(ctx, path))
                } else {
                    format!("{} changed", shown(ctx, path))
                },
                detail: Some(match stored_at(ctx, entry) {
                    Some(when) => format!("content differs from the entry stored {when}"),
                    None => "content differs from the entry".to_string(),
                }),
            }
        }
        Mismatch::FileGone(path) => Cause {
            summary: format!("{} is gone", shown(ctx, path)),
            detail: Some("the entry read it".to_string()),
        },
        Mismatch::Mtime(path) => Cause {
            summary: format!("{} has another mtime", shown(ctx, path)),
            detail: Some("the output records it".to_string()),
        },
        Mismatch::Listing(dir) => Cause {
            summary: format!("directory {} lists other files", shown(ctx, dir)),
            detail: Some("the compile listed it".to_string()),
        },
        Mismatch::Env(name) => {
            let had = entry
                .env
                .iter()
                .find(|(n, _)| n == name)
                .and_then(|(_, v)| v.clone());
            Cause {
                summary: format!("env {name} differs"),
                detail: Some(match had {
                    Some(v) => format!("the entry had {name}={v}"),
                    None => format!("the entry had {name} unset"),
                }),
            }
        }
        Mismatch::TiedTo(tie) => Cause {
            summary: "the entry's outputs name the checkout it was built in (another directory)"
                .to_string(),
            detail: Some(format!(
                "built in {}",
                tie.replace('\n', " (base dir ") + ")"
            )),
        },
        Mismatch::Appeared(group) => {
            let appeared = group
                .names
                .iter()
                .find(|n| {
                    ctx.local_path(&format!("{}/{n}", group.dir.trim_end_matches('/')))
                        .exists()
                })
                .map(|n| format!("{}/{n}", group.dir.trim_end_matches('/')));
            let Some(appeared) = appeared else {
                return Cause::plain(format!("directory {} changed", shown(ctx, &group.dir)));
            };
            let name = appeared.rsplit('/').next().unwrap_or(&appeared);
            let shadowed = entry
                .files
                .iter()
                .map(|(p, _)| p.as_str())
                .find(|p| *p != appeared && p.rsplit('/').next() == Some(name));
            match shadowed {
                Some(old) => Cause::plain(format!(
                    "a new header {} now shadows {}",
                    shown(ctx, &appeared),
                    shown(ctx, old)
                )),
                None => Cause::plain(format!(
                    "a new file {} exists where the compile found none",
                    shown(ctx, &appeared)
                )),
            }
        }
    }
}

/// When the entry's result was stored (its first blob's ctime), `YYYY-MM-DD HH:MM UTC`.
fn stored_at(ctx: &Ctx, entry: &ManifestEntry) -> Option<String> {
    let record = ctx.state.index.result(&entry.result)?;
    let ns = record.outputs.first()?.blob_ctime_ns;
    (ns > 0).then(|| utc_minutes((ns / 1_000_000_000) as i64))
}

/// Unix seconds as `YYYY-MM-DD HH:MM UTC` (civil-from-days, no time zone database).
pub fn utc_minutes(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + (month <= 2) as i64;
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// What the journal calls a compile: the crate for rustc, the source otherwise.
fn unit_of(family: Family, args: &[String], source: Option<&str>) -> String {
    if family == Family::Rustc {
        if let Some(i) = args.iter().position(|a| a == "--crate-name") {
            if let Some(name) = args.get(i + 1) {
                return name.clone();
            }
        }
    }
    source.unwrap_or_default().to_string()
}

/// Journals a finished miss (Ok) or an uncacheable outcome found after compiling (Err with
/// the reason) and remembers its key parts; called after the wrapper was answered.
pub(super) fn journal_outcome(ctx: &Ctx, prior: Option<&Manifest>, outcome: Result<(), String>) {
    let (kind, cause) = match &outcome {
        Ok(()) => {
            let causes = diagnose(ctx, prior);
            let summary = causes
                .first()
                .map(|c| c.summary.clone())
                .unwrap_or_else(|| "unknown".to_string());
            (Kind::Miss, summary)
        }
        Err(reason) => (Kind::Uncacheable, format!("uncacheable: {reason}")),
    };
    let output = ctx
        .inv
        .outputs
        .first()
        .map(|o| ctx.cwd.join(&o.path).display().to_string())
        .unwrap_or_default();
    tracing::debug!("miss {} -> {output}: {cause}", ctx.inv.source);
    ctx.state.misses.journal.append(&Record {
        t_ms: journal::now_ms(),
        kind,
        family: ctx.inv.family.name().to_string(),
        unit: unit_of(ctx.inv.family, &ctx.req.args, Some(&ctx.inv.source)),
        output,
        cause,
    });
    if outcome.is_ok() {
        ctx.state
            .misses
            .key_parts
            .remember(source_id(&ctx.req.cwd, &ctx.inv.source), KeyParts::of(ctx));
    }
}

/// Journals a compile found uncacheable before its key (after the wrapper was answered).
pub fn journal_uncacheable(state: &DaemonState, req: &CompileRequest, description: &str) {
    let family = detect_family(Path::new(&req.compiler));
    let output = req
        .args
        .iter()
        .position(|a| a == "-o")
        .and_then(|i| req.args.get(i + 1))
        .map(|o| {
            crate::paths::resolve(Path::new(&req.cwd), o)
                .display()
                .to_string()
        })
        .unwrap_or_default();
    tracing::debug!(
        "uncacheable {} in {} -> {output}: {description}",
        req.compiler,
        req.cwd
    );
    state.misses.journal.append(&Record {
        t_ms: journal::now_ms(),
        kind: Kind::Uncacheable,
        family: family.name().to_string(),
        unit: unit_of(family, &req.args, None),
        output,
        cause: format!("uncacheable: {description}"),
    });
}

/// `zccache explain`: would this compile hit, and if not why. Compiles nothing, writes
/// nothing, counts nothing.
pub fn explain(state: &Arc<DaemonState>, req: &CompileRequest) -> ExplainReport {
    let ctx = match prepare(state, req) {
        Ok(ctx) => ctx,
        Err(Early::Uncacheable(_, description)) => {
            return ExplainReport {
                result: "uncacheable".to_string(),
                causes: vec![description],
            }
        }
        Err(Early::Split(commands)) => {
            return ExplainReport {
                result: "uncacheable".to_string(),
                causes: vec![format!(
                    "{} sources in one command: each is cached as its own compile (explain \
                     them one at a time)",
                    commands.len()
                )],
            }
        }
    };
    state.wait_for_ingest_of(&ctx.manifest_key, super::INGEST_WAIT);
    let manifest = state.index.manifest(&ctx.manifest_key);
    if let Some(m) = &manifest {
        for entry in &m.entries {
            if first_mismatch(&ctx, entry).is_some() {
                continue;
            }
            let usable = state
                .index
                .result(&entry.result)
                .is_some_and(|record| hit_plan(&ctx, &record).is_some());
            if usable {
                tracing::debug!(
                    "explain {} -> {}: hit",
                    ctx.inv.source,
                    first_output(&ctx.inv)
                );
                return ExplainReport {
                    result: "hit".to_string(),
                    causes: Vec::new(),
                };
            }
        }
    }
    let diagnosis = diagnose(&ctx, manifest.as_deref());
    if manifest
        .as_deref()
        .is_some_and(|m| preprocessor_tier_hits(&ctx, m))
    {
        let changed = diagnosis
            .first()
            .map_or_else(|| "the headers changed".to_string(), |c| c.summary.clone());
        return ExplainReport {
            result: "hit".to_string(),
            causes: vec![format!(
                "through the preprocessor tier: {changed}, but the preprocessed source is the same"
            )],
        };
    }
    let causes: Vec<String> = diagnosis.iter().map(Cause::full).collect();
    tracing::debug!(
        "explain {} -> {}: miss, {causes:?}",
        ctx.inv.source,
        first_output(&ctx.inv)
    );
    ExplainReport {
        result: "miss".to_string(),
        causes,
    }
}

/// Whether the preprocessor tier would serve this compile: runs the preprocessor (`-E` to a
/// pipe, so nothing is written) and looks its output up as a compile would.
fn preprocessor_tier_hits(ctx: &Ctx, manifest: &Manifest) -> bool {
    let state = ctx.state;
    if !state.settings.preprocessor.value
        || manifest.entries.is_empty()
        || ctx.inv.language == Language::Preprocessed
        || ctx.inv.preprocess_args.is_empty()
    {
        return false;
    }
    let out = std::process::Command::new(&ctx.req.compiler)
        .args(&ctx.inv.preprocess_args)
        .current_dir(ctx.cwd)
        .env_clear()
        .envs(ctx.req.env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output();
    let Ok(out) = out.inspect_err(|e| tracing::debug!("explain: cannot preprocess: {e}")) else {
        return false;
    };
    if !out.status.success() {
        return false;
    }
    let pkey =
        super::keys::preprocessor_key(&ctx.manifest_key, blake3::hash(&out.stdout).as_bytes());
    let Some(result) = state.index.preproc(&pkey) else {
        return false;
    };
    let (Some(record), Some(original)) = (
        state.index.result(&result),
        manifest.entries.iter().find(|e| e.result == result),
    ) else {
        return false;
    };
    let beyond = beyond_preprocessor(original, &record);
    record.preprocessor_ok
        && first_mismatch(ctx, &beyond).is_none()
        && hit_plan(ctx, &record).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_render_in_utc() {
        assert_eq!(utc_minutes(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_minutes(1_764_583_440), "2025-12-01 10:04 UTC");
    }
}
