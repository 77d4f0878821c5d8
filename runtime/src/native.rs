//! Native Linux backend: bubblewrap (namespaces, mounts) + a seccomp filter compiled here +
//! Landlock and rlimits applied by the in-sandbox init + cgroups for memory, pids and CPU.
//!
//! Process tree: caller → `bwrap` (outer, in the sandbox's cgroups from before its exec) →
//! init as PID 1 of the sandbox's PID namespace → the program. Killing init kills the
//! namespace, so the whole tree goes with it.

mod bwrap;
mod cgroup;
mod egress;
mod fds;
mod seccomp;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::time::Instant;

use async_trait::async_trait;

use crate::egress::EgressEvent;
use crate::init::plan::{InitPlan, InitStatus};
use crate::init::InitExe;
use crate::policy::Policy;
use crate::sandbox::output::OutputCap;
use crate::sandbox::{
    BoxedRead, BoxedWrite, ExitReport, ExitStatus, LimitKind, Sandbox, SandboxChild,
    SandboxCommand, SandboxError, Stdio, Unenforced,
};
use bwrap::{Layout, RootEntry};
use cgroup::Cgroups;
use seccomp::SeccompPrograms;

/// The native backend. Build it once: it finds bubblewrap and compiles the seccomp filter up
/// front, so a spawn does neither.
#[derive(Debug)]
pub struct NativeSandbox {
    bwrap: PathBuf,
    root: Vec<RootEntry>,
    seccomp: SeccompPrograms,
    init: InitExe,
    landlock_gap: Option<Unenforced>,
}

impl NativeSandbox {
    /// `init` says how to start the in-sandbox init; `$CLAWC_SANDBOX_INIT` overrides it.
    pub fn new(init: InitExe) -> Result<Self, SandboxError> {
        let init = init.resolve()?;
        let landlock_gap = landlock_gap();
        let seccomp = seccomp::compile()
            .map_err(|err| SandboxError::Setup(format!("seccomp filter: {err}")))?;
        Ok(NativeSandbox {
            bwrap: bwrap::locate_bwrap()?,
            root: bwrap::host_root_entries(),
            seccomp,
            init,
            landlock_gap,
        })
    }
}

/// Init applies Landlock best-effort up to the ABI whose rights were reviewed; a kernel with
/// less enforces only part of the file rules (or none). Probed once; every spawn then reports
/// the gap as `Unenforced`, never silently.
fn landlock_gap() -> Option<Unenforced> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: the documented ABI-version query; it creates no ruleset and touches no memory.
    let abi = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    let reviewed = crate::init::LANDLOCK_REVIEWED_ABI;
    let reason = if abi < 1 {
        "Landlock is unavailable on this kernel: file access inside the sandbox rests on its mount namespace alone".to_owned()
    } else if abi < reviewed {
        format!(
            "the kernel's Landlock ABI is {abi}, below the reviewed {reviewed}: only part of the file and scope rules apply (the mount namespace still holds)"
        )
    } else {
        return None;
    };
    tracing::warn!("{reason}");
    Some(Unenforced {
        limit: "landlock",
        reason,
    })
}

/// What a spawn decided about the limits.
struct LimitPlan {
    cgroups: Option<Cgroups>,
    rlimit_data: Option<u64>,
    rlimit_nproc: Option<u64>,
    unenforced: Vec<Unenforced>,
}

