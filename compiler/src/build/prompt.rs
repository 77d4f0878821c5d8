//! The generator's prompt, rendered with tera from a template compiled into clawc: the spec,
//! its schemas and examples with their fixtures, the exact contract and, on a retry, the
//! previous attempt's failures.

use serde::Serialize;
use serde_json::Value;
use spec_lang::ir;

use super::contract::{MAX_FILES, MAX_FILE_BYTES};

const TEMPLATE: &str = include_str!("../../templates/prompt/generate.md.tera");

/// Bytes of one fixture body shown inline; longer bodies are cut with a note (every example
/// is in full in the workspace's `examples.json`).
const BODY_SHOWN: usize = 4000;

#[derive(Debug, thiserror::Error)]
#[error("the prompt template: {0}")]
pub struct PromptError(String);

#[derive(Serialize)]
struct ExampleView {
    name: String,
    tool: String,
    args: String,
    config: String,
    http: Vec<HttpView>,
    expect: String,
}

#[derive(Serialize)]
struct HttpView {
    method: String,
    url: String,
    request: Option<String>,
    status: u16,
    response: Option<String>,
}

#[derive(Serialize)]
struct MountView {
    target: String,
    mode: &'static str,
}

/// The prompt of attempt `attempt` (1-based); `failures` is the previous attempt's report.
pub fn render(
    spec: &ir::Integration,
    source: &str,
    attempt: u32,
    failures: Option<&str>,
) -> Result<String, PromptError> {
    let mut context = tera::Context::new();
    context.insert("name", &spec.name);
    context.insert("source", source.trim_end());
    context.insert(
        "schemas",
        &serde_json::to_string_pretty(&spec_lang::schema::integration_schemas(spec))
            .unwrap_or_default(),
    );
    context.insert("max_files", &MAX_FILES);
    context.insert("max_file_kib", &(MAX_FILE_BYTES / 1024));
    let mounts: Vec<MountView> = spec
        .mounts
        .iter()
        .map(|m| MountView {
            target: m.target.clone(),
            mode: match m.mode {
                ir::MountMode::Ro => "read-only",
                ir::MountMode::Rw => "read-write",
            },
        })
        .collect();
    context.insert("mounts", &mounts);
    let examples: Vec<ExampleView> = spec.examples.iter().map(example_view).collect();
    context.insert("examples", &examples);
    context.insert("attempt", &attempt);
    context.insert("failures", &failures.unwrap_or(""));
    tera::Tera::one_off(TEMPLATE, &context, false).map_err(|e| PromptError(e.to_string()))
}

fn example_view(example: &ir::Example) -> ExampleView {
    ExampleView {
        name: example.name.clone(),
        tool: example.call.tool.clone(),
        args: example.call.args.to_string(),
        config: example.config.to_string(),
        http: example
            .http
            .iter()
            .map(|http| HttpView {
                method: http.method.clone(),
                url: http.url.clone(),
                request: http.request.as_ref().map(body),
                status: http.status,
                response: http.response.as_ref().map(body),
            })
            .collect(),
        expect: match &example.expect {
            ir::Expect::Output(value) => value.to_string(),
            ir::Expect::Error(text) => format!("error containing {text:?}"),
        },
    }
}

fn body(body: &ir::Body) -> String {
    let text = match body {
        ir::Body::Json { value } => Value::to_string(value),
        ir::Body::Text { text } => text.clone(),
    };
    if text.len() <= BODY_SHOWN {
        return text;
    }
    let mut end = BODY_SHOWN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}… (cut; {} bytes in all, in full in examples.json)",
        &text[..end],
        text.len()
    )
}
