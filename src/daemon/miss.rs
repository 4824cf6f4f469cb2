//! A miss: have the client run the compiler (with the access recorder), learn what it read
//! (before answering what the build may change at once, the rest after), and store the
//! outputs and the entry.

use super::accesses::Accesses;
use super::compile::{manifest_files_of, render_user_depfile, send, system_include_roots, Ctx};
use super::keys::result_key;
use super::learn::{checked_accesses, learn_inputs, IngestError, Learned, Pending};
use super::shadowing::is_under_system_root;
use crate::ipc::{read_frame, CompilePlan, FrameError, Request, Response, StoreRequest};
use crate::store::records::{ManifestEntry, ResultRecord, StoredOutput};
use crate::store::Digest;
use serde_bytes::ByteBuf;
use zccache_integrations::{
    depfile, DepfilePlan, Family, Language, Uncacheable, DEPFILE_PLACEHOLDER,
};

/// What a miss learned before answering the wrapper.
enum BeforeAnswer {
    /// The inputs the build may change or delete right after (see `learn::Phase`).
    Learned(Box<Result<Pending, IngestError>>),
    /// Nothing yet beyond the checked access log (a link or an archive).
    Deferred(Box<Accesses>),
}

/// Miss: have the client compile, then store what it produced.
pub(super) fn miss<C: super::session::Conn>(
    ctx: &mut Ctx,
    conn: &mut C,
    pp_key: Option<Digest>,
) -> Result<(), FrameError> {
    let injects_depfile = matches!(
        ctx.inv.depfile,
        DepfilePlan::User { .. } | DepfilePlan::Inject
    );
    let depfile_path = match &ctx.inv.depfile {
        DepfilePlan::RustDepInfo { path } => Some(path.clone()),
        _ => None,
    };
    let mut args = ctx.inv.miss_args.clone();
    if crate::client::color::force_on_miss(ctx.inv.family.name(), &args) {
        // Stored diagnostics are coloured; each replay strips what its stderr would not show.
        args.insert(0, crate::client::color::FORCE_FLAG.to_string());
    }
    // A link or a dependency scan sends nothing back for the build: its wrapper may leave
    // without an answer, handing its large outputs over opened and leased (an archive is
    // checked by path before answering; `ar r` reads its previous output).
    let mut expected =
        (ctx.inv.link && ctx.inv.family != Family::Ar && !ctx.inv.reads_prior_output)
            .then(|| {
                ctx.state
                    .unread_stores
                    .expect(ctx.manifest_key, conn.socket())
            })
            .flatten();
    let plan = CompilePlan {
        store_unanswered_ok: expected.is_some(),
        args,
        depfile_placeholder: injects_depfile.then(|| DEPFILE_PLACEHOLDER.to_string()),
        depfile_path,
        outputs: ctx.inv.outputs.iter().map(|o| o.path.clone()).collect(),
        optional: ctx.inv.outputs.iter().map(|o| o.optional).collect(),
        keep_prior_outputs: ctx.inv.reads_prior_output,
        extra_env: Vec::new(),
        recorder: ctx
            .state
            .recorder
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned()),
    };
    send(conn, &Response::Compile(plan))?;
    let (request, passed) = if expected.is_some() {
        crate::ipc::read_frame_with_fds::<Request>(conn.socket())?
    } else {
        (read_frame::<Request>(conn)?, Vec::new())
    };
    let store = match request {
        Request::Store(store) => store,
        other => {
            return send(
                conn,
                &Response::Error {
                    message: format!("unexpected message {other:?}"),
                },
            )
        }
    };
    if store.exit_code != 0 {
        ctx.state
            .stats
            .uncacheable(ctx.inv.stats_family(), Uncacheable::CompileFailed.name());
        let sent = send(
            conn,
            &Response::Stored {
                inline_files: Vec::new(),
            },
        );
        super::explain::journal_outcome(ctx, None, Err(Uncacheable::CompileFailed.to_string()));
        return sent;
    }
    // What the build may change or delete right after (its outputs, inputs inside its cwd)
    // is taken while it surely exists; then the wrapper is answered (the build's depfile
    // comes straight from the compiler's; rustc wrote its dep-info itself) and exits while
    // the rest is learned and the outputs are stored. Stats, clear and stop wait for stores
    // in flight.
    // A link or an archive writes no depfile for the build: once its outputs are taken and
    // what it wrote is checked, the wrapper is answered and all its inputs learned after.
    // A wrapper that left without an answer handed its large outputs over opened and leased,
    // and checked that the link left no other file behind: nothing here is urgent.
    let unanswered = store.unanswered && expected.is_some();
    let mut in_flight = None;
    if unanswered {
        in_flight = Some(ctx.state.begin_ingest(ctx.manifest_key));
        drop(expected.take());
        super::background::lower_this_thread();
    }
    let t_ingest = std::time::Instant::now();
    let by_path = if unanswered {
        super::large_outputs::adopt(passed, &store.output_files)
    } else {
        drop(passed);
        super::large_outputs::capture(&ctx.state.layout.tmp(), &store.output_files)
    };
    let before = match checked_accesses(ctx, &store) {
        Ok(accesses) if ctx.inv.link => BeforeAnswer::Deferred(Box::new(accesses)),
        Ok(accesses) => BeforeAnswer::Learned(Box::new(learn_inputs(ctx, &store, accesses))),
        Err(e) => BeforeAnswer::Learned(Box::new(Err(e))),
    };
    let answered_after = t_ingest.elapsed();
    let inline_files = match &before {
        BeforeAnswer::Learned(learned) => match learned.as_ref() {
            Ok(pending) => render_user_depfile(ctx, &pending.tokens, &pending.system_deps),
            Err(_) => depfile_from_compiler(ctx, &store),
        },
        BeforeAnswer::Deferred(_) => None,
    }
    .into_iter()
    .collect();
    let _in_flight = match in_flight {
        Some(in_flight) => in_flight,
        None => {
            let in_flight = ctx.state.begin_ingest(ctx.manifest_key);
            drop(expected);
            send(conn, &Response::Stored { inline_files })?;
            super::background::lower_this_thread();
            in_flight
        }
    };
    let by_path = super::large_outputs::finish(&ctx.state.layout.tmp(), by_path);
    let pending = match before {
        BeforeAnswer::Learned(pending) => *pending,
        BeforeAnswer::Deferred(accesses) => learn_inputs(ctx, &store, *accesses),
    };
    let learned = pending.and_then(|pending| pending.finish(ctx));
    tracing::debug!(
        "{}: answered after {answered_after:?}; inputs learned in {:?}",
        ctx.inv.source,
        t_ingest.elapsed()
    );
    // Why it missed is worked out against the entries as they were before this one.
    let prior = ctx.state.index.manifest(&ctx.manifest_key);
    let ingested = learned.and_then(|learned| ingest(ctx, &store, &by_path, learned, pp_key));
    tracing::debug!(
        "ingest of {} ({} output bytes, compile {} ms) took {:?}",
        ctx.inv.source,
        store
            .outputs
            .iter()
            .flatten()
            .map(|(b, _)| b.len())
            .sum::<usize>(),
        store.compile_ms,
        t_ingest.elapsed()
    );
    let journaled = match ingested {
        Ok(_) => {
            ctx.state.stats.miss(ctx.inv.stats_family());
            Ok(())
        }
        Err(IngestError::Uncacheable(reason)) => {
            ctx.state.stats.uncacheable(ctx.inv.stats_family(), reason);
            Err(reason.replace('_', " "))
        }
        Err(IngestError::Failed(why)) => {
            tracing::warn!("could not store result: {why}");
            ctx.state.stats.miss(ctx.inv.stats_family());
            ctx.state.stats.error("store_failed");
            Ok(())
        }
    };
    super::explain::journal_outcome(ctx, prior.as_deref(), journaled);
    Ok(())
}