fn plan_limits(policy: &Policy) -> LimitPlan {
    // `pids` is the program's budget; the sandbox also holds init and its bridge acceptor.
    let limits = &crate::policy::Limits {
        pids: policy
            .limits
            .pids
            .saturating_add(crate::init::own_tasks(&policy.network)),
        ..policy.limits
    };
    let (cgroups, coverage, refusals) = Cgroups::create(limits);
    let mut unenforced = Vec::new();
    let mut rlimit_data = None;
    if !coverage.memory {
        rlimit_data = Some(limits.memory_bytes);
        unenforced.push(Unenforced {
            limit: "memory",
            reason: format!(
                "{}; only a per-process data-size cap (RLIMIT_DATA) applies, not one for the whole sandbox",
                refusals.memory.unwrap_or_default()
            ),
        });
    }
    // RLIMIT_NPROC set inside the sandbox's own user namespace counts only the sandbox's
    // processes, so it is a real per-sandbox pids limit, not just an approximation.
    // Except for the host's root user, whom the kernel exempts from RLIMIT_NPROC
    // (`INIT_USER` in kernel/fork.c): there, without a pids cgroup nothing limits the count.
    let rlimit_nproc = (!coverage.pids).then_some(u64::from(limits.pids));
    // SAFETY: geteuid only reads this process's credentials.
    if !coverage.pids && unsafe { libc::geteuid() } == 0 {
        unenforced.push(Unenforced {
            limit: "pids",
            reason: format!(
                "{}; RLIMIT_NPROC does not bind the root user, so nothing limits the sandbox's processes",
                refusals.pids.clone().unwrap_or_default()
            ),
        });
    }
    if !coverage.cpu {
        unenforced.push(Unenforced {
            limit: "cpu",
            reason: refusals.cpu.unwrap_or_default(),
        });
    }
    for gap in &unenforced {
        tracing::warn!(limit = gap.limit, reason = %gap.reason, "native sandbox cannot enforce this limit");
    }
    LimitPlan {
        cgroups,
        rlimit_data,
        rlimit_nproc,
        unenforced,
    }
}

fn stdio(choice: Stdio) -> std::process::Stdio {
    match choice {
        Stdio::Inherit => std::process::Stdio::inherit(),
        Stdio::Piped => std::process::Stdio::piped(),
        Stdio::Null => std::process::Stdio::null(),
    }
}

#[async_trait]
impl Sandbox for NativeSandbox {
    fn name(&self) -> &'static str {
        "native"
    }

    async fn spawn(
        &self,
        command: SandboxCommand,
        policy: &Policy,
    ) -> Result<Box<dyn SandboxChild>, SandboxError> {
        let started = Instant::now();
        policy
            .validate()
            .map_err(|err| SandboxError::Setup(format!("policy: {err}")))?;
        for mount in &policy.mounts {
            bwrap::check_mount_source(mount)?;
        }
        // Descriptors first: failing here leaves nothing to clean up.
        let seccomp_deny = fds::pipe_with(&self.seccomp.deny)?;
        let seccomp_clone3 = fds::pipe_with(&self.seccomp.clone3)?;
        let (info_read, info_write) = fds::pipe()?;
        let (status_read, status_write) = fds::pipe()?;

        let mut env: BTreeMap<String, String> = crate::policy::BASE_ENV
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        env.extend(policy.env.clone());
        let egress = if policy.network.is_enabled() {
            // The proxy settings win over the policy's variables: they are the only way out.
            env.extend(crate::bridge::proxy_env(&policy.network));
            Some(egress::Egress::start(&policy.network).await?)
        } else {
            None
        };

        let mut limits = plan_limits(policy);
        limits.unenforced.extend(self.landlock_gap.clone());
        let plan = InitPlan {
            rlimit_data: limits.rlimit_data,
            rlimit_nproc: limits.rlimit_nproc,
            bridge_socket: egress
                .as_ref()
                .map(|_| PathBuf::from(bwrap::EGRESS_SOCKET_INSIDE)),
            relay_socket: egress
                .as_ref()
                .and_then(egress::Egress::relay_socket)
                .map(|_| PathBuf::from(crate::bridge::RELAY_SOCKET_INSIDE)),
            status_fd: Some(status_write.as_raw_fd()),
            program: command.program.clone().into(),
            args: command.args.iter().map(OsString::from).collect(),
            ..InitPlan::for_mounts(policy)
        };
        let cwd = command.cwd.clone().unwrap_or_else(|| PathBuf::from("/tmp"));
        let layout = Layout {
            root: &self.root,
            tmp_bytes: policy.limits.tmp_bytes,
            mounts: &policy.mounts,
            init_host_path: &self.init.path,
            egress_socket: egress.as_ref().map(egress::Egress::socket),
            relay_socket: egress.as_ref().and_then(egress::Egress::relay_socket),
            cwd: &cwd,
            env: &env,
            seccomp_fds: [seccomp_deny.as_raw_fd(), seccomp_clone3.as_raw_fd()],
            info_fd: info_write.as_raw_fd(),
        };

        let mut output = OutputCap::new(policy.limits.output_bytes);
        let mut cmd = tokio::process::Command::new(&self.bwrap);
        cmd.args(layout.args())
            .args(plan.to_args())
            .stdin(stdio(command.stdin))
            .stdout(stdio(OutputCap::spawn_choice(
                output.as_ref(),
                command.stdout,
            )))
            .stderr(stdio(OutputCap::spawn_choice(
                output.as_ref(),
                command.stderr,
            )))
            .kill_on_drop(true);
        let inherited = [
            seccomp_deny.as_raw_fd(),
            seccomp_clone3.as_raw_fd(),
            info_write.as_raw_fd(),
            status_write.as_raw_fd(),
        ];
        let cgroup_fds = limits
            .cgroups
            .as_ref()
            .map(Cgroups::procs_fds)
            .unwrap_or_default();
        // SAFETY: the closure runs between fork and exec and only makes raw, async-signal-safe
        // syscalls (write, fcntl) on fds that stay open in the parent until spawn returns.
        unsafe {
            cmd.pre_exec(move || {
                cgroup::join_from_child(&cgroup_fds)?;
                fds::inherit_only_in_child(&inherited)
            });
        }
        let spawned = cmd.spawn();
        // The child holds its copies now; the parent's must go, or EOF never comes.
        drop((seccomp_deny, seccomp_clone3, info_write, status_write));
        let mut child = match spawned {
            Ok(child) => child,
            Err(err) => {
                if let Some(cgroups) = limits.cgroups {
                    cgroups.remove();
                }
                if let Some(egress) = egress {
                    egress.shutdown().await;
                }
                return Err(SandboxError::Setup(format!(
                    "cannot start {}: {err}",
                    self.bwrap.display()
                )));
            }
        };
        Ok(Box::new(NativeChild {
            bwrap_pid: child.id(),
            stdin: child.stdin.take().map(|s| Box::new(s) as BoxedWrite),
            stdout: OutputCap::route(
                output.as_mut(),
                command.stdout,
                child.stdout.take().map(|s| Box::new(s) as BoxedRead),
                false,
            ),
            stderr: OutputCap::route(
                output.as_mut(),
                command.stderr,
                child.stderr.take().map(|s| Box::new(s) as BoxedRead),
                true,
            ),
            output,
            child,
            unenforced: limits.unenforced,
            cgroups: limits.cgroups,
            egress,
            info: File::from(info_read),
            status: File::from(status_read),
            sandbox_init_pid: None,
            started,
            deadline: policy.limits.timeout.map(|t| started + t),
            report: None,
        }))
    }
}

