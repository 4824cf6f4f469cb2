//! "This build only": the difference of two `zccache stats --json` snapshots, split into
//! rustc and C/C++ when the daemon reports per-family counters (`families`), rendered as a
//! one-screen text summary or as JSON.

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Counters of one group of compiles.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Counters {
    pub hits: u64,
    pub misses: u64,
    pub uncacheable: u64,
    pub errors: u64,
    pub time_saved_ms: u64,
    /// Hits served from a remote cache (also counted in `hits`; top level only).
    pub remote_hits: u64,
    pub reasons: BTreeMap<String, u64>,
}

fn num(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

impl Counters {
    /// Reads the counters of one stats object (the top level, or one `families` entry).
    pub fn from_value(v: &Value) -> Self {
        let reasons = v
            .get("reasons")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, n)| n.as_u64().map(|n| (k.clone(), n)))
                    .collect()
            })
            .unwrap_or_default();
        Counters {
            hits: num(v, "hits"),
            misses: num(v, "misses"),
            uncacheable: num(v, "uncacheable"),
            errors: num(v, "errors"),
            time_saved_ms: num(v, "time_saved_ms"),
            remote_hits: num(v, "remote_hits"),
            reasons,
        }
    }

    /// Every compile the wrapper saw.
    pub fn invocations(&self) -> u64 {
        self.hits + self.misses + self.uncacheable + self.errors
    }

    /// `self - before`, saturating (counters zeroed mid-build read as 0, never negative).
    pub fn minus(&self, before: &Counters) -> Counters {
        let mut reasons = BTreeMap::new();
        for (k, v) in &self.reasons {
            let d = v.saturating_sub(before.reasons.get(k).copied().unwrap_or(0));
            if d > 0 {
                reasons.insert(k.clone(), d);
            }
        }
        Counters {
            hits: self.hits.saturating_sub(before.hits),
            misses: self.misses.saturating_sub(before.misses),
            uncacheable: self.uncacheable.saturating_sub(before.uncacheable),
            errors: self.errors.saturating_sub(before.errors),
            time_saved_ms: self.time_saved_ms.saturating_sub(before.time_saved_ms),
            remote_hits: self.remote_hits.saturating_sub(before.remote_hits),
            reasons,
        }
    }

    fn add(&mut self, o: &Counters) {
        self.hits += o.hits;
        self.misses += o.misses;
        self.uncacheable += o.uncacheable;
        self.errors += o.errors;
        self.time_saved_ms += o.time_saved_ms;
        self.remote_hits += o.remote_hits;
        for (k, v) in &o.reasons {
            *self.reasons.entry(k.clone()).or_default() += v;
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "invocations": self.invocations(),
            "hits": self.hits,
            "misses": self.misses,
            "uncacheable": self.uncacheable,
            "errors": self.errors,
            "time_saved_ms": self.time_saved_ms,
            "remote_hits": self.remote_hits,
            "reasons": self.reasons,
        })
    }
}

/// Whether a compiler family name (a `families` key) is Rust's.
fn is_rust_family(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("rust") || n.starts_with("clippy")
}

/// The build's counters: total, and the rustc / C-C++ split when the daemon has families.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Delta {
    pub total: Counters,
    pub split: Option<(Counters, Counters)>,
}

/// Differences two `stats --json` snapshots.
pub fn delta(before: &Value, after: &Value) -> Delta {
    let total = Counters::from_value(after).minus(&Counters::from_value(before));
    let split = after
        .get("families")
        .and_then(Value::as_object)
        .map(|fams| {
            let empty = Map::new();
            let before_f = before
                .get("families")
                .and_then(Value::as_object)
                .unwrap_or(&empty);
            let (mut rust, mut c) = (Counters::default(), Counters::default());
            for (name, a) in fams {
                let b = before_f
                    .get(name)
                    .map(Counters::from_value)
                    .unwrap_or_default();
                let d = Counters::from_value(a).minus(&b);
                if is_rust_family(name) {
                    rust.add(&d);
                } else {
                    c.add(&d);
                }
            }
            (rust, c)
        });
    Delta { total, split }
}

