//! Docker backend through bollard, against a real engine. Every container is created with no
//! network, a read-only root, all capabilities dropped, `no-new-privileges`, user `65534`, the
//! policy's memory/pids/CPU limits and a sized private `/tmp`; stdio is attached before the
//! start so nothing is lost; the container is always removed afterwards.
//!
//! Nothing outlives `clawc`: the in-sandbox init is every container's PID 1; it enforces the
//! wall timeout itself and ends the container when its lifeline to this process closes (see
//! `supervisor.rs`, `lifeline.rs`); ended containers remove themselves (`auto_remove`); each is
//! labelled with its owner, and connecting reaps those whose owner is dead (`owner.rs`).
//!
//! The image is built offline by `scripts/build-base-image.sh` (never pulled); the engine is
//! started by `scripts/docker-engine.sh`.

mod child;
mod egress;
mod lifeline;
mod owner;
mod seccomp;
mod spec;
mod streams;
mod supervisor;

use std::path::PathBuf;

use async_trait::async_trait;
use bollard::Docker;

use crate::init::InitExe;
use crate::policy::Policy;
use crate::sandbox::{Sandbox, SandboxChild, SandboxCommand, SandboxError, Unenforced};

use egress::Egress;
use lifeline::Lifeline;
use supervisor::InitLaunch;

pub use child::DockerChild;
pub use owner::{OWNER_LABEL, OWNER_PID_LABEL, OWNER_START_LABEL};
pub use spec::{SANDBOX_LABEL, SANDBOX_USER};

/// The OCI runtime name `scripts/docker-engine.sh` registers gVisor under.
pub const GVISOR_RUNTIME: &str = "clawc-runsc";

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
    /// An OCI runtime the engine knows, e.g. [`GVISOR_RUNTIME`]; `None` is the engine's default.
    pub runtime: Option<String>,
    /// Extra labels on every container (callers use them to find their own).
    pub labels: Vec<(String, String)>,
    /// The in-sandbox init, bind-mounted into every container as its PID 1 (required:
    /// [`DockerSandbox::connect`] refuses a config without one). It runs on the image's libc
    /// (Debian bookworm).
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
    init: InitExe,
    /// Built once: the same profile goes to every container.
    seccomp_profile: String,
    /// The caller's labels plus this process's owner labels.
    labels: Vec<(String, String)>,
    /// Whether the configured runtime is gVisor (runsc).
    gvisor: bool,
    /// Layers that the configured runtime (gVisor) replaces: reported on every spawn.
    runtime_gaps: Vec<Unenforced>,
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
    /// Connect to the engine now, so a missing engine is reported before anything runs, and
    /// reap the containers of `clawc` processes that died (never a live one's).
    pub async fn connect(config: DockerConfig) -> Result<Self, SandboxError> {
        let engine = Engine::connect(config.socket_path()).await?;
        let init = config
            .init
            .clone()
            .ok_or_else(|| {
                SandboxError::Setup(
                    "the docker backend needs the in-sandbox init, every container's PID 1 \
                     (DockerConfig::init)"
                        .into(),
                )
            })?
            .resolve()?;
        let labels = config
            .labels
            .iter()
            .cloned()
            .chain(
                owner::ContainerOwner::current()
                    .into_iter()
                    .flat_map(|o| o.labels()),
            )
            .collect();
        let runtime_gaps = match &config.runtime {
            Some(name) => runtime_gaps(&engine, name).await,
            None => None,
        };
        let gvisor = runtime_gaps.is_some();
        let runtime_gaps = runtime_gaps.unwrap_or_default();
        let sandbox = Self {
            engine,
            config,
            init,
            seccomp_profile: seccomp::profile(),
            labels,
            gvisor,
            runtime_gaps,
        };
        if let Err(e) = sandbox.reap_orphans().await {
            tracing::warn!("could not look for containers of dead clawc processes: {e}");
        }
        Ok(sandbox)
    }

    /// Force-removes every container whose owning `clawc` is dead (in this boot and pid
    /// namespace) and returns their ids. [`DockerSandbox::connect`] does it once; a
    /// long-lived caller may repeat it.
    pub async fn reap_orphans(&self) -> Result<Vec<String>, SandboxError> {
        owner::reap(&self.engine.docker)
            .await
            .map_err(|e| SandboxError::Io(std::io::Error::other(format!("Docker engine: {e}"))))
    }

    /// The owner labels this process puts on its containers (empty when `/proc` cannot say).
    pub fn owner_labels() -> Vec<(String, String)> {
        owner::ContainerOwner::current()
            .map(|o| o.labels().to_vec())
            .unwrap_or_default()
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
        let lifeline = Lifeline::listen()?;
        let init = InitLaunch::new(&self.init, policy, &lifeline);
        let egress = if policy.network.is_enabled() {
            Some(Egress::start(policy).await?)
        } else {
            None
        };
        let plan = spec::ContainerPlan {
            image: &self.config.image,
            runtime: self.config.runtime.as_deref(),
            labels: &self.labels,
            seccomp: &self.seccomp_profile,
            init: &init,
            egress: egress.as_ref(),
            gvisor: self.gvisor,
        };
        let body = spec::container_body(&command, policy, &plan)?;
        let started = child::Started {
            lifeline,
            egress: egress.map(|e| e.session),
            unenforced: self.runtime_gaps.clone(),
        };
        let child = DockerChild::start(&self.engine, body, &command, policy, started).await?;
        Ok(Box::new(child))
    }
}

