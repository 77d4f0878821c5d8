//! Strings that match a schema's `pattern`: sampled from the regular expression's syntax tree
//! (regex-syntax, the parser the checker already validates patterns with), then checked with
//! the compiled expression, since a sample can miss (look-arounds, word boundaries) and only a
//! checked string may be called valid.

use regex_syntax::hir::{Class, Hir, HirKind};

use super::rng::Rng;

/// How long the sampled repetitions are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// Every repetition at its minimum.
    Shortest,
    /// Repetitions as long as `target` characters allow.
    Longest { target: usize },
    /// Random counts, a few past the minimum.
    Random,
}

/// Unbounded repetitions grow by at most this much in [`Size::Random`].
const RANDOM_EXTRA: u32 = 8;
/// Samples tried before giving up on a pattern.
const ATTEMPTS: usize = 12;
/// The longest string sampled at all (a `{1000000}` would otherwise be built in full).
const MAX_SAMPLE: usize = 1 << 20;

#[derive(Debug)]
pub struct Pattern {
    hir: Hir,
    regex: regex::Regex,
}

impl Pattern {
    /// `None` when the pattern is not one this engine reads (then no string is called valid
    /// against it).
    pub fn new(source: &str) -> Option<Pattern> {
        let hir = regex_syntax::Parser::new().parse(source).ok()?;
        let regex = regex::Regex::new(source).ok()?;
        Some(Pattern { hir, regex })
    }

    /// JSON Schema's reading: the expression matches somewhere in the string.
    pub fn matches(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }

    /// A matching string of `min..=max` characters, when one is found; `pad` extends a sample
    /// that is too short where the pattern leaves the end (or start) open.
    pub fn sample(
        &self,
        rng: &mut Rng,
        size: Size,
        min: usize,
        max: usize,
        pad: &mut dyn FnMut(&mut Rng) -> char,
    ) -> Option<String> {
        let fits = |text: &str| {
            let length = text.chars().count();
            (min..=max).contains(&length) && self.matches(text)
        };
        for attempt in 0..ATTEMPTS {
            // The asked-for size first, then random ones: a best effort at a boundary, never
            // at the price of an unchecked string.
            let size = if attempt == 0 { size } else { Size::Random };
            // Characters to spend past the pattern's own minimum, on its repetitions.
            let mut budget = match size {
                Size::Longest { target } => target
                    .min(max)
                    .saturating_sub(self.hir.properties().minimum_len().unwrap_or(0)),
                _ => 0,
            };
            let mut out = String::new();
            if !sample(&self.hir, rng, size, &mut budget, &mut out) {
                continue;
            }
            if fits(&out) {
                return Some(out);
            }
            let length = out.chars().count();
            if length < min {
                let padding: String = (length..min).map(|_| pad(rng)).collect();
                for candidate in [format!("{out}{padding}"), format!("{padding}{out}")] {
                    if fits(&candidate) {
                        return Some(candidate);
                    }
                }
            }
        }
        None
    }
}

/// Appends one sample of `hir`; false when it cannot (a class with nothing printable, a
/// sample past [`MAX_SAMPLE`]).
fn sample(hir: &Hir, rng: &mut Rng, size: Size, budget: &mut usize, out: &mut String) -> bool {
    if out.len() > MAX_SAMPLE {
        return false;
    }
    match hir.kind() {
        // Anchors and boundaries are checked on the whole string afterwards.
        HirKind::Empty | HirKind::Look(_) => true,
        HirKind::Literal(literal) => match std::str::from_utf8(&literal.0) {
            Ok(text) => {
                out.push_str(text);
                true
            }
            Err(_) => false,
        },
        HirKind::Class(class) => match pick(class, rng) {
            Some(c) => {
                out.push(c);
                true
            }
            None => false,
        },
        HirKind::Repetition(repetition) => {
            let min = repetition.min;
            let count = match size {
                Size::Shortest => min,
                Size::Random => {
                    let most = repetition
                        .max
                        .unwrap_or(min.saturating_add(RANDOM_EXTRA))
                        .min(min.saturating_add(RANDOM_EXTRA));
                    let extra = rng.below(u64::from(most.saturating_sub(min)) + 1);
                    min.saturating_add(u32::try_from(extra).unwrap_or(0))
                }
                Size::Longest { .. } => {
                    // Each round past the minimum costs the round's own minimum length (≥ 1).
                    let each = repetition
                        .sub
                        .properties()
                        .minimum_len()
                        .unwrap_or(1)
                        .max(1);
                    let affordable = u32::try_from(*budget / each).unwrap_or(u32::MAX);
                    let room = repetition.max.unwrap_or(u32::MAX).saturating_sub(min);
                    let extra = affordable.min(room);
                    *budget = budget.saturating_sub(extra as usize * each);
                    min.saturating_add(extra)
                }
            };
            (0..count).all(|_| sample(&repetition.sub, rng, size, budget, out))
        }
        HirKind::Capture(capture) => sample(&capture.sub, rng, size, budget, out),
        HirKind::Concat(items) => items
            .iter()
            .all(|item| sample(item, rng, size, budget, out)),
        HirKind::Alternation(branches) => match rng.pick(branches) {
            Some(branch) => sample(branch, rng, size, budget, out),
            None => false,
        },
    }
}

