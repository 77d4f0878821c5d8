//! One running container: waiting with the wall timeout, telling limit kills apart, and removing
//! the container on every path — normal end, error, `kill`, or being dropped unwaited.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{KillContainerOptions, RemoveContainerOptions};
use bollard::Docker;
use futures_util::StreamExt;
use tokio::time::Instant;

use super::egress::EgressSession;
use super::streams::{self, AttachedStdio};
use super::{setup_error, Engine, ENGINE_TIMEOUT_SECS};
use crate::policy::Policy;
use crate::sandbox::{
    BoxedRead, BoxedWrite, ExitReport, ExitStatus, LimitKind, SandboxChild, SandboxCommand,
    SandboxError, Unenforced,
};

/// How long output still in flight after the exit may take to reach the caller.
const OUTPUT_GRACE: Duration = Duration::from_secs(2);
const SIGKILL: i32 = 9;

/// A sandboxed program running in a Docker container.
pub struct DockerChild {
    container: Container,
    socket: PathBuf,
    stdio: AttachedStdio,
    timeout: Option<Duration>,
    /// Set at the start: the wall timeout counts from there.
    started: Instant,
    deadline: Option<Instant>,
    /// Set by [`SandboxChild::kill`]: the end is ours, not the program's.
    killed: bool,
    /// The engine's warnings at creation: limits it could not apply.
    unenforced: Vec<Unenforced>,
    removed: bool,
    /// The egress proxy serving this container, when the policy grants network.
    egress: Option<EgressSession>,
}

impl std::fmt::Debug for DockerChild {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerChild")
            .field("id", &self.container.id)
            .field("removed", &self.removed)
            .finish()
    }
}

impl DockerChild {
    /// Create the container, attach its stdio, start it. On any failure the container is
    /// removed before the error is returned.
    pub(super) async fn start(
        engine: &Engine,
        body: ContainerCreateBody,
        command: &SandboxCommand,
        policy: &Policy,
        egress: Option<EgressSession>,
    ) -> Result<Self, SandboxError> {
        let image = body.image.clone().unwrap_or_default();
        let created = engine
            .docker
            .create_container(None, body)
            .await
            .map_err(|e| setup_error(engine, &image, e))?;
        let now = Instant::now();
        let mut child = Self {
            container: Container {
                docker: engine.docker.clone(),
                id: created.id,
            },
            socket: engine.socket.clone(),
            stdio: AttachedStdio::default(),
            timeout: policy.limits.timeout,
            started: now,
            deadline: policy.limits.timeout.map(|t| now + t),
            killed: false,
            removed: false,
            unenforced: created
                .warnings
                .iter()
                .map(|warning| {
                    tracing::warn!(warning = %warning, "docker engine could not apply part of the sandbox");
                    Unenforced {
                        limit: "docker-engine",
                        reason: warning.clone(),
                    }
                })
                .collect(),
            egress,
        };
        if let Err(e) = child.attach_and_start(command).await {
            let error = setup_error(engine, &image, e);
            child.remove().await;
            return Err(error);
        }
        Ok(child)
    }

    async fn attach_and_start(
        &mut self,
        command: &SandboxCommand,
    ) -> Result<(), bollard::errors::Error> {
        // Attach first: output written before an attach would be lost.
        let Container { docker, id } = &self.container;
        self.stdio = streams::attach(docker, id, command).await?;
        docker.start_container(id, None).await?;
        self.started = Instant::now();
        self.deadline = self.timeout.map(|t| self.started + t);
        Ok(())
    }

    async fn remove(&mut self) {
        if self.removed {
            return;
        }
        let Container { docker, id } = &self.container;
        match docker.remove_container(id, Some(force_remove())).await {
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => self.removed = true,
            Err(e) => tracing::warn!(container = %id, "could not remove container: {e}"),
        }
    }

    /// Wait for the end under the deadline and say how it ended. The caller removes.
    async fn run_to_end(&mut self) -> Result<ExitReport, SandboxError> {
        let (status, killed_by) =
            match crate::sandbox::until(self.deadline, self.container.exit_code()).await {
                Some(code) => {
                    let code = code?;
                    let killed_by = self
                        .container
                        .oom_killed()
                        .await?
                        .then_some(LimitKind::Memory);
                    let status = if self.killed {
                        ExitStatus::Signal(SIGKILL)
                    } else {
                        ExitStatus::Code(i32::try_from(code).unwrap_or(i32::MAX))
                    };
                    (status, killed_by)
                }
                None => {
                    self.container.kill().await?;
                    (ExitStatus::Signal(SIGKILL), Some(LimitKind::Timeout))
                }
            };
        let elapsed = self.started.elapsed();
        self.stdio.finish(OUTPUT_GRACE).await;
        let egress = match self.egress.take() {
            Some(session) => session.finish().await,
            None => Vec::new(),
        };
        Ok(ExitReport {
            status,
            killed_by,
            elapsed,
            egress,
        })
    }
}

