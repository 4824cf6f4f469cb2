//! Running compilers from the wrapper: hand over entirely (exec), or run with output captured,
//! and restoring cached files.

use crate::ipc::Materialize;
use std::io::Write;
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
/// keeps them).
pub fn run_streamed(
    compiler: &Path,
    args: &[String],
    extra_env: &[(String, String)],
    strip_stderr: bool,
) -> std::io::Result<Captured> {
    use std::io::Read;
    let started = std::time::Instant::now();
    let mut child = Command::new(compiler)
        .args(args)
        .envs(extra_env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    fn pump<R: Read, W: Write>(
        mut from: R,
        mut to: W,
        mut strip: Option<super::color::Stripper>,
    ) -> Vec<u8> {
        let mut all = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        let mut plain = Vec::new();
        loop {
            match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    all.extend_from_slice(&buf[..n]);
                    let shown = match strip.as_mut() {
                        Some(s) => {
                            plain.clear();
                            s.feed(&buf[..n], &mut plain);
                            &plain[..]
                        }
                        None => &buf[..n],
                    };
                    let _ = to.write_all(shown);
                    let _ = to.flush();
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        all
    }
    let out = child.stdout.take();
    let err = child.stderr.take();
    let out_thread = std::thread::spawn(move || match out {
        Some(o) => pump(o, std::io::stdout(), None),
        None => Vec::new(),
    });
    let stderr = match err {
        Some(e) => pump(
            e,
            std::io::stderr(),
            strip_stderr.then(super::color::Stripper::default),
        ),
        None => Vec::new(),
    };
    let stdout = out_thread.join().unwrap_or_default();
    let status = child.wait()?;
    Ok(Captured {
        exit_code: exit_code_of(status),
        stdout,
        stderr,
        millis: started.elapsed().as_millis() as u64,
    })
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
