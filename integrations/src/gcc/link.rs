//! The link side of the gcc/clang adapter: a command line without `-c`/`-S` whose operands
//! are objects, archives, shared libraries or linker scripts → an [`Invocation`] that links.
//!
//! The argv only names the outputs and the operands; everything the link reads beyond them
//! (libraries resolved through `-L`/`LIBRARY_PATH`/the default dirs, crt files, `libc.so`'s
//! linker script and what it names, `-T` and version scripts, collect2/ld/lto-wrapper/lto1,
//! the LTO plugin) is learned from the link itself by the daemon's access recorder, never by
//! re-implementing the linker's search here. What a link writes beyond the outputs named here
//! is checked by the daemon after the link (an undeclared output makes it uncacheable).

use super::Scan;
use crate::family::Family;
use crate::invocation::{DepfilePlan, IncludeDirs, Invocation, Language, OutputSlot, Uncacheable};

/// Marker in the key so a link never shares a key with a compile of the same argv shape.
const LINK_MARKER: &str = "--zccache-link";

/// The arguments the driver hands to the linker: `-Wl,a,b` and `-Xlinker a`, in order.
fn linker_args(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if let Some(list) = arg.strip_prefix("-Wl,") {
            out.extend(list.split(',').map(str::to_string));
        } else if arg == "-Xlinker" {
            if let Some(value) = args.get(i) {
                out.push(value.clone());
                i += 1;
            }
        }
    }
    out
}

/// Extra files the linker writes, from its own options; or why the link is not cacheable.
fn linker_outputs(args: &[String]) -> Result<Vec<OutputSlot>, Uncacheable> {
    let mut outputs = Vec::new();
    let mut i = 0;
    let slot = |role: &str, path: &str| OutputSlot {
        role: role.into(),
        path: path.into(),
        optional: false,
    };
    while i < args.len() {
        let arg = args[i].as_str();
        i += 1;
        // Options that write a file, as `--opt=F`, `-opt=F` or `--opt F`.
        for (names, role) in [
            (&["-Map", "--Map"][..], "map"),
            (&["--dependency-file", "-dependency-file"][..], "ld-dep"),
            (&["--out-implib", "-out-implib"][..], "implib"),
        ] {
            for name in names {
                if let Some(value) = arg.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
                    outputs.push(slot(role, value));
                } else if arg == *name {
                    let value = args.get(i).ok_or_else(|| {
                        Uncacheable::UnsupportedOption(format!("-Wl,{arg} without value"))
                    })?;
                    i += 1;
                    outputs.push(slot(role, value));
                }
            }
        }
        let bare = arg.trim_start_matches('-');
        if bare == "build-id=uuid" {
            return Err(Uncacheable::LinkNotReproducible(
                "--build-id=uuid writes a random build-id".into(),
            ));
        }
        if bare == "plugin" || bare.starts_with("plugin=") {
            return Err(Uncacheable::UnsupportedOption(format!(
                "-Wl,{arg} (a linker plugin zccache does not know)"
            )));
        }
        if bare.starts_with("incremental") {
            // gold's incremental links read and patch the previous output.
            return Err(Uncacheable::UnsupportedOption(format!("-Wl,{arg}")));
        }
        if arg == "-o" || bare == "output" || bare.starts_with("output=") {
            return Err(Uncacheable::UnsupportedOption(format!("-Wl,{arg}")));
        }
    }
    Ok(outputs)
}

/// Builds the [`Invocation`] of a link from the scan of its command line.
pub(super) fn build(family: Family, s: Scan) -> Result<Invocation, Uncacheable> {
    let output = s.output.clone().unwrap_or_else(|| "a.out".to_string());
    let Some(first) = s.link_inputs.first().cloned() else {
        // Only `-l` libraries (or nothing): nothing to anchor the entry to.
        return Err(Uncacheable::NoSource);
    };
    let mut outputs = vec![OutputSlot {
        role: "link".into(),
        path: output.clone(),
        optional: false,
    }];
    outputs.extend(linker_outputs(&linker_args(&s.key_args))?);

    let mut key_args = vec![LINK_MARKER.to_string()];
    // The output's name reaches the result (LTO unit names, the map file): keyed.
    key_args.push(format!("-o{output}"));
    key_args.extend(s.key_args.iter().cloned());

    let mut miss_args = s.passthrough.clone();
    miss_args.push("-o".into());
    miss_args.push(output);

    let key_env = ["LIBRARY_PATH", "LPATH", "LD_RUN_PATH"]
        .iter()
        .map(|v| v.to_string())
        .collect();
    Ok(recorded_invocation(
        family,
        key_args,
        first,
        s.link_inputs.clone(),
        key_env,
        outputs,
        miss_args,
    ))
}

