//! One MCP session with a pinned server in its sandbox: started once, then called again and
//! again over stdio (a fresh sandbox per call would spend most of a run starting sandboxes).
//! Each call has its own deadline and output cap; the requests the server made during a call
//! are read from the proxy as it runs.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use claw_runtime::egress::EgressEvent;
use claw_runtime::policy::Policy;
use claw_runtime::sandbox::{BoxedRead, BoxedWrite, ExitReport, SandboxCommand, Stdio};
use claw_runtime::{Sandbox, SandboxChild, SandboxError};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::task::JoinHandle;

use crate::build::acceptance::{code_path, shorten, PROTOCOL_VERSION};
use crate::build::scaffold::ENTRY;

/// How much of the server's stderr is kept (its end, where a traceback is).
const STDERR_KEPT: usize = 64 << 10;
/// How long a server that was asked to stop (stdin closed) gets before it is killed.
const GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error("the server did not answer `initialize`: {0}")]
    NoInitialize(String),
}

/// Why a call has no answer.
#[derive(Debug)]
pub enum CallError {
    /// The server's stdout ended (the process died) or its stdin closed.
    Died,
    /// No answer by the deadline.
    Hung,
    /// A line that is not a JSON-RPC message, or an answer to another request.
    Protocol(String),
    /// The answer passed the output cap (bytes read so far).
    TooLarge(usize),
}

/// What a call got back: a JSON-RPC result or error object.
#[derive(Debug)]
pub enum Reply {
    Result(Value),
    Error(Value),
}

/// How a session ended.
#[derive(Debug)]
pub struct Ended {
    pub report: Result<ExitReport, SandboxError>,
    /// The end of the server's stderr.
    pub stderr: String,
}

#[derive(Debug, Default)]
struct StderrLog {
    tail: Vec<u8>,
}

