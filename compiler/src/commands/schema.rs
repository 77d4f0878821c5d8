//! `clawc schema SPEC [--tool NAME]` and `clawc schema --ir`.

use std::path::Path;

use crate::cli::Global;
use crate::exit;

pub fn run(_spec: Option<&Path>, _tool: Option<&str>, _ir: bool, _global: &Global) -> i32 {
    exit::USAGE
}
