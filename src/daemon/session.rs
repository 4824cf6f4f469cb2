//! One connection: check the peer and its hello, read the first request, dispatch it.

use super::state::DaemonState;
use crate::ipc::{read_frame, write_frame, FrameError, Request, Response, PROTOCOL_VERSION};
use interprocess::local_socket::{prelude::*, Stream};
use std::sync::Arc;

/// Serves a connection until it ends. Errors are logged, never fatal to the daemon.
pub fn serve(state: &Arc<DaemonState>, mut conn: Stream) {
    if let Err(why) = check_peer(&conn) {
        tracing::warn!("rejecting connection: {why}");
        let _ = write_frame(&mut conn, &Response::Error { message: why });
        return;
    }
    // Nothing is acted on before a valid hello: stray bytes are never a request.
    match crate::ipc::read_hello(&mut conn) {
        Ok(_) => {}
        Err(e @ crate::ipc::HelloError::Version { .. }) => {
            tracing::info!("refusing a client: {e}");
            let _ = write_frame(
                &mut conn,
                &Response::Error {
                    message: e.to_string(),
                },
            );
            return;
        }
        Err(e) => {
            tracing::debug!("dropping a connection: {e}");
            return;
        }
    }
    let started = std::time::Instant::now();
    tracing::trace!("connection accepted");
    let outcome = handle(state, &mut conn);
    tracing::trace!("connection served in {:?}", started.elapsed());
    match outcome {
        Ok(()) | Err(FrameError::Closed) => {}
        Err(e) => {
            tracing::debug!("connection ended with error: {e}");
            let _ = write_frame(
                &mut conn,
                &Response::Error {
                    message: e.to_string(),
                },
            );
        }
    }
}

/// Only the daemon's own user may talk to it.
/// A client connection as a compile conversation sees it: a byte stream, and the socket under
/// it (to take descriptors passed along a frame, and to tell whether a store sits unread).
pub trait Conn: std::io::Read + std::io::Write {
    fn socket(&self) -> std::os::fd::BorrowedFd<'_>;
}

impl Conn for Stream {
    fn socket(&self) -> std::os::fd::BorrowedFd<'_> {
        crate::ipc::fds::socket_of(self)
    }
}

fn check_peer(conn: &Stream) -> Result<(), String> {
    let creds = conn
        .peer_creds()
        .map_err(|e| format!("cannot read peer credentials: {e}"))?;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    match creds.euid() {
        Some(uid) if uid == me => Ok(()),
        Some(uid) => Err(format!("peer uid {uid} is not the daemon's uid {me}")),
        None => Err("peer uid unknown".into()),
    }
}

fn handle(state: &Arc<DaemonState>, conn: &mut Stream) -> Result<(), FrameError> {
    let request: Request = read_frame(conn)?;
    match request {
        Request::Compile(req) => {
            if req.protocol != PROTOCOL_VERSION {
                return write_frame(
                    conn,
                    &Response::Error {
                        message: format!(
                            "protocol {} != daemon protocol {PROTOCOL_VERSION}",
                            req.protocol
                        ),
                    },
                );
            }
            let result = super::compile::converse(state, &req, conn);
            state.touch();
            result
        }
        Request::Stats => {
            state.wait_for_ingests(super::INGEST_WAIT);
            // The index writer applies stored entries on its own thread: counts (entries, cache
            // size) include every store the wait above saw finish.
            state.index.flush();
            if let Some(remote) = &state.remote {
                remote.flush(super::STATS_UPLOAD_WAIT);
            }
            write_frame(conn, &Response::Stats(state.snapshot()))
        }
        Request::ZeroStats => {
            state.wait_for_ingests(super::INGEST_WAIT);
            state.stats.zero();
            state.misses.journal.mark_zero();
            state.index.save_stats(state.stats.to_pairs());
            state.index.flush();
            write_frame(conn, &Response::Ok)
        }
        Request::Clear => {
            state.wait_for_ingests(super::INGEST_WAIT);
            state.index.clear();
            state.hashes.clear();
            state.misses.key_parts.clear();
            write_frame(conn, &Response::Ok)
        }
        Request::Shutdown => {
            write_frame(conn, &Response::Ok)?;
            super::shutdown(state, super::lifecycle::ExitReason::Stop)
        }
        Request::Ping => write_frame(
            conn,
            &Response::Pong {
                pid: std::process::id(),
                version: crate::build_info::build_string(),
            },
        ),
        Request::ReportFallback { reason } => {
            state.stats.error(&reason);
            write_frame(conn, &Response::Ok)
        }
        Request::Explain(req) => {
            // Against the entries as stored: a miss just answered may still be storing.
            state.wait_for_ingests(super::INGEST_WAIT);
            let report = super::explain::explain(state, &req);
            write_frame(conn, &Response::Explained(report))
        }
        Request::Misses { since_ms } => {
            state.wait_for_ingests(super::INGEST_WAIT);
            write_frame(conn, &Response::Misses(state.misses.report(since_ms)))
        }
        Request::AddOwners { pids } => match state.owners.add(&pids) {
            Ok(()) => {
                super::lifecycle::record_owners(&state.layout, &pids);
                write_frame(conn, &Response::Ok)
            }
            Err(message) => write_frame(conn, &Response::Error { message }),
        },
        other => write_frame(
            conn,
            &Response::Error {
                message: format!("unexpected first message {other:?}"),
            },
        ),
    }
}
