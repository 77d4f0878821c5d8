//! A linear pre-scan run before pest: it bounds size and bracket depth (pest and every later pass
//! recurse once per bracket, so deep input must be refused before they see it), finds unterminated
//! strings and control characters, and collects the `//` comments for the formatter.
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
/// After this many control characters the rest are not reported one by one.
const MAX_CONTROL_REPORTS: usize = 8;

const TRIPLE_QUOTE: &[u8] = b"\"\"\"";

/// Bytes that need no attention outside strings: anything but the start of a string, comment or
/// bracket and a refused control character. Runs of them are skipped with one table lookup per
/// byte, which makes this pass a small fraction of `clawc check`.
static PLAIN_CODE: [bool; 256] = plain_bytes(b"/\"{[()]}");
/// The same inside a `"..."` string.
static PLAIN_STRING: [bool; 256] = plain_bytes(b"\"\\\n");

const fn plain_bytes(stops: &[u8]) -> [bool; 256] {
    let mut table = [true; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = !is_refused_control(byte as u8);
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
        control_reports: 0,
        scan,
    }
    .run()
}

struct Scanner<'s> {
    source: &'s str,
    bytes: &'s [u8],
    pos: usize,
    depth: usize,
    control_reports: usize,
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
                    self.check_control(self.pos);
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
            self.check_control(at);
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
            self.check_control(at);
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
                // backslash cannot continue a string onto the next line.
                b'\\' if self.bytes.get(at + 1).is_some_and(|&next| next != b'\n') => at += 2,
                _ => {
                    self.check_control(at);
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
    fn check_control(&mut self, at: usize) {
        let byte = self.bytes[at];
        if is_refused_control(byte) {
            self.report_control(at, byte);
        }
    }

    #[cold]
    fn report_control(&mut self, at: usize, byte: u8) {
        self.control_reports += 1;
        if self.control_reports > MAX_CONTROL_REPORTS {
            return;
        }
        self.scan.diagnostics.push(
            Diagnostic::error(
                codes::CONTROL_CHARACTER,
                format!("control character U+{byte:04X} in the source"),
                Span::new(at, at + 1),
            )
            .with_label("not allowed here")
            .with_help("remove it; inside strings write it as an escape such as `\\u0000` (is this a binary file?)"),
        );
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
