//! Hardening runs (`clawc test --fuzz N`, `clawc verify --fuzz N`): every tool of a pinned
//! artifact called with inputs generated from its input schema, in the spec's own sandbox with
//! replayed HTTP and a fallback for every other request; see `docs/hardening.md`.

pub mod inputs;
pub mod judge;
mod pattern;
pub mod report;
pub mod rng;
pub mod run;
mod schema;
mod session;
mod values;
