//! Which `clawc` process a container belongs to, written on the container as labels, and the
//! reaping of containers whose owner is dead. A live owner's containers are never touched:
//! another gateway or agent on this machine may be using the same engine.
//!
//! An owner is a `crate::owner::Owner` (pid and start time, so a reused pid does not make a
//! dead owner look alive). Pids only mean something in one pid namespace of one boot, so the
//! marker label names that space (boot id and pid namespace), and only containers from our own
//! space are judged at all.

use std::collections::HashMap;
use std::sync::OnceLock;

use bollard::query_parameters::{ListContainersOptions, RemoveContainerOptions};
use bollard::Docker;

/// Marker on every container an owner creates; its value is the owner's pid space.
pub const OWNER_LABEL: &str = "clawc.owner";
pub const OWNER_PID_LABEL: &str = "clawc.owner.pid";
pub const OWNER_START_LABEL: &str = "clawc.owner.start";

use crate::owner::Owner;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContainerOwner {
    space: String,
    process: Owner,
}

impl ContainerOwner {
    /// This process (read once). `None` when `/proc` does not say; its containers then carry
    /// no owner and are never reaped (the lifeline and auto-removal still end them).
    pub(crate) fn current() -> Option<&'static ContainerOwner> {
        static CURRENT: OnceLock<Option<ContainerOwner>> = OnceLock::new();
        CURRENT
            .get_or_init(|| {
                Some(ContainerOwner {
                    space: pid_space()?,
                    process: Owner::current()?,
                })
            })
            .as_ref()
    }

    pub(crate) fn labels(&self) -> [(String, String); 3] {
        [
            (OWNER_LABEL.to_owned(), self.space.clone()),
            (OWNER_PID_LABEL.to_owned(), self.process.pid.to_string()),
            (OWNER_START_LABEL.to_owned(), self.process.start.to_string()),
        ]
    }

    /// The owner a container's labels name; `None` for anything malformed (never reaped).
    fn from_labels(labels: &HashMap<String, String>) -> Option<ContainerOwner> {
        Some(ContainerOwner {
            space: labels.get(OWNER_LABEL)?.clone(),
            process: Owner {
                pid: labels
                    .get(OWNER_PID_LABEL)?
                    .parse()
                    .ok()
                    .filter(|pid| *pid > 0)?,
                start: labels.get(OWNER_START_LABEL)?.parse().ok()?,
            },
        })
    }

    fn alive(&self) -> bool {
        self.process.alive()
    }
}

/// This boot and this pid namespace, e.g. `5c1e…-4026531836`.
fn pid_space() -> Option<String> {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let namespace = std::fs::read_link("/proc/self/ns/pid").ok()?;
    let namespace = namespace.to_str()?;
    let inode = namespace.strip_prefix("pid:[")?.strip_suffix(']')?;
    Some(format!("{}-{inode}", boot.trim()))
}

/// Force-removes (killing) every container of our pid space whose owner is dead, and returns
/// their ids. A `clawc` killed before its container started leaves one in state "created",
/// which neither the lifeline nor auto-removal can end; this catches those too.
pub(crate) async fn reap(docker: &Docker) -> Result<Vec<String>, bollard::errors::Error> {
    let Some(me) = ContainerOwner::current() else {
        return Ok(Vec::new());
    };
    let options = ListContainersOptions {
        all: true,
        filters: Some(HashMap::from([(
            "label".to_owned(),
            vec![format!("{OWNER_LABEL}={}", me.space)],
        )])),
        ..Default::default()
    };
    let mut reaped = Vec::new();
    for container in docker.list_containers(Some(options)).await? {
        let (Some(id), Some(labels)) = (container.id, container.labels) else {
            continue;
        };
        let Some(owner) = ContainerOwner::from_labels(&labels) else {
            continue;
        };
        if owner.space != me.space || owner.alive() {
            continue;
        }
        let removal = docker
            .remove_container(
                &id,
                Some(RemoveContainerOptions {
                    force: true,
                    v: true,
                    ..Default::default()
                }),
            )
            .await;
        use bollard::errors::Error as E;
        match removal {
            // 404: gone meanwhile; 409: its removal is already under way.
            Ok(())
            | Err(E::DockerResponseServerError {
                status_code: 404 | 409,
                ..
            }) => {
                tracing::info!(container = %id, owner_pid = owner.process.pid, "reaped a container whose clawc is gone");
                reaped.push(id);
            }
            Err(e) => {
                tracing::warn!(container = %id, "could not reap a dead owner's container: {e}")
            }
        }
    }
    Ok(reaped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_an_owner_and_alive() {
        let me = ContainerOwner::current().expect("/proc names this process");
        assert_eq!(me.process.pid, std::process::id());
        assert!(me.alive());
        let labels: HashMap<String, String> = me.labels().into_iter().collect();
        assert_eq!(ContainerOwner::from_labels(&labels).as_ref(), Some(me));
        let reborn = ContainerOwner {
            process: Owner {
                start: me.process.start + 1,
                ..me.process
            },
            ..me.clone()
        };
        assert!(!reborn.alive(), "a different start time is another process");
    }

    #[test]
    fn malformed_labels_name_no_owner() {
        let labels = |pid: &str, start: &str| -> HashMap<String, String> {
            HashMap::from([
                (OWNER_LABEL.to_owned(), "space".to_owned()),
                (OWNER_PID_LABEL.to_owned(), pid.to_owned()),
                (OWNER_START_LABEL.to_owned(), start.to_owned()),
            ])
        };
        assert!(ContainerOwner::from_labels(&labels("12", "34")).is_some());
        assert!(ContainerOwner::from_labels(&labels("0", "34")).is_none());
        assert!(ContainerOwner::from_labels(&labels("x", "34")).is_none());
        assert!(ContainerOwner::from_labels(&labels("12", "")).is_none());
        assert!(ContainerOwner::from_labels(&HashMap::new()).is_none());
    }
}
