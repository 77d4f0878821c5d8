//! Owned by the attacks work.
