//! Reads the access recorder's log of one miss (see `recorder/access_recorder.c`) into what the
//! compile and its subprocesses read, listed, probed and found absent, wrote, and which
//! environment variables they looked at — and whether the log can be trusted to be complete.

use std::collections::{BTreeSet, HashSet};

/// What one compile touched, paths as the recorder wrote them (relative ones are relative to
/// the compile's cwd), each kind in first-seen order without repeats.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Accesses {
    /// Opened for reading (`R`) or found to exist (`S`).
    pub read: Vec<String>,
    /// Directories listed.
    pub listed: Vec<String>,
    /// Probed and not found.
    pub absent: Vec<String>,
    /// Created, written, renamed or removed by the compile itself.
    pub written: HashSet<String>,
    /// Environment variable names read.
    pub env: BTreeSet<String>,
    /// Executables of the processes that loaded the recorder.
    pub executables: Vec<String>,
    /// Programs exec'ed by bare name (looked up on `PATH` by libc, invisibly).
    pub path_lookups: Vec<String>,
    processes: usize,
    /// Per pid: process images started (P) minus ended (Q); all must be 0.
    open_images: std::collections::HashMap<u32, i64>,
    execs: usize,
    exec_failures: usize,
    problems: Vec<String>,
}

/// Why a log cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Incomplete {
    #[error("the compiler did not load the access recorder (a static binary?)")]
    NotLoaded,
    #[error("{0} started process(es) did not load the access recorder (static binaries?)")]
    UnrecordedProcesses(usize),
    #[error("an access could not be recorded: {0}")]
    Unrecordable(String),
    #[error("a process ended without writing its records (killed or crashed)")]
    Unfinished,
}

/// The paths a log says were written (`W` records), without parsing the rest; None when one
/// of them cannot be read (not UTF-8: [`Accesses::parse`] then refuses the log anyway).
pub fn written_paths(log: &[u8]) -> Option<Vec<&str>> {
    log.split(|&b| b == b'\n')
        .filter_map(|line| line.strip_prefix(b"W "))
        .map(|path| std::str::from_utf8(path).ok())
        .collect()
}

impl Accesses {
    /// Parses a log; unknown or malformed lines are kept as problems (never ignored).
    pub fn parse(log: &[u8]) -> Accesses {
        let mut acc = Accesses::default();
        let mut seen: HashSet<(u8, &[u8])> = HashSet::new();
        for line in log.split(|&b| b == b'\n') {
            if line.is_empty() {
                continue;
            }
            let (op, rest) = match line {
                [op, b' ', rest @ ..] => (*op, rest),
                _ => {
                    acc.problems.push("malformed record".to_string());
                    continue;
                }
            };
            let Ok(text) = std::str::from_utf8(rest) else {
                acc.problems.push("path is not UTF-8".to_string());
                continue;
            };
            match op {
                b'Q' => match text.trim().parse::<u32>() {
                    Ok(pid) => *acc.open_images.entry(pid).or_default() -= 1,
                    Err(_) => acc.problems.push("malformed record".to_string()),
                },
                b'P' => {
                    acc.processes += 1;
                    match text.split(' ').next().and_then(|p| p.parse::<u32>().ok()) {
                        Some(pid) => *acc.open_images.entry(pid).or_default() += 1,
                        None => acc.problems.push("malformed record".to_string()),
                    }
                    if let Some((_, exe)) = text.split_once(' ') {
                        if !exe.is_empty() && !acc.executables.iter().any(|e| e == exe) {
                            acc.executables.push(exe.to_string());
                        }
                    }
                }
                b'X' => {
                    acc.execs += 1;
                    if let Some((_, prog)) = text.split_once(' ') {
                        if !prog.contains('/')
                            && !prog.is_empty()
                            && !acc.path_lookups.iter().any(|p| p == prog)
                        {
                            acc.path_lookups.push(prog.to_string());
                        }
                    }
                }
                b'F' => acc.exec_failures += 1,
                b'?' => acc.problems.push(text.to_string()),
                b'R' | b'S' | b'L' | b'A' | b'W' | b'E' => {
                    if !seen.insert((if op == b'S' { b'R' } else { op }, rest)) {
                        continue;
                    }
                    let text = text.to_string();
                    match op {
                        b'R' | b'S' => acc.read.push(text),
                        b'L' => acc.listed.push(text),
                        b'A' => acc.absent.push(text),
                        b'W' => {
                            acc.written.insert(text);
                        }
                        _ => {
                            acc.env.insert(text);
                        }
                    }
                }
                _ => acc
                    .problems
                    .push(format!("unknown record `{}`", op as char)),
            }
        }
        acc
    }

    /// Whether every process of the compile recorded its accesses: the compiler itself, and
    /// one recorder start per successful exec.
    pub fn check_complete(&self) -> Result<(), Incomplete> {
        if let Some(problem) = self.problems.first() {
            return Err(Incomplete::Unrecordable(problem.clone()));
        }
        if self.processes == 0 {
            return Err(Incomplete::NotLoaded);
        }
        if self.open_images.values().any(|&n| n > 0) {
            return Err(Incomplete::Unfinished);
        }
        let started = 1 + self.execs.saturating_sub(self.exec_failures);
        if self.processes < started {
            return Err(Incomplete::UnrecordedProcesses(started - self.processes));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_kind_once() {
        let log = b"P 1 /usr/bin/gcc\nE PATH\nA opt.h\nR a.c\nS a.c\nR a.c\nW /tmp/x.s\n\
X 1 as\nP 2 /usr/bin/as\nL /d\nE PATH\nQ 2\nQ 1\n";
        let acc = Accesses::parse(log);
        assert_eq!(acc.read, vec!["a.c"]);
        assert_eq!(acc.absent, vec!["opt.h"]);
        assert_eq!(acc.listed, vec!["/d"]);
        assert!(acc.written.contains("/tmp/x.s"));
        assert_eq!(acc.env.iter().collect::<Vec<_>>(), vec!["PATH"]);
        assert_eq!(acc.executables, vec!["/usr/bin/gcc", "/usr/bin/as"]);
        assert_eq!(acc.path_lookups, vec!["as"]);
        assert_eq!(acc.check_complete(), Ok(()));
    }

    #[test]
    fn a_process_without_the_recorder_makes_the_log_incomplete() {
        let acc = Accesses::parse(b"P 1 /usr/bin/gcc\nX 1 /static/cc1\nQ 1\n");
        assert_eq!(
            acc.check_complete(),
            Err(Incomplete::UnrecordedProcesses(1))
        );
        let failed = Accesses::parse(
            b"P 1 /usr/bin/gcc\nX 1 /nope\nQ 1\nP 1 /usr/bin/gcc\nF 1 /nope\nQ 1\n",
        );
        assert_eq!(failed.check_complete(), Ok(()));
        let killed = Accesses::parse(b"P 1 /usr/bin/gcc\nX 1 /bin/as\nP 2 /bin/as\nQ 1\n");
        assert_eq!(killed.check_complete(), Err(Incomplete::Unfinished));
        assert_eq!(
            Accesses::parse(b"").check_complete(),
            Err(Incomplete::NotLoaded)
        );
        assert!(matches!(
            Accesses::parse(b"P 1 /x\n? newline in path\nQ 1\n").check_complete(),
            Err(Incomplete::Unrecordable(_))
        ));
        assert!(Accesses::parse(b"garbage").check_complete().is_err());
    }
}
