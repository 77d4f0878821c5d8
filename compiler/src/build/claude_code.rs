//! The `claude-code` generator: the real Claude Code CLI, headless, in a throwaway sandbox.
//!
//! Claude Code's own permission modes are not a boundary (it writes outside its directory when
//! told to), so only the sandbox is: the CLI's package directory read-only, the workspace the
//! one writable mount and the working directory, `HOME` on the sandbox's private `/tmp`, and no
//! network but the runtime's model-API relay. The CLI holds a placeholder key; the relay puts
//! the real credential on outside, so it never enters the sandbox.
//!
//! The CLI reports in stream-json (one JSON message a line): what it does is passed on as
//! progress as it arrives, every message is kept for the transcript, and the final `result`
//! message gives turns, tokens, cost and whether it failed (`is_error`, on any subtype — a
//! failed API call arrives as `subtype: "success"` with `is_error: true`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use claw_runtime::bridge::RELAY_BASE_URL;
use claw_runtime::egress::EgressOutcome;
use claw_runtime::policy::{Limits, ModelApiRelay, Mount, NetworkPolicy, Policy, SecretValue};
use claw_runtime::sandbox::{ExitReport, SandboxCommand, Stdio};
use claw_runtime::Sandbox;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use super::contract::WORKSPACE_INSIDE;
use super::generator::{Attempt, AttemptOutcome, Generator, GeneratorError, Usage};
use super::model_api::{Credential, ModelApi};

/// The Claude Code release this generator is tested with (`scripts/setup.sh` installs it).
pub const CLAUDE_CODE_VERSION: &str = "2.1.332";

/// Names the `claude` executable; else `claude` is looked up on `PATH`.
pub const CLAUDE_ENV: &str = "CLAWC_CLAUDE";

/// Where the CLI's package directory is mounted, read-only.
const PACKAGE_INSIDE: &str = "/opt/claude";

/// The CLI's `HOME`: on the sandbox's private `/tmp`, so it starts empty and vanishes with it.
const HOME_INSIDE: &str = "/tmp/home";

/// What the CLI holds instead of the API key; the relay swaps it for the real credential.
const PLACEHOLDER_KEY: &str = "clawc-model-api-placeholder";

/// The only tools the model gets: reading and editing files. No shell, no web.
const TOOLS: &str = "Read,Write,Edit,Glob,Grep";

/// Turns per attempt when the build sets no `--max-turns`.
const DEFAULT_MAX_TURNS: u32 = 40;

/// An attempt's wall-clock limit: its sandbox is killed when it passes. Claude Code's own API
/// timeout (10 minutes a request) ends a hung request well before this.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// How much of the CLI's stderr a failure report keeps.
const STDERR_TAIL_BYTES: usize = 4096;

/// The install command a missing CLI is reported with.
pub fn install_command() -> String {
    format!("npm install -g @anthropic-ai/claude-code@{CLAUDE_CODE_VERSION}")
}

/// The `claude` executable found on the host, and the directory that goes into the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaudeCli {
    /// With every symlink resolved (npm's `bin/claude` links into the package).
    pub executable: PathBuf,
    /// The npm package directory when the executable sits in its `bin/`, else the
    /// executable's own directory: mounted whole, read-only.
    pub package: PathBuf,
}

impl ClaudeCli {
    /// `$CLAWC_CLAUDE`, else `claude` on `$PATH`.
    pub fn locate() -> Result<ClaudeCli, GeneratorError> {
        Self::locate_from(std::env::var_os(CLAUDE_ENV), std::env::var_os("PATH"))
    }

