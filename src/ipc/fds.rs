//! Frames that carry open file descriptors (`SCM_RIGHTS`) along: a wrapper hands the daemon
//! its outputs already opened (and leased), so it can exit without waiting for an answer.
//! The descriptors travel with the frame's first byte; the receiver takes them with the
//! length header and reads the rest of the frame as usual.

use super::frame::{encode_frame, read_frame, FrameError};
use serde::{de::DeserializeOwned, Serialize};
use std::io::Read;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// Most descriptors one frame may carry (more are closed and the frame refused).
pub const MAX_PASSED_FDS: usize = 16;

/// Writes one message as a frame on the socket `sock`, passing `fds` along with it.
pub fn write_frame_with_fds<T: Serialize>(
    sock: BorrowedFd<'_>,
    msg: &T,
    fds: &[BorrowedFd<'_>],
) -> Result<(), FrameError> {
    if fds.len() > MAX_PASSED_FDS {
        return Err(FrameError::Io(std::io::Error::other(format!(
            "{} descriptors to pass, at most {MAX_PASSED_FDS}",
            fds.len()
        ))));
    }
    let buf = encode_frame(msg)?;
    let raw: Vec<RawFd> = fds.iter().map(|fd| fd.as_raw_fd()).collect();
    let mut sent = send_with_rights(sock, &buf, &raw)?;
    while sent < buf.len() {
        sent += send_plain(sock, &buf[sent..])?;
    }
    Ok(())
}

/// Reads one frame from the socket `sock` and the descriptors passed with it.
pub fn read_frame_with_fds<T: DeserializeOwned>(
    sock: BorrowedFd<'_>,
) -> Result<(T, Vec<OwnedFd>), FrameError> {
    let mut header = [0u8; 4];
    let (got, fds) = recv_with_rights(sock, &mut header)?;
    if got == 0 {
        return Err(FrameError::Closed);
    }
    let mut rest = SocketReader(sock);
    if got < header.len() {
        rest.read_exact(&mut header[got..])?;
    }
    let msg = read_frame(&mut Header(header, 0).chain(rest))?;
    Ok((msg, fds))
}

/// The socket read as a byte stream.
struct SocketReader<'a>(BorrowedFd<'a>);

impl Read for SocketReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            // SAFETY: reads into a live buffer of `buf.len()` bytes.
            let n = unsafe {
                libc::read(
                    self.0.as_raw_fd(),
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                )
            };
            if n >= 0 {
                return Ok(n as usize);
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}

/// The length header already read, given back to [`read_frame`] before the body.
struct Header([u8; 4], usize);

impl Read for Header {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let rest = &self.0[self.1..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.1 += n;
        Ok(n)
    }
}

/// The socket under a local-socket stream.
pub fn socket_of(stream: &interprocess::local_socket::Stream) -> BorrowedFd<'_> {
    use std::os::fd::AsFd;
    match stream {
        interprocess::local_socket::Stream::UdSocket(s) => s.as_fd(),
    }
}

/// Space for the control message of [`MAX_PASSED_FDS`] descriptors.
fn control_space() -> usize {
    // SAFETY: CMSG_SPACE only computes a size.
    unsafe { libc::CMSG_SPACE((MAX_PASSED_FDS * std::mem::size_of::<RawFd>()) as u32) as usize }
}

fn send_with_rights(sock: BorrowedFd<'_>, bytes: &[u8], fds: &[RawFd]) -> std::io::Result<usize> {
    if fds.is_empty() {
        return send_plain(sock, bytes);
    }
    let payload = std::mem::size_of_val(fds);
    let mut control = vec![0u8; control_space()];
    let mut iov = libc::iovec {
        iov_base: bytes.as_ptr() as *mut libc::c_void,
        iov_len: bytes.len(),
    };
    // SAFETY: msghdr is plain data; every pointer set below stays valid for the sendmsg call
    // (iov, control), and the control buffer holds CMSG_SPACE(payload) bytes.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = libc::CMSG_SPACE(payload as u32) as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(payload as u32) as _;
        std::ptr::copy_nonoverlapping(fds.as_ptr() as *const u8, libc::CMSG_DATA(cmsg), payload);
        loop {
            let n = libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL);
            if n >= 0 {
                return Ok(n as usize);
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}

fn send_plain(sock: BorrowedFd<'_>, bytes: &[u8]) -> std::io::Result<usize> {
    loop {
        // SAFETY: sends from a live slice of `bytes.len()` bytes.
        let n = unsafe {
            libc::send(
                sock.as_raw_fd(),
                bytes.as_ptr() as *const libc::c_void,
                bytes.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if n >= 0 {
            return Ok(n as usize);
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Reads up to `buf.len()` bytes and whatever descriptors came with them (close-on-exec).
fn recv_with_rights(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
) -> Result<(usize, Vec<OwnedFd>), FrameError> {
    let mut control = vec![0u8; control_space()];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr() as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain data; iov and control outlive the recvmsg call, and the control
    // messages are walked with the CMSG_* macros within msg_controllen.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = control.len() as _;
        let n = loop {
            let n = libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC);
            if n >= 0 {
                break n as usize;
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(err.into());
            }
        };
        let mut fds = Vec::new();
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg);
                let bytes = (*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                for i in 0..bytes / std::mem::size_of::<RawFd>() {
                    let fd = std::ptr::read_unaligned((data as *const RawFd).add(i));
                    fds.push(OwnedFd::from_raw_fd(fd));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
        if msg.msg_flags & libc::MSG_CTRUNC != 0 {
            return Err(FrameError::Io(std::io::Error::other(
                "more descriptors passed than a frame may carry",
            )));
        }
        Ok((n, fds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, Write};
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn a_frame_brings_its_descriptors() {
        let (a, b) = UnixStream::pair().unwrap();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"passed along").unwrap();
        file.rewind().unwrap();
        let msg = ("store".to_string(), vec![7u8; 100_000]);
        let writer = std::thread::spawn(move || {
            write_frame_with_fds(a.as_fd(), &msg, &[file.as_fd()]).unwrap();
        });
        let (back, fds): ((String, Vec<u8>), _) = read_frame_with_fds(b.as_fd()).unwrap();
        writer.join().unwrap();
        assert_eq!(back.0, "store");
        assert_eq!(back.1.len(), 100_000);
        assert_eq!(fds.len(), 1);
        let mut text = String::new();
        std::fs::File::from(fds.into_iter().next().unwrap())
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "passed along");
    }

    #[test]
    fn a_plain_frame_reads_with_no_descriptors() {
        let (mut a, b) = UnixStream::pair().unwrap();
        super::super::frame::write_frame(&mut a, &42u32).unwrap();
        let (n, fds): (u32, _) = read_frame_with_fds(b.as_fd()).unwrap();
        assert_eq!((n, fds.len()), (42, 0));
        drop(a);
        assert!(matches!(
            read_frame_with_fds::<u32>(b.as_fd()),
            Err(FrameError::Closed)
        ));
    }
}
