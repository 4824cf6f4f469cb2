//! End-to-end tests of the remote tier against real engines started by the tests: nginx
//! WebDAV (Bazel HTTP cache protocol), BuildGrid (REAPI over gRPC), Redis and SeaweedFS (S3).
//! "Machine A" (its own cache dir and daemon) builds a real project cold; "machine B" (an
//! empty cache dir, another daemon, another checkout dir) gets every compile from the remote,
//! byte-identical to a bare build there, then hits locally. A fault-injecting proxy in front
//! of nginx shows a sick remote never breaks a build or serves anything wrong; read-only mode
//! writes nothing, a wrong signing key serves nothing, and credentials never show.

mod common;
mod faults;
mod servers;

use common::{assert_ok, require_tool, zccache_bin, TestCache};
use faults::{Fault, Proxy};
use servers::Server;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Sources of the small project: (path, text).
const PROJECT: &[(&str, &str)] = &[
    ("include/shape.h", "#pragma once\nint area(int w, int h);\nint perimeter(int w, int h);\n"),
    ("src/area.c", "#include \"shape.h\"\nint area(int w, int h) { return w * h; }\n"),
    ("src/perimeter.c", "#include \"shape.h\"\nint perimeter(int w, int h) { int unused; return 2 * (w + h); }\n"),
    ("src/names.cc", "#include <string>\n#include <vector>\nstd::vector<std::string> names() { return {\"square\", \"circle\"}; }\n"),
    ("src/sum.cc", "#include <numeric>\n#include <vector>\nint sum(const std::vector<int>& v) { return std::accumulate(v.begin(), v.end(), 0); }\n"),
    ("src/main.c", "#include <stdio.h>\n#include \"shape.h\"\nint main(void) { printf(\"%d %d\\n\", area(2, 3), perimeter(2, 3)); return 0; }\n"),
];
const OBJECTS: &[&str] = &["area.o", "perimeter.o", "names.o", "sum.o", "main.o"];
const MAKEFILE: &str = "OBJS = obj/area.o obj/perimeter.o obj/names.o obj/sum.o obj/main.o\n\
all: $(OBJS)\n\
obj/%.o: src/%.c\n\t@mkdir -p obj\n\t$(CC) -O1 -Wall -Iinclude -MMD -c $< -o $@\n\
obj/%.o: src/%.cc\n\t@mkdir -p obj\n\t$(CXX) -O1 -Iinclude -MMD -c $< -o $@\n\
-include obj/*.d\n";

fn write_project(dir: &Path) {
    for (path, text) in PROJECT {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
    std::fs::write(dir.join("Makefile"), MAKEFILE).expect("write Makefile");
}

/// A machine: its own cache dir and daemon, configured with `env`.
struct Machine {
    cache: TestCache,
    env: Vec<(String, String)>,
}

impl Machine {
    fn new(env: &[(String, String)]) -> Machine {
        let m = Machine {
            cache: TestCache::new(),
            env: env.to_vec(),
        };
        // The daemon reads its settings when it starts: start it with this machine's.
        let out = m.cmd(zccache_bin()).arg("start").output().expect("start");
        assert_ok(&out, "zccache start");
        m
    }

    fn with_remote(url: &str, server_env: &[(String, String)], extra: &[(&str, &str)]) -> Machine {
        let mut env = vec![("ZCCACHE_REMOTE".to_string(), url.to_string())];
        env.extend(server_env.iter().cloned());
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Machine::new(&env)
    }

    fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        self.cache.apply_env(&mut cmd);
        cmd.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        cmd.current_dir(&self.cache.work);
        cmd
    }

    fn make(&self, dir: &Path) -> Output {
        let z = zccache_bin();
        let out = self
            .cmd(require_tool("make"))
            .env_remove("MAKEFLAGS")
            .arg("-j2")
            .arg(format!("CC={} gcc", z.display()))
            .arg(format!("CXX={} g++", z.display()))
            .current_dir(dir)
            .output()
            .expect("make");
        assert_ok(&out, "make through zccache");
        out
    }

    fn stat(&self, name: &str) -> u64 {
        self.cache.stat(name)
    }

    fn stop(&self) {
        let out = self.cache.run(&["stop"], None);
        assert_ok(&out, "zccache stop");
    }
}

