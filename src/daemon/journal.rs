//! The miss journal: every miss and uncacheable compile with its cause, one JSON line each,
//! in the cache dir. Bounded: the live file is rotated to the old one when it holds half the
//! capacity, so the two together never hold more than `capacity` records. A `stats --zero`
//! appends a marker, so "since the last zero" needs no other state.

use crate::ipc::{MissGroup, MissReport};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Live journal file name (in the cache dir).
pub const CURRENT: &str = "misses.jsonl";
/// The previous half, replaced on each rotation.
pub const OLD: &str = "misses.old.jsonl";

/// Examples and units kept per group.
const EXAMPLES_PER_GROUP: usize = 5;

/// What a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Miss,
    Uncacheable,
    /// `stats --zero` happened here.
    Zero,
}

/// One journaled compile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Unix time in milliseconds.
    pub t_ms: u64,
    pub kind: Kind,
    #[serde(default)]
    pub family: String,
    /// The crate name (rustc) or the source file.
    #[serde(default)]
    pub unit: String,
    /// The first output path (absolute), or empty.
    #[serde(default)]
    pub output: String,
    #[serde(default)]
    pub cause: String,
}

/// Unix time now, in ms.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The bounded journal of one cache dir.
pub struct Journal {
    dir: PathBuf,
    capacity: usize,
    live: Mutex<Live>,
}

/// The open live file and how many records it holds (counted once, lazily).
#[derive(Default)]
struct Live {
    file: Option<File>,
    records: Option<usize>,
}

impl Journal {
    /// A journal in `dir` holding at most `capacity` records (0: journal nothing).
    pub fn new(dir: &Path, capacity: usize) -> Journal {
        Journal {
            dir: dir.to_path_buf(),
            capacity,
            live: Mutex::new(Live::default()),
        }
    }

    fn half(&self) -> usize {
        (self.capacity / 2).max(1)
    }

    /// Appends one record (a failure is logged: the journal never fails a compile).
    pub fn append(&self, record: &Record) {
        if self.capacity == 0 {
            return;
        }
        if let Err(e) = self.try_append(record) {
            tracing::debug!("miss journal: cannot append ({e})");
        }
    }

    fn try_append(&self, record: &Record) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(record).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.dir.join(CURRENT);
        let count = match live.records {
            Some(n) => n,
            None => count_lines(&current),
        };
        if count >= self.half() {
            live.file = None;
            std::fs::rename(&current, self.dir.join(OLD))?;
            live.records = Some(0);
        } else {
            live.records = Some(count);
        }
        if live.file.is_none() {
            live.file = Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&current)?,
            );
        }
        if let Some(file) = live.file.as_mut() {
            file.write_all(&line)?;
        }
        live.records = live.records.map(|n| n + 1);
        Ok(())
    }

    /// Marks a `stats --zero`.
    pub fn mark_zero(&self) {
        self.append(&Record {
            t_ms: now_ms(),
            kind: Kind::Zero,
            family: String::new(),
            unit: String::new(),
            output: String::new(),
            cause: String::new(),
        });
    }

    /// Every record still held, oldest first.
    pub fn records(&self) -> Vec<Record> {
        // Hold the lock so a rotation cannot happen between the two reads.
        let _live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = read_records(&self.dir.join(OLD));
        out.extend(read_records(&self.dir.join(CURRENT)));
        out
    }

    /// Misses and uncacheable compiles since `since_ms` (None: since the last zero marker).
    pub fn since(&self, since_ms: Option<u64>) -> Vec<Record> {
        let records = self.records();
        let start = match since_ms {
            Some(t) => records.iter().position(|r| r.t_ms >= t),
            None => Some(
                records
                    .iter()
                    .rposition(|r| r.kind == Kind::Zero)
                    .map_or(0, |i| i + 1),
            ),
        };
        match start {
            Some(i) => records[i..]
                .iter()
                .filter(|r| r.kind != Kind::Zero)
                .cloned()
                .collect(),
            None => Vec::new(),
        }
    }
}

fn count_lines(path: &Path) -> usize {
    match File::open(path) {
        Ok(f) => BufReader::new(f).lines().count(),
        Err(_) => 0,
    }
}

