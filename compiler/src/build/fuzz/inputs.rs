//! A hardening run's inputs for one tool, from its input schema alone (pure: no IO, no clock):
//! boundary values first (each property at its edges, the others minimal), then random valid
//! inputs, then invalid ones (wrong types, missing or extra properties, out of range) that the
//! gateway's validator must refuse and that are therefore never sent to the tool.
//!
//! The same schema, hints, seed and count give the same cases in the same order on every
//! machine: the order is the case's index in a report.

use serde_json::{Map, Number, Value};

use super::pattern::{Pattern, Size};
use super::rng::Rng;
use super::schema::{flatten, Additional, Flat, Ty};
use super::values::{self, LONG_UNBOUNDED, MAX_STRING};

/// Nesting generated at random before values turn minimal (recursive types end there).
const MAX_DEPTH: u32 = 6;
/// Nesting past which even a minimal value is not attempted.
const MAX_MINIMAL_DEPTH: u32 = 24;
/// The most items of a "maximal" array, and the length of one where nothing bounds it.
const MAX_ITEMS: u64 = 1000;
const UNBOUNDED_ITEMS: u64 = 100;
/// Item boundaries tried inside arrays (each makes one case).
const ITEM_BOUNDARIES: usize = 8;
/// Random inputs tried per wanted one before the schema is taken to have no more distinct ones.
const RANDOM_TRIES: usize = 4;

/// What a case is meant to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// At an edge of what the schema allows.
    Boundary,
    /// Random within the schema.
    Valid,
    /// Outside the schema: for the validator to refuse; never sent.
    Invalid,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Boundary => "boundary",
            Kind::Valid => "valid",
            Kind::Invalid => "invalid",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub kind: Kind,
    /// What was varied, e.g. `/title: the empty string`.
    pub label: String,
    pub value: Value,
}

/// What the spec says beyond the schema, for realistic values.
#[derive(Debug, Clone, Default)]
pub struct Hints {
    /// The hosts the integration may reach: `uri`s mostly point there, so requests get past
    /// the allowlist to the code's handling of the answer.
    pub hosts: Vec<String>,
    /// The arguments of the tool's examples: random inputs often take a property's value from
    /// one of them (a note that exists, an id the fixtures know), so they reach deeper code.
    pub examples: Vec<Value>,
}

/// Up to `count` distinct cases to send (boundaries, then random valid ones) followed by up to
/// `count / 4 + 1` distinct invalid ones; fewer when the schema has fewer distinct values.
pub fn generate(schema: &Value, hints: &Hints, rng: Rng, count: usize) -> Vec<Case> {
    let mut generator = Generator {
        root: schema,
        hints,
        rng,
        patterns: Vec::new(),
    };
    let mut cases: Vec<Case> = Vec::new();
    let push = |cases: &mut Vec<Case>, kind, label: String, value: Value| {
        if !cases.iter().any(|case| case.value == value) {
            cases.push(Case { kind, label, value });
        }
    };
    if count == 0 {
        return cases;
    }
    let flat = flatten(schema, schema);
    for (label, value) in generator.boundaries(&flat, 0) {
        if cases.len() >= count {
            break;
        }
        push(&mut cases, Kind::Boundary, label, value);
    }
    let mut tries = 0;
    while cases.len() < count && tries < count * RANDOM_TRIES {
        tries += 1;
        if let Some(value) = generator.random(&flat, 0) {
            push(&mut cases, Kind::Valid, "random".to_owned(), value);
        }
    }
    let sendable = cases.len();
    for (label, value) in generator.invalids(&flat, 0) {
        if cases.len() - sendable > count / 4 {
            break;
        }
        push(&mut cases, Kind::Invalid, label, value);
    }
    cases
}

struct Generator<'a> {
    root: &'a Value,
    hints: &'a Hints,
    rng: Rng,
    /// Compiled patterns by source (`None`: not readable here).
    patterns: Vec<(String, Option<Pattern>)>,
}

type Labelled = Vec<(String, Value)>;