/// The depfile the build asked for (`-MD`/`-MF`…), rendered from the one the compiler wrote
/// for us. None when the build asked for none or the compiler wrote it itself (rustc).
fn depfile_from_compiler(ctx: &Ctx, store: &StoreRequest) -> Option<(String, ByteBuf)> {
    if !matches!(ctx.inv.depfile, DepfilePlan::User { .. }) {
        return None;
    }
    let text = String::from_utf8_lossy(store.depfile.as_deref()?).into_owned();
    let parsed = depfile::parse(&text);
    let roots = system_include_roots(ctx);
    let system_deps: Vec<bool> = parsed
        .deps
        .iter()
        .map(|d| is_under_system_root(ctx.cwd, &depfile::unescape(d), &roots))
        .collect();
    render_user_depfile(ctx, &parsed.deps, &system_deps)
}

/// Stores blobs, the result record, the manifest entry and the preprocessor key.
fn ingest(
    ctx: &Ctx,
    store: &StoreRequest,
    by_path: &[Option<Result<super::large_outputs::Copied, String>>],
    learned: Learned,
    pp_key: Option<Digest>,
) -> Result<ResultRecord, IngestError> {
    let state = ctx.state;
    let paths = ctx.paths();
    let mut outputs = Vec::new();
    let mut large_blobs = Vec::new();
    for (i, (slot, content)) in ctx.inv.outputs.iter().zip(&store.outputs).enumerate() {
        match content {
            Some((bytes, mode)) => {
                let blob = state
                    .blobs
                    .put(bytes)
                    .map_err(|e| IngestError::Failed(e.to_string()))?;
                state.index.add_blob(blob, bytes.len() as u64);
                outputs.push(StoredOutput {
                    role: slot.role.clone(),
                    blob,
                    size: bytes.len() as u64,
                    mode: *mode,
                    blob_ctime_ns: state.blobs.ctime_ns(&blob).unwrap_or(0),
                });
            }
            None => match by_path
                .get(i)
                .and_then(|c| c.as_ref())
                .map(|c| c.as_ref().map_err(String::clone)?.into_blob(&state.blobs))
            {
                Some(Ok(c)) => {
                    state.index.add_blob(c.blob, c.size);
                    large_blobs.push(c.blob);
                    outputs.push(StoredOutput {
                        role: slot.role.clone(),
                        blob: c.blob,
                        size: c.size,
                        mode: c.mode,
                        blob_ctime_ns: state.blobs.ctime_ns(&c.blob).unwrap_or(0),
                    });
                }
                Some(Err(why)) => {
                    tracing::info!("{why}; not cached");
                    return Err(IngestError::Uncacheable(super::large_outputs::UNREADABLE));
                }
                None if slot.optional => {}
                None => return Err(IngestError::Uncacheable(Uncacheable::MissingOutput.name())),
            },
        }
    }
    let tied_to = ctx.relocation.as_ref().and_then(|relocation| {
        // Outputs handed over by path are searched in their blobs (read back; an unreadable
        // one ties the entry to this checkout).
        let large: Option<Vec<Vec<u8>>> = large_blobs
            .iter()
            .map(|blob| std::fs::read(state.blobs.path(blob)).ok())
            .collect();
        let searched = store.outputs.iter().flatten().map(|(b, _)| b.as_slice());
        let names_checkout = match &large {
            Some(large) => {
                relocation.outputs_name_checkout(searched.chain(large.iter().map(Vec::as_slice)))
            }
            None => true,
        };
        names_checkout.then(|| relocation.tie.clone())
    });
    if tied_to.is_some() {
        tracing::debug!(
            "{}: outputs name the checkout; the entry serves only this directory",
            ctx.inv.source
        );
    }
    let entry = ManifestEntry {
        files: learned.files,
        absent: learned.absent,
        env: learned.env,
        listings: learned.listings,
        mtimes: learned.mtimes,
        tied_to,
        result: [0; 32],
    };
    let rkey = result_key(&ctx.manifest_key, &entry);
    let preprocessor_ok = learned.preprocessor_ok;
    let record = ResultRecord {
        outputs,
        stdout: paths.bytes_to_stored(&store.stdout),
        stderr: paths.bytes_to_stored(&store.stderr),
        deps: learned.tokens,
        system_deps: learned.system_deps,
        compile_ms: store.compile_ms,
        dep_info: learned.dep_info_text,
        preprocessor_ok,
    };
    state.index.put_result(rkey, record.clone());
    let mut manifest = state
        .index
        .manifest(&ctx.manifest_key)
        .map(|m| (*m).clone())
        .unwrap_or_default();
    let stored_entry = ManifestEntry {
        result: rkey,
        ..entry
    };
    manifest.push_front(stored_entry.clone());
    state.index.put_manifest(ctx.manifest_key, manifest);
    super::remote::upload_stored(ctx, rkey, &stored_entry, &record);
    match pp_key {
        Some(pkey) if preprocessor_ok => state.index.put_preproc(pkey, rkey),
        Some(_) => {}
        None if preprocessor_ok
            && state.settings.preprocessor.value
            && ctx.inv.language != Language::Preprocessed
            && !ctx.inv.preprocess_args.is_empty() =>
        {
            if let Some(backfill) = state.backfill.get() {
                backfill.submit(super::backfill::Job {
                    compiler: ctx.req.compiler.clone(),
                    args: ctx.inv.preprocess_args.clone(),
                    cwd: ctx.cwd.to_path_buf(),
                    env: ctx.req.env.clone(),
                    manifest_key: ctx.manifest_key,
                    result_key: rkey,
                    files: manifest_files_of(&state.index, &ctx.manifest_key, &rkey)
                        .into_iter()
                        .map(|(path, hash)| (paths.to_local(&path), hash))
                        .collect(),
                });
            }
        }
        None => {}
    }
    Ok(record)
}
