//! The previous content of an output that the tool reads and updates in place (`ar r`/`q`
//! add to an archive that already exists, see `Invocation::reads_prior_output`): hashed into
//! the key before the tool runs, and named for `zccache explain`.

use super::compile::Early;
use super::state::DaemonState;
use crate::paths::resolve;
use crate::store::Digest;
use std::path::Path;
use zccache_integrations::Invocation;

/// How `explain` names an output's previous content among the key's parts.
pub(super) fn name(output: &str) -> String {
    format!("{output} (its content before the tool ran, or none)")
}

/// The previous content of the output a tool reads and updates (`ar r` adds to an existing
/// archive): its digest, or None when there is none.
pub(super) fn digest(
    state: &DaemonState,
    cwd: &Path,
    inv: &Invocation,
) -> Result<Option<Digest>, Early> {
    let Some(output) = inv.outputs.first() else {
        return Ok(None);
    };
    let path = resolve(cwd, &output.path);
    match std::fs::symlink_metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Ok(meta) if meta.is_file() => match state.hashes.digest_with_metadata(&path, &meta) {
            Ok(d) => Ok(Some(d.hash)),
            Err(_) => Err(Early::because(
                "input_unreadable",
                "the existing output the tool would update cannot be read",
            )),
        },
        _ => Err(Early::because(
            "input_unreadable",
            "the existing output the tool would update is not a regular file",
        )),
    }
}
