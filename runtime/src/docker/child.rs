//! One running container: waiting for its end, telling limit kills apart, and removing the
//! container on every path — normal end, error, `kill`, or being dropped unwaited.
//!
//! The end is learnt from the engine's event stream (`oom`, `die` with the exit code,
//! `destroy`), subscribed with a `since` before the container's creation: containers remove
//! themselves when they end (`auto_remove`), so an inspect or a wait made afterwards could find
//! nothing, while the engine's event buffer still replays what happened. How the program ended
//! comes from init's report on the lifeline; the wall timeout is init's to enforce, and ours
//! only as a backstop a little later.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    EventsOptions, KillContainerOptions, RemoveContainerOptions, WaitContainerOptions,
};
use bollard::Docker;
use futures_util::StreamExt;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::egress::EgressSession;
use super::lifeline::Lifeline;
use super::streams::{self, AttachedStdio};
use super::{setup_error, Engine, ENGINE_TIMEOUT_SECS};
use crate::egress::EgressEvent;
use crate::init::plan::InitStatus;
use crate::policy::Policy;
use crate::sandbox::output::OutputBudget;
use crate::sandbox::{
    BoxedRead, BoxedWrite, ExitReport, ExitStatus, LimitKind, SandboxChild, SandboxCommand,
    SandboxError, Unenforced,
};

/// How long output still in flight after the exit may take to reach the caller.
const OUTPUT_GRACE: Duration = Duration::from_secs(2);
/// How long after the wall timeout we kill a container ourselves, should its init not have.
const TIMEOUT_BACKSTOP: Duration = Duration::from_secs(2);
/// How far back the event subscription reaches: before the creation, whatever the clocks say.
const EVENTS_SLACK_SECS: u64 = 60;
const SIGKILL: i32 = 9;

/// What a spawn prepared for the container besides its body.
pub(crate) struct Started {
    pub lifeline: Lifeline,
    /// The egress proxy serving this container, when the policy grants network.
    pub egress: Option<EgressSession>,
    /// Layers the runtime replaces (gVisor), reported with the engine's own warnings.
    pub unenforced: Vec<Unenforced>,
}

/// A sandboxed program running in a Docker container.
pub struct DockerChild {
    container: Container,
    socket: PathBuf,
    stdio: AttachedStdio,
    /// The output cap's budget, counted by the demultiplexer.
    output: Option<Arc<OutputBudget>>,
    timeout: Option<Duration>,
    /// Set at the start: the wall timeout counts from there.
    started: Instant,
    /// Our backstop: the wall timeout plus [`TIMEOUT_BACKSTOP`].
    deadline: Option<Instant>,
    /// Set by [`SandboxChild::kill`]: the end is ours, not the program's.
    killed: bool,
    /// The engine's warnings at creation (limits it could not apply), and the runtime's gaps.
    unenforced: Vec<Unenforced>,
    removed: bool,
    egress: Option<EgressSession>,
    lifeline: Lifeline,
    /// Follows the container's events until it is destroyed.
    end: JoinHandle<End>,
}

impl std::fmt::Debug for DockerChild {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerChild")
            .field("id", &self.container.id)
            .field("removed", &self.removed)
            .finish()
    }
}

/// What the engine's events said about the container's end.
#[derive(Debug, Default)]
struct End {
    oom: bool,
    /// From the `die` event; `None` when the stream broke off before it.
    exit_code: Option<i64>,
    destroyed: bool,
}

