//! The Emscripten adapter (`emcc`, `em++`, `emcc.py`, emsdk's `upstream/emscripten/emcc`):
//! one emcc command line → [`Invocation`] or [`Uncacheable`].
//!
//! Compiles (`-c`, `-S`) reuse the gcc-family parse (emcc accepts clang's flags) after the
//! Emscripten-only options (the [`VALUED`] and [`FLAGS`] tables and `-s` settings) are taken out;
//! they go back into the key, the miss command and the `-E` command. Links (`-o app.js`,
//! `.html`, `.wasm`, …) are cached as a whole when every input is hashed: objects, archives,
//! `-l` libraries found on `-L` dirs, `--pre-js`/`--post-js`/`--js-library`/`--shell-file`
//! files, and the files of `--embed-file`/`--preload-file` (directories are walked). A link
//! restores every file it may write (`.js`, `.wasm`, `.data`, `.wasm.map`, `.html`, …) as
//! optional output slots.
//!
//! Emcc's own identity is part of every key: the driver name (`emcc`/`em++`), the content of
//! `emcc.py`, `emscripten-version.txt` and `tools/shared.py` of its tree, the active config file
//! (`--em-config`, `EM_CONFIG`, `<root>/.emscripten`, the emsdk's `.emscripten`, `~/.emscripten`),
//! the clang binary that config's `LLVM_ROOT` names (plus `wasm-ld`, `wasm-opt` and the JS
//! library sources for links), the cache/sysroot dir it compiles against, and every `EM_*`,
//! `EMCC_*`, `EMMAKEN_*` environment variable. Port builds (`-sUSE_SDL=2`, `--use-port`), which
//! write into the Emscripten cache, pass through with a counted reason.
//!
//! I/O beyond argv: reading the config file, stat-ing tool paths, listing the sysroot library
//! dir and walking `--embed-file` directories — what the parse needs to name every input.

use crate::family::Family;
use crate::gcc;
use crate::gcc::options::{self, is_known_flag, lookup_valued, OptKind};
use crate::invocation::{DepfilePlan, IncludeDirs, Invocation, Language, OutputSlot, Uncacheable};
use crate::response_file;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What an Emscripten-only option means to the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmKind {
    /// Affects the output; kept in the key as written.
    Keep,
    /// Names a file whose content is hashed (`--pre-js f`).
    Input,
    /// `--embed-file` / `--preload-file`: `src[@dst]`, a file or a directory.
    Package,
    /// `--em-config f`: the config file to use (hashed).
    Config,
    /// `--cache dir`: the Emscripten cache / sysroot dir.
    CacheDir,
    /// `--emit-symbol-map`: the link also writes `<target>.symbols`.
    SymbolMap,
    /// Prints information or manages the Emscripten cache: run uncached (`query`).
    Query,
    /// Runs user commands or writes outputs zccache does not model: run uncached.
    Unsupported,
    /// Builds a port into the Emscripten cache: run uncached (`emscripten_port`).
    Port,
}

/// Emscripten-only options that take a value, written `--opt v` or `--opt=v`.
pub const VALUED: &[(&str, EmKind)] = &[
    ("--pre-js", EmKind::Input),
    ("--post-js", EmKind::Input),
    ("--extern-pre-js", EmKind::Input),
    ("--extern-post-js", EmKind::Input),
    ("--js-library", EmKind::Input),
    ("--shell-file", EmKind::Input),
    ("--embed-file", EmKind::Package),
    ("--preload-file", EmKind::Package),
    ("--exclude-file", EmKind::Keep),
    ("--em-config", EmKind::Config),
    ("--cache", EmKind::CacheDir),
    ("--closure", EmKind::Keep),
    ("--closure-args", EmKind::Keep),
    ("--js-opts", EmKind::Keep),
    ("--llvm-opts", EmKind::Keep),
    ("--llvm-lto", EmKind::Keep),
    ("--minify", EmKind::Keep),
    ("--source-map-base", EmKind::Keep),
    ("--memory-init-file", EmKind::Keep),
    ("--output_eol", EmKind::Keep),
    ("--valid-abspath", EmKind::Keep),
    ("--js-transform", EmKind::Unsupported),
    ("--compiler-wrapper", EmKind::Unsupported),
    ("--oformat", EmKind::Unsupported),
    ("--default-obj-ext", EmKind::Unsupported),
    ("--emit-tsd", EmKind::Unsupported),
    ("--use-port", EmKind::Port),
];

/// Emscripten-only standalone flags.
pub const FLAGS: &[(&str, EmKind)] = &[
    ("--emit-symbol-map", EmKind::SymbolMap),
    ("--use-preload-plugins", EmKind::Keep),
    ("--use-preload-cache", EmKind::Keep),
    ("--no-heap-copy", EmKind::Keep),
    ("--ignore-dynamic-linking", EmKind::Keep),
    ("--no-entry", EmKind::Keep),
    ("--bind", EmKind::Keep),
    ("--profiling", EmKind::Keep),
    ("-profiling", EmKind::Keep),
    ("--profiling-funcs", EmKind::Keep),
    ("-profiling-funcs", EmKind::Keep),
    ("--tracing", EmKind::Keep),
    ("--memoryprofiler", EmKind::Keep),
    ("--emrun", EmKind::Keep),
    ("--cpuprofiler", EmKind::Keep),
    ("--threadprofiler", EmKind::Keep),
    ("--proxy-to-worker", EmKind::Keep),
    ("--remove-duplicates", EmKind::Keep),
    ("--separate-asm", EmKind::Keep),
    ("--jcache", EmKind::Keep),
    ("--post-link", EmKind::Unsupported),
    ("--version", EmKind::Query),
    ("-v", EmKind::Query),
    ("--help", EmKind::Query),
    ("--show-ports", EmKind::Query),
    ("--check", EmKind::Query),
    ("--cflags", EmKind::Query),
    ("--generate-config", EmKind::Query),
    ("--clear-cache", EmKind::Query),
    ("--clear-ports", EmKind::Query),
];

