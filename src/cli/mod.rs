//! The command-line interface: `zccache start|stop|status|stats|clear|config|explain|misses|
//! daemon`, and the help a newcomer reads first.

pub mod explain;
pub mod misses;

mod daemon_ctl;

use crate::client::connect;
use crate::config::{human_bytes, Layout, Settings};
use crate::ipc::{read_frame, write_frame, Request, Response, StatsSnapshot};
use anyhow::{anyhow, bail, Context};
use clap::{Parser, Subcommand};
use std::ffi::OsString;

/// What `zccache --help` leads with: how to use it at all.
const NEWCOMER_HELP: &str = "\
zccache: a local compiler cache for C, C++, Rust and Emscripten.

Put it in front of a compile (the daemon starts by itself):
  zccache <compiler> <args…>        zccache gcc -c foo.c -o foo.o   (g++, clang, rustc, emcc…)
  make:        CC=\"zccache gcc\" CXX=\"zccache g++\" make -j
  masquerade:  a symlink named like the compiler, first on PATH:
               ln -s \"$(command -v zccache)\" ~/.local/zccache-bin/gcc
               export PATH=~/.local/zccache-bin:$PATH
  Rust:        cargo zccache build      (or RUSTC_WRAPPER=zccache CARGO_INCREMENTAL=0 cargo build)
  CMake:       cmake -DCMAKE_C_COMPILER_LAUNCHER=zccache -DCMAKE_CXX_COMPILER_LAUNCHER=zccache …
  Bazel:       zccache_cc_configure from zccache/bazel/defs.bzl, then
               ZCCACHE_IDLE_TIMEOUT=0 zccache start && bazel build //...
  Emscripten:  zccache emcc -c foo.c -o foo.o   or   . zccache/emscripten/env.sh

Why did it miss?
  zccache explain <compiler> <args…>   would this compile hit? if not, what differs
  zccache misses --since 10m           recent misses grouped by cause";

#[derive(Parser, Debug)]
#[command(
    name = "zccache",
    version = concat!(env!("CARGO_PKG_VERSION"), "+", env!("ZCCACHE_BUILD")),
    before_help = NEWCOMER_HELP,
    override_usage = "zccache <compiler> <args…>\n       zccache <COMMAND>"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Start the daemon for the cache dir (no-op if running).
    Start {
        /// Exit once this process is gone (repeatable; the daemon lives until every owner
        /// has exited, and never idles out before).
        #[arg(long = "owner", value_name = "PID")]
        owners: Vec<u32>,
    },
    /// Stop the daemon (returns once it has exited).
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
    /// Would this compile hit? If not, name what differs from the nearest cached entry.
    /// A dry run: compiles nothing, writes nothing.
    Explain {
        /// Machine-readable JSON: {"result": "hit"|"miss"|"uncacheable", "causes": […]}.
        #[arg(long)]
        json: bool,
        /// The compile, as the build runs it: `<compiler> <args…>`.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            required = true,
            value_name = "COMPILER ARGS"
        )]
        command: Vec<String>,
    },
    /// Recent misses and uncacheable compiles, grouped by cause, most frequent first.
    Misses {
        /// Only those of the last DURATION (90s, 10m, 2h, 1d).
        #[arg(long, value_name = "DURATION")]
        since: Option<String>,
        /// Only those journaled at or after this unix time in ms (for tools: `cargo zccache`).
        #[arg(long, hide = true, conflicts_with = "since")]
        since_ms: Option<u64>,
        /// Machine-readable JSON: {"groups": [{"cause", "count", "examples"}, …]}.
        #[arg(long)]
        json: bool,
    },
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
            | "explain"
            | "misses"
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
        println!("zccache {}\n", env!("CARGO_PKG_VERSION"));
        println!("{NEWCOMER_HELP}");
        println!("\nMore: zccache --help");
        return Ok(0);
    };
    match command {
        Command::Daemon => {
            crate::daemon::run(settings)?;
            Ok(0)
        }
        Command::Start { owners } => daemon_ctl::start(&layout, &owners),
        Command::Stop => daemon_ctl::stop(&layout),
        Command::Status => daemon_ctl::status(&layout),
        Command::Stats { json, zero } => {
            if zero {
                request_ok(&layout, Request::ZeroStats)?;
                if !json {
                    println!("statistics zeroed");
                    return Ok(0);
                }
            }
            let snapshot = stats(&layout)?;
            // Since the last --zero; best effort (an older daemon has no journal).
            let top: Vec<crate::ipc::MissGroup> = misses::fetch(&layout, None)
                .map(|r| r.groups.into_iter().take(3).collect())
                .unwrap_or_default();
            if json {
                let mut value = serde_json::to_value(&snapshot)?;
                if let Some(object) = value.as_object_mut() {
                    object.insert(
                        "top_miss_causes".to_string(),
                        serde_json::json!(top
                            .iter()
                            .map(|g| serde_json::json!({"cause": g.cause, "count": g.count}))
                            .collect::<Vec<_>>()),
                    );
                }
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                print_stats(&snapshot);
                if !top.is_empty() {
                    println!("top miss causes (since the last --zero; `zccache misses` for all):");
                    for g in &top {
                        println!("{}", misses::line(g));
                    }
                }
            }
            Ok(0)
        }
        Command::Clear => {
            request_ok(&layout, Request::Clear)?;
            println!("cache cleared");
            Ok(0)
        }
        Command::Explain { json, command } => explain::run(&layout, command, json),
        Command::Misses {
            since,
            since_ms,
            json,
        } => misses::run(&layout, since.as_deref(), since_ms, json),
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

/// Connects (starting the daemon if needed), sends one request and returns the answer (a
/// daemon error as an error).
fn ask(layout: &Layout, request: &Request) -> anyhow::Result<Response> {
    let exe = std::env::current_exe().context("locating zccache")?;
    let mut conn = connect::connect_or_start(layout, &exe)?;
    write_frame(&mut conn, request)?;
    match read_frame::<Response>(&mut conn)? {
        Response::Error { message } => Err(anyhow!(message)),
        other => Ok(other),
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
    if !s.remotes.is_empty() {
        println!("remote");
        for remote in &s.remotes {
            println!("  {remote}");
        }
        println!("  hits                 {:>10}", s.remote_hits);
        println!("  misses               {:>10}", s.remote_misses);
        println!("  errors               {:>10}", s.remote_errors);
        println!("  timeouts             {:>10}", s.remote_timeouts);
        println!("  uploads              {:>10}", s.remote_uploads);
        println!("  uploads dropped      {:>10}", s.remote_uploads_dropped);
        println!("  bad signatures       {:>10}", s.remote_bad_signatures);
        println!(
            "  downloaded           {:>10}",
            human_bytes(s.remote_bytes_down)
        );
        println!(
            "  uploaded             {:>10}",
            human_bytes(s.remote_bytes_up)
        );
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
