//! The `.claw` language: parse, check, lower to IR, emit JSON Schemas, hash, format.
//!
//! **This crate does no IO** — no files, environment, network, processes or clock (enforced by
//! `clippy.toml`'s `disallowed-methods`). Anything from outside comes through [`World`].

pub mod ast;
pub mod codes;
pub mod diagnostic;
pub mod hash;
pub mod ir;
pub mod schema;

mod check;
mod fmt;
mod parse;

pub use check::policy::RESERVED_MOUNT_TARGETS;
pub use diagnostic::{line_col, Diagnostic, Label, Severity, Span};
pub use parse::bidi_control_name;

/// What the checker needs from outside the process (typst's `World`): the contents of files
/// named by `file("...")` in examples. The compiler implements it over the real file system;
/// tests use an in-memory map.
pub trait World {
    /// Read `path` as written in the spec (relative to the directory holding the spec).
    /// `Err` carries a human-readable reason ("no such file").
    fn read_fixture(&self, path: &str) -> Result<Vec<u8>, String>;
}

/// A [`World`] with no files at all.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoFiles;

impl World for NoFiles {
    fn read_fixture(&self, _path: &str) -> Result<Vec<u8>, String> {
        Err("no files are available here".to_owned())
    }
}

/// Bytes as read from a file → source text. Invalid UTF-8 becomes diagnostic `E0090` pointing
/// at the first bad byte, so that the caller can report it like any other problem.
pub fn decode(bytes: &[u8]) -> Result<&str, Box<Diagnostic>> {
    std::str::from_utf8(bytes).map_err(|error| {
        let at = error.valid_up_to();
        Box::new(
            Diagnostic::error(
                codes::NOT_UTF8,
                "the file is not valid UTF-8",
                Span::new(at, at + 1),
            )
            .with_label("this byte is not part of a UTF-8 character")
            .with_help("save the spec as UTF-8; .claw files are text"),
        )
    })
}

/// Parse one `.claw` source. Returns the tree when the syntax is valid enough to lower, and
/// every syntax diagnostic found.
pub fn parse(source: &str) -> (Option<ast::File>, Vec<Diagnostic>) {
    parse::parse(source)
}

/// The result of checking one spec.
#[derive(Debug, Clone)]
pub struct Checked {
    /// Present when there are no errors (warnings allowed).
    pub ir: Option<ir::Integration>,
    /// Every error and warning, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parse and check one spec. `file_stem` is the file name without `.claw`: the integration
/// must carry the same name.
pub fn check(file_stem: &str, source: &str, world: &dyn World) -> Checked {
    check::check(file_stem, source, world)
}

/// Canonical formatting. Comments are kept; `format(format(x)) == format(x)`, and the spec hash
/// does not change. Fails (with the syntax diagnostics) when the source does not parse.
pub fn format(source: &str) -> Result<String, Vec<Diagnostic>> {
    fmt::format(source)
}
