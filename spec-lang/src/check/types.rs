//! Types: name resolution, constraints, defaults and recursion, lowered straight to JSON Schema
//! 2020-12 in the same pass (one walk both checks a type and builds its schema). Invalid parts
//! lower to the permissive schema `{}`, so later checks do not repeat an error already reported.

use super::validate::{Origin, Validation};
use super::{code, suggest, values, Ctx, FirstSeen};
use crate::ast::{self, Literal, TypeKind, ValueKind};
use crate::schema;
use crate::{Diagnostic, Span};
use serde_json::{Map, Number, Value};
use std::collections::{BTreeMap, BTreeSet};

const BUILTINS: [&str; 5] = ["string", "int", "float", "bool", "any"];

/// What a type is underneath its names, for deciding which constraints fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Base {
    String,
    Integer,
    Number,
    Bool,
    Any,
    List,
    Record,
    Literals,
    /// An unknown name (already reported) or an alias cycle: every constraint is accepted.
    Unknown,
}

impl Base {
    fn describe(self) -> &'static str {
        match self {
            Base::String => "string",
            Base::Integer => "int",
            Base::Number => "float",
            Base::Bool => "bool",
            Base::Any => "any",
            Base::List => "a list",
            Base::Record => "a record",
            Base::Literals => "a literal union",
            Base::Unknown => "an unknown type",
        }
    }
}

/// How a constraint's arguments are read.
#[derive(Debug, Clone, Copy)]
enum Args {
    /// One number (`min(1)`).
    Number,
    /// Two numbers (`range(1, 100)`).
    Range,
    /// One non-negative integer (`max_len(80)`).
    Count,
    Regex,
    Format,
    Flag,
}

struct Rule {
    name: &'static str,
    applies_to: &'static [Base],
    args: Args,
    keywords: &'static [&'static str],
    explain: &'static str,
}

const NUMERIC: &[Base] = &[Base::Integer, Base::Number];
const RULES: &[Rule] = &[
    Rule {
        name: "min",
        applies_to: NUMERIC,
        args: Args::Number,
        keywords: &["minimum"],
        explain: "numbers",
    },
    Rule {
        name: "max",
        applies_to: NUMERIC,
        args: Args::Number,
        keywords: &["maximum"],
        explain: "numbers",
    },
    Rule {
        name: "range",
        applies_to: NUMERIC,
        args: Args::Range,
        keywords: &["minimum", "maximum"],
        explain: "numbers",
    },
    Rule {
        name: "min_len",
        applies_to: &[Base::String],
        args: Args::Count,
        keywords: &["minLength"],
        explain: "strings",
    },
    Rule {
        name: "max_len",
        applies_to: &[Base::String],
        args: Args::Count,
        keywords: &["maxLength"],
        explain: "strings",
    },
    Rule {
        name: "pattern",
        applies_to: &[Base::String],
        args: Args::Regex,
        keywords: &["pattern"],
        explain: "strings",
    },
    Rule {
        name: "format",
        applies_to: &[Base::String],
        args: Args::Format,
        keywords: &["format"],
        explain: "strings",
    },
    Rule {
        name: "min_items",
        applies_to: &[Base::List],
        args: Args::Count,
        keywords: &["minItems"],
        explain: "lists",
    },
    Rule {
        name: "max_items",
        applies_to: &[Base::List],
        args: Args::Count,
        keywords: &["maxItems"],
        explain: "lists",
    },
    Rule {
        name: "unique",
        applies_to: &[Base::List],
        args: Args::Flag,
        keywords: &["uniqueItems"],
        explain: "lists",
    },
];

const FORMATS: [&str; 8] = [
    "uri",
    "email",
    "date-time",
    "date",
    "hostname",
    "ipv4",
    "ipv6",
    "uuid",
];

