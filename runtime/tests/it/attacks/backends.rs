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
    use claw_runtime::init::InitExe;
    use claw_runtime::native::NativeSandbox;
    let missing = (!std::path::Path::new("/usr/bin/bwrap").exists())
        .then(|| "bwrap is not installed (apt-get install bubblewrap)".to_owned());
    if !require("bubblewrap", missing) {
        return None;
    }
    // `$CLAWC_SANDBOX_INIT` overrides this (scripts/attacks-unprivileged.sh points it at a copy
    // that `nobody` can read).
    let init = InitExe {
        path: env!("CARGO_BIN_EXE_claw-sandbox-init").into(),
        leading_args: Vec::new(),
    };
    match NativeSandbox::new(init) {
        Ok(sandbox) => Some(Box::new(sandbox)),
        Err(e) => {
            require("native sandbox", Some(e.to_string()));
            None
        }
    }
}

async fn docker() -> Option<Box<dyn Sandbox>> {
    use claw_runtime::docker::{DockerConfig, DockerSandbox};
    let sandbox = match DockerSandbox::connect(DockerConfig::default()).await {
        Ok(sandbox) => sandbox,
        Err(e) => {
            require("docker sandbox", Some(e.to_string()));
            return None;
        }
    };
    let image = sandbox.config().image.clone();
    let missing = sandbox
        .docker()
        .inspect_image(&image)
        .await
        .err()
        .map(|e| format!("base image {image} missing ({e}): run scripts/build-base-image.sh"));
    require("docker base image", missing).then(|| Box::new(sandbox) as Box<dyn Sandbox>)
}
