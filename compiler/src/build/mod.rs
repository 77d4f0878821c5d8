//! `clawc build`: plan which specs are stale against `claw.lock`, generate a candidate in a
//! throwaway sandbox, accept it against the spec's examples in fresh sandboxes, pin it.

// The pipeline lands in steps; this goes when `commands::build` drives every part.
#![allow(dead_code)]

pub mod generator;
pub mod model_api;
