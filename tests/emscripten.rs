//! End-to-end tests of the Emscripten integration with the real `emcc`/`em++`: objects and
//! links cached at the emcc level, byte-identical objects, a cached program that runs under
//! node, misses on a changed `-s` setting / header / packaged file, counted pass-throughs,
//! an `emcmake cmake` build through `cmake/zccache.cmake`, masquerade symlinks, and the
//! `COMPILER_WRAPPER` config routing.

mod common;

use common::{assert_ok, require_tool, TestCache};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FIXTURE_FILES: &[&str] = &[
    "main.c",
    "util.cpp",
    "util.h",
    "CMakeLists.txt",
    "assets/one.txt",
    "assets/two.txt",
];

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/emscripten")
}

/// Copies the fixture project into `dir`.
fn copy_fixture(dir: &Path) {
    for f in FIXTURE_FILES {
        let dest = dir.join(f);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(fixture_dir().join(f), &dest).unwrap();
    }
}

/// Clears the environment variables that would change which emcc setup is used.
fn clean_em_env(cmd: &mut Command) {
    for var in [
        "EM_CONFIG",
        "EM_CACHE",
        "EMCC_CFLAGS",
        "EM_COMPILER_WRAPPER",
        "EMCC_DEBUG",
        "CMAKE_C_COMPILER_LAUNCHER",
        "CMAKE_CXX_COMPILER_LAUNCHER",
    ] {
        cmd.env_remove(var);
    }
}

/// `zccache <args…>` in the work dir, emcc environment cleaned.
fn zc(t: &TestCache, args: &[&str]) -> Output {
    let mut cmd = t.zccache();
    clean_em_env(&mut cmd);
    cmd.args(args).output().expect("spawn zccache")
}

/// A bare emcc/em++ in the work dir.
fn bare(t: &TestCache, tool: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(tool);
    clean_em_env(&mut cmd);
    cmd.current_dir(&t.work)
        .args(args)
        .output()
        .expect("spawn emcc")
}

fn ok(out: Output, what: &str) -> Output {
    assert_ok(&out, what);
    out
}