impl DockerChild {
    /// Create the container, attach its stdio, start it. On any failure the container is
    /// removed before the error is returned.
    pub(super) async fn start(
        engine: &Engine,
        body: ContainerCreateBody,
        command: &SandboxCommand,
        policy: &Policy,
        prepared: Started,
    ) -> Result<Self, SandboxError> {
        let image = body.image.clone().unwrap_or_default();
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default()
            .saturating_sub(EVENTS_SLACK_SECS);
        let created = engine
            .docker
            .create_container(None, body)
            .await
            .map_err(|e| setup_error(engine, &image, e))?;
        let mut unenforced: Vec<Unenforced> = created
            .warnings
            .iter()
            .map(|warning| {
                tracing::warn!(warning = %warning, "docker engine could not apply part of the sandbox");
                Unenforced {
                    limit: "docker-engine",
                    reason: warning.clone(),
                }
            })
            .collect();
        unenforced.extend(prepared.unenforced);
        let now = Instant::now();
        let mut child = Self {
            end: tokio::spawn(watch_end(engine.docker.clone(), created.id.clone(), since)),
            container: Container {
                docker: engine.docker.clone(),
                id: created.id,
            },
            socket: engine.socket.clone(),
            stdio: AttachedStdio::default(),
            output: OutputBudget::new(policy.limits.output_bytes),
            timeout: policy.limits.timeout,
            started: now,
            deadline: None,
            killed: false,
            removed: false,
            unenforced,
            egress: prepared.egress,
            lifeline: prepared.lifeline,
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
        self.stdio = streams::attach(docker, id, command, self.output.clone()).await?;
        docker.start_container(id, None).await?;
        self.started = Instant::now();
        self.deadline = self.timeout.map(|t| self.started + t + TIMEOUT_BACKSTOP);
        Ok(())
    }

    async fn remove(&mut self) {
        if self.removed {
            return;
        }
        let Container { docker, id } = &self.container;
        match docker.remove_container(id, Some(force_remove())).await {
            // 404: gone; 409: its own removal (auto_remove) is under way.
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404 | 409,
                ..
            }) => self.removed = true,
            Err(e) => tracing::warn!(container = %id, "could not remove container: {e}"),
        }
    }

    /// Wait for the end, killing at our backstop deadline, and say how it ended.
    async fn run_to_end(&mut self) -> Result<ExitReport, SandboxError> {
        let ended =
            crate::sandbox::until_limit(self.deadline, self.output.as_deref(), &mut self.end).await;
        let (end, limit) = match ended {
            Ok(end) => (end, None),
            Err(limit) => {
                self.container.kill().await?;
                ((&mut self.end).await, Some(limit))
            }
        };
        let backstop_hit = limit == Some(LimitKind::Timeout);
        let mut output_hit = limit == Some(LimitKind::Output);
        // Output cut off just before the program ended is still output over the limit.
        output_hit |= self.output.as_ref().is_some_and(|b| b.is_exceeded());
        let end = end.unwrap_or_default();
        if end.destroyed {
            self.removed = true;
        }
        let exit_code = match end.exit_code {
            Some(code) => Some(code),
            // The event stream broke off: ask the engine directly (nothing if already gone).
            None => self.container.exit_code().await?,
        };
        let elapsed = self.started.elapsed();
        self.stdio.finish(OUTPUT_GRACE).await;
        let report = self.lifeline.report(OUTPUT_GRACE).await;
        let egress = match self.egress.take() {
            Some(session) => session.finish().await,
            None => Vec::new(),
        };
        let timed_out = backstop_hit || report.timed_out;
        let killed_by = if timed_out {
            Some(LimitKind::Timeout)
        } else if output_hit {
            Some(LimitKind::Output)
        } else {
            end.oom.then_some(LimitKind::Memory)
        };
        let status = if self.killed || timed_out || output_hit {
            ExitStatus::Signal(SIGKILL)
        } else {
            match report.status {
                Some(InitStatus::Exited(code)) => ExitStatus::Code(code),
                Some(InitStatus::Signaled(signal)) => ExitStatus::Signal(signal),
                Some(InitStatus::Failed(message)) => {
                    return Err(SandboxError::Setup(format!("sandbox init: {message}")))
                }
                // Init never reported: it was killed (by the OOM killer, say) or never ran.
                None => unreported(exit_code, killed_by.is_some())?,
            }
        };
        Ok(ExitReport {
            status,
            killed_by,
            elapsed,
            egress,
        })
    }
}

/// The status of a container whose init did not report, from its exit code alone.
fn unreported(exit_code: Option<i64>, limit_hit: bool) -> Result<ExitStatus, SandboxError> {
    match exit_code {
        _ if limit_hit => Ok(ExitStatus::Signal(SIGKILL)),
        Some(code @ 129..=192) => Ok(ExitStatus::Signal(
            i32::try_from(code - 128).unwrap_or(SIGKILL),
        )),
        Some(code) => Err(SandboxError::Setup(format!(
            "the sandbox could not be set up: the container ended with {code} before init reported \
             (the reason is on the sandbox's stderr)"
        ))),
        None => Err(engine_io(
            "waiting for the container",
            "its end was not reported",
        )),
    }
}

/// Follows the container's events (replayed from `since`, then live) until it is destroyed.
async fn watch_end(docker: Docker, id: String, since: u64) -> End {
    let options = EventsOptions {
        since: Some(since.to_string()),
        until: None,
        filters: Some(HashMap::from([
            ("container".to_owned(), vec![id]),
            ("type".to_owned(), vec!["container".to_owned()]),
        ])),
    };
    let mut events = docker.events(Some(options));
    let mut end = End::default();
    while let Some(Ok(event)) = events.next().await {
        match event.action.as_deref() {
            Some("oom") => end.oom = true,
            Some("die") => {
                end.exit_code = event
                    .actor
                    .and_then(|actor| actor.attributes)
                    .and_then(|attributes| attributes.get("exitCode")?.parse().ok())
                    .or(Some(-1));
            }
            Some("destroy") => {
                end.destroyed = true;
                break;
            }
            _ => {}
        }
    }
    end
}

/// The engine's handle on one container. Kept apart from the stdio ends (which are not `Sync`) so
/// the futures that talk to the engine stay `Send`.
struct Container {
    docker: Docker,
    id: String,
}

impl Container {
    /// The container's exit code, waiting for it; `None` when it is already gone.
    async fn exit_code(&self) -> Result<Option<i64>, SandboxError> {
        use bollard::errors::Error as E;
        let options = WaitContainerOptions {
            condition: "not-running".into(),
        };
        match self
            .docker
            .wait_container(&self.id, Some(options))
            .next()
            .await
        {
            Some(Ok(response)) => Ok(Some(response.status_code)),
            // bollard reports non-zero exits as errors; for us they are just exit codes.
            Some(Err(E::DockerContainerWaitError { code, .. })) => Ok(Some(code)),
            Some(Err(E::DockerResponseServerError {
                status_code: 404, ..
            })) => Ok(None),
            Some(Err(e)) => Err(engine_io("waiting for the container", e)),
            None => Err(engine_io("waiting for the container", "no answer")),
        }
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
    /// e.g. a memory limit without swap accounting), and the layers a gVisor runtime replaces.
    fn unenforced(&self) -> &[Unenforced] {
        &self.unenforced
    }

    fn egress_so_far(&self) -> Vec<EgressEvent> {
        self.egress
            .as_ref()
            .map(EgressSession::events)
            .unwrap_or_default()
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
        self.end.abort();
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
