//! The dependency-scan side of the gcc/clang adapter: `-M`/`-MM` without `-c`/`-S`/`-E`
//! (e.g. Redis's `cc -MM *.c > Makefile.dep`) → an [`Invocation`] whose result is the rules
//! it prints (stdout) or writes (`-MF`/`-o`).
//!
//! A scan reads every header the sources include, system headers too (`-MM` only leaves them
//! out of what it prints): like a link, everything it reads beyond the sources named on the
//! command line is learned by the daemon's access recorder — the headers, the ones looked for
//! and not found on the search path, the compiler's own files — and every file it writes must
//! be a declared output.

use super::Scan;
use crate::family::Family;
use crate::invocation::{Invocation, OutputSlot, Uncacheable};

/// Marker in the key so a scan never shares a key with a compile or a link.
pub const DEP_SCAN_MARKER: &str = "--zccache-dep-scan";

/// Builds the [`Invocation`] of a dependency scan (`mode` is `-M` or `-MM`).
pub(super) fn build(family: Family, s: Scan, mode: &str) -> Result<Invocation, Uncacheable> {
    if s.compile || s.assemble_only || s.dep_md || s.dep_mmd || !s.link_inputs.is_empty() {
        // `-M -c`, `-M -MD`, object operands: rare mixtures, left to the compiler.
        return Err(Uncacheable::PreprocessOnly);
    }
    let Some((first, _)) = s.sources.first().cloned() else {
        return Err(Uncacheable::NoSource);
    };
    if s.output.is_some() && s.dep_mf.is_some() {
        return Err(Uncacheable::UnsupportedOption(format!(
            "{mode} with both -o and -MF"
        )));
    }
    let mut dep_args = vec![mode.to_string()];
    if s.dep_phony {
        dep_args.push("-MP".into());
    }
    for target in &s.dep_targets {
        // Already make-quoted (`-MQ` values were quoted by the scan): `-MT` keeps them as is.
        dep_args.push("-MT".into());
        dep_args.push(target.clone());
    }
    let mut outputs = Vec::new();
    for (flag, path) in [("-MF", &s.dep_mf), ("-o", &s.output)] {
        if let Some(path) = path {
            dep_args.push(flag.into());
            dep_args.push(path.clone());
            outputs.push(OutputSlot {
                role: "deps".into(),
                path: path.clone(),
                optional: false,
            });
        }
    }

    let mut key_args = vec![DEP_SCAN_MARKER.to_string()];
    key_args.extend(s.key_args.iter().cloned());
    key_args.extend(dep_args.iter().cloned());
    let mut miss_args = s.passthrough.clone();
    miss_args.extend(dep_args);

    let mut extra_inputs: Vec<String> = s.sources.iter().map(|(path, _)| path.clone()).collect();
    extra_inputs.extend(s.extra_inputs);
    Ok(super::link::recorded_invocation(
        family,
        key_args,
        first,
        extra_inputs,
        Vec::new(),
        outputs,
        miss_args,
    ))
}

#[cfg(test)]
mod tests {
    use super::super::tests::parse_line;
    use super::*;

    #[test]
    fn a_scan_of_several_sources_keys_them_all_and_prints_to_stdout() {
        let inv = parse_line("-O2 -Idep -MM a.c b.c").unwrap();
        assert!(inv.link && inv.is_dependency_scan());
        assert_eq!(inv.stats_family(), "gcc-deps");
        assert_eq!(inv.source, "a.c");
        assert_eq!(inv.extra_inputs, vec!["a.c", "b.c"]);
        assert!(inv.outputs.is_empty());
        assert_eq!(inv.miss_args, ["-O2", "-Idep", "a.c", "b.c", "-MM"]);
        assert_eq!(inv.key_args[0], DEP_SCAN_MARKER);
        assert_ne!(
            parse_line("-M a.c").unwrap().key_args,
            parse_line("-MM a.c").unwrap().key_args
        );
    }

    #[test]
    fn targets_phony_rules_and_output_files_are_kept() {
        let inv = parse_line("-MM -MP -MT obj/a.o -MQ 'x y.o' -MF a.d a.c").unwrap();
        assert_eq!(inv.outputs.len(), 1);
        assert_eq!(inv.outputs[0].path, "a.d");
        assert_eq!(
            inv.miss_args,
            ["a.c", "-MM", "-MP", "-MT", "obj/a.o", "-MT", "x\\ y.o", "-MF", "a.d"]
        );
        let inv = parse_line("-M a.c -o deps.mk").unwrap();
        assert_eq!(inv.outputs[0].path, "deps.mk");
    }

    #[test]
    fn mixtures_stay_uncached() {
        let reason = |line: &str| parse_line(line).unwrap_err().name();
        assert_eq!(reason("-M -c a.c"), "preprocess_only");
        assert_eq!(reason("-E -M a.c"), "preprocess_only");
        assert_eq!(reason("-MM -MD a.c"), "preprocess_only");
        assert_eq!(reason("-MM a.c b.o"), "preprocess_only");
        assert_eq!(reason("-MM"), "no_source");
        assert_eq!(reason("-MM a.c -o x -MF y"), "unsupported_option");
        assert_eq!(reason("-MM -MG a.c"), "unsupported_option");
    }
}