fn read(t: &TestCache, rel: &str) -> Vec<u8> {
    std::fs::read(t.work.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn rm(t: &TestCache, rels: &[&str]) {
    for r in rels {
        let _ = std::fs::remove_file(t.work.join(r));
    }
}

/// Runs a linked program under node (Debian's emcc output needs fetch disabled on node 20).
fn run_node(dir: &Path, js: &str) -> String {
    let out = Command::new(require_tool("node"))
        .arg("--no-experimental-fetch")
        .arg(js)
        .current_dir(dir)
        .output()
        .expect("spawn node");
    assert_ok(&out, "node");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const COMPILE_C: &[&str] = &["emcc", "-O1", "-c", "main.c", "-o", "main.o"];
const COMPILE_CXX: &[&str] = &[
    "em++", "-O1", "-c", "util.cpp", "-o", "util.o", "-MD", "-MF", "util.d",
];
const LINK: &[&str] = &[
    "em++",
    "main.o",
    "util.o",
    "-sEXIT_RUNTIME=1",
    "-o",
    "app.js",
];

#[test]
fn objects_and_link_hit_byte_identical_and_run() {
    require_tool("emcc");
    let t = TestCache::new();
    copy_fixture(&t.work);

    // Reference objects from bare emcc.
    ok(bare(&t, "emcc", &COMPILE_C[1..]), "bare emcc -c");
    ok(bare(&t, "em++", &COMPILE_CXX[1..]), "bare em++ -c");
    let ref_c = read(&t, "main.o");
    let ref_cxx = read(&t, "util.o");
    let ref_dep = read(&t, "util.d");
    rm(&t, &["main.o", "util.o", "util.d"]);

    // Cold build: all misses.
    ok(zc(&t, COMPILE_C), "zccache emcc -c");
    ok(zc(&t, COMPILE_CXX), "zccache em++ -c");
    ok(zc(&t, LINK), "zccache em++ link");
    assert_eq!(t.stat("misses"), 3, "{}", t.stats());
    assert_eq!(t.stat("hits"), 0);
    assert_eq!(
        read(&t, "main.o"),
        ref_c,
        "miss object differs from bare emcc"
    );
    let cold_js = read(&t, "app.js");
    let cold_wasm = read(&t, "app.wasm");

    // Rebuild from clean: all hits, identical outputs, runnable program.
    rm(&t, &["main.o", "util.o", "util.d", "app.js", "app.wasm"]);
    ok(zc(&t, COMPILE_C), "zccache emcc -c (warm)");
    ok(zc(&t, COMPILE_CXX), "zccache em++ -c (warm)");
    ok(zc(&t, LINK), "zccache em++ link (warm)");
    assert_eq!(t.stat("hits"), 3, "{}", t.stats());
    assert_eq!(t.stat("misses"), 3);
    assert_eq!(
        read(&t, "main.o"),
        ref_c,
        "cached C object differs from bare emcc"
    );
    assert_eq!(
        read(&t, "util.o"),
        ref_cxx,
        "cached C++ object differs from bare em++"
    );
    assert_eq!(
        read(&t, "util.d"),
        ref_dep,
        "rendered depfile differs from em++'s"
    );
    assert_eq!(read(&t, "app.js"), cold_js);
    assert_eq!(
        read(&t, "app.wasm"),
        cold_wasm,
        "link hit must restore the .wasm too"
    );
    assert_eq!(
        run_node(&t.work, "app.js"),
        "hello from zccache: 42\n",
        "program linked from the cache"
    );

    // A changed -s setting misses (compile and link).
    let mut compile_s = COMPILE_CXX.to_vec();
    compile_s.push("-sDISABLE_EXCEPTION_CATCHING=0");
    ok(zc(&t, &compile_s), "em++ -c with another -s");
    let mut link_s = LINK.to_vec();
    link_s.push("-sINITIAL_MEMORY=33554432");
    ok(zc(&t, &link_s), "link with another -s");
    assert_eq!(t.stat("misses"), 5, "{}", t.stats());
    assert_eq!(t.stat("hits"), 3);

    // A changed header misses; the original content hits again.
    let header = t.work.join("util.h");
    let original = std::fs::read_to_string(&header).unwrap();
    std::fs::write(&header, original.replace("hello from zccache", "changed")).unwrap();
    ok(zc(&t, COMPILE_C), "emcc -c after header edit");
    assert_eq!(t.stat("misses"), 6, "{}", t.stats());
    assert_ne!(read(&t, "main.o"), ref_c);
    std::fs::write(&header, original).unwrap();
    ok(zc(&t, COMPILE_C), "emcc -c after header restore");
    assert_eq!(t.stat("hits"), 4, "{}", t.stats());
    assert_eq!(read(&t, "main.o"), ref_c);
}

#[test]
fn preload_file_link_restores_data_and_tracks_package_files() {
    require_tool("emcc");
    let t = TestCache::new();
    copy_fixture(&t.work);
    ok(zc(&t, COMPILE_C), "emcc -c");
    ok(zc(&t, COMPILE_CXX), "em++ -c");
    let link: &[&str] = &[
        "em++",
        "main.o",
        "util.o",
        "--preload-file",
        "assets@/assets",
        "--pre-js",
        "pre.js",
        "-o",
        "web.html",
    ];
    t.write("pre.js", "// pre-js v1\n");
    ok(zc(&t, link), "link with --preload-file (cold)");
    let files = ["web.html", "web.js", "web.wasm", "web.data"];
    let cold: Vec<Vec<u8>> = files.iter().map(|f| read(&t, f)).collect();
    rm(&t, &files);
    ok(zc(&t, link), "link with --preload-file (warm)");
    assert_eq!(t.stat("hits"), 1, "{}", t.stats());
    for (f, bytes) in files.iter().zip(&cold) {
        assert_eq!(&read(&t, f), bytes, "{f} restored by the link hit");
    }
    // A file inside the packaged directory, or the --pre-js file, changes the key.
    t.write("assets/two.txt", "asset two, edited\n");
    ok(zc(&t, link), "link after asset edit");
    t.write("pre.js", "// pre-js v2\n");
    ok(zc(&t, link), "link after pre-js edit");
    assert_eq!(t.stat("hits"), 1, "{}", t.stats());
    assert_eq!(t.stat("misses"), 5, "{}", t.stats());
}

#[test]
fn emscripten_queries_and_compile_and_link_pass_through_counted() {
    require_tool("emcc");
    let t = TestCache::new();
    copy_fixture(&t.work);
    ok(zc(&t, &["emcc", "--version"]), "emcc --version");
    ok(zc(&t, &["emcc", "--show-ports"]), "emcc --show-ports");
    assert_eq!(t.reason("query"), 2, "{}", t.stats());
    let out = ok(
        zc(&t, &["emcc", "main.c", "util.cpp", "-o", "both.js"]),
        "compile+link",
    );
    assert!(out.status.success());
    assert_eq!(t.reason("compile_and_link"), 1, "{}", t.stats());
    assert!(t.work.join("both.wasm").is_file());
}

#[test]
fn masquerade_symlink_routes_plain_emcc() {
    require_tool("emcc");
    let t = TestCache::new();
    copy_fixture(&t.work);
    let bin = t.root.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for name in ["emcc", "em++"] {
        std::os::unix::fs::symlink(common::zccache_bin(), bin.join(name)).unwrap();
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for _ in 0..2 {
        rm(&t, &["util.o"]);
        let mut cmd = Command::new("em++");
        t.apply_env(&mut cmd);
        clean_em_env(&mut cmd);
        let out = cmd
            .env("PATH", &path)
            .current_dir(&t.work)
            .args(&COMPILE_CXX[1..])
            .output()
            .expect("spawn em++ symlink");
        assert_ok(&out, "masqueraded em++ -c");
    }
    assert_eq!(t.stat("misses"), 1, "{}", t.stats());
    assert_eq!(t.stat("hits"), 1, "{}", t.stats());
}

#[test]
fn config_compiler_wrapper_routes_bare_emcc() {
    require_tool("emcc");
    let t = TestCache::new();
    copy_fixture(&t.work);
    // The installed config plus the snippet from emscripten/, as a user would write it.
    let emcc = require_tool("emcc");
    let root = std::fs::canonicalize(&emcc)
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let base = std::fs::read_to_string(root.join(".emscripten"))
        .expect("installed Emscripten config (<root>/.emscripten)");
    let config = t.root.path().join("emscripten-config.py");
    std::fs::write(
        &config,
        format!(
            "{base}\n# zccache\nCOMPILER_WRAPPER = '{}'\n",
            common::zccache_bin().display()
        ),
    )
    .unwrap();
    for _ in 0..2 {
        rm(&t, &["main.o"]);
        let mut cmd = Command::new(&emcc);
        t.apply_env(&mut cmd);
        clean_em_env(&mut cmd);
        let out = cmd
            .env("EM_CONFIG", &config)
            .current_dir(&t.work)
            .args(&COMPILE_C[1..])
            .output()
            .expect("spawn emcc");
        assert_ok(&out, "emcc with COMPILER_WRAPPER config");
    }
    // Emcc's inner clang call went through zccache: one miss, then one hit.
    assert_eq!(t.stat("misses"), 1, "{}", t.stats());
    assert_eq!(t.stat("hits"), 1, "{}", t.stats());
}

#[test]
fn emcmake_cmake_build_hits_on_rebuild() {
    require_tool("emcc");
    require_tool("emcmake");
    require_tool("cmake");
    let t = TestCache::new();
    copy_fixture(&t.work);
    let module = Path::new(env!("CARGO_MANIFEST_DIR")).join("cmake/zccache.cmake");
    assert!(module.is_file(), "{} is missing", module.display());
    let zdir = common::zccache_bin().parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        zdir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = |args: &[&str], what: &str| {
        let mut cmd = Command::new(args[0]);
        t.apply_env(&mut cmd);
        clean_em_env(&mut cmd);
        let out = cmd
            .args(&args[1..])
            .env("PATH", &path)
            .current_dir(&t.work)
            .output()
            .expect("spawn");
        assert_ok(&out, what);
        out
    };
    let configure = format!("-DZCCACHE_CMAKE={}", module.display());
    let out = run(
        &["emcmake", "cmake", "-S", ".", "-B", "build", &configure],
        "emcmake cmake",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("zccache"),
        "configure did not mention zccache:\n{text}"
    );
    run(&["cmake", "--build", "build"], "first build");
    t.zero();
    run(&["cmake", "--build", "build", "--target", "clean"], "clean");
    run(&["cmake", "--build", "build"], "rebuild");
    assert_eq!(t.stat("hits"), 2, "{}", t.stats());
    assert_eq!(t.stat("misses"), 0, "{}", t.stats());
    assert_eq!(
        run_node(&t.work.join("build"), "app.js"),
        "hello from zccache: 42\n"
    );
}

/// A file emcc's Python reads that no flag table knows as an input (`-sEXPORTED_FUNCTIONS=@…`):
/// the access recorder keys it, so editing it relinks, and the output equals a bare link.
#[test]
fn settings_file_read_by_emcc_is_an_input() {
    require_tool("emcc");
    let t = TestCache::new();
    t.write(
        "lib.c",
        "int add(int a, int b) { return a + b; }\nint sub(int a, int b) { return a - b; }\n",
    );
    ok(zc(&t, &["emcc", "-c", "lib.c", "-o", "lib.o"]), "emcc -c");
    let link: &[&str] = &[
        "emcc",
        "lib.o",
        "-sEXPORTED_FUNCTIONS=@exports.json",
        "--no-entry",
        "-o",
        "lib.js",
    ];
    t.write("exports.json", "[\"_add\"]\n");
    ok(zc(&t, link), "link exporting add");
    ok(zc(&t, link), "link exporting add again");
    assert_eq!(t.stat("hits"), 1, "{}", t.stats());
    t.write("exports.json", "[\"_add\", \"_sub\"]\n");
    ok(zc(&t, link), "link exporting add and sub");
    assert_eq!(
        t.stat("hits"),
        1,
        "an edited settings file must relink: {}",
        t.stats()
    );
    let ours = (read(&t, "lib.js"), read(&t, "lib.wasm"));
    rm(&t, &["lib.js", "lib.wasm"]);
    let bare_link: Vec<&str> = link[1..].to_vec();
    ok(bare(&t, "emcc", &bare_link), "bare link");
    let theirs = (read(&t, "lib.js"), read(&t, "lib.wasm"));
    assert!(ours == theirs, "the relinked JS and wasm equal a bare link");
}
