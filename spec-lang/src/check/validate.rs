//! Validating example data and defaults against the generated JSON Schemas with `jsonschema`.
//!
//! Everything to validate is collected first, then validated in ONE pass against ONE compiled
//! schema: `{"$defs": {named types, tool inputs/outputs, config}, "prefixItems": [one schema per
//! value]}` with the values as an array. Compiling a validator dominates the cost, so this keeps
//! a spec at one compilation however many examples it has. An error's instance path starts with
//! the value's index, which leads back to its [`Origin`] and, through the rest of the path, to
//! the span of the offending part of the source.

use super::tools::CheckedTool;
use super::{code, Ctx};
use crate::ast::{self, ValueKind};
use crate::schema::{self, DIALECT};
use crate::{Diagnostic, Span};
use jsonschema::paths::LocationSegment;
use jsonschema::ValidationError;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

const CONFIG_DEF: &str = "$config";

/// Where a validated value came from, to phrase and place its errors.
pub(super) enum Origin<'a> {
    /// `field: T = default`
    Default {
        value: &'a ast::Value,
        field: &'a ast::Ident,
    },
    /// `call TOOL { ... }`
    Arguments {
        value: &'a ast::Value,
        tool: &'a str,
    },
    /// `expect { ... }`
    Expected {
        value: &'a ast::Value,
        tool: &'a str,
    },
    /// An example's `config { ... }`; `None` when the example has none (`{}` is validated).
    Config {
        value: Option<&'a ast::Value>,
        example: Span,
    },
}

/// The values waiting to be validated, each with its schema and origin.
#[derive(Default)]
pub(super) struct Validation<'a> {
    schemas: Vec<Value>,
    instances: Vec<Value>,
    origins: Vec<Origin<'a>>,
}

/// A handle to a value given to [`Validation`], redeemed after [`Validation::run`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Slot(usize);

/// The validated values, to be taken back out by [`Slot`].
pub(super) struct Validated(Vec<Value>);

impl Validated {
    pub fn take(&mut self, slot: Slot) -> Value {
        self.0.get_mut(slot.0).map(Value::take).unwrap_or_default()
    }
}

impl<'a> Validation<'a> {
    pub fn add(&mut self, schema: Value, instance: Value, origin: Origin<'a>) -> Slot {
        self.schemas.push(schema);
        self.instances.push(instance);
        self.origins.push(origin);
        Slot(self.instances.len() - 1)
    }

    pub fn add_arguments(&mut self, tool: &'a str, args: Value, value: &'a ast::Value) -> Slot {
        self.add(
            schema::reference(&input_def(tool)),
            args,
            Origin::Arguments { value, tool },
        )
    }

    pub fn add_expected(&mut self, tool: &'a str, output: Value, value: &'a ast::Value) -> Slot {
        self.add(
            schema::reference(&output_def(tool)),
            output,
            Origin::Expected { value, tool },
        )
    }

    pub fn add_config(
        &mut self,
        config: Value,
        value: Option<&'a ast::Value>,
        example: Span,
    ) -> Slot {
        self.add(
            schema::reference(CONFIG_DEF),
            config,
            Origin::Config { value, example },
        )
    }

    /// Validates every value; reports each error; hands the values back.
    pub fn run(
        self,
        ctx: &mut Ctx,
        types: &BTreeMap<String, Value>,
        config: &Value,
        tools: &BTreeMap<String, CheckedTool>,
    ) -> Validated {
        let Validation {
            schemas,
            instances,
            origins,
        } = self;
        if instances.is_empty() {
            return Validated(instances);
        }
        let mut defs: Map<String, Value> = types
            .iter()
            .map(|(name, schema)| (name.clone(), schema.clone()))
            .collect();
        defs.insert(CONFIG_DEF.to_owned(), config.clone());
        for (name, tool) in tools {
            defs.insert(input_def(name), tool.input.clone());
            defs.insert(output_def(name), tool.output.clone());
        }
        let mut root = Map::new();
        root.insert("$schema".to_owned(), Value::String(DIALECT.to_owned()));
        root.insert("$defs".to_owned(), Value::Object(defs));
        root.insert("prefixItems".to_owned(), Value::Array(schemas));
        let root = Value::Object(root);

        let validator = match jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
        {
            Ok(validator) => validator,
            Err(error) => {
                // Only reachable if a pattern passes our syntax check but not the validator's.
                let span = origins
                    .first()
                    .map_or(Span::default(), |origin| origin.span());
                ctx.report(
                    Diagnostic::error(
                        code::INVALID_CONSTRAINT_ARGUMENT,
                        format!("the generated schemas cannot be compiled: {error}"),
                        span,
                    )
                    .with_label("examples and defaults could not be validated")
                    .with_help("simplify the `pattern(...)` constraints"),
                );
                return Validated(instances);
            }
        };
        let instances = Value::Array(instances);
        for error in validator.iter_errors(&instances) {
            if let Some(diagnostic) = describe(&error, &origins, tools) {
                ctx.report(diagnostic);
            }
        }
        match instances {
            Value::Array(items) => Validated(items),
            _ => Validated(Vec::new()),
        }
    }
}