fn read_records(path: &Path) -> Vec<Record> {
    let Ok(file) = File::open(path) else {
        return Vec::new();
    };
    BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| serde_json::from_str(&line).ok())
        .collect()
}

/// Groups records by cause, most frequent first (ties: the most recent first).
pub fn group(records: &[Record]) -> MissReport {
    let mut groups: Vec<MissGroup> = Vec::new();
    let mut at: HashMap<&str, usize> = HashMap::new();
    let mut last_seen: Vec<usize> = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let slot = *at.entry(r.cause.as_str()).or_insert_with(|| {
            groups.push(MissGroup {
                cause: r.cause.clone(),
                ..MissGroup::default()
            });
            last_seen.push(0);
            groups.len() - 1
        });
        let g = &mut groups[slot];
        g.count += 1;
        last_seen[slot] = i;
        if !r.output.is_empty()
            && g.examples.len() < EXAMPLES_PER_GROUP
            && !g.examples.contains(&r.output)
        {
            g.examples.push(r.output.clone());
        }
        if !r.unit.is_empty() && g.units.len() < EXAMPLES_PER_GROUP && !g.units.contains(&r.unit) {
            g.units.push(r.unit.clone());
        }
    }
    let mut order: Vec<usize> = (0..groups.len()).collect();
    order.sort_by(|&a, &b| {
        groups[b]
            .count
            .cmp(&groups[a].count)
            .then(last_seen[b].cmp(&last_seen[a]))
    });
    let mut slots: Vec<Option<MissGroup>> = groups.into_iter().map(Some).collect();
    MissReport {
        groups: order.into_iter().filter_map(|i| slots[i].take()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn miss(cause: &str, output: &str) -> Record {
        Record {
            t_ms: now_ms(),
            kind: Kind::Miss,
            family: "gcc".into(),
            unit: output.replace(".o", ".c"),
            output: output.into(),
            cause: cause.into(),
        }
    }

    #[test]
    fn stays_within_its_bound_after_100000_misses() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::new(dir.path(), 1000);
        for i in 0..100_000 {
            journal.append(&miss(
                &format!("h{}.h changed", i % 7),
                &format!("/b/{i}.o"),
            ));
        }
        let held = journal.records();
        assert!(held.len() <= 1000, "{} records held", held.len());
        assert!(held.len() >= 500);
        assert_eq!(held.last().unwrap().output, "/b/99999.o");
        let bytes: u64 = [CURRENT, OLD]
            .iter()
            .map(|f| std::fs::metadata(dir.path().join(f)).map_or(0, |m| m.len()))
            .sum();
        assert!(bytes < 1000 * 200, "{bytes} bytes on disk");
        // A journal reopened on the same files keeps counting from what is there.
        let reopened = Journal::new(dir.path(), 1000);
        for i in 0..1500 {
            reopened.append(&miss("x", &format!("/c/{i}.o")));
        }
        assert!(reopened.records().len() <= 1000);
    }

    #[test]
    fn groups_most_frequent_first_and_since_last_zero() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::new(dir.path(), 100);
        journal.append(&miss("old cause", "/b/0.o"));
        journal.mark_zero();
        journal.append(&miss("b.h changed", "/b/1.o"));
        journal.append(&miss("a.h changed", "/b/2.o"));
        journal.append(&miss("a.h changed", "/b/3.o"));
        let report = group(&journal.since(None));
        let causes: Vec<(&str, u64)> = report
            .groups
            .iter()
            .map(|g| (g.cause.as_str(), g.count))
            .collect();
        assert_eq!(causes, vec![("a.h changed", 2), ("b.h changed", 1)]);
        assert_eq!(report.groups[0].examples, vec!["/b/2.o", "/b/3.o"]);
        assert_eq!(group(&journal.since(Some(0))).groups.len(), 3);
    }

    #[test]
    fn zero_capacity_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::new(dir.path(), 0);
        journal.append(&miss("x", "/b/1.o"));
        assert!(!dir.path().join(CURRENT).exists());
    }
}
