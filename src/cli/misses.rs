//! `zccache misses [--since 10m] [--json]`: the journaled misses grouped by cause, most
//! frequent first; and the top causes `zccache stats` shows.

use super::ask;
use crate::config::Layout;
use crate::ipc::{MissGroup, MissReport, Request, Response};
use anyhow::{anyhow, bail};

/// The journal's groups since `since_ms` (None: since the last `stats --zero`).
pub fn fetch(layout: &Layout, since_ms: Option<u64>) -> anyhow::Result<MissReport> {
    match ask(layout, &Request::Misses { since_ms })? {
        Response::Misses(report) => Ok(report),
        other => bail!("unexpected answer {other:?}"),
    }
}

/// Runs `misses`; returns the exit code.
pub fn run(
    layout: &Layout,
    since: Option<&str>,
    since_ms: Option<u64>,
    json: bool,
) -> anyhow::Result<i32> {
    let since_ms = match since {
        Some(text) => {
            let ago = parse_duration(text).ok_or_else(|| {
                anyhow!("--since {text:?}: expected a duration like 90s, 10m, 2h, 1d")
            })?;
            Some(crate::daemon::journal::now_ms().saturating_sub(ago.as_millis() as u64))
        }
        None => Some(since_ms.unwrap_or(0)),
    };
    let report = fetch(layout, since_ms)?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(0);
    }
    if report.groups.is_empty() {
        println!(
            "no misses journaled{}",
            since
                .map(|s| format!(" in the last {s}"))
                .unwrap_or_default()
        );
        return Ok(0);
    }
    for g in &report.groups {
        println!("{}", line(g));
    }
    Ok(0)
}

/// `37 compiles: include/config.h changed  (e.g. a.o, b.o)`.
pub fn line(g: &MissGroup) -> String {
    let noun = if g.count == 1 { "compile" } else { "compiles" };
    let examples: Vec<&str> = g
        .examples
        .iter()
        .take(3)
        .map(|e| e.rsplit('/').next().unwrap_or(e))
        .collect();
    if examples.is_empty() {
        format!("{:>6} {noun}: {}", g.count, g.cause)
    } else {
        format!(
            "{:>6} {noun}: {}  (e.g. {})",
            g.count,
            g.cause,
            examples.join(", ")
        )
    }
}

/// `90s`, `10m`, `2h`, `1d`, or plain seconds.
pub fn parse_duration(text: &str) -> Option<std::time::Duration> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().ok()?;
    let secs = match unit.trim() {
        "" | "s" | "sec" | "secs" => n,
        "m" | "min" | "mins" => n * 60,
        "h" | "hour" | "hours" => n * 3600,
        "d" | "day" | "days" => n * 86_400,
        _ => return None,
    };
    Some(std::time::Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10m").map(|d| d.as_secs()), Some(600));
        assert_eq!(parse_duration("90").map(|d| d.as_secs()), Some(90));
        assert_eq!(parse_duration("2h").map(|d| d.as_secs()), Some(7200));
        assert!(parse_duration("soon").is_none());
    }
}
