//! Syntax diagnostic codes E0001–E0009. Owned by the parser work.
use super::CodeInfo;

pub(super) const CODES: &[CodeInfo] = &[];
