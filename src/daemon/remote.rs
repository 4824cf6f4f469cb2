//! The compile conversation's use of the remote tier: on a local miss, the remote manifest's
//! entries are checked against this build's files exactly like local ones; the first that
//! matches has its result fetched (every blob verified), written to the local store, and
//! served as a hit. After a miss is stored locally, it is queued for upload.

use super::compile::{entry_matches, try_hit, Ctx};
use crate::ipc::FrameError;
use crate::store::records::{ManifestEntry, ResultRecord, StoredOutput};
use crate::store::remote::{upload, FetchedResult, RemoteCounters};
use crate::store::Digest;

/// Serves the compile from a remote if one has a matching entry. Some(outcome) when the
/// conversation ended with a hit.
pub(super) fn try_remote<C: super::session::Conn>(
    ctx: &mut Ctx,
    conn: &mut C,
) -> Result<Option<Result<(), FrameError>>, FrameError> {
    let Some(remote) = ctx.state.remote.clone() else {
        return Ok(None);
    };
    let started = std::time::Instant::now();
    let Some(manifest) = remote.fetch_manifest(&ctx.manifest_key) else {
        RemoteCounters::add(&remote.counters.misses, 1);
        tracing::debug!(
            "remote: no manifest for {} ({:?})",
            ctx.inv.source,
            started.elapsed()
        );
        return Ok(None);
    };
    for entry in &manifest.entries {
        if !entry_matches(ctx, entry) {
            continue;
        }
        let Some(fetched) = remote.fetch_result(&entry.result) else {
            continue;
        };
        if !store_locally(ctx, entry, fetched) {
            continue;
        }
        if let Some(done) = try_hit(ctx, conn, &entry.result, false)? {
            RemoteCounters::add(&remote.counters.hits, 1);
            tracing::debug!(
                "remote hit for {} in {:?}",
                ctx.inv.source,
                started.elapsed()
            );
            return Ok(Some(done));
        }
    }
    RemoteCounters::add(&remote.counters.misses, 1);
    Ok(None)
}

/// Writes a fetched result and its entry into the local store.
fn store_locally(ctx: &Ctx, entry: &ManifestEntry, fetched: FetchedResult) -> bool {
    let state = ctx.state;
    let mut outputs = Vec::new();
    for (role, bytes, mode) in &fetched.outputs {
        let blob = match state.blobs.put(bytes) {
            Ok(blob) => blob,
            Err(e) => {
                tracing::warn!("could not store a remote result: {e}");
                return false;
            }
        };
        state.index.add_blob(blob, bytes.len() as u64);
        outputs.push(StoredOutput {
            role: role.clone(),
            blob,
            size: bytes.len() as u64,
            mode: *mode,
            blob_ctime_ns: state.blobs.ctime_ns(&blob).unwrap_or(0),
        });
    }
    let meta = fetched.meta;
    state.index.put_result(
        entry.result,
        ResultRecord {
            outputs,
            stdout: fetched.stdout,
            stderr: fetched.stderr,
            deps: meta.deps,
            system_deps: meta.system_deps,
            compile_ms: meta.compile_ms,
            dep_info: meta.dep_info,
            preprocessor_ok: meta.preprocessor_ok,
        },
    );
    let mut manifest = state
        .index
        .manifest(&ctx.manifest_key)
        .map(|m| (*m).clone())
        .unwrap_or_default();
    manifest.push_front(entry.clone());
    state.index.put_manifest(ctx.manifest_key, manifest);
    true
}

/// Queues a stored miss for upload to the remotes.
pub(super) fn upload_stored(
    ctx: &Ctx,
    result_key: Digest,
    entry: &ManifestEntry,
    record: &ResultRecord,
) {
    let Some(remote) = &ctx.state.remote else {
        return;
    };
    remote.enqueue(upload::Job {
        manifest_key: ctx.manifest_key,
        result_key,
        entry: entry.clone(),
        record: record.clone(),
        blob_paths: record
            .outputs
            .iter()
            .map(|o| ctx.state.blobs.path(&o.blob))
            .collect(),
    });
}
