//! Docker backend through bollard. Owner: docker work.
