//! `clawc build`: plan which specs are stale against `claw.lock`, generate a candidate in a
//! throwaway sandbox, accept it against the spec's examples in fresh sandboxes, pin it.

pub mod acceptance;
pub mod anthropic;
pub mod claude_code;
pub mod clock;
pub mod contract;
pub mod fingerprint;
pub mod fuzz;
pub mod generator;
pub mod intake;
pub mod lock;
pub mod model_api;
pub mod pin;
pub mod pipeline;
pub mod plan;
pub mod project;
pub mod prompt;
pub mod provenance;
pub mod replay;
pub mod scaffold;
pub mod transcript;
pub mod tree;
