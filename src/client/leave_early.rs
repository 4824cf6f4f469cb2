//! A miss whose wrapper need not wait for the daemon's answer: a link or a dependency scan,
//! for which the daemon sends nothing back for the build. The wrapper may leave as soon as its
//! store is sent when it can hand over everything the daemon will need later: each large
//! output opened under a read lease (the build may touch it the moment this process exits: an
//! in-place writer then waits for the daemon's copy, a file put in its place leaves the leased
//! one intact), and the certainty, checked now, that the compile left no file behind besides
//! its outputs (later the build could have moved one away).

use crate::ipc::CompilePlan;
use std::fs::File;
use std::path::Path;

/// What goes along with an unanswered store: one leased file per path-handed output.
pub struct Handover {
    pub files: Vec<File>,
}

/// The handover for this miss, or None when the wrapper must wait for the answer (the plan
/// does not allow leaving, a depfile comes back, the access log or a lease is missing, or the
/// compile left another file behind).
pub fn prepare(
    plan: &CompilePlan,
    output_files: &[Option<(String, u32)>],
    accesses: Option<&[u8]>,
    cwd: &Path,
    cache_root: &Path,
) -> Option<Handover> {
    if !plan.store_unanswered_ok
        || plan.depfile_placeholder.is_some()
        || plan.depfile_path.is_some()
    {
        return None;
    }
    let written = crate::daemon::accesses::written_paths(accesses?)?;
    let declared: Vec<&str> = plan.outputs.iter().map(String::as_str).collect();
    if crate::daemon::link::left_behind(written, cwd, &declared, cache_root).is_some() {
        return None;
    }
    if output_files.iter().any(Option::is_some) {
        // Someone opening a leased output for writing before this process is gone must not
        // end it (SIGIO's default); the daemon checks its leases held after copying.
        crate::daemon::large_outputs::ignore_lease_breaks();
    }
    let files = output_files
        .iter()
        .flatten()
        .map(|(path, _)| crate::daemon::large_outputs::lease(Path::new(path)))
        .collect::<Option<Vec<File>>>()?;
    Some(Handover { files })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(outputs: &[&str]) -> CompilePlan {
        CompilePlan {
            args: Vec::new(),
            depfile_placeholder: None,
            depfile_path: None,
            outputs: outputs.iter().map(|o| o.to_string()).collect(),
            optional: vec![false; outputs.len()],
            keep_prior_outputs: false,
            extra_env: Vec::new(),
            recorder: None,
            store_unanswered_ok: true,
        }
    }

    #[test]
    fn leaves_only_with_leases_and_nothing_left_behind() {
        let dir = tempfile::tempdir().unwrap();
        let cwd = dir.path();
        std::fs::write(cwd.join("prog"), vec![1u8; 4096]).unwrap();
        let prog = cwd.join("prog").to_string_lossy().into_owned();
        let files = vec![Some((prog, 0o755))];
        let cache = cwd.join("cache");
        let log = b"P 1 /usr/bin/ld\nW prog\nW /tmp/gone-temp-file-of-the-link\nQ 1\n";
        let handover = prepare(&plan(&["prog"]), &files, Some(log), cwd, &cache);
        assert_eq!(handover.map(|h| h.files.len()), Some(1), "leased and left");

        std::fs::write(cwd.join("prog.map"), "left behind").unwrap();
        let log = b"W prog\nW prog.map\n";
        assert!(prepare(&plan(&["prog"]), &files, Some(log), cwd, &cache).is_none());
        assert!(prepare(
            &plan(&["prog", "prog.map"]),
            &[files[0].clone(), None],
            Some(log),
            cwd,
            &cache
        )
        .is_some());
        assert!(
            prepare(&plan(&["prog"]), &files, None, cwd, &cache).is_none(),
            "no log"
        );
        let mut answered = plan(&["prog"]);
        answered.store_unanswered_ok = false;
        assert!(prepare(&answered, &files, Some(b"W prog\n"), cwd, &cache).is_none());
        let missing = vec![Some((cwd.join("absent").to_string_lossy().into_owned(), 0))];
        assert!(prepare(&plan(&["absent"]), &missing, Some(b""), cwd, &cache).is_none());
    }
}
