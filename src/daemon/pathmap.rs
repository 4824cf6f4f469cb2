//! Path prefix mapping: swaps an invocation's own absolute prefixes (cargo's target dir, a C
//! compile's base dir) for
//! stable placeholders in everything stored, and back for the current build on a hit.

/// The adapter's `(prefix, placeholder)` pairs.
#[derive(Debug, Clone, Copy)]
pub struct PathMap<'a> {
    pairs: &'a [(String, String)],
}

/// Whether the character after a matched prefix ends a path component.
fn boundary(next: Option<char>) -> bool {
    match next {
        None => true,
        Some(c) => matches!(
            c,
            '/' | '"' | '\'' | ':' | ' ' | '\n' | '\t' | '\\' | '=' | ',' | ';' | ')' | '\r'
        ),
    }
}

fn replace_bounded(text: &str, from: &str, to: &str, check_boundary: bool) -> String {
    if from.is_empty() || !text.contains(from) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find(from) {
        let after = &rest[pos + from.len()..];
        out.push_str(&rest[..pos]);
        if !check_boundary || boundary(after.chars().next()) {
            out.push_str(to);
        } else {
            out.push_str(from);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

impl<'a> PathMap<'a> {
    pub fn new(pairs: &'a [(String, String)]) -> PathMap<'a> {
        PathMap { pairs }
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Local text → stored form.
    pub fn to_stored(&self, text: &str) -> String {
        let mut t = text.to_string();
        for (prefix, placeholder) in self.pairs {
            t = replace_bounded(&t, prefix, placeholder, true);
        }
        t
    }

    /// Stored form → this build's text.
    pub fn to_local(&self, text: &str) -> String {
        let mut t = text.to_string();
        for (prefix, placeholder) in self.pairs {
            t = replace_bounded(&t, placeholder, prefix, false);
        }
        t
    }

    /// Byte version of [`PathMap::to_stored`] (non-UTF-8 output is kept as is).
    pub fn bytes_to_stored(&self, bytes: &[u8]) -> Vec<u8> {
        if self.is_empty() {
            return bytes.to_vec();
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => self.to_stored(text).into_bytes(),
            Err(_) => bytes.to_vec(),
        }
    }

    /// Byte version of [`PathMap::to_local`].
    pub fn bytes_to_local(&self, bytes: &[u8]) -> Vec<u8> {
        if self.is_empty() {
            return bytes.to_vec();
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => self.to_local(text).into_bytes(),
            Err(_) => bytes.to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_component_boundaries() {
        let pairs = vec![("/a/target/debug".to_string(), "<T>".to_string())];
        let m = PathMap::new(&pairs);
        assert_eq!(
            m.to_stored("dependency=/a/target/debug/deps /a/target/debugger"),
            "dependency=<T>/deps /a/target/debugger"
        );
        let other = vec![("/b/t/release".to_string(), "<T>".to_string())];
        assert_eq!(
            PathMap::new(&other).to_local("\"<T>/deps/x.rmeta\""),
            "\"/b/t/release/deps/x.rmeta\""
        );
    }
}
