//! Make-style depfiles: parsing what gcc/clang wrote and rendering one the way each writes it.
//!
//! Tokens are kept in their escaped form (as the compiler wrote them) so a depfile rendered
//! from a cached compile is byte-identical to what the compiler would write.

use crate::family::Family;

/// A parsed depfile: escaped targets and escaped prerequisites, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Depfile {
    pub targets: Vec<String>,
    pub deps: Vec<String>,
}

/// Parses the first rule of a depfile (the compiler writes exactly one real rule, then any
/// `-MP` phony rules, which are ignored).
pub fn parse(text: &str) -> Depfile {
    let mut out = Depfile::default();
    let mut seen_colon = false;
    let mut token = String::new();
    let mut chars = text.chars().peekable();
    let flush = |token: &mut String, out: &mut Depfile, seen_colon: bool| {
        if !token.is_empty() {
            if seen_colon {
                out.deps.push(std::mem::take(token));
            } else {
                out.targets.push(std::mem::take(token));
            }
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some('\n') => {
                    chars.next();
                    flush(&mut token, &mut out, seen_colon);
                }
                Some('\r') => {
                    chars.next();
                    if chars.peek() == Some(&'\n') {
                        chars.next();
                    }
                    flush(&mut token, &mut out, seen_colon);
                }
                Some(&next) => {
                    token.push('\\');
                    token.push(next);
                    chars.next();
                }
                None => token.push('\\'),
            },
            ' ' | '\t' => flush(&mut token, &mut out, seen_colon),
            '\n' | '\r' => {
                flush(&mut token, &mut out, seen_colon);
                if seen_colon {
                    break;
                }
            }
            ':' if !seen_colon && is_rule_colon(&token, chars.clone()) => {
                flush(&mut token, &mut out, seen_colon);
                seen_colon = true;
            }
            _ => token.push(c),
        }
    }
    flush(&mut token, &mut out, seen_colon);
    out
}

/// A ':' ends the target list unless it is a drive letter (`C:\…`, `C:/…`) inside a token; a
/// backslash that continues the line (`C:\` at its end) is no path separator.
fn is_rule_colon(token: &str, mut rest: impl Iterator<Item = char>) -> bool {
    let separator = match rest.next() {
        Some('/') => true,
        Some('\\') => !matches!(rest.next(), Some('\n' | '\r')),
        _ => false,
    };
    let drive_letter =
        token.len() == 1 && token.chars().all(|c| c.is_ascii_alphabetic()) && separator;
    !drive_letter
}

/// Turns an escaped depfile token back into a path: the inverse of [`quote_target`] (gcc's and
/// clang's escaping, GNU make's reading): `$$` is `$`, `\#` is `#`, and a blank after 2N+1
/// backslashes is N backslashes and the blank.
pub fn unescape(token: &str) -> String {
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek().copied()) {
            ('\\', _) => {
                let mut run = 1;
                while chars.peek() == Some(&'\\') {
                    chars.next();
                    run += 1;
                }
                match chars.peek().copied() {
                    Some(blank @ (' ' | '\t')) => {
                        chars.next();
                        out.extend(std::iter::repeat_n('\\', run / 2));
                        out.push(blank);
                    }
                    Some('#') => {
                        chars.next();
                        out.extend(std::iter::repeat_n('\\', run - 1));
                        out.push('#');
                    }
                    _ => out.extend(std::iter::repeat_n('\\', run)),
                }
            }
            ('$', Some('$')) => {
                chars.next();
                out.push('$');
            }
            _ => out.push(c),
        }
    }
    out
}

/// Escapes a target the way gcc and clang do for `-MQ` and for the default (`-o`) target.
pub fn quote_target(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 4);
    let bytes: Vec<char> = path.chars().collect();
    for (i, &c) in bytes.iter().enumerate() {
        match c {
            ' ' | '\t' => {
                // Backslashes before a blank are doubled, then the blank is escaped.
                let mut j = i;
                while j > 0 && bytes[j - 1] == '\\' {
                    out.push('\\');
                    j -= 1;
                }
                out.push('\\');
                out.push(c);
            }
            '$' => out.push_str("$$"),
            '#' => out.push_str("\\#"),
            _ => out.push(c),
        }
    }
    out
}

/// Renders a depfile exactly as `family`'s compiler would write it.
pub fn render(family: Family, targets: &[String], deps: &[String], phony: bool) -> String {
    match family {
        Family::Clang | Family::Emcc => render_clang(targets, deps, phony),
        _ => render_gcc(targets, deps, phony),
    }
}

/// GCC (libcpp mkdeps): wrap when a name would pass column 72, continuation indent one space.
fn render_gcc(targets: &[String], deps: &[String], phony: bool) -> String {
    const COLMAX: usize = 72;
    let mut out = String::new();
    let write_name = |out: &mut String, name: &str, mut col: usize| -> usize {
        if col > 0 {
            if col + name.len() > COLMAX {
                out.push_str(" \\\n");
                col = 0;
            }
            col += 1;
            out.push(' ');
        }
        out.push_str(name);
        col + name.len()
    };
    let mut col = 0;
    for target in targets {
        col = write_name(&mut out, target, col);
    }
    out.push(':');
    col += 1;
    for dep in deps {
        col = write_name(&mut out, dep, col);
    }
    out.push('\n');
    if phony {
        for dep in deps.iter().skip(1) {
            out.push_str(dep);
            out.push_str(":\n");
        }
    }
    out
}