/// What the named runtime replaces of this backend's layers, when it is gVisor (runsc); `None`
/// for any other runtime. Under gVisor the program talks to gVisor's own kernel, not the
/// host's: runsc loads no OCI seccomp profile unless started with `--oci-seccomp`, gVisor
/// implements no Landlock, and the engine's pids limit counts gVisor's own threads and stub
/// processes too. An unknown runtime has no gaps (its spawn fails anyway).
async fn runtime_gaps(engine: &Engine, name: &str) -> Option<Vec<Unenforced>> {
    let registered = match engine.docker.info().await {
        Ok(info) => info.runtimes.and_then(|mut r| r.remove(name)),
        Err(e) => {
            tracing::warn!("Docker engine info: {e}");
            None
        }
    };
    let path = registered.as_ref().and_then(|r| r.path.clone());
    let args = registered.and_then(|r| r.runtime_args).unwrap_or_default();
    let is_runsc = path
        .as_deref()
        .map(std::path::Path::new)
        .and_then(std::path::Path::file_name)
        .is_some_and(|file| file == "runsc")
        || name == GVISOR_RUNTIME
        || name == "runsc";
    if !is_runsc {
        return None;
    }
    let mut gaps = Vec::new();
    if !args
        .iter()
        .any(|a| a == "--oci-seccomp" || a == "--oci-seccomp=true")
    {
        gaps.push(Unenforced {
            limit: "seccomp",
            reason: format!(
                "runtime {name} is gVisor (runsc) without --oci-seccomp: the container's seccomp \
                 profile is not loaded; gVisor's own kernel serves the program's system calls \
                 (unshare, io_uring, ptrace are gVisor's to refuse or contain)"
            ),
        });
    }
    gaps.push(Unenforced {
        limit: "landlock",
        reason: format!(
            "runtime {name} is gVisor (runsc), which implements no Landlock: file access rests \
             on the container's mounts and gVisor's file system"
        ),
    });
    gaps.push(Unenforced {
        limit: "pids",
        reason: format!(
            "runtime {name} is gVisor (runsc): the engine's pids limit also counts gVisor's own \
             threads and one stub process per program process, so it is set to twice the \
             program's budget plus {} and bounds the program only roughly",
            spec::GVISOR_OWN_TASKS
        ),
    });
    for gap in &gaps {
        tracing::info!(limit = gap.limit, reason = %gap.reason, "layer provided by gVisor, not the profile");
    }
    Some(gaps)
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
