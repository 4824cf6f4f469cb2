//! Effective settings: `ZCCACHE_*` environment variables over `zccache.toml` over defaults,
//! remembering where each value came from (for `zccache config`).

pub use crate::base_dir::{BaseDirs, BASE_DIR_ENV, PATH_REMAP_ENV};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    Env(&'static str),
    File(PathBuf),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Default => write!(f, "default"),
            Source::Env(name) => write!(f, "env {name}"),
            Source::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

/// A value and its origin.
#[derive(Debug, Clone)]
pub struct Setting<T> {
    pub value: T,
    pub source: Source,
}

/// All user-visible knobs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Cache root (`ZCCACHE_DIR`).
    pub dir: Setting<PathBuf>,
    /// Store size budget in bytes (`ZCCACHE_MAXSIZE`, e.g. `10G`).
    pub max_size: Setting<u64>,
    /// Pure pass-through (`ZCCACHE_DISABLE=1`).
    pub disable: Setting<bool>,
    /// Tracing filter for the log file (`ZCCACHE_LOG`).
    pub log: Setting<Option<String>>,
    /// Seconds of idleness before the daemon exits (`ZCCACHE_IDLE_TIMEOUT`).
    pub idle_timeout: Setting<u64>,
    /// Use the preprocessor tier on a direct-mode miss (`ZCCACHE_PREPROCESSOR`, default on).
    pub preprocessor: Setting<bool>,
    /// Key rustc compiles by their working directory (`ZCCACHE_RUST_HASH_DIR`, default off):
    /// rlibs of workspace members record the checkout path, so with this on they are never
    /// shared between checkouts.
    pub rust_hash_dir: Setting<bool>,
    /// Share of hits re-compiled in the background and compared with what was served
    /// (`ZCCACHE_VERIFY`, 0 to 1, default 0).
    pub verify: Setting<f64>,
    /// The roots C-family paths are keyed relative to (`ZCCACHE_BASE_DIR`, default auto):
    /// checkouts of one project share entries.
    pub base_dir: Setting<BaseDirs>,
    /// Add `-ffile-prefix-map=<root>=.` to C-family compiles (`ZCCACHE_PATH_REMAP`, default
    /// off), so outputs that would name their checkout (debug info, `__FILE__`) share too.
    pub path_remap: Setting<bool>,
    /// Most misses kept in the miss journal for `zccache misses` (`ZCCACHE_MISS_JOURNAL`,
    /// default 10000; 0 keeps none).
    pub miss_journal: Setting<usize>,
    /// Remote caches (`ZCCACHE_REMOTE`, space-separated URLs): read in order on a local
    /// miss, all written.
    pub remote: Setting<Vec<String>>,
    /// Read remotes, never write them (`ZCCACHE_REMOTE_READ_ONLY`).
    pub remote_read_only: Setting<bool>,
    /// Shared secret signing every remote action-cache entry (`ZCCACHE_REMOTE_KEY`).
    pub remote_key: Setting<Option<String>>,
    /// One extra request header for HTTP/gRPC remotes (`ZCCACHE_REMOTE_HEADER`).
    pub remote_header: Setting<Option<String>>,
    /// Longest remote lookup, ms (`ZCCACHE_REMOTE_TIMEOUT`, default 500): the adaptive
    /// deadline stays below it.
    pub remote_timeout_ms: Setting<u64>,
}

/// The variable behind [`Settings::verify`]; also honoured per compile, from the build's
/// environment.
pub const VERIFY_ENV: &str = "ZCCACHE_VERIFY";

/// Parses a verify fraction: a number from 0 to 1 (`0.01`), or a percentage (`5%`).
pub fn parse_fraction(key: &str, text: &str) -> Result<f64, ConfigError> {
    let t = text.trim();
    let value = match t.strip_suffix('%') {
        Some(pct) => pct.trim().parse::<f64>().map(|v| v / 100.0),
        None => t.parse::<f64>(),
    };
    match value {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(ConfigError::Invalid {
            key: key.into(),
            value: text.into(),
            why: "expected a fraction from 0 to 1 (e.g. 0.01) or a percentage (1%)".into(),
        }),
    }
}