/// `USE_*` settings that are not ports (they select JS libraries or codegen, not cache builds).
const NON_PORT_USE: &[&str] = &[
    "USE_PTHREADS",
    "USE_ES6_IMPORT_META",
    "USE_WEBGPU",
    "USE_GLFW",
    "USE_WEBGL2",
    "USE_CLOSURE_COMPILER",
    "USE_OFFSET_CONVERTER",
];

/// Settings whose outputs zccache does not model (extra files with derived names).
const UNSUPPORTED_SETTINGS: &[&str] = &["SPLIT_MODULE", "WASM2C", "EMIT_TSD"];

/// `-l` names emcc maps to ports (`building.map_and_apply_to_settings`).
const PORT_LIBS: &[&str] = &[
    "SDL2",
    "SDL2_image",
    "SDL2_mixer",
    "SDL2_ttf",
    "SDL2_net",
    "SDL2_gfx",
    "z",
    "png",
    "jpeg",
    "freetype",
    "harfbuzz",
    "bz2",
    "ogg",
    "vorbis",
    "mpg123",
    "icuuc",
    "icui18n",
    "sqlite3",
    "bullet",
    "regal",
    "giflib",
    "modplug",
    "boost_headers",
];

/// `-l` names emcc resolves to JavaScript libraries of its own tree (part of its identity).
const JS_LIBS: &[&str] = &[
    "GL",
    "GLESv2",
    "EGL",
    "glut",
    "GLU",
    "glfw",
    "glfw3",
    "SDL",
    "openal",
    "websocket",
    "c",
    "m",
    "dl",
    "pthread",
    "rt",
    "stdc++",
    "c++",
    "c++abi",
    "embind",
    "uuid",
    "util",
];

/// Environment variable names that are all in the key.
const ENV_PREFIXES: &[&str] = &["EM_", "EMCC_", "EMMAKEN_", "EMSDK"];
/// Further environment variables in the key.
const ENV_VARS: &[&str] = &[
    "NODE_PATH",
    "CLANG_ADD_VERSION",
    "LLVM_ADD_VERSION",
    "PYTHONPATH",
];

/// Largest number of files an `--embed-file`/`--preload-file` directory may hold to be hashed.
const MAX_PACKAGE_FILES: usize = 20_000;

/// Largest Emscripten config file read (a real one is a few hundred bytes).
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The environment the adapter consults (the client's, not the daemon's).
pub type Env<'a> = HashMap<&'a str, &'a str>;

fn setup(why: impl Into<String>) -> Uncacheable {
    Uncacheable::EmscriptenSetup(why.into())
}

/// Which driver was called: `em++` compiles `.c` as C++ and links libc++.
fn driver_name(compiler: &Path) -> &'static str {
    let name = compiler
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if name.starts_with("em++") {
        "em++"
    } else {
        "emcc"
    }
}

/// A `-s` setting: `-sNAME[=V]` or `-s NAME[=V]`; returns (NAME, value or None).
fn split_setting(text: &str) -> (&str, Option<&str>) {
    match text.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (text, None),
    }
}

/// Whether `-s<rest>` is an Emscripten setting (names are upper case), not gcc's `-s*`.
fn is_joined_setting(arg: &str) -> bool {
    arg.strip_prefix("-s")
        .and_then(|r| r.chars().next())
        .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
}

/// Parsed pieces of an emcc config file (a Python file of `KEY = value` lines).
#[derive(Debug, Default)]
struct Config {
    values: HashMap<String, String>,
}

impl Config {
    fn parse(text: &str) -> Config {
        let mut values = HashMap::new();
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('#') {
                continue;
            }
            let Some((key, rest)) = line.split_once('=') else {
                continue;
            };
            let key = key.trim();
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
                continue;
            }
            let rest = rest.split(" #").next().unwrap_or(rest).trim();
            values.insert(key.to_string(), rest.to_string());
        }
        Config { values }
    }

    /// A string setting: `EM_<KEY>` from the environment wins, else a literal (`'…'`, `"…"`,
    /// `os.path.expanduser('~/…')`) from the file. Err when the file's value is not literal.
    fn string(&self, key: &str, env: &Env, home: Option<&str>) -> Result<Option<String>, String> {
        if let Some(v) = env.get(format!("EM_{key}").as_str()) {
            return Ok(Some(v.to_string()));
        }
        let Some(raw) = self.values.get(key) else {
            return Ok(None);
        };
        let expand = raw.starts_with("os.path.expanduser(");
        let inner = raw
            .strip_prefix("os.path.expanduser(")
            .and_then(|r| r.strip_suffix(')'))
            .unwrap_or(raw)
            .trim();
        let lit = inner
            .strip_prefix('\'')
            .and_then(|r| r.strip_suffix('\''))
            .or_else(|| inner.strip_prefix('"').and_then(|r| r.strip_suffix('"')));
        match lit {
            Some(s) if expand && s.starts_with('~') => match home {
                Some(h) => Ok(Some(format!("{h}{}", &s[1..]))),
                None => Err(format!("{key}: no HOME to expand ~")),
            },
            Some(s) => Ok(Some(s.to_string())),
            None if raw == "None" => Ok(None),
            None if raw == "True" || raw == "False" => Ok(Some(raw.clone())),
            None => Err(format!("{key} is not a literal in the config file")),
        }
    }
}

/// The Emscripten tree behind a driver path (the dir holding `emcc.py`).
fn emscripten_root(compiler: &Path) -> Result<PathBuf, Uncacheable> {
    let real = std::fs::canonicalize(compiler)
        .map_err(|e| setup(format!("{}: {e}", compiler.display())))?;
    let dir = real
        .parent()
        .ok_or_else(|| setup("driver has no parent dir"))?;
    if dir.join("emcc.py").is_file() {
        return Ok(dir.to_path_buf());
    }
    // A symlinked wrapper script in a bin dir: look next to the unresolved path too.
    if let Some(d) = compiler.parent() {
        if d.join("emcc.py").is_file() {
            return Ok(d.to_path_buf());
        }
    }
    Err(setup(format!("no emcc.py next to {}", real.display())))
}

