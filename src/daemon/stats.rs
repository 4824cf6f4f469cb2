//! Hit/miss/uncacheable counters, persisted in the index between daemon runs.

use crate::ipc::{FamilySnapshot, StatsSnapshot};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::store::remote::RemoteCounters;

/// Counters of one compiler family (`gcc`, `clang`, `rustc`, `emcc`…).
#[derive(Debug, Clone, Copy, Default)]
struct FamilyCounts {
    hits: u64,
    misses: u64,
    uncacheable: u64,
    time_saved_ms: u64,
}

/// Live counters.
#[derive(Default)]
pub struct Stats {
    families: Mutex<BTreeMap<String, FamilyCounts>>,
    pub direct_hits: AtomicU64,
    pub preprocessor_hits: AtomicU64,
    pub misses: AtomicU64,
    pub uncacheable: AtomicU64,
    pub errors: AtomicU64,
    pub time_saved_ms: AtomicU64,
    /// Sampled hits re-compiled: same outputs / different outputs (a wrong hit) / the
    /// compile's output differs run to run / could not be re-compiled.
    pub verify_ok: AtomicU64,
    pub verify_mismatch: AtomicU64,
    pub verify_unreproducible: AtomicU64,
    pub verify_skipped: AtomicU64,
    reasons: Mutex<BTreeMap<String, u64>>,
    /// Every reason name ever counted or restored (so a zeroed one is persisted as 0).
    known_reasons: Mutex<std::collections::BTreeSet<String>>,
    /// Bumped on every change so the saver knows when to persist.
    pub generation: AtomicU64,
    /// The remote tier's counters (shared with it).
    pub remote: std::sync::Arc<RemoteCounters>,
}

