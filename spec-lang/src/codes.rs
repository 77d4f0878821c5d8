//! Every diagnostic code with a title and a long explanation (`clawc explain CODE`).
//! Syntax codes (`E0001`–`E0009`) live in `codes/syntax.rs`, the checker's (`E0010`–`E0089`,
//! `W…`) in `codes/semantic.rs`, problems with the input bytes themselves (`E0090`…) in
//! `codes/input.rs`.

mod input;
mod semantic;
mod syntax;

pub use input::NOT_UTF8;

/// One stable diagnostic code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeInfo {
    pub code: &'static str,
    pub title: &'static str,
    /// Markdown: what it means, an example that triggers it, and how to fix it.
    pub explanation: &'static str,
}

/// All codes, in code order.
pub fn all() -> impl Iterator<Item = &'static CodeInfo> {
    syntax::CODES
        .iter()
        .chain(semantic::CODES.iter())
        .chain(input::CODES.iter())
}

/// The entry for `code` (case-insensitive), or `None` if no such code exists.
pub fn explain(code: &str) -> Option<&'static CodeInfo> {
    all().find(|info| info.code.eq_ignore_ascii_case(code))
}