impl Generator<'_> {
    fn flat(&self, schema: &Value) -> Flat {
        flatten(self.root, schema)
    }

    /// `flat` with one branch of every `anyOf`/`oneOf` taken: `first` for the first group,
    /// random ones elsewhere.
    fn choose(&mut self, flat: &Flat, first: Option<usize>) -> Flat {
        let mut flat = flat.clone();
        let mut first = first;
        for _ in 0..MAX_DEPTH * 4 {
            let groups = std::mem::take(&mut flat.choices);
            if groups.is_empty() {
                return flat;
            }
            for branches in groups {
                let at = first
                    .take()
                    .unwrap_or_else(|| self.rng.index(branches.len()));
                if let Some(branch) = branches.get(at) {
                    super::schema::merge(self.root, branch, &mut flat);
                }
            }
        }
        flat.unsatisfiable = true;
        flat
    }

    fn ty(&mut self, flat: &Flat) -> Option<Ty> {
        let types = flat.candidate_types();
        self.rng.pick(&types).copied()
    }

    // ---- valid values -------------------------------------------------------------------

    fn random(&mut self, flat: &Flat, depth: u32) -> Option<Value> {
        if depth >= MAX_DEPTH {
            return self.minimal(flat, depth);
        }
        let flat = &self.choose(flat, None);
        if flat.unsatisfiable {
            return None;
        }
        if let Some(members) = &flat.members {
            return self.rng.pick(members).cloned();
        }
        match self.ty(flat)? {
            Ty::Null => Some(Value::Null),
            Ty::Boolean => Some(Value::Bool(self.rng.one_in(2))),
            Ty::Integer => self.random_integer(flat),
            Ty::Number => self.random_number(flat),
            Ty::String => self.string(flat, Size::Random).map(Value::String),
            Ty::Array => {
                let (min, max) = item_bounds(flat)?;
                let length = self.rng.between(
                    i64::try_from(min).ok()?,
                    i64::try_from(max.min(min + 4)).ok()?,
                );
                self.array(flat, u64::try_from(length).ok()?, depth, false)
            }
            Ty::Object => {
                let mut object = Map::new();
                for (name, _) in flat.properties.clone() {
                    if flat.required.contains(&name) || self.rng.one_in(2) {
                        let from_example = if depth == 0 && self.rng.one_in(3) {
                            self.example_value(&name)
                        } else {
                            None
                        };
                        let value = match from_example {
                            Some(value) => value,
                            None => {
                                let schema = flat.property(&name)?;
                                self.random(&self.flat(&schema), depth + 1)?
                            }
                        };
                        object.insert(name, value);
                    }
                }
                self.required_only_elsewhere(flat, &mut object, depth)?;
                Some(Value::Object(object))
            }
        }
    }

    /// The value of top-level property `name` in one of the examples, if any has it.
    fn example_value(&mut self, name: &str) -> Option<Value> {
        let values: Vec<&Value> = self
            .hints
            .examples
            .iter()
            .filter_map(|example| example.get(name))
            .collect();
        self.rng.pick(&values).map(|value| (*value).clone())
    }

    /// The smallest valid value: required properties only, minimal items, shortest strings,
    /// numbers nearest zero.
    fn minimal(&mut self, flat: &Flat, depth: u32) -> Option<Value> {
        if depth > MAX_MINIMAL_DEPTH {
            return None;
        }
        let flat = &self.choose(flat, Some(0));
        if flat.unsatisfiable {
            return None;
        }
        if let Some(members) = &flat.members {
            return members.first().cloned();
        }
        let ty = *flat.candidate_types().first()?;
        match ty {
            Ty::Null => Some(Value::Null),
            Ty::Boolean => Some(Value::Bool(false)),
            Ty::Integer => {
                let (lo, hi) = integer_range(flat);
                let value = nearest_zero(lo, hi)?;
                integer_value(flat, value)
            }
            Ty::Number => {
                let (lo, hi) = number_range(flat);
                let value = match (lo, hi) {
                    (Some(lo), _) if lo > 0.0 => lo,
                    (_, Some(hi)) if hi < 0.0 => hi,
                    _ => 0.0,
                };
                number_value(flat, value)
            }
            Ty::String => self.string(flat, Size::Shortest).map(Value::String),
            Ty::Array => {
                let (min, _) = item_bounds(flat)?;
                self.array(flat, min, depth, true)
            }
            Ty::Object => {
                let mut object = Map::new();
                self.required_only_elsewhere(flat, &mut object, depth)?;
                for name in flat.required.clone() {
                    if object.contains_key(&name) {
                        continue;
                    }
                    let value = match flat.property(&name) {
                        Some(schema) => self.minimal(&self.flat(&schema), depth + 1)?,
                        None => Value::Null,
                    };
                    object.insert(name, value);
                }
                Some(Value::Object(object))
            }
        }
    }

    /// Required names `properties` does not describe: any value does where extra properties
    /// are allowed; none can where they are forbidden.
    fn required_only_elsewhere(
        &mut self,
        flat: &Flat,
        object: &mut Map<String, Value>,
        depth: u32,
    ) -> Option<()> {
        for name in &flat.required {
            if object.contains_key(name) || flat.properties.contains_key(name) {
                continue;
            }
            let value = match &flat.additional {
                Additional::Forbidden => return None,
                Additional::Any => Value::Null,
                Additional::Schema(schema) => self.minimal(&self.flat(schema), depth + 1)?,
            };
            object.insert(name.clone(), value);
        }
        Some(())
    }

    fn array(&mut self, flat: &Flat, length: u64, depth: u32, minimal: bool) -> Option<Value> {
        let mut items = Vec::new();
        let mut tries = 0;
        while (items.len() as u64) < length {
            tries += 1;
            if tries > length * 4 + 8 {
                return None;
            }
            let schema = flat
                .prefix_items
                .get(items.len())
                .or(flat.items.as_ref())
                .cloned()
                .unwrap_or(Value::Bool(true));
            let item_flat = self.flat(&schema);
            // The first minimal item is the minimal one; later ones must differ when unique.
            let item = if minimal && (items.is_empty() || !flat.unique) {
                self.minimal(&item_flat, depth + 1)?
            } else {
                self.random(&item_flat, depth + 1)?
            };
            if flat.unique && items.contains(&item) {
                continue;
            }
            items.push(item);
        }
        Some(Value::Array(items))
    }

    fn random_integer(&mut self, flat: &Flat) -> Option<Value> {
        let (lo, hi) = integer_range(flat);
        let clamp = |v: i128| i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX });
        let value = match (lo, hi) {
            (Some(lo), Some(hi)) => i128::from(self.rng.between(clamp(lo), clamp(hi))),
            (Some(lo), None) => lo + i128::from(self.rng.between(0, 1000)),
            (None, Some(hi)) => hi - i128::from(self.rng.between(0, 1000)),
            (None, None) => i128::from(self.rng.between(-1000, 1000)),
        };
        integer_value(flat, value)
    }

    fn random_number(&mut self, flat: &Flat) -> Option<Value> {
        let (lo, hi) = number_range(flat);
        let unit = self.rng.unit();
        let value = match (lo, hi) {
            (Some(lo), Some(hi)) => lo + (hi - lo) * unit,
            (Some(lo), None) => lo + 1000.0 * unit,
            (None, Some(hi)) => hi - 1000.0 * unit,
            (None, None) => 2000.0 * unit - 1000.0,
        };
        // A few decimals, as people write them; the bounds still hold after rounding or not.
        let rounded = (value * 1e4).round() / 1e4;
        number_value(flat, rounded).or_else(|| number_value(flat, value))
    }

    /// Index of `source` in the pattern cache, compiling it on first use.
    fn pattern(&mut self, source: &str) -> usize {
        if let Some(at) = self.patterns.iter().position(|(s, _)| s == source) {
            return at;
        }
        self.patterns
            .push((source.to_owned(), Pattern::new(source)));
        self.patterns.len() - 1
    }

    /// Whether `text` meets every string constraint of `flat` (`None`: a pattern cannot be
    /// read here, so nothing is known to meet it).
    fn fits(&mut self, flat: &Flat, text: &str) -> bool {
        let length = text.chars().count() as u64;
        if length < flat.min_length || flat.max_length.is_some_and(|max| length > max) {
            return false;
        }
        let indices: Vec<usize> = flat.patterns.iter().map(|p| self.pattern(p)).collect();
        indices.into_iter().all(|at| {
            self.patterns[at]
                .1
                .as_ref()
                .is_some_and(|pattern| pattern.matches(text))
        })
    }

    fn string(&mut self, flat: &Flat, size: Size) -> Option<String> {
        let min = usize::try_from(flat.min_length).ok()?;
        let max = flat
            .max_length
            .and_then(|m| usize::try_from(m).ok())
            .unwrap_or(usize::MAX);
        let cap = max.min(MAX_STRING);
        if min > cap {
            return None;
        }
        // A format's instance is the realistic value (a minimal one too: an empty date-time
        // tells nothing); the empty string and the other edges are boundaries of their own.
        if matches!(size, Size::Random | Size::Shortest) {
            if let Some(format) = flat.format.clone() {
                if let Some(text) = values::formatted(&mut self.rng, &format, &self.hints.hosts) {
                    if self.fits(flat, &text) {
                        return Some(text);
                    }
                }
            }
        }
        if let Some(first) = flat.patterns.first().cloned() {
            let at = self.pattern(&first);
            let size = match size {
                Size::Longest { .. } => Size::Longest {
                    target: if max == usize::MAX {
                        LONG_UNBOUNDED
                    } else {
                        cap
                    },
                },
                other => other,
            };
            let Generator { patterns, rng, .. } = self;
            let text =
                patterns[at]
                    .1
                    .as_ref()?
                    .sample(rng, size, min, cap, &mut values::random_char)?;
            // The other patterns must hold too.
            return self.fits(flat, &text).then_some(text);
        }
        let length = match size {
            Size::Shortest => min,
            Size::Longest { .. } => {
                if max == usize::MAX {
                    LONG_UNBOUNDED.max(min)
                } else {
                    cap
                }
            }
            Size::Random => {
                // Never empty where something longer is allowed: the empty string is a
                // boundary of its own, and an ordinary value should not be an edge.
                let least = if cap >= 1 { min.max(1) } else { min };
                let most = cap.min(least + 24);
                least + self.rng.index(most - least + 1)
            }
        };
        let text = values::random_string(&mut self.rng, length);
        self.fits(flat, &text).then_some(text)
    }

    // ---- boundaries ---------------------------------------------------------------------

    fn boundaries(&mut self, flat: &Flat, depth: u32) -> Labelled {
        if depth > MAX_DEPTH {
            return Vec::new();
        }
        let groups = flat.choices.first().map_or(1, Vec::len);
        let mut found = Vec::new();
        for branch in 0..groups {
            let chosen = self.choose(flat, Some(branch));
            if chosen.unsatisfiable {
                continue;
            }
            found.extend(self.boundaries_of(&chosen, depth));
        }
        found
    }

    fn boundaries_of(&mut self, flat: &Flat, depth: u32) -> Labelled {
        if let Some(members) = &flat.members {
            return members
                .iter()
                .map(|member| (format!("the member {member}"), member.clone()))
                .collect();
        }
        let mut found = Vec::new();
        for ty in flat.candidate_types() {
            match ty {
                Ty::Null => found.push(("null".to_owned(), Value::Null)),
                Ty::Boolean => {
                    found.push(("true".to_owned(), Value::Bool(true)));
                    found.push(("false".to_owned(), Value::Bool(false)));
                }
                Ty::Integer => {
                    let (lo, hi) = integer_range(flat);
                    for (what, value) in values::integer_boundaries(lo, hi) {
                        if let Some(value) = integer_value(flat, value) {
                            found.push((format!("{what} ({value})"), value));
                        }
                    }
                }
                Ty::Number => {
                    let (lo, hi) = number_range(flat);
                    for (what, value) in values::number_boundaries(lo, hi) {
                        if let Some(value) = number_value(flat, value) {
                            found.push((format!("{what} ({value})"), value));
                        }
                    }
                }
                Ty::String => found.extend(self.string_boundaries(flat)),
                Ty::Array => found.extend(self.array_boundaries(flat, depth)),
                Ty::Object => found.extend(self.object_boundaries(flat, depth)),
            }
        }
        found
    }

    fn string_boundaries(&mut self, flat: &Flat) -> Labelled {
        let mut candidates: Vec<(String, String)> = Vec::new();
        if let Some(text) = self.string(flat, Size::Shortest) {
            candidates.push(("the shortest string".to_owned(), text));
        }
        if let Some(text) = self.string(flat, Size::Longest { target: 0 }) {
            let length = text.chars().count();
            candidates.push((format!("a string of {length} characters"), text));
        }
        if let Some(format) = &flat.format {
            candidates.extend(values::format_boundaries(format, &self.hints.hosts));
        }
        candidates.extend(
            values::special_strings()
                .into_iter()
                .map(|(what, text)| (what.to_owned(), text)),
        );
        let mut found = Vec::new();
        for (what, text) in candidates {
            if self.fits(flat, &text) {
                found.push((what, Value::String(text)));
            }
        }
        found
    }

    fn array_boundaries(&mut self, flat: &Flat, depth: u32) -> Labelled {
        let Some((min, max)) = item_bounds(flat) else {
            return Vec::new();
        };
        let mut found = Vec::new();
        if let Some(value) = self.array(flat, min, depth, true) {
            found.push((format!("{min} items (the fewest)"), value));
        }
        let most = max.min(if flat.max_items.is_some() {
            MAX_ITEMS
        } else {
            UNBOUNDED_ITEMS
        });
        if most > min {
            if let Some(value) = self.array(flat, most, depth, false) {
                found.push((format!("{most} items"), value));
            }
        }
        // One item at each of its own edges, the rest minimal.
        if max >= 1 && flat.prefix_items.is_empty() {
            let item_flat = self.flat(&flat.items.clone().unwrap_or(Value::Bool(true)));
            let filler = if min > 1 {
                self.array(flat, min - 1, depth, true)
            } else {
                Some(Value::Array(Vec::new()))
            };
            if let Some(Value::Array(filler)) = filler {
                for (what, item) in self
                    .boundaries(&item_flat, depth + 1)
                    .into_iter()
                    .take(ITEM_BOUNDARIES)
                {
                    if flat.unique && filler.contains(&item) {
                        continue;
                    }
                    let mut items = vec![item];
                    items.extend(filler.iter().cloned());
                    found.push((format!("an item: {what}"), Value::Array(items)));
                }
            }
        }
        found
    }

    /// The required properties only, each an ordinary (random) value: the base that one
    /// property at a time is varied on, so a case differs from the ordinary in one place.
    fn typical(&mut self, flat: &Flat, depth: u32) -> Option<Map<String, Value>> {
        let mut object = Map::new();
        for name in flat.required.clone() {
            let Some(schema) = flat.property(&name) else {
                continue;
            };
            let value = self.random(&self.flat(&schema), depth + 1)?;
            object.insert(name, value);
        }
        self.required_only_elsewhere(flat, &mut object, depth)?;
        Some(object)
    }

    fn object_boundaries(&mut self, flat: &Flat, depth: u32) -> Labelled {
        let Some(Value::Object(minimal)) = self.minimal(flat, depth) else {
            return Vec::new();
        };
        let base = self.typical(flat, depth).unwrap_or_else(|| minimal.clone());
        let mut found = vec![(
            "only the required properties, each minimal".to_owned(),
            Value::Object(minimal.clone()),
        )];
        // Every property present, the optional ones too.
        let mut full = minimal.clone();
        let mut complete = true;
        for (name, _) in flat.properties.clone() {
            if full.contains_key(&name) {
                continue;
            }
            match flat
                .property(&name)
                .and_then(|schema| self.random(&self.flat(&schema), depth + 1))
            {
                Some(value) => {
                    full.insert(name, value);
                }
                None => complete = false,
            }
        }
        if complete && full.len() > minimal.len() {
            found.push(("every property".to_owned(), Value::Object(full)));
        }
        // Each property at each of its edges, the others ordinary; taken round-robin so that
        // every property gets its first edges before any gets its last.
        found.extend(self.per_property(flat, &base, depth, Self::boundaries));
        found
    }

    /// Each property's `cases` set into `base`, labelled with the property's path, taken
    /// round-robin across the properties.
    fn per_property(
        &mut self,
        flat: &Flat,
        base: &Map<String, Value>,
        depth: u32,
        cases: fn(&mut Self, &Flat, u32) -> Labelled,
    ) -> Labelled {
        let mut lists: Vec<Labelled> = Vec::new();
        for (name, _) in flat.properties.clone() {
            let Some(schema) = flat.property(&name) else {
                continue;
            };
            let property = self.flat(&schema);
            let list = cases(self, &property, depth + 1)
                .into_iter()
                .map(|(what, value)| {
                    let mut object = base.clone();
                    object.insert(name.clone(), value);
                    (format!("/{name}: {what}"), Value::Object(object))
                })
                .collect();
            lists.push(list);
        }
        round_robin(lists)
    }

    // ---- invalid values -----------------------------------------------------------------

    fn invalids(&mut self, flat: &Flat, depth: u32) -> Labelled {
        if depth > MAX_DEPTH || flat.unsatisfiable || !flat.choices.is_empty() {
            // Inside a union a value wrong for one branch may be right for another: nothing
            // here is surely invalid.
            return Vec::new();
        }
        let mut found = Vec::new();
        let samples = [
            Value::Null,
            Value::Bool(true),
            Value::from(7),
            serde_json::json!(1.5),
            Value::String("x".to_owned()),
            Value::Array(Vec::new()),
            Value::Object(Map::new()),
            Value::String("clawc-not-a-member".to_owned()),
        ];
        for sample in samples {
            let wrong_type = !flat.allows(Ty::of(&sample));
            let not_member = flat
                .members
                .as_ref()
                .is_some_and(|members| !members.contains(&sample));
            if wrong_type || not_member {
                let what = if wrong_type {
                    format!(
                        "{} where {} is expected",
                        Ty::of(&sample).name(),
                        expected(flat)
                    )
                } else {
                    format!("{sample} (not a member)")
                };
                found.push((what, sample));
            }
        }
        if flat.members.is_some() {
            return found;
        }
        if flat.allows(Ty::String) {
            found.extend(self.string_invalids(flat));
        }
        if flat.allows(Ty::Integer) || flat.allows(Ty::Number) {
            found.extend(number_invalids(flat));
        }
        if flat.allows(Ty::Array) {
            found.extend(self.array_invalids(flat, depth));
        }
        if flat.allows(Ty::Object) {
            found.extend(self.object_invalids(flat, depth));
        }
        found
    }

    fn string_invalids(&mut self, flat: &Flat) -> Labelled {
        let mut found = Vec::new();
        let length_ok = |text: &str| {
            let length = text.chars().count() as u64;
            length >= flat.min_length && flat.max_length.is_none_or(|max| length <= max)
        };
        if flat.min_length > 0 {
            if let Ok(length) = usize::try_from(flat.min_length - 1) {
                if length <= MAX_STRING {
                    found.push((
                        format!("{length} characters (under minLength)"),
                        Value::String("a".repeat(length)),
                    ));
                }
            }
        }
        if let Some(max) = flat.max_length {
            if let Ok(length) = usize::try_from(max + 1) {
                if length <= MAX_STRING {
                    found.push((
                        format!("{length} characters (over maxLength)"),
                        Value::String("a".repeat(length)),
                    ));
                }
            }
        }
        if !flat.patterns.is_empty() {
            let sample = self.string(flat, Size::Random).unwrap_or_default();
            let candidates = [
                String::new(),
                " ".to_owned(),
                "!".to_owned(),
                "ÄÖÜ".to_owned(),
                format!("!{sample}"),
                format!("{sample}!"),
                format!(" {sample} "),
            ];
            for text in candidates {
                if !length_ok(&text) {
                    continue;
                }
                let indices: Vec<usize> = flat.patterns.iter().map(|p| self.pattern(p)).collect();
                let breaks = indices.into_iter().any(|at| {
                    self.patterns[at]
                        .1
                        .as_ref()
                        .is_some_and(|pattern| !pattern.matches(&text))
                });
                if breaks {
                    found.push((
                        format!("{text:?} (against the pattern)"),
                        Value::String(text),
                    ));
                }
            }
        }
        found
    }

    fn array_invalids(&mut self, flat: &Flat, depth: u32) -> Labelled {
        let Some((min, max)) = item_bounds(flat) else {
            return Vec::new();
        };
        let mut found = Vec::new();
        if min > 0 && min <= MAX_ITEMS {
            if let Some(value) = self.array(flat, min - 1, depth, true) {
                found.push((format!("{} items (under minItems)", min - 1), value));
            }
        }
        if flat.max_items.is_some() && max < MAX_ITEMS {
            // Unique random items, so the only fault is the count.
            let mut wider = flat.clone();
            wider.max_items = None;
            if let Some(value) = self.array(&wider, max + 1, depth, false) {
                found.push((format!("{} items (over maxItems)", max + 1), value));
            }
        }
        if flat.unique && max >= 2 {
            if let Some(Value::Array(mut items)) = self.array(flat, min.max(1), depth, true) {
                if let Some(first) = items.first().cloned() {
                    items.push(first);
                    if items.len() as u64 <= max {
                        found.push(("a repeated item".to_owned(), Value::Array(items)));
                    }
                }
            }
        }
        if max >= 1 && flat.prefix_items.is_empty() {
            if let Some(items) = flat.items.clone() {
                let item_flat = self.flat(&items);
                let filler = if min > 1 {
                    self.array(flat, min - 1, depth, true)
                } else {
                    Some(Value::Array(Vec::new()))
                };
                if let Some(Value::Array(filler)) = filler {
                    for (what, item) in self.invalids(&item_flat, depth + 1) {
                        let mut items = vec![item];
                        items.extend(filler.iter().cloned());
                        found.push((format!("an item: {what}"), Value::Array(items)));
                    }
                }
            }
        }
        found
    }

    fn object_invalids(&mut self, flat: &Flat, depth: u32) -> Labelled {
        let Some(minimal) = self.typical(flat, depth) else {
            return Vec::new();
        };
        let mut found = Vec::new();
        for name in &flat.required {
            let mut object = minimal.clone();
            object.remove(name);
            found.push((format!("/{name} missing (required)"), Value::Object(object)));
        }
        if flat.additional == Additional::Forbidden {
            let mut object = minimal.clone();
            let mut extra = "clawc_fuzz_extra".to_owned();
            while flat.properties.contains_key(&extra) {
                extra.push('_');
            }
            object.insert(extra.clone(), Value::from(1));
            found.push((
                format!("/{extra}: a property not declared"),
                Value::Object(object),
            ));
        }
        found.extend(self.per_property(flat, &minimal, depth, Self::invalids));
        found
    }
}

