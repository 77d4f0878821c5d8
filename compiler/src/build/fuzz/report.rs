//! How a hardening run reads: a line per tool, and per failure the input that caused it, the
//! seed and index that regenerate it, and the command that reproduces it.

use std::fmt::Write as _;

use super::run::{Failure, Report, ToolReport};
use crate::build::acceptance::shorten;

/// Inputs longer than this are shown cut (the reproduce line regenerates them in full).
const SHOWN_INPUT: usize = 2000;

/// `PASS weather/find_place: 200 calls (41 boundary), 50 invalid refused by the schema, …`
pub fn tool_line(integration: &str, tool: &ToolReport) -> String {
    let verdict = if tool.passed() { "PASS" } else { "FAIL" };
    let mut line = format!(
        "{verdict} {integration}/{}: {} calls ({} boundary), {} invalid inputs refused by the \
         input schema, {} results, {} tool errors, {} failures, {} sandbox starts ({:.2}s)",
        tool.tool,
        tool.sent,
        tool.boundary,
        tool.refused,
        tool.results,
        tool.tool_errors,
        tool.failures.len(),
        tool.sessions,
        tool.elapsed.as_secs_f64()
    );
    if let Some(why) = &tool.start_failure {
        let _ = write!(line, "; the server did not start: {why}");
    }
    line
}

/// `FUZZ FAIL github_issues/create_issue #17 (seed 42): crashed: … input {"title":""}`, the
/// detail indented below, then the command that reproduces it.
pub fn failure_text(integration: &str, failure: &Failure, seed: u64, count: usize) -> String {
    let mut lines = failure.detail.lines();
    let headline = lines.next().unwrap_or("");
    let mut text = format!(
        "FUZZ FAIL {integration}/{} #{} (seed {seed}): {}: {headline} input {}\n",
        failure.tool,
        failure.index,
        failure.kind.name(),
        shorten(&failure.case.value.to_string(), SHOWN_INPUT)
    );
    let _ = writeln!(
        text,
        "    the input: {} ({})",
        failure.case.kind.name(),
        failure.case.label
    );
    for line in lines {
        let _ = writeln!(text, "    {line}");
    }
    let _ = writeln!(
        text,
        "    reproduce: {}",
        reproduce(integration, seed, count)
    );
    text
}

pub fn reproduce(integration: &str, seed: u64, count: usize) -> String {
    format!("clawc test --fuzz {count} --seed {seed} {integration}")
}

/// Every failure of `report`, in tool order.
pub fn failures(report: &Report) -> impl Iterator<Item = &Failure> {
    report.tools.iter().flat_map(|tool| &tool.failures)
}
