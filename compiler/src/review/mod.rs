//! Review of generated integrations: what each may do (its capabilities), how that changes
//! between two revisions of a project, and the signed sign-off a widening needs.

pub mod capability;
pub mod compare;
pub mod diff;
pub mod locate;
pub mod render;
pub mod signoff;
pub mod snapshot;
