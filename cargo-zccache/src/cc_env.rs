//! The environment that routes build scripts' C/C++ compiles through zccache without losing
//! the compiler the user chose.
//!
//! - cc-rs reads `CC_<target>`, `CC_<target_with_underscores>`, `HOST_CC`/`TARGET_CC`, then
//!   `CC` (same for `CXX`), splits the value on whitespace, and treats the first word as a
//!   wrapper when its file stem is in a fixed list (ccache, sccache, …) or equals
//!   `CC_KNOWN_WRAPPER_CUSTOM`. So `CC_KNOWN_WRAPPER_CUSTOM=zccache` plus
//!   `CC_<host>="/abs/zccache <compiler>"` makes cc-rs run `/abs/zccache <compiler> …` while it
//!   still knows the real compiler. The compiler is whatever cc-rs would have picked for the
//!   host (the user's `CC_<host>`/`HOST_CC`/`CC`, else `cc`/`c++`): we wrap it, never replace it.
//! - Plain `make` in a build script reads `CC`/`CXX`: set to `/abs/zccache cc` (or the user's
//!   value wrapped) when not cross-compiling; when cross-compiling `CC` would also reach
//!   target compiles, so only the host-specific variables are set.
//! - cmake-rs hands CMake the bare compiler (dropping cc-rs's wrapper), but CMake ≥ 3.17 reads
//!   `CMAKE_<LANG>_COMPILER_LAUNCHER` from the environment on a build dir's first configure.

/// Compiler-cache wrappers cc-rs knows by name, plus ourselves.
const KNOWN_WRAPPERS: &[&str] = &[
    "ccache",
    "distcc",
    "sccache",
    "icecc",
    "cachepot",
    "buildcache",
    "kache",
    "zccache",
];

/// What to set, and what to tell the user about it.
#[derive(Debug, Default, PartialEq)]
pub struct CcPlan {
    /// Environment variables to set for cargo.
    pub set: Vec<(String, String)>,
    /// One-line explanations for the summary (what was wrapped, what was left alone and why).
    pub notes: Vec<String>,
    /// Whether C/C++ compiles reach zccache at all.
    pub routed: bool,
}

/// Inputs of the plan, separate from the process environment so it can be unit-tested.
pub struct CcInputs<'a> {
    pub zccache: &'a str,
    pub host: Option<&'a str>,
    pub cross: bool,
    pub getenv: &'a dyn Fn(&str) -> Option<String>,
}

fn first_word_stem(value: &str) -> Option<String> {
    let first = value.split_whitespace().next()?;
    std::path::Path::new(first)
        .file_stem()
        .and_then(|s| s.to_str())
        .map(str::to_ascii_lowercase)
}

/// Why a user's compiler value cannot be wrapped, if it cannot.
fn unwrappable(value: &str) -> Option<String> {
    let trimmed = value.trim();
    if let Some(stem) = first_word_stem(trimmed) {
        if KNOWN_WRAPPERS.contains(&stem.as_str()) {
            return Some(format!("already runs through {stem}"));
        }
    }
    if trimmed.contains(char::is_whitespace) && std::path::Path::new(trimmed).is_file() {
        return Some("its path contains whitespace".to_string());
    }
    None
}

/// Builds the plan.
pub fn plan(inp: &CcInputs) -> CcPlan {
    let mut plan = CcPlan::default();
    if inp.zccache.contains(char::is_whitespace) {
        plan.notes.push(format!(
            "C/C++ not routed: the zccache path `{}` contains whitespace, which cc-rs splits on",
            inp.zccache
        ));
    } else {
        match (inp.getenv)("CC_KNOWN_WRAPPER_CUSTOM") {
            Some(v) if !v.is_empty() && first_word_stem(&v).as_deref() != Some("zccache") => {
                plan.notes.push(format!(
                    "C/C++ via CC not routed: CC_KNOWN_WRAPPER_CUSTOM={v} is yours, and cc-rs \
                     knows only one custom wrapper"
                ));
            }
            _ => {
                plan.set
                    .push(("CC_KNOWN_WRAPPER_CUSTOM".into(), "zccache".into()));
                for (lang, default) in [("CC", "cc"), ("CXX", "c++")] {
                    wrap_lang(inp, &mut plan, lang, default);
                }
                plan.routed = plan.set.len() > 1;
            }
        }
    }
    for lang in ["C", "CXX"] {
        let var = format!("CMAKE_{lang}_COMPILER_LAUNCHER");
        match (inp.getenv)(&var) {
            Some(v) if !v.is_empty() => plan.notes.push(format!("{var}={v} is yours: left as is")),
            _ => {
                plan.set.push((var, inp.zccache.to_string()));
                plan.routed = true;
            }
        }
    }
    plan
}

