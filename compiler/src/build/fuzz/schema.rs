//! A JSON Schema (2020-12, as spec-lang emits it and a little beyond) read into the constraints
//! input generation needs: `$ref` and `allOf` merged into one flat set, `anyOf`/`oneOf` kept as
//! choices. Keywords this does not know are skipped: they can only make a generated value
//! invalid, which the validator at the boundary catches, never a panic here.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// `$ref` chains and `allOf` nesting followed at most this deep (a cycle of references ends
/// here as "cannot generate").
const MAX_RESOLVE: u32 = 32;

/// The JSON types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ty {
    Null,
    Boolean,
    Integer,
    Number,
    String,
    Array,
    Object,
}

impl Ty {
    pub const ALL: [Ty; 7] = [
        Ty::Null,
        Ty::Boolean,
        Ty::Integer,
        Ty::Number,
        Ty::String,
        Ty::Array,
        Ty::Object,
    ];

    fn parse(name: &str) -> Option<Ty> {
        Some(match name {
            "null" => Ty::Null,
            "boolean" => Ty::Boolean,
            "integer" => Ty::Integer,
            "number" => Ty::Number,
            "string" => Ty::String,
            "array" => Ty::Array,
            "object" => Ty::Object,
            _ => return None,
        })
    }

    /// The type of a JSON value (integers are the numbers without a fraction, as 2020-12 has it).
    pub fn of(value: &Value) -> Ty {
        match value {
            Value::Null => Ty::Null,
            Value::Bool(_) => Ty::Boolean,
            Value::Number(n) if n.is_i64() || n.is_u64() => Ty::Integer,
            Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => Ty::Integer,
            Value::Number(_) => Ty::Number,
            Value::String(_) => Ty::String,
            Value::Array(_) => Ty::Array,
            Value::Object(_) => Ty::Object,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Ty::Null => "null",
            Ty::Boolean => "boolean",
            Ty::Integer => "integer",
            Ty::Number => "number",
            Ty::String => "string",
            Ty::Array => "array",
            Ty::Object => "object",
        }
    }
}

/// What `additionalProperties` allows.
#[derive(Debug, Clone, PartialEq)]
pub enum Additional {
    Any,
    Forbidden,
    Schema(Value),
}

/// One schema's constraints, flattened.
#[derive(Debug, Clone)]
pub struct Flat {
    /// `None`: any type.
    pub types: Option<BTreeSet<Ty>>,
    /// `enum` (or `const`, as one member).
    pub members: Option<Vec<Value>>,
    pub min_length: u64,
    pub max_length: Option<u64>,
    pub patterns: Vec<String>,
    pub format: Option<String>,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    pub exclusive_minimum: Option<f64>,
    pub exclusive_maximum: Option<f64>,
    pub multiple_of: Option<f64>,
    /// The schema of every array item past `prefix_items`.
    pub items: Option<Value>,
    pub prefix_items: Vec<Value>,
    pub min_items: u64,
    pub max_items: Option<u64>,
    pub unique: bool,
    /// Each property's schemas (more than one after a merge: all must hold).
    pub properties: BTreeMap<String, Vec<Value>>,
    pub required: BTreeSet<String>,
    pub additional: Additional,
    /// `anyOf` / `oneOf` groups: one branch of each must hold.
    pub choices: Vec<Vec<Value>>,
    /// `false`, or contradictory constraints met while merging.
    pub unsatisfiable: bool,
}

impl Default for Flat {
    fn default() -> Self {
        Flat {
            types: None,
            members: None,
            min_length: 0,
            max_length: None,
            patterns: Vec::new(),
            format: None,
            minimum: None,
            maximum: None,
            exclusive_minimum: None,
            exclusive_maximum: None,
            multiple_of: None,
            items: None,
            prefix_items: Vec::new(),
            min_items: 0,
            max_items: None,
            unique: false,
            properties: BTreeMap::new(),
            required: BTreeSet::new(),
            additional: Additional::Any,
            choices: Vec::new(),
            unsatisfiable: false,
        }
    }
}

impl Flat {
    /// Whether `ty` is allowed (by `type`; `enum` is checked separately).
    pub fn allows(&self, ty: Ty) -> bool {
        match &self.types {
            None => true,
            Some(types) => {
                types.contains(&ty) || (ty == Ty::Integer && types.contains(&Ty::Number))
            }
        }
    }

    /// The schema of property `name`, all its parts in one.
    pub fn property(&self, name: &str) -> Option<Value> {
        self.properties.get(name).map(|parts| all_of(parts))
    }