/// Interleaves lists: the first of each, then the second of each, …
fn round_robin(lists: Vec<Labelled>) -> Labelled {
    let mut iterators: Vec<_> = lists.into_iter().map(Vec::into_iter).collect();
    let mut out = Vec::new();
    loop {
        let before = out.len();
        for iterator in &mut iterators {
            out.extend(iterator.next());
        }
        if out.len() == before {
            return out;
        }
    }
}

fn expected(flat: &Flat) -> String {
    match &flat.types {
        Some(types) => types
            .iter()
            .map(|t| t.name())
            .collect::<Vec<_>>()
            .join(" or "),
        None => "another type".to_owned(),
    }
}

/// `minItems..=maxItems` (the maximum open as `u64::MAX`); `None` when they cross.
fn item_bounds(flat: &Flat) -> Option<(u64, u64)> {
    let max = flat.max_items.unwrap_or(u64::MAX);
    (flat.min_items <= max && flat.min_items <= MAX_ITEMS).then_some((flat.min_items, max))
}

/// The integers the numeric bounds allow, either side open.
fn integer_range(flat: &Flat) -> (Option<i128>, Option<i128>) {
    // Bounds past ±2^100 are as good as open, and keep the arithmetic in range.
    let whole = |f: f64| (f.abs() < 1e30).then_some(f as i128);
    let lo = [
        flat.minimum.and_then(|m| whole(m.ceil())),
        flat.exclusive_minimum
            .and_then(|m| whole(m.floor()).map(|m| m + 1)),
    ]
    .into_iter()
    .flatten()
    .max();
    let hi = [
        flat.maximum.and_then(|m| whole(m.floor())),
        flat.exclusive_maximum
            .and_then(|m| whole(m.ceil()).map(|m| m - 1)),
    ]
    .into_iter()
    .flatten()
    .min();
    (lo, hi)
}

