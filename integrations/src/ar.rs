//! The archiver adapter (`ar`, `gcc-ar`, `llvm-ar`, target-prefixed names): `ar r|q…` that
//! writes an archive of the named members → an [`Invocation`] that archives.
//!
//! Only the operations that build an archive from files are cached: `r` and `q` with the
//! modifiers that keep the result a function of the members and their names (`c`, `s`, `S`,
//! `D`, `v`, `f`, `P`, and `u` for deterministic archives). Whatever else `ar` is asked (list,
//! extract, delete, move, positioned inserts, `U` which records timestamps, thin archives
//! which name members by path) runs uncached with a reason. An archive that already exists is read by
//! `r`/`q`: the daemon keys its previous content ([`Invocation::reads_prior_output`]). What the
//! archiver reads beyond the members (the LTO plugin it loads to index LTO objects, a response
//! file) is learned by the daemon's access recorder, as for links.

use crate::family::Family;
use crate::invocation::{DepfilePlan, IncludeDirs, Invocation, Language, OutputSlot, Uncacheable};
use crate::response_file;
use std::path::Path;

/// Marker in the key so an archive never shares a key with a compile or a link.
const ARCHIVE_MARKER: &str = "--zccache-ar";

/// Modifiers of `r`/`q` whose archive depends only on the members' contents and names.
/// `u` (replace only members newer than the archive's copies) is among them: a deterministic
/// archive records every member's time as 0, so every file is newer (GNU ar even ignores `u`
/// unless `U` is given), and the daemon stores only deterministic archives.
const KEPT_MODIFIERS: &[char] = &['c', 's', 'S', 'D', 'v', 'f', 'P', 'u'];

/// Why a modifier makes the archive uncacheable (None: not a known modifier).
fn modifier_refusal(modifier: char) -> Option<&'static str> {
    Some(match modifier {
        'U' => "U (records the members' real timestamps and owners)",
        'T' => "T (a thin archive names its members by path)",
        'a' | 'b' | 'i' => "a/b/i (inserts relative to an existing member)",
        'N' => "N (picks one of several members of the same name)",
        'l' => "l (records library dependencies)",
        'o' | 'O' => "o/O (extraction or offset display)",
        _ => return None,
    })
}

/// Parses an archiver command line (`args` excludes the archiver itself).
pub fn parse(args: &[String], cwd: &Path) -> Result<Invocation, Uncacheable> {
    let expanded = response_file::expand(args, cwd).map_err(Uncacheable::BadResponseFile)?;
    let mut key_args = vec![ARCHIVE_MARKER.to_string()];
    let mut operation: Option<String> = None;
    let mut archive: Option<String> = None;
    let mut members: Vec<String> = Vec::new();
    let mut i = 0;
    while i < expanded.len() {
        let arg = &expanded[i];
        i += 1;
        if operation.is_none() || archive.is_none() {
            if let Some(option) = arg.strip_prefix("--") {
                // Long options come before the archive name.
                let (name, inline) = match option.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (option, None),
                };
                match name {
                    "plugin" | "target" => {
                        let value = match inline {
                            Some(v) => v,
                            None => {
                                let v = expanded.get(i).cloned().ok_or_else(|| {
                                    Uncacheable::UnsupportedOption(format!(
                                        "--{name} without value"
                                    ))
                                })?;
                                i += 1;
                                v
                            }
                        };
                        key_args.push(format!("--{name}={value}"));
                    }
                    "version" | "help" => return Err(Uncacheable::Query),
                    "thin" => {
                        return Err(Uncacheable::UnsupportedOption(
                            "--thin (a thin archive names its members by path)".into(),
                        ))
                    }
                    _ => return Err(Uncacheable::UnknownOption(arg.clone())),
                }
                continue;
            }
        }
        if operation.is_none() {
            let letters = arg.strip_prefix('-').unwrap_or(arg);
            operation = Some(check_operation(letters)?);
            continue;
        }
        if archive.is_none() {
            archive = Some(arg.clone());
            continue;
        }
        members.push(arg.clone());
    }
    let Some(operation) = operation else {
        return Err(Uncacheable::NoSource);
    };
    let Some(archive) = archive else {
        return Err(Uncacheable::NoSource);
    };
    let Some(first) = members.first().cloned() else {
        // An empty archive: nothing to anchor the entry to.
        return Err(Uncacheable::NoSource);
    };
    if members.iter().any(|m| m == "-") {
        return Err(Uncacheable::Stdin);
    }
    key_args.push(operation);
    // Member names come from the operands (their base names, or the paths with `P`).
    key_args.extend(members.iter().cloned());

    Ok(Invocation {
        family: Family::Ar,
        key_args,
        source: first,
        extra_inputs: members,
        key_env: Vec::new(),
        key_env_prefixes: Vec::new(),
        key_env_exclude: Vec::new(),
        path_prefix_map: Vec::new(),
        tool_identities: Vec::new(),
        outputs: vec![OutputSlot {
            role: "archive".into(),
            path: archive,
            optional: false,
        }],
        depfile: DepfilePlan::None,
        debug_info: false,
        embeds_input_mtimes: false,
        prefix_map_sources: Vec::new(),
        preprocess_args: Vec::new(),
        miss_args: args.to_vec(),
        include_dirs: IncludeDirs::default(),
        language: Language::Preprocessed,
        default_dirs_args: Vec::new(),
        link: true,
        reads_prior_output: true,
    })
}

