//! Fuzzes the emcc argv adapter (`emcc::parse`) against a small fake Emscripten tree (driver,
//! `emcc.py`, config, clang, wasm-ld, a sysroot library) so parses get past the toolchain
//! lookup. NUL-separated command line; a first item `EMCC_CFLAGS=…` becomes that env var.
//! Checks: no panic, a deterministic result, the driver name first in every key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use zccache_fuzz::argv;
use zccache_integrations::emcc;

fn tree() -> &'static Path {
    static TREE: OnceLock<PathBuf> = OnceLock::new();
    TREE.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("zccache-fuzz-emcc-{}", std::process::id()));
        let files: &[(&str, String)] = &[
            ("em/emcc.py", "# emcc".into()),
            ("em/emcc", "#!/bin/sh".into()),
            ("em/em++", "#!/bin/sh".into()),
            ("em/emscripten-version.txt", "3.1.6".into()),
            ("em/src/library.js", "//".into()),
            (
                "em/.emscripten",
                format!(
                    "LLVM_ROOT = '{}/llvm'\nBINARYEN_ROOT = '/nonexistent'\nFROZEN_CACHE = True\n",
                    root.display()
                ),
            ),
            ("llvm/clang", "clang".into()),
            ("llvm/wasm-ld", "wasm-ld".into()),
            ("em/cache/sysroot/lib/wasm32-emscripten/libc.a", "libc".into()),
            ("w/a.o", "obj".into()),
            ("w/pre.js", "// pre".into()),
            ("w/assets/x.txt", "x".into()),
            ("w/args.rsp", "-O2 -c a.c".into()),
        ];
        for (rel, text) in files {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("create tree dir");
            std::fs::write(p, text).expect("write tree file");
        }
        root
    })
}

fuzz_target!(|data: &[u8]| {
    let mut args = argv(data);
    let root = tree();
    let mut cflags = None;
    if let Some(v) = args.first().and_then(|a| a.strip_prefix("EMCC_CFLAGS=")) {
        cflags = Some(v.to_string());
        args.remove(0);
    }
    let mut env = emcc::Env::new();
    if let Some(v) = &cflags {
        env.insert("EMCC_CFLAGS", v);
    }
    let driver = if data.len() % 2 == 0 { "em/emcc" } else { "em/em++" };
    let compiler = root.join(driver);
    let cwd = root.join("w");
    let first = emcc::parse(&compiler, &args, &cwd, &env);
    assert_eq!(first, emcc::parse(&compiler, &args, &cwd, &env));
    let Ok(inv) = first else { return };
    assert!(inv.key_args[0].starts_with("--zccache-emcc-driver="));
    assert!(!inv.outputs.is_empty() && !inv.outputs[0].optional);
});
