//! The messages exchanged between the wrapper (client) and the daemon.
//!
//! One compile is one connection: `Compile` → (`Preprocessed`)? → a verdict; on a miss the
//! client runs the compiler and answers `Store` on the same connection.

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use std::collections::BTreeMap;

/// Bumped whenever a message changes shape; a mismatch makes the client fall back.
pub const PROTOCOL_VERSION: u32 = 5;

/// Outputs of this size or more are handed to the daemon by path, not through the socket
/// (see `daemon::large_outputs`; measured in docs/reliability.md).
pub const PATH_HANDOVER_BYTES: u64 = 1 << 20;

/// Client → daemon.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    /// First message of a compile conversation.
    Compile(CompileRequest),
    /// Answer to [`Response::RunPreprocessor`]: blake3 of the `-E` output and the files its line
    /// markers name.
    Preprocessed {
        output_hash: [u8; 32],
        files: Vec<String>,
    },
    /// The preprocessor failed: compile instead.
    PreprocessFailed,
    /// Answer to [`Response::Compile`]: what the compiler did.
    Store(StoreRequest),
    /// A hit could not be restored (blob missing or corrupt): forget it and compile.
    HitFailed { reason: String },
    /// Counters and sizes.
    Stats,
    /// Reset counters.
    ZeroStats,
    /// Drop every cached entry and blob.
    Clear,
    /// Exit after answering.
    Shutdown,
    /// Liveness check; answered with `Pong`.
    Ping,
    /// A client ran the compiler itself because talking to the daemon failed in a way the
    /// daemon could not count (counted as an error).
    ReportFallback { reason: String },
    /// `zccache explain`: would this compile hit, and if not why (a dry run: nothing is
    /// compiled, stored or counted). Answered with `Explained`.
    Explain(CompileRequest),
    /// `zccache misses`: the journaled misses since `since_ms` (unix ms; None: since the last
    /// `stats --zero`), grouped by cause. Answered with `Misses`.
    Misses { since_ms: Option<u64> },
    /// `zccache start --owner`: exit once every one of these processes is gone (and never
    /// idle out before). Answered `Ok`, or `Error` if one of them is not running.
    AddOwners { pids: Vec<u32> },
}

/// Everything the daemon needs to decide hit or miss.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompileRequest {
    pub protocol: u32,
    pub cwd: String,
    /// Absolute path of the real compiler.
    pub compiler: String,
    /// Arguments after the compiler.
    pub args: Vec<String>,
    /// The client's environment.
    pub env: Vec<(String, String)>,
}

/// One file to restore on a hit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Materialize {
    /// Blob file to copy from.
    pub blob_path: String,
    /// Expected blake3 of the blob's content.
    pub hash: [u8; 32],
    /// Destination, as the invocation names it (relative to the client's cwd or absolute).
    pub dest: String,
    /// Unix mode bits to apply (0 = leave default).
    pub mode: u32,
    /// The daemon saw the blob unchanged since it was stored (same ctime): the client may
    /// copy it without re-hashing; otherwise it verifies the digest while copying.
    pub unchanged_since_stored: bool,
}

/// What a hit restores.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HitPlan {
    pub files: Vec<Materialize>,
    /// Small files written directly (the re-rendered depfile).
    pub inline_files: Vec<(String, ByteBuf)>,
    #[serde(with = "serde_bytes")]
    pub stdout: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub stderr: Vec<u8>,
    pub exit_code: i32,
}

/// How to run the compiler on a miss.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompilePlan {
    /// Arguments to run (may contain the depfile placeholder to substitute).
    pub args: Vec<String>,
    /// Placeholder in `args` to replace by a temp depfile path, if any.
    pub depfile_placeholder: Option<String>,
    /// A depfile the compiler writes at a known path (rustc dep-info), to send back.
    pub depfile_path: Option<String>,
    /// Output paths to send back after a successful compile, in order.
    pub outputs: Vec<String>,
    /// Outputs that may be absent.
    pub optional: Vec<bool>,
    /// The tool reads its output's previous content (`ar r`): leave existing outputs in place
    /// (otherwise they are removed before the compile).
    pub keep_prior_outputs: bool,
    /// Additional env vars to set for the compile.
    pub extra_env: Vec<(String, String)>,
    /// The file-access recorder to preload into the compile (its log comes back in
    /// [`StoreRequest::accesses`]); None: run the compiler without it.
    pub recorder: Option<String>,
    /// The wrapper may send its `Store` without waiting for the answer (a link, an archive
    /// scan…: nothing comes back for the build) when it passes every path-handed output along
    /// already opened under a read lease; see [`StoreRequest::unanswered`].
    pub store_unanswered_ok: bool,
}

