//! Validating example data and defaults against the generated JSON Schemas with `jsonschema`.
//!
//! Everything to validate is collected first, then validated in ONE pass against ONE compiled
//! schema. Compiling dominates the cost, and `jsonschema` compiles a `$ref` target again at every
//! place that refers to it, so values are grouped by the schema they must satisfy and each group
//! is one array item whose `items` is that schema, written out once:
//! `{"$defs": {named types}, "prefixItems": [{"items": <input of tool A>}, {"items": <config>}, ...]}`
//! validated against `[[args of every call of A], [every example config], ...]`. An error's
//! instance path starts with the group and the value's place in it, which lead back to its
//! [`Origin`]; the rest of the path leads to the span of the offending part of the source.

use super::tools::CheckedTool;
use super::{code, Ctx};
use crate::ast::{self, ValueKind};
use crate::schema::DIALECT;
use crate::{Diagnostic, Span};
use jsonschema::paths::LocationSegment;
use jsonschema::ValidationError;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

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

/// The schema a value must satisfy: shared ones are named, a default brings its own.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Target<'a> {
    Input(&'a str),
    Output(&'a str),
    Config,
    /// The `n`th inline schema.
    Inline(usize),
}

/// The values waiting to be validated, each with its target schema and origin.
#[derive(Default)]
pub(super) struct Validation<'a> {
    inline_schemas: Vec<Value>,
    targets: Vec<Target<'a>>,
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
    fn push(&mut self, target: Target<'a>, instance: Value, origin: Origin<'a>) -> Slot {
        self.targets.push(target);
        self.instances.push(instance);
        self.origins.push(origin);
        Slot(self.instances.len() - 1)
    }

    /// A value with its own schema (a field's default).
    pub fn add(&mut self, schema: Value, instance: Value, origin: Origin<'a>) -> Slot {
        self.inline_schemas.push(schema);
        let target = Target::Inline(self.inline_schemas.len() - 1);
        self.push(target, instance, origin)
    }

    pub fn add_arguments(&mut self, tool: &'a str, args: Value, value: &'a ast::Value) -> Slot {
        self.push(Target::Input(tool), args, Origin::Arguments { value, tool })
    }

    pub fn add_expected(&mut self, tool: &'a str, output: Value, value: &'a ast::Value) -> Slot {
        self.push(
            Target::Output(tool),
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
        self.push(Target::Config, config, Origin::Config { value, example })
    }

    /// Validates every value; reports each error; hands the values back.
    ///
    /// The schemas are moved into the root schema and back out afterwards rather than cloned:
    /// copying every type, input and output of a spec was a sizeable share of `clawc check`.
    pub fn run(
        self,
        ctx: &mut Ctx,
        types: &mut BTreeMap<String, Value>,
        config: &mut Value,
        tools: &mut BTreeMap<String, CheckedTool>,
    ) -> Validated {
        let Validation {
            mut inline_schemas,
            targets,
            instances,
            origins,
        } = self;
        if instances.is_empty() {
            return Validated(instances);
        }

        // Group the values by target; `members[g]` lists the value indices of group `g`.
        let mut groups: BTreeMap<&Target, usize> = BTreeMap::new();
        let mut members: Vec<Vec<usize>> = Vec::new();
        let mut group_targets: Vec<&Target> = Vec::new();
        for (index, target) in targets.iter().enumerate() {
            let group = *groups.entry(target).or_insert_with(|| {
                members.push(Vec::new());
                group_targets.push(target);
                members.len() - 1
            });
            members[group].push(index);
        }
        // Each target is one group, so each schema is taken at most once.
        let schemas: Vec<Value> = group_targets
            .iter()
            .map(|target| {
                let schema = match target {
                    Target::Input(tool) => tools.get_mut(*tool).map(|t| t.input.take()),
                    Target::Output(tool) => tools.get_mut(*tool).map(|t| t.output.take()),
                    Target::Config => Some(config.take()),
                    Target::Inline(n) => inline_schemas.get_mut(*n).map(Value::take),
                };
                let mut item = Map::new();
                item.insert(
                    "items".to_owned(),
                    schema.unwrap_or_else(|| Value::Object(Map::new())),
                );
                Value::Object(item)
            })
            .collect();

        let mut slots: Vec<Option<Value>> = instances.into_iter().map(Some).collect();
        let grouped = Value::Array(
            members
                .iter()
                .map(|indices| {
                    Value::Array(
                        indices
                            .iter()
                            .map(|&i| slots[i].take().unwrap_or_default())
                            .collect(),
                    )
                })
                .collect(),
        );

        let mut root = Map::new();
        root.insert("$schema".to_owned(), Value::String(DIALECT.to_owned()));
        root.insert(
            "$defs".to_owned(),
            Value::Object(std::mem::take(types).into_iter().collect()),
        );
        root.insert("prefixItems".to_owned(), Value::Array(schemas));
        let root = Value::Object(root);

        match jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            // Patterns were checked with `regex-syntax`; the same engine validates them.
            .with_pattern_options(jsonschema::PatternOptions::regex())
            .build(&root)
        {
            // `is_valid` stops early and builds no errors: the common, clean case stays cheap.
            Ok(validator) if validator.is_valid(&grouped) => {}
            Ok(validator) => {
                for error in validator.iter_errors(&grouped) {
                    if let Some(diagnostic) = describe(&error, &members, &origins, tools) {
                        ctx.report(diagnostic);
                    }
                }
            }
            Err(error) => {
                // Only reachable if a pattern passes our syntax check but not the validator's.
                let span = origins.first().map_or(Span::default(), Origin::span);
                ctx.report(
                    Diagnostic::error(
                        code::INVALID_CONSTRAINT_ARGUMENT,
                        format!("the generated schemas cannot be compiled: {error}"),
                        span,
                    )
                    .with_label("examples and defaults could not be validated")
                    .with_help("simplify the `pattern(...)` constraints"),
                );
            }
        }

        restore_schemas(root, &group_targets, types, config, tools);

        // Put every value back in its original place.
        if let Value::Array(groups) = grouped {
            for (indices, group) in members.iter().zip(groups) {
                if let Value::Array(values) = group {
                    for (&index, value) in indices.iter().zip(values) {
                        slots[index] = Some(value);
                    }
                }
            }
        }
        Validated(slots.into_iter().map(Option::unwrap_or_default).collect())
    }
}

/// Moves the schemas lent to the root schema back to their owners (inline ones are dropped).
fn restore_schemas(
    root: Value,
    group_targets: &[&Target],
    types: &mut BTreeMap<String, Value>,
    config: &mut Value,
    tools: &mut BTreeMap<String, CheckedTool>,
) {
    let Value::Object(mut root) = root else {
        return;
    };
    if let Some(Value::Object(defs)) = root.remove("$defs") {
        *types = defs.into_iter().collect();
    }
    let Some(Value::Array(items)) = root.remove("prefixItems") else {
        return;
    };
    for (target, item) in group_targets.iter().zip(items) {
        let Value::Object(mut item) = item else {
            continue;
        };
        let Some(schema) = item.remove("items") else {
            continue;
        };
        match target {
            Target::Input(tool) => {
                if let Some(tool) = tools.get_mut(*tool) {
                    tool.input = schema;
                }
            }
            Target::Output(tool) => {
                if let Some(tool) = tools.get_mut(*tool) {
                    tool.output = schema;
                }
            }
            Target::Config => *config = schema,
            Target::Inline(_) => {}
        }
    }
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
    members: &[Vec<usize>],
    origins: &[Origin],
    tools: &BTreeMap<String, CheckedTool>,
) -> Option<Diagnostic> {
    let mut segments = error.instance_path().segments();
    let (LocationSegment::Index(group), Some(LocationSegment::Index(member))) =
        (segments.next()?, segments.next())
    else {
        return None;
    };
    let origin = origins.get(*members.get(group)?.get(member)?)?;
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
