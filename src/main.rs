//! The multicall `zccache` binary: wrapper, daemon and CLI (stub while the core lands).
fn main() {
    eprintln!("zccache: under construction");
    std::process::exit(2);
}
