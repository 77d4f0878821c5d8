//! The trusted part of every artifact: the python scaffold (MCP server plumbing and the HTTP
//! helper), rendered with tera from templates compiled into clawc, byte-identical on every
//! machine. Its inputs are the spec's IR and the templates, nothing else: no clock, no paths.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use spec_lang::ir;

use super::tree::Files;

/// `(path in the tree, template source)`, in a fixed order. The template hash covers exactly
/// these bytes, so editing a template re-renders every artifact (and nothing else).
const TEMPLATES: &[(&str, &str)] = &[
    (
        "main.py",
        include_str!("../../templates/python/main.py.tera"),
    ),
    (
        "clawc/__init__.py",
        include_str!("../../templates/python/clawc/__init__.py.tera"),
    ),
    (
        "clawc/http.py",
        include_str!("../../templates/python/clawc/http.py.tera"),
    ),
    (
        "clawc/mcp.py",
        include_str!("../../templates/python/clawc/mcp.py.tera"),
    ),
];

/// The file the scaffold writes the tools' definitions to (not a template: canonical JSON).
pub const TOOLS_JSON: &str = "clawc/tools.json";

/// The scaffold's entry point, as the sandbox runs it.
pub const ENTRY: &str = "main.py";

/// Largest response body the HTTP helper reads by default.
const DEFAULT_MAX_BYTES: u64 = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error("scaffold template {path}: {message}")]
    Template { path: &'static str, message: String },
}

/// SHA-256 over every template (path, length, bytes), as `sha256:<hex>`.
pub fn template_hash() -> String {
    let mut bytes = Vec::new();
    for (path, source) in TEMPLATES {
        for part in [path.as_bytes(), source.as_bytes()] {
            bytes.extend_from_slice(&(part.len() as u64).to_be_bytes());
            bytes.extend_from_slice(part);
        }
    }
    spec_lang::hash::sha256_prefixed(&bytes)
}

/// The scaffold's files for `spec`.
pub fn render(spec: &ir::Integration) -> Result<Files, ScaffoldError> {
    let mut context = tera::Context::new();
    context.insert("name", &spec.name);
    context.insert("version", &spec.version);
    // The helper's default bound is the integration's per-call timeout.
    context.insert(
        "default_timeout_s",
        &format!("{:.1}", spec.limits.timeout_ms as f64 / 1000.0),
    );
    context.insert("default_max_bytes", &DEFAULT_MAX_BYTES);
    let mut files = Files::new();
    for (path, source) in TEMPLATES {
        let text =
            tera::Tera::one_off(source, &context, false).map_err(|e| ScaffoldError::Template {
                path,
                message: chain(&e),
            })?;
        files.insert((*path).to_owned(), text.into_bytes());
    }
    files.insert(TOOLS_JSON.to_owned(), tools_json(spec).into_bytes());
    Ok(files)
}

/// `tools/list`'s tools, sorted by name, pretty-printed with sorted keys (readable in review).
fn tools_json(spec: &ir::Integration) -> String {
    let tools: Vec<Value> = spec
        .tools
        .iter()
        .map(|(name, tool)| {
            json!({
                "name": name,
                "description": tool.description,
                "inputSchema": sorted(&tool.input),
                "outputSchema": sorted(&tool.output),
            })
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&Value::Array(tools)).unwrap_or_default();
    text.push('\n');
    text
}

/// `value` with every object's keys sorted, whatever map serde_json was built with.
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let ordered: BTreeMap<&String, Value> =
                map.iter().map(|(k, v)| (k, sorted(v))).collect();
            Value::Object(ordered.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

fn chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
