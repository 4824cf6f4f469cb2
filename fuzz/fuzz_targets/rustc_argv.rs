//! Fuzzes the rustc argv adapter (`rustc::parse`) with NUL-separated command lines: no panic,
//! a deterministic result, and every output and the dep-info inside the `--out-dir`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zccache_fuzz::{argv, scratch_dir};
use zccache_integrations::{rustc, DepfilePlan};

fuzz_target!(|data: &[u8]| {
    let args = argv(data);
    let cwd = scratch_dir();
    let first = rustc::parse(&args, cwd);
    assert_eq!(first, rustc::parse(&args, cwd), "parse is deterministic");
    let Ok(inv) = first else { return };
    let DepfilePlan::RustDepInfo { path } = &inv.depfile else {
        panic!("a rustc invocation plans its dep-info: {:?}", inv.depfile);
    };
    assert!(path.ends_with(".d"));
    let dir = &path[..path.rfind('/').expect("dep-info path in the out dir") + 1];
    for out in &inv.outputs {
        assert!(out.path.starts_with(dir), "{} outside {dir}", out.path);
    }
    assert_eq!(inv.miss_args, args, "a miss runs rustc with the command line as given");
});
