//! Hardening runs (`clawc test --fuzz N`, `clawc verify --fuzz N`): every tool of a pinned
//! artifact called with inputs generated from its input schema, in the spec's own sandbox with
//! replayed HTTP and a fallback for every other request; see `docs/hardening.md`.

pub mod inputs;
mod pattern;
pub mod rng;
mod schema;
mod values;
