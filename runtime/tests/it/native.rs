//! Owned by the native work.
