//! The network path of a container whose policy grants egress. The container still has no
//! network of its own (`network_mode: none`); the egress proxy listens on a host Unix socket
//! that is bind-mounted in, and the in-sandbox init (see `supervisor.rs`) serves the bridge on
//! `127.0.0.1:3128` to it before it starts the program, which finds it through `HTTP(S)_PROXY`.
//! A model-API relay's socket comes in the same way, served on `127.0.0.1:3129`.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use crate::bridge::{proxy_env, RELAY_SOCKET_INSIDE};
use crate::egress::{EgressEvent, EgressProxy};
use crate::policy::{Mount, NetworkPolicy, Policy};
use crate::sandbox::SandboxError;

/// Where the proxy socket appears inside the container; init serves the bridge to it.
pub const SOCKET_IN_SANDBOX: &str = "/run/clawc/egress.sock";

/// Everything the egress path adds to one container.
#[derive(Debug)]
pub struct Egress {
    pub session: EgressSession,
    pub mounts: Vec<Mount>,
    pub env: Vec<(String, String)>,
}

impl Egress {
    pub async fn start(policy: &Policy) -> Result<Self, SandboxError> {
        let session = EgressSession::start(&policy.network).await?;
        Ok(Self {
            mounts: session.mounts(),
            env: proxy_env(&policy.network),
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
        // The bridges connect as the container's user (65534), not as us.
        for socket in std::iter::once(socket.as_path()).chain(proxy.relay_socket()) {
            std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o666))
                .map_err(|e| setup("socket permissions", e))?;
        }
        Ok(Self {
            proxy,
            _dir: dir,
            socket,
        })
    }

    /// The sockets, bind-mounted read-only (connecting to a socket needs no write access to
    /// its filesystem).
    fn mounts(&self) -> Vec<Mount> {
        let relay = self.proxy.relay_socket().map(|socket| Mount {
            source: socket.to_owned(),
            target: RELAY_SOCKET_INSIDE.into(),
            writable: false,
        });
        std::iter::once(Mount {
            source: self.socket.clone(),
            target: SOCKET_IN_SANDBOX.into(),
            writable: false,
        })
        .chain(relay)
        .collect()
    }

    /// Every request the proxy has seen so far.
    pub fn events(&self) -> Vec<EgressEvent> {
        self.proxy.events()
    }

    /// Stop serving and hand back every request the proxy saw.
    pub async fn finish(self) -> Vec<EgressEvent> {
        self.proxy.shutdown().await
    }
}
