//! `--fuzz N [--seed S]` of `clawc test` and `clawc verify`: the hardening run over pins that
//! have already been verified against `claw.lock` (see `docs/hardening.md`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use claw_runtime::Sandbox;

use super::{error, note, plural, print_stdout};
use crate::build::fuzz::report::{self, failure_text, tool_line};
use crate::build::fuzz::rng::Rng;
use crate::build::fuzz::run::{self, Options, Report, Target};
use crate::build::plan::Loaded;
use crate::build::project::Project;
use crate::cli::Global;

/// `--seed`, or a fresh one (printed with every report, so any run can be repeated).
pub(super) fn seed(given: Option<u64>) -> u64 {
    given.unwrap_or_else(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Rng::new(nanos ^ (u64::from(std::process::id()) << 32)).next_u64()
    })
}

/// One problem of `verify`: the file it is in, and what it is.
pub(super) struct Found {
    pub file: String,
    pub message: String,
}

async fn run_all(
    sandbox: &dyn Sandbox,
    project: &Project,
    pins: &[(String, Loaded)],
    options: Options,
    global: &Global,
) -> (Vec<Report>, Vec<Found>) {
    note(
        global,
        format!(
            "hardening run: {} inputs per tool, seed {} (repeat with --seed {})",
            options.count, options.seed, options.seed
        ),
    );
    let mut reports = Vec::new();
    let mut errors = Vec::new();
    for (name, loaded) in pins {
        let tree = project.tree(name);
        let target = Target {
            name,
            spec: &loaded.ir,
            tree: &tree,
        };
        match run::run(sandbox, target, options).await {
            Ok(report) => reports.push(report),
            Err(e) => errors.push(Found {
                file: format!("golden/{name}"),
                message: format!("hardening run: {e}"),
            }),
        }
    }
    (reports, errors)
}

/// `clawc test --fuzz`: a line per tool and every failure on stdout; false when anything failed.
pub(super) async fn test(
    sandbox: &dyn Sandbox,
    project: &Project,
    pins: &[(String, Loaded)],
    options: Options,
    global: &Global,
) -> bool {
    let (reports, errors) = run_all(sandbox, project, pins, options, global).await;
    let mut passed = errors.is_empty();
    for report in &reports {
        for tool in &report.tools {
            passed &= tool.passed();
            print_stdout(&format!("{}\n", tool_line(&report.integration, tool)));
        }
        for failure in report::failures(report) {
            print_stdout(&failure_text(
                &report.integration,
                failure,
                options.seed,
                options.count,
            ));
        }
    }
    for found in &errors {
        error(format!("{}: {}", found.file, found.message));
    }
    note(global, totals(&reports));
    passed
}

/// `clawc verify --fuzz`: every failure (and every tool whose server did not start) as a
/// problem in the pinned code; the per-tool lines on stderr.
pub(super) async fn verify(
    sandbox: &dyn Sandbox,
    project: &Project,
    pins: &[(String, Loaded)],
    options: Options,
    global: &Global,
) -> Vec<Found> {
    let (reports, mut found) = run_all(sandbox, project, pins, options, global).await;
    for report in &reports {
        let file = format!("golden/{}/generated/tools.py", report.integration);
        for tool in &report.tools {
            note(global, tool_line(&report.integration, tool));
            if let Some(why) = &tool.start_failure {
                found.push(Found {
                    file: file.clone(),
                    message: format!(
                        "hardening run: {}/{}: the server did not start: {why}",
                        report.integration, tool.tool
                    ),
                });
            }
        }
        for failure in report::failures(report) {
            found.push(Found {
                file: file.clone(),
                message: failure_text(&report.integration, failure, options.seed, options.count)
                    .trim_end()
                    .to_owned(),
            });
        }
    }
    note(global, totals(&reports));
    found
}

/// `hardening run: 24 tools, 3120 calls, 9 failures; 26 sandbox starts took 1.9 s of 40.2 s`
fn totals(reports: &[Report]) -> String {
    let tools = reports.iter().flat_map(|r| &r.tools);
    let (mut count, mut calls, mut failures, mut starts) = (0, 0, 0, 0);
    let (mut start_time, mut elapsed) = (Duration::ZERO, Duration::ZERO);
    for tool in tools {
        count += 1;
        calls += tool.sent;
        failures += tool.failures.len() + usize::from(tool.start_failure.is_some());
        starts += tool.sessions;
        start_time += tool.start_time;
        elapsed += tool.elapsed;
    }
    format!(
        "hardening run: {}, {}, {}; {} took {:.2}s of {:.2}s",
        plural(count, "tool"),
        plural(calls, "call"),
        plural(failures, "failure"),
        plural(starts, "sandbox start"),
        start_time.as_secs_f64(),
        elapsed.as_secs_f64()
    )
}
