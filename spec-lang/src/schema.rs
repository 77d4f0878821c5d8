//! JSON Schema 2020-12 for tool inputs, outputs and the configuration object, and the IR's own
//! schema.
//!
//! The checker lowers every type once (see `check::types`); this module turns a lowered object
//! schema into a self-contained document: the dialect, plus `$defs` holding exactly the named
//! types it reaches through `$ref`.

use crate::ir::Integration;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The JSON Schema dialect every generated schema declares.
pub const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// Where named types live inside a schema document; references are `#/$defs/NAME`.
pub(crate) const DEFS_POINTER: &str = "#/$defs/";

/// The JSON Schemas of one tool's arguments and result.
#[derive(Debug, Clone, Copy)]
pub struct ToolSchemas<'a> {
    pub input: &'a Value,
    pub output: &'a Value,
}

/// The schemas of tool `tool` of a checked integration, or `None` when it has no such tool.
pub fn tool_schemas<'a>(ir: &'a Integration, tool: &str) -> Option<ToolSchemas<'a>> {
    ir.tools.get(tool).map(|tool| ToolSchemas {
        input: &tool.input,
        output: &tool.output,
    })
}

/// Every tool's schemas as one JSON object: `{ TOOL: { "input": …, "output": … } }`, plus the
/// configuration schema under `config` — what `clawc schema SPEC` prints.
pub fn integration_schemas(ir: &Integration) -> Value {
    let tools: Map<String, Value> = ir
        .tools
        .iter()
        .map(|(name, tool)| {
            let mut pair = Map::new();
            pair.insert("input".to_owned(), tool.input.clone());
            pair.insert("output".to_owned(), tool.output.clone());
            (name.clone(), Value::Object(pair))
        })
        .collect();
    let mut out = Map::new();
    out.insert("config".to_owned(), ir.config.clone());
    out.insert("tools".to_owned(), Value::Object(tools));
    Value::Object(out)
}

/// The JSON Schema of the IR itself (`clawc schema --ir`; committed as `spec-lang/ir.schema.json`).
pub fn ir_schema() -> Value {
    schemars::schema_for!(Integration).to_value()
}

/// `{"$ref": "#/$defs/NAME"}`
pub(crate) fn reference(name: &str) -> Value {
    let mut map = Map::new();
    map.insert(
        "$ref".to_owned(),
        Value::String(format!("{DEFS_POINTER}{name}")),
    );
    Value::Object(map)
}

/// A self-contained schema document: `body` plus the dialect and the `$defs` it reaches.
pub(crate) fn document(body: &Value, types: &BTreeMap<String, Value>) -> Value {
    let mut map = match body {
        Value::Object(map) => map.clone(),
        other => {
            let mut map = Map::new();
            map.insert("allOf".to_owned(), Value::Array(vec![other.clone()]));
            map
        }
    };
    let reached = reachable(body, types);
    if !reached.is_empty() {
        let defs: Map<String, Value> = reached
            .into_iter()
            .filter_map(|name| {
                types
                    .get(name)
                    .map(|schema| (name.to_owned(), schema.clone()))
            })
            .collect();
        map.insert("$defs".to_owned(), Value::Object(defs));
    }
    map.insert("$schema".to_owned(), Value::String(DIALECT.to_owned()));
    Value::Object(map)
}

/// Names of the named types `body` reaches, directly or through other named types.
fn reachable<'t>(body: &Value, types: &'t BTreeMap<String, Value>) -> BTreeSet<&'t str> {
    let mut seen = BTreeSet::new();
    let mut queue = Vec::new();
    references(body, &mut |name| queue.push(name.to_owned()));
    while let Some(name) = queue.pop() {
        let Some((key, schema)) = types.get_key_value(name.as_str()) else {
            continue;
        };
        if seen.insert(key.as_str()) {
            references(schema, &mut |next| queue.push(next.to_owned()));
        }
    }
    seen
}

/// Calls `found` with the name of every `#/$defs/NAME` reference in `schema`.
fn references(schema: &Value, found: &mut dyn FnMut(&str)) {
    match schema {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", Value::String(target)) => {
                        if let Some(name) = target.strip_prefix(DEFS_POINTER) {
                            found(name);
                        }
                    }
                    // Example data inside a schema holds no references.
                    ("default" | "const" | "enum", _) => {}
                    _ => references(value, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| references(item, found)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn document_carries_only_reachable_defs() {
        let mut types = BTreeMap::new();
        types.insert(
            "A".to_owned(),
            json!({"type": "array", "items": {"$ref": "#/$defs/B"}}),
        );
        types.insert("B".to_owned(), json!({"type": "string"}));
        types.insert("C".to_owned(), json!({"type": "integer"}));
        let body = json!({"type": "object", "properties": {"a": {"$ref": "#/$defs/A"}}});
        let doc = document(&body, &types);
        assert_eq!(doc["$schema"], DIALECT);
        let defs = doc["$defs"]
            .as_object()
            .map(|m| m.keys().cloned().collect::<Vec<_>>());
        assert_eq!(defs, Some(vec!["A".to_owned(), "B".to_owned()]));
    }

    #[test]
    fn recursive_types_terminate() {
        let mut types = BTreeMap::new();
        types.insert(
            "Node".to_owned(),
            json!({"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}),
        );
        let doc = document(&reference("Node"), &types);
        assert!(doc["$defs"]["Node"].is_object());
    }
}