/// Wraps the compiler cc-rs would use for host compiles of `lang` (and plain `lang` for make).
fn wrap_lang(inp: &CcInputs, plan: &mut CcPlan, lang: &str, default: &str) {
    let get = |k: &str| (inp.getenv)(k).filter(|v| !v.trim().is_empty());
    let wrapped = |v: &str| format!("{} {}", inp.zccache, v.trim());
    let user_plain = get(lang);

    if let Some(host) = inp.host {
        let host_u = host.replace('-', "_");
        // cc-rs precedence for a host compile: CC_<host>, CC_<host_u>, HOST_CC, CC, default.
        let chain = [
            format!("{lang}_{host}"),
            format!("{lang}_{host_u}"),
            format!("HOST_{lang}"),
            lang.to_string(),
        ];
        let resolved = chain.iter().find_map(|k| get(k).map(|v| (k.clone(), v)));
        let (source, value) = match &resolved {
            Some((k, v)) => (Some(k.clone()), v.clone()),
            None => (None, default.to_string()),
        };
        if let Some(why) = unwrappable(&value) {
            plan.notes.push(format!(
                "{} is yours and {why}: host {lang} compiles left as is",
                source.as_deref().unwrap_or(lang)
            ));
        } else {
            // The highest-precedence variable gets the wrapped value: the user's own
            // `CC_<host>` in place when that is where the value came from, else `CC_<host_u>`.
            let target_var = match source.as_deref() {
                Some(k) if k == chain[0] => chain[0].clone(),
                _ => chain[1].clone(),
            };
            if let Some(src) = &source {
                plan.notes
                    .push(format!("{lang}: your {src}={value} runs through zccache"));
            }
            plan.set.push((target_var, wrapped(&value)));
        }
    }

    // Plain CC/CXX for `make` and hand-rolled build scripts.
    match user_plain {
        Some(v) => {
            if unwrappable(&v).is_none() && !inp.cross {
                plan.set.push((lang.to_string(), wrapped(&v)));
            }
        }
        None if !inp.cross => plan.set.push((lang.to_string(), wrapped(default))),
        None => plan.notes.push(format!(
            "cross-compiling: {lang} left unset so target C/C++ compiles keep cc-rs's choice"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn run(env: &[(&str, &str)], cross: bool) -> CcPlan {
        let map: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let getenv = move |k: &str| map.get(k).cloned();
        plan(&CcInputs {
            zccache: "/opt/z/zccache",
            host: Some("x86_64-unknown-linux-gnu"),
            cross,
            getenv: &getenv,
        })
    }

    fn get<'a>(p: &'a CcPlan, k: &str) -> Option<&'a str> {
        p.set.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    #[test]
    fn defaults_wrap_cc_and_cxx() {
        let p = run(&[], false);
        assert!(p.routed);
        assert_eq!(get(&p, "CC_KNOWN_WRAPPER_CUSTOM"), Some("zccache"));
        assert_eq!(
            get(&p, "CC_x86_64_unknown_linux_gnu"),
            Some("/opt/z/zccache cc")
        );
        assert_eq!(
            get(&p, "CXX_x86_64_unknown_linux_gnu"),
            Some("/opt/z/zccache c++")
        );
        assert_eq!(get(&p, "CC"), Some("/opt/z/zccache cc"));
        assert_eq!(get(&p, "CMAKE_C_COMPILER_LAUNCHER"), Some("/opt/z/zccache"));
        assert_eq!(
            get(&p, "CMAKE_CXX_COMPILER_LAUNCHER"),
            Some("/opt/z/zccache")
        );
    }

    #[test]
    fn user_compiler_is_wrapped_not_replaced() {
        let p = run(&[("CC", "clang -m64"), ("HOST_CXX", "g++-12")], false);
        assert_eq!(
            get(&p, "CC_x86_64_unknown_linux_gnu"),
            Some("/opt/z/zccache clang -m64")
        );
        assert_eq!(get(&p, "CC"), Some("/opt/z/zccache clang -m64"));
        assert_eq!(
            get(&p, "CXX_x86_64_unknown_linux_gnu"),
            Some("/opt/z/zccache g++-12")
        );
        assert_eq!(get(&p, "CXX"), Some("/opt/z/zccache c++"));
    }

    #[test]
    fn user_host_specific_var_is_wrapped_in_place() {
        let p = run(&[("CC_x86_64-unknown-linux-gnu", "clang")], false);
        assert_eq!(
            get(&p, "CC_x86_64-unknown-linux-gnu"),
            Some("/opt/z/zccache clang")
        );
        assert_eq!(get(&p, "CC_x86_64_unknown_linux_gnu"), None);
    }

    #[test]
    fn existing_wrappers_and_launchers_are_left_alone() {
        let p = run(
            &[
                ("CC", "sccache gcc"),
                ("CMAKE_C_COMPILER_LAUNCHER", "ccache"),
            ],
            false,
        );
        assert_eq!(get(&p, "CC"), None);
        assert_eq!(get(&p, "CC_x86_64_unknown_linux_gnu"), None);
        assert_eq!(get(&p, "CMAKE_C_COMPILER_LAUNCHER"), None);
        assert!(p.notes.iter().any(|n| n.contains("sccache")));
    }

    #[test]
    fn cross_compiles_only_wrap_host() {
        let p = run(&[], true);
        assert_eq!(get(&p, "CC"), None);
        assert_eq!(
            get(&p, "CC_x86_64_unknown_linux_gnu"),
            Some("/opt/z/zccache cc")
        );
    }

    #[test]
    fn foreign_custom_wrapper_disables_cc_routing() {
        let p = run(&[("CC_KNOWN_WRAPPER_CUSTOM", "mywrap")], false);
        assert_eq!(get(&p, "CC"), None);
        assert_eq!(get(&p, "CC_KNOWN_WRAPPER_CUSTOM"), None);
        assert_eq!(get(&p, "CMAKE_C_COMPILER_LAUNCHER"), Some("/opt/z/zccache"));
    }
}
