//! A linear pre-scan run before pest: it bounds size and bracket depth (pest and every later pass
//! recurse once per bracket, so deep input must be refused before they see it), finds unterminated
//! strings, refuses control characters and Unicode bidirectional controls, and collects the `//`
//! comments for the formatter.
//!
//! Its idea of strings and comments mirrors `grammar.pest` exactly, so a `//` inside a URL
//! string is not a comment and a `{` inside a string is not a bracket.

use super::codes;
use crate::ast::Comment;
use crate::{Diagnostic, Span};
use std::ops::ControlFlow;

/// Larger specs are refused outright: real ones are a few KiB.
const MAX_SOURCE_BYTES: usize = 1 << 20;
/// Deepest nesting of `{`, `[` and `(` accepted; real specs stay below 10.
const MAX_DEPTH: usize = 64;
/// After this many refused characters the rest are not reported one by one.
const MAX_REFUSED_REPORTS: usize = 8;

const TRIPLE_QUOTE: &[u8] = b"\"\"\"";

/// Bytes that need no attention outside strings: anything but the start of a string, comment or
/// bracket and a byte that may start a refused character. Runs of them are skipped with one table lookup per
/// byte, which makes this pass a small fraction of `clawc check`.
static PLAIN_CODE: [bool; 256] = plain_bytes(b"/\"{[()]}");
/// The same inside a `"..."` string.
static PLAIN_STRING: [bool; 256] = plain_bytes(b"\"\\\n");

const fn plain_bytes(stops: &[u8]) -> [bool; 256] {
    let mut table = [true; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = !may_start_refused(byte as u8);
        byte += 1;
    }
    let mut i = 0;
    while i < stops.len() {
        table[stops[i] as usize] = false;
        i += 1;
    }
    table
}

/// Control characters other than tab and line ends are never meaningful in a spec (and a NUL
/// usually means a binary file was passed).
const fn is_refused_control(byte: u8) -> bool {
    byte.is_ascii_control() && !matches!(byte, b'\t' | b'\n' | b'\r')
}

/// Whether a refused character can start at this byte: a refused control character, or the
/// UTF-8 lead byte of a bidirectional control (`0xD8` for U+061C, `0xE2` for the U+200x and
/// U+206x ones). `0xE2` also starts ordinary text such as `—` or `→`; those are looked at and let
/// through by [`Scanner::inspect`].
const fn may_start_refused(byte: u8) -> bool {
    is_refused_control(byte) || byte == 0xD8 || byte == 0xE2
}

/// The Unicode name of `ch` if it is a bidirectional control character. These are invisible and
/// reorder how the text around them is displayed, so a spec containing one can read differently
/// in review than it parses ("Trojan Source", CVE-2021-42574); like rustc, the scanner refuses
/// them everywhere, and the formatter writes one that an escape put into a string as an escape.
/// Public so that whoever prints a source snippet can show one escaped instead of letting it
/// reorder the snippet on screen.
pub fn bidi_control_name(ch: char) -> Option<&'static str> {
    Some(match ch {
        '\u{061C}' => "ARABIC LETTER MARK",
        '\u{200E}' => "LEFT-TO-RIGHT MARK",
        '\u{200F}' => "RIGHT-TO-LEFT MARK",
        '\u{202A}' => "LEFT-TO-RIGHT EMBEDDING",
        '\u{202B}' => "RIGHT-TO-LEFT EMBEDDING",
        '\u{202C}' => "POP DIRECTIONAL FORMATTING",
        '\u{202D}' => "LEFT-TO-RIGHT OVERRIDE",
        '\u{202E}' => "RIGHT-TO-LEFT OVERRIDE",
        '\u{2066}' => "LEFT-TO-RIGHT ISOLATE",
        '\u{2067}' => "RIGHT-TO-LEFT ISOLATE",
        '\u{2068}' => "FIRST STRONG ISOLATE",
        '\u{2069}' => "POP DIRECTIONAL ISOLATE",
        _ => return None,
    })
}

/// How many bytes from the start of `bytes` are plain according to `table`.
fn plain_run(bytes: &[u8], table: &[bool; 256]) -> usize {
    bytes
        .iter()
        .position(|&byte| !table[usize::from(byte)])
        .unwrap_or(bytes.len())
}