/// Lower bound / upper bound keyword pairs that must not cross.
const BOUNDS: [(&str, &str); 3] = [
    ("minimum", "maximum"),
    ("minLength", "maxLength"),
    ("minItems", "maxItems"),
];

/// The named types of one spec (the first definition of each name).
pub(super) struct TypeEnv<'a> {
    defs: BTreeMap<&'a str, &'a ast::TypeDef>,
}

impl<'a> TypeEnv<'a> {
    pub fn new(ctx: &mut Ctx, defs: &[&'a ast::TypeDef]) -> Self {
        let mut seen = FirstSeen::new("type");
        let mut map = BTreeMap::new();
        for def in defs {
            let name = def.name.node.as_str();
            if BUILTINS.contains(&name) {
                ctx.report(
                    Diagnostic::error(
                        code::DUPLICATE_NAME,
                        format!("type `{name}` is a built-in type"),
                        def.name.span,
                    )
                    .with_label("redefines a built-in")
                    .with_help("choose another name for this type"),
                );
            } else if seen.first(ctx, name, def.name.span) {
                map.insert(name, *def);
            }
        }
        Self { defs: map }
    }

    /// Every named type's schema, by name; reports types that can never be finite.
    pub fn lower_named_types(
        &self,
        ctx: &mut Ctx,
        validation: &mut Validation<'a>,
    ) -> BTreeMap<String, Value> {
        self.report_infinite(ctx);
        self.defs
            .iter()
            .map(|(name, def)| {
                (
                    (*name).to_owned(),
                    self.lower_type(ctx, validation, &def.ty),
                )
            })
            .collect()
    }

    /// The object schema of `record`; an empty object when there is none.
    pub fn lower_record_or_empty(
        &self,
        ctx: &mut Ctx,
        validation: &mut Validation<'a>,
        record: Option<&'a ast::Record>,
    ) -> Value {
        match record {
            Some(record) => self.lower_record(ctx, validation, record),
            None => object_schema(Map::new(), Vec::new()),
        }
    }

    pub fn lower_record(
        &self,
        ctx: &mut Ctx,
        validation: &mut Validation<'a>,
        record: &'a ast::Record,
    ) -> Value {
        let mut seen = FirstSeen::new("field");
        let mut properties = Map::new();
        let mut required = Vec::new();
        for field in &record.fields {
            if !seen.first(ctx, &field.name.node, field.name.span) {
                continue;
            }
            let mut schema = self.lower_type(ctx, validation, &field.ty);
            if let Some(default) = &field.default {
                if let Some(json) = values::to_json(ctx, default) {
                    validation.add(
                        schema.clone(),
                        json.clone(),
                        Origin::Default {
                            value: default,
                            field: &field.name,
                        },
                    );
                    insert(&mut schema, "default", json);
                }
            }
            if let Some(doc) = &field.doc {
                insert(&mut schema, "description", Value::String(doc.clone()));
            }
            if !field.optional && field.default.is_none() {
                required.push(Value::String(field.name.node.clone()));
            }
            properties.insert(field.name.node.clone(), schema);
        }
        object_schema(properties, required)
    }

    fn lower_type(
        &self,
        ctx: &mut Ctx,
        validation: &mut Validation<'a>,
        ty: &'a ast::TypeExpr,
    ) -> Value {
        let mut schema = match &ty.kind {
            TypeKind::Name(name) => self.lower_name(ctx, name),
            TypeKind::List(item) => {
                let mut map = Map::new();
                map.insert("type".to_owned(), Value::String("array".to_owned()));
                map.insert("items".to_owned(), self.lower_type(ctx, validation, item));
                Value::Object(map)
            }
            TypeKind::Record(record) => self.lower_record(ctx, validation, record),
            TypeKind::Union(literals) => lower_union(ctx, literals),
        };
        if !ty.constraints.is_empty() {
            let base = self.base(ty);
            apply_constraints(ctx, &mut schema, base, &ty.constraints);
        }
        schema
    }

    fn lower_name(&self, ctx: &mut Ctx, name: &ast::Ident) -> Value {
        let scalar = |kind: &str| {
            let mut map = Map::new();
            map.insert("type".to_owned(), Value::String(kind.to_owned()));
            Value::Object(map)
        };
        match name.node.as_str() {
            "string" => scalar("string"),
            "int" => scalar("integer"),
            "float" => scalar("number"),
            "bool" => scalar("boolean"),
            "any" => Value::Object(Map::new()),
            named if self.defs.contains_key(named) => schema::reference(named),
            unknown => {
                let candidates = BUILTINS.iter().copied().chain(self.defs.keys().copied());
                ctx.report(
                    Diagnostic::error(code::UNKNOWN_TYPE, format!("unknown type `{unknown}`"), name.span)
                        .with_label("no type has this name")
                        .with_help(suggest::help(unknown, candidates, || {
                            "declare it with `type NAME { ... }`, or use string, int, float, bool or any".to_owned()
                        })),
                );
                Value::Object(Map::new())
            }
        }
    }

    /// The base of `ty`, following aliases (`type Login = string`) with a bound on the chain.
    fn base(&self, ty: &ast::TypeExpr) -> Base {
        let mut current = ty;
        for _ in 0..=self.defs.len() {
            match &current.kind {
                TypeKind::List(_) => return Base::List,
                TypeKind::Record(_) => return Base::Record,
                TypeKind::Union(_) => return Base::Literals,
                TypeKind::Name(name) => match name.node.as_str() {
                    "string" => return Base::String,
                    "int" => return Base::Integer,
                    "float" => return Base::Number,
                    "bool" => return Base::Bool,
                    "any" => return Base::Any,
                    named => match self.defs.get(named) {
                        Some(def) => current = &def.ty,
                        None => return Base::Unknown,
                    },
                },
            }
        }
        Base::Unknown
    }

    /// Reports named types that have no finite value (`type A { next: A }`), once per cycle
    /// member. A type is finite when it is a scalar, a literal union, a list that may be empty,
    /// or a record whose required fields are all finite: the least fixpoint of that rule.
    fn report_infinite(&self, ctx: &mut Ctx) {
        let mut finite: BTreeSet<&str> = BTreeSet::new();
        loop {
            let before = finite.len();
            for (name, def) in &self.defs {
                if !finite.contains(name) && self.is_finite(&def.ty, &finite) {
                    finite.insert(name);
                }
            }
            if finite.len() == before {
                break;
            }
        }
        let infinite: BTreeSet<&str> = self
            .defs
            .keys()
            .copied()
            .filter(|name| !finite.contains(name))
            .collect();
        for name in &infinite {
            if self.reaches(name, name, &infinite) {
                if let Some(def) = self.defs.get(name) {
                    ctx.report(
                        Diagnostic::error(code::INFINITE_TYPE, format!("type `{name}` has no finite value"), def.name.span)
                            .with_label("every value of this type must contain another one")
                            .with_help("make the recursive field optional (`next?: T`) or a list (`children: [T]`)"),
                    );
                }
            }
        }
    }

    fn is_finite(&self, ty: &ast::TypeExpr, finite: &BTreeSet<&str>) -> bool {
        match &ty.kind {
            TypeKind::Name(name) => {
                !self.defs.contains_key(name.node.as_str()) || finite.contains(name.node.as_str())
            }
            TypeKind::Union(_) => true,
            TypeKind::List(item) => min_items(ty) == 0 || self.is_finite(item, finite),
            TypeKind::Record(record) => record
                .fields
                .iter()
                .filter(|field| !field.optional && field.default.is_none())
                .all(|field| self.is_finite(&field.ty, finite)),
        }
    }

    /// Whether `from` refers, through types in `within`, to `to`.
    fn reaches(&self, from: &str, to: &str, within: &BTreeSet<&str>) -> bool {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from];
        while let Some(current) = stack.pop() {
            let Some(def) = self.defs.get(current) else {
                continue;
            };
            let mut next = Vec::new();
            names_in(&def.ty, &mut next);
            for name in next {
                if name == to {
                    return true;
                }
                if within.contains(name) && seen.insert(name) {
                    stack.push(name);
                }
            }
        }
        false
    }
}