    fn locate_from(
        named: Option<OsString>,
        path: Option<OsString>,
    ) -> Result<ClaudeCli, GeneratorError> {
        let candidate = match named.filter(|n| !n.is_empty()) {
            Some(named) => {
                let named = PathBuf::from(named);
                if !named.is_file() {
                    return Err(GeneratorError::NotInstalled(format!(
                        "{CLAUDE_ENV}={} is not a file; install Claude Code with `{}` (or run \
                         scripts/setup.sh) and point {CLAUDE_ENV} at its `claude` executable",
                        named.display(),
                        install_command()
                    )));
                }
                named
            }
            None => path
                .iter()
                .flat_map(std::env::split_paths)
                .map(|dir| dir.join("claude"))
                .find(|candidate| candidate.is_file())
                .ok_or_else(|| {
                    GeneratorError::NotInstalled(format!(
                        "the claude-code generator needs the Claude Code CLI: install it with \
                         `{}` (or run scripts/setup.sh and set {CLAUDE_ENV})",
                        install_command()
                    ))
                })?,
        };
        let executable = candidate
            .canonicalize()
            .map_err(|e| GeneratorError::NotInstalled(format!("{}: {e}", candidate.display())))?;
        let dir = executable.parent().unwrap_or(Path::new("/"));
        let package = match dir.parent() {
            Some(root) if dir.ends_with("bin") && root.join("package.json").is_file() => root,
            _ => dir,
        };
        Ok(ClaudeCli {
            package: package.to_owned(),
            executable,
        })
    }

    /// The executable's path inside the sandbox.
    fn inside(&self) -> String {
        let relative = self
            .executable
            .strip_prefix(&self.package)
            .unwrap_or(Path::new("claude"));
        format!("{PACKAGE_INSIDE}/{}", relative.display())
    }
}

pub struct ClaudeCodeGenerator {
    sandbox: Arc<dyn Sandbox>,
    model_api: ModelApi,
    cli: ClaudeCli,
}

impl ClaudeCodeGenerator {
    /// Finds the CLI ([`ClaudeCli::locate`]); every attempt runs in a fresh sandbox of
    /// `sandbox` whose only egress is the relay to `model_api`.
    pub fn new(
        sandbox: Arc<dyn Sandbox>,
        model_api: ModelApi,
    ) -> Result<ClaudeCodeGenerator, GeneratorError> {
        Ok(Self::with_cli(sandbox, model_api, ClaudeCli::locate()?))
    }

    pub fn with_cli(
        sandbox: Arc<dyn Sandbox>,
        model_api: ModelApi,
        cli: ClaudeCli,
    ) -> ClaudeCodeGenerator {
        ClaudeCodeGenerator {
            sandbox,
            model_api,
            cli,
        }
    }

