//! Diagnostics colour, as the compiler would choose it for the current stderr (what ccache
//! does): a gcc/clang miss runs with `-fdiagnostics-color=always` unless the build chose a
//! colour itself, so the stored diagnostics are coloured; whatever replays them (the live
//! output of a miss, every hit) keeps the colour only where the compiler would have coloured:
//! an explicit `-fdiagnostics-color=always`/`-fcolor-diagnostics` (rustc `--color=always`),
//! else `CLICOLOR_FORCE`, else a terminal that is not `TERM=dumb` and a `GCC_COLORS` that is
//! not set empty.

use std::borrow::Cow;

/// The flag a gcc/clang miss runs with when the build named no colour.
pub const FORCE_FLAG: &str = "-fdiagnostics-color=always";

/// The colour the arguments ask for: Some(true) always, Some(false) never, None auto.
pub fn explicit(args: &[String]) -> Option<bool> {
    let mut choice = None;
    let mut iter = args.iter().peekable();
    while let Some(arg) = iter.next() {
        let value = match arg.as_str() {
            "-fdiagnostics-color" | "-fcolor-diagnostics" => Some(Some(true)),
            "-fno-diagnostics-color" | "-fno-color-diagnostics" => Some(Some(false)),
            "--color" => iter.peek().map(|v| mode(v)),
            a => a
                .strip_prefix("-fdiagnostics-color=")
                .or_else(|| a.strip_prefix("--color="))
                .map(mode),
        };
        if let Some(v) = value {
            choice = v;
        }
    }
    choice
}

fn mode(value: &str) -> Option<bool> {
    match value {
        "always" => Some(true),
        "never" => Some(false),
        _ => None,
    }
}

/// Whether a gcc/clang miss should run with [`FORCE_FLAG`] added: not when the build chose a
/// colour, nor when the command line is recorded into the output (clang
/// `-grecord-command-line`, `-frecord-command-line`, gcc `-frecord-gcc-switches`), where the
/// flag would change the object.
pub fn force_on_miss(family: &str, args: &[String]) -> bool {
    let records = |on: &str, off: &str| {
        args.iter()
            .rev()
            .find(|a| *a == on || *a == off)
            .is_some_and(|a| a == on)
    };
    matches!(family, "gcc" | "clang")
        && !args.iter().any(|a| {
            a.starts_with("-fdiagnostics-color")
                || a.starts_with("-fno-diagnostics-color")
                || a.ends_with("color-diagnostics")
        })
        && !records("-grecord-command-line", "-gno-record-command-line")
        && !records("-frecord-command-line", "-fno-record-command-line")
        && !records("-frecord-gcc-switches", "-fno-record-gcc-switches")
}

/// Whether the compiler would colour its diagnostics for this stderr and environment.
pub fn wanted(args: &[String], env: &dyn Fn(&str) -> Option<String>, stderr_is_tty: bool) -> bool {
    if let Some(choice) = explicit(args) {
        return choice;
    }
    if env("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty() && v != "0") {
        return true;
    }
    stderr_is_tty
        && env("TERM").as_deref() != Some("dumb")
        && env("GCC_COLORS").is_none_or(|v| !v.is_empty())
}

/// Whether this process's stderr is a terminal.
pub fn stderr_is_tty() -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(2) == 1 }
}

/// Whether diagnostics replayed for this compile keep their colour.
pub fn keep_for(args: &[String]) -> bool {
    wanted(args, &|k| std::env::var(k).ok(), stderr_is_tty())
}

/// `bytes` without terminal escape sequences (CSI such as SGR colours and erase-line, OSC
/// such as hyperlinks).
pub fn strip(bytes: &[u8]) -> Cow<'_, [u8]> {
    if !bytes.contains(&0x1b) {
        return Cow::Borrowed(bytes);
    }
    let mut stripper = Stripper::default();
    let mut out = Vec::with_capacity(bytes.len());
    stripper.feed(bytes, &mut out);
    Cow::Owned(out)
}

/// Escape-sequence stripping across chunk boundaries (for live output).
#[derive(Debug, Default)]
pub struct Stripper {
    state: State,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    #[default]
    Text,
    Escape,
    Csi,
    Osc,
    OscEscape,
}

impl Stripper {
    /// Appends the text of `chunk` (escapes removed) to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        for &b in chunk {
            self.state = match (self.state, b) {
                (State::Text, 0x1b) => State::Escape,
                (State::Text, _) => {
                    out.push(b);
                    State::Text
                }
                (State::Escape, b'[') => State::Csi,
                (State::Escape, b']') => State::Osc,
                (State::Escape, _) => State::Text,
                (State::Csi, 0x40..=0x7e) => State::Text,
                (State::Csi, _) => State::Csi,
                (State::Osc, 0x07) => State::Text,
                (State::Osc, 0x1b) => State::OscEscape,
                (State::Osc, _) => State::Osc,
                (State::OscEscape, b'\\') => State::Text,
                (State::OscEscape, _) => State::Osc,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn choices() {
        let none = |_: &str| None;
        assert!(!wanted(&args("-c a.c"), &none, false));
        assert!(wanted(&args("-c a.c"), &none, true));
        assert!(wanted(
            &args("-fdiagnostics-color=always -c a.c"),
            &none,
            false
        ));
        assert!(!wanted(
            &args("-fcolor-diagnostics -fno-color-diagnostics"),
            &none,
            true
        ));
        assert!(wanted(&args("--color always"), &none, false));
        let force = |k: &str| (k == "CLICOLOR_FORCE").then(|| "1".to_string());
        assert!(wanted(&args("-c a.c"), &force, false));
        let dumb = |k: &str| (k == "TERM").then(|| "dumb".to_string());
        assert!(!wanted(&args("-c a.c"), &dumb, true));
        let empty = |k: &str| (k == "GCC_COLORS").then(String::new);
        assert!(!wanted(&args("-c a.c"), &empty, true));
        assert!(force_on_miss("gcc", &args("-c a.c")));
        assert!(!force_on_miss(
            "gcc",
            &args("-fno-diagnostics-color -c a.c")
        ));
        assert!(!force_on_miss("rustc", &args("--crate-name x")));
        assert!(!force_on_miss(
            "clang",
            &args("-grecord-command-line -g -c a.c")
        ));
        assert!(force_on_miss(
            "clang",
            &args("-grecord-command-line -gno-record-command-line -c a.c")
        ));
    }

    #[test]
    fn strips_escapes_across_chunks() {
        let text =
            b"\x1b[01m\x1b[Ka.c:1:\x1b[m\x1b[K \x1b]8;;https://x\x1b\\link\x1b]8;;\x1b\\ warning\n";
        assert_eq!(&*strip(text), b"a.c:1: link warning\n");
        let mut s = Stripper::default();
        let mut out = Vec::new();
        for chunk in text.chunks(3) {
            s.feed(chunk, &mut out);
        }
        assert_eq!(out, b"a.c:1: link warning\n");
        assert!(matches!(strip(b"plain"), Cow::Borrowed(_)));
    }
}