fn names_in<'t>(ty: &'t ast::TypeExpr, out: &mut Vec<&'t str>) {
    match &ty.kind {
        TypeKind::Name(name) => out.push(&name.node),
        TypeKind::List(item) => names_in(item, out),
        TypeKind::Record(record) => record
            .fields
            .iter()
            .for_each(|field| names_in(&field.ty, out)),
        TypeKind::Union(_) => {}
    }
}

fn min_items(ty: &ast::TypeExpr) -> u64 {
    ty.constraints
        .iter()
        .filter(|constraint| constraint.name.node == "min_items")
        .filter_map(
            |constraint| match constraint.args.first().map(|arg| &arg.kind) {
                Some(ValueKind::Number(digits)) => digits.parse().ok(),
                _ => None,
            },
        )
        .max()
        .unwrap_or(0)
}

fn object_schema(properties: Map<String, Value>, required: Vec<Value>) -> Value {
    let mut map = Map::new();
    map.insert("type".to_owned(), Value::String("object".to_owned()));
    map.insert("properties".to_owned(), Value::Object(properties));
    if !required.is_empty() {
        map.insert("required".to_owned(), Value::Array(required));
    }
    map.insert("additionalProperties".to_owned(), Value::Bool(false));
    Value::Object(map)
}

fn insert(schema: &mut Value, key: &str, value: Value) {
    if let Value::Object(map) = schema {
        map.insert(key.to_owned(), value);
    }
}

