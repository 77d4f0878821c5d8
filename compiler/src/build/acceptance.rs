//! Acceptance: every example of a spec, run against an artifact's tree in a fresh sandbox with
//! the spec's own policy, the egress proxy replaying that example's fixtures, the tool called
//! over MCP as the gateway will call it, the result checked against the output schema and the
//! expectation, the seeded folders compared after the call.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use claw_runtime::egress::EgressOutcome;
use claw_runtime::policy::{EgressMode, Fixture, Mount, Policy};
use claw_runtime::sandbox::{SandboxCommand, Stdio};
use claw_runtime::Sandbox;
use serde_json::{json, Value};
use spec_lang::ir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::contract::CODE_INSIDE;
use super::scaffold::ENTRY;
use crate::lower::{self, Lifetime, SecretSource};

/// The protocol revision the harness (and the gateway, for stdio servers) speaks.
pub const PROTOCOL_VERSION: &str = "2025-11-25";

/// The time every seeded file and folder carries, so time-sorted results are reproducible.
const SEEDED_MTIME: i64 = 946_684_800; // 2000-01-01T00:00:00Z

/// How much of a failing run's stderr a report keeps (the traceback's end).
const STDERR_TAIL_LINES: usize = 30;

/// Examples run with stand-in secret values: replay never sends them anywhere, and the code
/// must not see them either way (it sees placeholders).
#[derive(Debug, Clone, Copy)]
pub struct ExampleSecrets;

impl SecretSource for ExampleSecrets {
    fn value(&self, integration: &str, secret: &str) -> Option<String> {
        Some(format!("clawc-example-value-{integration}-{secret}"))
    }
    fn hint(&self, _: &str, _: &str) -> String {
        String::new()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExampleResult {
    pub name: String,
    pub tool: String,
    /// `None` when it passed.
    pub failure: Option<String>,
    pub elapsed: Duration,
}

impl ExampleResult {
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// A report of `results` for a person or a model: every failure in full, passes in one line.
pub fn report(results: &[ExampleResult]) -> String {
    let mut text = String::new();
    let failed = results.iter().filter(|r| !r.passed()).count();
    let _ = writeln!(
        text,
        "{} of {} examples passed.",
        results.len() - failed,
        results.len()
    );
    for result in results {
        match &result.failure {
            None => {
                let _ = writeln!(text, "PASS example {:?} ({})", result.name, result.tool);
            }
            Some(failure) => {
                let _ = writeln!(text, "FAIL example {:?} ({})", result.name, result.tool);
                for line in failure.lines() {
                    let _ = writeln!(text, "  {line}");
                }
            }
        }
    }
    text
}

#[derive(Debug, thiserror::Error)]
pub enum AcceptanceError {
    #[error("example {example:?}: {message}")]
    Setup { example: String, message: String },
}

/// Runs every example of `spec` against the tree at `tree` (scaffold and generated code).
pub async fn run_all(
    sandbox: &dyn Sandbox,
    spec: &ir::Integration,
    tree: &Path,
) -> Result<Vec<ExampleResult>, AcceptanceError> {
    let mut results = Vec::with_capacity(spec.examples.len());
    for example in &spec.examples {
        results.push(run_one(sandbox, spec, tree, example).await?);
    }
    Ok(results)
}

/// One example in its own fresh sandbox.
pub async fn run_one(
    sandbox: &dyn Sandbox,
    spec: &ir::Integration,
    tree: &Path,
    example: &ir::Example,
) -> Result<ExampleResult, AcceptanceError> {
    let setup = |message: String| AcceptanceError::Setup {
        example: example.name.clone(),
        message,
    };
    let started = Instant::now();
    let seeded = Seeded::new(spec, example).map_err(|e| setup(format!("seeding mounts: {e}")))?;
    let policy = policy(spec, example, tree, &seeded).map_err(setup)?;
    let mut command = SandboxCommand::new("/usr/bin/python3", ["-I", "-B", &code_path(ENTRY)]);
    command.cwd = Some(PathBuf::from("/tmp"));
    command.stdin = Stdio::Piped;
    command.stdout = Stdio::Piped;
    command.stderr = Stdio::Piped;
    let mut child = sandbox
        .spawn(command, &policy)
        .await
        .map_err(|e| setup(e.to_string()))?;
    let requests = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "clawc-acceptance", "version": env!("CARGO_PKG_VERSION")},
        }}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": example.call.tool,
            "arguments": example.call.args,
        }}),
    ];
    let mut input = String::new();
    for request in &requests {
        input.push_str(&request.to_string());
        input.push('\n');
    }
    let mut stdin = child.take_stdin();
    let mut stdout = child.take_stdout();
    let mut stderr = child.take_stderr();
    let write = async {
        if let Some(stdin) = stdin.as_mut() {
            // A server that exits early closes the pipe; what it printed says why.
            let _ = stdin.write_all(input.as_bytes()).await;
            let _ = stdin.shutdown().await;
        }
        drop(stdin);
    };
    let read_out = read_all(stdout.as_mut());
    let read_err = read_all(stderr.as_mut());
    let ((), out, err) = tokio::join!(write, read_out, read_err);
    let exit = child.wait().await.map_err(|e| setup(e.to_string()))?;

    let mut problems = Vec::new();
    if let Some(limit) = exit.killed_by {
        problems.push(format!("the sandbox was killed: {limit:?} limit reached"));
    }
    for event in &exit.egress {
        let url = format!(
            "{}:{}{}",
            event.host,
            event.port,
            event.path.as_deref().unwrap_or("")
        );
        match &event.outcome {
            EgressOutcome::Unmatched => problems.push(format!(
                "unmatched request: {} {url} (no fixture of this example matches it)",
                event.method
            )),
            EgressOutcome::Denied { reason } => {
                problems.push(format!("refused request: {} {url}: {reason}", event.method))
            }
            _ => {}
        }
    }
    match response(&out, 2) {
        Ok(result) => {
            if let Some(problem) = judge(spec, example, &result) {
                problems.push(problem);
            }
        }
        Err(problem) => problems.push(problem),
    }
    match seeded.compare_after(example) {
        Ok(mismatches) => problems.extend(mismatches),
        Err(e) => problems.push(format!("reading the mounts after the call: {e}")),
    }
    let failure = (!problems.is_empty()).then(|| {
        let mut text = problems.join("\n");
        let tail = stderr_tail(&err);
        if !tail.is_empty() {
            text.push_str("\nstderr:\n");
            text.push_str(&tail);
        }
        text
    });
    Ok(ExampleResult {
        name: example.name.clone(),
        tool: example.call.tool.clone(),
        failure,
        elapsed: started.elapsed(),
    })
}

