//! Canonical formatting of `.claw` sources: parse, then print the AST back with one layout.
//!
//! Layout rules: two-space indent; one item, field, clause or entry per line; items keep their
//! order, with one blank line between top-level items except within the `version`/`summary`/
//! `target` header; values stay on one line when they fit in [`layout::MAX_WIDTH`] columns and
//! hold no comment. Every comment is put back: own-line comments above the node that follows
//! them, trailing comments after the line they ended. The printed tree equals the parsed one,
//! so formatting never changes a spec's meaning or its hash.

mod layout;
mod printer;
mod text;

use crate::Diagnostic;

pub(crate) fn format(source: &str) -> Result<String, Vec<Diagnostic>> {
    let (file, diagnostics) = crate::parse(source);
    match file {
        Some(file) if !diagnostics.iter().any(Diagnostic::is_error) => {
            Ok(layout::file(source, &file))
        }
        _ => Err(diagnostics),
    }
}
