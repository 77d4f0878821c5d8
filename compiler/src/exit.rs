//! Exit codes, documented in the README and relied upon by other tooling.

/// Everything checked out.
pub const OK: i32 = 0;
/// The input has errors (diagnostics were printed), or `fmt --check` found unformatted files.
pub const FAILURE: i32 = 1;
/// Usage error or an IO problem unrelated to the specs' content.
pub const USAGE: i32 = 2;
/// `sandbox exec`: the sandbox itself could not be set up.
pub const SANDBOX_SETUP: i32 = 125;