/// The variable behind [`Settings::rust_hash_dir`]; also honoured per compile, from the
/// build's environment (it changes keys, so a build can ask for it without a daemon restart).
pub const RUST_HASH_DIR_ENV: &str = "ZCCACHE_RUST_HASH_DIR";

/// Errors reading settings.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid value {value:?} for {key}: {why}")]
    Invalid {
        key: String,
        value: String,
        why: String,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot parse {path}: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
}

/// The `zccache.toml` keys (same names as the env vars without the prefix, lower case).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    dir: Option<PathBuf>,
    max_size: Option<toml::Value>,
    maxsize: Option<toml::Value>,
    disable: Option<bool>,
    log: Option<String>,
    idle_timeout: Option<u64>,
    preprocessor: Option<bool>,
    rust_hash_dir: Option<bool>,
    verify: Option<toml::Value>,
    base_dir: Option<toml::Value>,
    path_remap: Option<bool>,
    miss_journal: Option<usize>,
    remote: Option<toml::Value>,
    remote_read_only: Option<bool>,
    remote_key: Option<String>,
    remote_header: Option<String>,
    remote_timeout: Option<u64>,
}

/// Default cache root: the user's cache dir (`~/.cache/zccache`), found via the passwd entry
/// when `HOME` is unset (as inside Bazel's sandbox).
pub fn default_dir() -> PathBuf {
    if let Some(dir) = dirs::cache_dir() {
        return dir.join("zccache");
    }
    if let Some(home) = dirs::home_dir() {
        return home.join(".cache").join("zccache");
    }
    PathBuf::from(format!("/var/tmp/zccache-{}", unsafe { libc::geteuid() }))
}

/// Parses sizes like `10G`, `500M`, `1.5GiB`, `123456` (bytes).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: f64 = num.parse().map_err(|_| format!("not a size: {text:?}"))?;
    let mult: f64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1.0,
        "K" | "KB" | "KIB" => 1024.0,
        "M" | "MB" | "MIB" => 1024.0 * 1024.0,
        "G" | "GB" | "GIB" => 1024.0 * 1024.0 * 1024.0,
        "T" | "TB" | "TIB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        other => return Err(format!("unknown size unit {other:?}")),
    };
    Ok((num * mult) as u64)
}

pub fn parse_bool(key: &str, text: &str) -> Result<bool, ConfigError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(ConfigError::Invalid {
            key: key.into(),
            value: text.into(),
            why: "expected 1/0, true/false, yes/no, on/off".into(),
        }),
    }
}

impl Settings {
    /// Reads the process environment and config files.
    pub fn load() -> Result<Settings, ConfigError> {
        Self::load_from(&|k| std::env::var(k).ok())
    }

