//! `.claw` source → owned AST ([`crate::ast`]) plus syntax diagnostics (`E0001`–`E0009`).
//!
//! Three passes, each linear: a pre-scan ([`scan`]) that bounds size and nesting and collects
//! comments, pest with the grammar in `grammar.pest`, and the lowering ([`lower`]). Pest's types
//! never leave this module.

mod expected;
mod lower;
mod scan;
pub(crate) mod strings;

pub use scan::bidi_control_name;

use crate::{ast, Diagnostic};
use pest::Parser as _;

/// The stable syntax codes; their explanations live in `codes/syntax.rs`.
pub(crate) mod codes {
    pub(crate) const SYNTAX_ERROR: &str = "E0001";
    pub(crate) const NESTING_TOO_DEEP: &str = "E0002";
    pub(crate) const INPUT_TOO_LARGE: &str = "E0003";
    pub(crate) const UNTERMINATED_STRING: &str = "E0004";
    pub(crate) const INVALID_ESCAPE: &str = "E0005";
    pub(crate) const DUPLICATE_CLAUSE: &str = "E0006";
    pub(crate) const CONTROL_CHARACTER: &str = "E0007";
    pub(crate) const BIDI_CONTROL: &str = "E0008";
    pub(crate) const INTERNAL: &str = "E0009";
}

#[derive(pest_derive::Parser)]
#[grammar = "grammar.pest"]
struct ClawParser;

pub(crate) fn parse(source: &str) -> (Option<ast::File>, Vec<Diagnostic>) {
    let scan = scan::scan(source);
    if !scan.diagnostics.is_empty() {
        return (None, scan.diagnostics);
    }
    let blanked = scan::blank_trivia(source, &scan.comments);
    let pairs = match ClawParser::parse(Rule::file, &blanked) {
        Ok(pairs) => pairs,
        Err(error) => return (None, vec![expected::syntax_error(source, &error)]),
    };
    let mut lower = lower::Lower::new(source, &scan.comments);
    let integration = pairs.into_iter().next().and_then(|file| lower.file(file));
    let mut diagnostics = lower.diagnostics;
    let Some(integration) = integration else {
        diagnostics.push(
            Diagnostic::error(
                codes::INTERNAL,
                "internal error: the parser could not build a tree",
                crate::Span::new(0, 0),
            )
            .with_label("while reading this file")
            .with_help("this is a bug in clawc; please report it with the spec that triggers it"),
        );
        return (None, diagnostics);
    };
    diagnostics.sort_by_key(|diagnostic| diagnostic.span);
    (
        Some(ast::File {
            integration,
            comments: scan.comments,
        }),
        diagnostics,
    )
}
