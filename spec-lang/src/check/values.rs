//! Example data, defaults and bodies: AST values to JSON, with `file("...")` loaded through the
//! world. Errors are reported and the value becomes `None`; every error in a value is reported.

use super::{code, Ctx};
use crate::ast::{self, Spanned, ValueKind};
use crate::Diagnostic;
use serde_json::{Map, Number, Value};
use std::collections::BTreeMap;

/// The JSON value `value` denotes, or `None` after reporting why it has none.
pub(super) fn to_json(ctx: &mut Ctx, value: &ast::Value) -> Option<Value> {
    match &value.kind {
        ValueKind::Null => Some(Value::Null),
        ValueKind::Bool(flag) => Some(Value::Bool(*flag)),
        ValueKind::String(text) => Some(Value::String(text.clone())),
        ValueKind::Number(digits) => number(ctx, digits, value.span).map(Value::Number),
        ValueKind::Word(word) => {
            ctx.report(
                Diagnostic::error(
                    code::INVALID_VALUE,
                    format!("`{word}` is not a value"),
                    value.span,
                )
                .with_label("a bare word")
                .with_help(format!("write a string: \"{word}\"")),
            );
            None
        }
        ValueKind::List(items) => {
            // Convert every item (to report every error) before deciding.
            let items: Vec<Option<Value>> = items.iter().map(|item| to_json(ctx, item)).collect();
            items
                .into_iter()
                .collect::<Option<Vec<_>>>()
                .map(Value::Array)
        }
        ValueKind::Object(entries) => object(ctx, entries),
        ValueKind::File(path) => json_file(ctx, path),
    }
}

/// A JSON number from its digits as written.
pub(super) fn number(ctx: &mut Ctx, digits: &str, span: crate::Span) -> Option<Number> {
    match parse_number(digits) {
        Some(number) => Some(number),
        None => {
            ctx.report(
                Diagnostic::error(
                    code::INVALID_VALUE,
                    format!("`{digits}` is not a JSON number"),
                    span,
                )
                .with_label("not representable")
                .with_help("write a decimal number such as 42, -1.5 or 1e3"),
            );
            None
        }
    }
}

/// `None` for text that is not a finite JSON number.
pub(super) fn parse_number(digits: &str) -> Option<Number> {
    serde_json::from_str::<Number>(digits.trim_start_matches('+')).ok()
}

fn object(ctx: &mut Ctx, entries: &[(Spanned<String>, ast::Value)]) -> Option<Value> {
    let mut first_seen: BTreeMap<&str, crate::Span> = BTreeMap::new();
    let mut map = Map::new();
    let mut complete = true;
    for (key, item) in entries {
        if let Some(first) = first_seen.get(key.node.as_str()) {
            ctx.report(super::duplicate("key", &key.node, key.span, *first));
            complete = false;
            continue;
        }
        first_seen.insert(&key.node, key.span);
        match to_json(ctx, item) {
            Some(json) => {
                map.insert(key.node.clone(), json);
            }
            None => complete = false,
        }
    }
    complete.then_some(Value::Object(map))
}

/// A `file("...")` read as JSON.
pub(super) fn json_file(ctx: &mut Ctx, path: &Spanned<String>) -> Option<Value> {
    let bytes = file_bytes(ctx, path)?;
    match serde_json::from_slice::<Value>(bytes) {
        Ok(json) => Some(json),
        Err(error) => {
            let reason = format!("line {}, column {}: {error}", error.line(), error.column());
            ctx.report(malformed(path, "is not valid JSON", reason));
            None
        }
    }
}

/// A `file("...")` read as UTF-8 text.
pub(super) fn text_file(ctx: &mut Ctx, path: &Spanned<String>) -> Option<String> {
    let bytes = file_bytes(ctx, path)?;
    match std::str::from_utf8(bytes) {
        Ok(text) => Some(text.to_owned()),
        Err(error) => {
            let reason = format!("invalid byte at offset {}", error.valid_up_to());
            ctx.report(malformed(path, "is not UTF-8 text", reason));
            None
        }
    }
}

fn malformed(path: &Spanned<String>, what: &str, reason: String) -> Diagnostic {
    Diagnostic::error(
        code::MALFORMED_FIXTURE,
        format!("fixture file `{}` {what}", path.node),
        path.span,
    )
    .with_label(reason)
    .with_help("fix the file, or write the body inline")
}

/// The bytes of a fixture file; `None` after reporting why they cannot be read. The borrow
/// checker makes us re-borrow the cache after reporting, hence the two lookups.
fn file_bytes<'c>(ctx: &'c mut Ctx, path: &Spanned<String>) -> Option<&'c [u8]> {
    if let Err(reason) = ctx.read_file(&path.node) {
        let diagnostic = Diagnostic::error(code::UNREADABLE_FIXTURE, format!("cannot read fixture file `{}`", path.node), path.span)
            .with_label(reason.clone())
            .with_help("paths are relative to the directory of the spec, e.g. file(\"fixtures/<integration>/response.json\")");
        ctx.report(diagnostic);
        return None;
    }
    ctx.read_file(&path.node).as_ref().ok().map(Vec::as_slice)
}
