//! Misses whose wrapper may leave without an answer (see `StoreRequest::unanswered`): once it
//! has sent its `Store` and exited, until a connection thread has read that store and begun
//! storing it, the only trace of the miss is data waiting in the connection's socket. Stats,
//! clear, stop and a rerun of the same compile wait for those, as they wait for answered
//! misses being stored — and only for those: a wrapper still compiling has sent nothing.

use crate::store::Digest;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The connections of misses that may get an unanswered store.
#[derive(Default)]
pub struct UnreadStores {
    entries: Mutex<Vec<Entry>>,
    /// Signalled whenever an entry goes.
    gone: Condvar,
    next_id: AtomicU64,
}

struct Entry {
    id: u64,
    manifest_key: Digest,
    /// A duplicate of the connection's socket (polled here; closed with the entry).
    socket: OwnedFd,
}

/// One expected store; drop it once the store was read and its ingest begun (or the
/// conversation ended).
pub struct Expected {
    stores: Arc<UnreadStores>,
    id: u64,
}

impl Drop for Expected {
    fn drop(&mut self) {
        let mut entries = self
            .stores
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        entries.retain(|e| e.id != self.id);
        self.stores.gone.notify_all();
    }
}

/// Longest one wait sleeps before polling the sockets again.
const REPOLL: Duration = Duration::from_millis(10);

impl UnreadStores {
    /// Registers the miss `manifest_key` on `socket`; None when the socket cannot be
    /// duplicated (the wrapper must then wait for its answer).
    pub fn expect(
        self: &Arc<Self>,
        manifest_key: Digest,
        socket: BorrowedFd<'_>,
    ) -> Option<Expected> {
        let socket = socket.try_clone_to_owned().ok()?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Entry {
                id,
                manifest_key,
                socket,
            });
        Some(Expected {
            stores: self.clone(),
            id,
        })
    }

    /// Waits (until `deadline`) while a registered connection — of `manifest_key` when given
    /// — has a store (or its end) waiting to be read.
    pub fn wait(&self, manifest_key: Option<&Digest>, deadline: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let waiting = entries
                .iter()
                .filter(|e| manifest_key.is_none_or(|k| *k == e.manifest_key))
                .any(|e| has_input(&e.socket));
            let now = Instant::now();
            if !waiting || now >= deadline {
                return;
            }
            entries = self
                .gone
                .wait_timeout(entries, (deadline - now).min(REPOLL))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

/// Whether reading `socket` would not block: data, or the peer gone.
fn has_input(socket: &OwnedFd) -> bool {
    let mut polled = libc::pollfd {
        fd: socket.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: polls one live pollfd without waiting.
    let n = unsafe { libc::poll(&mut polled, 1, 0) };
    n > 0 && polled.revents != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    fn key(n: u8) -> Digest {
        [n; 32]
    }

    #[test]
    fn waits_only_while_a_store_sits_unread() {
        let stores = Arc::new(UnreadStores::default());
        let (mut wrapper, daemon) = UnixStream::pair().unwrap();
        let expected = stores.expect(key(1), daemon.as_fd()).unwrap();
        // Still compiling: nothing to wait for.
        let t = Instant::now();
        stores.wait(None, Instant::now() + Duration::from_secs(5));
        assert!(t.elapsed() < Duration::from_secs(1));
        // Sent and gone: waits until the entry goes, for this key only.
        wrapper.write_all(b"store").unwrap();
        drop(wrapper);
        let t = Instant::now();
        stores.wait(Some(&key(2)), Instant::now() + Duration::from_secs(5));
        assert!(t.elapsed() < Duration::from_secs(1), "another key");
        let reader = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            drop(expected);
        });
        let t = Instant::now();
        stores.wait(Some(&key(1)), Instant::now() + Duration::from_secs(5));
        assert!(
            t.elapsed() >= Duration::from_millis(150),
            "waited for the store"
        );
        reader.join().unwrap();
        assert!(stores.entries.lock().unwrap().is_empty());
    }
}
