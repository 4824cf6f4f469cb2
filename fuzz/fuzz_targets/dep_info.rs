//! Fuzzes rustc dep-info parsing (`rustc::parse_dep_info`):
//! - any text parses without panicking, listing each file once;
//! - the input read as NUL-separated items (`NAME=VALUE` an env-dep, anything else a source
//!   path) and written the way rustc writes a dep-info (paths with `\ ` for blanks, env-dep
//!   names and values with `\n`, `\r`, `\\` escapes) parses back to the same files and vars.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zccache_integrations::rustc::parse_dep_info;

/// rustc's escaping of an env-dep name or value.
fn escape_env(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parsed = parse_dep_info(&text);
    for (i, f) in parsed.files.iter().enumerate() {
        assert!(!parsed.files[..i].contains(f), "{f} listed twice");
    }

    let mut files: Vec<String> = Vec::new();
    let mut env: Vec<(String, Option<String>)> = Vec::new();
    for item in text.split('\0').filter(|i| !i.is_empty()) {
        if let Some((k, v)) = item.split_once('=') {
            env.push((k.to_string(), Some(v.to_string())));
        } else if item.starts_with('$') {
            env.push((item[1..].to_string(), None));
        } else if !item.contains(['\n', '\r', '\t', ':', '\u{b}', '\u{c}'])
            && !item.starts_with('#')
            && !item.ends_with('\\')
            && !item.contains("\\ ")
            && !item.trim().is_empty()
            && !files.contains(&item.to_string())
        {
            files.push(item.to_string());
        }
    }
    let deps: Vec<String> = files.iter().map(|f| f.replace(' ', "\\ ")).collect();
    let mut rendered = String::new();
    for target in ["/t/deps/p-1.d", "/t/deps/libp-1.rmeta"] {
        rendered.push_str(&format!("{target}: {}\n", deps.join(" ")));
    }
    rendered.push('\n');
    for dep in &deps {
        rendered.push_str(&format!("{dep}:\n"));
    }
    if !env.is_empty() {
        rendered.push('\n');
    }
    for (k, v) in &env {
        match v {
            Some(v) => rendered.push_str(&format!("# env-dep:{}={}\n", escape_env(k), escape_env(v))),
            None => rendered.push_str(&format!("# env-dep:{}\n", escape_env(k))),
        }
    }
    let back = parse_dep_info(&rendered);
    assert_eq!(back.files, files, "files of {rendered:?}");
    assert_eq!(back.env, env, "env-deps of {rendered:?}");
});
