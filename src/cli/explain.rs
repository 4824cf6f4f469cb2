//! `zccache explain <compiler> <args…>`: asks the daemon whether this compile would hit and,
//! if not, why. A dry run: nothing is compiled, written or counted.

use super::ask;
use crate::client::resolve;
use crate::config::Layout;
use crate::ipc::{CompileRequest, ExplainReport, Request, Response, PROTOCOL_VERSION};
use anyhow::{anyhow, bail, Context};

/// Runs `explain` for `command` (compiler then arguments); returns the exit code.
pub fn run(layout: &Layout, command: Vec<String>, json: bool) -> anyhow::Result<i32> {
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let command = resolve::unwrap_stacked(command);
    let Some(first) = command.first() else {
        bail!("usage: zccache explain <compiler> <args…>");
    };
    let compiler = resolve::resolve_compiler(first, &cwd)
        .ok_or_else(|| anyhow!("compiler `{first}` not found on PATH"))?;
    let request = Request::Explain(CompileRequest {
        protocol: PROTOCOL_VERSION,
        cwd: cwd
            .to_str()
            .ok_or_else(|| anyhow!("the current directory is not UTF-8"))?
            .to_string(),
        compiler: compiler
            .to_str()
            .ok_or_else(|| anyhow!("the compiler path is not UTF-8"))?
            .to_string(),
        args: command[1..].to_vec(),
        env: std::env::vars().collect(),
    });
    let report = match ask(layout, &request)? {
        Response::Explained(report) => report,
        other => bail!("unexpected answer {other:?}"),
    };
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(0)
}

/// `hit`, or one `miss: …` / `uncacheable: …` line per cause.
pub fn render(report: &ExplainReport) -> String {
    if report.causes.is_empty() {
        return format!("{}\n", report.result);
    }
    report
        .causes
        .iter()
        .map(|c| format!("{}: {c}\n", report.result))
        .collect()
}
