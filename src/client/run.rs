//! Running compilers from the wrapper: hand over entirely (exec), or run with output captured,
//! and restoring cached files.

use crate::ipc::Materialize;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

/// Replaces this process with the real compiler (the build sees exactly the compiler).
/// Only returns if exec itself failed; then returns the exit code to use.
pub fn exec_compiler(compiler: &Path, args: &[std::ffi::OsString]) -> i32 {
    use std::os::unix::process::CommandExt;
    let err = Command::new(compiler).args(args).exec();
    eprintln!("zccache: cannot run {}: {err}", compiler.display());
    127
}

/// What a captured run produced.
pub struct Captured {
    pub exit_code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub millis: u64,
}

/// Runs the compiler with stdout/stderr captured (stdin inherited).
pub fn run_captured(
    compiler: &Path,
    args: &[String],
    extra_env: &[(String, String)],
) -> std::io::Result<Captured> {
    let started = std::time::Instant::now();
    let out = Command::new(compiler)
        .args(args)
        .envs(extra_env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::inherit())
        .output()?;
    Ok(Captured {
        exit_code: exit_code_of(out.status),
        stdout: out.stdout,
        stderr: out.stderr,
        millis: started.elapsed().as_millis() as u64,
    })
}

/// Runs the compiler, copying its stdout/stderr to ours as they arrive while also capturing
/// them; with `strip_stderr`, what reaches our stderr loses its colour escapes (the capture
/// keeps them). `while_running` is called once the compiler has started, before its output is
/// read (the pipes hold what it writes meanwhile). One thread: both pipes are polled.
pub fn run_streamed(
    compiler: &Path,
    args: &[String],
    extra_env: &[(String, String)],
    strip_stderr: bool,
    while_running: impl FnOnce(),
) -> std::io::Result<Captured> {
    let started = std::time::Instant::now();
    let mut child = Command::new(compiler)
        .args(args)
        .envs(extra_env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    while_running();
    let mut out = Pump::new(child.stdout.take(), None);
    let mut err = Pump::new(
        child.stderr.take(),
        strip_stderr.then(super::color::Stripper::default),
    );
    let mut buf = vec![0u8; 16 * 1024];
    while out.pipe.is_some() || err.pipe.is_some() {
        let ready = wait_readable([out.fd(), err.fd()]);
        if ready[0] {
            out.pump_once(&mut buf, &mut std::io::stdout());
        }
        if ready[1] {
            err.pump_once(&mut buf, &mut std::io::stderr());
        }
    }
    let status = child.wait()?;
    Ok(Captured {
        exit_code: exit_code_of(status),
        stdout: out.all,
        stderr: err.all,
        millis: started.elapsed().as_millis() as u64,
    })
}

/// One of the compiler's output pipes: what came through it, copied on to ours as it comes.
struct Pump {
    /// None once it reached end of file (or failed).
    pipe: Option<std::fs::File>,
    all: Vec<u8>,
    strip: Option<super::color::Stripper>,
}

impl Pump {
    fn new(
        pipe: Option<impl Into<std::os::fd::OwnedFd>>,
        strip: Option<super::color::Stripper>,
    ) -> Pump {
        Pump {
            pipe: pipe.map(|p| std::fs::File::from(p.into())),
            all: Vec::new(),
            strip,
        }
    }

    fn fd(&self) -> Option<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        self.pipe.as_ref().map(|p| p.as_raw_fd())
    }

    /// One read (the pipe is readable: it does not block), passed on to `to`.
    fn pump_once(&mut self, buf: &mut [u8], to: &mut impl Write) {
        let Some(pipe) = self.pipe.as_mut() else {
            return;
        };
        match pipe.read(buf) {
            Ok(0) => self.pipe = None,
            Ok(n) => {
                self.all.extend_from_slice(&buf[..n]);
                match self.strip.as_mut() {
                    Some(stripper) => {
                        let mut plain = Vec::with_capacity(n);
                        stripper.feed(&buf[..n], &mut plain);
                        let _ = to.write_all(&plain);
                    }
                    None => {
                        let _ = to.write_all(&buf[..n]);
                    }
                }
                let _ = to.flush();
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => self.pipe = None,
        }
    }
}

/// Waits until one of the open descriptors (None: closed) can be read without blocking (data
/// or end of file); which ones can. A failing poll reports every open one as ready, so the
/// reads decide.
fn wait_readable(fds: [Option<std::os::fd::RawFd>; 2]) -> [bool; 2] {
    let mut polled: Vec<libc::pollfd> = fds
        .iter()
        .flatten()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    loop {
        // SAFETY: `polled` is a live array of `polled.len()` pollfd structs.
        let n = unsafe { libc::poll(polled.as_mut_ptr(), polled.len() as libc::nfds_t, -1) };
        if n >= 0 {
            break;
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return fds.map(|fd| fd.is_some());
        }
    }
    let ready = |fd: Option<std::os::fd::RawFd>| {
        fd.is_some_and(|fd| polled.iter().any(|p| p.fd == fd && p.revents != 0))
    };
    [ready(fds[0]), ready(fds[1])]
}

/// The shell-style exit code of a finished process (128+signal when killed).
pub fn exit_code_of(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match status.code() {
        Some(c) => c,
        None => 128 + status.signal().unwrap_or(0),
    }
}

/// Writes captured compiler output to our own stdout/stderr.
pub fn replay(stdout: &[u8], stderr: &[u8]) {
    if !stdout.is_empty() {
        let mut o = std::io::stdout().lock();
        let _ = o.write_all(stdout);
        let _ = o.flush();
    }
    if !stderr.is_empty() {
        let mut e = std::io::stderr().lock();
        let _ = e.write_all(stderr);
        let _ = e.flush();
    }
}

/// Copies a cached blob to its destination: an in-kernel copy (reflink where the filesystem
/// can) when the daemon vouched the blob is unchanged since it was stored, else a read that
/// checks the digest.
pub fn materialize(m: &Materialize) -> Result<(), String> {
    if m.unchanged_since_stored {
        let dest = Path::new(&m.dest);
        let _ = std::fs::remove_file(dest);
        std::fs::copy(&m.blob_path, dest).map_err(|e| format!("{}: {e}", m.blob_path))?;
        let mode = if m.mode != 0 {
            m.mode & 0o7777
        } else {
            default_file_mode()
        };
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dest, std::fs::Permissions::from_mode(mode))
            .map_err(|e| format!("{}: {e}", m.dest))?;
        return Ok(());
    }
    let bytes = std::fs::read(&m.blob_path).map_err(|e| format!("{}: {e}", m.blob_path))?;
    if blake3::hash(&bytes).as_bytes() != &m.hash {
        return Err(format!(
            "{}: content does not match its digest",
            m.blob_path
        ));
    }
    write_file(Path::new(&m.dest), &bytes, m.mode)
}

/// 0666 minus the process umask (what a freshly created output gets).
fn default_file_mode() -> u32 {
    // SAFETY: umask only swaps the process mask; it is restored at once.
    let mask = unsafe {
        let m = libc::umask(0o022);
        libc::umask(m);
        m
    };
    0o666 & !(mask as u32)
}

/// Replaces `dest` with `bytes` (never writing through an existing link).
pub fn write_file(dest: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(dest);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    if mode != 0 {
        opts.mode(mode & 0o7777);
    }
    let mut f = opts
        .open(dest)
        .map_err(|e| format!("{}: {e}", dest.display()))?;
    f.write_all(bytes)
        .map_err(|e| format!("{}: {e}", dest.display()))?;
    if mode != 0 {
        use std::os::unix::fs::PermissionsExt;
        let _ = f.set_permissions(std::fs::Permissions::from_mode(mode & 0o7777));
    }
    Ok(())
}
