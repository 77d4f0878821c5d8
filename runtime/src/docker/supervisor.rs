//! The in-sandbox init as every container's PID 1. Besides what it does on both backends
//! (Landlock, `no_new_privs`, the egress bridge when the policy grants network, reaping), in a
//! container it is also the part that cannot die with us: it enforces the wall timeout itself
//! and holds the lifeline to this process (see `lifeline.rs`), so a container ends with its
//! timeout or with `clawc`, whichever comes first, whether or not anyone on the host waits.

use std::path::PathBuf;

use super::egress::SOCKET_IN_SANDBOX as EGRESS_SOCKET;
use super::lifeline::{Lifeline, SOCKET_IN_SANDBOX as LIFELINE_SOCKET};
use crate::init::plan::InitPlan;
use crate::init::InitExe;
use crate::policy::{Mount, Policy};

const INIT_IN_SANDBOX: &str = crate::init::PATH_INSIDE;

/// How init wraps the program in one container.
#[derive(Debug)]
pub struct InitLaunch {
    plan: InitPlan,
    mounts: Vec<Mount>,
}

impl InitLaunch {
    pub fn new(init: &InitExe, policy: &Policy, lifeline: &Lifeline) -> Self {
        let timeout_ms = policy
            .limits
            .timeout
            .map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX));
        Self {
            plan: InitPlan {
                bridge_socket: policy
                    .network
                    .is_enabled()
                    .then(|| PathBuf::from(EGRESS_SOCKET)),
                relay_socket: policy
                    .network
                    .model_api
                    .as_ref()
                    .map(|_| PathBuf::from(crate::bridge::RELAY_SOCKET_INSIDE)),
                lifeline: Some(PathBuf::from(LIFELINE_SOCKET)),
                timeout_ms,
                ..InitPlan::for_mounts(policy)
            },
            mounts: vec![
                Mount {
                    source: init.path.clone(),
                    target: INIT_IN_SANDBOX.into(),
                    writable: false,
                },
                lifeline.mount(),
            ],
        }
    }

    /// The init binary and the lifeline socket, bind-mounted read-only.
    pub fn mounts(&self) -> &[Mount] {
        &self.mounts
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
    use std::time::Duration;

    use super::*;
    use crate::policy::HostPattern;

    #[tokio::test]
    async fn init_wraps_the_program_with_lifeline_timeout_bridge_and_mounts() {
        let init = InitExe {
            path: "/host/init".into(),
        };
        let mut policy = Policy {
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
        policy.limits.timeout = Some(Duration::from_millis(1500));
        policy.network.allow.push(HostPattern {
            host: "example.com".into(),
            port: 443,
        });
        let lifeline = Lifeline::listen().unwrap();
        let launch = InitLaunch::new(&init, &policy, &lifeline);
        let argv = launch.wrap(vec!["/usr/bin/env".into(), "-i".into()]);
        assert_eq!(
            argv,
            [
                INIT_IN_SANDBOX,
                "--ro",
                "/data/in",
                "--rw",
                "/data/out",
                "--bridge",
                EGRESS_SOCKET,
                "--lifeline",
                LIFELINE_SOCKET,
                "--timeout-ms",
                "1500",
                "--",
                "/usr/bin/env",
                "-i"
            ]
        );
        let targets: Vec<_> = launch.mounts().iter().map(|m| m.target.clone()).collect();
        assert_eq!(
            targets,
            [
                PathBuf::from(INIT_IN_SANDBOX),
                PathBuf::from(LIFELINE_SOCKET)
            ]
        );
        assert!(launch.mounts().iter().all(|m| !m.writable));

        // A long-lived server: no timeout, no bridge without network.
        policy.limits.timeout = None;
        policy.network.allow.clear();
        let argv = InitLaunch::new(&init, &policy, &lifeline).wrap(vec!["/bin/true".into()]);
        assert!(!argv.iter().any(|a| a == "--timeout-ms" || a == "--bridge"));
        assert!(argv.iter().any(|a| a == "--lifeline"));
    }
}