/// The config file emcc will read, in its own order of precedence.
fn config_path(
    root: &Path,
    em_config_arg: Option<&str>,
    env: &Env,
    cwd: &Path,
) -> Result<PathBuf, Uncacheable> {
    let abs = |p: &str| {
        let p = expand_home(p, env);
        if Path::new(&p).is_absolute() {
            PathBuf::from(p)
        } else {
            cwd.join(p)
        }
    };
    if let Some(p) = em_config_arg {
        return Ok(abs(p));
    }
    if let Some(p) = env.get("EM_CONFIG") {
        if p.contains('\n') {
            return Err(setup("inline EM_CONFIG"));
        }
        return Ok(abs(p));
    }
    let embedded = root.join(".emscripten");
    if embedded.is_file() {
        return Ok(embedded);
    }
    if let Some(emsdk) = root.parent().and_then(|p| p.parent()) {
        let c = emsdk.join(".emscripten");
        if c.is_file() {
            return Ok(c);
        }
    }
    if let Some(home) = env.get("HOME") {
        let c = Path::new(home).join(".emscripten");
        if c.is_file() {
            return Ok(c);
        }
    }
    // emcc would generate a config here: a side effect zccache must not cache.
    Err(setup("no Emscripten config file"))
}

fn expand_home(p: &str, env: &Env) -> String {
    match (p.strip_prefix('~'), env.get("HOME")) {
        (Some(rest), Some(home)) => format!("{home}{rest}"),
        _ => p.to_string(),
    }
}

/// What the toolchain fingerprint adds to an invocation.
struct Toolchain {
    extra_inputs: Vec<String>,
    key_args: Vec<String>,
    tools: Vec<String>,
}

/// Resolves emcc's identity: its tree, config, clang (and linker tools for links), cache dir.
fn toolchain(
    compiler: &Path,
    em_config_arg: Option<&str>,
    cache_arg: Option<&str>,
    link: bool,
    env: &Env,
    cwd: &Path,
) -> Result<Toolchain, Uncacheable> {
    let root = emscripten_root(compiler)?;
    let config_file = config_path(&root, em_config_arg, env, cwd)?;
    let text = crate::input_file::read_text(&config_file, MAX_CONFIG_BYTES).map_err(setup)?;
    let config = Config::parse(&text);
    let home = env.get("HOME").copied();
    let get = |key: &str| config.string(key, env, home).map_err(setup);

    let mut t = Toolchain {
        extra_inputs: Vec::new(),
        key_args: Vec::new(),
        tools: Vec::new(),
    };
    let path_str = |p: &Path| p.to_string_lossy().into_owned();
    t.extra_inputs.push(path_str(&config_file));
    for rel in ["emcc.py", "emscripten-version.txt", "tools/shared.py"] {
        let p = root.join(rel);
        if p.is_file() {
            t.extra_inputs.push(path_str(&p));
        }
    }

    let llvm_root = get("LLVM_ROOT")?.ok_or_else(|| setup("LLVM_ROOT not set"))?;
    let versioned = |base: &str, key: &str| -> Result<PathBuf, Uncacheable> {
        let suffix = match get(key)? {
            Some(v) => Some(v),
            None => env.get(key).map(|v| v.to_string()),
        };
        let name = match suffix.filter(|s| !s.is_empty()) {
            Some(v) => format!("{base}-{v}"),
            None => base.to_string(),
        };
        Ok(Path::new(&expand_home(&llvm_root, env)).join(name))
    };
    let clang = versioned("clang", "CLANG_ADD_VERSION")?;
    if !clang.is_file() {
        return Err(setup(format!("clang not found at {}", clang.display())));
    }
    t.extra_inputs.push(path_str(&clang));
    t.tools.push(path_str(&clang));

    let cache_dir = match (env.get("EM_CACHE"), cache_arg) {
        (Some(c), _) => expand_home(c, env),
        (None, Some(c)) => expand_home(c, env),
        (None, None) => match get("CACHE")? {
            Some(c) => expand_home(&c, env),
            None if get("FROZEN_CACHE")?.as_deref() == Some("True") => {
                path_str(&root.join("cache"))
            }
            None if root.join("cache").is_dir() => path_str(&root.join("cache")),
            None => format!("{}/.emscripten_cache", home.unwrap_or("~")),
        },
    };
    t.key_args.push(format!("--zccache-em-cache={cache_dir}"));

    if link {
        let wasm_ld = versioned("wasm-ld", "LLVM_ADD_VERSION")?;
        let wasm_ld = if wasm_ld.is_file() {
            wasm_ld
        } else {
            Path::new(&expand_home(&llvm_root, env)).join("wasm-ld")
        };
        if !wasm_ld.is_file() {
            return Err(setup(format!("wasm-ld not found at {}", wasm_ld.display())));
        }
        t.extra_inputs.push(path_str(&wasm_ld));
        if let Some(binaryen) = get("BINARYEN_ROOT")? {
            let opt = Path::new(&expand_home(&binaryen, env)).join("bin/wasm-opt");
            if opt.is_file() {
                t.extra_inputs.push(path_str(&opt));
            }
        }
        // The JS runtime and libraries the link pastes together.
        for dir in ["src", "tools"] {
            let mut files: Vec<String> = std::fs::read_dir(root.join(dir))
                .map(|rd| {
                    rd.filter_map(|e| e.ok())
                        .map(|e| e.path())
                        .filter(|p| {
                            p.is_file()
                                && matches!(
                                    p.extension().and_then(|e| e.to_str()),
                                    Some("js" | "py")
                                )
                        })
                        .map(|p| path_str(&p))
                        .collect()
                })
                .unwrap_or_default();
            files.sort();
            t.extra_inputs.extend(files);
        }
        // The system libraries of the sysroot (too big to hash on every daemon start):
        // names, sizes and mtimes.
        let mut listing = Vec::new();
        list_tree(&Path::new(&cache_dir).join("sysroot/lib"), &mut listing, 0);
        listing.sort();
        t.key_args
            .push(format!("--zccache-sysroot-libs={}", listing.join(";")));
    }
    Ok(t)
}

