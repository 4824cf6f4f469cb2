//! Reaching the daemon: connect to its socket, starting it first (exactly once, under a
//! spawn lock) when nobody answers.

use crate::config::Layout;
use crate::ipc::{read_frame, write_frame, Request, Response};
use interprocess::local_socket::{prelude::*, GenericFilePath, Stream};
use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a client waits for a daemon it started.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Errors reaching the daemon.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot connect to {0}: {1}")]
    Connect(String, std::io::Error),
    #[error("cannot start the daemon: {0}")]
    Spawn(std::io::Error),
    #[error("daemon did not come up within {0:?}")]
    Timeout(Duration),
    #[error("cache dir: {0}")]
    Dir(std::io::Error),
}

/// Connects to the daemon of `layout` without starting one, and sends the hello every
/// connection opens with. When the store's own socket does not answer and the store cannot
/// be written, the daemon of a read-only store is looked for in its runtime dir.
pub fn connect_existing(layout: &Layout) -> Result<Stream, ConnectError> {
    match connect_at(layout) {
        Ok(conn) => Ok(conn),
        Err(e) if layout.read_only => Err(e),
        Err(e) => {
            let checked = layout.clone().checked();
            if checked.read_only {
                connect_at(&checked)
            } else {
                Err(e)
            }
        }
    }
}

fn connect_at(layout: &Layout) -> Result<Stream, ConnectError> {
    let socket = layout.socket();
    let err = |e| ConnectError::Connect(socket.display().to_string(), e);
    let name = socket
        .as_path()
        .to_fs_name::<GenericFilePath>()
        .map_err(err)?;
    let mut conn = Stream::connect(name).map_err(err)?;
    crate::ipc::write_hello(&mut conn).map_err(err)?;
    Ok(conn)
}

/// Asks a running daemon for its pid.
pub fn ping(layout: &Layout) -> Result<u32, ConnectError> {
    let mut conn = connect_existing(layout)?;
    let io = |e: crate::ipc::FrameError| {
        ConnectError::Connect(
            layout.socket().display().to_string(),
            std::io::Error::other(e.to_string()),
        )
    };
    write_frame(&mut conn, &Request::Ping).map_err(io)?;
    match read_frame::<Response>(&mut conn).map_err(io)? {
        Response::Pong { pid, .. } => Ok(pid),
        other => Err(io(crate::ipc::FrameError::Io(std::io::Error::other(
            format!("unexpected answer {other:?}"),
        )))),
    }
}

/// Whether a daemon process holds the cache dir's daemon lock (alive, maybe still starting);
/// for a store that cannot be written, the lock in its runtime dir.
pub fn daemon_alive(layout: &Layout) -> bool {
    let layout = layout.clone().checked();
    match File::open(layout.daemon_lock()) {
        Ok(f) => match f.try_lock() {
            Ok(()) => false,
            Err(std::fs::TryLockError::WouldBlock) => true,
            Err(std::fs::TryLockError::Error(_)) => false,
        },
        Err(_) => false,
    }
}

/// Connects, starting the daemon if needed. Concurrent callers start exactly one daemon:
/// they serialize on a spawn lock, and nobody spawns while a daemon holds its lock (it may be
/// starting, or briefly refusing connections under load); they just retry.
pub fn connect_or_start(layout: &Layout, exe: &Path) -> Result<Stream, ConnectError> {
    if let Ok(conn) = connect_existing(layout) {
        return Ok(conn);
    }
    // Start (and wait for) the daemon where it will run: in the runtime dir for a read-only
    // store.
    let layout = &layout.clone().checked();
    crate::daemon::ensure_private_dir(layout).map_err(ConnectError::Dir)?;
    let lock = File::create(layout.spawn_lock()).map_err(ConnectError::Dir)?;
    lock.lock().map_err(ConnectError::Dir)?;
    let deadline = Instant::now() + START_TIMEOUT;
    let mut delay = Duration::from_millis(1);
    let mut spawned = false;
    loop {
        if let Ok(conn) = connect_existing(layout) {
            return Ok(conn);
        }
        if !spawned && !daemon_alive(layout) {
            spawn_daemon(layout, exe)?;
            spawned = true;
        }
        if Instant::now() >= deadline {
            return Err(ConnectError::Timeout(START_TIMEOUT));
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(50));
    }
}

/// Starts `zccache daemon` detached from the build (own session and process group, no
/// stdio), so whatever kills the build's process group or session (make's ^C, Bazel ending a
/// repository rule) leaves the daemon alone.
pub fn spawn_daemon(layout: &Layout, exe: &Path) -> Result<(), ConnectError> {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(exe);
    cmd.arg("daemon")
        .env("ZCCACHE_DIR", &layout.root)
        .env(
            crate::daemon::lifecycle::STARTED_BY_ENV,
            crate::daemon::lifecycle::describe_self(),
        )
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: setsid is async-signal-safe and only detaches this child.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    cmd.spawn().map_err(ConnectError::Spawn)?;
    Ok(())
}