/// A bare build of the project in `dir`, whose objects are moved to `dir/bare`.
fn bare_reference(dir: &Path) -> PathBuf {
    let out = Command::new(require_tool("make"))
        .env_remove("MAKEFLAGS")
        .args(["-j2", "CC=gcc", "CXX=g++"])
        .current_dir(dir)
        .output()
        .expect("make");
    assert_ok(&out, "bare make");
    let bare = dir.join("bare");
    std::fs::rename(dir.join("obj"), &bare).expect("move bare objects");
    bare
}

fn assert_objects_equal(dir: &Path, reference: &Path, what: &str) {
    for name in OBJECTS {
        let got = std::fs::read(dir.join("obj").join(name)).expect("object");
        let want = std::fs::read(reference.join(name)).expect("reference object");
        assert!(got == want, "{what}: obj/{name} differs from a bare build");
    }
}

/// A fills the remote; B (empty cache, other dir) gets every compile from it, identical to a
/// bare build; B's rebuild hits locally.
fn round_trip(server: &Server) {
    let a = Machine::with_remote(&server.url, &server.env, &[]);
    let a_dir = a.cache.work.join("checkout-a");
    write_project(&a_dir);
    a.make(&a_dir);
    assert_eq!(
        a.stat("misses"),
        OBJECTS.len() as u64,
        "A compiles everything"
    );
    assert_eq!(
        a.stat("remote_uploads"),
        OBJECTS.len() as u64,
        "A uploads every result"
    );
    assert_eq!(a.stat("remote_errors") + a.stat("remote_timeouts"), 0);
    a.stop();

    let b = Machine::with_remote(&server.url, &server.env, &[]);
    let b_dir = b.cache.work.join("elsewhere/checkout-b");
    write_project(&b_dir);
    let reference = bare_reference(&b_dir);
    let out = b.make(&b_dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unused variable"),
        "the warning is replayed from the remote:\n{stderr}"
    );
    assert_eq!(
        b.stat("hits"),
        OBJECTS.len() as u64,
        "every compile of B hits"
    );
    assert_eq!(
        b.stat("remote_hits"),
        OBJECTS.len() as u64,
        "…from the remote"
    );
    assert_eq!(b.stat("misses"), 0);
    assert_objects_equal(&b_dir, &reference, "remote hit");

    std::fs::remove_dir_all(b_dir.join("obj")).expect("clean");
    b.cache.zero();
    b.make(&b_dir);
    assert_eq!(b.stat("hits"), OBJECTS.len() as u64, "B's rebuild hits");
    assert_eq!(b.stat("remote_hits"), 0, "…locally");
    assert_objects_equal(&b_dir, &reference, "local hit");
}

#[test]
fn http_remote_nginx_webdav() {
    round_trip(&servers::nginx_webdav());
}

#[test]
fn grpc_remote_buildgrid() {
    round_trip(&servers::buildgrid());
}

#[test]
fn redis_remote() {
    round_trip(&servers::redis());
}

#[test]
fn s3_remote_seaweedfs() {
    round_trip(&servers::seaweedfs());
}

/// A sick remote: the build succeeds with correct objects and the counters say what happened.
fn sick(url: &str, expect: &str) {
    let b = Machine::with_remote(url, &[], &[]);
    let dir = b.cache.work.join("proj");
    write_project(&dir);
    let reference = bare_reference(&dir);
    b.make(&dir);
    assert_objects_equal(&dir, &reference, expect);
    assert_eq!(b.stat("remote_hits"), 0, "{expect}: nothing served");
    assert_eq!(
        b.stat("misses"),
        OBJECTS.len() as u64,
        "{expect}: compiled locally"
    );
    let failures = b.stat("remote_errors") + b.stat("remote_timeouts");
    assert!(
        failures > 0,
        "{expect}: failures counted ({:?})",
        b.cache.stats()
    );
    if expect == "hang" || expect == "delay" {
        assert!(b.stat("remote_timeouts") > 0, "{expect}: timeouts counted");
    }
    b.stop();
}

