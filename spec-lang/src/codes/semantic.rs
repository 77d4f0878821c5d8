//! Checker diagnostic codes E0010 and up, and warnings W0001 and up. Owned by the checker work.
use super::CodeInfo;

pub(super) const CODES: &[CodeInfo] = &[];
