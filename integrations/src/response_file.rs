//! Expansion of `@file` response-file arguments (gcc/clang/rustc syntax).

use std::path::Path;

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
        std::fs::read_to_string(cwd.join(file)).map_err(|e| format!("{file}: {e}"))
    })
}

/// [`expand`] with the files' text supplied by `read` (given the name after `@`).
pub fn expand_with(
    args: &[String],
    mut read: impl FnMut(&str) -> Result<String, String>,
) -> Result<Vec<String>, String> {
    fn go(
        args: &[String],
        read: &mut dyn FnMut(&str) -> Result<String, String>,
        depth: usize,
        out: &mut Vec<String>,
    ) -> Result<(), String> {
        for arg in args {
            match arg.strip_prefix('@') {
                Some(file) if !file.is_empty() => {
                    if depth > 8 {
                        return Err(format!("{file}: response files nested too deeply"));
                    }
                    let text = read(file)?;
                    go(&split(&text), read, depth + 1, out)?;
                }
                _ => out.push(arg.clone()),
            }
        }
        Ok(())
    }
    let mut out = Vec::with_capacity(args.len());
    go(args, &mut read, 0, &mut out)?;
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
}
