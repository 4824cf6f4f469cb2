//! The command-line interface: `zccache start|stop|status|stats|clear|config|daemon`.

use crate::client::connect;
use crate::config::{human_bytes, Layout, Settings};
use crate::ipc::{read_frame, write_frame, Request, Response, StatsSnapshot};
use anyhow::{anyhow, bail, Context};
use clap::{Parser, Subcommand};
use std::ffi::OsString;

/// zccache: a fast local compiler cache. Wrap a compile with `zccache <compiler> <args…>`.
#[derive(Parser, Debug)]
#[command(name = "zccache", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Start the daemon for the cache dir (no-op if running).
    Start,
    /// Stop the daemon.
    Stop,
    /// Show whether the daemon is running.
    Status,
    /// Show cache statistics.
    Stats {
        /// Machine-readable JSON.
        #[arg(long)]
        json: bool,
        /// Reset the counters.
        #[arg(long, short = 'z')]
        zero: bool,
    },
    /// Remove every cached entry.
    Clear,
    /// Show the effective settings and where each came from.
    Config,
    /// Run the daemon in the foreground (normally started automatically).
    #[command(hide = true)]
    Daemon,
}

/// Words that select the CLI rather than the wrapper.
pub fn is_cli_word(word: &str) -> bool {
    matches!(
        word,
        "start"
            | "stop"
            | "status"
            | "stats"
            | "clear"
            | "config"
            | "daemon"
            | "help"
            | "--help"
            | "-h"
            | "--version"
            | "-V"
    )
}

/// Runs the CLI; returns the exit code.
pub fn main(argv: Vec<OsString>) -> i32 {
    let cli = Cli::parse_from(argv);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("zccache: {e:#}");
            1
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    let settings = Settings::load()?;
    let layout = Layout::new(&settings.dir.value);
    let Some(command) = cli.command else {
        println!("zccache {}", env!("CARGO_PKG_VERSION"));
        println!("usage: zccache <compiler> <args…>   (wrap one compile)");
        println!("       zccache start|stop|status|stats [--json|--zero]|clear|config");
        return Ok(0);
    };
    match command {
        Command::Daemon => {
            crate::daemon::run(settings)?;
            Ok(0)
        }
        Command::Start => {
            let exe = std::env::current_exe().context("locating zccache")?;
            drop(connect::connect_or_start(&layout, &exe)?);
            let pid = connect::ping(&layout)?;
            println!(
                "zccache daemon running (pid {pid}) for {}",
                layout.root.display()
            );
            Ok(0)
        }
        Command::Stop => match connect::connect_existing(&layout) {
            Ok(mut conn) => {
                write_frame(&mut conn, &Request::Shutdown)?;
                let _ = read_frame::<Response>(&mut conn);
                wait_gone(&layout);
                println!("zccache daemon stopped");
                Ok(0)
            }
            Err(_) => {
                println!("zccache daemon not running");
                Ok(0)
            }
        },
        Command::Status => match connect::ping(&layout) {
            Ok(pid) => {
                println!("running (pid {pid}), cache dir {}", layout.root.display());
                Ok(0)
            }
            Err(_) => {
                println!("not running, cache dir {}", layout.root.display());
                Ok(1)
            }
        },
        Command::Stats { json, zero } => {
            if zero {
                request_ok(&layout, Request::ZeroStats)?;
                if !json {
                    println!("statistics zeroed");
                    return Ok(0);
                }
            }
            let snapshot = stats(&layout)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&snapshot)?);
            } else {
                print_stats(&snapshot);
            }
            Ok(0)
        }
        Command::Clear => {
            request_ok(&layout, Request::Clear)?;
            println!("cache cleared");
            Ok(0)
        }
        Command::Config => {
            for (key, value, source) in settings.describe() {
                println!("{key:<14} = {value:<40} ({source})");
            }
            let cwd = std::env::current_dir().context("reading the current directory")?;
            match crate::base_dir::find_root(&settings.base_dir.value, &cwd, None) {
                Some(root) => println!(
                    "C/C++ compiles in {} are keyed relative to {} ({})",
                    cwd.display(),
                    root.dir.display(),
                    root.origin
                ),
                None => println!(
                    "C/C++ compiles in {} are keyed by absolute paths (no base dir applies)",
                    cwd.display()
                ),
            }
            Ok(0)
        }
    }
}