/// `"a" | "b"` as `enum` (one literal: `const`); duplicates are reported.
fn lower_union(ctx: &mut Ctx, literals: &[ast::Spanned<Literal>]) -> Value {
    let mut values: Vec<Value> = Vec::with_capacity(literals.len());
    let mut spans: Vec<Span> = Vec::with_capacity(literals.len());
    for literal in literals {
        let value = match &literal.node {
            Literal::String(text) => Value::String(text.clone()),
            Literal::Bool(flag) => Value::Bool(*flag),
            Literal::Number(digits) => match values::number(ctx, digits, literal.span) {
                Some(number) => Value::Number(number),
                None => continue,
            },
        };
        if let Some(index) = values.iter().position(|seen| *seen == value) {
            ctx.report(super::duplicate(
                "literal",
                &value.to_string(),
                literal.span,
                spans[index],
            ));
            continue;
        }
        values.push(value);
        spans.push(literal.span);
    }
    let mut map = Map::new();
    match values.len() {
        1 => {
            map.insert("const".to_owned(), values.remove(0));
        }
        _ => {
            map.insert("enum".to_owned(), Value::Array(values));
        }
    }
    Value::Object(map)
}

fn apply_constraints(
    ctx: &mut Ctx,
    schema: &mut Value,
    base: Base,
    constraints: &[ast::Constraint],
) {
    let mut set_at: BTreeMap<&'static str, Span> = BTreeMap::new();
    for constraint in constraints {
        let name = constraint.name.node.as_str();
        let Some(rule) = RULES.iter().find(|rule| rule.name == name) else {
            ctx.report(
                Diagnostic::error(code::UNKNOWN_CONSTRAINT, format!("unknown constraint `{name}`"), constraint.name.span)
                    .with_label("not a constraint")
                    .with_help(suggest::help(name, RULES.iter().map(|rule| rule.name), || {
                        "the constraints are min, max, range, min_len, max_len, pattern, format, min_items, max_items and unique".to_owned()
                    })),
            );
            continue;
        };
        if base != Base::Unknown && !rule.applies_to.contains(&base) {
            ctx.report(
                Diagnostic::error(
                    code::CONSTRAINT_MISMATCH,
                    format!("`{name}` does not apply to {}", base.describe()),
                    constraint.span,
                )
                .with_label(format!("on a value of type {}", base.describe()))
                .with_help(format!(
                    "`{name}` constrains {}; remove it or change the type",
                    rule.explain
                )),
            );
            continue;
        }
        let Some(values) = constraint_values(ctx, rule, base, constraint) else {
            continue;
        };
        for (keyword, value) in rule.keywords.iter().zip(values) {
            if let Some(first) = set_at.get(keyword) {
                ctx.report(
                    Diagnostic::error(
                        code::DUPLICATE_NAME,
                        format!("`{keyword}` is constrained more than once"),
                        constraint.span,
                    )
                    .with_label("constrained again here")
                    .with_secondary(*first, "first constrained here")
                    .with_help("keep one of the two constraints"),
                );
                continue;
            }
            set_at.insert(keyword, constraint.span);
            insert(schema, keyword, value);
        }
    }
    check_bounds(ctx, schema, &set_at);
}

