//! The lifecycle log (`<cache>/lifecycle.log`): a line when a daemon starts (and who started
//! it), when owners are added, and when it exits (why). A daemon that started and never
//! said why it ended was killed or crashed. `zccache status` reads it to say why the last
//! daemon ended. Best effort: a read-only cache dir simply has no log.

use crate::config::Layout;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// Why a daemon exited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitReason {
    /// Idle past `idle_timeout`.
    Idle,
    /// `zccache stop`.
    Stop,
    /// Every `--owner` process is gone.
    OwnersGone,
}

impl ExitReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ExitReason::Idle => "idle",
            ExitReason::Stop => "stop",
            ExitReason::OwnersGone => "owners gone",
        }
    }
}

/// The log is trimmed to its newer half past this size.
const MAX_LOG_BYTES: u64 = 64 * 1024;

/// One daemon's life as the log tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Life {
    pub pid: u32,
    pub build: String,
    pub started_at: u64,
    pub started_by: String,
    pub owners: Vec<u32>,
    /// When and why it exited, if it said.
    pub ended: Option<(u64, String)>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn append(layout: &Layout, event: &str, detail: &str) {
    let detail: String = detail
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let line = format!(
        "{}\t{}\t{}\t{event}\t{detail}\n",
        now(),
        std::process::id(),
        crate::build_info::build_string()
    );
    let appended = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(layout.lifecycle_log())
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = appended {
        tracing::debug!("cannot write the lifecycle log: {e}");
    }
}

/// Records this daemon's start (trimming an old log first).
pub fn record_start(layout: &Layout, started_by: &str) {
    let path = layout.lifecycle_log();
    if std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) > MAX_LOG_BYTES {
        if let Ok(text) = std::fs::read_to_string(&path) {
            let lines: Vec<&str> = text.lines().collect();
            let keep = lines[lines.len() / 2..].join("\n") + "\n";
            let tmp = path.with_extension("log.tmp");
            if std::fs::write(&tmp, keep).is_ok() {
                let _ = std::fs::rename(&tmp, &path);
            }
        }
    }
    append(layout, "started", started_by);
}

/// Records owner processes added to this daemon.
pub fn record_owners(layout: &Layout, pids: &[u32]) {
    let list: Vec<String> = pids.iter().map(|p| p.to_string()).collect();
    append(layout, "owners", &list.join(","));
}

/// Records this daemon's exit.
pub fn record_exit(layout: &Layout, reason: ExitReason) {
    append(layout, "exited", reason.as_str());
}

/// Who started this process: what the spawning client passed in `STARTED_BY_ENV`, else the
/// parent process.
pub fn started_by() -> String {
    match std::env::var(STARTED_BY_ENV) {
        Ok(by) if !by.is_empty() => by,
        _ => describe_parent(),
    }
}

/// Set by a client that spawns the daemon: a description of that client.
pub const STARTED_BY_ENV: &str = "ZCCACHE_STARTED_BY";

/// `zccache <first words> (pid N, parent M <comm>)` for the current process.
pub fn describe_self() -> String {
    let words: Vec<String> = std::env::args()
        .take(4)
        .map(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or(a)
        })
        .collect();
    format!(
        "`{}` (pid {}, {})",
        words.join(" "),
        std::process::id(),
        describe_parent()
    )
}

fn describe_parent() -> String {
    // SAFETY: getppid has no preconditions.
    let ppid = unsafe { libc::getppid() };
    let comm = std::fs::read_to_string(format!("/proc/{ppid}/comm")).unwrap_or_default();
    format!("parent {ppid} {}", comm.trim())
}

/// Reads the log into lives, oldest first.
pub fn read(layout: &Layout) -> Vec<Life> {
    let text = std::fs::read_to_string(layout.lifecycle_log()).unwrap_or_default();
    let mut lives: Vec<Life> = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.splitn(5, '\t').collect();
        let [at, pid, build, event, detail] = fields[..] else {
            continue;
        };
        let (Ok(at), Ok(pid)) = (at.parse::<u64>(), pid.parse::<u32>()) else {
            continue;
        };
        let current = lives
            .iter_mut()
            .rev()
            .find(|l| l.pid == pid && l.build == build);
        match (event, current) {
            ("started", _) => lives.push(Life {
                pid,
                build: build.to_string(),
                started_at: at,
                started_by: detail.to_string(),
                owners: Vec::new(),
                ended: None,
            }),
            ("owners", Some(life)) => life
                .owners
                .extend(detail.split(',').filter_map(|p| p.parse::<u32>().ok())),
            ("exited", Some(life)) if life.ended.is_none() => {
                life.ended = Some((at, detail.to_string()))
            }
            _ => {}
        }
    }
    lives
}

/// A line for `zccache status` about the latest daemon of this build other than
/// `running_pid`: when it started, by whom, and why it ended.
pub fn describe_last_ended(layout: &Layout, running_pid: Option<u32>) -> Option<String> {
    let build = crate::build_info::build_string();
    let life = read(layout)
        .into_iter()
        .rev()
        .find(|l| l.build == build && Some(l.pid) != running_pid)?;
    let why = match &life.ended {
        Some((at, reason)) => format!("exited at {} ({reason})", utc(*at)),
        None if crate::pidwatch::is_running(life.pid) => return None,
        None => "ended without saying why (killed or crashed)".to_string(),
    };
    Some(format!(
        "last daemon: pid {}, started {} by {}, {why}",
        life.pid,
        utc(life.started_at),
        life.started_by
    ))
}

/// What the log says about a running daemon: who started it and its owners.
pub fn describe_running(layout: &Layout, pid: u32) -> Option<String> {
    let build = crate::build_info::build_string();
    let life = read(layout)
        .into_iter()
        .rev()
        .find(|l| l.build == build && l.pid == pid)?;
    let mut text = format!("started {} by {}", utc(life.started_at), life.started_by);
    if !life.owners.is_empty() {
        // The same owner may be recorded more than once (a Bazel server re-adds itself each
        // time it re-runs the toolchain's configure step).
        let mut owners: Vec<String> = Vec::new();
        for pid in &life.owners {
            let pid = pid.to_string();
            if !owners.contains(&pid) {
                owners.push(pid);
            }
        }
        text.push_str(&format!(
            "; exits once these owners are gone: {}",
            owners.join(", ")
        ));
    }
    Some(text)
}

/// `2026-12-02 17:40:00 UTC` for seconds since the epoch.
pub fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_798_761_600), "2027-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400 + 3661), "2000-02-29 01:01:01 UTC");
    }

    #[test]
    fn reads_lives_back() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        record_start(&layout, "test");
        record_owners(&layout, &[12, 13]);
        record_exit(&layout, ExitReason::OwnersGone);
        let lives = read(&layout);
        assert_eq!(lives.len(), 1);
        assert_eq!(lives[0].owners, vec![12, 13]);
        assert_eq!(lives[0].ended.as_ref().unwrap().1, "owners gone");
        let text = describe_last_ended(&layout, None).unwrap();
        assert!(
            text.contains("owners gone") && text.contains("by test"),
            "{text}"
        );
    }

    #[test]
    fn lists_each_owner_once() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        record_start(&layout, "test");
        record_owners(&layout, &[12]);
        record_owners(&layout, &[12, 13]);
        let text = describe_running(&layout, std::process::id()).unwrap();
        assert!(
            text.ends_with("exits once these owners are gone: 12, 13"),
            "{text}"
        );
    }
}
