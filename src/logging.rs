//! Logging: quiet by default; `ZCCACHE_LOG=<filter>` appends to `zccache.log` in the cache
//! dir (never to the build's stderr).

use crate::config::{Layout, Settings};
use std::sync::Mutex;

/// Installs a file logger when a log filter is set. `role` tags each line (client/daemon).
pub fn init_file(settings: &Settings, layout: &Layout, role: &'static str) {
    let Some(filter) = settings.log.value.as_deref() else {
        return;
    };
    let Ok(filter) = tracing_subscriber::EnvFilter::try_new(filter) else {
        return;
    };
    if crate::daemon::ensure_private_dir(layout).is_err() {
        return;
    }
    let Ok(file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(layout.log_file())
    else {
        return;
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .with_target(false)
        .with_thread_names(true)
        .try_init();
    tracing::debug!("{role} {} started", std::process::id());
}
