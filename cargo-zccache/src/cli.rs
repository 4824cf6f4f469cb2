//! Command line of `cargo zccache`: our own options, `setup`, `stats`, and any other word is
//! a cargo subcommand run with zccache wired in.

use crate::{config_file, locate, run};
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

const AFTER_HELP: &str = "\
Any other subcommand is run by cargo with zccache wired in, for example:
  cargo zccache build --release
  cargo zccache test -p mycrate
  cargo zccache --json check        (summary as one JSON line on stdout)

Options of cargo zccache go before the cargo subcommand; everything after it goes to cargo.
rustc runs through zccache (RUSTC_WRAPPER); the C/C++ compiles of build scripts (cc-rs,
cmake-rs, make) too; CARGO_INCREMENTAL=0 unless you set it or pass --incremental.
The cache is ZCCACHE_DIR (default ~/.cache/zccache).";

/// Run cargo with zccache caching rustc and the C/C++ compiles of build scripts.
#[derive(Parser, Debug)]
#[command(
    name = "cargo-zccache",
    bin_name = "cargo zccache",
    version,
    about,
    long_about = None,
    after_help = AFTER_HELP,
    arg_required_else_help = true,
    subcommand_value_name = "COMMAND",
    subcommand_help_heading = "Commands"
)]
pub struct Cli {
    /// Print this build's summary as one JSON line on stdout (instead of the text summary).
    #[arg(long)]
    pub json: bool,
    /// Keep cargo's incremental default instead of setting CARGO_INCREMENTAL=0 (incremental
    /// compiles of workspace members are not cacheable).
    #[arg(long)]
    pub incremental: bool,
    /// Do not route the C/C++ compiles of build scripts through zccache.
    #[arg(long)]
    pub no_cc: bool,
    /// Print no summary.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Write `[build] rustc-wrapper = "<zccache>"` into the project's .cargo/config.toml,
    /// so plain `cargo build` caches rustc too (`--undo` removes it).
    Setup {
        /// Remove the rustc-wrapper that `setup` wrote.
        #[arg(long)]
        undo: bool,
        /// Edit $CARGO_HOME/config.toml (every project of this user) instead of the project's.
        #[arg(long)]
        global: bool,
        /// Path to the project's Cargo.toml (default: found from the current directory).
        #[arg(long, value_name = "PATH")]
        manifest_path: Option<PathBuf>,
    },
    /// Show zccache's statistics (all builds; `--json`, `--zero` as for `zccache stats`).
    Stats {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<OsString>,
    },
    /// Any cargo subcommand (build, check, test, run, clippy, doc, …) with its arguments.
    #[command(external_subcommand)]
    Cargo(Vec<OsString>),
}

/// Parses `argv` (with the `zccache` word already removed) and runs; returns the exit code.
pub fn main(argv: Vec<OsString>) -> anyhow::Result<i32> {
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return Ok(code);
        }
    };
    match cli.command {
        Command::Setup {
            undo,
            global,
            ref manifest_path,
        } => config_file::setup(undo, global, manifest_path.as_deref()),
        Command::Stats { ref args } => {
            let zccache = locate::zccache()?;
            let status = std::process::Command::new(&zccache)
                .arg("stats")
                .args(args)
                .status()
                .map_err(|e| anyhow::anyhow!("running {}: {e}", zccache.display()))?;
            Ok(status.code().unwrap_or(1))
        }
        Command::Cargo(ref args) => run::cargo_with_zccache(&cli, args),
    }
}