/// Daemon → client.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Response {
    Hit(HitPlan),
    /// Run the real compiler with the original arguments; nothing is cached.
    Uncacheable {
        reason: String,
    },
    /// Several sources in one call: run each of these argument lists as its own wrapped
    /// compile (same compiler), in order.
    Split {
        commands: Vec<Vec<String>>,
    },
    /// Run the preprocessor with these arguments (stdout captured) and answer `Preprocessed`.
    RunPreprocessor {
        args: Vec<String>,
    },
    /// Run the compiler per the plan and answer `Store`.
    Compile(CompilePlan),
    /// The result was handled; write these files (the build's depfile) and exit with the
    /// compiler's status.
    Stored {
        inline_files: Vec<(String, ByteBuf)>,
    },
    Stats(StatsSnapshot),
    Pong {
        pid: u32,
        version: String,
    },
    Ok,
    Error {
        message: String,
    },
    /// Answer to [`Request::Explain`].
    Explained(ExplainReport),
    /// Answer to [`Request::Misses`].
    Misses(MissReport),
}

/// What `zccache explain` found (its `--json` shape).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExplainReport {
    /// `hit`, `miss` or `uncacheable`.
    pub result: String,
    /// Why (empty on a hit): each difference against the nearest entry, the first one first.
    pub causes: Vec<String>,
}

/// Journaled misses grouped by cause, most frequent first (`zccache misses --json`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct MissReport {
    pub groups: Vec<MissGroup>,
}

/// Misses that share one cause.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct MissGroup {
    pub cause: String,
    pub count: u64,
    /// A few output paths of these compiles.
    pub examples: Vec<String>,
    /// Which compiles: crate names for rustc, source files otherwise (a few, distinct).
    pub units: Vec<String>,
}

/// What the compiler did on a miss.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoreRequest {
    pub exit_code: i32,
    #[serde(with = "serde_bytes")]
    pub stdout: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub stderr: Vec<u8>,
    /// Contents of each planned output (None when absent), with mode bits.
    pub outputs: Vec<Option<(ByteBuf, u32)>>,
    /// The depfile the compiler wrote, if one was planned.
    #[serde(with = "serde_bytes")]
    pub depfile: Option<Vec<u8>>,
    /// Wall time of the compile in milliseconds (for "time saved").
    pub compile_ms: u64,
    /// The access recorder's log (None: the compile ran without the recorder).
    #[serde(with = "serde_bytes")]
    pub accesses: Option<Vec<u8>>,
    /// Outputs handed over by path (absolute, with mode bits) instead of in `outputs`, one
    /// slot per planned output: those of [`PATH_HANDOVER_BYTES`] or more.
    pub output_files: Vec<Option<(String, u32)>>,
    /// Nobody reads the answer: the wrapper exits once this is sent. Then the frame carries
    /// one descriptor per `output_files` entry, in order, each opened under a read lease, and
    /// no file the compile wrote outside its outputs was left behind.
    pub unanswered: bool,
}

/// Counters of one compiler family.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FamilySnapshot {
    pub hits: u64,
    pub misses: u64,
    pub uncacheable: u64,
    pub time_saved_ms: u64,
}

/// Counters reported by `zccache stats`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub hits: u64,
    pub direct_hits: u64,
    pub preprocessor_hits: u64,
    pub misses: u64,
    pub uncacheable: u64,
    pub errors: u64,
    pub entries: u64,
    pub cache_size_bytes: u64,
    pub max_size_bytes: u64,
    pub evictions: u64,
    pub time_saved_ms: u64,
    /// Sampled hits (`ZCCACHE_VERIFY`) re-compiled with identical outputs.
    pub verify_ok: u64,
    /// Sampled hits whose re-compile gave other outputs: wrong cached results (evicted).
    pub verify_mismatch: u64,
    /// Sampled hits whose compile does not reproduce its own output run to run.
    pub verify_unreproducible: u64,
    /// Sampled hits that could not be re-compiled (sources gone, verifier busy…).
    pub verify_skipped: u64,
    /// Remote tier: compiles served from a remote (also counted in `hits`), local misses
    /// the remotes could not serve, failed and timed-out calls, uploads done and dropped,
    /// bytes moved, entries ignored for a missing or wrong signature.
    pub remote_hits: u64,
    pub remote_misses: u64,
    pub remote_errors: u64,
    pub remote_timeouts: u64,
    pub remote_uploads: u64,
    pub remote_uploads_dropped: u64,
    pub remote_bytes_down: u64,
    pub remote_bytes_up: u64,
    pub remote_bad_signatures: u64,
    /// The configured remotes (credentials removed) with their state; empty when none.
    pub remotes: Vec<String>,
    pub reasons: BTreeMap<String, u64>,
    /// The same counters per compiler family (`gcc`, `clang`, `rustc`, `emcc`).
    pub families: BTreeMap<String, FamilySnapshot>,
    pub daemon_pid: u32,
    pub daemon_uptime_s: u64,
    pub cache_dir: String,
    /// Approximate bytes held by the daemon's in-memory caches (after enforcing the budget).
    pub memory_bytes: u64,
    /// The budget for them (`ZCCACHE_MAX_MEMORY`).
    pub max_memory_bytes: u64,
}