struct NativeChild {
    child: tokio::process::Child,
    bwrap_pid: Option<u32>,
    stdin: Option<BoxedWrite>,
    stdout: Option<BoxedRead>,
    stderr: Option<BoxedRead>,
    output: Option<OutputCap>,
    unenforced: Vec<Unenforced>,
    cgroups: Option<Cgroups>,
    egress: Option<egress::Egress>,
    /// bubblewrap's `--info-fd`: the host pid of the sandbox's PID 1.
    info: File,
    /// Init's report of how the program ended.
    status: File,
    sandbox_init_pid: Option<i32>,
    started: Instant,
    deadline: Option<Instant>,
    report: Option<ExitReport>,
}

impl std::fmt::Debug for NativeChild {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeChild")
            .field("bwrap_pid", &self.bwrap_pid)
            .field("unenforced", &self.unenforced)
            .finish_non_exhaustive()
    }
}

impl NativeChild {
    /// Kills the sandbox's PID 1 (taking the namespace with it); bubblewrap then exits. Before
    /// bubblewrap reported that pid, kill bubblewrap itself (`--die-with-parent` takes the
    /// rest). The cgroups, when there are any, are swept as well.
    fn kill_tree(&mut self) {
        if let Some(cgroups) = &self.cgroups {
            cgroups.kill_all();
        }
        // Once bubblewrap has exited, it reaped PID 1 and the namespace is gone; its pid may
        // already belong to someone else, so signal nothing.
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        if self.sandbox_init_pid.is_none() {
            self.sandbox_init_pid =
                read_available(&mut self.info).and_then(|info| parse_child_pid(&info));
        }
        match self.sandbox_init_pid {
            // SAFETY: kill on a pid bubblewrap reported for this sandbox; bubblewrap has not
            // reaped it while it is still running, so the pid cannot have been reused.
            Some(pid) => unsafe {
                libc::kill(pid, libc::SIGKILL);
            },
            None => {
                if let Some(pid) = self.bwrap_pid.and_then(|p| i32::try_from(p).ok()) {
                    // SAFETY: kill on our own unreaped child.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
    }

    async fn finish(&mut self) -> Result<ExitReport, SandboxError> {
        let mut killed_by = None;
        let ended = crate::sandbox::until_limit(
            self.deadline.map(Into::into),
            self.output.as_ref().map(OutputCap::budget),
            self.child.wait(),
        )
        .await;
        let bwrap_status = match ended {
            Ok(status) => status?,
            Err(limit) => {
                self.kill_tree();
                killed_by = Some(limit);
                self.child.wait().await?
            }
        };
        if let Some(output) = &mut self.output {
            // Output cut off just before the program ended is still output over the limit.
            if killed_by.is_none() && output.is_exceeded() {
                killed_by = Some(LimitKind::Output);
            }
            output.drain().await;
        }
        let init_status =
            read_available(&mut self.status).and_then(|text| InitStatus::decode(&text));
        if let Some(cgroups) = self.cgroups.take() {
            if killed_by.is_none() && cgroups.memory_killed() {
                killed_by = Some(LimitKind::Memory);
            }
            let failed = !matches!(init_status, Some(InitStatus::Exited(0)));
            if killed_by.is_none() && failed && cgroups.pids_exhausted() {
                killed_by = Some(LimitKind::Pids);
            }
            cgroups.remove();
        }
        let egress = match self.egress.take() {
            Some(egress) => egress.shutdown().await,
            None => Vec::new(),
        };
        let status = match init_status {
            Some(InitStatus::Exited(code)) => ExitStatus::Code(code),
            Some(InitStatus::Signaled(signal)) => ExitStatus::Signal(signal),
            Some(InitStatus::Failed(message)) => {
                return Err(SandboxError::Setup(format!("sandbox init: {message}")))
            }
            // Init never reported: it was killed (by us or the OOM killer), or bubblewrap
            // failed before starting it.
            None if killed_by.is_some() => ExitStatus::Signal(libc::SIGKILL),
            None => match (bwrap_status.code(), bwrap_status.signal()) {
                (_, Some(signal)) => ExitStatus::Signal(signal),
                (Some(code), None) if code > 128 => ExitStatus::Signal(code - 128),
                (code, None) => {
                    return Err(SandboxError::Setup(format!(
                        "the sandbox could not be set up: bubblewrap or the sandbox init exited with {} before the program ran (the reason is on the sandbox's stderr)",
                        code.unwrap_or(-1)
                    )))
                }
            },
        };
        Ok(ExitReport {
            status,
            killed_by,
            elapsed: self.started.elapsed(),
            egress,
        })
    }
}

/// Reads what a non-blocking pipe holds right now.
fn read_available(file: &mut File) -> Option<String> {
    let mut text = String::new();
    match file.read_to_string(&mut text) {
        Ok(_) => Some(text),
        Err(_) if !text.is_empty() => Some(text),
        Err(_) => None,
    }
}

/// bubblewrap's info: `{ "child-pid": 1234 }`.
fn parse_child_pid(info: &str) -> Option<i32> {
    let after = info.split("\"child-pid\"").nth(1)?;
    let digits: String = after
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[async_trait]
impl SandboxChild for NativeChild {
    fn take_stdin(&mut self) -> Option<BoxedWrite> {
        self.stdin.take()
    }

    fn take_stdout(&mut self) -> Option<BoxedRead> {
        self.stdout.take()
    }

    fn take_stderr(&mut self) -> Option<BoxedRead> {
        self.stderr.take()
    }

    fn unenforced(&self) -> &[Unenforced] {
        &self.unenforced
    }

    fn egress_so_far(&self) -> Vec<EgressEvent> {
        self.egress
            .as_ref()
            .map(egress::Egress::events)
            .unwrap_or_default()
    }

    async fn wait(&mut self) -> Result<ExitReport, SandboxError> {
        if let Some(report) = &self.report {
            return Ok(report.clone());
        }
        let report = self.finish().await?;
        self.report = Some(report.clone());
        Ok(report)
    }

    async fn kill(&mut self) -> Result<(), SandboxError> {
        if self.report.is_none() {
            self.kill_tree();
        }
        Ok(())
    }
}

impl Drop for NativeChild {
    fn drop(&mut self) {
        if self.report.is_none() {
            self.kill_tree();
            if let Some(cgroups) = self.cgroups.take() {
                cgroups.remove();
            }
            if let Some(egress) = self.egress.take() {
                egress.discard();
            }
        }
    }
}