#[test]
fn a_sick_remote_never_breaks_a_build_or_serves_anything_wrong() {
    let server = servers::nginx_webdav();
    // Fill the real server so every fault has entries to spoil.
    let a = Machine::with_remote(&server.url, &[], &[]);
    let a_dir = a.cache.work.join("proj");
    write_project(&a_dir);
    a.make(&a_dir);
    a.stop();
    let prefix = server.url.rsplit_once('/').map(|(_, p)| p).unwrap_or("");
    let port: u16 = server
        .url
        .trim_start_matches("http://127.0.0.1:")
        .split('/')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("nginx port");

    sick(
        &format!("http://127.0.0.1:{}/{prefix}", servers::free_port()),
        "down",
    );
    for (fault, name) in [
        (Fault::Hang, "hang"),
        (Fault::Error500, "500"),
        (Fault::ResetMidBody, "reset"),
        (Fault::Delay2s, "delay"),
        (Fault::FlipByte, "flipped byte"),
    ] {
        let proxy = Proxy::start(port, fault);
        sick(&format!("http://127.0.0.1:{}/{prefix}", proxy.port), name);
    }
}

#[test]
fn read_only_writes_nothing_and_a_wrong_key_serves_nothing() {
    let server = servers::nginx_webdav();
    let ro = Machine::with_remote(&server.url, &[], &[("ZCCACHE_REMOTE_READ_ONLY", "1")]);
    let dir = ro.cache.work.join("proj");
    write_project(&dir);
    ro.make(&dir);
    ro.stop();
    assert_eq!(server.stored_objects(), 0, "read-only wrote nothing");

    let signer = Machine::with_remote(&server.url, &[], &[("ZCCACHE_REMOTE_KEY", "team-secret")]);
    let a_dir = signer.cache.work.join("proj");
    write_project(&a_dir);
    signer.make(&a_dir);
    assert_eq!(signer.stat("remote_uploads"), OBJECTS.len() as u64);
    signer.stop();
    assert!(server.stored_objects() > 0);

    let right = Machine::with_remote(&server.url, &[], &[("ZCCACHE_REMOTE_KEY", "team-secret")]);
    let c_dir = right.cache.work.join("proj");
    write_project(&c_dir);
    right.make(&c_dir);
    assert_eq!(
        right.stat("remote_hits"),
        OBJECTS.len() as u64,
        "the right key hits: {:?}",
        right.cache.stats()
    );
    right.stop();

    // A reader with another key (it also writes its own entries, which replace the
    // manifest: anyone who can write can spoil a cache, but never poison it).
    let wrong = Machine::with_remote(&server.url, &[], &[("ZCCACHE_REMOTE_KEY", "guess")]);
    let b_dir = wrong.cache.work.join("proj");
    write_project(&b_dir);
    let reference = bare_reference(&b_dir);
    wrong.make(&b_dir);
    assert_eq!(wrong.stat("remote_hits"), 0, "a wrong key serves nothing");
    assert!(wrong.stat("remote_bad_signatures") > 0, "and counts it");
    assert_objects_equal(&b_dir, &reference, "wrong key");
    wrong.stop();
}