/// The engine's handle on one container. Kept apart from the stdio ends (which are not `Sync`) so
/// the futures that talk to the engine stay `Send`.
struct Container {
    docker: Docker,
    id: String,
}

impl Container {
    /// The program's exit code, from the engine.
    async fn exit_code(&self) -> Result<i64, SandboxError> {
        use bollard::errors::Error as E;
        match self.docker.wait_container(&self.id, None).next().await {
            Some(Ok(response)) => Ok(response.status_code),
            // bollard reports non-zero exits as errors; for us they are just exit codes.
            Some(Err(E::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(e)) => Err(engine_io("waiting for the container", e)),
            None => Err(engine_io("waiting for the container", "no answer")),
        }
    }

    async fn oom_killed(&self) -> Result<bool, SandboxError> {
        let inspected = self
            .docker
            .inspect_container(&self.id, None)
            .await
            .map_err(|e| engine_io("inspecting the container", e))?;
        Ok(inspected.state.and_then(|s| s.oom_killed).unwrap_or(false))
    }

    async fn kill(&self) -> Result<(), SandboxError> {
        use bollard::errors::Error as E;
        match self
            .docker
            .kill_container(&self.id, None::<KillContainerOptions>)
            .await
        {
            // 409: not running any more; 404: already gone. Both mean "dead", which is the goal.
            Ok(())
            | Err(E::DockerResponseServerError {
                status_code: 404 | 409,
                ..
            }) => Ok(()),
            Err(e) => Err(engine_io("killing the container", e)),
        }
    }
}

#[async_trait]
impl SandboxChild for DockerChild {
    fn take_stdin(&mut self) -> Option<BoxedWrite> {
        self.stdio.stdin.take()
    }

    fn take_stdout(&mut self) -> Option<BoxedRead> {
        self.stdio.stdout.take()
    }

    fn take_stderr(&mut self) -> Option<BoxedRead> {
        self.stdio.stderr.take()
    }

    /// What the engine said it could not apply when it created the container (its warnings,
    /// e.g. a memory limit without swap accounting); everything else it enforces itself.
    fn unenforced(&self) -> &[Unenforced] {
        &self.unenforced
    }

    async fn wait(&mut self) -> Result<ExitReport, SandboxError> {
        let report = self.run_to_end().await;
        if report.is_err() {
            // Whatever went wrong, nothing of the sandbox may keep running.
            let _ = self.container.kill().await;
        }
        self.remove().await;
        report
    }

    async fn kill(&mut self) -> Result<(), SandboxError> {
        self.killed = true;
        self.container.kill().await
    }
}

impl Drop for DockerChild {
    /// Dropped without `wait`: remove the container (forcibly, which also kills it). This runs on
    /// its own thread with its own engine connection, because the caller's runtime may be
    /// shutting down or be the very thread we would block; joining keeps "always removed" true
    /// even when the process exits right after.
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        let (socket, id) = (self.socket.clone(), self.container.id.clone());
        let removal = std::thread::spawn(move || remove_detached(&socket, &id));
        if let Ok(Err(e)) = removal.join() {
            tracing::warn!(container = %self.container.id, "could not remove container on drop: {e}");
        }
    }
}

fn remove_detached(socket: &std::path::Path, id: &str) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let docker = Docker::connect_with_unix(
            &socket.to_string_lossy(),
            ENGINE_TIMEOUT_SECS,
            bollard::API_DEFAULT_VERSION,
        )
        .map_err(|e| e.to_string())?
        .negotiate_version()
        .await
        .map_err(|e| e.to_string())?;
        docker
            .remove_container(id, Some(force_remove()))
            .await
            .map_err(|e| e.to_string())
    })
}

fn force_remove() -> RemoveContainerOptions {
    // `v`: anonymous volumes go too (the image declares none, but a leak is a leak).
    RemoveContainerOptions {
        force: true,
        v: true,
        ..Default::default()
    }
}

fn engine_io(doing: &str, err: impl std::fmt::Display) -> SandboxError {
    SandboxError::Io(std::io::Error::other(format!(
        "Docker engine, {doing}: {err}"
    )))
}