    /// The attempt's sandbox: the package read-only, the workspace the one writable mount,
    /// the model-API relay the one way out.
    fn policy(&self, workspace: &Path) -> Policy {
        let (header_name, header_template) = match &self.model_api.credential {
            Credential::ApiKey(_) => ("x-api-key", "{value}"),
            Credential::Bearer(_) => ("authorization", "Bearer {value}"),
        };
        let env = [
            ("HOME", HOME_INSIDE),
            ("ANTHROPIC_BASE_URL", RELAY_BASE_URL),
            ("ANTHROPIC_API_KEY", PLACEHOLDER_KEY),
            ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
            ("DISABLE_AUTOUPDATER", "1"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
        Policy {
            mounts: vec![
                Mount {
                    source: self.cli.package.clone(),
                    target: PACKAGE_INSIDE.into(),
                    writable: false,
                },
                Mount {
                    source: workspace.to_owned(),
                    target: WORKSPACE_INSIDE.into(),
                    writable: true,
                },
            ],
            network: NetworkPolicy {
                model_api: Some(ModelApiRelay {
                    upstream: self.model_api.base_url.clone(),
                    header_name: header_name.to_owned(),
                    header_template: header_template.to_owned(),
                    value: SecretValue(self.model_api.credential.secret().to_owned()),
                    placeholder: PLACEHOLDER_KEY.to_owned(),
                }),
                ..NetworkPolicy::default()
            },
            env,
            limits: Limits {
                memory_bytes: 1 << 30,
                pids: 256,
                cpu: 1.0,
                tmp_bytes: 64 << 20,
                timeout: Some(ATTEMPT_TIMEOUT),
                // stream-json repeats every file the model writes; this only stops a runaway.
                output_bytes: Some(64 << 20),
            },
        }
    }

    /// `sh` makes the empty `HOME` first (the CLI expects it to exist), then becomes the CLI;
    /// the prompt goes in on stdin, so its length is never bound by the argument limit.
    fn command(&self, attempt: &Attempt<'_>) -> Result<SandboxCommand, GeneratorError> {
        let options = attempt.options;
        let spent = attempt.spent;
        let turns = match options.max_turns {
            Some(max) if spent.turns >= max => {
                return Err(GeneratorError::Budget(format!(
                    "{} of {max} turns already spent",
                    spent.turns
                )))
            }
            Some(max) => max - spent.turns,
            None => DEFAULT_MAX_TURNS,
        };
        let mut args: Vec<String> = vec![
            "-c".into(),
            "mkdir -p \"$HOME\" && exec \"$0\" \"$@\"".into(),
            self.cli.inside(),
            "-p".into(),
            "--output-format".into(),
            "stream-json".into(),
            "--verbose".into(),
            "--model".into(),
            options.model.clone(),
            "--permission-mode".into(),
            "acceptEdits".into(),
            "--tools".into(),
            TOOLS.into(),
            "--allowedTools".into(),
            TOOLS.into(),
            "--strict-mcp-config".into(),
            "--no-session-persistence".into(),
            "--max-turns".into(),
            turns.to_string(),
        ];
        if let Some(budget) = options.budget_usd {
            let left = budget - spent.cost_usd;
            if left <= 0.0 {
                return Err(GeneratorError::Budget(format!(
                    "${:.4} of ${budget:.4} already spent",
                    spent.cost_usd
                )));
            }
            args.extend(["--max-budget-usd".into(), format!("{left:.4}")]);
        }
        let mut command = SandboxCommand::new("sh", args);
        command.cwd = Some(WORKSPACE_INSIDE.into());
        command.stdin = Stdio::Piped;
        command.stdout = Stdio::Piped;
        command.stderr = Stdio::Piped;
        Ok(command)
    }
}

impl std::fmt::Debug for ClaudeCodeGenerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaudeCodeGenerator")
            .field("sandbox", &self.sandbox.name())
            .field("model_api", &self.model_api)
            .field("cli", &self.cli)
            .finish()
    }
}