fn input_def(tool: &str) -> String {
    format!("$input.{tool}")
}

fn output_def(tool: &str) -> String {
    format!("$output.{tool}")
}

impl Origin<'_> {
    fn value(&self) -> Option<&ast::Value> {
        match self {
            Origin::Default { value, .. }
            | Origin::Arguments { value, .. }
            | Origin::Expected { value, .. } => Some(value),
            Origin::Config { value, .. } => *value,
        }
    }

    fn span(&self) -> Span {
        match self {
            Origin::Config {
                value: None,
                example,
            } => *example,
            _ => self.value().map_or(Span::default(), |value| value.span),
        }
    }
}

/// A diagnostic for one validation error, placed on the part of the value it is about.
fn describe(
    error: &ValidationError,
    origins: &[Origin],
    tools: &BTreeMap<String, CheckedTool>,
) -> Option<Diagnostic> {
    let mut segments = error.instance_path().segments();
    let LocationSegment::Index(index) = segments.next()? else {
        return None;
    };
    let origin = origins.get(index)?;
    let rest: Vec<LocationSegment> = segments.collect();

    let mut span = origin.span();
    if let Some(value) = origin.value() {
        span = locate(value, &rest);
        if let jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } =
            error.kind()
        {
            if let Some(key_span) = unexpected
                .first()
                .and_then(|key| key_span(value, &rest, key))
            {
                span = key_span;
            }
        }
    }

    let path = display_path(&rest);
    let reason = if error.instance().to_string().len() > 60 {
        error.masked_with("the value").to_string()
    } else {
        error.to_string()
    };
    let at = if path.is_empty() {
        String::new()
    } else {
        format!(" at `{path}`")
    };
    let diagnostic = match origin {
        Origin::Default { field, .. } => Diagnostic::error(
            code::INVALID_DEFAULT,
            format!("default of `{}`{at}: {reason}", field.node),
            span,
        )
        .with_label("not a value of the field's type")
        .with_help("change the default so that it satisfies the field's type and constraints"),
        Origin::Arguments { tool, .. } => {
            let diagnostic = Diagnostic::error(
                code::INVALID_ARGUMENTS,
                format!("arguments of `{tool}`{at}: {reason}"),
                span,
            )
            .with_label(format!("does not match the input of `{tool}`"))
            .with_help("the call's arguments must satisfy the tool's `input` record");
            with_tool_label(
                diagnostic,
                tools.get(*tool).map(|t| t.input_span),
                "input declared here",
            )
        }
        Origin::Expected { tool, .. } => {
            let diagnostic = Diagnostic::error(code::INVALID_EXPECTED_OUTPUT, format!("expected output of `{tool}`{at}: {reason}"), span)
                .with_label(format!("does not match the output of `{tool}`"))
                .with_help("`expect { ... }` must satisfy the tool's `output` record; use `expect error \"...\"` for a failure");
            with_tool_label(
                diagnostic,
                tools.get(*tool).map(|t| t.output_span),
                "output declared here",
            )
        }
        Origin::Config { .. } => Diagnostic::error(
            code::INVALID_CONFIG,
            format!("example config{at}: {reason}"),
            span,
        )
        .with_label("does not match the integration's `config`")
        .with_help("give every required config field, with values of the declared types"),
    };
    Some(diagnostic)
}

fn with_tool_label(diagnostic: Diagnostic, span: Option<Span>, message: &str) -> Diagnostic {
    match span {
        Some(span) => diagnostic.with_secondary(span, message),
        None => diagnostic,
    }
}

/// The span of the deepest part of `value` along `path` (stops at `file(...)`).
fn locate(value: &ast::Value, path: &[LocationSegment]) -> Span {
    let mut current = value;
    for segment in path {
        match child(current, segment) {
            Some(next) => current = next,
            None => break,
        }
    }
    current.span
}

fn child<'v>(value: &'v ast::Value, segment: &LocationSegment) -> Option<&'v ast::Value> {
    match (&value.kind, segment) {
        (ValueKind::List(items), LocationSegment::Index(index)) => items.get(*index),
        (ValueKind::Object(entries), LocationSegment::Property(key)) => entries
            .iter()
            .find(|(name, _)| name.node == key.as_ref())
            .map(|(_, item)| item),
        (ValueKind::Object(entries), LocationSegment::Index(index)) => {
            let key = index.to_string();
            entries
                .iter()
                .find(|(name, _)| name.node == key)
                .map(|(_, item)| item)
        }
        _ => None,
    }
}

/// The span of key `key` in the object at `path`.
fn key_span(value: &ast::Value, path: &[LocationSegment], key: &str) -> Option<Span> {
    let mut current = value;
    for segment in path {
        current = child(current, segment)?;
    }
    match &current.kind {
        ValueKind::Object(entries) => entries
            .iter()
            .find(|(name, _)| name.node == key)
            .map(|(name, _)| name.span),
        _ => None,
    }
}

/// `issues[0].number`
fn display_path(path: &[LocationSegment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            LocationSegment::Index(index) => {
                out.push('[');
                out.push_str(&index.to_string());
                out.push(']');
            }
            LocationSegment::Property(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
        }
    }
    out
}
