//! Opening each real backend, or deciding (through `support::require`) that its cases skip
//! here and fail under CI.

use claw_runtime::init::InitExe;
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
    use claw_runtime::native::NativeSandbox;
    let missing = (!std::path::Path::new("/usr/bin/bwrap").exists())
        .then(|| "bwrap is not installed (apt-get install bubblewrap)".to_owned());
    if !require("bubblewrap", missing) {
        return None;
    }
    match NativeSandbox::new(init_exe()) {
        Ok(sandbox) => Some(Box::new(sandbox)),
        Err(e) => {
            require("native sandbox", Some(e.to_string()));
            None
        }
    }
}

async fn docker() -> Option<Box<dyn Sandbox>> {
    use claw_runtime::docker::{DockerConfig, DockerSandbox};
    let config = DockerConfig {
        // Serves the egress bridge inside containers whose policy grants network.
        init: Some(InitExe::from_env_or(init_exe())),
        ..DockerConfig::default()
    };
    let sandbox = match DockerSandbox::connect(config).await {
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

/// The in-sandbox init this test binary was built with. The native backend lets
/// `$CLAWC_SANDBOX_INIT` override it (scripts/attacks-unprivileged.sh points that at a copy
/// `nobody` can read).
fn init_exe() -> InitExe {
    InitExe {
        path: env!("CARGO_BIN_EXE_claw-sandbox-init").into(),
        leading_args: Vec::new(),
    }
}
