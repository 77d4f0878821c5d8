//! `provenance.json`: an in-toto Statement v1 whose predicate is SLSA Provenance v1, so that
//! standard tooling reads it. Everything in it comes from the spec, the toolchain, the tree and
//! the transcript — never from the clock of a replay — so a replay re-derives it byte for byte.

use serde_json::{json, Value};

use super::acceptance::ExampleResult;
use super::transcript::{Author, Summary};
use super::tree::Files;

pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";
pub const BUILD_TYPE: &str = "https://clawc.dev/build/v1";

/// What goes into a provenance statement.
#[derive(Debug)]
pub struct Inputs<'a> {
    pub integration: &'a str,
    pub spec_path: &'a str,
    pub spec_hash: &'a str,
    pub toolchain: &'a str,
    pub template_hash: &'a str,
    pub transcript_hash: &'a str,
    pub summary: &'a Summary,
    pub examples: &'a [ExampleResult],
    /// The tree's files other than the manifest, provenance and transcript: the subjects.
    pub subjects: &'a Files,
}

pub fn render(inputs: &Inputs<'_>) -> Vec<u8> {
    let summary = inputs.summary;
    let subjects: Vec<Value> = inputs
        .subjects
        .iter()
        .map(|(path, bytes)| {
            json!({
                "name": path,
                "digest": {"sha256": hex(&spec_lang::hash::sha256_prefixed(bytes))},
            })
        })
        .collect();
    let authored = match summary.author {
        Author::Model => "model".to_owned(),
        Author::Hand => "hand".to_owned(),
    };
    let statement = json!({
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "integration": inputs.integration,
                    "spec": {"path": inputs.spec_path, "digest": {"sha256": hex(inputs.spec_hash)}},
                    "generator": summary.generator,
                    "model": summary.model,
                },
                "internalParameters": {
                    "toolchain": inputs.toolchain,
                    "templates": {"digest": {"sha256": hex(inputs.template_hash)}},
                },
                "resolvedDependencies": [
                    {"name": "python", "annotations": {"version": summary.python}},
                    {"name": summary.generator, "annotations": {"version": summary.generator_version}},
                ],
            },
            "runDetails": {
                "builder": {"id": format!("https://clawc.dev/builder/{}", summary.generator),
                            "version": {"clawc": inputs.toolchain, summary.generator.clone(): summary.generator_version}},
                "metadata": {
                    "invocationId": hex(inputs.transcript_hash),
                    "startedOn": summary.started,
                    "finishedOn": summary.finished,
                },
                "byproducts": [{
                    "name": super::tree::TRANSCRIPT,
                    "digest": {"sha256": hex(inputs.transcript_hash)},
                    "annotations": {
                        "authoredBy": authored,
                        "note": match summary.author {
                            Author::Hand => "the transcript was written by hand by a person; no model produced this code",
                            Author::Model => "the transcript was recorded from the generator's run",
                        },
                        "attempts": summary.attempts,
                        "turns": summary.usage.turns,
                        "inputTokens": summary.usage.input_tokens,
                        "outputTokens": summary.usage.output_tokens,
                        "costUsd": summary.usage.cost_usd,
                        "examples": inputs.examples.iter().map(|e| json!({
                            "name": e.name,
                            "tool": e.tool,
                            "passed": e.passed(),
                        })).collect::<Vec<_>>(),
                    },
                }],
            },
        },
    });
    let mut text = serde_json::to_string_pretty(&statement).unwrap_or_default();
    text.push('\n');
    text.into_bytes()
}

/// `sha256:<hex>` → `<hex>` (in-toto digests name the algorithm in the key).
fn hex(prefixed: &str) -> String {
    prefixed
        .strip_prefix("sha256:")
        .unwrap_or(prefixed)
        .to_owned()
}
