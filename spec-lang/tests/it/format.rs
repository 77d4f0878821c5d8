//! Owned by the format work.