    /// Reads settings through `env` (for tests and for the daemon answering a client).
    pub fn load_from(env: &dyn Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let dir = match env("ZCCACHE_DIR").filter(|d| !d.is_empty()) {
            Some(d) => Setting {
                value: absolute(PathBuf::from(d)),
                source: Source::Env("ZCCACHE_DIR"),
            },
            None => Setting {
                value: default_dir(),
                source: Source::Default,
            },
        };
        let mut files = vec![dir.value.join("zccache.toml")];
        if let Some(config_dir) = dirs::config_dir() {
            files.push(config_dir.join("zccache").join("zccache.toml"));
        }
        let (file_cfg, file_path) = read_first_config(&files)?;
        let from_file = |_: ()| Source::File(file_path.clone().unwrap_or_default());

        let mut settings = Settings {
            dir,
            max_size: Setting {
                value: 10 * 1024 * 1024 * 1024,
                source: Source::Default,
            },
            disable: Setting {
                value: false,
                source: Source::Default,
            },
            log: Setting {
                value: None,
                source: Source::Default,
            },
            idle_timeout: Setting {
                value: 600,
                source: Source::Default,
            },
            preprocessor: Setting {
                value: true,
                source: Source::Default,
            },
            rust_hash_dir: Setting {
                value: false,
                source: Source::Default,
            },
            verify: Setting {
                value: 0.0,
                source: Source::Default,
            },
            base_dir: Setting {
                value: BaseDirs::Auto,
                source: Source::Default,
            },
            path_remap: Setting {
                value: false,
                source: Source::Default,
            },
            miss_journal: Setting {
                value: 10_000,
                source: Source::Default,
            },
            remote: Setting {
                value: Vec::new(),
                source: Source::Default,
            },
            remote_read_only: Setting {
                value: false,
                source: Source::Default,
            },
            remote_key: Setting {
                value: None,
                source: Source::Default,
            },
            remote_header: Setting {
                value: None,
                source: Source::Default,
            },
            remote_timeout_ms: Setting {
                value: 500,
                source: Source::Default,
            },
        };
        // A dir given only in the user-level config file is honoured when the env has none.
        if settings.dir.source == Source::Default {
            if let Some(d) = &file_cfg.dir {
                settings.dir = Setting {
                    value: absolute(d.clone()),
                    source: from_file(()),
                };
            }
        }
        if let Some(v) = file_cfg.max_size.as_ref().or(file_cfg.maxsize.as_ref()) {
            let text = match v {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                other => other.to_string(),
            };
            settings.max_size = Setting {
                value: parse_size(&text).map_err(|why| ConfigError::Invalid {
                    key: "max_size".into(),
                    value: text.clone(),
                    why,
                })?,
                source: from_file(()),
            };
        }
        if let Some(v) = file_cfg.disable {
            settings.disable = Setting {
                value: v,
                source: from_file(()),
            };
        }
        if let Some(v) = file_cfg.log {
            settings.log = Setting {
                value: Some(v),
                source: from_file(()),
            };
        }
        if let Some(v) = file_cfg.idle_timeout {
            settings.idle_timeout = Setting {
                value: v,
                source: from_file(()),
            };
        }
        if let Some(v) = file_cfg.preprocessor {
            settings.preprocessor = Setting {
                value: v,
                source: from_file(()),
            };
        }
        if let Some(v) = file_cfg.rust_hash_dir {
            settings.rust_hash_dir = Setting {
                value: v,
                source: from_file(()),
            };
        }
        if let Some(v) = &file_cfg.verify {
            let text = match v {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            settings.verify = Setting {
                value: parse_fraction("verify", &text)?,
                source: from_file(()),
            };
        }
        if let Some(v) = &file_cfg.base_dir {
            let invalid = |why: String| ConfigError::Invalid {
                key: "base_dir".into(),
                value: v.to_string(),
                why,
            };
            let value = match v {
                toml::Value::String(s) => BaseDirs::parse(s).map_err(invalid)?,
                toml::Value::Array(items) => {
                    let dirs: Option<Vec<&str>> = items.iter().map(|i| i.as_str()).collect();
                    let dirs = dirs.ok_or_else(|| invalid("expected strings".into()))?;
                    BaseDirs::from_list(dirs.into_iter()).map_err(invalid)?
                }
                _ => return Err(invalid("expected a string or a list of strings".into())),
            };
            settings.base_dir = Setting {
                value,
                source: from_file(()),
            };
        }
        if let Some(v) = file_cfg.path_remap {
            settings.path_remap = Setting {
                value: v,
                source: from_file(()),
            };
        }
        if let Some(v) = &file_cfg.remote {
            let urls = match v {
                toml::Value::String(s) => s.split_whitespace().map(String::from).collect(),
                toml::Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map(String::from))
                    .collect::<Option<Vec<String>>>()
                    .ok_or_else(|| ConfigError::Invalid {
                        key: "remote".into(),
                        value: "[…]".into(),
                        why: "expected a list of URL strings".into(),
                    })?,
                _ => {
                    return Err(ConfigError::Invalid {
                        key: "remote".into(),
                        value: "…".into(),
                        why: "expected a URL or a list of URLs".into(),
                    })
                }
            };
            settings.remote = Setting {
                value: urls,
                source: from_file(()),
            };
        }
        if let Some(v) = file_cfg.remote_read_only {
            settings.remote_read_only = Setting {
                value: v,
                source: from_file(()),
            };
        }
        if let Some(v) = &file_cfg.remote_key {
            settings.remote_key = Setting {
                value: Some(v.clone()).filter(|k| !k.is_empty()),
                source: from_file(()),
            };
        }
        if let Some(v) = &file_cfg.remote_header {
            settings.remote_header = Setting {
                value: Some(v.clone()).filter(|h| !h.is_empty()),
                source: from_file(()),
            };
        }
        if let Some(v) = file_cfg.remote_timeout {
            settings.remote_timeout_ms = Setting {
                value: v,
                source: from_file(()),
            };
        }
        if let Some(v) = file_cfg.miss_journal {
            settings.miss_journal = Setting {
                value: v,
                source: from_file(()),
            };
        }

        if let Some(text) = env("ZCCACHE_MAXSIZE").filter(|t| !t.is_empty()) {
            settings.max_size = Setting {
                value: parse_size(&text).map_err(|why| ConfigError::Invalid {
                    key: "ZCCACHE_MAXSIZE".into(),
                    value: text.clone(),
                    why,
                })?,
                source: Source::Env("ZCCACHE_MAXSIZE"),
            };
        }
        if let Some(text) = env("ZCCACHE_DISABLE") {
            settings.disable = Setting {
                value: parse_bool("ZCCACHE_DISABLE", &text)?,
                source: Source::Env("ZCCACHE_DISABLE"),
            };
        }
        if let Some(text) = env("ZCCACHE_LOG").filter(|t| !t.is_empty()) {
            settings.log = Setting {
                value: Some(text),
                source: Source::Env("ZCCACHE_LOG"),
            };
        }
        if let Some(text) = env("ZCCACHE_IDLE_TIMEOUT").filter(|t| !t.is_empty()) {
            settings.idle_timeout = Setting {
                value: text.trim().parse().map_err(|_| ConfigError::Invalid {
                    key: "ZCCACHE_IDLE_TIMEOUT".into(),
                    value: text.clone(),
                    why: "expected whole seconds".into(),
                })?,
                source: Source::Env("ZCCACHE_IDLE_TIMEOUT"),
            };
        }
        if let Some(text) = env("ZCCACHE_PREPROCESSOR") {
            settings.preprocessor = Setting {
                value: parse_bool("ZCCACHE_PREPROCESSOR", &text)?,
                source: Source::Env("ZCCACHE_PREPROCESSOR"),
            };
        }
        if let Some(text) = env(RUST_HASH_DIR_ENV) {
            settings.rust_hash_dir = Setting {
                value: parse_bool(RUST_HASH_DIR_ENV, &text)?,
                source: Source::Env(RUST_HASH_DIR_ENV),
            };
        }
        if let Some(text) = env(VERIFY_ENV).filter(|t| !t.is_empty()) {
            settings.verify = Setting {
                value: parse_fraction(VERIFY_ENV, &text)?,
                source: Source::Env(VERIFY_ENV),
            };
        }
        if let Some(text) = env(BASE_DIR_ENV) {
            settings.base_dir = Setting {
                value: BaseDirs::parse(&text).map_err(|why| ConfigError::Invalid {
                    key: BASE_DIR_ENV.into(),
                    value: text.clone(),
                    why,
                })?,
                source: Source::Env(BASE_DIR_ENV),
            };
        }
        if let Some(text) = env(PATH_REMAP_ENV) {
            settings.path_remap = Setting {
                value: parse_bool(PATH_REMAP_ENV, &text)?,
                source: Source::Env(PATH_REMAP_ENV),
            };
        }
        if let Some(text) = env("ZCCACHE_REMOTE") {
            settings.remote = Setting {
                value: text.split_whitespace().map(String::from).collect(),
                source: Source::Env("ZCCACHE_REMOTE"),
            };
        }
        if let Some(text) = env("ZCCACHE_REMOTE_READ_ONLY") {
            settings.remote_read_only = Setting {
                value: parse_bool("ZCCACHE_REMOTE_READ_ONLY", &text)?,
                source: Source::Env("ZCCACHE_REMOTE_READ_ONLY"),
            };
        }
        if let Some(text) = env("ZCCACHE_REMOTE_KEY") {
            settings.remote_key = Setting {
                value: Some(text).filter(|k| !k.is_empty()),
                source: Source::Env("ZCCACHE_REMOTE_KEY"),
            };
        }
        if let Some(text) = env("ZCCACHE_REMOTE_HEADER") {
            settings.remote_header = Setting {
                value: Some(text).filter(|h| !h.is_empty()),
                source: Source::Env("ZCCACHE_REMOTE_HEADER"),
            };
        }
        if let Some(text) = env("ZCCACHE_REMOTE_TIMEOUT").filter(|t| !t.is_empty()) {
            settings.remote_timeout_ms = Setting {
                value: text.trim().parse().map_err(|_| ConfigError::Invalid {
                    key: "ZCCACHE_REMOTE_TIMEOUT".into(),
                    value: text.clone(),
                    why: "expected milliseconds".into(),
                })?,
                source: Source::Env("ZCCACHE_REMOTE_TIMEOUT"),
            };
        }
        if let Some(text) = env("ZCCACHE_MISS_JOURNAL").filter(|t| !t.is_empty()) {
            settings.miss_journal = Setting {
                value: text.trim().parse().map_err(|_| ConfigError::Invalid {
                    key: "ZCCACHE_MISS_JOURNAL".into(),
                    value: text.clone(),
                    why: "expected a number of records (0: keep none)".into(),
                })?,
                source: Source::Env("ZCCACHE_MISS_JOURNAL"),
            };
        }
        Ok(settings)
    }

