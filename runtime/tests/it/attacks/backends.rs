//! Opening each real backend, or deciding (through `support::require`) that its cases skip
//! here and fail under CI.

use claw_runtime::Sandbox;

use super::harness::Backend;
use crate::support::require;

pub async fn open(backend: Backend) -> Option<Box<dyn Sandbox>> {
    match backend {
        Backend::Native => native(),
        Backend::Docker => docker().await,
    }
}

fn native() -> Option<Box<dyn Sandbox>> {
    require(
        "native sandbox",
        Some("the native backend has not landed on this branch".into()),
    );
    None
}

async fn docker() -> Option<Box<dyn Sandbox>> {
    require(
        "docker sandbox",
        Some("the docker backend has not landed on this branch".into()),
    );
    None
}