/// Checks the operation letters (`rcs`, `qc`, `-rcsD`…): exactly one of `r`/`q` and modifiers
/// that keep the archive reproducible. Returns the letters in a canonical order for the key.
fn check_operation(letters: &str) -> Result<String, Uncacheable> {
    let mut op = None;
    let mut modifiers: Vec<char> = Vec::new();
    for c in letters.chars() {
        match c {
            'r' | 'q' if op.is_none() => op = Some(c),
            'd' | 'm' | 'p' | 't' | 'x' | 'r' | 'q' => {
                return Err(Uncacheable::ArchiveOperation(letters.to_string()))
            }
            'V' => return Err(Uncacheable::Query),
            c if KEPT_MODIFIERS.contains(&c) => {
                if !modifiers.contains(&c) {
                    modifiers.push(c);
                }
            }
            c => {
                return Err(match modifier_refusal(c) {
                    Some(why) => Uncacheable::UnsupportedOption(format!("ar {why}")),
                    None => Uncacheable::UnknownOption(format!("ar modifier {c}")),
                })
            }
        }
    }
    let Some(op) = op else {
        // `ar s` (an index only, like ranlib) or modifiers alone.
        return Err(Uncacheable::ArchiveOperation(letters.to_string()));
    };
    modifiers.sort_unstable();
    let mut canonical = String::from(op);
    canonical.extend(modifiers);
    Ok(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_line(line: &str) -> Result<Invocation, Uncacheable> {
        parse(&response_file::split(line), Path::new("/nonexistent"))
    }

    #[test]
    fn an_archive_names_its_members_and_output() {
        let inv = parse_line("rcs libcore.a a.o sub/b.o").unwrap();
        assert_eq!(inv.family, Family::Ar);
        assert!(inv.link && inv.reads_prior_output);
        assert_eq!(inv.source, "a.o");
        assert_eq!(inv.extra_inputs, ["a.o", "sub/b.o"]);
        assert_eq!(inv.outputs.len(), 1);
        assert_eq!(inv.outputs[0].path, "libcore.a");
        assert_eq!(inv.key_args, [ARCHIVE_MARKER, "rcs", "a.o", "sub/b.o"]);
        assert_eq!(inv.miss_args, ["rcs", "libcore.a", "a.o", "sub/b.o"]);
        // The archive's own name is not keyed: another name shares the result.
        assert_eq!(
            parse_line("-rsc other.a a.o sub/b.o").unwrap().key_args,
            inv.key_args
        );
    }

    #[test]
    fn long_options_are_keyed() {
        let inv = parse_line("--plugin /p/lto.so qcs l.a a.o").unwrap();
        assert_eq!(
            inv.key_args,
            [ARCHIVE_MARKER, "--plugin=/p/lto.so", "qcs", "a.o"]
        );
        let inv = parse_line("--target=elf64-x86-64 rc l.a a.o").unwrap();
        assert_eq!(inv.key_args[1], "--target=elf64-x86-64");
        // libtool's `ar cru`.
        assert_eq!(parse_line("cru l.a a.o").unwrap().key_args[1], "rcu");
    }

    #[test]
    fn what_is_not_an_archive_build_says_why() {
        let reason = |line: &str| parse_line(line).unwrap_err().name();
        assert_eq!(reason("t libcore.a"), "ar_operation");
        assert_eq!(reason("x libcore.a a.o"), "ar_operation");
        assert_eq!(reason("d libcore.a a.o"), "ar_operation");
        assert_eq!(reason("s libcore.a"), "ar_operation");
        assert_eq!(reason("rq l.a a.o"), "ar_operation");
        assert_eq!(reason("rcU l.a a.o"), "unsupported_option");
        assert_eq!(reason("rcT l.a a.o"), "unsupported_option");
        assert_eq!(reason("--thin rc l.a a.o"), "unsupported_option");
        assert_eq!(reason("rb a.o l.a b.o"), "unsupported_option");
        assert_eq!(reason("rcZ l.a a.o"), "unknown_option");
        assert_eq!(reason("--record-libdeps x rc l.a a.o"), "unknown_option");
        assert_eq!(reason("--version"), "query");
        assert_eq!(reason("rcs l.a"), "no_source");
        assert_eq!(reason("rcs"), "no_source");
        assert_eq!(reason("rcs l.a -"), "stdin");
    }

    #[test]
    fn response_files_are_expanded() {
        let dir = std::env::temp_dir().join(format!("zccache-ar-rsp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("objs.rsp"), "a.o b.o\n").unwrap();
        let inv = parse(&["qc".into(), "l.a".into(), "@objs.rsp".into()], &dir).unwrap();
        assert_eq!(inv.extra_inputs, ["a.o", "b.o"]);
        assert_eq!(inv.miss_args, ["qc", "l.a", "@objs.rsp"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
