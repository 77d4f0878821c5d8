//! The `Sandbox` trait: one interface, three callers — a run-to-completion command
//! (`clawc sandbox exec`, example runs), a long-lived process speaking a protocol over piped
//! stdio (deployed MCP servers, generators), and callers that read the egress log afterwards.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::egress::EgressEvent;
use crate::policy::Policy;

pub mod fake;
pub(crate) mod output;

/// What to run inside the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxCommand {
    pub program: String,
    pub args: Vec<String>,
    /// Working directory inside the sandbox (default `/tmp`).
    pub cwd: Option<PathBuf>,
    pub stdin: Stdio,
    pub stdout: Stdio,
    pub stderr: Stdio,
}

impl SandboxCommand {
    pub fn new(
        program: impl Into<String>,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            cwd: None,
            stdin: Stdio::Null,
            stdout: Stdio::Piped,
            stderr: Stdio::Piped,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stdio {
    /// Pass the caller's own stream through (`clawc sandbox exec`).
    Inherit,
    /// A pipe the caller reads or writes through [`SandboxChild`].
    Piped,
    Null,
}

/// Which limit ended the run, when one did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    Memory,
    Pids,
    Timeout,
    Output,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
}

impl ExitStatus {
    /// The shell convention: the code, or 128 + signal.
    pub fn as_shell_code(self) -> i32 {
        match self {
            ExitStatus::Code(c) => c,
            ExitStatus::Signal(s) => 128 + s,
        }
    }
}

/// How a sandboxed run ended, and what it tried to do.
#[derive(Debug, Clone, PartialEq)]
pub struct ExitReport {
    pub status: ExitStatus,
    pub killed_by: Option<LimitKind>,
    pub elapsed: Duration,
    /// Every request the egress proxy saw: allowed, denied (host, port, reason), replayed,
    /// unmatched. Empty when the policy grants no network.
    pub egress: Vec<EgressEvent>,
}

impl ExitReport {
    /// What `clawc sandbox exec` exits with: the program's status, 137 when a limit killed it.
    pub fn exit_code(&self) -> i32 {
        if self.killed_by.is_some() {
            137
        } else {
            self.status.as_shell_code()
        }
    }
}

/// A limit the backend could not enforce in this environment (e.g. no writable cgroup as an
/// unprivileged user). Backends report these loudly instead of dropping a limit silently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unenforced {
    pub limit: &'static str,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The sandbox could not be set up (exit 125 at the CLI). The message says how to fix it.
    #[error("sandbox setup failed: {0}")]
    Setup(String),
    #[error("sandbox I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs `work` until `deadline` passes (`Timeout`) or the output budget is exceeded (`Output`),
/// whichever comes first; without either it runs to its end. Both backends wait for their
/// sandbox through this, so a run's two host-side limits end it the same way on each.
pub(crate) async fn until_limit<F: std::future::Future>(
    deadline: Option<tokio::time::Instant>,
    output: Option<&output::OutputBudget>,
    work: F,
) -> Result<F::Output, LimitKind> {
    let timed = async {
        match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, work)
                .await
                .map_err(|_| LimitKind::Timeout),
            None => Ok(work.await),
        }
    };
    match output {
        Some(budget) => tokio::select! {
            ended = timed => ended,
            () = budget.exceeded() => Err(LimitKind::Output),
        },
        None => timed.await,
    }
}

pub type BoxedWrite = Box<dyn AsyncWrite + Send + Unpin>;
pub type BoxedRead = Box<dyn AsyncRead + Send + Unpin>;

/// A running sandboxed program.
#[async_trait]
pub trait SandboxChild: Send {
    /// The program's stdin, when [`Stdio::Piped`]; each can be taken once.
    fn take_stdin(&mut self) -> Option<BoxedWrite>;
    fn take_stdout(&mut self) -> Option<BoxedRead>;
    fn take_stderr(&mut self) -> Option<BoxedRead>;
    /// Limits this run could not enforce (also logged as warnings by the backend).
    fn unenforced(&self) -> &[Unenforced];
    /// Every request the egress proxy has seen so far, while the program runs: a long-lived
    /// server's caller attributes them to its calls in turn. [`ExitReport::egress`] holds them
    /// all at the end; after `wait` this is empty.
    fn egress_so_far(&self) -> Vec<EgressEvent>;
    /// Wait for the end (enforcing the wall timeout), tear everything down — no process of the
    /// sandbox outlives this — and report.
    async fn wait(&mut self) -> Result<ExitReport, SandboxError>;
    /// Kill the whole sandbox now.
    async fn kill(&mut self) -> Result<(), SandboxError>;
}

#[async_trait]
pub trait Sandbox: Send + Sync {
    /// `"native"`, `"docker"`, …
    fn name(&self) -> &'static str;
    /// Start `command` under `policy`. The backend starts the egress proxy itself when the
    /// policy grants network, so every caller gets the same enforcement.
    async fn spawn(
        &self,
        command: SandboxCommand,
        policy: &Policy,
    ) -> Result<Box<dyn SandboxChild>, SandboxError>;
}
