//! The output buffer: indentation, and putting every comment back where it belongs.
//!
//! Comments are handed out in source order. Before a node is printed, every comment that starts
//! before it is printed on its own line ([`Printer::comments_before`]); after a line, a comment
//! that started on the same source line as the node's end becomes a trailing comment. A comment
//! in a place with no line of its own (inside a one-line type) moves to the next line boundary,
//! which is stable when formatted again.

use crate::ast::Comment;
use crate::Span;

pub(super) struct Printer<'a> {
    source: &'a str,
    comments: &'a [Comment],
    /// Index of the first comment not printed yet.
    next: usize,
    indent: usize,
    out: String,
}

impl<'a> Printer<'a> {
    pub(super) fn new(source: &'a str, comments: &'a [Comment]) -> Self {
        Self {
            source,
            comments,
            next: 0,
            indent: 0,
            out: String::with_capacity(source.len() + 64),
        }
    }

    /// The indentation of the current line's continuation lines (one level deeper).
    pub(super) fn continuation_indent(&self) -> String {
        "  ".repeat(self.indent + 1)
    }

    /// Columns used by the indentation of the current line.
    pub(super) fn indent_width(&self) -> usize {
        self.indent * 2
    }

    pub(super) fn indented<T>(&mut self, body: impl FnOnce(&mut Self) -> T) -> T {
        self.indent += 1;
        let result = body(self);
        self.indent -= 1;
        result
    }

    /// Prints, each on its own line, the comments that start before `pos`. A `///` comment is
    /// followed by a blank line: printed right above a field it would become that field's doc.
    pub(super) fn comments_before(&mut self, pos: usize) {
        let pending = self.pending_before(pos);
        self.own_line_comments(pending, true);
    }

    /// Like [`Self::comments_before`] for a field with `doc_lines` lines of `///` doc, which stay
    /// directly above it.
    pub(super) fn comments_before_field(&mut self, pos: usize, doc_lines: usize) {
        let pending = self.pending_before(pos);
        let doc_lines = doc_lines.min(pending);
        self.own_line_comments(pending - doc_lines, true);
        self.own_line_comments(doc_lines, false);
    }

    fn pending_before(&self, pos: usize) -> usize {
        self.comments[self.next..]
            .iter()
            .take_while(|comment| comment.span.start < pos)
            .count()
    }

    fn own_line_comments(&mut self, count: usize, keep_docs_apart: bool) {
        for comment in &self.comments[self.next..self.next + count] {
            push_indent(&mut self.out, self.indent);
            push_comment(&mut self.out, comment);
            self.out.push('\n');
            if keep_docs_apart && is_doc(comment) {
                self.out.push('\n');
            }
        }
        self.next += count;
    }

    /// Whether an unprinted comment lies inside `span` (such a node must not be joined onto one line).
    pub(super) fn has_comment_within(&self, span: Span) -> bool {
        self.comments[self.next..]
            .iter()
            .find(|comment| comment.span.start >= span.start)
            .is_some_and(|comment| comment.span.start < span.end)
    }

    /// One line of output; `end` is where the printed node ends in the source, so that a comment
    /// following it on the same source line stays at the end of this line.
    pub(super) fn line(&mut self, text: &str, end: usize) {
        push_indent(&mut self.out, self.indent);
        self.out.push_str(text);
        self.trailing_comment(end);
        self.out.push('\n');
    }

    /// The `open` line (ending in `{` or `[`), the lines printed by `body` one level deeper, then
    /// the `close` line. `header_pos` is on the opening line in the source, `end` is the source
    /// offset just after the block, and `close_end` where the source of the text on the close
    /// line ends (later than `end` when a type's constraints or a default follow the `}`).
    pub(super) fn block(
        &mut self,
        open: &str,
        header_pos: usize,
        end: usize,
        close: &str,
        close_end: usize,
        body: impl FnOnce(&mut Self),
    ) {
        push_indent(&mut self.out, self.indent);
        self.out.push_str(open);
        self.opening_comment(header_pos, end);
        self.out.push('\n');
        self.indented(|printer| {
            body(printer);
            printer.comments_before(end);
        });
        self.line(close, close_end);
    }

    pub(super) fn blank_line(&mut self) {
        self.out.push('\n');
    }

    /// The output, with the comments after the last node at the end.
    pub(super) fn finish(mut self) -> String {
        self.comments_before(usize::MAX);
        self.out
    }

    /// Appends the next comment when only spaces and commas separate it from `end` in the source.
    fn trailing_comment(&mut self, end: usize) {
        let follows = self
            .next_comment_gap(end)
            .is_some_and(|gap| gap.chars().all(|c| c == ',' || c == ' ' || c == '\t'));
        if follows {
            self.take_trailing();
        }
    }

    /// Appends the next comment when it follows the block's opening bracket on the same source line.
    fn opening_comment(&mut self, header_pos: usize, end: usize) {
        let opens = self
            .comments
            .get(self.next)
            .is_some_and(|comment| comment.span.start < end)
            && self
                .next_comment_gap(header_pos)
                .is_some_and(|gap| !gap.contains('\n') && gap.trim_end().ends_with(['{', '[']));
        if opens {
            self.take_trailing();
        }
    }

    /// The source text between `from` and the next comment, if that comment starts after `from`.
    fn next_comment_gap(&self, from: usize) -> Option<&'a str> {
        let comment = self.comments.get(self.next)?;
        self.source.get(from..comment.span.start)
    }

    fn take_trailing(&mut self) {
        if let Some(comment) = self.comments.get(self.next) {
            self.next += 1;
            self.out.push_str("  ");
            push_comment(&mut self.out, comment);
        }
    }
}

fn push_indent(out: &mut String, indent: usize) {
    for _ in 0..indent {
        out.push_str("  ");
    }
}

/// A `///` comment (but not `////`), which documents the field below it.
fn is_doc(comment: &Comment) -> bool {
    comment.text.starts_with('/') && !comment.text.starts_with("//")
}

fn push_comment(out: &mut String, comment: &Comment) {
    out.push_str("//");
    out.push_str(comment.text.trim_end());
}
