//! Opening each real backend, or deciding (through `support::require`) that its cases skip
//! here and fail under CI.

use claw_runtime::docker::GVISOR_RUNTIME;
use claw_runtime::Sandbox;

use super::harness::Backend;
use crate::support::require;

pub async fn open(backend: Backend) -> Option<Box<dyn Sandbox>> {
    match backend {
        Backend::Native => native(),
        Backend::Docker => docker(None).await,
        Backend::Gvisor => docker(Some(GVISOR_RUNTIME)).await,
    }
}

fn native() -> Option<Box<dyn Sandbox>> {
    use claw_runtime::native::NativeSandbox;
    let missing = (!std::path::Path::new("/usr/bin/bwrap").exists())
        .then(|| "bwrap is not installed (apt-get install bubblewrap)".to_owned());
    if !require("bubblewrap", missing) {
        return None;
    }
    match NativeSandbox::new(crate::parts::test_init()) {
        Ok(sandbox) => Some(Box::new(sandbox)),
        Err(e) => {
            require("native sandbox", Some(e.to_string()));
            None
        }
    }
}

/// The Docker backend, on the engine's default runtime or on `runtime` (gVisor's, registered
/// by scripts/docker-engine.sh).
async fn docker(runtime: Option<&str>) -> Option<Box<dyn Sandbox>> {
    use claw_runtime::docker::{DockerConfig, DockerSandbox};
    let config = DockerConfig {
        // Every container's PID 1: the timeout, the lifeline to us, the egress bridge.
        init: Some(crate::parts::test_init()),
        runtime: runtime.map(str::to_owned),
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
    if !require("docker base image", missing) {
        return None;
    }
    if let Some(runtime) = runtime {
        let missing = crate::parts::runtime_missing(&sandbox, runtime).await;
        if !require("gVisor runtime", missing) {
            return None;
        }
    }
    Some(Box::new(sandbox))
}
