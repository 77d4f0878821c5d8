//! Owned by the props work.
