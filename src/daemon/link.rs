//! Link-specific checks on a miss of a gcc/clang link, from what the access recorder saw:
//! every file the link (driver, collect2, the linker, lto-wrapper, lto1, make…) wrote must be
//! one of the outputs the adapter named, a temporary file gone by the end of the link, or
//! zccache's own. A link that leaves another file behind (`--time-trace`, `--reproduce`,
//! `-save-temps`-like plugin options, `-Wl,@file` naming a map…) is not cached: a hit would
//! not restore it.

use super::accesses::Accesses;
use super::compile::{join_cwd, Ctx};
use super::learn::IngestError;
use crate::paths::normalize;
use std::collections::HashSet;
use std::path::PathBuf;

/// Reason counted when a link wrote a file the cache would not restore.
pub const UNDECLARED_OUTPUT: &str = "link_undeclared_output";

/// Checks that everything the link wrote and left behind is a declared output.
pub(super) fn check_writes(ctx: &Ctx, acc: &Accesses) -> Result<(), IngestError> {
    let declared: HashSet<PathBuf> = ctx
        .inv
        .outputs
        .iter()
        .map(|o| normalize(&join_cwd(ctx.cwd, &o.path)))
        .collect();
    let cache_root = &ctx.state.layout.root;
    for written in &acc.written {
        let abs = normalize(&join_cwd(ctx.cwd, written));
        if declared.contains(&abs) || abs.starts_with(cache_root) {
            continue;
        }
        if std::fs::symlink_metadata(&abs).is_err() {
            // A temporary file (collect2's, lto-wrapper's, a linker's temp output), removed
            // or renamed away by the end of the link.
            continue;
        }
        tracing::debug!(
            "link {}: wrote {} which is not a known output; not cached",
            ctx.inv.source,
            abs.display()
        );
        return Err(IngestError::Uncacheable(UNDECLARED_OUTPUT));
    }
    Ok(())
}
