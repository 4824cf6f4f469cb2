//! Owner processes (`zccache start --owner <pid>`): a daemon with owners lives exactly as
//! long as they do — it exits once every owner is gone, and never idles out before — so a
//! CI job or a Bazel server that owns its daemon never leaves one behind.

use crate::pidwatch::Watched;
use std::sync::Mutex;

/// The owners registered with this daemon.
#[derive(Debug, Default)]
pub struct Owners {
    list: Mutex<Vec<Watched>>,
}

impl Owners {
    /// Adds owners; refuses (adding none) if any of them is not running.
    pub fn add(&self, pids: &[u32]) -> Result<(), String> {
        let mut watched = Vec::with_capacity(pids.len());
        for &pid in pids {
            watched.push(Watched::new(pid).map_err(|e| format!("owner {pid}: {e}"))?);
        }
        let mut list = self.list.lock().unwrap_or_else(|p| p.into_inner());
        for w in watched {
            if !list.iter().any(|o| o.pid == w.pid) {
                list.push(w);
            }
        }
        Ok(())
    }

    /// Whether any owner was ever registered.
    pub fn any(&self) -> bool {
        !self
            .list
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }

    /// True when owners were registered and every one of them has exited.
    pub fn all_gone(&self) -> bool {
        let list = self.list.lock().unwrap_or_else(|p| p.into_inner());
        !list.is_empty() && list.iter().all(|o| o.exited())
    }
}