/// An [`Invocation`] that reads its operands (`extra_inputs`, the first being `source`) and
/// whatever else the access recorder learns while it runs (a link, a dependency scan): no
/// depfile, and keyed by the working directory (LTO code generation and map files can record
/// it; a scan's rules name paths as found from it).
pub(super) fn recorded_invocation(
    family: Family,
    key_args: Vec<String>,
    source: String,
    extra_inputs: Vec<String>,
    key_env: Vec<String>,
    outputs: Vec<OutputSlot>,
    miss_args: Vec<String>,
) -> Invocation {
    Invocation {
        family,
        key_args,
        source,
        extra_inputs,
        key_env,
        key_env_prefixes: Vec::new(),
        key_env_exclude: Vec::new(),
        path_prefix_map: Vec::new(),
        tool_identities: Vec::new(),
        outputs,
        depfile: DepfilePlan::None,
        debug_info: true,
        embeds_input_mtimes: false,
        prefix_map_sources: Vec::new(),
        preprocess_args: Vec::new(),
        miss_args,
        include_dirs: IncludeDirs::default(),
        language: Language::Preprocessed,
        default_dirs_args: Vec::new(),
        link: true,
        reads_prior_output: false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::parse_line;
    use super::*;

    #[test]
    fn program_link_names_its_operands_and_output() {
        let inv = parse_line("-O2 -o prog a.o lib/b.o -Llib -lfoo -lm").unwrap();
        assert!(inv.link);
        assert_eq!(inv.source, "a.o");
        assert_eq!(inv.extra_inputs, vec!["a.o", "lib/b.o"]);
        assert_eq!(inv.outputs.len(), 1);
        assert_eq!(inv.outputs[0].path, "prog");
        assert_eq!(inv.depfile, DepfilePlan::None);
        assert_eq!(inv.miss_args.last().map(String::as_str), Some("prog"));
        assert!(inv.key_args.contains(&"-lfoo".to_string()));
        assert!(inv.key_args.contains(&"-oprog".to_string()));
        assert!(inv.debug_info);
    }

    #[test]
    fn default_output_and_shared_libraries() {
        let inv = parse_line("a.o").unwrap();
        assert_eq!(inv.outputs[0].path, "a.out");
        let inv = parse_line("-shared -fPIC -Wl,-soname,libx.so.1 -o libx.so x.o").unwrap();
        assert_eq!(inv.outputs[0].path, "libx.so");
    }

    #[test]
    fn linker_written_files_are_outputs() {
        let inv =
            parse_line("-o p a.o -Wl,-Map=p.map -Xlinker --dependency-file -Xlinker p.d").unwrap();
        let roles: Vec<(&str, &str)> = inv
            .outputs
            .iter()
            .map(|o| (o.role.as_str(), o.path.as_str()))
            .collect();
        assert_eq!(roles, [("link", "p"), ("map", "p.map"), ("ld-dep", "p.d")]);
        let inv = parse_line("-o p a.o -Wl,-Map,p.map").unwrap();
        assert_eq!(inv.outputs[1].path, "p.map");
    }

    #[test]
    fn links_that_cannot_be_cached_say_why() {
        let reason = |line: &str| parse_line(line).unwrap_err().name();
        assert_eq!(
            reason("-o p a.o -Wl,--build-id=uuid"),
            "link_not_reproducible"
        );
        assert_eq!(reason("-o p a.o -Wl,-plugin,x.so"), "unsupported_option");
        assert_eq!(reason("-o p a.o -Wl,-o,q"), "unsupported_option");
        assert_eq!(
            reason("-o p a.o -fuse-ld=gold -Wl,--incremental"),
            "unsupported_option"
        );
        assert_eq!(reason("-o p -lfoo"), "no_source");
        assert_eq!(reason("-o p a.c b.o"), "compile_and_link");
        assert_eq!(reason("-c a.c b.o"), "linking");
        assert_eq!(reason("-o p a.o --coverage"), "coverage");
    }
}