pub fn code_path(relative: &str) -> String {
    format!("{CODE_INSIDE}/{relative}")
}

/// The spec's own policy for this example: its fixtures replayed, its mounts backed by the
/// seeded folders, the tree mounted read-only.
fn policy(
    spec: &ir::Integration,
    example: &ir::Example,
    tree: &Path,
    seeded: &Seeded,
) -> Result<Policy, String> {
    let config = lower::config_with_defaults(spec, example.config.clone())
        .map_err(|e| format!("config: {e}"))?;
    let mut policy =
        lower::policy(spec, &config, &ExampleSecrets, Lifetime::Run).map_err(|e| e.to_string())?;
    seeded.back(&mut policy);
    policy.mounts.push(Mount {
        source: tree.to_owned(),
        target: PathBuf::from(CODE_INSIDE),
        writable: false,
    });
    if policy.network.is_enabled() {
        policy.network.mode = EgressMode::Replay(fixtures(example));
    }
    Ok(policy)
}

/// The example's HTTP exchanges as the proxy's replay fixtures.
pub fn fixtures(example: &ir::Example) -> Vec<Fixture> {
    example
        .http
        .iter()
        .map(|http| Fixture {
            method: http.method.clone(),
            url: http.url.clone(),
            request_body: http.request.as_ref().map(body_bytes),
            status: http.status,
            content_type: http
                .response
                .as_ref()
                .map(|body| body.content_type().to_owned()),
            body: http.response.as_ref().map(body_bytes).unwrap_or_default(),
        })
        .collect()
}

