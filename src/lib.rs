//! zccache: a local-first compiler cache with a warm per-user daemon.
//!
//! The `zccache` binary is a multicall program: a compiler wrapper (`zccache gcc -c …` or a
//! `gcc` symlink to it), the daemon (`zccache daemon`), and the CLI (`zccache stats`, …).

pub mod base_dir;
pub mod cli;
pub mod client;
pub mod config;
pub mod daemon;
pub mod ipc;
pub mod logging;
pub mod meta;
pub mod paths;
pub mod store;
