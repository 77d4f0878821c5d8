//! clawc's one integration-test binary: the CLI as users and tooling see it.
#![allow(clippy::disallowed_methods, reason = "tests do IO")]

mod cli;
mod hostile;
mod sandbox;
mod support;