/// A character of `class`, printable ASCII when the class has any (what every engine agrees
/// on), else any of its characters.
fn pick(class: &Class, rng: &mut Rng) -> Option<char> {
    const PRINTABLE: (u32, u32) = (0x20, 0x7e);
    let ranges: Vec<(u32, u32)> = match class {
        Class::Unicode(unicode) => unicode
            .ranges()
            .iter()
            .map(|r| (u32::from(r.start()), u32::from(r.end())))
            .collect(),
        Class::Bytes(bytes) => bytes
            .ranges()
            .iter()
            .map(|r| (u32::from(r.start()), u32::from(r.end())))
            .filter(|&(start, _)| start < 0x80)
            .map(|(start, end)| (start, end.min(0x7f)))
            .collect(),
    };
    let printable: Vec<(u32, u32)> = ranges
        .iter()
        .filter_map(|&(start, end)| {
            let (start, end) = (start.max(PRINTABLE.0), end.min(PRINTABLE.1));
            (start <= end).then_some((start, end))
        })
        .collect();
    let from = if printable.is_empty() {
        &ranges
    } else {
        &printable
    };
    let total: u64 = from.iter().map(|&(s, e)| u64::from(e - s) + 1).sum();
    let mut at = rng.below(total);
    for &(start, end) in from {
        let width = u64::from(end - start) + 1;
        if at < width {
            return char::from_u32(start + u32::try_from(at).ok()?);
        }
        at -= width;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x(_: &mut Rng) -> char {
        'x'
    }

    /// Every pattern of the bundled specs, and a few shapes beyond them.
    const PATTERNS: &[&str] = &[
        r"^[0-9a-f]{16}$",
        r"^[a-z0-9_]+\.[a-z0-9_]+$",
        r"^[a-z0-9_]+$",
        r"^[A-Za-z0-9_-][A-Za-z0-9 _.-]*(/[A-Za-z0-9_-][A-Za-z0-9 _.-]*)*\.md$",
        r"^https://",
        r"^[CGD][A-Z0-9]{8,}$",
        r"^[0-9]+\.[0-9]+$",
        r"^[a-z]{2}$",
        r"^(foo|bar)-\d{2,4}$",
        r"[^/]+",
        r"^\w+@\w+\.com$",
    ];

    #[test]
    fn samples_match_their_pattern_at_every_size() {
        let mut rng = Rng::new(3);
        for source in PATTERNS {
            let pattern = Pattern::new(source).unwrap();
            for size in [Size::Shortest, Size::Random, Size::Longest { target: 255 }] {
                for _ in 0..50 {
                    let text = pattern.sample(&mut rng, size, 0, 300, &mut x).unwrap();
                    assert!(pattern.matches(&text), "{source}: {text:?}");
                    assert!(text.chars().count() <= 300, "{source}: {text:?}");
                }
            }
        }
    }

    #[test]
    fn sizes_reach_the_boundaries_they_aim_for() {
        let mut rng = Rng::new(5);
        let pattern = Pattern::new(r"^[a-z0-9_]+\.[a-z0-9_]+$").unwrap();
        let short = pattern
            .sample(&mut rng, Size::Shortest, 0, 255, &mut x)
            .unwrap();
        assert_eq!(short.len(), 3, "{short}");
        let long = pattern
            .sample(&mut rng, Size::Longest { target: 255 }, 0, 255, &mut x)
            .unwrap();
        assert!(long.len() > 200 && long.len() <= 255, "{}", long.len());
    }

    #[test]
    fn open_ends_are_padded_to_a_minimum_length() {
        let mut rng = Rng::new(9);
        let pattern = Pattern::new("^https://").unwrap();
        let text = pattern
            .sample(&mut rng, Size::Shortest, 20, 30, &mut x)
            .unwrap();
        assert!(
            text.starts_with("https://") && text.chars().count() == 20,
            "{text}"
        );
        // Anchored both ends and too short: nothing, rather than an unchecked string.
        let fixed = Pattern::new("^[a-z]{2}$").unwrap();
        assert!(fixed
            .sample(&mut rng, Size::Shortest, 5, 9, &mut x)
            .is_none());
    }

    #[test]
    fn unreadable_and_unsatisfiable_patterns_give_nothing() {
        assert!(Pattern::new("(unclosed").is_none());
        let mut rng = Rng::new(1);
        // A class with no character outside the ASCII range it excludes still yields one.
        let wide = Pattern::new("^[^\\x00-\\x7f]$").unwrap();
        let text = wide.sample(&mut rng, Size::Random, 1, 1, &mut x).unwrap();
        assert!(!text.is_ascii());
        // A repetition far past the sample cap stops there instead of building it all.
        let huge = regex_syntax::Parser::new().parse("^a{2000000}$").unwrap();
        let mut out = String::new();
        assert!(!sample(&huge, &mut rng, Size::Shortest, &mut 0, &mut out));
        assert!(out.len() <= MAX_SAMPLE + 1);
    }
}