    /// Lines for `zccache config`: `key = value  (source)`.
    pub fn describe(&self) -> Vec<(String, String, String)> {
        vec![
            (
                "dir".into(),
                self.dir.value.display().to_string(),
                self.dir.source.to_string(),
            ),
            (
                "max_size".into(),
                format!(
                    "{} ({} bytes)",
                    human_bytes(self.max_size.value),
                    self.max_size.value
                ),
                self.max_size.source.to_string(),
            ),
            (
                "disable".into(),
                self.disable.value.to_string(),
                self.disable.source.to_string(),
            ),
            (
                "log".into(),
                self.log.value.clone().unwrap_or_else(|| "off".into()),
                self.log.source.to_string(),
            ),
            (
                "idle_timeout".into(),
                format!("{}s", self.idle_timeout.value),
                self.idle_timeout.source.to_string(),
            ),
            (
                "preprocessor".into(),
                self.preprocessor.value.to_string(),
                self.preprocessor.source.to_string(),
            ),
            (
                "rust_hash_dir".into(),
                self.rust_hash_dir.value.to_string(),
                self.rust_hash_dir.source.to_string(),
            ),
            (
                "verify".into(),
                self.verify.value.to_string(),
                self.verify.source.to_string(),
            ),
            (
                "base_dir".into(),
                self.base_dir.value.describe(),
                self.base_dir.source.to_string(),
            ),
            (
                "remote".into(),
                if self.remote.value.is_empty() {
                    "none".into()
                } else {
                    self.remote
                        .value
                        .iter()
                        .map(|u| crate::store::remote::url::redact(u))
                        .collect::<Vec<_>>()
                        .join(" ")
                },
                self.remote.source.to_string(),
            ),
            (
                "remote_read_only".into(),
                self.remote_read_only.value.to_string(),
                self.remote_read_only.source.to_string(),
            ),
            (
                "remote_key".into(),
                match &self.remote_key.value {
                    Some(_) => "set (hidden)".into(),
                    None => "unset".into(),
                },
                self.remote_key.source.to_string(),
            ),
            (
                "remote_header".into(),
                match &self.remote_header.value {
                    Some(h) => crate::store::remote::url::redact_header(h),
                    None => "unset".into(),
                },
                self.remote_header.source.to_string(),
            ),
            (
                "remote_timeout".into(),
                format!("{}ms", self.remote_timeout_ms.value),
                self.remote_timeout_ms.source.to_string(),
            ),
            (
                "path_remap".into(),
                self.path_remap.value.to_string(),
                self.path_remap.source.to_string(),
            ),
            (
                "miss_journal".into(),
                format!("{} records", self.miss_journal.value),
                self.miss_journal.source.to_string(),
            ),
        ]
    }
}

