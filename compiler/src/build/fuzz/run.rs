//! Running one integration's hardening run: per tool, its generated inputs checked against the
//! input schema (the gateway's boundary: what it refuses is never sent), the rest sent one
//! after another to one server session in the spec's own sandbox, a new session only after a
//! crash or a hang. The proxy replays every example's fixtures and answers anything else with
//! a 404 or a 500, as an upstream that knows nothing of the request would.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use claw_runtime::egress::{EgressEvent, EgressOutcome};
use claw_runtime::policy::{EgressMode, FallbackResponse, HostPattern, Mount};
use claw_runtime::sandbox::{ExitReport, ExitStatus};
use claw_runtime::Sandbox;
use serde_json::Value;
use spec_lang::ir;

use super::inputs::{self, Case, Hints, Kind};
use super::judge::{judge, FailureKind, Verdict};
use super::rng::Rng;
use super::session::{CallError, Reply, Session, StartError};
use crate::build::acceptance::{self, ExampleSecrets, MountFiles, Seeded};
use crate::build::contract::CODE_INSIDE;
use crate::lower::{self, Lifetime};

/// How long a server gets to answer `initialize` (Python's start in a cold sandbox).
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// What a run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Inputs sent per tool (fewer when the schema has fewer distinct ones).
    pub count: usize,
    pub seed: u64,
}

/// One pinned artifact to harden.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub name: &'a str,
    pub spec: &'a ir::Integration,
    /// The pinned tree (`golden/<name>/`), already checked against its lock entry.
    pub tree: &'a Path,
}

/// One call that failed, with what reproduces it.
#[derive(Debug, Clone)]
pub struct Failure {
    pub tool: String,
    /// The case's index in the tool's generated list (the same for the same seed and count).
    pub index: usize,
    pub case: Case,
    pub kind: FailureKind,
    /// What happened; the first line is the headline, the rest (stderr) detail.
    pub detail: String,
}

#[derive(Debug, Clone, Default)]
pub struct ToolReport {
    pub tool: String,
    /// Inputs sent, and how many of them were boundary values.
    pub sent: usize,
    pub boundary: usize,
    /// Generated inputs the input schema refuses: never sent.
    pub refused: usize,
    pub results: usize,
    pub tool_errors: usize,
    /// Sessions started (1, plus one per crash or hang), and the time spent starting them.
    pub sessions: usize,
    pub start_time: Duration,
    pub elapsed: Duration,
    pub failures: Vec<Failure>,
    /// Why the server could not be started at all.
    pub start_failure: Option<String>,
}

impl ToolReport {
    pub fn passed(&self) -> bool {
        self.failures.is_empty() && self.start_failure.is_none()
    }
}

#[derive(Debug, Clone)]
pub struct Report {
    pub integration: String,
    pub tools: Vec<ToolReport>,
}

#[derive(Debug, thiserror::Error)]
pub enum FuzzError {
    #[error("{integration}: {message}")]
    Setup {
        integration: String,
        message: String,
    },
}

/// Every tool of `target`, in name order.
pub async fn run(
    sandbox: &dyn Sandbox,
    target: Target<'_>,
    options: Options,
) -> Result<Report, FuzzError> {
    let setup = |message: String| FuzzError::Setup {
        integration: target.name.to_owned(),
        message,
    };
    let spec = target.spec;
    let config = spec
        .examples
        .first()
        .map_or_else(|| Value::Object(Default::default()), |e| e.config.clone());
    let config =
        lower::config_with_defaults(spec, config).map_err(|e| setup(format!("config: {e}")))?;
    let mut files = MountFiles::new();
    let mut fixtures = Vec::new();
    for example in &spec.examples {
        for (mount, seeded) in &example.files_before {
            files
                .entry(mount.clone())
                .or_default()
                .extend(seeded.iter().map(|(p, c)| (p.clone(), c.clone())));
        }
        fixtures.extend(acceptance::fixtures(example));
    }
    let base = Base {
        sandbox,
        spec,
        tree: target.tree,
        config,
        files,
        fixtures,
    };
    let mut tools = Vec::new();
    for (name, tool) in &spec.tools {
        let hints = Hints {
            hosts: spec.network.iter().map(|n| n.host.clone()).collect(),
            examples: spec
                .examples
                .iter()
                .filter(|e| &e.call.tool == name)
                .map(|e| e.call.args.clone())
                .collect(),
        };
        let rng = Rng::for_stream(options.seed, &format!("{}/{name}", target.name));
        let cases = inputs::generate(&tool.input, &hints, rng, options.count);
        tools.push(run_tool(&base, name, tool, &cases).await.map_err(setup)?);
    }
    Ok(Report {
        integration: target.name.to_owned(),
        tools,
    })
}