/// Connects (starting the daemon if needed) and sends a request expecting `Ok`.
fn request_ok(layout: &Layout, request: Request) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("locating zccache")?;
    let mut conn = connect::connect_or_start(layout, &exe)?;
    write_frame(&mut conn, &request)?;
    match read_frame::<Response>(&mut conn)? {
        Response::Ok => Ok(()),
        Response::Error { message } => Err(anyhow!(message)),
        other => bail!("unexpected answer {other:?}"),
    }
}

fn stats(layout: &Layout) -> anyhow::Result<StatsSnapshot> {
    let exe = std::env::current_exe().context("locating zccache")?;
    let mut conn = connect::connect_or_start(layout, &exe)?;
    write_frame(&mut conn, &Request::Stats)?;
    match read_frame::<Response>(&mut conn)? {
        Response::Stats(s) => Ok(s),
        Response::Error { message } => Err(anyhow!(message)),
        other => bail!("unexpected answer {other:?}"),
    }
}

fn wait_gone(layout: &Layout) {
    for _ in 0..200 {
        if connect::connect_existing(layout).is_err() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

fn print_stats(s: &StatsSnapshot) {
    let calls = s.hits + s.misses;
    let rate = if calls > 0 {
        100.0 * s.hits as f64 / calls as f64
    } else {
        0.0
    };
    if s.verify_mismatch > 0 {
        println!(
            "!! verify: {} cached result(s) differed from a fresh compile (evicted; see {}/{})",
            s.verify_mismatch,
            s.cache_dir,
            crate::daemon::verify::MISMATCH_LOG
        );
    }
    println!("cache dir              {}", s.cache_dir);
    println!(
        "hits                   {:>10}  ({rate:.1}% of cacheable)",
        s.hits
    );
    println!("  direct               {:>10}", s.direct_hits);
    println!("  preprocessed         {:>10}", s.preprocessor_hits);
    println!("misses                 {:>10}", s.misses);
    println!("uncacheable            {:>10}", s.uncacheable);
    println!("errors                 {:>10}", s.errors);
    for (reason, n) in &s.reasons {
        println!("  {reason:<20} {n:>10}");
    }
    let verified = s.verify_ok + s.verify_mismatch + s.verify_unreproducible + s.verify_skipped;
    if verified > 0 {
        println!("verified hits          {verified:>10}");
        println!("  same output          {:>10}", s.verify_ok);
        println!("  MISMATCH             {:>10}", s.verify_mismatch);
        println!("  unreproducible       {:>10}", s.verify_unreproducible);
        println!("  skipped              {:>10}", s.verify_skipped);
    }
    println!("entries                {:>10}", s.entries);
    println!(
        "cache size             {:>10}  (max {})",
        human_bytes(s.cache_size_bytes),
        human_bytes(s.max_size_bytes)
    );
    println!("evictions              {:>10}", s.evictions);
    println!(
        "compile time saved     {:>9.1}s",
        s.time_saved_ms as f64 / 1000.0
    );
    // Per family (links are `gcc-link`/`clang-link`), only those with any activity.
    for (name, f) in s
        .families
        .iter()
        .filter(|(_, f)| f.hits + f.misses + f.uncacheable > 0)
    {
        println!(
            "  {name:<12} {:>6} hits {:>6} misses {:>6} uncacheable {:>8.1}s saved",
            f.hits,
            f.misses,
            f.uncacheable,
            f.time_saved_ms as f64 / 1000.0
        );
    }
    println!(
        "daemon                 pid {} up {}s",
        s.daemon_pid, s.daemon_uptime_s
    );
}
