//! Entry point of the multicall `zccache` binary: decides between wrapper (masquerade or
//! `zccache <compiler> …`) and CLI, then hands over.

use std::ffi::OsString;
use std::path::Path;

fn main() {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let invoked_as = argv
        .first()
        .and_then(|a| Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("zccache")
        .to_string();
    // Masquerade: a symlink named like a compiler (gcc, clang++, cc…) pointing at us.
    if !invoked_as.starts_with("zccache") {
        let mut command = vec![OsString::from(&invoked_as)];
        command.extend(argv.into_iter().skip(1));
        std::process::exit(zccache::client::run_wrapper(command));
    }
    match argv.get(1).and_then(|a| a.to_str()) {
        Some(first) if zccache::cli::is_cli_word(first) => {
            std::process::exit(zccache::cli::main(argv));
        }
        None => std::process::exit(zccache::cli::main(argv)),
        Some(_) => {
            std::process::exit(zccache::client::run_wrapper(
                argv.into_iter().skip(1).collect(),
            ));
        }
    }
}