fn body_bytes(body: &ir::Body) -> Vec<u8> {
    match body {
        ir::Body::Json { value } => value.to_string().into_bytes(),
        ir::Body::Text { text } => text.clone().into_bytes(),
    }
}

async fn read_all(stream: Option<&mut claw_runtime::sandbox::BoxedRead>) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Some(stream) = stream {
        let _ = stream.read_to_end(&mut bytes).await;
    }
    bytes
}

/// The result of the JSON-RPC response with `id`, or why there is none.
fn response(stdout: &[u8], id: u64) -> Result<Value, String> {
    let text = String::from_utf8_lossy(stdout);
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(message) = serde_json::from_str::<Value>(line) else {
            return Err(format!(
                "the server wrote something that is not JSON-RPC: {}",
                shorten(line, 200)
            ));
        };
        if message.get("id") == Some(&json!(id)) {
            if let Some(error) = message.get("error") {
                return Err(format!(
                    "the server answered with a JSON-RPC error: {error}"
                ));
            }
            return message
                .get("result")
                .cloned()
                .ok_or_else(|| "the server's response has no result".to_owned());
        }
    }
    Err("the server gave no answer to tools/call (it crashed or hung; see stderr)".to_owned())
}

/// The text blocks of a `tools/call` result, joined: what an agent reads of it.
pub fn result_text(result: &Value) -> String {
    result
        .get("content")
        .and_then(Value::as_array)
        .map(|blocks| {
            blocks
                .iter()
                .filter_map(|block| block.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// Why `result` does not meet the example's expectation, if it does not.
fn judge(spec: &ir::Integration, example: &ir::Example, result: &Value) -> Option<String> {
    let is_error = result.get("isError").and_then(Value::as_bool) == Some(true);
    let text = result_text(result);
    match &example.expect {
        ir::Expect::Error(wanted) => {
            if !is_error {
                return Some(format!(
                    "expected: a tool error containing {wanted:?}\nactual:   a result {}",
                    shorten(
                        &result
                            .get("structuredContent")
                            .unwrap_or(&Value::Null)
                            .to_string(),
                        2000
                    )
                ));
            }
            (!text.to_lowercase().contains(&wanted.to_lowercase())).then(|| {
                format!(
                    "expected: a tool error containing {wanted:?} (case-insensitive)\nactual:   the tool error {text:?}"
                )
            })
        }
        ir::Expect::Output(wanted) => {
            if is_error {
                return Some(format!(
                    "expected: {}\nactual:   the tool error {text:?}",
                    shorten(&wanted.to_string(), 2000)
                ));
            }
            let Some(actual) = result.get("structuredContent") else {
                return Some("the result has no structuredContent".to_owned());
            };
            if let Some(tool) = spec.tools.get(&example.call.tool) {
                if let Some(problem) = schema_problem(&tool.output, actual) {
                    return Some(format!(
                        "the result does not match the output schema: {problem}\nactual:   {}",
                        shorten(&actual.to_string(), 2000)
                    ));
                }
            }
            (actual != wanted).then(|| {
                format!(
                    "expected: {}\nactual:   {}",
                    shorten(&wanted.to_string(), 2000),
                    shorten(&actual.to_string(), 2000)
                )
            })
        }
    }
}

/// The first few ways `value` breaks `schema`.
pub fn schema_problem(schema: &Value, value: &Value) -> Option<String> {
    let validator = match jsonschema::validator_for(schema) {
        Ok(validator) => validator,
        Err(e) => return Some(format!("the schema itself is invalid: {e}")),
    };
    let problems = lower::schema_problems(&validator, value, 5);
    (!problems.is_empty()).then(|| problems.join("; "))
}

pub fn shorten(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &text[..end], text.len())
}

fn stderr_tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(STDERR_TAIL_LINES);
    lines[start..].join("\n")
}

/// What each mount holds before a run: mount target → relative path → contents.
pub type MountFiles = BTreeMap<String, BTreeMap<String, String>>;

/// A fresh folder behind each of the spec's mounts, seeded from `files ... before`.
pub struct Seeded {
    dirs: BTreeMap<PathBuf, tempfile::TempDir>,
}

impl Seeded {
    fn new(spec: &ir::Integration, example: &ir::Example) -> std::io::Result<Seeded> {
        Seeded::with_files(spec, &example.files_before)
    }

    /// Fresh folders holding `files` (a hardening run seeds every example's files at once).
    pub fn with_files(spec: &ir::Integration, files: &MountFiles) -> std::io::Result<Seeded> {
        let mut dirs = BTreeMap::new();
        for mount in &spec.mounts {
            let dir = tempfile::Builder::new().prefix("clawc-mount-").tempdir()?;
            let mut folders = vec![dir.path().to_owned()];
            if let Some(files) = files.get(&mount.target) {
                for (relative, contents) in files {
                    let path = dir.path().join(relative);
                    if let Some(parent) = path.parent() {
                        std::fs::create_dir_all(parent)?;
                        let mut folder = parent.to_owned();
                        while folder != dir.path() && folder.starts_with(dir.path()) {
                            folders.push(folder.clone());
                            if !folder.pop() {
                                break;
                            }
                        }
                    }
                    std::fs::write(&path, contents)?;
                    let time = filetime::FileTime::from_unix_time(SEEDED_MTIME, 0);
                    filetime::set_file_times(&path, time, time)?;
                }
            }
            // Folders last, deepest first: creating a file changes its folder's mtime.
            folders.sort_by_key(|f| std::cmp::Reverse(f.components().count()));
            folders.dedup();
            let time = filetime::FileTime::from_unix_time(SEEDED_MTIME, 0);
            for folder in folders {
                filetime::set_file_times(&folder, time, time)?;
            }
            // Others in the sandbox (an unprivileged uid map) must be able to write rw mounts.
            dirs.insert(PathBuf::from(&mount.target), dir);
        }
        Ok(Seeded { dirs })
    }

    /// Points each of `policy`'s mounts at its seeded folder.
    pub fn back(&self, policy: &mut Policy) {
        for mount in &mut policy.mounts {
            if let Some(dir) = self.dirs.get(&mount.target) {
                mount.source = dir.path().to_owned();
            }
        }
    }

    /// How each mount named in `files ... after` differs from what it must hold.
    fn compare_after(&self, example: &ir::Example) -> std::io::Result<Vec<String>> {
        let mut problems = Vec::new();
        for (target, wanted) in &example.files_after {
            let Some(dir) = self.dirs.get(Path::new(target)) else {
                continue;
            };
            let mut actual = BTreeMap::new();
            collect(dir.path(), dir.path(), &mut actual)?;
            for (path, contents) in wanted {
                match actual.get(path) {
                    None => problems.push(format!("{target}/{path}: missing after the call")),
                    Some(found) if found != contents => problems.push(format!(
                        "{target}/{path}: expected {:?}\n  actual {:?}",
                        shorten(contents, 500),
                        shorten(found, 500)
                    )),
                    Some(_) => {}
                }
            }
            for path in actual.keys().filter(|p| !wanted.contains_key(*p)) {
                problems.push(format!(
                    "{target}/{path}: present after the call, not expected"
                ));
            }
        }
        Ok(problems)
    }
}

fn collect(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            collect(root, &path, out)?;
        } else {
            let relative = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            let contents = if kind.is_file() {
                String::from_utf8_lossy(&std::fs::read(&path)?).into_owned()
            } else {
                "<not a regular file>".to_owned()
            };
            out.insert(relative, contents);
        }
    }
    Ok(())
}

/// `python3 --version` in a sandbox, for provenance.
pub async fn python_version(sandbox: &dyn Sandbox) -> String {
    let mut command = SandboxCommand::new("/usr/bin/python3", ["--version"]);
    command.stdout = Stdio::Piped;
    command.stderr = Stdio::Null;
    command.stdin = Stdio::Null;
    let Ok(mut child) = sandbox.spawn(command, &Policy::default()).await else {
        return "unknown".to_owned();
    };
    let out = read_all(child.take_stdout().as_mut()).await;
    let _ = child.wait().await;
    let version = String::from_utf8_lossy(&out).trim().to_owned();
    if version.is_empty() {
        "unknown".to_owned()
    } else {
        version
    }
}