/// The schema values a constraint contributes, one per keyword of its rule.
fn constraint_values(
    ctx: &mut Ctx,
    rule: &Rule,
    base: Base,
    constraint: &ast::Constraint,
) -> Option<Vec<Value>> {
    let expected = match rule.args {
        Args::Range => 2,
        Args::Flag => 0,
        _ => 1,
    };
    if constraint.args.len() != expected {
        ctx.report(bad_argument(
            constraint,
            format!(
                "`{}` takes {expected} argument{}, found {}",
                rule.name,
                plural(expected),
                constraint.args.len()
            ),
            constraint.span,
            match rule.args {
                Args::Range => "write e.g. `range(1, 100)`",
                Args::Flag => "write `unique` without parentheses",
                Args::Number => "write e.g. `min(1)`",
                Args::Count => "write a whole number, e.g. `max_len(80)`",
                Args::Regex => "write a quoted regular expression, e.g. `pattern(\"^[a-z]+$\")`",
                Args::Format => "write e.g. `format(uri)`",
            },
        ));
        return None;
    }
    match rule.args {
        Args::Flag => Some(vec![Value::Bool(true)]),
        Args::Number | Args::Range => constraint
            .args
            .iter()
            .map(|arg| number_argument(ctx, constraint, arg, base))
            .collect::<Vec<_>>()
            .into_iter()
            .collect(),
        Args::Count => {
            count_argument(ctx, constraint, &constraint.args[0]).map(|count| vec![count])
        }
        Args::Regex => {
            regex_argument(ctx, constraint, &constraint.args[0]).map(|regex| vec![regex])
        }
        Args::Format => {
            format_argument(ctx, constraint, &constraint.args[0]).map(|format| vec![format])
        }
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

fn bad_argument(
    constraint: &ast::Constraint,
    message: String,
    span: Span,
    help: &str,
) -> Diagnostic {
    Diagnostic::error(code::INVALID_CONSTRAINT_ARGUMENT, message, span)
        .with_label(format!("in `{}`", constraint.name.node))
        .with_help(help.to_owned())
}

fn number_argument(
    ctx: &mut Ctx,
    constraint: &ast::Constraint,
    arg: &ast::Value,
    base: Base,
) -> Option<Value> {
    let number = match &arg.kind {
        ValueKind::Number(digits) => values::parse_number(digits),
        _ => None,
    };
    match number {
        Some(number) if base != Base::Integer || number.is_i64() || number.is_u64() => {
            Some(Value::Number(number))
        }
        Some(_) => {
            ctx.report(bad_argument(
                constraint,
                "an `int` bound must be a whole number".to_owned(),
                arg.span,
                "write a whole number, or make the field a `float`",
            ));
            None
        }
        None => {
            ctx.report(bad_argument(
                constraint,
                format!("`{}` needs a number", constraint.name.node),
                arg.span,
                "write a number such as 0, 100 or 2.5",
            ));
            None
        }
    }
}

fn count_argument(ctx: &mut Ctx, constraint: &ast::Constraint, arg: &ast::Value) -> Option<Value> {
    let count = match &arg.kind {
        ValueKind::Number(digits) => digits.parse::<u64>().ok(),
        _ => None,
    };
    match count {
        Some(count) => Some(Value::Number(Number::from(count))),
        None => {
            ctx.report(bad_argument(
                constraint,
                format!(
                    "`{}` needs a whole number of at least 0",
                    constraint.name.node
                ),
                arg.span,
                "write a count such as 1 or 80",
            ));
            None
        }
    }
}

fn regex_argument(ctx: &mut Ctx, constraint: &ast::Constraint, arg: &ast::Value) -> Option<Value> {
    let ValueKind::String(pattern) = &arg.kind else {
        ctx.report(bad_argument(
            constraint,
            "`pattern` needs a quoted regular expression".to_owned(),
            arg.span,
            "write e.g. `pattern(\"^[a-z]+$\")`",
        ));
        return None;
    };
    // Parse only (no compilation): a syntax check is all that is needed here and is far cheaper.
    match regex_syntax::ast::parse::Parser::new().parse(pattern) {
        Ok(_) => Some(Value::String(pattern.clone())),
        Err(error) => {
            let reason = error.to_string();
            let summary = reason
                .lines()
                .last()
                .unwrap_or("invalid syntax")
                .trim()
                .trim_start_matches("error: ");
            ctx.report(bad_argument(constraint, format!("invalid regular expression: {summary}"), arg.span, "fix the regular expression (Rust `regex` syntax, anchored with ^ and $ if the whole value must match)"));
            None
        }
    }
}

fn format_argument(ctx: &mut Ctx, constraint: &ast::Constraint, arg: &ast::Value) -> Option<Value> {
    let (ValueKind::Word(format) | ValueKind::String(format)) = &arg.kind else {
        ctx.report(bad_argument(
            constraint,
            "`format` needs a format name".to_owned(),
            arg.span,
            "write e.g. `format(uri)`",
        ));
        return None;
    };
    if FORMATS.contains(&format.as_str()) {
        return Some(Value::String(format.clone()));
    }
    let help = suggest::help(format, FORMATS, || {
        format!("the formats are: {}", FORMATS.join(", "))
    });
    ctx.report(bad_argument(
        constraint,
        format!("unknown format `{format}`"),
        arg.span,
        &help,
    ));
    None
}

/// `min(10) max(5)`: no value could satisfy both.
fn check_bounds(ctx: &mut Ctx, schema: &Value, set_at: &BTreeMap<&'static str, Span>) {
    for (low_key, high_key) in BOUNDS {
        let (Some(low), Some(high)) = (
            schema.get(low_key).and_then(Value::as_f64),
            schema.get(high_key).and_then(Value::as_f64),
        ) else {
            continue;
        };
        if low <= high {
            continue;
        }
        let (Some(low_span), Some(high_span)) = (set_at.get(low_key), set_at.get(high_key)) else {
            continue;
        };
        let (at, other, other_label) = if low_span.start >= high_span.start {
            (*low_span, *high_span, format!("{high_key} {high} set here"))
        } else {
            (*high_span, *low_span, format!("{low_key} {low} set here"))
        };
        let mut diagnostic = Diagnostic::error(
            code::EMPTY_RANGE,
            format!("{low_key} {low} is greater than {high_key} {high}"),
            at,
        )
        .with_label("no value can satisfy both bounds")
        .with_help("swap or correct the bounds");
        if other != at {
            diagnostic = diagnostic.with_secondary(other, other_label);
        }
        ctx.report(diagnostic);
    }
}
