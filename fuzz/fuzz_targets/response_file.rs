//! Fuzzes `@file` expansion (`response_file::split`, `quote`, `expand_with`) with in-memory
//! files: the input is NUL-separated; item 0 is the command line's response-file text and
//! item N the content of the file `fN`. Checks: no panic, expansion ends within its bounds,
//! nothing `@file`-like is left over, and `split` of quoted arguments gives them back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zccache_integrations::response_file::{expand_with, quote, split};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let items: Vec<&str> = text.split('\0').collect();
    let args = split(items[0]);
    let mut reads = 0usize;
    let expanded = expand_with(&args, |name| {
        reads += 1;
        name.strip_prefix('f')
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| items.get(n))
            .map(|t| t.to_string())
            .ok_or_else(|| format!("{name}: no such file"))
    });
    assert!(reads <= zccache_integrations::response_file::MAX_FILES);
    if let Ok(out) = &expanded {
        assert!(out.iter().all(|a| a == "@" || !a.starts_with('@')), "{out:?}");
    }

    // Quoting round trip, one argument per item, joined by assorted blanks.
    let args: Vec<String> = items.iter().map(|s| s.to_string()).collect();
    let seps = [" ", "\n", "\t", "  ", "\r\n"];
    let mut joined = String::new();
    for (i, a) in args.iter().enumerate() {
        joined.push_str(&quote(a));
        joined.push_str(seps[i % seps.len()]);
    }
    assert_eq!(split(&joined), args, "{joined:?}");
});
