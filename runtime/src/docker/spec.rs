//! The container a policy becomes. Pure: no engine calls, so every hardening flag can be checked
//! without Docker.

use std::collections::HashMap;
use std::path::Path;

use bollard::models::{ContainerCreateBody, HostConfig, Mount as DockerMount, MountType};

use super::egress::Egress;
use super::supervisor::InitLaunch;
use crate::policy::{Mount, Policy, BASE_ENV};
use crate::sandbox::{SandboxCommand, SandboxError, Stdio};

/// The user every container runs as: `nobody:nogroup`, never root.
pub const SANDBOX_USER: &str = "65534:65534";
/// Label on every container this backend creates, so leftovers can be found and swept.
pub const SANDBOX_LABEL: &str = "io.clawc.sandbox";
/// `env -i` starts the program with exactly the environment we list. Docker itself always adds
/// `HOSTNAME` and `HOME`, which would break "the policy's env and nothing else".
const CLEAN_ENV: [&str; 2] = ["/usr/bin/env", "-i"];

/// Everything besides the policy that shapes one container.
#[derive(Debug)]
pub struct ContainerPlan<'a> {
    pub image: &'a str,
    pub runtime: Option<&'a str>,
    /// The caller's labels and the owner's (see `owner.rs`).
    pub labels: &'a [(String, String)],
    /// The seccomp profile as Docker's JSON (see `seccomp.rs`).
    pub seccomp: &'a str,
    /// The init every container runs as PID 1, and its mounts.
    pub init: &'a InitLaunch,
    /// When the policy grants network: the proxy socket and the proxy variables.
    pub egress: Option<&'a Egress>,
    /// The runtime is gVisor, whose own tasks count against the engine's pids limit.
    pub gvisor: bool,
}

/// Host tasks gVisor itself holds in a container's pids cgroup (its Go runtime's threads, the
/// gofer; measured here: 38 with one idle program), with room to spare. Each program process
/// adds a stub process on top, hence the doubled budget under gVisor.
pub const GVISOR_OWN_TASKS: u32 = 64;

/// The create request for `command` under `policy`: no network, read-only root, all
/// capabilities dropped, no privilege gain, an unprivileged user, the policy's limits, a sized
/// private `/tmp`, the declared mounts and nothing else of the host.
pub fn container_body(
    command: &SandboxCommand,
    policy: &Policy,
    plan: &ContainerPlan<'_>,
) -> Result<ContainerCreateBody, SandboxError> {
    let limits = &policy.limits;
    let memory = i64::try_from(limits.memory_bytes).map_err(|_| {
        SandboxError::Setup(format!("memory limit {} is too large", limits.memory_bytes))
    })?;
    let tmp_bytes = limits.tmp_bytes;
    if !(limits.cpu.is_finite() && limits.cpu > 0.0) {
        return Err(SandboxError::Setup(format!(
            "CPU share must be positive, got {}",
            limits.cpu
        )));
    }
    // Rounding a fraction of a core to nanoseconds of CPU time per second cannot overflow for any
    // machine-sized core count; the cast saturates beyond that.
    let nano_cpus = (limits.cpu * 1e9).round() as i64;

    let extra_mounts = plan
        .init
        .mounts()
        .iter()
        .chain(plan.egress.into_iter().flat_map(|e| &e.mounts));
    let mut mounts = Vec::with_capacity(policy.mounts.len() + 4);
    for mount in policy.mounts.iter().chain(extra_mounts) {
        mounts.push(bind_mount(mount)?);
    }
    // `pids` is the program's budget; the container also holds init (and its bridge acceptor).
    let mut pids = limits
        .pids
        .saturating_add(crate::init::own_tasks(&policy.network));
    if plan.gvisor {
        pids = pids.saturating_mul(2).saturating_add(GVISOR_OWN_TASKS);
    }

    let host_config = HostConfig {
        network_mode: Some("none".into()),
        readonly_rootfs: Some(true),
        cap_drop: Some(vec!["ALL".into()]),
        security_opt: Some(vec![
            "no-new-privileges".into(),
            format!("seccomp={}", plan.seccomp),
        ]),
        memory: Some(memory),
        // Equal to `memory`: no swap on top, so the limit is the real ceiling.
        memory_swap: Some(memory),
        pids_limit: Some(i64::from(pids)),
        nano_cpus: Some(nano_cpus),
        tmpfs: Some(HashMap::from([(
            "/tmp".to_string(),
            format!("rw,nosuid,nodev,size={tmp_bytes},mode=1777"),
        )])),
        mounts: Some(mounts),
        runtime: plan.runtime.map(str::to_string),
        // An ended container goes away by itself, also when no `clawc` is left to remove it
        // (init ends it at the timeout or when `clawc` dies).
        auto_remove: Some(true),
        ..Default::default()
    };

    // The same environment as on every backend: the base, then the policy's variables, then
    // the proxy settings (the only way out, so they win).
    let mut env: std::collections::BTreeMap<String, String> = BASE_ENV
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    env.extend(policy.env.clone());
    env.extend(plan.egress.iter().flat_map(|e| e.env.iter().cloned()));
    let env: Vec<(String, String)> = env.into_iter().collect();

    Ok(ContainerCreateBody {
        image: Some(plan.image.to_string()),
        // The image may name an entrypoint; the sandbox runs exactly our argv.
        entrypoint: Some(Vec::new()),
        cmd: Some(plan.init.wrap(argv(command, &env)?)),
        user: Some(SANDBOX_USER.into()),
        hostname: Some("sandbox".into()),
        working_dir: Some(
            command
                .cwd
                .as_deref()
                .unwrap_or(Path::new("/tmp"))
                .to_string_lossy()
                .into_owned(),
        ),
        // Docker's own `Env` is left empty: `env -i` sets the environment (see CLEAN_ENV).
        env: Some(Vec::new()),
        network_disabled: Some(true),
        attach_stdin: Some(command.stdin != Stdio::Null),
        open_stdin: Some(command.stdin != Stdio::Null),
        // Closing our end of stdin closes the program's: the EOF a piped protocol relies on.
        stdin_once: Some(command.stdin != Stdio::Null),
        attach_stdout: Some(command.stdout != Stdio::Null),
        attach_stderr: Some(command.stderr != Stdio::Null),
        tty: Some(false),
        labels: Some(
            std::iter::once((SANDBOX_LABEL.to_string(), "1".to_string()))
                .chain(plan.labels.iter().cloned())
                .collect(),
        ),
        host_config: Some(host_config),
        ..Default::default()
    })
}

