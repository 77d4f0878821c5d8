//! Opening each real backend, or deciding (through `support::require`) that its cases skip
//! here and fail under CI.

use claw_runtime::docker::GVISOR_RUNTIME;
use claw_runtime::init::InitExe;
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
    match NativeSandbox::new(init_exe()) {
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
        init: Some(InitExe::from_env_or(init_exe())),
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
        let known = match sandbox.docker().info().await {
            Ok(info) => info.runtimes.is_some_and(|r| r.contains_key(runtime)),
            Err(_) => false,
        };
        let missing = (!known)
            .then(|| format!("the engine has no runtime {runtime}: run scripts/docker-engine.sh"));
        if !require("gVisor runtime", missing) {
            return None;
        }
    }
    Some(Box::new(sandbox))
}

/// The in-sandbox init this test binary was built with. The native backend lets
/// `$CLAWC_SANDBOX_INIT` override it (scripts/attacks-unprivileged.sh points that at a copy
/// `nobody` can read).
fn init_exe() -> InitExe {
    InitExe {
        path: env!("CARGO_BIN_EXE_claw-sandbox-init").into(),
    }
}