#[async_trait]
impl Generator for ClaudeCodeGenerator {
    fn name(&self) -> &'static str {
        "claude-code"
    }

    /// `claude --version` on the host, with an empty environment (it only prints).
    async fn version(&self) -> Result<String, GeneratorError> {
        let run = tokio::process::Command::new(&self.cli.executable)
            .arg("--version")
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(Duration::from_secs(30), run)
            .await
            .map_err(|_| GeneratorError::Failed("`claude --version` did not answer".into()))?
            .map_err(|e| {
                GeneratorError::NotInstalled(format!(
                    "{}: {e}; install Claude Code with `{}`",
                    self.cli.executable.display(),
                    install_command()
                ))
            })?;
        let text = String::from_utf8_lossy(&output.stdout);
        // `2.1.332 (Claude Code)`
        match text.split_whitespace().next() {
            Some(version) if output.status.success() => Ok(version.to_owned()),
            _ => Err(GeneratorError::Failed(format!(
                "`claude --version` failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ))),
        }
    }

    async fn attempt(&self, attempt: Attempt<'_>) -> Result<AttemptOutcome, GeneratorError> {
        let command = self.command(&attempt)?;
        let policy = self.policy(attempt.workspace);
        let mut child = self.sandbox.spawn(command, &policy).await?;
        let (stdin, stdout, stderr) =
            (child.take_stdin(), child.take_stdout(), child.take_stderr());
        let (Some(mut stdin), Some(stdout), Some(mut stderr)) = (stdin, stdout, stderr) else {
            let _ = child.kill().await;
            return Err(GeneratorError::Failed(
                "the sandbox did not pipe the CLI's stdio".into(),
            ));
        };
        let prompt = attempt.prompt.as_bytes().to_vec();
        let feed = async move {
            // A CLI that exits before reading all of it reports why on its own.
            let _ = stdin.write_all(&prompt).await;
            drop(stdin);
        };
        let mut stream = StreamJson::new(self.model_api.credential.secret());
        let progress = attempt.progress;
        let read = async {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(message) = stream.line(&line) {
                    progress(&message);
                }
            }
        };
        let mut err_bytes = Vec::new();
        let read_err = stderr.read_to_end(&mut err_bytes);
        let ((), (), _, report) = tokio::join!(feed, read, read_err, child.wait());
        let report = report?;
        let stderr_tail = tail(&String::from_utf8_lossy(&err_bytes), STDERR_TAIL_BYTES);
        stream.finish(
            &report,
            &redact(&stderr_tail, self.model_api.credential.secret()),
        )
    }
}

/// The CLI's stdout, one stream-json message a line, as it arrives.
#[derive(Debug, Default)]
struct StreamJson {
    /// Masked wherever it appears (it never should: the sandbox only has the placeholder).
    secret: String,
    events: Vec<Value>,
    /// The id of the last assistant message: one API response arrives as several messages
    /// (one per content block) sharing it.
    last_message_id: Option<String>,
    turns: u32,
    result: Option<Value>,
}

impl StreamJson {
    fn new(secret: &str) -> StreamJson {
        StreamJson {
            secret: secret.to_owned(),
            ..StreamJson::default()
        }
    }

    /// Keeps the message and returns what to show as progress, if anything.
    fn line(&mut self, line: &str) -> Option<String> {
        let line = redact(line.trim(), &self.secret);
        if line.is_empty() {
            return None;
        }
        let Ok(message) = serde_json::from_str::<Value>(&line) else {
            self.events
                .push(json!({"type": "clawc_unparsed_output", "line": line}));
            return None;
        };
        let shown = self.describe(&message);
        if message["type"] == "result" {
            self.result = Some(message.clone());
        }
        self.events.push(message);
        shown
    }

    fn describe(&mut self, message: &Value) -> Option<String> {
        match message["type"].as_str()? {
            "system" if message["subtype"] == "init" => Some(format!(
                "Claude Code started ({})",
                message["model"].as_str().unwrap_or("model unknown")
            )),
            "assistant" => {
                let id = message["message"]["id"].as_str().map(str::to_owned);
                if id.is_none() || id != self.last_message_id {
                    self.turns += 1;
                    self.last_message_id = id;
                }
                let uses: Vec<String> = message["message"]["content"]
                    .as_array()?
                    .iter()
                    .filter(|block| block["type"] == "tool_use")
                    .map(describe_tool_use)
                    .collect();
                (!uses.is_empty()).then(|| format!("turn {}: {}", self.turns, uses.join(", ")))
            }
            "result" => Some(format!(
                "Claude Code {}: {} after {} turns, ${:.4}",
                if message["is_error"] == Value::Bool(true) {
                    "failed"
                } else {
                    "finished"
                },
                message["subtype"].as_str().unwrap_or("?"),
                message["num_turns"].as_u64().unwrap_or(0),
                message["total_cost_usd"].as_f64().unwrap_or(0.0)
            )),
            _ => None,
        }
    }

    /// The outcome, from the final `result` message and how the sandbox ended.
    fn finish(
        self,
        report: &ExitReport,
        stderr_tail: &str,
    ) -> Result<AttemptOutcome, GeneratorError> {
        let mut events = self.events;
        let denied: Vec<Value> = report
            .egress
            .iter()
            .filter_map(|event| match &event.outcome {
                EgressOutcome::Denied { reason } => Some(json!({
                    "method": event.method, "host": event.host, "port": event.port,
                    "path": event.path, "reason": reason,
                })),
                _ => None,
            })
            .collect();
        if !denied.is_empty() {
            events.push(json!({"type": "clawc_egress_denied", "requests": denied}));
        }
        let Some(result) = self.result else {
            let ended = match report.killed_by {
                Some(limit) => format!("was killed by the sandbox's {limit:?} limit"),
                None => format!("exited with {}", report.exit_code()),
            };
            return Err(GeneratorError::Failed(format!(
                "Claude Code {ended} without a result message; its stderr ends: {stderr_tail}"
            )));
        };
        let usage = usage_of(&result);
        if result["is_error"] != Value::Bool(true) {
            return Ok(AttemptOutcome { events, usage });
        }
        let text = result["result"].as_str().unwrap_or_default();
        let errors: Vec<&str> = result["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .chain((!text.is_empty()).then_some(text))
            .collect();
        let errors = if errors.is_empty() {
            "no error text".to_owned()
        } else {
            errors.join("; ")
        };
        let subtype = result["subtype"].as_str().unwrap_or("?");
        if !result["api_error_status"].is_null() || result["terminal_reason"] == "api_error" {
            // The CLI's text usually names the status already (`API Error: 529 …`).
            let status = result["api_error_status"]
                .as_u64()
                .map(|status| status.to_string())
                .filter(|status| !errors.contains(status.as_str()))
                .map_or_else(String::new, |status| format!("HTTP {status}: "));
            return Err(GeneratorError::ModelApi(format!("{status}{errors}")));
        }
        match subtype {
            "error_max_turns" => Err(GeneratorError::Budget(format!(
                "Claude Code reached its turn limit after {} turns: {errors}",
                usage.turns
            ))),
            "error_max_budget_usd" => Err(GeneratorError::Budget(format!(
                "Claude Code reached its dollar budget (${:.4}): {errors}",
                usage.cost_usd
            ))),
            _ => Err(GeneratorError::Failed(format!(
                "Claude Code reported an error ({subtype}): {errors}"
            ))),
        }
    }
}

/// `Write generated/tools.py`, `Grep "def "`.
fn describe_tool_use(block: &Value) -> String {
    let name = block["name"].as_str().unwrap_or("tool");
    let input = &block["input"];
    let target = ["file_path", "path", "pattern"]
        .into_iter()
        .find_map(|key| input[key].as_str());
    match target {
        Some(target) => {
            let inside = format!("{WORKSPACE_INSIDE}/");
            format!("{name} {}", target.strip_prefix(&inside).unwrap_or(target))
        }
        None => name.to_owned(),
    }
}

/// Turns, tokens (input counts cache writes and reads too: all of it is input) and cost.
fn usage_of(result: &Value) -> Usage {
    let tokens = |key: &str| result["usage"][key].as_u64().unwrap_or(0);
    Usage {
        turns: result["num_turns"]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0),
        input_tokens: tokens("input_tokens")
            + tokens("cache_creation_input_tokens")
            + tokens("cache_read_input_tokens"),
        output_tokens: tokens("output_tokens"),
        cost_usd: result["total_cost_usd"].as_f64().unwrap_or(0.0),
    }
}

fn redact(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        text.to_owned()
    } else {
        text.replace(secret, "<redacted>")
    }
}