fn number_range(flat: &Flat) -> (Option<f64>, Option<f64>) {
    let lo = match (flat.minimum, flat.exclusive_minimum) {
        (Some(m), Some(e)) => Some(m.max(e + e.abs().max(1.0) * 1e-9)),
        (Some(m), None) => Some(m),
        (None, Some(e)) => Some(e + e.abs().max(1.0) * 1e-9),
        (None, None) => None,
    };
    let hi = match (flat.maximum, flat.exclusive_maximum) {
        (Some(m), Some(e)) => Some(m.min(e - e.abs().max(1.0) * 1e-9)),
        (Some(m), None) => Some(m),
        (None, Some(e)) => Some(e - e.abs().max(1.0) * 1e-9),
        (None, None) => None,
    };
    (lo, hi)
}

fn nearest_zero(lo: Option<i128>, hi: Option<i128>) -> Option<i128> {
    match (lo, hi) {
        (Some(lo), Some(hi)) if lo > hi => None,
        (Some(lo), _) if lo > 0 => Some(lo),
        (_, Some(hi)) if hi < 0 => Some(hi),
        _ => Some(0),
    }
}

/// `value` as JSON when it meets `flat`'s integer constraints.
fn integer_value(flat: &Flat, value: i128) -> Option<Value> {
    let (lo, hi) = integer_range(flat);
    if lo.is_some_and(|lo| value < lo) || hi.is_some_and(|hi| value > hi) {
        return None;
    }
    if let Some(step) = flat.multiple_of {
        // Whole steps in exact arithmetic (a double cannot hold i64::MAX's last digits).
        let multiple = if step.fract() == 0.0 && step.abs() < 1e30 {
            value % (step as i128) == 0
        } else {
            (value as f64 / step).fract() == 0.0
        };
        if !multiple {
            return None;
        }
    }
    if let Ok(small) = i64::try_from(value) {
        Some(Value::from(small))
    } else {
        u64::try_from(value).ok().map(Value::from)
    }
}