fn read_first_config(files: &[PathBuf]) -> Result<(FileConfig, Option<PathBuf>), ConfigError> {
    for path in files {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let cfg: FileConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
                    path: path.clone(),
                    source: Box::new(e),
                })?;
                return Ok((cfg, Some(path.clone())));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(ConfigError::Read {
                    path: path.clone(),
                    source: e,
                })
            }
        }
    }
    Ok((FileConfig::default(), None))
}

fn absolute(path: PathBuf) -> PathBuf {
    if path.is_absolute() {
        return path;
    }
    std::env::current_dir()
        .map(|cwd| cwd.join(&path))
        .unwrap_or(path)
}

/// `1.5 GiB`-style rendering.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Layout of the cache directory.
#[derive(Debug, Clone)]
pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub fn new(root: &Path) -> Layout {
        Layout {
            root: root.to_path_buf(),
        }
    }
    pub fn socket(&self) -> PathBuf {
        self.root.join("zccache.sock")
    }
    pub fn daemon_lock(&self) -> PathBuf {
        self.root.join("daemon.lock")
    }
    pub fn spawn_lock(&self) -> PathBuf {
        self.root.join("spawn.lock")
    }
    pub fn pid_file(&self) -> PathBuf {
        self.root.join("daemon.pid")
    }
    pub fn index_db(&self) -> PathBuf {
        self.root.join("index.redb")
    }
    pub fn blobs(&self) -> PathBuf {
        self.root.join("blobs")
    }
    pub fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }
    pub fn log_file(&self) -> PathBuf {
        self.root.join("zccache.log")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10G").unwrap(), 10 << 30);
        assert_eq!(parse_size("500M").unwrap(), 500 << 20);
        assert_eq!(parse_size("1.5GiB").unwrap(), 3 << 29);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("ten").is_err());
    }

    #[test]
    fn env_wins_over_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("zccache.toml"),
            "max_size = \"1G\"\nidle_timeout = 5\n",
        )
        .unwrap();
        let d = dir.path().to_str().unwrap().to_string();
        let env = move |k: &str| match k {
            "ZCCACHE_DIR" => Some(d.clone()),
            "ZCCACHE_MAXSIZE" => Some("2G".into()),
            _ => None,
        };
        let s = Settings::load_from(&env).unwrap();
        assert_eq!(s.max_size.value, 2 << 30);
        assert_eq!(s.max_size.source, Source::Env("ZCCACHE_MAXSIZE"));
        assert_eq!(s.idle_timeout.value, 5);
        assert!(matches!(s.idle_timeout.source, Source::File(_)));
    }
}
