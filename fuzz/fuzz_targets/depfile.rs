//! Fuzzes the make-style depfile parser and renderer (`depfile::parse`, `render`,
//! `quote_target`, `unescape`):
//! - any text parses without panicking, and re-rendering what it parsed (gcc and clang
//!   layouts) parses back to the same targets and prerequisites;
//! - the input read as NUL-separated paths, quoted the way gcc/clang quote them and rendered,
//!   parses and unescapes back to the same paths (for paths make syntax can carry).
#![no_main]

use libfuzzer_sys::fuzz_target;
use zccache_integrations::depfile::{self, quote_target, unescape};
use zccache_integrations::Family;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parsed = depfile::parse(&text);
    for token in parsed.targets.iter().chain(&parsed.deps) {
        assert!(!token.is_empty());
        assert!(unescape(token).len() <= token.len());
    }
    // A token ending in a lone backslash only comes from a truncated file: rendering puts a
    // blank or newline after it, which the backslash then escapes.
    let clean = parsed
        .targets
        .iter()
        .chain(&parsed.deps)
        .all(|t| !t.ends_with('\\'));
    if clean {
        for family in [Family::Gcc, Family::Clang] {
            let rendered = depfile::render(family, &parsed.targets, &parsed.deps, true);
            let back = depfile::parse(&rendered);
            assert_eq!(back, parsed, "{family:?} render of {parsed:?}: {rendered:?}");
        }
    }

    // Paths: blanks, `$`, `#` and backslashes are escaped; newlines, `:` and a trailing
    // backslash cannot be written in a make rule at all.
    let paths: Vec<String> = text
        .split('\0')
        .filter(|p| {
            !p.is_empty()
                && !p.ends_with('\\')
                && !p.contains(['\n', '\r', ':', '\u{b}', '\u{c}'])
        })
        .map(str::to_string)
        .collect();
    let Some((target, deps)) = paths.split_first() else {
        return;
    };
    let quoted: Vec<String> = deps.iter().map(|p| quote_target(p)).collect();
    for family in [Family::Gcc, Family::Clang] {
        let rendered = depfile::render(family, &[quote_target(target)], &quoted, false);
        let back = depfile::parse(&rendered);
        let targets: Vec<String> = back.targets.iter().map(|t| unescape(t)).collect();
        let deps_back: Vec<String> = back.deps.iter().map(|t| unescape(t)).collect();
        assert_eq!(targets, [target.clone()], "target of {rendered:?}");
        assert_eq!(deps_back, deps, "deps of {rendered:?}");
    }
});
