//! Placeholder: filled in by its owner.
/// Placeholder until the checker work lands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Integration;