    /// Types this schema could hold, for choosing what to generate: the declared ones, else
    /// what the keywords present imply, else every type.
    pub fn candidate_types(&self) -> Vec<Ty> {
        if let Some(types) = &self.types {
            return types.iter().copied().collect();
        }
        let mut implied = Vec::new();
        if self.min_length > 0
            || self.max_length.is_some()
            || !self.patterns.is_empty()
            || self.format.is_some()
        {
            implied.push(Ty::String);
        }
        if self.minimum.is_some()
            || self.maximum.is_some()
            || self.exclusive_minimum.is_some()
            || self.exclusive_maximum.is_some()
        {
            implied.push(Ty::Number);
        }
        if self.items.is_some() || self.min_items > 0 || self.max_items.is_some() {
            implied.push(Ty::Array);
        }
        if !self.properties.is_empty() || !self.required.is_empty() {
            implied.push(Ty::Object);
        }
        if implied.is_empty() {
            Ty::ALL.to_vec()
        } else {
            implied
        }
    }
}

/// One schema standing for all of `parts`.
pub fn all_of(parts: &[Value]) -> Value {
    match parts {
        [one] => one.clone(),
        many => {
            let mut map = Map::new();
            map.insert("allOf".to_owned(), Value::Array(many.to_vec()));
            Value::Object(map)
        }
    }
}

/// Reads `schema` (inside the document `root`, which `$ref`s point into).
pub fn flatten(root: &Value, schema: &Value) -> Flat {
    let mut flat = Flat::default();
    merge_into(root, schema, &mut flat, 0);
    flat
}

/// Adds `schema`'s constraints to `flat` (a branch taken from one of its choices).
pub fn merge(root: &Value, schema: &Value, flat: &mut Flat) {
    merge_into(root, schema, flat, 0);
}

fn merge_into(root: &Value, schema: &Value, flat: &mut Flat, depth: u32) {
    if depth > MAX_RESOLVE {
        flat.unsatisfiable = true;
        return;
    }
    let map = match schema {
        Value::Bool(true) => return,
        Value::Object(map) => map,
        // `false`, or not a schema at all.
        _ => {
            flat.unsatisfiable = true;
            return;
        }
    };
    if let Some(Value::String(reference)) = map.get("$ref") {
        match resolve(root, reference) {
            Some(target) => merge_into(root, target, flat, depth + 1),
            None => flat.unsatisfiable = true,
        }
    }
    if let Some(Value::Array(parts)) = map.get("allOf") {
        for part in parts {
            merge_into(root, part, flat, depth + 1);
        }
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(branches)) = map.get(key) {
            if branches.is_empty() {
                flat.unsatisfiable = true;
            } else {
                flat.choices.push(branches.clone());
            }
        }
    }
    for (key, value) in map {
        merge_keyword(flat, key, value);
    }
}

/// `#` or `#/json/pointer` inside the document; other references are not followed.
fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    if pointer.is_empty() {
        return Some(root);
    }
    // A pointer's segments are percent-decoded in a URI fragment; spec-lang's names need none.
    root.pointer(pointer)
}

