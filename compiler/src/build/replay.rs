//! The `replay` generator: writes the accepted attempt's files of a recorded transcript into
//! the workspace, offline. The build then takes them through the same intake and acceptance as
//! a model's, and pins the original transcript unchanged.

use std::collections::BTreeMap;
use std::fs;

use async_trait::async_trait;

use super::contract::output_path_problem;
use super::generator::{Attempt, AttemptOutcome, Generator, GeneratorError};
use super::transcript::Transcript;

#[derive(Debug, Default)]
pub struct ReplayGenerator {
    /// Integration → the transcript's text.
    transcripts: BTreeMap<String, String>,
}

impl ReplayGenerator {
    pub fn new(transcripts: BTreeMap<String, String>) -> ReplayGenerator {
        ReplayGenerator { transcripts }
    }
}

#[async_trait]
impl Generator for ReplayGenerator {
    fn name(&self) -> &'static str {
        "replay"
    }

    async fn version(&self) -> Result<String, GeneratorError> {
        Ok(env!("CARGO_PKG_VERSION").to_owned())
    }

    async fn attempt(&self, attempt: Attempt<'_>) -> Result<AttemptOutcome, GeneratorError> {
        let text = self.transcripts.get(attempt.integration).ok_or_else(|| {
            GeneratorError::Failed(format!(
                "no recorded transcript for `{}`",
                attempt.integration
            ))
        })?;
        let summary = Transcript::parse(text)
            .and_then(|t| t.summary())
            .map_err(|e| GeneratorError::Failed(format!("transcript.jsonl: {e}")))?;
        if summary.integration != attempt.integration {
            return Err(GeneratorError::Failed(format!(
                "transcript.jsonl records `{}`, not `{}`",
                summary.integration, attempt.integration
            )));
        }
        // A transcript is input like any other: a path is checked before anything is written.
        let problems: Vec<String> = summary
            .files
            .keys()
            .filter_map(|path| output_path_problem(path).map(|p| format!("{path}: {p}")))
            .collect();
        if !problems.is_empty() {
            return Err(GeneratorError::Failed(format!(
                "transcript.jsonl: the candidate is refused: {}",
                problems.join("; ")
            )));
        }
        for (path, bytes) in &summary.files {
            let target = attempt.workspace.join(path);
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent)
                    .map_err(|e| GeneratorError::Failed(format!("{path}: {e}")))?;
            }
            fs::write(&target, bytes)
                .map_err(|e| GeneratorError::Failed(format!("{path}: {e}")))?;
        }
        (attempt.progress)(&format!("replayed {} files", summary.files.len()));
        Ok(AttemptOutcome::default())
    }

    fn recorded_transcript(&self, integration: &str) -> Option<String> {
        self.transcripts.get(integration).cloned()
    }
}