/// Clang (DependencyFileGenerator): wrap before column 75 leaving room for " \", two-space
/// continuation indent; `-MP` rules are separated by blank lines.
fn render_clang(targets: &[String], deps: &[String], phony: bool) -> String {
    const MAX_COLUMNS: usize = 75;
    let mut out = String::new();
    let mut columns = 0usize;
    for target in targets {
        let n = target.len();
        if columns == 0 {
            columns += n;
        } else if columns + n + 2 > MAX_COLUMNS {
            columns = n + 2;
            out.push_str(" \\\n  ");
        } else {
            columns += n + 1;
            out.push(' ');
        }
        out.push_str(target);
    }
    out.push(':');
    columns += 1;
    for dep in deps {
        let n = dep.len();
        if columns + (n + 1) + 2 > MAX_COLUMNS {
            out.push_str(" \\\n ");
            columns = 2;
        }
        out.push(' ');
        out.push_str(dep);
        columns += n + 1;
    }
    out.push('\n');
    if phony {
        for dep in deps.iter().skip(1) {
            out.push('\n');
            out.push_str(dep);
            out.push_str(":\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const GCC_SAMPLE: &str = "some/very/long/target/name/that/is/quite/long.o: a.c \\\n /usr/include/stdc-predef.h header_number_1.h header_number_2.h \\\n header_number_3.h header_number_4.h header_number_5.h header_number_6.h \\\n /usr/include/stdio.h\n/usr/include/stdc-predef.h:\nheader_number_1.h:\nheader_number_2.h:\nheader_number_3.h:\nheader_number_4.h:\nheader_number_5.h:\nheader_number_6.h:\n/usr/include/stdio.h:\n";

    const CLANG_SAMPLE: &str = "a.o: a.c header_number_1.h header_number_2.h header_number_3.h \\\n  header_number_4.h header_number_5.h header_number_6.h \\\n  /usr/include/stdio.h\n";

    #[test]
    fn gcc_round_trip_is_byte_identical() {
        let parsed = parse(GCC_SAMPLE);
        assert_eq!(
            parsed.targets,
            vec!["some/very/long/target/name/that/is/quite/long.o"]
        );
        assert_eq!(parsed.deps.len(), 9);
        assert_eq!(
            render(Family::Gcc, &parsed.targets, &parsed.deps, true),
            GCC_SAMPLE
        );
    }

    #[test]
    fn clang_round_trip_is_byte_identical() {
        let parsed = parse(CLANG_SAMPLE);
        assert_eq!(
            render(Family::Clang, &parsed.targets, &parsed.deps, false),
            CLANG_SAMPLE
        );
    }

    #[test]
    fn escapes_and_unescapes() {
        assert_eq!(quote_target("x$y#z w.o"), "x$$y\\#z\\ w.o");
        let parsed = parse("x$$y\\#z\\ w.o: a\\ b.h c.h\n");
        assert_eq!(parsed.targets, vec!["x$$y\\#z\\ w.o"]);
        assert_eq!(unescape(&parsed.deps[0]), "a b.h");
        assert_eq!(unescape("x$$y\\#z\\ w.o"), "x$y#z w.o");
    }

    #[test]
    fn windows_drive_letters_are_not_rule_separators() {
        let parsed = parse("a.o: C:/src/a.c C:\\inc\\b.h\n");
        assert_eq!(parsed.deps, vec!["C:/src/a.c", "C:\\inc\\b.h"]);
    }

    #[test]
    fn backslashes_before_a_blank_are_undoubled() {
        // Found by the depfile fuzz target: gcc and clang double the backslashes before a
        // blank (`dir\ sp.h` is written `dir\\\ sp.h`), and the parse kept them doubled.
        assert_eq!(quote_target("dir\\ sp.h"), "dir\\\\\\ sp.h");
        for path in ["dir\\ sp.h", "a\\\\\tb", "c\\#d", "e\\f", "g\\$h i"] {
            let text = render(
                Family::Gcc,
                &[quote_target("o.o")],
                &[quote_target(path)],
                false,
            );
            let parsed = parse(&text);
            assert_eq!(unescape(&parsed.deps[0]), path, "{text:?}");
        }
    }

    #[test]
    fn a_colon_before_a_line_continuation_ends_the_targets() {
        // Found by the depfile fuzz target: `C:\` + newline was read as a drive letter, so
        // the target list went on past the colon (and a re-render parsed differently).
        let parsed = parse("C:\\\r\n a.h b.h\n");
        assert_eq!(parsed.targets, vec!["C"]);
        assert_eq!(parsed.deps, vec!["a.h", "b.h"]);
        assert_eq!(
            parse(&render(Family::Gcc, &parsed.targets, &parsed.deps, false)),
            parsed
        );
    }
}