/// One cause of this build's misses (from `zccache misses --json`).
#[derive(Debug, Clone, PartialEq)]
pub struct MissCause {
    pub cause: String,
    pub count: u64,
    /// Which compiles: crate names (rustc) or source files.
    pub units: Vec<String>,
}

/// Reads the groups of a `zccache misses --json` answer.
pub fn miss_causes(v: &Value) -> Vec<MissCause> {
    v.get("groups")
        .and_then(Value::as_array)
        .map(|groups| {
            groups
                .iter()
                .filter_map(|g| {
                    Some(MissCause {
                        cause: g.get("cause")?.as_str()?.to_string(),
                        count: g.get("count")?.as_u64()?,
                        units: g
                            .get("units")
                            .and_then(Value::as_array)
                            .map(|u| {
                                u.iter()
                                    .filter_map(|x| x.as_str().map(String::from))
                                    .collect()
                            })
                            .unwrap_or_default(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Causes shown in the text summary.
const CAUSES_SHOWN: usize = 3;

/// Everything the summary reports besides the counters.
pub struct Context {
    pub command: Vec<String>,
    pub exit_code: i32,
    pub duration_ms: u64,
    pub cache_dir: Option<String>,
    pub workspace_root: Option<String>,
    pub target_dir: Option<String>,
    /// `CARGO_INCREMENTAL` as cargo saw it (`None`: cargo's default) and who chose it.
    pub incremental: (Option<String>, &'static str),
    pub c_routed: bool,
    pub notes: Vec<String>,
    /// Why there are no counters (zccache stats unavailable), if so.
    pub stats_error: Option<String>,
    /// This build's misses by cause, most frequent first.
    pub miss_causes: Vec<MissCause>,
}

/// The JSON summary (one object).
pub fn to_json(d: &Delta, cx: &Context) -> Value {
    let (rust, c) = match &d.split {
        Some((r, c)) => (r.to_json(), c.to_json()),
        None => (Value::Null, Value::Null),
    };
    json!({
        "command": cx.command,
        "exit_code": cx.exit_code,
        "duration_ms": cx.duration_ms,
        "cache_dir": cx.cache_dir,
        "workspace_root": cx.workspace_root,
        "target_dir": cx.target_dir,
        "cargo_incremental": cx.incremental.0,
        "cargo_incremental_set_by": cx.incremental.1,
        "c_cpp_routed": cx.c_routed,
        "rustc": rust,
        "c_cpp": c,
        "total": d.total.to_json(),
        "per_family": d.split.is_some(),
        "notes": cx.notes,
        "stats_error": cx.stats_error,
        "miss_causes": cx.miss_causes.iter().map(|c| json!({
            "cause": c.cause,
            "count": c.count,
            "units": c.units,
        })).collect::<Vec<_>>(),
    })
}

fn secs(ms: u64) -> String {
    format!("{:.1}s", ms as f64 / 1000.0)
}

fn row(label: &str, c: &Counters) -> String {
    format!(
        "  {label:<8} {:>6} {:>6} {:>7} {:>12} {:>7}",
        c.invocations(),
        c.hits,
        c.misses,
        c.uncacheable,
        c.errors
    )
}

/// The text summary (a handful of lines).
pub fn to_text(d: &Delta, cx: &Context) -> String {
    let mut out = Vec::new();
    let status = if cx.exit_code == 0 {
        "finished".to_string()
    } else {
        format!("FAILED (exit {})", cx.exit_code)
    };
    out.push(format!(
        "zccache: `cargo {}` {status} in {} — this build only:",
        cx.command.join(" "),
        secs(cx.duration_ms)
    ));
    if let Some(err) = &cx.stats_error {
        out.push(format!("  no cache statistics: {err}"));
    } else if d.total.invocations() == 0 {
        out.push("  no compiles reached zccache (cargo found everything fresh)".into());
    } else {
        out.push(format!(
            "  {:<8} {:>6} {:>6} {:>7} {:>12} {:>7}",
            "", "calls", "hits", "misses", "uncacheable", "errors"
        ));
        match &d.split {
            Some((rust, c)) => {
                out.push(row("rustc", rust));
                out.push(row("C/C++", c));
                out.push(row("total", &d.total));
            }
            None => {
                out.push(row("all", &d.total));
                out.push(
                    "           (this zccache reports no per-compiler split: rustc and C/C++ \
                     counted together)"
                        .into(),
                );
            }
        }
        if d.total.remote_hits > 0 {
            out.push(format!(
                "  {} of the hits came from the remote cache",
                d.total.remote_hits
            ));
        }
        let cacheable = d.total.hits + d.total.misses;
        if cacheable > 0 {
            out.push(format!(
                "  hit rate {:.1}% of cacheable · compile time saved {}",
                100.0 * d.total.hits as f64 / cacheable as f64,
                secs(d.total.time_saved_ms)
            ));
        } else {
            out.push(format!(
                "  compile time saved {}",
                secs(d.total.time_saved_ms)
            ));
        }
        if !d.total.reasons.is_empty() {
            let mut reasons: Vec<_> = d.total.reasons.iter().collect();
            reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let list: Vec<String> = reasons.iter().map(|(k, v)| format!("{k} {v}")).collect();
            out.push(format!(
                "  uncacheable/errors by reason: {}",
                list.join(", ")
            ));
        }
    }
    if !cx.miss_causes.is_empty() {
        out.push("  why it missed (crate or source: cause):".into());
        for c in cx.miss_causes.iter().take(CAUSES_SHOWN) {
            let who = if c.units.is_empty() {
                String::new()
            } else {
                format!("{}: ", c.units.join(", "))
            };
            out.push(format!("    {:>4} × {who}{}", c.count, c.cause));
        }
        if cx.miss_causes.len() > CAUSES_SHOWN {
            out.push("    (more: zccache misses)".into());
        }
    }
    match (&cx.incremental.0, cx.incremental.1) {
        (Some(v), "cargo-zccache") => out.push(format!(
            "  CARGO_INCREMENTAL={v} (set by cargo zccache so workspace crates are cacheable; \
             --incremental keeps cargo's default)"
        )),
        (Some(v), _) => out.push(format!("  CARGO_INCREMENTAL={v} (yours)")),
        (None, _) => out.push(
            "  incremental: cargo's default (--incremental): incremental compiles are not cached"
                .into(),
        ),
    }
    if !cx.c_routed {
        out.push("  C/C++ compiles of build scripts were not routed through zccache".into());
    }
    for note in &cx.notes {
        out.push(format!("  note: {note}"));
    }
    let mut loc = Vec::new();
    if let Some(c) = &cx.cache_dir {
        loc.push(format!("cache {c}"));
    }
    if let Some(t) = &cx.target_dir {
        loc.push(format!("target {t}"));
    }
    if !loc.is_empty() {
        out.push(format!("  {}", loc.join(" · ")));
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_with_families() {
        let before = json!({"hits": 1, "misses": 2, "uncacheable": 0, "errors": 0,
            "time_saved_ms": 100, "reasons": {"linking": 1},
            "families": {"rustc": {"hits": 1, "misses": 1}, "gcc": {"misses": 1}}});
        let after = json!({"hits": 11, "misses": 3, "uncacheable": 2, "errors": 0,
            "time_saved_ms": 900, "reasons": {"linking": 3},
            "families": {"rustc": {"hits": 9, "misses": 2, "uncacheable": 2},
                         "gcc": {"hits": 2, "misses": 1}, "clang": {"hits": 0}}});
        let d = delta(&before, &after);
        assert_eq!(d.total.hits, 10);
        assert_eq!(d.total.invocations(), 13);
        assert_eq!(d.total.reasons.get("linking"), Some(&2));
        let (rust, c) = d.split.unwrap();
        assert_eq!((rust.hits, rust.misses, rust.uncacheable), (8, 1, 2));
        assert_eq!((c.hits, c.misses), (2, 0));
    }

    #[test]
    fn diff_without_families_and_after_zero() {
        let before = json!({"hits": 50, "misses": 2});
        let after = json!({"hits": 3, "misses": 4});
        let d = delta(&before, &after);
        assert_eq!(d.total.hits, 0);
        assert_eq!(d.total.misses, 2);
        assert!(d.split.is_none());
    }
}