/// What every session of one integration shares.
struct Base<'a> {
    sandbox: &'a dyn Sandbox,
    spec: &'a ir::Integration,
    tree: &'a Path,
    config: Value,
    files: MountFiles,
    fixtures: Vec<claw_runtime::policy::Fixture>,
}

impl Base<'_> {
    /// A new session with fresh seeded mounts (which must outlive it).
    async fn start(&self) -> Result<Result<(Session, Seeded), StartError>, String> {
        let seeded = Seeded::with_files(self.spec, &self.files)
            .map_err(|e| format!("seeding mounts: {e}"))?;
        let mut policy = lower::policy(self.spec, &self.config, &ExampleSecrets, Lifetime::Server)
            .map_err(|e| e.to_string())?;
        seeded.back(&mut policy);
        policy.mounts.push(Mount {
            source: self.tree.to_owned(),
            target: PathBuf::from(CODE_INSIDE),
            writable: false,
        });
        if policy.network.is_enabled() {
            policy.network.mode = EgressMode::ReplayWithFallback {
                fixtures: self.fixtures.clone(),
                fallback: fallback(),
            };
        }
        Ok(Session::start(self.sandbox, &policy, START_TIMEOUT)
            .await
            .map(|session| (session, seeded)))
    }
}

/// What answers a request no example recorded: a JSON 404 and a plain-text 500, in turn.
fn fallback() -> Vec<FallbackResponse> {
    vec![
        FallbackResponse {
            status: 404,
            content_type: Some("application/json".to_owned()),
            body: br#"{"message":"Not Found","error":"not_found"}"#.to_vec(),
        },
        FallbackResponse {
            status: 500,
            content_type: Some("text/plain; charset=utf-8".to_owned()),
            body: b"Internal Server Error".to_vec(),
        },
    ]
}