fn tail(text: &str, max: usize) -> String {
    let text = text.trim_end();
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::generator::{ExampleRunner, GenerateOptions};
    use claw_runtime::sandbox::fake::{FakeRun, FakeSandbox};
    use claw_runtime::sandbox::ExitStatus;

    /// Lines of a real run (Claude Code 2.1.332 against a scripted Messages API), trimmed to
    /// the fields that matter.
    const SUCCESS: &str = r#"{"type":"system","subtype":"init","cwd":"/workspace","session_id":"s","tools":["Edit","Glob","Grep","Read","Write"],"mcp_servers":[],"model":"claude-sonnet-4-5","permissionMode":"acceptEdits"}
{"type":"assistant","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"tool_use","id":"toolu_1","name":"Write","input":{"file_path":"/workspace/generated/tools.py","content":"def hello():\n    return 1\n"}}],"usage":{"input_tokens":10,"output_tokens":1}},"session_id":"s"}
{"type":"user","message":{"role":"user","content":[{"tool_use_id":"toolu_1","type":"tool_result","content":"File created successfully at: /workspace/generated/tools.py"}]},"session_id":"s"}
{"type":"assistant","message":{"id":"msg_2","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"done"}],"usage":{"input_tokens":10,"output_tokens":1}},"session_id":"s"}
{"type":"result","subtype":"success","is_error":false,"num_turns":2,"result":"done","total_cost_usd":0.00066,"usage":{"input_tokens":20,"cache_creation_input_tokens":5,"cache_read_input_tokens":7,"output_tokens":40},"terminal_reason":"completed","api_error_status":null}
"#;

    /// A failed API call as Claude Code reports it: `subtype: "success"`, `is_error: true`.
    const API_FAILURE: &str = r#"{"type":"assistant","message":{"id":"a6b4","model":"<synthetic>","role":"assistant","content":[{"type":"text","text":"API Error: 500 scripted failure."}]},"error":"server_error","is_api_error_message":true,"api_error_status":500}
{"type":"result","subtype":"success","is_error":true,"num_turns":1,"result":"API Error: 500 scripted failure.","total_cost_usd":0,"usage":{"input_tokens":0,"output_tokens":0},"terminal_reason":"api_error","api_error_status":500,"api_error_type":"api_error"}
"#;

    fn report(code: i32) -> ExitReport {
        ExitReport {
            status: ExitStatus::Code(code),
            killed_by: None,
            elapsed: Duration::from_millis(10),
            egress: Vec::new(),
        }
    }

    fn parse(text: &str) -> (StreamJson, Vec<String>) {
        let mut stream = StreamJson::new("sk-real-key");
        let shown = text.lines().filter_map(|line| stream.line(line)).collect();
        (stream, shown)
    }

    #[test]
    fn a_successful_run_gives_progress_events_and_usage() {
        let (stream, shown) = parse(SUCCESS);
        assert_eq!(
            shown,
            [
                "Claude Code started (claude-sonnet-4-5)",
                "turn 1: Write generated/tools.py",
                "Claude Code finished: success after 2 turns, $0.0007",
            ]
        );
        let outcome = stream.finish(&report(0), "").unwrap();
        assert_eq!(outcome.events.len(), 5);
        assert_eq!(
            outcome.usage,
            Usage {
                turns: 2,
                input_tokens: 32,
                output_tokens: 40,
                cost_usd: 0.00066
            }
        );
    }

    #[test]
    fn is_error_on_a_success_subtype_is_a_failure() {
        let failed = SUCCESS.replace(r#""is_error":false"#, r#""is_error":true"#);
        let (stream, _) = parse(&failed);
        match stream.finish(&report(1), "") {
            Err(GeneratorError::Failed(message)) => {
                assert!(message.contains("(success): done"), "{message}")
            }
            other => panic!("expected a failure, got {other:?}"),
        }
        let (stream, _) = parse(API_FAILURE);
        match stream.finish(&report(1), "") {
            Err(GeneratorError::ModelApi(message)) => {
                assert_eq!(message, "API Error: 500 scripted failure.")
            }
            other => panic!("expected a model API fault, got {other:?}"),
        }
        let turns = SUCCESS.replace(
            r#""subtype":"success","is_error":false"#,
            r#""subtype":"error_max_turns","is_error":true"#,
        );
        assert!(matches!(
            parse(&turns).0.finish(&report(1), ""),
            Err(GeneratorError::Budget(_))
        ));
    }

    #[test]
    fn no_result_message_is_a_failure_naming_how_it_ended_and_the_key_is_masked() {
        let (stream, _) = parse("not json sk-real-key\n");
        assert_eq!(
            stream.events[0]["line"], "not json <redacted>",
            "the real key never reaches the transcript"
        );
        let mut killed = report(137);
        killed.killed_by = Some(claw_runtime::sandbox::LimitKind::Timeout);
        match stream.finish(&killed, "boom") {
            Err(GeneratorError::Failed(message)) => {
                assert!(message.contains("Timeout"), "{message}");
                assert!(message.contains("boom"), "{message}");
            }
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn the_cli_is_found_through_the_environment_or_path_and_named_when_missing() {
        let dir = tempfile::tempdir().unwrap();
        let package = dir.path().join("node_modules/@anthropic-ai/claude-code");
        std::fs::create_dir_all(package.join("bin")).unwrap();
        std::fs::write(package.join("package.json"), "{}").unwrap();
        std::fs::write(package.join("bin/claude.exe"), "").unwrap();
        let links = dir.path().join("links");
        std::fs::create_dir(&links).unwrap();
        std::os::unix::fs::symlink(package.join("bin/claude.exe"), links.join("claude")).unwrap();

        let via_path = ClaudeCli::locate_from(None, Some(links.clone().into())).unwrap();
        let package = package.canonicalize().unwrap();
        assert_eq!(via_path.package, package);
        assert_eq!(via_path.inside(), "/opt/claude/bin/claude.exe");
        let named = ClaudeCli::locate_from(Some(links.join("claude").into()), None).unwrap();
        assert_eq!(named, via_path);

        for missing in [
            ClaudeCli::locate_from(None, Some(dir.path().into())),
            ClaudeCli::locate_from(Some(dir.path().join("nope").into()), None),
        ] {
            match missing {
                Err(GeneratorError::NotInstalled(message)) => assert!(
                    message.contains(&format!("@anthropic-ai/claude-code@{CLAUDE_CODE_VERSION}")),
                    "{message}"
                ),
                other => panic!("expected NotInstalled, got {other:?}"),
            }
        }
    }

    #[test]
    fn the_sandbox_gets_the_workspace_writable_and_only_the_relay_for_network() {
        let cli = ClaudeCli {
            executable: "/pkg/bin/claude.exe".into(),
            package: "/pkg".into(),
        };
        let api = ModelApi {
            base_url: "https://api.example.com".into(),
            credential: Credential::Bearer("tok-real".into()),
        };
        let mut run = FakeRun::exits(0);
        run.stdout = SUCCESS.as_bytes().to_vec();
        let sandbox = Arc::new(FakeSandbox::new([run]));
        let generator = ClaudeCodeGenerator::with_cli(sandbox.clone(), api, cli);
        let policy = generator.policy(Path::new("/host/ws"));
        assert_eq!(policy.validate(), Ok(()));
        let writable: Vec<_> = policy.mounts.iter().filter(|m| m.writable).collect();
        assert_eq!(writable.len(), 1);
        assert_eq!(writable[0].source, Path::new("/host/ws"));
        assert_eq!(writable[0].target, Path::new(WORKSPACE_INSIDE));
        assert!(policy.network.allow.is_empty() && policy.network.secrets.is_empty());
        let relay = policy.network.model_api.as_ref().unwrap();
        assert_eq!(relay.header_name, "authorization");
        assert_eq!(relay.header_template, "Bearer {value}");
        assert_eq!(policy.env["ANTHROPIC_BASE_URL"], RELAY_BASE_URL);
        assert_eq!(policy.env["ANTHROPIC_API_KEY"], PLACEHOLDER_KEY);
        assert!(!policy.env.values().any(|v| v.contains("tok-real")));
        assert!(!format!("{generator:?}").contains("tok-real"));

        let options = GenerateOptions {
            model: "claude-test".into(),
            max_turns: Some(10),
            budget_usd: Some(1.0),
        };
        let shown = std::sync::Mutex::new(Vec::new());
        let progress = |line: &str| shown.lock().unwrap().push(line.to_owned());
        let attempt = Attempt {
            integration: "demo",
            number: 2,
            prompt: "write it",
            workspace: Path::new("/host/ws"),
            options: &options,
            spent: Usage {
                turns: 4,
                cost_usd: 0.25,
                ..Usage::default()
            },
            examples: &NoExamples,
            progress: &progress,
        };
        let outcome = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(generator.attempt(attempt))
            .unwrap();
        assert_eq!(outcome.usage.turns, 2);
        assert_eq!(shown.lock().unwrap().len(), 3);
        let (command, used) = sandbox.spawned().pop().unwrap();
        assert_eq!(used, policy);
        assert_eq!(command.cwd.as_deref(), Some(Path::new(WORKSPACE_INSIDE)));
        let args = command.args.join(" ");
        for expected in [
            "/opt/claude/bin/claude.exe -p --output-format stream-json --verbose",
            "--model claude-test",
            "--permission-mode acceptEdits",
            "--allowedTools Read,Write,Edit,Glob,Grep",
            "--max-turns 6",
            "--max-budget-usd 0.7500",
        ] {
            assert!(args.contains(expected), "{expected} in {args}");
        }
        assert!(!args.contains("write it"), "the prompt goes in on stdin");
    }

    struct NoExamples;

    #[async_trait]
    impl ExampleRunner for NoExamples {
        async fn run(&self, _: &Path) -> String {
            String::new()
        }
    }
}
