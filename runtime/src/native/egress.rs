//! The egress path of one sandbox: an [`EgressProxy`] on a Unix socket in a private directory,
//! which bubblewrap binds into the sandbox for init's bridge.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::egress::{EgressEvent, EgressProxy};
use crate::policy::NetworkPolicy;
use crate::sandbox::SandboxError;

#[derive(Debug)]
pub(crate) struct Egress {
    proxy: EgressProxy,
    /// Private (0700) directory holding the socket; removed at shutdown.
    dir: PathBuf,
}

impl Egress {
    pub async fn start(policy: &NetworkPolicy) -> Result<Egress, SandboxError> {
        // A random name, as the Docker backend's: a name made of our pid collides with the
        // leftover of a killed clawc whose pid was the same (seen in CI: `File exists`).
        let dir = tempfile::Builder::new()
            .prefix("clawc-egress-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()
            .map_err(|err| SandboxError::Setup(format!("egress socket directory: {err}")))?
            .keep();
        match EgressProxy::start(policy, &dir.join("egress.sock")).await {
            Ok(proxy) => Ok(Egress { proxy, dir }),
            Err(err) => {
                let _ = std::fs::remove_dir_all(&dir);
                Err(SandboxError::Setup(format!("egress proxy: {err}")))
            }
        }
    }

    pub fn socket(&self) -> &Path {
        self.proxy.socket_path()
    }

    /// The model-API relay's socket, when the policy has one.
    pub fn relay_socket(&self) -> Option<&Path> {
        self.proxy.relay_socket()
    }

    /// Every request the proxy has seen so far.
    pub fn events(&self) -> Vec<EgressEvent> {
        self.proxy.events()
    }

    /// Stops the proxy and returns everything it saw.
    pub async fn shutdown(self) -> Vec<EgressEvent> {
        let events = self.proxy.shutdown().await;
        if let Err(err) = std::fs::remove_dir_all(&self.dir) {
            tracing::warn!(dir = %self.dir.display(), %err, "could not remove the egress socket directory");
        }
        events
    }

    /// For a sandbox dropped without `wait`: the proxy stops as it is dropped; take the
    /// directory with it.
    pub fn discard(self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
