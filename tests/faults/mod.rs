//! A fault-injecting HTTP proxy for the remote-tier tests: it sits in front of a real server
//! (nginx WebDAV) and, per mode, answers 500s, resets the connection mid-body, delays every
//! request, flips a byte in every blob it returns, or accepts connections and never answers.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What the proxy does to each request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Accept, read, never answer.
    Hang,
    /// `HTTP/1.1 500` to everything.
    Error500,
    /// Forward, then send the headers and half the body and reset.
    ResetMidBody,
    /// Forward after a 2 s pause.
    Delay2s,
    /// Forward, flipping one byte of every GET body below `/cas/`.
    FlipByte,
}

pub struct Proxy {
    pub port: u16,
    stop: Arc<AtomicBool>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

impl Proxy {
    /// Starts a proxy to `127.0.0.1:<upstream>` with `fault`.
    pub fn start(upstream: u16, fault: Fault) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                std::thread::spawn(move || serve(conn, upstream, fault));
            }
        });
        Proxy { port, stop }
    }
}

/// One HTTP request read from `conn`: (head, body), None at EOF.
fn read_request(conn: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match conn.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => return None,
        }
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    conn.read_exact(&mut body).ok()?;
    Some((head, body))
}

/// Sends one request upstream on a fresh connection and returns the whole response.
fn forward(upstream: u16, head: &str, body: &[u8]) -> Option<Vec<u8>> {
    let mut up = TcpStream::connect(("127.0.0.1", upstream)).ok()?;
    let mut lines: Vec<&str> = head
        .trim_end()
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    lines.push("Connection: close");
    let rebuilt = format!("{}\r\n\r\n", lines.join("\r\n"));
    up.write_all(rebuilt.as_bytes()).ok()?;
    up.write_all(body).ok()?;
    let mut resp = Vec::new();
    up.read_to_end(&mut resp).ok()?;
    Some(resp)
}

fn split_response(resp: &[u8]) -> (usize, usize) {
    let at = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
        .unwrap_or(resp.len());
    (at, resp.len() - at)
}

/// Closes with a TCP reset (SO_LINGER 0) instead of a clean FIN.
fn reset(conn: TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket fd and a properly sized option value.
    unsafe {
        libc::setsockopt(
            conn.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(conn);
}

fn serve(mut conn: TcpStream, upstream: u16, fault: Fault) {
    // Every answer says `Connection: close`: one request per connection.
    if let Some((head, body)) = read_request(&mut conn) {
        match fault {
            Fault::Hang => {
                std::thread::sleep(Duration::from_secs(120));
                return;
            }
            Fault::Error500 => {
                let _ = conn.write_all(
                    b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                return;
            }
            Fault::Delay2s => std::thread::sleep(Duration::from_secs(2)),
            _ => {}
        }
        let Some(mut resp) = forward(upstream, &head, &body) else {
            return;
        };
        let (body_at, body_len) = split_response(&resp);
        let is_blob_get = head.starts_with("GET ") && head.contains("/cas/");
        match fault {
            Fault::ResetMidBody if body_len > 1 => {
                let _ = conn.write_all(&resp[..body_at + body_len / 2]);
                reset(conn);
                return;
            }
            Fault::FlipByte if is_blob_get && body_len > 0 && resp.starts_with(b"HTTP/1.1 200") => {
                let at = body_at + body_len / 2;
                resp[at] ^= 0x20;
            }
            _ => {}
        }
        let _ = conn.write_all(&resp);
    }
}
