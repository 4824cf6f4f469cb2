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
use std::path::{Path, PathBuf};

/// Reason counted when a link wrote a file the cache would not restore.
pub const UNDECLARED_OUTPUT: &str = "link_undeclared_output";

/// Checks that everything the link wrote and left behind is a declared output.
pub(super) fn check_writes(ctx: &Ctx, acc: &Accesses) -> Result<(), IngestError> {
    let declared: Vec<&str> = ctx.inv.outputs.iter().map(|o| o.path.as_str()).collect();
    let written = acc.written.iter().map(String::as_str);
    match left_behind(written, ctx.cwd, &declared, &ctx.state.layout.root) {
        None => Ok(()),
        Some(path) => {
            tracing::debug!(
                "link {}: wrote {} which is not a known output; not cached",
                ctx.inv.source,
                path.display()
            );
            Err(IngestError::Uncacheable(UNDECLARED_OUTPUT))
        }
    }
}

/// The first file of `written` (paths as the recorder logged them, relative ones to `cwd`)
/// that is still there and is neither one of the `declared` outputs nor under the cache dir;
/// None when all the rest were temporary files (collect2's, lto-wrapper's, a linker's temp
/// output) removed or renamed away by the end of the link. The wrapper asks this too before
/// leaving without an answer (the daemon must see what the link left, not what the build
/// did next).
pub fn left_behind<'a>(
    written: impl IntoIterator<Item = &'a str>,
    cwd: &Path,
    declared: &[&str],
    cache_root: &Path,
) -> Option<PathBuf> {
    let declared: HashSet<PathBuf> = declared
        .iter()
        .map(|o| normalize(&join_cwd(cwd, o)))
        .collect();
    written
        .into_iter()
        .map(|w| normalize(&join_cwd(cwd, w)))
        .find(|abs| {
            !declared.contains(abs)
                && !abs.starts_with(cache_root)
                && std::fs::symlink_metadata(abs).is_ok()
        })
}
