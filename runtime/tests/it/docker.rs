//! Owned by the docker work.
