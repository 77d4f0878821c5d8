//! Owned by the check work.
