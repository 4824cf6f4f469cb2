//! `zccache start [--owner <pid>]…`, `stop` and `status`: the daemon's lifetime as a user or a
//! CI job controls it. `stop` returns only once the daemon process has exited.

use crate::client::connect;
use crate::config::Layout;
use crate::daemon::lifecycle;
use crate::ipc::{read_frame, write_frame, Request, Response};
use crate::pidwatch::Watched;
use anyhow::{bail, Context};
use interprocess::local_socket::prelude::*;
use std::time::{Duration, Instant};

/// Longest `stop` waits for the daemon to exit (it drains conversations for up to
/// [`crate::daemon::DRAIN_WAIT`] and stores answered misses for up to
/// [`crate::daemon::INGEST_WAIT`]).
const STOP_WAIT: Duration = Duration::from_secs(90);

/// `zccache start`: make sure a daemon of this build runs; with owners, it exits once they
/// are all gone.
pub fn start(layout: &Layout, owners: &[u32]) -> anyhow::Result<i32> {
    let exe = std::env::current_exe().context("locating zccache")?;
    drop(connect::connect_or_start(layout, &exe)?);
    if !owners.is_empty() {
        let mut conn = connect::connect_or_start(layout, &exe)?;
        write_frame(
            &mut conn,
            &Request::AddOwners {
                pids: owners.to_vec(),
            },
        )?;
        match read_frame::<Response>(&mut conn)? {
            Response::Ok => {}
            Response::Error { message } => bail!("{message}"),
            other => bail!("unexpected answer {other:?}"),
        }
    }
    let pid = connect::ping(layout)?;
    println!(
        "zccache daemon running (pid {pid}) for {}",
        layout.root.display()
    );
    if !owners.is_empty() {
        let list: Vec<String> = owners.iter().map(|p| p.to_string()).collect();
        println!(
            "it exits once these processes are gone: {}",
            list.join(", ")
        );
    }
    Ok(0)
}

/// `zccache stop`: asks this build's daemon to exit and waits until its process is gone.
pub fn stop(layout: &Layout) -> anyhow::Result<i32> {
    let deadline = Instant::now() + STOP_WAIT;
    loop {
        match connect::connect_existing(layout) {
            Ok(mut conn) => {
                // Watch the very process at the other end of the socket before asking it to
                // stop: no pid file race, no pid reuse. (A daemon in another pid namespace
                // shows pid 0: then wait for its lock instead.)
                let pid = conn
                    .peer_creds()
                    .ok()
                    .and_then(|c| c.pid())
                    .and_then(|p| u32::try_from(p).ok())
                    .filter(|&p| p != 0);
                let watched = pid.and_then(|p| Watched::new(p).ok());
                write_frame(&mut conn, &Request::Shutdown)?;
                let _ = read_frame::<Response>(&mut conn);
                drop(conn);
                let left = deadline.saturating_duration_since(Instant::now());
                let exited = match &watched {
                    Some(w) => w.wait(left),
                    None => wait_unlocked(layout, deadline),
                };
                if !exited {
                    bail!("the daemon did not exit within {STOP_WAIT:?}");
                }
                match pid {
                    Some(pid) => println!("zccache daemon stopped (pid {pid})"),
                    None => println!("zccache daemon stopped"),
                }
                return Ok(0);
            }
            Err(_) if !connect::daemon_alive(layout) => {
                println!("zccache daemon not running");
                return Ok(0);
            }
            // A daemon holds the lock but has no socket: starting up, or removing its socket
            // on its way out. Ask again shortly.
            Err(e) => {
                if Instant::now() >= deadline {
                    bail!(
                        "a daemon holds {} but does not answer: {e}",
                        layout.daemon_lock().display()
                    );
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// Waits until no daemon holds the store's lock (it has exited), or the deadline.
fn wait_unlocked(layout: &Layout, deadline: Instant) -> bool {
    while connect::daemon_alive(layout) {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}

/// `zccache status`: running or not, who started it, and why the last one ended.
pub fn status(layout: &Layout) -> anyhow::Result<i32> {
    let running = connect::ping(layout).ok();
    match running {
        Some(pid) => {
            println!("running (pid {pid}), cache dir {}", layout.root.display());
            if let Some(life) = lifecycle::describe_running(layout, pid) {
                println!("{life}");
            }
        }
        None => println!("not running, cache dir {}", layout.root.display()),
    }
    if let Some(last) = lifecycle::describe_last_ended(layout, running) {
        println!("{last}");
    }
    Ok(if running.is_some() { 0 } else { 1 })
}
