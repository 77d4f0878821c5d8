//! Owned by the egress work.