pub struct Session {
    child: Box<dyn SandboxChild>,
    stdin: Option<BoxedWrite>,
    stdout: BufReader<BoxedRead>,
    stderr: Arc<Mutex<StderrLog>>,
    stderr_task: JoinHandle<()>,
    next_id: u64,
    /// Proxy events already handed out.
    events_seen: usize,
    /// From spawning the sandbox to the server's answer to `initialize`.
    pub started_in: Duration,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("next_id", &self.next_id)
            .field("started_in", &self.started_in)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Starts the server under `policy` and initialises the session within `timeout`.
    pub async fn start(
        sandbox: &dyn Sandbox,
        policy: &Policy,
        timeout: Duration,
    ) -> Result<Session, StartError> {
        let started = Instant::now();
        let mut command = SandboxCommand::new("/usr/bin/python3", ["-I", "-B", &code_path(ENTRY)]);
        command.cwd = Some(PathBuf::from("/tmp"));
        command.stdin = Stdio::Piped;
        command.stdout = Stdio::Piped;
        command.stderr = Stdio::Piped;
        let mut child = sandbox.spawn(command, policy).await?;
        let missing = || SandboxError::Setup("the sandbox gave no stdio pipes".to_owned());
        let stdin = child.take_stdin().ok_or_else(missing)?;
        let stdout = child.take_stdout().ok_or_else(missing)?;
        let mut stderr = child.take_stderr().ok_or_else(missing)?;
        let log = Arc::new(Mutex::new(StderrLog::default()));
        let sink = Arc::clone(&log);
        let stderr_task = tokio::spawn(async move {
            let mut buffer = vec![0u8; 8192];
            while let Ok(read @ 1..) = stderr.read(&mut buffer).await {
                let mut log = sink.lock().unwrap_or_else(PoisonError::into_inner);
                log.tail.extend_from_slice(&buffer[..read]);
                let excess = log.tail.len().saturating_sub(STDERR_KEPT);
                log.tail.drain(..excess);
            }
        });
        let mut session = Session {
            child,
            stdin: Some(stdin),
            stdout: BufReader::new(stdout),
            stderr: log,
            stderr_task,
            next_id: 1,
            events_seen: 0,
            started_in: Duration::ZERO,
        };
        let initialize = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "clawc-fuzz", "version": env!("CARGO_PKG_VERSION")},
        }});
        let answer = session.exchange(&initialize, 0, timeout, 1 << 20).await;
        if let Err(problem) = answer {
            let why = match problem {
                CallError::Died => "it exited".to_owned(),
                CallError::Hung => format!("no answer within {} ms", timeout.as_millis()),
                CallError::Protocol(line) => line,
                CallError::TooLarge(bytes) => format!("an answer of over {bytes} bytes"),
            };
            let ended = session.end(true).await;
            let stderr = if ended.stderr.is_empty() {
                String::new()
            } else {
                format!("\nstderr:\n{}", ended.stderr)
            };
            return Err(StartError::NoInitialize(format!("{why}{stderr}")));
        }
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        if session.send(&initialized).await.is_err() {
            let ended = session.end(true).await;
            return Err(StartError::NoInitialize(format!(
                "it closed its input after `initialize`\nstderr:\n{}",
                ended.stderr
            )));
        }
        session.started_in = started.elapsed();
        Ok(session)
    }

    /// `tools/call` of `tool` with `arguments`: the answer within `timeout`, of at most
    /// `max_bytes`.
    pub async fn call(
        &mut self,
        tool: &str,
        arguments: &Value,
        timeout: Duration,
        max_bytes: usize,
    ) -> Result<Reply, CallError> {
        let id = self.next_id;
        self.next_id += 1;
        let request = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                             "params": {"name": tool, "arguments": arguments}});
        self.exchange(&request, id, timeout, max_bytes).await
    }

    async fn send(&mut self, message: &Value) -> Result<(), CallError> {
        let mut line = message.to_string().into_bytes();
        line.push(b'\n');
        let stdin = self.stdin.as_mut().ok_or(CallError::Died)?;
        stdin.write_all(&line).await.map_err(|_| CallError::Died)?;
        stdin.flush().await.map_err(|_| CallError::Died)
    }

    async fn exchange(
        &mut self,
        request: &Value,
        id: u64,
        timeout: Duration,
        max_bytes: usize,
    ) -> Result<Reply, CallError> {
        let deadline = tokio::time::Instant::now() + timeout;
        self.send(request).await?;
        loop {
            let line = tokio::time::timeout_at(deadline, read_line(&mut self.stdout, max_bytes))
                .await
                .map_err(|_| CallError::Hung)??;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let text = String::from_utf8_lossy(&line);
            let not_json_rpc = || {
                CallError::Protocol(format!(
                    "the server wrote something that is not JSON-RPC: {}",
                    shorten(&text, 300)
                ))
            };
            let message: Value = serde_json::from_slice(&line).map_err(|_| not_json_rpc())?;
            if message.get("jsonrpc") != Some(&json!("2.0")) {
                return Err(not_json_rpc());
            }
            match message.get("id") {
                // A notification from the server: nothing the harness waits for.
                None if message.get("method").is_some() => continue,
                Some(got) if got == &json!(id) => {}
                _ => {
                    return Err(CallError::Protocol(format!(
                        "an answer to no request of this session: {}",
                        shorten(&text, 300)
                    )))
                }
            }
            if let Some(error) = message.get("error") {
                return Ok(Reply::Error(error.clone()));
            }
            return message
                .get("result")
                .cloned()
                .map(Reply::Result)
                .ok_or_else(|| CallError::Protocol("an answer with no result".to_owned()));
        }
    }

    /// The requests the server made since the last look.
    pub fn new_events(&mut self) -> Vec<EgressEvent> {
        let events = self.child.egress_so_far();
        let fresh = events.get(self.events_seen..).unwrap_or_default().to_vec();
        self.events_seen = self.events_seen.max(events.len());
        fresh
    }

    /// Ends the session: killed at once when `kill` (a hung server), else stdin closed and a
    /// short grace to exit first; every process of the sandbox is gone when this returns.
    /// Requests not handed out yet are in the report.
    pub async fn end(mut self, kill: bool) -> Ended {
        drop(self.stdin.take());
        if kill {
            let _ = self.child.kill().await;
        }
        let report = match tokio::time::timeout(GRACE, self.child.wait()).await {
            Ok(report) => report,
            Err(_) => {
                let _ = self.child.kill().await;
                self.child.wait().await
            }
        };
        // The pipe is closed now that the sandbox is gone; what was written is drained.
        let _ = tokio::time::timeout(GRACE, &mut self.stderr_task).await;
        self.stderr_task.abort();
        let tail = self
            .stderr
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .tail
            .clone();
        let report = report.map(|mut report| {
            report.egress = report
                .egress
                .split_off(self.events_seen.min(report.egress.len()));
            report
        });
        Ended {
            report,
            stderr: stderr_tail(&tail),
        }
    }
}

/// One line of at most `max_bytes` (without its newline).
async fn read_line(
    reader: &mut BufReader<BoxedRead>,
    max_bytes: usize,
) -> Result<Vec<u8>, CallError> {
    let mut line = Vec::new();
    loop {
        let buffer = reader.fill_buf().await.map_err(|_| CallError::Died)?;
        if buffer.is_empty() {
            // End of output, a partial line or none: the server is gone.
            return Err(CallError::Died);
        }
        let (take, done) = match buffer.iter().position(|&b| b == b'\n') {
            Some(at) => (at + 1, true),
            None => (buffer.len(), false),
        };
        line.extend_from_slice(&buffer[..take]);
        reader.consume(take);
        if line.len() > max_bytes.saturating_add(1) {
            return Err(CallError::TooLarge(line.len()));
        }
        if done {
            line.pop();
            return Ok(line);
        }
    }
}

/// The last lines of stderr, for a report.
fn stderr_tail(bytes: &[u8]) -> String {
    const LINES: usize = 30;
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(LINES)..].join("\n")
}
