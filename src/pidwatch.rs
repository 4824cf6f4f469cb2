//! Watching other processes by pid without races on pid reuse: a pidfd (Linux ≥ 5.3) taken
//! while the process is known to be alive becomes readable when it exits; without pidfds,
//! `kill(pid, 0)` plus a zombie check.

use std::os::fd::{FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// A handle on one process.
#[derive(Debug)]
pub struct Watched {
    pub pid: u32,
    fd: Option<OwnedFd>,
}

impl Watched {
    /// Starts watching `pid`; Err(NotFound) when no such process is running.
    pub fn new(pid: u32) -> std::io::Result<Watched> {
        if pid == 0 || pid > i32::MAX as u32 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{pid} is not a process id"),
            ));
        }
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
        if fd >= 0 {
            // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
            let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
            return Ok(Watched { pid, fd: Some(fd) });
        }
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::ESRCH) => Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("process {pid} is not running"),
            )),
            Some(libc::ENOSYS) | Some(libc::EPERM) if alive_by_signal(pid) => {
                Ok(Watched { pid, fd: None })
            }
            Some(libc::ENOSYS) | Some(libc::EPERM) => Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("process {pid} is not running"),
            )),
            _ => Err(err),
        }
    }

    /// Whether the process has exited (a zombie counts as exited).
    pub fn exited(&self) -> bool {
        match &self.fd {
            Some(fd) => readable(fd, 0),
            None => !alive_by_signal(self.pid),
        }
    }

    /// Waits up to `limit` for the process to exit; true once it has.
    pub fn wait(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let done = match &self.fd {
                Some(fd) => readable(fd, left.as_millis().min(1000) as i32),
                None => {
                    std::thread::sleep(Duration::from_millis(5).min(left));
                    !alive_by_signal(self.pid)
                }
            };
            if done {
                return true;
            }
            if left.is_zero() {
                return false;
            }
        }
    }
}

/// poll(2) for POLLIN on a pidfd.
fn readable(fd: &OwnedFd, timeout_ms: i32) -> bool {
    use std::os::fd::AsRawFd;
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    n > 0 && pfd.revents != 0
}

/// `kill(pid, 0)` succeeds and the process is not a zombie.
fn alive_by_signal(pid: u32) -> bool {
    // SAFETY: signal 0 only checks for existence and permission.
    let exists = unsafe { libc::kill(pid as libc::pid_t, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    if !exists {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which is in parentheses and may hold spaces.
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
            .unwrap_or(true),
        Err(_) => false,
    }
}

/// Whether a process with this pid is running (not a zombie).
pub fn is_running(pid: u32) -> bool {
    Watched::new(pid).map(|w| !w.exited()).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_a_child_exit() {
        let mut child = std::process::Command::new("sleep")
            .arg("0.2")
            .spawn()
            .unwrap();
        let watched = Watched::new(child.id()).unwrap();
        assert!(!watched.exited());
        assert!(watched.wait(Duration::from_secs(30)));
        assert!(watched.exited());
        child.wait().unwrap();
        assert!(Watched::new(child.id()).is_err() || !is_running(child.id()));
    }
}