/// `env -i -- K=V... program args...`
fn argv(command: &SandboxCommand, env: &[(String, String)]) -> Result<Vec<String>, SandboxError> {
    // `env` reads leading `NAME=VALUE` words as assignments, so such a program name (or a name
    // with `=` in an assignment) would be misread rather than run.
    if command.program.contains('=') {
        return Err(SandboxError::Setup(format!(
            "program name {:?} contains '=': not supported by the docker backend",
            command.program
        )));
    }
    if let Some((key, _)) = env.iter().find(|(k, _)| k.is_empty() || k.contains('=')) {
        return Err(SandboxError::Setup(format!(
            "invalid environment variable name {key:?}"
        )));
    }
    let mut argv: Vec<String> = CLEAN_ENV.iter().map(|s| s.to_string()).collect();
    argv.push("--".into());
    argv.extend(env.iter().map(|(k, v)| format!("{k}={v}")));
    argv.push(command.program.clone());
    argv.extend(command.args.iter().cloned());
    Ok(argv)
}

fn bind_mount(mount: &Mount) -> Result<DockerMount, SandboxError> {
    if !mount.target.is_absolute() {
        return Err(SandboxError::Setup(format!(
            "mount target {} must be an absolute path",
            mount.target.display()
        )));
    }
    // Docker resolves the source itself, but its error for a missing one is cryptic.
    let source = mount.source.canonicalize().map_err(|e| {
        SandboxError::Setup(format!("mount source {}: {e}", mount.source.display()))
    })?;
    Ok(DockerMount {
        typ: Some(MountType::BIND),
        source: Some(source.to_string_lossy().into_owned()),
        target: Some(mount.target.to_string_lossy().into_owned()),
        read_only: Some(!mount.writable),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::lifeline::Lifeline;
    use crate::init::InitExe;
    use std::path::PathBuf;

    /// A plan for `policy`, and the lifeline it refers to (kept alive alongside).
    fn launch(policy: &Policy) -> (InitLaunch, Lifeline) {
        let lifeline = Lifeline::listen().unwrap();
        let init = InitExe {
            // Any existing file: bind_mount canonicalises every source.
            path: "/bin/sh".into(),
        };
        (InitLaunch::new(&init, policy, &lifeline), lifeline)
    }

    fn plan(init: &InitLaunch) -> ContainerPlan<'_> {
        ContainerPlan {
            image: "img:tag",
            runtime: None,
            labels: &[],
            seccomp: "{}",
            init,
            egress: None,
            gvisor: false,
        }
    }

    /// The argv after init's own part: what init runs.
    fn program_argv(cmd: &[String]) -> &[String] {
        let end = cmd.iter().position(|a| a == "--").unwrap();
        &cmd[end + 1..]
    }

    #[tokio::test]
    async fn hardening_flags_are_always_set() {
        let command = SandboxCommand::new("/bin/true", Vec::<String>::new());
        let policy = Policy::default();
        let (init, _lifeline) = launch(&policy);
        let body = container_body(&command, &policy, &plan(&init)).unwrap();
        let host = body.host_config.unwrap();
        assert_eq!(host.network_mode.as_deref(), Some("none"));
        assert_eq!(host.readonly_rootfs, Some(true));
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
        assert_eq!(
            host.security_opt,
            Some(vec![
                "no-new-privileges".to_string(),
                "seccomp={}".to_string()
            ])
        );
        assert_eq!(host.memory, host.memory_swap);
        assert_eq!(host.memory, Some(256 << 20));
        // The program's 64 plus init itself.
        assert_eq!(
            host.pids_limit,
            Some(64 + i64::from(crate::init::own_tasks(&Default::default())))
        );
        assert_eq!(host.nano_cpus, Some(1_000_000_000));
        assert_eq!(host.auto_remove, Some(true));
        let targets: Vec<_> = host
            .mounts
            .unwrap()
            .into_iter()
            .map(|m| (m.target.unwrap(), m.read_only))
            .collect();
        assert_eq!(
            targets,
            [
                (crate::init::PATH_INSIDE.to_owned(), Some(true)),
                (
                    crate::docker::lifeline::SOCKET_IN_SANDBOX.to_owned(),
                    Some(true)
                )
            ]
        );
        assert_eq!(body.user.as_deref(), Some(SANDBOX_USER));
        assert_eq!(body.working_dir.as_deref(), Some("/tmp"));
        let cmd = body.cmd.unwrap();
        assert_eq!(cmd[0], crate::init::PATH_INSIDE, "init is PID 1");
        assert_eq!(
            program_argv(&cmd),
            [
                "/usr/bin/env",
                "-i",
                "--",
                "HOME=/tmp",
                "LANG=C.UTF-8",
                "PATH=/usr/local/bin:/usr/bin:/bin",
                "/bin/true"
            ]
        );
    }

    #[tokio::test]
    async fn under_gvisor_the_pids_limit_makes_room_for_gvisor_itself() {
        let command = SandboxCommand::new("/bin/true", Vec::<String>::new());
        let policy = Policy::default();
        let (init, _lifeline) = launch(&policy);
        let plan = ContainerPlan {
            gvisor: true,
            ..plan(&init)
        };
        let body = container_body(&command, &policy, &plan).unwrap();
        let budget = 64 + crate::init::own_tasks(&Default::default());
        assert_eq!(
            body.host_config.unwrap().pids_limit,
            Some(i64::from(budget * 2 + GVISOR_OWN_TASKS))
        );
    }

    #[tokio::test]
    async fn policy_env_overrides_the_base_environment() {
        let mut policy = Policy::default();
        policy.env.insert("PATH".into(), "/usr/bin".into());
        policy.env.insert("A".into(), "1".into());
        let command = SandboxCommand::new("sh", ["-c", "env"]);
        let (init, _lifeline) = launch(&policy);
        let body = container_body(&command, &policy, &plan(&init)).unwrap();
        assert_eq!(
            program_argv(&body.cmd.unwrap()),
            [
                "/usr/bin/env",
                "-i",
                "--",
                "A=1",
                "HOME=/tmp",
                "LANG=C.UTF-8",
                "PATH=/usr/bin",
                "sh",
                "-c",
                "env"
            ]
        );
        assert_eq!(body.env, Some(Vec::new()));
    }

    #[tokio::test]
    async fn bad_inputs_are_setup_errors() {
        let policy = Policy::default();
        let (init, _lifeline) = launch(&policy);
        let command = SandboxCommand::new("A=B", Vec::<String>::new());
        assert!(container_body(&command, &policy, &plan(&init)).is_err());

        let mut policy = Policy::default();
        policy.mounts.push(Mount {
            source: PathBuf::from("/nonexistent/clawc"),
            target: PathBuf::from("/data"),
            writable: false,
        });
        let command = SandboxCommand::new("true", Vec::<String>::new());
        let err = container_body(&command, &policy, &plan(&init)).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/clawc"), "{err}");

        let mut policy = Policy::default();
        policy.limits.cpu = f64::NAN;
        assert!(container_body(&command, &policy, &plan(&init)).is_err());
    }
}
