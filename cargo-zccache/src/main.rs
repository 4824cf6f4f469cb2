//! `cargo zccache`: runs a cargo command with zccache wired in — rustc through
//! `RUSTC_WRAPPER`, the C/C++ compiles of build scripts through `CC`/`CXX` (cc-rs, make) and
//! the CMake compiler launchers (cmake-rs) — then prints what this build did in the cache.
//!
//! Cargo runs this binary as `cargo-zccache zccache <args…>` with `CARGO` naming the cargo to
//! call back; it also works when run directly as `cargo-zccache <args…>`.

mod cc_env;
mod cli;
mod config_file;
mod locate;
mod project;
mod run;
mod summary;

use std::ffi::OsString;

fn main() {
    let mut argv: Vec<OsString> = std::env::args_os().collect();
    // `cargo zccache …` runs `cargo-zccache zccache …`: drop the subcommand name.
    if argv.get(1).map(|a| a == "zccache").unwrap_or(false) {
        argv.remove(1);
    }
    let code = match cli::main(argv) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    };
    std::process::exit(code);
}
