//! The host end of init's lifeline. Every container's init connects to a Unix socket this
//! process listens on (bind-mounted in), reports the program's end on it, and kills the whole
//! container when the connection closes — which is what happens when `clawc` is killed, even
//! with SIGKILL: the kernel closes our end, init sees EOF, and nothing of the sandbox outlives
//! us. The socket takes one connection (init's, made before the program exists) and then
//! stops listening, so the program cannot speak for init.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::UnixListener;
use tokio::task::JoinHandle;

use crate::init::plan::{InitStatus, TIMED_OUT};
use crate::policy::Mount;
use crate::sandbox::SandboxError;

/// Where the socket appears inside the container.
pub const SOCKET_IN_SANDBOX: &str = "/run/clawc/lifeline.sock";
/// Init's report is a line or two; anything longer is not init's.
const REPORT_LIMIT: u64 = 4096;

/// What init said about the end.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Init ended the program at the wall timeout.
    pub timed_out: bool,
    /// `None`: init never reported (it was killed, or never started).
    pub status: Option<InitStatus>,
}

impl Report {
    fn parse(text: &str) -> Self {
        match text.split_once('\n') {
            Some((first, rest)) if first == TIMED_OUT => Report {
                timed_out: true,
                status: InitStatus::decode(rest),
            },
            _ => Report {
                timed_out: false,
                status: InitStatus::decode(text),
            },
        }
    }
}

/// One container's lifeline: the listening socket in a private directory, and the task that
/// holds init's connection open for as long as this value lives.
#[derive(Debug)]
pub struct Lifeline {
    /// Mode 0700: no other host user can reach the socket, whatever the socket's own mode.
    _dir: tempfile::TempDir,
    socket: PathBuf,
    task: Option<JoinHandle<Report>>,
}

impl Lifeline {
    pub fn listen() -> Result<Self, SandboxError> {
        let setup = |what: &str, e: std::io::Error| {
            SandboxError::Setup(format!("sandbox lifeline: {what}: {e}"))
        };
        let dir = tempfile::Builder::new()
            .prefix("clawc-lifeline-")
            .tempdir()
            .map_err(|e| setup("temporary directory", e))?;
        let socket = dir.path().join("lifeline.sock");
        let listener = UnixListener::bind(&socket).map_err(|e| setup("listen", e))?;
        // Init connects as the container's user (65534), not as us.
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666))
            .map_err(|e| setup("socket permissions", e))?;
        let task = tokio::spawn(async move {
            let Ok((stream, _)) = listener.accept().await else {
                return Report::default();
            };
            drop(listener);
            let mut text = String::new();
            // Reading until EOF also keeps the connection open until then: our end closing
            // is init's signal to end the sandbox.
            let _ = stream.take(REPORT_LIMIT).read_to_string(&mut text).await;
            Report::parse(&text)
        });
        Ok(Self {
            _dir: dir,
            socket,
            task: Some(task),
        })
    }

    /// The socket, bind-mounted read-only (connecting needs no write access).
    pub fn mount(&self) -> Mount {
        Mount {
            source: self.socket.clone(),
            target: SOCKET_IN_SANDBOX.into(),
            writable: false,
        }
    }

    /// Init's report, once the container has ended (its connection is closed by then, so
    /// `grace` only bounds a container whose init never connected).
    pub async fn report(&mut self, grace: Duration) -> Report {
        let Some(mut task) = self.task.take() else {
            return Report::default();
        };
        match tokio::time::timeout(grace, &mut task).await {
            Ok(Ok(report)) => report,
            Ok(Err(_)) => Report::default(),
            Err(_) => {
                task.abort();
                Report::default()
            }
        }
    }
}

impl Drop for Lifeline {
    /// Closing init's connection ends the container, whoever else still holds it.
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_parse_with_and_without_the_timeout_line() {
        assert_eq!(
            Report::parse("exit 3\n"),
            Report {
                timed_out: false,
                status: Some(InitStatus::Exited(3))
            }
        );
        assert_eq!(
            Report::parse("timeout\nsignal 9\n"),
            Report {
                timed_out: true,
                status: Some(InitStatus::Signaled(9))
            }
        );
        assert_eq!(Report::parse(""), Report::default());
        assert_eq!(Report::parse("garbage\nexit 0\n").status, None);
    }
}
