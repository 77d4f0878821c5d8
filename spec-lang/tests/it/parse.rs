//! Owned by the parse work.