#[test]
fn credentials_never_show_and_a_bad_url_is_one_warning() {
    let secrets = ["s3cr3tpass", "tok-987654"];
    let m = Machine::new(&[
        (
            "ZCCACHE_REMOTE".into(),
            format!(
                "redis://:{}@127.0.0.1:{}/0 ftp://example.invalid/x",
                secrets[0],
                servers::free_port()
            ),
        ),
        (
            "ZCCACHE_REMOTE_HEADER".into(),
            format!("Authorization: Bearer {}", secrets[1]),
        ),
        ("ZCCACHE_LOG".into(), "debug".into()),
    ]);
    let dir = m.cache.work.join("proj");
    write_project(&dir);
    m.make(&dir);
    assert_eq!(m.stat("misses"), OBJECTS.len() as u64, "the build works");
    let mut shown = String::new();
    for args in [&["config"][..], &["stats"], &["stats", "--json"]] {
        let out = m.cmd(zccache_bin()).args(args).output().expect("zccache");
        assert_ok(&out, "zccache");
        shown.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    assert!(shown.contains("redis://***@127.0.0.1"), "{shown}");
    assert!(
        shown.contains("unusable: ftp://example.invalid/x"),
        "{shown}"
    );
    assert!(shown.contains("Authorization: ***"), "{shown}");
    m.stop();
    let log = std::fs::read_to_string(m.cache.cache_dir.join("zccache.log")).unwrap_or_default();
    for secret in secrets {
        assert!(!shown.contains(secret), "{secret} shown:\n{shown}");
        assert!(!log.contains(secret), "{secret} in the log");
    }
}

/// googletest through CMake on machine A, then on machine B in another checkout: every
/// compile a remote hit, objects identical to a bare build.
#[test]
fn googletest_cmake_through_an_http_remote() {
    let src = Path::new("/usr/src/googletest");
    assert!(
        src.join("CMakeLists.txt").is_file(),
        "googletest sources missing; install the `googletest` package (.ci/run does)"
    );
    require_tool("ninja");
    let server = servers::nginx_webdav();
    let configure = |m: &Machine, build: &Path, launcher: bool| {
        let mut cmd = m.cmd(require_tool("cmake"));
        cmd.args([
            "-G",
            "Ninja",
            "-DCMAKE_BUILD_TYPE=",
            "-DBUILD_GMOCK=OFF",
            "-S",
        ])
        .arg(src)
        .arg("-B")
        .arg(build);
        if launcher {
            let z = zccache_bin();
            cmd.arg(format!("-DCMAKE_C_COMPILER_LAUNCHER={}", z.display()))
                .arg(format!("-DCMAKE_CXX_COMPILER_LAUNCHER={}", z.display()));
        }
        for var in ["CC", "CXX", "CFLAGS", "CXXFLAGS", "CMAKE_GENERATOR"] {
            cmd.env_remove(var);
        }
        assert_ok(&cmd.output().expect("cmake"), "cmake configure");
        let mut cmd = m.cmd("cmake");
        cmd.arg("--build").arg(build).args(["-j", "2"]);
        assert_ok(&cmd.output().expect("cmake --build"), "cmake --build");
    };
    let objects = |build: &Path| -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        for sub in [
            "googletest/CMakeFiles/gtest.dir/src",
            "googletest/CMakeFiles/gtest_main.dir/src",
        ] {
            for e in std::fs::read_dir(build.join(sub)).expect("objects dir") {
                let p = e.expect("entry").path();
                if p.extension().is_some_and(|x| x == "o") {
                    out.push((
                        p.file_name().unwrap().to_string_lossy().into_owned(),
                        std::fs::read(&p).expect("read"),
                    ));
                }
            }
        }
        out.sort();
        out
    };

    let a = Machine::with_remote(&server.url, &[], &[]);
    configure(&a, &a.cache.work.join("build"), true);
    assert_eq!(a.stat("misses"), 2);
    a.stop();

    let b = Machine::with_remote(&server.url, &[], &[]);
    let b_build = b.cache.work.join("other/build");
    configure(&b, &b_build, false);
    let reference = objects(&b_build);
    assert_eq!(reference.len(), 2);
    std::fs::remove_dir_all(&b_build).expect("clean");
    b.cache.zero();
    configure(&b, &b_build, true);
    assert_eq!(b.stat("remote_hits"), 2, "every compile a remote hit");
    assert_eq!(b.stat("misses"), 0);
    assert!(objects(&b_build) == reference, "objects equal a bare build");
}
