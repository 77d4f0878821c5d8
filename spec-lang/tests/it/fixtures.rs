//! Owned by the fixtures work.
