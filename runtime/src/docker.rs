//! Docker backend through bollard, against a real engine. Every container is created with no
//! network, a read-only root, all capabilities dropped, `no-new-privileges`, user `65534`, the
//! policy's memory/pids/CPU limits and a sized private `/tmp`; stdio is attached before the
//! start so nothing is lost; the container is always removed afterwards.
//!
//! The image is built offline by `scripts/build-base-image.sh` (never pulled); the engine is
//! started by `scripts/docker-engine.sh`.

mod child;
mod egress;
mod seccomp;
mod spec;
mod streams;

use std::path::PathBuf;

use async_trait::async_trait;
use bollard::Docker;

use crate::init::InitExe;
use crate::policy::Policy;
use crate::sandbox::{Sandbox, SandboxChild, SandboxCommand, SandboxError};

use egress::Egress;

pub use child::DockerChild;
pub use spec::{SANDBOX_LABEL, SANDBOX_USER};

/// The base image's tag. It lives in one file that the build script reads too.
pub const BASE_IMAGE: &str = include_str!("docker/BASE_IMAGE").trim_ascii();
/// Where the engine listens when neither the config nor `DOCKER_HOST` says otherwise.
const DEFAULT_SOCKET: &str = "/var/run/docker.sock";
/// Seconds bollard waits for any one engine response to begin.
const ENGINE_TIMEOUT_SECS: u64 = 120;

/// How to reach the engine and what to run containers from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerConfig {
    /// The engine's Unix socket; `None` uses `DOCKER_HOST` (a `unix://` one) or the default.
    pub socket: Option<PathBuf>,
    pub image: String,
    /// An OCI runtime the engine knows, e.g. `runsc` for gVisor; `None` is the engine's default.
    pub runtime: Option<String>,
    /// Extra labels on every container (callers use them to find their own).
    pub labels: Vec<(String, String)>,
    /// The in-sandbox init, bind-mounted into containers whose policy grants network: it serves
    /// the bridge to the egress proxy. It runs on the image's libc (Debian bookworm).
    pub init: Option<InitExe>,
}

impl Default for DockerConfig {
    fn default() -> Self {
        Self {
            socket: None,
            image: BASE_IMAGE.to_string(),
            runtime: None,
            labels: Vec::new(),
            init: None,
        }
    }
}

impl DockerConfig {
    /// The socket path this config talks to.
    pub fn socket_path(&self) -> PathBuf {
        match &self.socket {
            Some(path) => path.clone(),
            None => std::env::var("DOCKER_HOST")
                .ok()
                .and_then(|host| host.strip_prefix("unix://").map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET)),
        }
    }
}

/// The Docker [`Sandbox`]. One engine connection, shared by every container it spawns.
#[derive(Debug, Clone)]
pub struct DockerSandbox {
    engine: Engine,
    config: DockerConfig,
    /// Built once: the same profile goes to every container.
    seccomp_profile: String,
}

/// A connected engine client and the address it came from (for messages and clean-up).
#[derive(Debug, Clone)]
struct Engine {
    docker: Docker,
    socket: PathBuf,
}

impl Engine {
    /// Connect and agree on an API version the engine speaks (Debian's 20.10 engine is API 1.41).
    async fn connect(socket: PathBuf) -> Result<Self, SandboxError> {
        let unreachable = |e: &dyn std::fmt::Display| {
            SandboxError::Setup(format!(
                "Docker engine not reachable at {}: {e}: start dockerd (scripts/docker-engine.sh)",
                socket.display()
            ))
        };
        let docker = Docker::connect_with_unix(
            &socket.to_string_lossy(),
            ENGINE_TIMEOUT_SECS,
            bollard::API_DEFAULT_VERSION,
        )
        .map_err(|e| unreachable(&e))?;
        let docker = docker
            .negotiate_version()
            .await
            .map_err(|e| unreachable(&e))?;
        Ok(Self { docker, socket })
    }
}

impl DockerSandbox {
    /// Connect to the engine now, so a missing engine is reported before anything runs.
    pub async fn connect(config: DockerConfig) -> Result<Self, SandboxError> {
        let engine = Engine::connect(config.socket_path()).await?;
        Ok(Self {
            engine,
            config,
            seccomp_profile: seccomp::profile(),
        })
    }

    /// The engine client, for callers that inspect what this backend created (tests, sweeps).
    pub fn docker(&self) -> &Docker {
        &self.engine.docker
    }

    pub fn config(&self) -> &DockerConfig {
        &self.config
    }
}

#[async_trait]
impl Sandbox for DockerSandbox {
    fn name(&self) -> &'static str {
        "docker"
    }

    async fn spawn(
        &self,
        command: SandboxCommand,
        policy: &Policy,
    ) -> Result<Box<dyn SandboxChild>, SandboxError> {
        policy
            .validate()
            .map_err(|err| SandboxError::Setup(format!("policy: {err}")))?;
        let egress = if policy.network.is_enabled() {
            let init = self.config.init.as_ref().ok_or_else(|| {
                SandboxError::Setup(
                    "the policy grants network, but the docker backend has no in-sandbox init to \
                     serve the egress bridge (DockerConfig::init)"
                        .into(),
                )
            })?;
            Some(Egress::start(init, policy).await?)
        } else {
            None
        };
        let plan = spec::ContainerPlan {
            image: &self.config.image,
            runtime: self.config.runtime.as_deref(),
            labels: &self.config.labels,
            seccomp: &self.seccomp_profile,
            egress: egress.as_ref(),
        };
        let body = spec::container_body(&command, policy, &plan)?;
        let session = egress.map(|e| e.session);
        let child = DockerChild::start(&self.engine, body, &command, policy, session).await?;
        Ok(Box::new(child))
    }
}

/// Turn an engine refusal before the start into a setup error that says what to do.
fn setup_error(engine: &Engine, image: &str, err: bollard::errors::Error) -> SandboxError {
    use bollard::errors::Error as E;
    match err {
        E::DockerResponseServerError {
            status_code: 404,
            message,
        } if message.contains("image") => SandboxError::Setup(format!(
            "Docker image {image} not found ({message}): build it with scripts/build-base-image.sh"
        )),
        E::DockerResponseServerError { message, .. } => {
            SandboxError::Setup(format!("the Docker engine refused the sandbox: {message}"))
        }
        other => SandboxError::Setup(format!(
            "Docker engine at {} failed: {other}: is dockerd running? (scripts/docker-engine.sh)",
            engine.socket.display()
        )),
    }
}
