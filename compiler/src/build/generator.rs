//! The generator: whatever writes a candidate implementation into a workspace, behind one trait
//! so that the build drives the real Claude Code CLI, the Messages API loop, the offline replay
//! of a recorded transcript and test fakes the same way.

use std::path::Path;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What every attempt of every build may spend, and with which model.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub model: String,
    /// Model turns per build (all attempts together); `None` leaves it to the generator.
    pub max_turns: Option<u32>,
    /// Dollars per build (all attempts together); `None`: unbounded.
    pub budget_usd: Option<f64>,
}

/// The model this build uses when `--model` is not given.
pub const DEFAULT_MODEL: &str = "claude-sonnet-4-5";

/// One attempt's work order.
pub struct Attempt<'a> {
    pub integration: &'a str,
    /// 1-based.
    pub number: u32,
    /// The rendered prompt: the spec, the contract and, on a retry, the previous failures.
    pub prompt: &'a str,
    /// The host directory the candidate is written in (the scaffold is already there). The
    /// build takes only the declared output paths from it, through intake.
    pub workspace: &'a Path,
    pub options: &'a GenerateOptions,
    /// What earlier attempts of this build already spent (budgets cover the whole build).
    pub spent: Usage,
    /// Runs the spec's examples against the workspace as it is now, for generators whose model
    /// asks to run them (the Messages API loop's `run_examples` tool).
    pub examples: &'a dyn ExampleRunner,
    /// One-line progress reports (shown on the build's progress bar).
    pub progress: &'a (dyn Fn(&str) + Sync),
}

impl std::fmt::Debug for Attempt<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attempt")
            .field("integration", &self.integration)
            .field("number", &self.number)
            .field("workspace", &self.workspace)
            .finish_non_exhaustive()
    }
}

#[async_trait]
pub trait ExampleRunner: Send + Sync {
    /// The examples' results against the candidate now in `workspace`, as a report for a model
    /// (which example failed, expected vs actual, the unmatched request, the traceback).
    async fn run(&self, workspace: &Path) -> String;
}

/// What one attempt cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub turns: u32,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
}

impl Usage {
    pub fn add(self, other: Usage) -> Usage {
        Usage {
            turns: self.turns + other.turns,
            input_tokens: self.input_tokens + other.input_tokens,
            output_tokens: self.output_tokens + other.output_tokens,
            cost_usd: self.cost_usd + other.cost_usd,
        }
    }
}

/// What an attempt reports besides the files it left in the workspace.
#[derive(Debug, Clone, Default)]
pub struct AttemptOutcome {
    /// The generator's own record of the attempt (stream-json messages, API exchanges), kept
    /// verbatim in the transcript for reviewers. Never contains a credential.
    pub events: Vec<Value>,
    pub usage: Usage,
}

#[derive(Debug, thiserror::Error)]
pub enum GeneratorError {
    /// The generator's program is missing: the message names how to install it.
    #[allow(
        dead_code,
        reason = "the claude-code generator reports it; it lands next"
    )]
    #[error("{0}")]
    NotInstalled(String),
    /// The model API failed after the retries; the message names the fault (429, 529, 500, a
    /// truncated stream, a timeout).
    #[error("model API: {0}")]
    ModelApi(String),
    #[error("budget exhausted: {0}")]
    Budget(String),
    #[error("sandbox: {0}")]
    Sandbox(#[from] claw_runtime::SandboxError),
    /// The generator ran but reported failure (Claude Code's `is_error`, a malformed reply).
    #[error("{0}")]
    Failed(String),
}

#[async_trait]
pub trait Generator: Send + Sync {
    /// `claude-code`, `anthropic`, `replay`.
    fn name(&self) -> &'static str;
    /// The generator's own version (Claude Code's `--version`; clawc's for the API loop).
    async fn version(&self) -> Result<String, GeneratorError>;
    /// Writes a candidate into `attempt.workspace`.
    async fn attempt(&self, attempt: Attempt<'_>) -> Result<AttemptOutcome, GeneratorError>;
    /// For a generator that replays a recorded generation: that transcript, which the pin
    /// keeps byte for byte (its provenance describes the original generation, not the replay).
    fn recorded_transcript(&self, _integration: &str) -> Option<String> {
        None
    }
}
