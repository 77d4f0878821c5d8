//! A [`Sandbox`] that runs nothing, for unit tests of its callers (the CLI, the acceptance
//! harness, the gateway): each spawn is recorded with its policy and answered by the next
//! scripted run. It validates the policy exactly as the real backends do, so a caller's test
//! sees the same refusals. Never a substitute for the real backends' own tests.

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{
    BoxedRead, BoxedWrite, ExitReport, ExitStatus, Sandbox, SandboxChild, SandboxCommand,
    SandboxError, Unenforced,
};
use crate::egress::EgressEvent;
use crate::policy::Policy;

/// What one scripted run prints and how it ends.
#[derive(Debug, Clone)]
pub struct FakeRun {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub report: ExitReport,
    pub unenforced: Vec<Unenforced>,
}

impl FakeRun {
    /// A run that printed nothing and exited with `code`.
    pub fn exits(code: i32) -> Self {
        Self {
            stdout: Vec::new(),
            stderr: Vec::new(),
            report: ExitReport {
                status: ExitStatus::Code(code),
                killed_by: None,
                elapsed: std::time::Duration::ZERO,
                egress: Vec::new(),
            },
            unenforced: Vec::new(),
        }
    }
}

#[derive(Debug, Default)]
pub struct FakeSandbox {
    runs: Mutex<VecDeque<FakeRun>>,
    spawned: Mutex<Vec<(SandboxCommand, Policy)>>,
}

impl FakeSandbox {
    /// Answers spawns with `runs`, in order; a spawn past the last one is a setup error.
    pub fn new(runs: impl IntoIterator<Item = FakeRun>) -> Self {
        Self {
            runs: Mutex::new(runs.into_iter().collect()),
            spawned: Mutex::default(),
        }
    }

    /// Every accepted spawn so far, in order.
    pub fn spawned(&self) -> Vec<(SandboxCommand, Policy)> {
        self.spawned
            .lock()
            .map(|spawned| spawned.clone())
            .unwrap_or_default()
    }
}

#[async_trait]
impl Sandbox for FakeSandbox {
    fn name(&self) -> &'static str {
        "fake"
    }

    async fn spawn(
        &self,
        command: SandboxCommand,
        policy: &Policy,
    ) -> Result<Box<dyn SandboxChild>, SandboxError> {
        policy
            .validate()
            .map_err(|err| SandboxError::Setup(format!("policy: {err}")))?;
        let run = self
            .runs
            .lock()
            .ok()
            .and_then(|mut runs| runs.pop_front())
            .ok_or_else(|| {
                SandboxError::Setup("the fake sandbox has no scripted run left".into())
            })?;
        if let Ok(mut spawned) = self.spawned.lock() {
            spawned.push((command, policy.clone()));
        }
        Ok(Box::new(FakeChild {
            stdin: Some(Box::new(tokio::io::sink())),
            stdout: Some(Box::new(std::io::Cursor::new(run.stdout))),
            stderr: Some(Box::new(std::io::Cursor::new(run.stderr))),
            report: run.report,
            unenforced: run.unenforced,
        }))
    }
}

struct FakeChild {
    stdin: Option<BoxedWrite>,
    stdout: Option<BoxedRead>,
    stderr: Option<BoxedRead>,
    report: ExitReport,
    unenforced: Vec<Unenforced>,
}

#[async_trait]
impl SandboxChild for FakeChild {
    fn take_stdin(&mut self) -> Option<BoxedWrite> {
        self.stdin.take()
    }

    fn take_stdout(&mut self) -> Option<BoxedRead> {
        self.stdout.take()
    }

    fn take_stderr(&mut self) -> Option<BoxedRead> {
        self.stderr.take()
    }

    fn unenforced(&self) -> &[Unenforced] {
        &self.unenforced
    }

    /// The scripted report's requests, as if all were made before the first look.
    fn egress_so_far(&self) -> Vec<EgressEvent> {
        self.report.egress.clone()
    }

    async fn wait(&mut self) -> Result<ExitReport, SandboxError> {
        Ok(self.report.clone())
    }

    async fn kill(&mut self) -> Result<(), SandboxError> {
        Ok(())
    }
}