async fn run_tool(
    base: &Base<'_>,
    name: &str,
    tool: &ir::Tool,
    cases: &[Case],
) -> Result<ToolReport, String> {
    let started = Instant::now();
    let schema = |which: &str, schema: &Value| {
        jsonschema::validator_for(schema).map_err(|e| format!("{name}: the {which} schema: {e}"))
    };
    let input = schema("input", &tool.input)?;
    let output = schema("output", &tool.output)?;
    let timeout = Duration::from_millis(tool.timeout_ms);
    let cap = usize::try_from(base.spec.limits.output_bytes).unwrap_or(usize::MAX);
    let declared: Vec<String> = base.spec.mounts.iter().map(|m| m.target.clone()).collect();
    let allow: Vec<HostPattern> = base
        .spec
        .network
        .iter()
        .map(|endpoint| HostPattern {
            host: endpoint.host.clone(),
            port: endpoint.port,
        })
        .collect();
    let mut report = ToolReport {
        tool: name.to_owned(),
        ..ToolReport::default()
    };
    let mut session: Option<(Session, Seeded)> = None;
    let mut last_sent = None;
    for (index, case) in cases.iter().enumerate() {
        // The gateway's boundary: what its validator refuses never reaches the tool.
        if !input.is_valid(&case.value) {
            report.refused += 1;
            continue;
        }
        if session.is_none() {
            match base.start().await? {
                Ok(started) => {
                    report.sessions += 1;
                    report.start_time += started.0.started_in;
                    session = Some(started);
                }
                Err(e) => {
                    report.start_failure = Some(e.to_string());
                    break;
                }
            }
        }
        let Some((live, _)) = session.as_mut() else {
            break;
        };
        report.sent += 1;
        if case.kind == Kind::Boundary {
            report.boundary += 1;
        }
        last_sent = Some(index);
        let text = case.value.to_string();
        let mut found: Vec<(FailureKind, String)> = Vec::new();
        let mut end = None;
        match live.call(name, &case.value, timeout, cap).await {
            Ok(Reply::Result(result)) => {
                // `-v` shows every call: what a run exercised, not only what failed.
                tracing::info!(
                    tool = name,
                    index,
                    input = %acceptance::shorten(&text, 300),
                    answer = %acceptance::shorten(&result.to_string(), 300),
                    "hardening call"
                );
                match judge(&result, &output, &text, &declared) {
                    Verdict::Result => report.results += 1,
                    Verdict::ToolError => report.tool_errors += 1,
                    Verdict::Fail(kind, detail) => found.push((kind, detail)),
                }
            }
            Ok(Reply::Error(error)) => found.push((
                FailureKind::Protocol,
                format!("a JSON-RPC error for arguments the input schema accepts: {error}"),
            )),
            Err(CallError::Died) => end = Some(Ending::Died),
            Err(CallError::Hung) => end = Some(Ending::Hung(timeout)),
            Err(CallError::Protocol(detail)) => {
                found.push((FailureKind::Protocol, detail));
                end = Some(Ending::Dropped);
            }
            Err(CallError::TooLarge(bytes)) => {
                found.push((
                    FailureKind::Output,
                    format!(
                        "an answer of over {bytes} bytes; the spec's output limit is {cap} bytes"
                    ),
                ));
                end = Some(Ending::Dropped);
            }
        }
        found.extend(denied(&live.new_events(), &text, &allow));
        if let Some(ending) = end {
            if let Some((ended_session, _seeded)) = session.take() {
                let ended = ended_session.end(ending != Ending::Died).await;
                match (&ending, &ended.report) {
                    (Ending::Died, report) => found.insert(0, (FailureKind::Crash, died(report.as_ref().ok(), &ended.stderr))),
                    (Ending::Hung(timeout), _) => found.insert(
                        0,
                        (
                            FailureKind::Hang,
                            with_stderr(
                                format!(
                                    "no answer within {} ms (the tool's timeout); the sandbox was killed",
                                    timeout.as_millis()
                                ),
                                &ended.stderr,
                            ),
                        ),
                    ),
                    (Ending::Dropped, _) => {}
                }
                if let Ok(exit) = &ended.report {
                    found.extend(denied(&exit.egress, &text, &allow));
                }
            }
        }
        for (kind, detail) in found {
            report.failures.push(Failure {
                tool: name.to_owned(),
                index,
                case: case.clone(),
                kind,
                detail,
            });
        }
    }
    if let Some((live, _seeded)) = session.take() {
        let ended = live.end(false).await;
        // Requests made after the last answer belong to the last call.
        if let (Ok(exit), Some(index)) = (&ended.report, last_sent) {
            let text = cases[index].value.to_string();
            for (kind, detail) in denied(&exit.egress, &text, &allow) {
                report.failures.push(Failure {
                    tool: name.to_owned(),
                    index,
                    case: cases[index].clone(),
                    kind,
                    detail,
                });
            }
        }
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Why a session is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Died,
    Hung(Duration),
    /// Ended by the harness after a protocol break.
    Dropped,
}

/// Every refused request, worded, but those to a host outside the allowlist that the input
/// itself named (a feed reader given a URL elsewhere): the proxy refusing those is the spec's
/// design, and the call must still end in a clean tool error, which is judged on its own.
fn denied(
    events: &[EgressEvent],
    input: &str,
    allow: &[HostPattern],
) -> Vec<(FailureKind, String)> {
    events
        .iter()
        .filter_map(|event| match &event.outcome {
            EgressOutcome::Denied { .. }
                if input.contains(event.host.as_str())
                    && !allow.iter().any(|p| p.allows(&event.host, event.port)) =>
            {
                None
            }
            EgressOutcome::Denied { reason } => Some((
                FailureKind::Denied,
                format!(
                    "{} {}:{}{}: {reason}",
                    event.method,
                    event.host,
                    event.port,
                    event.path.as_deref().unwrap_or("")
                ),
            )),
            _ => None,
        })
        .collect()
}

fn died(report: Option<&ExitReport>, stderr: &str) -> String {
    let how = match report {
        Some(ExitReport {
            killed_by: Some(limit),
            ..
        }) => format!("the server was killed: its {limit:?} limit was reached"),
        Some(ExitReport {
            status: ExitStatus::Code(code),
            ..
        }) => format!("the server exited with status {code}"),
        Some(ExitReport {
            status: ExitStatus::Signal(signal),
            ..
        }) => format!("the server was killed by signal {signal}"),
        None => "the server's output ended".to_owned(),
    };
    with_stderr(how, stderr)
}

fn with_stderr(headline: String, stderr: &str) -> String {
    if stderr.trim().is_empty() {
        headline
    } else {
        format!("{headline}\nstderr:\n{stderr}")
    }
}
