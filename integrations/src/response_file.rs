//! Expansion of `@file` response-file arguments (gcc/clang/rustc syntax).

use std::path::Path;

/// Most response files one command line may read (gcc's libiberty stops at 2000 expansions):
/// a file that names itself twice would otherwise be read 2^depth times.
pub const MAX_FILES: usize = 1000;

/// Largest response file read, and the most text all of one command line's may add up to.
pub const MAX_BYTES: u64 = 64 << 20;

/// Splits response-file text the way GCC's libiberty `buildargv` does: whitespace separates,
/// single and double quotes group, backslash escapes the next character.
pub fn split(text: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut in_token = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (_, '\\') => {
                if let Some(next) = chars.next() {
                    current.push(next);
                }
                in_token = true;
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_token = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_token {
                    args.push(std::mem::take(&mut current));
                    in_token = false;
                }
            }
            (None, c) => {
                current.push(c);
                in_token = true;
            }
        }
    }
    if in_token {
        args.push(current);
    }
    args
}

/// Quotes one argument so that [`split`] gives it back unchanged (what a tool writing a
/// response file for gcc/clang/rustc has to do).
pub fn quote(arg: &str) -> String {
    if arg.is_empty() {
        return "''".to_string();
    }
    let mut out = String::with_capacity(arg.len() + 2);
    for c in arg.chars() {
        if c == '\\' || c == '\'' || c == '"' || c.is_whitespace() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Replaces each `@file` argument by the arguments it contains (recursively, bounded).
/// An `@file` that cannot be read is an error: the caller runs the compile uncached.
pub fn expand(args: &[String], cwd: &Path) -> Result<Vec<String>, String> {
    expand_with(args, |file| {
        crate::input_file::read_text(&cwd.join(file), MAX_BYTES).map_err(|e| format!("{file}: {e}"))
    })
}

/// [`expand`] with the files' text supplied by `read` (given the name after `@`). At most
/// [`MAX_FILES`] reads of at most [`MAX_BYTES`] in all; past that, an error.
pub fn expand_with(
    args: &[String],
    mut read: impl FnMut(&str) -> Result<String, String>,
) -> Result<Vec<String>, String> {
    struct Budget {
        files: usize,
        bytes: u64,
    }
    fn go(
        args: &[String],
        read: &mut dyn FnMut(&str) -> Result<String, String>,
        depth: usize,
        budget: &mut Budget,
        out: &mut Vec<String>,
    ) -> Result<(), String> {
        for arg in args {
            match arg.strip_prefix('@') {
                Some(file) if !file.is_empty() => {
                    if depth > 8 {
                        return Err(format!("{file}: response files nested too deeply"));
                    }
                    if budget.files == MAX_FILES {
                        return Err(format!("{file}: more than {MAX_FILES} response files"));
                    }
                    budget.files += 1;
                    let text = read(file)?;
                    budget.bytes += text.len() as u64;
                    if budget.bytes > MAX_BYTES {
                        return Err(format!("{file}: response files over {MAX_BYTES} bytes"));
                    }
                    go(&split(&text), read, depth + 1, budget, out)?;
                }
                _ => out.push(arg.clone()),
            }
        }
        Ok(())
    }
    let mut out = Vec::with_capacity(args.len());
    let mut budget = Budget { files: 0, bytes: 0 };
    go(args, &mut read, 0, &mut budget, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_quotes_and_escapes() {
        assert_eq!(
            split("-DA=1 '-DB=two words' \"-DC=\\\"q\\\"\"\n-I inc\\ dir"),
            vec!["-DA=1", "-DB=two words", "-DC=\"q\"", "-I", "inc dir"]
        );
        assert_eq!(split("''"), vec![""]);
    }

    #[test]
    fn expansion_is_bounded() {
        // A file naming itself 1000 times would be read 1000^9 times (depth 8 only bounds
        // the nesting): the expansion stops after MAX_FILES reads.
        let mut reads = 0;
        let selfish = vec!["@self".to_string(); 1000].join(" ");
        let result = expand_with(&["@self".to_string()], |_| {
            reads += 1;
            Ok(selfish.clone())
        });
        assert!(result.unwrap_err().contains("response files"));
        assert!(reads <= MAX_FILES);
    }

    #[test]
    fn devices_are_not_read() {
        // `@/dev/zero` made the daemon read forever (gcc itself reads it as empty).
        let err = expand(&["@/dev/zero".to_string()], Path::new("/")).unwrap_err();
        assert!(err.contains("not a regular file"), "{err}");
    }
}
