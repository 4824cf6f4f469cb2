//! This build's identity: the package version, the protocol it speaks and the build id
//! (`ZCCACHE_BUILD_ID` at compile time, else the git commit). A client only ever talks to a
//! daemon of its own identity, and each identity keeps its own store, so a zccache of another
//! version never serves, misreads or locks out this one (docs/reliability.md).

use crate::ipc::PROTOCOL_VERSION;

/// The build id baked in by build.rs.
pub const BUILD_ID: &str = env!("ZCCACHE_BUILD");

/// `0.1.0+<build id>`: what `--version`, the hello and `Pong` report.
pub fn build_string() -> String {
    format!("{}+{}", env!("CARGO_PKG_VERSION"), BUILD_ID)
}

/// The directory name of this build's daemon and store under `<cache>/v/`:
/// `<version>-p<protocol>-<build id>` (filesystem-safe, short enough for a socket path).
pub fn store_name() -> String {
    format!(
        "{}-p{}-{}",
        env!("CARGO_PKG_VERSION"),
        PROTOCOL_VERSION,
        BUILD_ID
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_path_safe() {
        let name = store_name();
        assert!(!name.is_empty() && name.len() < 64);
        assert!(name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')));
        assert!(build_string().ends_with(BUILD_ID));
    }
}
