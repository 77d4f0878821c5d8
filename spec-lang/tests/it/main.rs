//! spec-lang's one integration-test binary. Tests read fixture files from disk; the library never does.
#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "tests read fixture files"
)]

mod check;
mod fixtures;
mod format;
mod parse;
mod props;
