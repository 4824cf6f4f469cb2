//! A circuit breaker per remote engine: after a few failures or timeouts in a row the engine
//! is switched off for a cool-down that doubles on every failed probe (2 s up to 5 min);
//! once it has passed, one call is let through as a probe and its outcome decides.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures in a row that open the breaker.
const THRESHOLD: u32 = 3;
const FIRST_COOLDOWN: Duration = Duration::from_secs(2);
const MAX_COOLDOWN: Duration = Duration::from_secs(300);

#[derive(Debug)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
    cooldown: Duration,
    probing: bool,
    /// What the last failure was (`errors`, `timeouts`), for `describe`.
    last_failure: &'static str,
}

#[derive(Debug)]
pub struct Breaker {
    state: Mutex<State>,
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker {
            state: Mutex::new(State {
                failures: 0,
                open_until: None,
                cooldown: FIRST_COOLDOWN,
                probing: false,
                last_failure: "errors",
            }),
        }
    }
}

impl Breaker {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a call may go out now (a closed breaker, or the one probe after a cool-down).
    pub fn allow(&self) -> bool {
        let mut s = self.lock();
        match s.open_until {
            None => true,
            Some(until) if Instant::now() >= until && !s.probing => {
                s.probing = true;
                true
            }
            Some(_) => false,
        }
    }

    pub fn success(&self) {
        let mut s = self.lock();
        s.failures = 0;
        s.open_until = None;
        s.probing = false;
        s.cooldown = FIRST_COOLDOWN;
    }

    /// A failed call; `timed_out` when it failed by running out of time.
    pub fn failure(&self, timed_out: bool) {
        let mut s = self.lock();
        s.failures += 1;
        s.last_failure = if timed_out { "timeouts" } else { "errors" };
        if s.probing {
            s.probing = false;
            s.cooldown = (s.cooldown * 2).min(MAX_COOLDOWN);
            s.open_until = Some(Instant::now() + s.cooldown);
        } else if s.failures >= THRESHOLD && s.open_until.is_none() {
            s.open_until = Some(Instant::now() + s.cooldown);
        }
    }

    /// `ok`, or `switched off after timeouts (next probe in 12s)` while open.
    pub fn describe(&self) -> String {
        let s = self.lock();
        match s.open_until {
            None => "ok".into(),
            Some(until) => {
                let left = until.saturating_duration_since(Instant::now());
                format!(
                    "switched off after {} (next probe in {}s)",
                    s.last_failure,
                    left.as_secs()
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_failures_and_probes_once() {
        let b = Breaker::default();
        assert!(b.allow());
        b.failure(false);
        b.failure(false);
        assert!(b.allow());
        b.failure(true);
        assert!(!b.allow(), "open after three failures");
        assert!(
            b.describe().starts_with("switched off after timeouts"),
            "{}",
            b.describe()
        );
        b.lock().open_until = Some(Instant::now());
        assert!(b.allow(), "one probe after the cool-down");
        assert!(!b.allow(), "only one");
        b.failure(false);
        assert!(!b.allow());
        assert_eq!(b.lock().cooldown, FIRST_COOLDOWN * 2);
        b.lock().open_until = Some(Instant::now());
        assert!(b.allow());
        b.success();
        assert!(b.allow() && b.allow());
    }
}
