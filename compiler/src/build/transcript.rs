//! The recorded generation, `golden/<name>/transcript.jsonl`: one JSON object per line, tagged
//! by `type`. Every live build records one; the replay generator re-derives the pinned bytes
//! from it offline. The format is documented in docs/transcript.md.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::generator::Usage;
use super::tree::Files;

/// Bumped when a record changes meaning.
pub const FORMAT: u32 = 1;

/// Who wrote the code the transcript carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Author {
    /// A model, through the named generator.
    Model,
    /// A person, by hand; no model produced it (the bundled specs' transcripts).
    Hand,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Record {
    /// The first line.
    Start {
        format: u32,
        integration: String,
        author: Author,
        /// `claude-code`, `anthropic`, or `hand` for hand-authored code.
        generator: String,
        generator_version: String,
        model: String,
        /// RFC 3339, UTC.
        started: String,
        /// What hand-authored transcripts say about themselves.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// An attempt begins; `prompt` is what the generator was given.
    Attempt {
        attempt: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prompt: Option<String>,
    },
    /// Something the generator reported (a stream-json message, an API exchange), verbatim.
    Event { attempt: u32, event: Value },
    /// A file of the attempt's candidate, as intake took it.
    File {
        attempt: u32,
        path: String,
        content: String,
    },
    /// How the attempt's candidate did.
    Result {
        attempt: u32,
        passed: bool,
        /// The failures sent back to the generator (empty when passed).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        failures: Vec<String>,
        usage: Usage,
        /// `python3 --version` in the acceptance sandbox.
        python: String,
    },
    /// The last line.
    End {
        accepted: bool,
        attempts: u32,
        finished: String,
    },
}

/// A transcript as read back: the records and what they add up to.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    pub records: Vec<Record>,
}

#[derive(Debug, thiserror::Error)]
pub enum TranscriptError {
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("{0}")]
    Shape(String),
}

/// What a transcript says about its generation, for provenance and the lock.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub integration: String,
    pub author: Author,
    pub generator: String,
    pub generator_version: String,
    pub model: String,
    pub started: String,
    pub finished: String,
    pub attempts: u32,
    pub usage: Usage,
    pub python: String,
    /// The accepted attempt's files.
    pub files: Files,
}

impl Transcript {
    pub fn parse(text: &str) -> Result<Transcript, TranscriptError> {
        let records = text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(index, line)| {
                serde_json::from_str(line).map_err(|e| TranscriptError::Line {
                    line: index + 1,
                    message: e.to_string(),
                })
            })
            .collect::<Result<Vec<Record>, _>>()?;
        Ok(Transcript { records })
    }

    /// One record per line, keys in the struct's order.
    pub fn render(&self) -> String {
        let mut text = String::new();
        for record in &self.records {
            text.push_str(&serde_json::to_string(record).unwrap_or_default());
            text.push('\n');
        }
        text
    }

    /// Checks the shape (start first, end last, one result per attempt, the end accepted with
    /// the last attempt passed) and sums it up.
    pub fn summary(&self) -> Result<Summary, TranscriptError> {
        let shape = |message: &str| TranscriptError::Shape(message.to_owned());
        let Some(Record::Start {
            format,
            integration,
            author,
            generator,
            generator_version,
            model,
            started,
            ..
        }) = self.records.first()
        else {
            return Err(shape("the first record must be `start`"));
        };
        if *format != FORMAT {
            return Err(TranscriptError::Shape(format!(
                "format {format}; this clawc reads format {FORMAT}"
            )));
        }
        let Some(Record::End {
            accepted,
            attempts,
            finished,
        }) = self.records.last()
        else {
            return Err(shape("the last record must be `end`"));
        };
        if !accepted {
            return Err(shape("the transcript ends without an accepted attempt"));
        }
        let mut usage = Usage::default();
        let mut python = None;
        let mut last_passed = None;
        let mut files = Files::new();
        for record in &self.records {
            match record {
                Record::Result {
                    attempt,
                    passed,
                    usage: used,
                    python: version,
                    ..
                } => {
                    usage = usage.add(*used);
                    python = Some(version.clone());
                    last_passed = Some((*attempt, *passed));
                }
                Record::File {
                    attempt,
                    path,
                    content,
                } if attempt == attempts => {
                    files.insert(path.clone(), content.clone().into_bytes());
                }
                _ => {}
            }
        }
        if last_passed != Some((*attempts, true)) {
            return Err(shape(
                "the last attempt's result must be `passed` and be the attempt `end` names",
            ));
        }
        Ok(Summary {
            integration: integration.clone(),
            author: *author,
            generator: generator.clone(),
            generator_version: generator_version.clone(),
            model: model.clone(),
            started: started.clone(),
            finished: finished.clone(),
            attempts: *attempts,
            usage,
            python: python.unwrap_or_default(),
            files,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(accepted: bool) -> String {
        let records = vec![
            Record::Start {
                format: FORMAT,
                integration: "w".into(),
                author: Author::Hand,
                generator: "hand".into(),
                generator_version: "-".into(),
                model: "none".into(),
                started: "2026-12-03T00:00:00Z".into(),
                note: Some("by hand".into()),
            },
            Record::Attempt {
                attempt: 1,
                prompt: None,
            },
            Record::File {
                attempt: 1,
                path: "generated/tools.py".into(),
                content: "x = 1\n".into(),
            },
            Record::Result {
                attempt: 1,
                passed: accepted,
                failures: vec![],
                usage: Usage::default(),
                python: "Python 3.11.2".into(),
            },
            Record::End {
                accepted,
                attempts: 1,
                finished: "2026-12-03T00:00:01Z".into(),
            },
        ];
        Transcript { records }.render()
    }

    #[test]
    fn a_transcript_round_trips_and_sums_up_its_accepted_attempt() {
        let text = sample(true);
        let transcript = Transcript::parse(&text).unwrap();
        assert_eq!(transcript.render(), text);
        let summary = transcript.summary().unwrap();
        assert_eq!(summary.author, Author::Hand);
        assert_eq!(summary.files["generated/tools.py"], b"x = 1\n");
    }

    #[test]
    fn an_unaccepted_or_malformed_transcript_is_refused() {
        assert!(Transcript::parse(&sample(false))
            .unwrap()
            .summary()
            .is_err());
        assert!(matches!(
            Transcript::parse("{\"type\":\"start\"}\nnot json\n"),
            Err(TranscriptError::Line { line: 1, .. })
        ));
    }
}