impl Stats {
    /// The remote counters by their `stats --json` names.
    fn remote_counters(&self) -> [(&'static str, &AtomicU64); 9] {
        let r = &self.remote;
        [
            ("remote_hits", &r.hits),
            ("remote_misses", &r.misses),
            ("remote_errors", &r.errors),
            ("remote_timeouts", &r.timeouts),
            ("remote_uploads", &r.uploads),
            ("remote_uploads_dropped", &r.uploads_dropped),
            ("remote_bytes_down", &r.bytes_down),
            ("remote_bytes_up", &r.bytes_up),
            ("remote_bad_signatures", &r.bad_signatures),
        ]
    }

    fn bump(&self) {
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    fn family(&self, family: &str, f: impl FnOnce(&mut FamilyCounts)) {
        if let Ok(mut map) = self.families.lock() {
            f(map.entry(family.to_string()).or_default());
        }
    }

    pub fn direct_hit(&self, family: &str, saved_ms: u64) {
        self.family(family, |c| {
            c.hits += 1;
            c.time_saved_ms += saved_ms;
        });
        self.direct_hits.fetch_add(1, Ordering::Relaxed);
        self.time_saved_ms.fetch_add(saved_ms, Ordering::Relaxed);
        self.bump();
    }

    pub fn preprocessor_hit(&self, family: &str, saved_ms: u64) {
        self.family(family, |c| {
            c.hits += 1;
            c.time_saved_ms += saved_ms;
        });
        self.preprocessor_hits.fetch_add(1, Ordering::Relaxed);
        self.time_saved_ms.fetch_add(saved_ms, Ordering::Relaxed);
        self.bump();
    }

    /// Takes back a hit the client could not restore.
    pub fn undo_hit(&self, family: &str, preprocessor: bool, saved_ms: u64) {
        self.family(family, |c| {
            c.hits = c.hits.saturating_sub(1);
            c.time_saved_ms = c.time_saved_ms.saturating_sub(saved_ms);
        });
        let counter = if preprocessor {
            &self.preprocessor_hits
        } else {
            &self.direct_hits
        };
        counter.fetch_sub(1, Ordering::Relaxed);
        self.time_saved_ms.fetch_sub(saved_ms, Ordering::Relaxed);
        self.bump();
    }

    pub fn miss(&self, family: &str) {
        self.family(family, |c| c.misses += 1);
        self.misses.fetch_add(1, Ordering::Relaxed);
        self.bump();
    }

    /// Counts an uncacheable compile under `reason`.
    pub fn uncacheable(&self, family: &str, reason: &str) {
        self.family(family, |c| c.uncacheable += 1);
        self.uncacheable.fetch_add(1, Ordering::Relaxed);
        self.add_reason(reason);
    }

    /// Counts an internal error (the build still ran the real compiler).
    /// Counts one verification outcome.
    pub fn verified(&self, counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
        self.bump();
    }

    pub fn error(&self, reason: &str) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.add_reason(&format!("error_{reason}"));
    }

    fn add_reason(&self, reason: &str) {
        if let Ok(mut r) = self.reasons.lock() {
            *r.entry(reason.to_string()).or_default() += 1;
        }
        if let Ok(mut k) = self.known_reasons.lock() {
            k.insert(reason.to_string());
        }
        self.bump();
    }

    pub fn zero(&self) {
        for c in [
            &self.direct_hits,
            &self.preprocessor_hits,
            &self.misses,
            &self.uncacheable,
            &self.errors,
            &self.time_saved_ms,
            &self.verify_ok,
            &self.verify_mismatch,
            &self.verify_unreproducible,
            &self.verify_skipped,
        ]
        .into_iter()
        .chain(self.remote_counters().into_iter().map(|(_, c)| c))
        {
            c.store(0, Ordering::Relaxed);
        }
        if let Ok(mut r) = self.reasons.lock() {
            r.clear();
        }
        if let Ok(mut f) = self.families.lock() {
            for c in f.values_mut() {
                *c = FamilyCounts::default();
            }
        }
        self.bump();
    }

    /// Fills the counter part of a snapshot.
    pub fn snapshot(&self) -> StatsSnapshot {
        let direct = self.direct_hits.load(Ordering::Relaxed);
        let pp = self.preprocessor_hits.load(Ordering::Relaxed);
        StatsSnapshot {
            hits: direct + pp,
            direct_hits: direct,
            preprocessor_hits: pp,
            misses: self.misses.load(Ordering::Relaxed),
            uncacheable: self.uncacheable.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            time_saved_ms: self.time_saved_ms.load(Ordering::Relaxed),
            verify_ok: self.verify_ok.load(Ordering::Relaxed),
            verify_mismatch: self.verify_mismatch.load(Ordering::Relaxed),
            verify_unreproducible: self.verify_unreproducible.load(Ordering::Relaxed),
            verify_skipped: self.verify_skipped.load(Ordering::Relaxed),
            remote_hits: self.remote.hits.load(Ordering::Relaxed),
            remote_misses: self.remote.misses.load(Ordering::Relaxed),
            remote_errors: self.remote.errors.load(Ordering::Relaxed),
            remote_timeouts: self.remote.timeouts.load(Ordering::Relaxed),
            remote_uploads: self.remote.uploads.load(Ordering::Relaxed),
            remote_uploads_dropped: self.remote.uploads_dropped.load(Ordering::Relaxed),
            remote_bytes_down: self.remote.bytes_down.load(Ordering::Relaxed),
            remote_bytes_up: self.remote.bytes_up.load(Ordering::Relaxed),
            remote_bad_signatures: self.remote.bad_signatures.load(Ordering::Relaxed),
            reasons: self.reasons.lock().map(|r| r.clone()).unwrap_or_default(),
            families: self
                .families
                .lock()
                .map(|f| {
                    f.iter()
                        .map(|(k, c)| {
                            (
                                k.clone(),
                                FamilySnapshot {
                                    hits: c.hits,
                                    misses: c.misses,
                                    uncacheable: c.uncacheable,
                                    time_saved_ms: c.time_saved_ms,
                                },
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
            ..StatsSnapshot::default()
        }
    }

    /// Flat `name → value` pairs for persistence.
    pub fn to_pairs(&self) -> Vec<(String, u64)> {
        let s = self.snapshot();
        let mut out = vec![
            ("direct_hits".to_string(), s.direct_hits),
            ("preprocessor_hits".to_string(), s.preprocessor_hits),
            ("misses".to_string(), s.misses),
            ("uncacheable".to_string(), s.uncacheable),
            ("errors".to_string(), s.errors),
            ("time_saved_ms".to_string(), s.time_saved_ms),
            ("verify_ok".to_string(), s.verify_ok),
            ("verify_mismatch".to_string(), s.verify_mismatch),
            ("verify_unreproducible".to_string(), s.verify_unreproducible),
            ("verify_skipped".to_string(), s.verify_skipped),
        ];
        for (name, counter) in self.remote_counters() {
            out.push((name.to_string(), counter.load(Ordering::Relaxed)));
        }
        for (name, c) in &s.families {
            out.push((format!("family:{name}:hits"), c.hits));
            out.push((format!("family:{name}:misses"), c.misses));
            out.push((format!("family:{name}:uncacheable"), c.uncacheable));
            out.push((format!("family:{name}:time_saved_ms"), c.time_saved_ms));
        }
        // Reasons are saved with a prefix; zeroed ones are saved as 0 so they reset.
        let known = self
            .known_reasons
            .lock()
            .map(|k| k.clone())
            .unwrap_or_default();
        for k in known {
            let v = s.reasons.get(&k).copied().unwrap_or(0);
            out.push((format!("reason:{k}"), v));
        }
        out
    }

    /// Restores counters saved by [`Stats::to_pairs`].
    pub fn restore(&self, pairs: Vec<(String, u64)>) {
        let mut reasons = BTreeMap::new();
        for (k, v) in pairs {
            let counter = match k.as_str() {
                "direct_hits" => &self.direct_hits,
                "preprocessor_hits" => &self.preprocessor_hits,
                "misses" => &self.misses,
                "uncacheable" => &self.uncacheable,
                "errors" => &self.errors,
                "time_saved_ms" => &self.time_saved_ms,
                "verify_ok" => &self.verify_ok,
                "verify_mismatch" => &self.verify_mismatch,
                "verify_unreproducible" => &self.verify_unreproducible,
                "verify_skipped" => &self.verify_skipped,
                other if other.starts_with("remote_") => {
                    if let Some((_, c)) = self
                        .remote_counters()
                        .into_iter()
                        .find(|(n, _)| *n == other)
                    {
                        c.store(v, Ordering::Relaxed);
                    }
                    continue;
                }
                other => {
                    if let Some(rest) = other.strip_prefix("family:") {
                        if let Some((name, field)) = rest.rsplit_once(':') {
                            self.family(name, |c| match field {
                                "hits" => c.hits = v,
                                "misses" => c.misses = v,
                                "uncacheable" => c.uncacheable = v,
                                "time_saved_ms" => c.time_saved_ms = v,
                                _ => {}
                            });
                        }
                        continue;
                    }
                    if let Some(reason) = other.strip_prefix("reason:") {
                        if let Ok(mut k) = self.known_reasons.lock() {
                            k.insert(reason.to_string());
                        }
                        if v > 0 {
                            reasons.insert(reason.to_string(), v);
                        }
                    }
                    continue;
                }
            };
            counter.store(v, Ordering::Relaxed);
        }
        if let Ok(mut r) = self.reasons.lock() {
            *r = reasons;
        }
    }
}