/// `value` as JSON when it is finite and meets `flat`'s number constraints.
fn number_value(flat: &Flat, value: f64) -> Option<Value> {
    let (lo, hi) = number_range(flat);
    if !value.is_finite() || lo.is_some_and(|lo| value < lo) || hi.is_some_and(|hi| value > hi) {
        return None;
    }
    if let Some(step) = flat.multiple_of {
        if (value / step).fract() != 0.0 {
            return None;
        }
    }
    Number::from_f64(value).map(Value::Number)
}

fn number_invalids(flat: &Flat) -> Labelled {
    let integer_only = !flat.allows(Ty::Number);
    let mut found = Vec::new();
    let mut push = |what: String, value: Option<Value>| {
        if let Some(value) = value {
            found.push((what, value));
        }
    };
    let json = |f: f64| Number::from_f64(f).map(Value::Number);
    if let Some(min) = flat.minimum {
        let below = if integer_only {
            min.ceil() - 1.0
        } else {
            min - 0.5
        };
        push(format!("{below} (under the minimum {min})"), json(below));
    }
    if let Some(max) = flat.maximum {
        let above = if integer_only {
            max.floor() + 1.0
        } else {
            max + 0.5
        };
        push(format!("{above} (over the maximum {max})"), json(above));
    }
    if let Some(bound) = flat.exclusive_minimum {
        push(format!("{bound} (the exclusive minimum)"), json(bound));
    }
    if let Some(bound) = flat.exclusive_maximum {
        push(format!("{bound} (the exclusive maximum)"), json(bound));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn validator(schema: &Value) -> jsonschema::Validator {
        jsonschema::validator_for(schema).expect("a valid schema")
    }

    /// Every case of `schema` is what its kind says, by the gateway's own validator.
    fn assert_kinds_hold(what: &str, schema: &Value, hints: &Hints, seed: u64, count: usize) {
        let validator = validator(schema);
        let cases = generate(schema, hints, Rng::new(seed), count);
        for (index, case) in cases.iter().enumerate() {
            let valid = validator.is_valid(&case.value);
            let expect_valid = case.kind != Kind::Invalid;
            assert_eq!(
                valid,
                expect_valid,
                "{what} #{index} ({}: {}): {}",
                case.kind.name(),
                case.label,
                shorten(&case.value)
            );
        }
    }

    fn shorten(value: &Value) -> String {
        let text = value.to_string();
        text.chars().take(300).collect()
    }

    #[test]
    fn a_seed_reproduces_its_cases_exactly() {
        let schema = json!({"type": "object", "properties": {
            "a": {"type": "string", "maxLength": 5}, "b": {"type": "integer"}},
            "additionalProperties": false});
        let hints = Hints::default();
        assert_eq!(
            generate(&schema, &hints, Rng::new(11), 60),
            generate(&schema, &hints, Rng::new(11), 60)
        );
        assert_ne!(
            generate(&schema, &hints, Rng::new(11), 60),
            generate(&schema, &hints, Rng::new(12), 60)
        );
    }

    #[test]
    fn boundaries_reach_the_edges_and_come_first() {
        let schema = json!({"type": "object", "required": ["text"], "properties": {
            "text": {"type": "string"}, "n": {"type": "integer"}}, "additionalProperties": false});
        let cases = generate(&schema, &Hints::default(), Rng::new(1), 40);
        let boundary = |value: Value| {
            cases
                .iter()
                .position(|c| c.value == value && c.kind == Kind::Boundary)
        };
        let empty = boundary(json!({"text": ""})).expect("the empty string");
        let large = cases
            .iter()
            .position(|c| c.kind == Kind::Boundary && c.value["n"] == json!(u64::MAX))
            .expect("the largest u64");
        assert!(empty < 20 && large < 40, "{empty} {large}");
        // Varying one property leaves the others ordinary, not at their own edges.
        assert_ne!(cases[large].value["text"], json!(""), "{:?}", cases[large]);
        let first_random = cases.iter().position(|c| c.kind == Kind::Valid);
        let last_boundary = cases.iter().rposition(|c| c.kind == Kind::Boundary);
        assert!(first_random.is_none_or(|r| last_boundary.is_some_and(|b| b < r)));
    }

    #[test]
    fn cases_are_distinct_and_bounded_by_count() {
        let schema = json!({"type": "object", "properties": {}, "additionalProperties": false});
        let cases = generate(&schema, &Hints::default(), Rng::new(1), 200);
        let sent: Vec<_> = cases.iter().filter(|c| c.kind != Kind::Invalid).collect();
        assert_eq!(
            sent.len(),
            1,
            "an object with no properties has one value: {sent:?}"
        );
        let schema = json!({"type": "object", "properties": {"s": {"type": "string"}}});
        let cases = generate(&schema, &Hints::default(), Rng::new(1), 30);
        assert_eq!(cases.iter().filter(|c| c.kind != Kind::Invalid).count(), 30);
        assert!(generate(&schema, &Hints::default(), Rng::new(1), 0).is_empty());
    }

    #[test]
    fn odd_schemas_give_no_panic_and_truthful_kinds() {
        let schemas = [
            json!(true),
            json!(false),
            json!({}),
            json!({"type": "object", "required": ["x"], "additionalProperties": false}),
            json!({"type": "object", "properties": {"u": {"anyOf": [{"type": "string", "maxLength": 2}, {"type": "integer", "minimum": 5}]}}}),
            json!({"type": "object", "properties": {"t": {"$ref": "#/$defs/T"}},
                   "$defs": {"T": {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/T"}}}}}}),
            json!({"type": "object", "properties": {"n": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}}}),
            json!({"type": "object", "properties": {"n": {"type": "integer", "minimum": 10, "maximum": 2}}}),
            json!({"type": "object", "properties": {"s": {"type": "string", "minLength": 5, "maxLength": 3}}}),
            json!({"type": "object", "properties": {"s": {"type": "string", "pattern": "(?=lookahead)"}}}),
            json!({"type": "object", "properties": {"l": {"type": "array", "items": {"enum": [1, 2]}, "uniqueItems": true, "minItems": 2, "maxItems": 3}}}),
            json!({"type": "object", "properties": {"m": {"type": "integer", "multipleOf": 5, "minimum": 1}}}),
            json!({"type": "object", "properties": {"x": {"x-unknown": [1, {"$ref": 3}], "type": ["string", "null"]}}}),
            json!({"type": "object", "properties": {"big": {"type": "string", "minLength": 4_000_000_000u64}}}),
            json!({"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "minItems": 2}),
        ];
        for (at, schema) in schemas.iter().enumerate() {
            assert_kinds_hold(&format!("schema {at}"), schema, &Hints::default(), 7, 80);
        }
    }

    #[test]
    fn invalid_cases_cover_each_way_out() {
        let schema = json!({"type": "object", "required": ["n", "s"], "properties": {
            "n": {"type": "integer", "minimum": 1, "maximum": 9},
            "s": {"type": "string", "minLength": 1, "maxLength": 3, "pattern": "^[a-z]+$"},
            "e": {"enum": ["a", "b"]}}, "additionalProperties": false});
        let cases = generate(&schema, &Hints::default(), Rng::new(3), 400);
        let labels: Vec<&str> = cases
            .iter()
            .filter(|c| c.kind == Kind::Invalid)
            .map(|c| c.label.as_str())
            .collect();
        for wanted in [
            "/n missing (required)",
            "/clawc_fuzz_extra: a property not declared",
            "/n: 0 (under the minimum 1)",
            "/n: 10 (over the maximum 9)",
            "/s: 4 characters (over maxLength)",
            "/s: 0 characters (under minLength)",
            "/e: \"clawc-not-a-member\" (not a member)",
            "/n: string where integer is expected",
        ] {
            assert!(labels.contains(&wanted), "{wanted} in {labels:#?}");
        }
        assert_kinds_hold("ranges", &schema, &Hints::default(), 3, 400);
    }

    /// The bundled specs' schemas, under many seeds: every valid and boundary case passes the
    /// gateway's validator and every invalid one is refused by it.
    #[test]
    fn the_bundled_specs_cases_are_what_they_say_they_are() {
        let specs = concat!(env!("CARGO_MANIFEST_DIR"), "/../specs");
        let mut tools = 0;
        for entry in std::fs::read_dir(specs).expect("specs/") {
            let path = entry.expect("entry").path();
            if path.extension().is_none_or(|e| e != "claw") {
                continue;
            }
            let mut cache = crate::build::fingerprint::Cache::default();
            let ir = crate::build::plan::load(&path, &mut cache)
                .expect("the bundled specs check")
                .ir;
            for (name, tool) in &ir.tools {
                tools += 1;
                let hints = Hints {
                    hosts: ir.network.iter().map(|n| n.host.clone()).collect(),
                    examples: ir
                        .examples
                        .iter()
                        .filter(|e| &e.call.tool == name)
                        .map(|e| e.call.args.clone())
                        .collect(),
                };
                for seed in 0..8 {
                    assert_kinds_hold(
                        &format!("{}/{name}", ir.name),
                        &tool.input,
                        &hints,
                        seed,
                        200,
                    );
                }
                let cases = generate(&tool.input, &hints, Rng::new(0), 200);
                assert!(
                    cases.iter().any(|c| c.kind == Kind::Boundary),
                    "{}/{name} has boundary cases",
                    ir.name
                );
            }
        }
        assert!(tools >= 20, "every bundled tool was seen ({tools})");
    }
}
