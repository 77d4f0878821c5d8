//! The `replay` generator: writes the accepted attempt's files of a recorded transcript into
//! the workspace, offline. The build then takes them through the same intake and acceptance as
//! a model's, and pins the original transcript unchanged.

use std::collections::BTreeMap;
use std::fs;

use async_trait::async_trait;

use super::generator::{Attempt, AttemptOutcome, Generator, GeneratorError};
use super::intake::check_files;
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
        // A transcript is input like any other: checked by intake's rules before anything is
        // written (intake checks the workspace again afterwards).
        let files = check_files(summary.files)
            .map_err(|refused| GeneratorError::Failed(format!("transcript.jsonl: {refused}")))?;
        for (path, bytes) in &files {
            let target = attempt.workspace.join(path);
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent)
                    .map_err(|e| GeneratorError::Failed(format!("{path}: {e}")))?;
            }
            fs::write(&target, bytes)
                .map_err(|e| GeneratorError::Failed(format!("{path}: {e}")))?;
        }
        (attempt.progress)(&format!("replayed {} files", files.len()));
        Ok(AttemptOutcome::default())
    }

    fn recorded_transcript(&self, integration: &str) -> Option<String> {
        self.transcripts.get(integration).cloned()
    }
}
