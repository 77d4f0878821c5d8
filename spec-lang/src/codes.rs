//! Placeholder: filled in by its owner.
/// The long explanation of a diagnostic code (`clawc explain E0003`), or `None` if unknown.
pub fn explain(_code: &str) -> Option<&'static str> {
    None
}
