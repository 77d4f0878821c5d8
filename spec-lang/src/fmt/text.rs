//! How literals are spelled in canonical output.

use crate::parse::bidi_control_name;
use crate::parse::strings::dedent;

/// A `"..."` literal with canonical JSON escapes: only `"`, `\`, control characters and
/// bidirectional controls are escaped (the parser refuses the last two unescaped); everything else
/// (including non-ASCII) is written as itself.
pub(super) fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for ch in value.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            control if control.is_ascii_control() || bidi_control_name(control).is_some() => {
                out.push_str(&format!("\\u{:04x}", u32::from(control)))
            }
            other => out.push(other),
        }
    }
    out.push('"');
    out
}

/// Prose (intent, multi-line descriptions) as a `"""` block whose lines are indented by
/// `indent`, when the block reads back as exactly `value`; otherwise a quoted string.
pub(super) fn prose(value: &str, indent: &str) -> String {
    triple(value, indent).unwrap_or_else(|| quote(value))
}

fn triple(value: &str, indent: &str) -> Option<String> {
    let representable = !value.contains("\"\"\"")
        && !value.chars().any(|c| {
            (c.is_ascii_control() && c != '\n' && c != '\t') || bidi_control_name(c).is_some()
        });
    if !representable {
        return None;
    }
    let mut raw = String::from("\n");
    for line in value.split('\n') {
        if !line.is_empty() {
            raw.push_str(indent);
            raw.push_str(line);
        }
        raw.push('\n');
    }
    raw.push_str(indent);
    // Dedenting removes indentation common to all lines and drops blank edge lines, so text
    // that starts indented or with a blank line would not come back unchanged.
    (dedent(&raw) == value).then(|| format!("\"\"\"{raw}\"\"\""))
}

/// An object key: bare when it is a plain identifier, quoted otherwise.
pub(super) fn key(name: &str) -> String {
    let mut chars = name.chars();
    let identifier = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if identifier {
        name.to_owned()
    } else {
        quote(name)
    }
}