/// What the pre-scan found. When `diagnostics` is not empty the source must not reach pest.
#[derive(Debug, Default)]
pub(super) struct Scan {
    pub comments: Vec<Comment>,
    pub diagnostics: Vec<Diagnostic>,
}

pub(super) fn scan(source: &str) -> Scan {
    let mut scan = Scan::default();
    if source.len() > MAX_SOURCE_BYTES {
        scan.diagnostics.push(
            Diagnostic::error(
                codes::INPUT_TOO_LARGE,
                format!(
                    "this file is {} bytes; specs may be at most {} bytes (1 MiB)",
                    source.len(),
                    MAX_SOURCE_BYTES
                ),
                Span::new(0, 0),
            )
            .with_label("file starts here")
            .with_help(
                "split the integration, or move large example data into `file(\"...\")` fixtures",
            ),
        );
        return scan;
    }
    Scanner {
        source,
        bytes: source.as_bytes(),
        pos: 0,
        depth: 0,
        refused_reports: 0,
        scan,
    }
    .run()
}

struct Scanner<'s> {
    source: &'s str,
    bytes: &'s [u8],
    pos: usize,
    depth: usize,
    refused_reports: usize,
    scan: Scan,
}

impl Scanner<'_> {
    fn run(mut self) -> Scan {
        // `Break` means a diagnostic was recorded after which the rest cannot be read reliably.
        let _stopped_early = self.scan_all();
        self.scan
    }

    fn scan_all(&mut self) -> ControlFlow<()> {
        while let Some(&byte) = self.bytes.get(self.pos) {
            match byte {
                b'/' if self.bytes.get(self.pos + 1) == Some(&b'/') => self.comment(),
                b'"' if self.bytes[self.pos..].starts_with(TRIPLE_QUOTE) => self.triple_string()?,
                b'"' => self.plain_string()?,
                b'{' | b'[' | b'(' => {
                    self.depth += 1;
                    if self.depth > MAX_DEPTH {
                        self.too_deep();
                        return ControlFlow::Break(());
                    }
                    self.pos += 1;
                }
                b'}' | b']' | b')' => {
                    // Unbalanced closers are pest's to report, with a better message.
                    self.depth = self.depth.saturating_sub(1);
                    self.pos += 1;
                }
                _ => {
                    self.check_char(self.pos);
                    self.pos += 1;
                    self.pos += plain_run(&self.bytes[self.pos..], &PLAIN_CODE);
                }
            }
        }
        ControlFlow::Continue(())
    }

    fn comment(&mut self) {
        let start = self.pos;
        let end = self.line_end(start);
        for at in start..end {
            self.check_char(at);
        }
        let text = self.source[start + 2..end]
            .trim_end_matches('\r')
            .to_owned();
        self.scan.comments.push(Comment {
            text,
            span: Span::new(start, end),
        });
        self.pos = end;
    }

    fn triple_string(&mut self) -> ControlFlow<()> {
        let start = self.pos;
        let body = start + TRIPLE_QUOTE.len();
        let Some(offset) = find(&self.bytes[body..], TRIPLE_QUOTE) else {
            self.unterminated(
                start,
                self.bytes.len(),
                "`\"\"\"`",
                "this multi-line string is never closed",
            );
            return ControlFlow::Break(());
        };
        for at in body..body + offset {
            self.check_char(at);
        }
        self.pos = body + offset + TRIPLE_QUOTE.len();
        ControlFlow::Continue(())
    }

    fn plain_string(&mut self) -> ControlFlow<()> {
        let start = self.pos;
        let mut at = start + 1;
        while let Some(&byte) = self.bytes.get(at) {
            match byte {
                b'"' => {
                    self.pos = at + 1;
                    return ControlFlow::Continue(());
                }
                b'\n' => break,
                // The escaped character is skipped (a bad escape is the lowering's E0005), but a
                // backslash cannot continue a string onto the next line, nor hide a refused
                // character behind it.
                b'\\' if self.bytes.get(at + 1).is_some_and(|&next| next != b'\n') => {
                    self.check_char(at + 1);
                    at += 2;
                }
                _ => {
                    self.check_char(at);
                    at += 1;
                    at += plain_run(&self.bytes[at..], &PLAIN_STRING);
                }
            }
        }
        let end = self.line_end(start);
        self.unterminated(
            start,
            end,
            "`\"`",
            "this string is never closed on its line",
        );
        ControlFlow::Break(())
    }

    fn unterminated(&mut self, start: usize, end: usize, closer: &str, label: &str) {
        self.scan.diagnostics.push(
            Diagnostic::error(codes::UNTERMINATED_STRING, "unterminated string", Span::new(start, end))
                .with_label(label)
                .with_help(format!(
                    "close it with {closer}; use `\"\"\"...\"\"\"` for text that spans lines, and `\\\"` for a quote inside a string"
                )),
        );
    }

    fn too_deep(&mut self) {
        self.scan.diagnostics.push(
            Diagnostic::error(
                codes::NESTING_TOO_DEEP,
                format!("brackets are nested more than {MAX_DEPTH} levels deep"),
                Span::new(self.pos, self.pos + 1),
            )
            .with_label(format!("level {} opens here", MAX_DEPTH + 1))
            .with_help("flatten the value or type: name inner records with `type X { ... }`, or move data to a `file(\"...\")` fixture"),
        );
    }

    #[inline]
    fn check_char(&mut self, at: usize) {
        if may_start_refused(self.bytes[at]) {
            self.inspect(at);
        }
    }

    /// Reports the character starting at `at` if it is refused. The one place that decides what
    /// a spec may not contain: every byte of every string, comment and the code between them
    /// passes through here (through [`Self::check_char`]).
    fn inspect(&mut self, at: usize) {
        // `at` is a lead byte, hence a character boundary; `get` keeps that from being trusted.
        let Some(ch) = self.source.get(at..).and_then(|rest| rest.chars().next()) else {
            return;
        };
        let span = Span::new(at, at + ch.len_utf8());
        let diagnostic = if let Some(name) = bidi_control_name(ch) {
            let code = u32::from(ch);
            Diagnostic::error(
                codes::BIDI_CONTROL,
                format!("Unicode bidirectional control character U+{code:04X} {name} in the source"),
                span,
            )
            .with_label("invisible here, and it reorders how the text around it is displayed")
            .with_help(format!(
                "remove it: it can make what a reviewer sees differ from what is checked (\"Trojan Source\"); if a string really needs it, write the escape `\\u{code:04x}` inside a `\"...\"` string"
            ))
        } else if u8::try_from(ch).is_ok_and(is_refused_control) {
            Diagnostic::error(
                codes::CONTROL_CHARACTER,
                format!("control character U+{:04X} in the source", u32::from(ch)),
                span,
            )
            .with_label("not allowed here")
            .with_help("remove it; inside strings write it as an escape such as `\\u0000` (is this a binary file?)")
        } else {
            return;
        };
        self.refused_reports += 1;
        if self.refused_reports <= MAX_REFUSED_REPORTS {
            self.scan.diagnostics.push(diagnostic);
        }
    }

    /// The offset of the `\n` ending the line that contains `from`, or the end of the source.
    fn line_end(&self, from: usize) -> usize {
        self.bytes[from..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(self.bytes.len(), |i| from + i)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// `source` with every comment and a leading byte order mark replaced by spaces of the same byte
/// length: pest then only has to skip whitespace (the cheapest thing it can do), and every byte
/// offset stays what it is in `source`.
pub(super) fn blank_trivia(source: &str, comments: &[Comment]) -> String {
    let mut bytes = source.as_bytes().to_vec();
    let mut blank = |span: Span| {
        if let Some(text) = bytes.get_mut(span.start..span.end) {
            text.fill(b' ');
        }
    };
    if source.starts_with('\u{feff}') {
        blank(Span::new(0, '\u{feff}'.len_utf8()));
    }
    for comment in comments {
        blank(comment.span);
    }
    // Whole characters were replaced by ASCII spaces, so the bytes are still UTF-8.
    String::from_utf8(bytes).unwrap_or_else(|_| source.to_owned())
}
