//! Reading preprocessor (`-E`) output: which files it came from, per its line markers.

/// Files named by `# <line> "<file>" <flags>` markers, in first-seen order, without the
/// `<built-in>`/`<command-line>` pseudo files. Paths are unescaped (`\\` → `\`, `\"` → `"`).
pub fn files_from_line_markers(text: &[u8]) -> Vec<String> {
    let mut files: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for line in text.split(|&b| b == b'\n') {
        let Some(rest) = line.strip_prefix(b"# ") else {
            continue;
        };
        let Some(quote_start) = rest.iter().position(|&b| b == b'"') else {
            continue;
        };
        if !rest[..quote_start]
            .iter()
            .all(|b| b.is_ascii_digit() || *b == b' ')
        {
            continue;
        }
        let mut name = Vec::new();
        let mut i = quote_start + 1;
        while i < rest.len() {
            match rest[i] {
                b'\\' if i + 1 < rest.len() => {
                    name.push(rest[i + 1]);
                    i += 2;
                }
                b'"' => break,
                b => {
                    name.push(b);
                    i += 1;
                }
            }
        }
        let Ok(name) = String::from_utf8(name) else {
            continue;
        };
        if name.starts_with('<') && name.ends_with('>') {
            continue;
        }
        if seen.insert(name.clone()) {
            files.push(name);
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_marker_files_once() {
        let text = b"# 0 \"a.c\"\n# 0 \"<built-in>\"\n# 1 \"/usr/include/stdio.h\" 1 3 4\nint x;\n# 5 \"a.c\" 2\n# 1 \"inc/b\\\\c.h\" 1\n";
        assert_eq!(
            files_from_line_markers(text),
            vec!["a.c", "/usr/include/stdio.h", "inc/b\\c.h"]
        );
    }
}
