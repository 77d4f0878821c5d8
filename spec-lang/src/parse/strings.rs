//! String literal contents: JSON escapes for `"..."`, dedenting for `"""..."""`.

use super::codes;
use crate::{Diagnostic, Span};

/// Decodes the JSON escapes of a `"..."` literal's content. `offset` is the content's byte
/// offset in the source, for the spans of bad escapes (which are kept verbatim in the result).
pub(super) fn decode_escapes(
    content: &str,
    offset: usize,
    diagnostics: &mut Vec<Diagnostic>,
) -> String {
    if !content.contains('\\') {
        return content.to_owned();
    }
    let mut out = String::with_capacity(content.len());
    let mut rest = content;
    while let Some(backslash) = rest.find('\\') {
        out.push_str(&rest[..backslash]);
        let escape_start = offset + (content.len() - rest.len()) + backslash;
        let after = &rest[backslash + 1..];
        let (decoded, used) = match after.chars().next() {
            Some('"') => (Ok('"'), 1),
            Some('\\') => (Ok('\\'), 1),
            Some('/') => (Ok('/'), 1),
            Some('b') => (Ok('\u{8}'), 1),
            Some('f') => (Ok('\u{c}'), 1),
            Some('n') => (Ok('\n'), 1),
            Some('r') => (Ok('\r'), 1),
            Some('t') => (Ok('\t'), 1),
            Some('u') => unicode_escape(after),
            Some(other) => (
                Err(format!("`\\{other}` is not a JSON escape")),
                other.len_utf8(),
            ),
            None => (Err("a string cannot end with a lone `\\`".to_owned()), 0),
        };
        match decoded {
            Ok(ch) => out.push(ch),
            Err(message) => {
                diagnostics.push(
                    Diagnostic::error(codes::INVALID_ESCAPE, message, Span::new(escape_start, escape_start + 1 + used))
                        .with_label("invalid escape")
                        .with_help("valid escapes are \\\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX; write a backslash as \\\\"),
                );
                out.push('\\');
                out.push_str(&after[..used]);
            }
        }
        rest = &after[used..];
    }
    out.push_str(rest);
    out
}

/// `after` starts with the `u` of `\uXXXX`; a UTF-16 surrogate pair takes two escapes.
/// Returns the character (or why not) and how many bytes of `after` it used.
fn unicode_escape(after: &str) -> (Result<char, String>, usize) {
    let Some(high) = hex4(&after[1..]) else {
        let used = 1 + after[1..]
            .chars()
            .take(4)
            .take_while(char::is_ascii_hexdigit)
            .count();
        return (
            Err("`\\u` must be followed by four hex digits".to_owned()),
            used,
        );
    };
    if !(0xD800..0xDC00).contains(&high) {
        return (
            char::from_u32(high)
                .ok_or_else(|| format!("`\\u{high:04X}` is an unpaired low surrogate")),
            5,
        );
    }
    let low = after[5..]
        .strip_prefix("\\u")
        .and_then(hex4)
        .filter(|low| (0xDC00..0xE000).contains(low));
    match low {
        Some(low) => {
            let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
            (
                char::from_u32(code).ok_or_else(|| "invalid surrogate pair".to_owned()),
                11,
            )
        }
        None => (
            Err(format!(
                "`\\u{high:04X}` is a high surrogate without its low half"
            )),
            5,
        ),
    }
}

fn hex4(text: &str) -> Option<u32> {
    let digits = text.get(..4)?;
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(digits, 16).ok()
}

/// The value of a `"""..."""` literal: the first line is dropped when blank (the text usually
/// starts on the line after `"""`), so is the last (the closing `"""` sits on its own line), and
/// the indentation common to all non-blank lines is removed. Trailing whitespace is dropped from
/// every line (it is invisible in prose and would make the formatter's output untidy), so blank
/// lines become empty.
pub(crate) fn dedent(raw: &str) -> String {
    let mut lines: Vec<&str> = raw.split('\n').collect();
    if lines.len() > 1 && lines.first().is_some_and(|line| is_blank(line)) {
        lines.remove(0);
    }
    if lines.len() > 1 && lines.last().is_some_and(|line| is_blank(line)) {
        lines.pop();
    }
    let common = lines
        .iter()
        .filter(|line| !is_blank(line))
        .map(|line| indentation(line))
        .reduce(common_prefix)
        .unwrap_or("");
    let dedented: Vec<&str> = lines
        .iter()
        .map(|line| line.strip_prefix(common).unwrap_or(line).trim_end())
        .collect();
    dedented.join("\n")
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

fn indentation(line: &str) -> &str {
    &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
}

fn common_prefix<'a>(a: &'a str, b: &str) -> &'a str {
    let same = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    &a[..same]
}
