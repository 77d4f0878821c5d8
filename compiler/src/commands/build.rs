//! `clawc build`.

use super::error;
use crate::cli::{BuildArgs, Global};
use crate::exit;

pub fn run(args: BuildArgs, _global: &Global) -> i32 {
    let _ = args;
    error("clawc build: not built yet");
    exit::USAGE
}
