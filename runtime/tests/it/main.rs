//! claw-runtime's one integration-test binary.
#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "tests do IO"
)]

mod attacks;
mod docker;
mod egress;
mod native;
mod parts;
mod relay;
mod support;
