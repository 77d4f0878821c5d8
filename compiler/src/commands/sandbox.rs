//! `clawc sandbox exec`: one program under exactly the sandbox deployed integrations get.

use crate::cli::{Global, SandboxExec};
use crate::exit;

pub fn exec(_args: SandboxExec, _global: &Global) -> i32 {
    exit::SANDBOX_SETUP
}