fn merge_keyword(flat: &mut Flat, key: &str, value: &Value) {
    let number = value.as_f64();
    let count = value.as_u64();
    match key {
        "type" => {
            let named: BTreeSet<Ty> = match value {
                Value::String(name) => Ty::parse(name).into_iter().collect(),
                Value::Array(names) => names
                    .iter()
                    .filter_map(Value::as_str)
                    .filter_map(Ty::parse)
                    .collect(),
                _ => return,
            };
            flat.types = Some(match flat.types.take() {
                None => named,
                Some(before) => {
                    // Integer ⊂ number: `number` ∧ `integer` is `integer`.
                    let widen = |set: &BTreeSet<Ty>, other: &BTreeSet<Ty>| {
                        let mut set = set.clone();
                        if set.contains(&Ty::Number) && other.contains(&Ty::Integer) {
                            set.insert(Ty::Integer);
                        }
                        set
                    };
                    let (a, b) = (widen(&before, &named), widen(&named, &before));
                    a.intersection(&b).copied().collect()
                }
            });
            if flat.types.as_ref().is_some_and(BTreeSet::is_empty) {
                flat.unsatisfiable = true;
            }
        }
        "enum" | "const" => {
            let members = match (key, value) {
                ("enum", Value::Array(members)) => members.clone(),
                ("const", value) => vec![value.clone()],
                _ => return,
            };
            flat.members = Some(match flat.members.take() {
                None => members,
                Some(before) => before.into_iter().filter(|m| members.contains(m)).collect(),
            });
            if flat.members.as_ref().is_some_and(Vec::is_empty) {
                flat.unsatisfiable = true;
            }
        }
        "minLength" => flat.min_length = flat.min_length.max(count.unwrap_or(0)),
        "maxLength" => flat.max_length = tighter_max(flat.max_length, count),
        "pattern" => {
            if let Value::String(pattern) = value {
                if !flat.patterns.contains(pattern) {
                    flat.patterns.push(pattern.clone());
                }
            }
        }
        "format" => {
            if let Value::String(format) = value {
                flat.format.get_or_insert_with(|| format.clone());
            }
        }
        "minimum" => flat.minimum = tighter(flat.minimum, number, f64::max),
        "maximum" => flat.maximum = tighter(flat.maximum, number, f64::min),
        "exclusiveMinimum" => {
            flat.exclusive_minimum = tighter(flat.exclusive_minimum, number, f64::max);
        }
        "exclusiveMaximum" => {
            flat.exclusive_maximum = tighter(flat.exclusive_maximum, number, f64::min);
        }
        // Two different steps rarely have a simple common multiple; the first is kept.
        "multipleOf" if number.is_some_and(|n| n > 0.0) && flat.multiple_of.is_none() => {
            flat.multiple_of = number;
        }
        "items" => {
            flat.items = Some(match flat.items.take() {
                None => value.clone(),
                Some(before) => all_of(&[before, value.clone()]),
            });
        }
        "prefixItems" => {
            if let Value::Array(items) = value {
                if flat.prefix_items.is_empty() {
                    flat.prefix_items = items.clone();
                }
            }
        }
        "minItems" => flat.min_items = flat.min_items.max(count.unwrap_or(0)),
        "maxItems" => flat.max_items = tighter_max(flat.max_items, count),
        "uniqueItems" => flat.unique |= value.as_bool() == Some(true),
        "properties" => {
            if let Value::Object(properties) = value {
                for (name, schema) in properties {
                    flat.properties
                        .entry(name.clone())
                        .or_default()
                        .push(schema.clone());
                }
            }
        }
        "required" => {
            if let Value::Array(names) = value {
                flat.required
                    .extend(names.iter().filter_map(Value::as_str).map(str::to_owned));
            }
        }
        "additionalProperties" => {
            flat.additional = match (&flat.additional, value) {
                (Additional::Forbidden, _) | (_, Value::Bool(false)) => Additional::Forbidden,
                (_, Value::Bool(true)) => flat.additional.clone(),
                (_, schema) => Additional::Schema(schema.clone()),
            };
        }
        "not" if value == &Value::Bool(true) => flat.unsatisfiable = true,
        // Annotations and keywords generation does not steer by.
        _ => {}
    }
}

fn tighter(before: Option<f64>, new: Option<f64>, pick: fn(f64, f64) -> f64) -> Option<f64> {
    match (before, new.filter(|n| n.is_finite())) {
        (Some(a), Some(b)) => Some(pick(a, b)),
        (a, b) => a.or(b),
    }
}

fn tighter_max(before: Option<u64>, new: Option<u64>) -> Option<u64> {
    match (before, new) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_and_their_siblings_merge_tightest_first() {
        let root = json!({
            "$defs": {"Id": {"type": "string", "maxLength": 10, "pattern": "^[a-z]+$"}},
            "type": "object",
            "properties": {"id": {"$ref": "#/$defs/Id", "maxLength": 4, "minLength": 2}},
        });
        let id = flatten(&root, &root["properties"]["id"]);
        assert_eq!(id.max_length, Some(4));
        assert_eq!(id.min_length, 2);
        assert_eq!(id.patterns, ["^[a-z]+$"]);
        assert_eq!(id.types, Some([Ty::String].into()));
    }

    #[test]
    fn contradictions_and_dead_references_are_unsatisfiable() {
        let root = json!({"allOf": [{"type": "string"}, {"type": "integer"}]});
        assert!(flatten(&root, &root).unsatisfiable);
        let root = json!({"$ref": "#/$defs/Missing"});
        assert!(flatten(&root, &root).unsatisfiable);
        let root = json!({"$ref": "#"});
        assert!(flatten(&root, &root).unsatisfiable, "a cycle ends");
        assert!(flatten(&json!(false), &json!(false)).unsatisfiable);
        let root = json!({"enum": [1, 2], "const": 3});
        assert!(flatten(&root, &root).unsatisfiable);
    }

    #[test]
    fn number_and_integer_meet_at_integer_and_unknown_keywords_are_skipped() {
        let root = json!({"allOf": [{"type": "number"}, {"type": ["integer", "null"]}],
                          "x-odd": {"$ref": 5}, "minimum": "not a number"});
        let flat = flatten(&root, &root);
        assert_eq!(flat.types, Some([Ty::Integer].into()));
        assert_eq!(flat.minimum, None);
        assert!(!flat.unsatisfiable);
    }

    #[test]
    fn types_of_values() {
        assert_eq!(Ty::of(&json!(1)), Ty::Integer);
        assert_eq!(Ty::of(&json!(1.0)), Ty::Integer);
        assert_eq!(Ty::of(&json!(1.5)), Ty::Number);
        assert_eq!(Ty::of(&json!(u64::MAX)), Ty::Integer);
    }
}
