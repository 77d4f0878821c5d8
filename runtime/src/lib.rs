//! The isolated runtime: sandboxes (native Linux, Docker), the egress proxy, and the policy they
//! enforce. **Knows nothing of the `.claw` language**: callers hand it a [`policy::Policy`].
#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "the runtime is the IO layer; the IO ban in clippy.toml is for spec-lang"
)]

pub mod bridge;
pub mod docker;
pub mod egress;
pub mod init;
pub mod native;
mod owner;
pub mod policy;
pub mod sandbox;
mod seccomp_policy;

pub use policy::Policy;
pub use sandbox::{ExitReport, Sandbox, SandboxChild, SandboxCommand, SandboxError};
