//! The network path of a container whose policy grants egress. The container still has no
//! network of its own (`network_mode: none`); the egress proxy listens on a host Unix socket
//! that is bind-mounted in, and the in-sandbox init serves the bridge on `127.0.0.1:3128` to it
//! before it starts the program, which finds it through `HTTP(S)_PROXY`.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use crate::bridge::proxy_env;
use crate::egress::{EgressEvent, EgressProxy};
use crate::init::plan::InitPlan;
use crate::init::InitExe;
use crate::policy::{Mount, NetworkPolicy, Policy};
use crate::sandbox::SandboxError;

/// Where the proxy socket and the init appear inside the container.
const SOCKET_IN_SANDBOX: &str = "/run/clawc/egress.sock";
const INIT_IN_SANDBOX: &str = crate::init::PATH_INSIDE;

/// Everything the egress path adds to one container.
#[derive(Debug)]
pub struct Egress {
    pub session: EgressSession,
    pub init: InitLaunch,
    pub mounts: Vec<Mount>,
    pub env: Vec<(String, String)>,
}

impl Egress {
    pub async fn start(init: &InitExe, policy: &Policy) -> Result<Self, SandboxError> {
        let session = EgressSession::start(&policy.network).await?;
        Ok(Self {
            mounts: session.mounts(init),
            init: InitLaunch::new(init, policy),
            env: proxy_env(),
            session,
        })
    }
}

/// A running proxy for one container, and the private directory holding its socket.
#[derive(Debug)]
pub struct EgressSession {
    proxy: EgressProxy,
    /// Mode 0700: no other host user can reach the socket, whatever the socket's own mode.
    _dir: tempfile::TempDir,
    socket: PathBuf,
}

impl EgressSession {
    async fn start(network: &NetworkPolicy) -> Result<Self, SandboxError> {
        let setup = |what: &str, e: std::io::Error| {
            SandboxError::Setup(format!("egress proxy: {what}: {e}"))
        };
        let dir = tempfile::Builder::new()
            .prefix("clawc-egress-")
            .tempdir()
            .map_err(|e| setup("temporary directory", e))?;
        let socket = dir.path().join("egress.sock");
        let proxy = EgressProxy::start(network, &socket)
            .await
            .map_err(|e| setup("start", e))?;
        // The bridge connects as the container's user (65534), not as us.
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666))
            .map_err(|e| setup("socket permissions", e))?;
        Ok(Self {
            proxy,
            _dir: dir,
            socket,
        })
    }

    /// The socket and the init, bind-mounted read-only (connecting to a socket needs no write
    /// access to its filesystem).
    fn mounts(&self, init: &InitExe) -> Vec<Mount> {
        vec![
            Mount {
                source: self.socket.clone(),
                target: SOCKET_IN_SANDBOX.into(),
                writable: false,
            },
            Mount {
                source: init.path.clone(),
                target: INIT_IN_SANDBOX.into(),
                writable: false,
            },
        ]
    }

    /// Stop serving and hand back every request the proxy saw.
    pub async fn finish(self) -> Vec<EgressEvent> {
        self.proxy.shutdown().await
    }
}

/// How the in-sandbox init wraps the program: it binds the bridge, applies Landlock (the
/// policy's mounts are the only paths granted beyond `/usr`, `/tmp`, `/proc` and a few devices),
/// then runs the program as its child.
#[derive(Debug)]
pub struct InitLaunch {
    leading_args: Vec<String>,
    plan: InitPlan,
}

impl InitLaunch {
    fn new(init: &InitExe, policy: &Policy) -> Self {
        Self {
            leading_args: init.leading_args.clone(),
            plan: InitPlan {
                bridge_socket: Some(PathBuf::from(SOCKET_IN_SANDBOX)),
                ..InitPlan::for_mounts(policy)
            },
        }
    }

    /// `init [leading args] [init options] -- inner...`
    pub fn wrap(&self, inner: Vec<String>) -> Vec<String> {
        let mut inner = inner.into_iter();
        let plan = InitPlan {
            program: inner.next().unwrap_or_default().into(),
            args: inner.map(Into::into).collect(),
            ..self.plan.clone()
        };
        std::iter::once(INIT_IN_SANDBOX.to_string())
            .chain(self.leading_args.iter().cloned())
            // Every argument started as a `String`, so nothing is lossy here.
            .chain(
                plan.to_args()
                    .iter()
                    .map(|a| a.to_string_lossy().into_owned()),
            )
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_wraps_the_program_with_the_bridge_and_the_mounts() {
        let init = InitExe {
            path: "/host/init".into(),
            leading_args: vec!["__sandbox-init".into()],
        };
        let policy = Policy {
            mounts: vec![
                Mount {
                    source: "/h/a".into(),
                    target: "/data/in".into(),
                    writable: false,
                },
                Mount {
                    source: "/h/b".into(),
                    target: "/data/out".into(),
                    writable: true,
                },
            ],
            ..Policy::default()
        };
        let argv = InitLaunch::new(&init, &policy).wrap(vec!["/usr/bin/env".into(), "-i".into()]);
        assert_eq!(
            argv,
            [
                INIT_IN_SANDBOX,
                "__sandbox-init",
                "--ro",
                "/data/in",
                "--rw",
                "/data/out",
                "--bridge",
                SOCKET_IN_SANDBOX,
                "--",
                "/usr/bin/env",
                "-i"
            ]
        );
    }
}
