//! clawc's one integration-test binary: the CLI as users and tooling see it.
#![allow(clippy::disallowed_methods, reason = "tests do IO")]

// One definition of "a real part is missing: fail under CI, skip loudly elsewhere" for the
// whole workspace: the runtime's.
mod architecture;
#[path = "../../../runtime/tests/it/support.rs"]
mod backend_support;
mod build;
mod build_anthropic;
mod claude_code;
mod cli;
mod echo;
mod fuzz;
mod hand;
mod hostile;
mod messages_api;
mod review;
mod sandbox;
mod support;
mod workflow;