/// `name:size:mtime` of every file under `dir` (bounded depth).
fn list_tree(dir: &Path, out: &mut Vec<String>, depth: usize) {
    use std::os::unix::fs::MetadataExt;
    if depth > 4 {
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.filter_map(|e| e.ok()) {
        let p = e.path();
        match std::fs::metadata(&p) {
            Ok(m) if m.is_dir() => list_tree(&p, out, depth + 1),
            Ok(m) => out.push(format!(
                "{}:{}:{}.{}",
                p.display(),
                m.len(),
                m.mtime(),
                m.mtime_nsec()
            )),
            Err(_) => {}
        }
    }
}

/// The source half of an `--embed-file`/`--preload-file` spec (`src@dst`, `@@` escapes `@`).
fn package_source(spec: &str) -> String {
    let bytes = spec.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'@' {
            if bytes.get(i + 1) == Some(&b'@') {
                i += 2;
                continue;
            }
            return spec[..i].replace("@@", "@");
        }
        i += 1;
    }
    spec.replace("@@", "@")
}

/// The files of a package source (a file, or every file under a directory, sorted).
fn package_files(src: &str, cwd: &Path) -> Result<Vec<String>, Uncacheable> {
    let path = if Path::new(src).is_absolute() {
        PathBuf::from(src)
    } else {
        cwd.join(src)
    };
    let meta =
        std::fs::metadata(&path).map_err(|_| Uncacheable::LinkInputUnresolved(src.to_string()))?;
    if meta.is_file() {
        return Ok(vec![src.to_string()]);
    }
    let mut files = Vec::new();
    let mut stack = vec![src.trim_end_matches('/').to_string()];
    // Directories already walked, by device and inode: a symlink back to an ancestor would
    // otherwise be walked forever (or exponentially often).
    let mut seen = std::collections::HashSet::new();
    while let Some(dir) = stack.pop() {
        let abs = if Path::new(&dir).is_absolute() {
            PathBuf::from(&dir)
        } else {
            cwd.join(&dir)
        };
        {
            use std::os::unix::fs::MetadataExt;
            let meta = std::fs::metadata(&abs)
                .map_err(|_| Uncacheable::LinkInputUnresolved(dir.clone()))?;
            if !seen.insert((meta.dev(), meta.ino())) {
                return Err(Uncacheable::UnsupportedOption(format!(
                    "{src}: a directory loop (symlink) at {dir}"
                )));
            }
        }
        let rd =
            std::fs::read_dir(&abs).map_err(|_| Uncacheable::LinkInputUnresolved(dir.clone()))?;
        for e in rd.filter_map(|e| e.ok()) {
            let name = e.file_name().to_string_lossy().into_owned();
            let child = format!("{dir}/{name}");
            match std::fs::metadata(e.path()) {
                Ok(m) if m.is_dir() => stack.push(child),
                Ok(_) => files.push(child),
                Err(_) => return Err(Uncacheable::LinkInputUnresolved(child)),
            }
            if files.len() > MAX_PACKAGE_FILES {
                return Err(Uncacheable::UnsupportedOption(format!(
                    "{src}: more than {MAX_PACKAGE_FILES} files to package"
                )));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Emscripten-only options taken out of the command line.
#[derive(Default)]
struct EmScan {
    /// The options as written, in order (for the key and to pass back to emcc).
    spelled: Vec<String>,
    /// The rest, for the gcc-family parse (or the link scan).
    rest: Vec<String>,
    inputs: Vec<String>,
    packages: Vec<String>,
    em_config: Option<String>,
    cache: Option<String>,
    symbol_map: bool,
    compile: bool,
}

fn em_lookup_valued(arg: &str) -> Option<(&'static str, EmKind, Option<&str>)> {
    for &(name, kind) in VALUED {
        if arg == name {
            return Some((name, kind, None));
        }
        if let Some(v) = arg.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            return Some((name, kind, Some(v)));
        }
    }
    None
}

/// Checks one setting; returns the files it reads (`-sEXPORTED_FUNCTIONS=@file`).
fn check_setting(text: &str) -> Result<Option<String>, Uncacheable> {
    let (name, value) = split_setting(text);
    if name.starts_with("USE_") && !NON_PORT_USE.contains(&name) && value != Some("0") {
        return Err(Uncacheable::EmscriptenPort);
    }
    if UNSUPPORTED_SETTINGS.contains(&name) && value != Some("0") {
        return Err(Uncacheable::UnsupportedOption(format!("-s{name}")));
    }
    Ok(value
        .and_then(|v| v.strip_prefix('@'))
        .map(|f| f.to_string()))
}

fn scan(args: &[String]) -> Result<EmScan, Uncacheable> {
    let mut s = EmScan::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if matches!(
            arg.as_str(),
            "-c" | "-S" | "-E" | "-M" | "-MM" | "-fsyntax-only"
        ) {
            s.compile = true;
        }
        // `-s NAME=V` / `-sNAME=V`.
        if arg == "-s" || is_joined_setting(arg) {
            let text = if arg == "-s" {
                let Some(v) = args.get(i) else {
                    return Err(Uncacheable::UnsupportedOption("-s without value".into()));
                };
                i += 1;
                s.spelled.push(arg.clone());
                v.clone()
            } else {
                arg[2..].to_string()
            };
            if let Some(file) = check_setting(&text)? {
                s.inputs.push(file);
            }
            s.spelled.push(if arg == "-s" { text } else { arg.clone() });
            continue;
        }
        if let Some(&(_, kind)) = FLAGS.iter().find(|(n, _)| n == arg) {
            match kind {
                EmKind::Query => return Err(Uncacheable::Query),
                EmKind::Unsupported => return Err(Uncacheable::UnsupportedOption(arg.clone())),
                EmKind::Port => return Err(Uncacheable::EmscriptenPort),
                EmKind::SymbolMap => s.symbol_map = true,
                _ => {}
            }
            s.spelled.push(arg.clone());
            continue;
        }
        if let Some((name, kind, joined)) = em_lookup_valued(arg) {
            let value = options::take_value(arg, joined, args, &mut i)?;
            match kind {
                EmKind::Query => return Err(Uncacheable::Query),
                EmKind::Unsupported => return Err(Uncacheable::UnsupportedOption(name.into())),
                EmKind::Port => return Err(Uncacheable::EmscriptenPort),
                EmKind::Input => s.inputs.push(value.clone()),
                EmKind::Package => s.packages.push(package_source(&value)),
                EmKind::Config => {
                    // emcc only understands the two-argument form.
                    s.em_config = Some(value.clone());
                    s.spelled.push(name.into());
                    s.spelled.push(value);
                    continue;
                }
                EmKind::CacheDir => s.cache = Some(value.clone()),
                EmKind::Keep | EmKind::SymbolMap => {}
            }
            s.spelled.push(format!("{name}={value}"));
            continue;
        }
        // gcc-family options with a separate value: keep the pair together.
        if let Some((_, _, None)) = lookup_valued(arg) {
            s.rest.push(arg.clone());
            if let Some(v) = args.get(i) {
                s.rest.push(v.clone());
                i += 1;
            }
            continue;
        }
        s.rest.push(arg.clone());
    }
    Ok(s)
}

/// Checks `EMCC_CFLAGS` (emcc appends it to every command line): only plain code-generation
/// flags and non-port settings keep the compile cacheable; its value is in the key.
fn check_emcc_cflags(env: &Env) -> Result<(), Uncacheable> {
    let Some(flags) = env.get("EMCC_CFLAGS") else {
        return Ok(());
    };
    let words = response_file::split(flags);
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        i += 1;
        if w == "-s" {
            let Some(v) = words.get(i) else {
                return Err(Uncacheable::UnsupportedOption("EMCC_CFLAGS".into()));
            };
            i += 1;
            if check_setting(v)?.is_some() {
                return Err(Uncacheable::UnsupportedOption(
                    "EMCC_CFLAGS -s…=@file".into(),
                ));
            }
            continue;
        }
        if is_joined_setting(w) {
            if check_setting(&w[2..])?.is_some() {
                return Err(Uncacheable::UnsupportedOption(
                    "EMCC_CFLAGS -s…=@file".into(),
                ));
            }
            continue;
        }
        let plain = [
            "-D", "-U", "-O", "-f", "-W", "-m", "-std=", "-I", "-pthread",
        ]
        .iter()
        .any(|p| w.starts_with(p));
        if !plain {
            return Err(Uncacheable::UnsupportedOption(format!("EMCC_CFLAGS {w}")));
        }
    }
    Ok(())
}

/// Parses an emcc/em++ command line (without the driver). `compiler` is the resolved driver
/// path; `env` the client's environment.
pub fn parse(
    compiler: &Path,
    raw_args: &[String],
    cwd: &Path,
    env: &Env,
) -> Result<Invocation, Uncacheable> {
    let args = if raw_args.iter().any(|a| a.starts_with('@')) {
        response_file::expand(raw_args, cwd).map_err(Uncacheable::BadResponseFile)?
    } else {
        raw_args.to_vec()
    };
    if args.is_empty() {
        return Err(Uncacheable::NoSource);
    }
    let s = scan(&args)?;
    check_emcc_cflags(env)?;
    let driver = driver_name(compiler);
    if s.compile {
        compile(compiler, driver, s, cwd, env)
    } else {
        link(compiler, driver, s, cwd, env)
    }
}

fn base_key(driver: &str, s: &EmScan, tc: &Toolchain) -> Vec<String> {
    let mut key = vec![format!("--zccache-emcc-driver={driver}")];
    key.extend(tc.key_args.iter().cloned());
    key.push("--zccache-emcc-options".into());
    key.extend(s.spelled.iter().cloned());
    key
}

fn env_lists() -> (Vec<String>, Vec<String>) {
    (
        ENV_VARS.iter().map(|s| s.to_string()).collect(),
        ENV_PREFIXES.iter().map(|s| s.to_string()).collect(),
    )
}

/// `-c`/`-S`: the gcc-family parse of the non-Emscripten args, plus emcc's options and identity.
fn compile(
    compiler: &Path,
    driver: &str,
    s: EmScan,
    cwd: &Path,
    env: &Env,
) -> Result<Invocation, Uncacheable> {
    let mut inv = gcc::parse(Family::Emcc, &s.rest, cwd)?;
    let tc = toolchain(
        compiler,
        s.em_config.as_deref(),
        s.cache.as_deref(),
        false,
        env,
        cwd,
    )?;
    if driver == "em++" && inv.language == Language::C {
        inv.language = Language::Cxx;
    }
    let mut key = base_key(driver, &s, &tc);
    key.push("--zccache-emcc-args".into());
    key.append(&mut inv.key_args);
    inv.key_args = key;
    let em_args = s.spelled.clone();
    inv.miss_args.splice(0..0, em_args.iter().cloned());
    if !inv.preprocess_args.is_empty() {
        // (empty: the preprocessor tier does not apply to this compile)
        inv.preprocess_args.splice(0..0, em_args.iter().cloned());
    }
    inv.default_dirs_args.splice(0..0, em_args.iter().cloned());
    inv.extra_inputs.extend(tc.extra_inputs);
    inv.extra_inputs.extend(s.inputs);
    for p in &s.packages {
        inv.extra_inputs.extend(package_files(p, cwd)?);
    }
    let (vars, prefixes) = env_lists();
    inv.key_env.extend(vars);
    inv.key_env_prefixes.extend(prefixes);
    inv.tool_identities.extend(tc.tools);
    Ok(inv)
}

/// File name suffix including the dot (`.js`), or "".
fn suffix(path: &str) -> &str {
    let name_start = path.rfind('/').map(|i| i + 1).unwrap_or(0);
    match path[name_start..].rfind('.') {
        Some(dot) if dot > 0 => &path[name_start + dot..],
        _ => "",
    }
}

fn unsuffixed(path: &str) -> &str {
    &path[..path.len() - suffix(path).len()]
}

/// Every file a link to `target` may write, as output slots (the target itself required).
pub fn link_outputs(
    target: &str,
    symbol_map: bool,
    separate_dwarf: Option<&str>,
) -> Vec<OutputSlot> {
    let slot = |role: &str, path: String, optional: bool| OutputSlot {
        role: role.to_string(),
        path,
        optional,
    };
    let mut outs = vec![slot("main", target.to_string(), false)];
    let sfx = suffix(target);
    if matches!(sfx, ".o" | ".obj" | ".bc" | ".a" | ".so" | ".lo") {
        return outs;
    }
    let base = unsuffixed(target);
    let wasm_target = if sfx == ".wasm" {
        target.to_string()
    } else {
        format!("{base}.wasm")
    };
    if sfx == ".html" {
        outs.push(slot("js", format!("{base}.js"), true));
    }
    if sfx != ".wasm" {
        outs.push(slot("wasm", wasm_target.clone(), true));
    } else {
        outs.push(slot("js", format!("{base}.js"), true));
    }
    outs.push(slot("wasm_map", format!("{wasm_target}.map"), true));
    outs.push(slot("data", format!("{base}.data"), true));
    outs.push(slot("worker", format!("{base}.worker.js"), true));
    outs.push(slot("ww", format!("{base}.ww.js"), true));
    outs.push(slot("mem", format!("{base}.mem"), true));
    if symbol_map {
        outs.push(slot("symbols", format!("{base}.symbols"), true));
    }
    match separate_dwarf {
        Some("") => outs.push(slot(
            "debug_wasm",
            format!("{wasm_target}.debug.wasm"),
            true,
        )),
        Some(file) => outs.push(slot("debug_wasm", file.to_string(), true)),
        None => {}
    }
    outs
}

/// Resolves `-lNAME` the way emcc does: system libraries of the sysroot and emcc's own JS
/// libraries are part of the toolchain fingerprint; user libraries on `-L` dirs are hashed.
fn resolve_lib(name: &str, lib_dirs: &[String], cwd: &Path) -> Result<Option<String>, Uncacheable> {
    if name.ends_with(".js") || JS_LIBS.contains(&name) {
        return Ok(None);
    }
    for dir in lib_dirs {
        for sfx in [".a", ".so", ".dylib", ".bc"] {
            let cand = format!("{}/lib{name}{sfx}", dir.trim_end_matches('/'));
            let abs = if Path::new(&cand).is_absolute() {
                PathBuf::from(&cand)
            } else {
                cwd.join(&cand)
            };
            if abs.is_file() {
                return Ok(Some(cand));
            }
        }
    }
    if PORT_LIBS.contains(&name) {
        return Err(Uncacheable::EmscriptenPort);
    }
    // Not on a user dir: a sysroot library (its listing is in the key) — or unknown to us.
    Ok(None)
}

/// A link: every input hashed, every possible output restored.
fn link(
    compiler: &Path,
    driver: &str,
    s: EmScan,
    cwd: &Path,
    env: &Env,
) -> Result<Invocation, Uncacheable> {
    let mut key_args = Vec::new();
    let mut inputs: Vec<String> = Vec::new();
    let mut output: Option<String> = None;
    let mut lib_dirs: Vec<String> = Vec::new();
    let mut libs: Vec<String> = Vec::new();
    let mut debug = false;
    let mut prefix_maps = Vec::new();
    let mut separate_dwarf: Option<String> = None;
    let mut passthrough = Vec::new();
    let args = &s.rest;
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "-" {
            return Err(Uncacheable::Stdin);
        }
        if !arg.starts_with('-') || arg.len() == 1 {
            if gcc::language_of(arg).is_some() {
                return Err(Uncacheable::CompileAndLink);
            }
            let abs = if Path::new(arg).is_absolute() {
                PathBuf::from(arg)
            } else {
                cwd.join(arg)
            };
            if !abs.is_file() {
                return Err(Uncacheable::LinkInputUnresolved(arg.clone()));
            }
            inputs.push(arg.clone());
            key_args.push(arg.clone());
            passthrough.push(arg.clone());
            continue;
        }
        if matches!(
            arg.as_str(),
            "-###" | "--version" | "-dumpversion" | "-dumpmachine"
        ) || arg.starts_with("-print-")
            || arg.starts_with("--print-")
        {
            return Err(Uncacheable::Query);
        }
        if arg.starts_with("-M") || arg.starts_with("-save-temps") || arg == "-x" {
            return Err(Uncacheable::UnsupportedOption(arg.clone()));
        }
        if arg.starts_with("-fprofile") || arg == "--coverage" {
            return Err(Uncacheable::Coverage);
        }
        if let Some((name, kind, joined)) = lookup_valued(arg) {
            let value = options::take_value(arg, joined, args, &mut i)?;
            let spelled = options::spelled(arg, joined.is_some(), &value);
            match kind {
                OptKind::Output => {
                    output = Some(value);
                    continue;
                }
                OptKind::InputFile => inputs.push(value.clone()),
                OptKind::Unsupported
                | OptKind::DepFile
                | OptKind::DepTarget
                | OptKind::DepTargetQuoted
                | OptKind::Language => {
                    return Err(Uncacheable::UnsupportedOption(name.into()));
                }
                _ if name == "-L" => lib_dirs.push(value.clone()),
                _ if name == "-l" => libs.push(value.clone()),
                _ => {}
            }
            key_args.extend(spelled.iter().cloned());
            passthrough.extend(spelled);
            continue;
        }
        if arg.starts_with("-Wl,@") {
            return Err(Uncacheable::UnsupportedOption("-Wl,@file".into()));
        }
        if let Some(map) = arg
            .strip_prefix("-fdebug-prefix-map=")
            .or_else(|| arg.strip_prefix("-ffile-prefix-map="))
        {
            prefix_maps.push(map.split('=').next().unwrap_or_default().to_string());
        } else if let Some(rest) = arg.strip_prefix("-gseparate-dwarf") {
            separate_dwarf = Some(rest.strip_prefix('=').unwrap_or("").to_string());
            debug = true;
        } else if arg.starts_with("-g") && !arg.starts_with("-gno-") {
            debug = !arg.ends_with('0') || arg.starts_with("-gdwarf");
        }
        if !is_known_flag(arg) {
            return Err(Uncacheable::UnknownOption(arg.clone()));
        }
        key_args.push(arg.clone());
        passthrough.push(arg.clone());
    }
    for lib in &libs {
        if let Some(file) = resolve_lib(lib, &lib_dirs, cwd)? {
            inputs.push(file);
        }
    }
    let Some(first) = inputs.first().cloned() else {
        return Err(Uncacheable::NoSource);
    };
    let target = output.unwrap_or_else(|| "a.out.js".to_string());
    let tc = toolchain(
        compiler,
        s.em_config.as_deref(),
        s.cache.as_deref(),
        true,
        env,
        cwd,
    )?;

    let mut key = base_key(driver, &s, &tc);
    key.push("--zccache-emcc-link".into());
    // The output's name is embedded (the .js names its .wasm and .data).
    key.push(format!("-o{target}"));
    key.extend(key_args);

    let mut extra_inputs: Vec<String> = inputs[1..].to_vec();
    extra_inputs.extend(tc.extra_inputs);
    extra_inputs.extend(s.inputs.iter().cloned());
    for p in &s.packages {
        extra_inputs.extend(package_files(p, cwd)?);
    }

    let mut miss_args = s.spelled.clone();
    miss_args.extend(passthrough);
    miss_args.push("-o".into());
    miss_args.push(target.clone());

    let (key_env, key_env_prefixes) = env_lists();
    Ok(Invocation {
        family: Family::Emcc,
        key_args: key,
        source: first,
        extra_inputs,
        key_env,
        key_env_prefixes,
        key_env_exclude: Vec::new(),
        path_prefix_map: Vec::new(),
        tool_identities: tc.tools,
        outputs: link_outputs(&target, s.symbol_map, separate_dwarf.as_deref()),
        depfile: DepfilePlan::None,
        debug_info: debug,
        embeds_input_mtimes: false,
        prefix_map_sources: prefix_maps,
        preprocess_args: Vec::new(),
        miss_args,
        include_dirs: IncludeDirs::default(),
        language: Language::Preprocessed,
        default_dirs_args: Vec::new(),
        link: false,
        reads_prior_output: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packaged_directory_with_a_symlink_loop_is_refused_not_walked_forever() {
        let root = std::env::temp_dir().join(format!("zccache-emcc-loop-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("assets/sub")).unwrap();
        std::fs::write(root.join("assets/sub/a.txt"), "a").unwrap();
        std::os::unix::fs::symlink("..", root.join("assets/sub/up")).unwrap();
        let got = package_files("assets", &root);
        assert!(
            matches!(&got, Err(Uncacheable::UnsupportedOption(m)) if m.contains("loop")),
            "{got:?}"
        );
        std::fs::remove_file(root.join("assets/sub/up")).unwrap();
        let got = package_files("assets", &root).unwrap();
        assert_eq!(got, vec!["assets/sub/a.txt".to_string()]);
        let _ = std::fs::remove_dir_all(&root);
    }

    /// A fake Emscripten tree: driver, emcc.py, config, clang, wasm-ld, a sysroot lib.
    struct Tree {
        root: PathBuf,
    }

    impl Tree {
        fn new(tag: &str) -> Tree {
            let root =
                std::env::temp_dir().join(format!("zccache-emcc-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&root);
            for d in [
                "em/src",
                "em/tools",
                "llvm",
                "em/cache/sysroot/lib/wasm32-emscripten",
                "w/assets/sub",
            ] {
                std::fs::create_dir_all(root.join(d)).unwrap();
            }
            let w = |rel: &str, text: &str| std::fs::write(root.join(rel), text).unwrap();
            w("em/emcc.py", "# emcc");
            w("em/emcc", "#!/bin/sh");
            w("em/emscripten-version.txt", "3.1.6");
            w("em/src/library.js", "//");
            w(
                "em/.emscripten",
                &format!(
                    "LLVM_ROOT = '{}/llvm' # directory\nBINARYEN_ROOT = '/nonexistent'\nNODE_JS = '/usr/bin/node'\nFROZEN_CACHE = True\nCLANG_ADD_VERSION = '14'\n",
                    root.display()
                ),
            );
            w("llvm/clang-14", "clang");
            w("llvm/wasm-ld", "wasm-ld");
            w("em/cache/sysroot/lib/wasm32-emscripten/libc.a", "libc");
            w("w/a.o", "obj a");
            w("w/b.o", "obj b");
            w("w/pre.js", "// pre");
            w("w/assets/x.txt", "x");
            w("w/assets/sub/y.txt", "y");
            Tree { root }
        }
        fn parse(&self, line: &str, env: &[(&str, &str)]) -> Result<Invocation, Uncacheable> {
            let env: Env = env.iter().copied().collect();
            parse(
                &self.root.join("em/emcc"),
                &response_file::split(line),
                &self.root.join("w"),
                &env,
            )
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }

    #[test]
    fn compile_keeps_settings_and_hashes_toolchain() {
        let t = Tree::new("compile");
        let inv = t
            .parse(
                "-O2 -sWASM_BIGINT -s ALLOW_MEMORY_GROWTH=1 -c foo.c -o foo.o",
                &[],
            )
            .unwrap();
        assert_eq!(inv.family, Family::Emcc);
        assert_eq!(inv.source, "foo.c");
        assert_eq!(inv.outputs[0].path, "foo.o");
        assert!(inv.key_args.contains(&"-sWASM_BIGINT".to_string()));
        assert!(inv.key_args.contains(&"ALLOW_MEMORY_GROWTH=1".to_string()));
        assert!(inv.miss_args.starts_with(&[
            "-sWASM_BIGINT".to_string(),
            "-s".to_string(),
            "ALLOW_MEMORY_GROWTH=1".to_string()
        ]));
        assert!(inv.extra_inputs.iter().any(|p| p.ends_with("/.emscripten")));
        assert!(inv.extra_inputs.iter().any(|p| p.ends_with("/emcc.py")));
        assert!(inv
            .extra_inputs
            .iter()
            .any(|p| p.ends_with("/llvm/clang-14")));
        assert!(inv.key_env_prefixes.contains(&"EM_".to_string()));
        assert!(matches!(inv.depfile, DepfilePlan::Inject));
        // A different setting is a different key.
        let other = t
            .parse("-O2 -sWASM_BIGINT=0 -c foo.c -o foo.o", &[])
            .unwrap();
        assert_ne!(inv.key_args, other.key_args);
    }

    #[test]
    fn em_plus_plus_is_cxx_and_keyed_apart() {
        let t = Tree::new("empp");
        let env: Env = Env::new();
        let c = parse(
            &t.root.join("em/emcc"),
            &response_file::split("-c a.c"),
            &t.root.join("w"),
            &env,
        )
        .unwrap();
        std::fs::write(t.root.join("em/em++"), "#!/bin/sh").unwrap();
        let cxx = parse(
            &t.root.join("em/em++"),
            &response_file::split("-c a.c"),
            &t.root.join("w"),
            &env,
        )
        .unwrap();
        assert_eq!(cxx.language, Language::Cxx);
        assert_ne!(c.key_args, cxx.key_args);
    }

    #[test]
    fn a_device_as_config_file_is_not_read() {
        // `--em-config /dev/zero` made the parse read forever.
        let t = Tree::new("devconfig");
        let r = t.parse("-c a.c --em-config /dev/zero", &[]);
        assert!(
            matches!(&r, Err(Uncacheable::EmscriptenSetup(why)) if why.contains("not a regular file")),
            "{r:?}"
        );
    }

    #[test]
    fn reasons() {
        let t = Tree::new("reasons");
        let reason = |line: &str, env: &[(&str, &str)]| match t.parse(line, env) {
            Ok(inv) => panic!("{line}: expected uncacheable, got {inv:?}"),
            Err(e) => e.name(),
        };
        assert_eq!(reason("--version", &[]), "query");
        assert_eq!(reason("-v", &[]), "query");
        assert_eq!(reason("--show-ports", &[]), "query");
        assert_eq!(reason("-sUSE_SDL=2 -c a.c", &[]), "emscripten_port");
        assert_eq!(reason("-s USE_ZLIB=1 a.o -o a.js", &[]), "emscripten_port");
        assert_eq!(
            reason("--use-port=sdl2 a.o -o a.js", &[]),
            "emscripten_port"
        );
        assert_eq!(reason("a.o -lSDL2 -o a.js", &[]), "emscripten_port");
        assert_eq!(reason("a.c -o a.js", &[]), "compile_and_link");
        assert_eq!(reason("missing.o -o a.js", &[]), "link_input_unresolved");
        assert_eq!(
            reason("a.o --js-transform cat -o a.js", &[]),
            "unsupported_option"
        );
        assert_eq!(
            reason("-c a.c", &[("EMCC_CFLAGS", "-sUSE_SDL=2")]),
            "emscripten_port"
        );
        assert_eq!(
            reason("-c a.c", &[("EM_CONFIG", "/nonexistent/cfg")]),
            "emscripten_setup"
        );
        // Not ports.
        assert!(t.parse("-sUSE_PTHREADS=1 -c a.c", &[]).is_ok());
        assert!(t.parse("-sUSE_SDL=0 -c a.c", &[]).is_ok());
    }

    #[test]
    fn link_hashes_every_input_and_restores_every_output() {
        let t = Tree::new("link");
        let inv = t
            .parse(
                "a.o b.o --pre-js pre.js --embed-file assets@/data -sEXIT_RUNTIME=1 -O2 -o out/app.js",
                &[],
            )
            .unwrap();
        assert_eq!(inv.depfile, DepfilePlan::None);
        assert_eq!(inv.source, "a.o");
        for f in ["b.o", "pre.js", "assets/x.txt", "assets/sub/y.txt"] {
            assert!(
                inv.extra_inputs.contains(&f.to_string()),
                "{f}: {:?}",
                inv.extra_inputs
            );
        }
        assert!(inv
            .extra_inputs
            .iter()
            .any(|p| p.ends_with("/llvm/wasm-ld")));
        assert!(inv
            .extra_inputs
            .iter()
            .any(|p| p.ends_with("/src/library.js")));
        assert!(inv
            .key_args
            .iter()
            .any(|a| a.starts_with("--zccache-sysroot-libs=") && a.contains("libc.a")));
        let outs: Vec<(&str, &str, bool)> = inv
            .outputs
            .iter()
            .map(|o| (o.role.as_str(), o.path.as_str(), o.optional))
            .collect();
        assert_eq!(outs[0], ("main", "out/app.js", false));
        assert!(outs.contains(&("wasm", "out/app.wasm", true)));
        assert!(outs.contains(&("data", "out/app.data", true)));
        assert!(outs.contains(&("wasm_map", "out/app.wasm.map", true)));
        assert_eq!(inv.miss_args.last().map(String::as_str), Some("out/app.js"));
        assert!(inv.miss_args.contains(&"--pre-js=pre.js".to_string()));

        let html = link_outputs("index.html", true, None);
        assert!(html.iter().any(|o| o.role == "js" && o.path == "index.js"));
        assert!(html
            .iter()
            .any(|o| o.role == "symbols" && o.path == "index.symbols"));
    }

    #[test]
    fn user_libraries_are_hashed() {
        let t = Tree::new("libs");
        std::fs::create_dir_all(t.root.join("w/lib")).unwrap();
        std::fs::write(t.root.join("w/lib/libfoo.a"), "ar").unwrap();
        let inv = t.parse("a.o -Llib -lfoo -lGL -lc -o a.js", &[]).unwrap();
        assert!(inv.extra_inputs.contains(&"lib/libfoo.a".to_string()));
    }

    #[test]
    fn config_literals() {
        let c = Config::parse("LLVM_ROOT = '/x/bin' # directory\nNODE_JS = os.path.expanduser('~/node')\nX = os.environ['Y']\n");
        let env = Env::new();
        assert_eq!(
            c.string("LLVM_ROOT", &env, None).unwrap().as_deref(),
            Some("/x/bin")
        );
        assert_eq!(
            c.string("NODE_JS", &env, Some("/h")).unwrap().as_deref(),
            Some("/h/node")
        );
        assert!(c.string("X", &env, None).is_err());
        let env: Env = [("EM_LLVM_ROOT", "/o")].into_iter().collect();
        assert_eq!(
            c.string("LLVM_ROOT", &env, None).unwrap().as_deref(),
            Some("/o")
        );
        assert_eq!(package_source("a@@b@/c"), "a@b");
        assert_eq!(package_source("dir"), "dir");
    }
}
