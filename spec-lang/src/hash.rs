//! The canonical spec hash: `sha256:` + hex SHA-256 of the IR's canonical JSON.
//!
//! Canonical JSON follows RFC 8785 (JCS) in the parts that matter for our IR: object keys sorted
//! by UTF-16 code units, no whitespace, minimal string escapes, integers written as integers.
//! The IR carries no spans and sorts every order-free collection, so formatting, comments and
//! item order leave the hash alone while any semantic change moves it. Never `std::hash`: its
//! output is not stable across Rust versions or runs.

use crate::ir::Integration;
use serde_json::{Number, Value};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

#[derive(Debug, thiserror::Error)]
#[error("the IR could not be serialised: {0}")]
pub struct HashError(#[from] serde_json::Error);

/// The spec hash of a checked integration, e.g. `sha256:3f0a…`.
pub fn spec_hash(ir: &Integration) -> Result<String, HashError> {
    let value = serde_json::to_value(ir)?;
    Ok(sha256_prefixed(canonical_json(&value).as_bytes()))
}

/// `sha256:` followed by the lower-case hex SHA-256 of `bytes`.
pub fn sha256_prefixed(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in digest.iter() {
        // Writing into a String cannot fail.
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// The canonical (RFC 8785 style) JSON text of `value`.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => write_number(out, number),
        Value::String(text) => write_string(out, text),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            // The map usually iterates in byte order already, which is RFC 8785's UTF-16 order
            // unless keys hold characters from U+E000 up: sort only when needed.
            if !entries.is_sorted_by(|(a, _), (b, _)| utf16_order(a, b).is_le()) {
                entries.sort_by(|(a, _), (b, _)| utf16_order(a, b));
            }
            out.push('{');
            for (index, (key, item)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

/// RFC 8785 key order: by UTF-16 code units. For keys without bytes from 0xEE up (the UTF-8
/// lead bytes of U+E000 and beyond) that is plain byte order, which is much cheaper.
fn utf16_order(a: &str, b: &str) -> std::cmp::Ordering {
    let plain = |key: &str| key.bytes().all(|byte| byte < 0xEE);
    if plain(a) && plain(b) {
        a.cmp(b)
    } else {
        a.encode_utf16().cmp(b.encode_utf16())
    }
}

/// Integers as integers; a float with an integral value below 2^53 is written like the integer
/// (so `2.0` and `2` hash the same, as in JCS); other floats in shortest round-trip form.
fn write_number(out: &mut String, number: &Number) {
    const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0;
    if let Some(int) = number.as_i64() {
        let _ = write!(out, "{int}");
    } else if let Some(int) = number.as_u64() {
        let _ = write!(out, "{int}");
    } else if let Some(float) = number.as_f64() {
        if float.fract() == 0.0 && float.abs() < EXACT_INTEGER_LIMIT {
            // Exact: the value is an integer below 2^53.
            #[allow(clippy::cast_possible_truncation)]
            let int = float as i64;
            let _ = write!(out, "{int}");
        } else {
            let _ = write!(out, "{float:?}");
        }
    }
}

fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            control if u32::from(control) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(control));
            }
            other => out.push(other),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_sorted_and_whitespace_dropped() {
        let value = json!({"b": [1, 2.0, 2.5], "a": {"d": null, "c": "x\ny\u{1}"}});
        assert_eq!(
            canonical_json(&value),
            r#"{"a":{"c":"x\ny\u0001","d":null},"b":[1,2,2.5]}"#
        );
    }

    #[test]
    fn keys_sort_by_utf16_code_units() {
        // U+1F600 is a surrogate pair (0xD83D...) and sorts before U+FB01 in UTF-16,
        // although its UTF-8 bytes sort after.
        let value = json!({"\u{fb01}": 1, "\u{1f600}": 2});
        assert_eq!(canonical_json(&value), "{\"\u{1f600}\":2,\"\u{fb01}\":1}");
    }

    #[test]
    fn sha256_of_empty_input_is_the_known_digest() {
        assert_eq!(
            sha256_prefixed(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
