//! Fuzzes the gcc/clang argv adapter (`gcc::parse`, `gcc::split_per_source`) with NUL-separated
//! command lines: no panic, a deterministic result, and a split never yields a command that
//! splits again (the wrapper would answer `Split` forever) or has several sources.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zccache_fuzz::{argv, scratch_dir};
use zccache_integrations::{gcc, DepfilePlan, Family, Uncacheable, DEPFILE_PLACEHOLDER};

fuzz_target!(|data: &[u8]| {
    let args = argv(data);
    let cwd = scratch_dir();
    for family in [Family::Gcc, Family::Clang] {
        let first = gcc::parse(family, &args, cwd);
        assert_eq!(first, gcc::parse(family, &args, cwd), "parse is deterministic");
        let Ok(inv) = first else { continue };
        assert!(!inv.outputs.is_empty());
        if inv.link {
            assert_eq!(inv.depfile, DepfilePlan::None);
            continue;
        }
        assert!(
            inv.miss_args.iter().any(|a| a == DEPFILE_PLACEHOLDER),
            "a compile's miss run writes the injected depfile"
        );
        if let DepfilePlan::User { targets, .. } = &inv.depfile {
            assert!(!targets.is_empty());
        }
    }
    if let Some(commands) = gcc::split_per_source(&args, cwd) {
        assert!(commands.len() >= 2);
        for command in &commands {
            assert!(
                gcc::split_per_source(command, cwd).is_none(),
                "split command splits again: {command:?}"
            );
            assert!(!matches!(
                gcc::parse(Family::Gcc, command, cwd),
                Err(Uncacheable::MultipleSources)
            ));
        }
    }
});
