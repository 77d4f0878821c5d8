//! The in-sandbox init: the program bubblewrap starts inside the sandbox, as PID 1. It applies
//! what can only be applied from inside, after bubblewrap built the mount tree — rlimits,
//! Landlock, `no_new_privs` — serves the egress bridge when the policy grants network, then
//! runs the program as its child (see [`supervise`]).
//!
//! The same code runs as the small `claw-sandbox-init` binary (what `clawc` uses when it is
//! installed beside it) and as `clawc` itself started as [`PATH_INSIDE`]; both call
//! [`run_from_args`].

mod landlock;
pub(crate) mod plan;
mod supervise;

use std::ffi::OsString;
use std::fs::File;
use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use plan::{InitPlan, InitStatus};

/// Where init is bind-mounted inside every sandbox, on both backends. It is also the `argv[0]`
/// init starts with, which is how `clawc` knows to act as init without any leading argument
/// (so `$CLAWC_SANDBOX_INIT` can name the released `clawc` itself).
pub const PATH_INSIDE: &str = "/run/clawc/init";

/// The Landlock ABI whose rights init's rules were reviewed for (see `init/landlock.rs`).
pub const LANDLOCK_REVIEWED_ABI: i64 = 6;

/// Tasks init itself holds in the sandbox — its main thread, the egress bridge's acceptor when
/// the sandbox has network, the relay bridge's when it has a model-API relay — added by the
/// backends to the program's `pids` budget. Each open proxy connection adds two bridge
/// threads, which the program's budget pays for.
pub fn own_tasks(network: &crate::policy::NetworkPolicy) -> u32 {
    1 + u32::from(network.is_enabled()) + u32::from(network.model_api.is_some())
}

/// How to start the init executable on the host side; it is bind-mounted read-only into the
/// sandbox, so it must be a file the sandboxing user can read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitExe {
    pub path: PathBuf,
}

impl InitExe {
    /// Names a standalone init binary, overriding whatever the caller would use (e.g. to run
    /// as an unprivileged user with a copy outside a private home directory).
    pub const ENV_OVERRIDE: &'static str = "CLAWC_SANDBOX_INIT";

    /// What a backend starts: `$CLAWC_SANDBOX_INIT` when set, else `self`; refused unless it
    /// is a file (it is bind-mounted into the sandbox). Both backends resolve through this.
    pub(crate) fn resolve(self) -> Result<InitExe, crate::SandboxError> {
        let init = match std::env::var_os(Self::ENV_OVERRIDE) {
            Some(path) if !path.is_empty() => InitExe { path: path.into() },
            _ => self,
        };
        if !init.path.is_file() {
            return Err(crate::SandboxError::Setup(format!(
                "sandbox init {} is not a readable file (set {} to a copy the sandboxing user can read)",
                init.path.display(),
                Self::ENV_OVERRIDE
            )));
        }
        Ok(init)
    }
}

/// Runs init with its arguments (without the program name or leading arguments) and returns
/// the process exit code: the program's, 128 + signal, or 125 when init itself failed.
pub fn run_from_args(args: Vec<OsString>) -> i32 {
    let plan = match InitPlan::parse(args) {
        Ok(plan) => plan,
        Err(message) => {
            complain(&message);
            return 125;
        }
    };
    // SAFETY: the host passes an fd it created for this purpose and nothing else in init uses
    // it; taking ownership closes it before the program is started (it is CLOEXEC-free, so
    // init must not leak it to the program).
    let status_pipe = plan.status_fd.map(|fd| unsafe { File::from_raw_fd(fd) });
    if let Some(pipe) = &status_pipe {
        set_cloexec(pipe);
    }
    // First of all, so the deadline counts from the start and a host that is already gone
    // never sees its program run.
    let deadline = plan
        .timeout_ms
        .map(|ms| std::time::Instant::now() + std::time::Duration::from_millis(ms));
    let mut lifeline = match plan.lifeline.as_deref().map(UnixStream::connect) {
        None => None,
        Some(Ok(stream)) => Some(stream),
        Some(Err(err)) => {
            complain(&format!("lifeline to the host: {err}"));
            return 125;
        }
    };
    let watch = supervise::Watch {
        deadline,
        lifeline: lifeline
            .as_ref()
            .and_then(|stream| stream.try_clone().ok())
            .map(OwnedFd::from),
    };
    if lifeline.is_some() && watch.lifeline.is_none() {
        complain("lifeline to the host: cannot duplicate the connection");
        return 125;
    }
    let (status, timed_out) = match run(&plan, watch) {
        Ok(supervise::Ended::Program(status)) => (status, false),
        Ok(supervise::Ended::TimedOut) => (InitStatus::Signaled(libc::SIGKILL), true),
        Ok(supervise::Ended::HostGone) => {
            let message = "the host (clawc) went away: the sandbox was ended".to_owned();
            complain(&message);
            (InitStatus::Failed(message), false)
        }
        Err(message) => {
            complain(&message);
            (InitStatus::Failed(message), false)
        }
    };
    let mut report = String::new();
    if timed_out {
        report.push_str(plan::TIMED_OUT);
        report.push('\n');
    }
    report.push_str(&status.encode());
    // Nobody to tell if the host stopped listening; the exit code still carries the status.
    if let Some(mut pipe) = status_pipe {
        let _ = pipe.write_all(report.as_bytes());
    }
    if let Some(stream) = &mut lifeline {
        let _ = stream.write_all(report.as_bytes());
    }
    status.exit_code()
}

fn run(plan: &InitPlan, watch: supervise::Watch) -> Result<supervise::Ended, String> {
    // Not dumpable: the program (same uid) cannot open /proc/1/mem, /proc/1/fd or attach to
    // init, which holds the status pipe. The program itself gets dumpable back at its exec.
    // SAFETY: prctl with constant arguments.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        return Err(format!("dumpable: {}", std::io::Error::last_os_error()));
    }
    let bridges = bridge::listen(plan)?;
    // Landlock's `restrict_self` also sets no_new_privs; set it first anyway, so a kernel
    // without Landlock still gets it.
    // SAFETY: prctl with constant arguments.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(format!("no_new_privs: {}", std::io::Error::last_os_error()));
    }
    landlock::restrict(plan).map_err(|err| format!("landlock: {err}"))?;
    for bridge in bridges {
        bridge.serve()?;
    }
    let rlimits = supervise::Rlimits {
        data: plan.rlimit_data,
        nproc: plan.rlimit_nproc,
    };
    supervise::run_program(&plan.program, &plan.args, rlimits, watch)
        .map_err(|err| format!("supervise: {err}"))
}

fn set_cloexec(file: &File) {
    use std::os::fd::AsRawFd;
    // SAFETY: F_SETFD on an fd this process owns.
    unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
}

/// Init's only way to explain a failure to a person: the program's stderr.
#[allow(
    clippy::print_stderr,
    reason = "init reports its own failures on stderr"
)]
fn complain(message: &str) {
    eprintln!("clawc-sandbox-init: {message}");
}

mod bridge {
    //! Seam to the bridges (`crate::bridge`): the listeners are bound before Landlock and
    //! served after it.
    use std::net::SocketAddr;
    use std::path::PathBuf;

    use super::plan::InitPlan;
    use crate::bridge::{BRIDGE_ADDR, RELAY_ADDR};

    pub(super) struct Pending {
        listener: std::net::TcpListener,
        socket: PathBuf,
        what: &'static str,
    }

    /// The egress bridge and the model-API relay's, each when the plan names its socket.
    pub(super) fn listen(plan: &InitPlan) -> Result<Vec<Pending>, String> {
        let wanted: [(SocketAddr, &Option<PathBuf>, &'static str); 2] = [
            (BRIDGE_ADDR, &plan.bridge_socket, "egress bridge"),
            (RELAY_ADDR, &plan.relay_socket, "model-API relay bridge"),
        ];
        wanted
            .into_iter()
            .filter_map(|(addr, socket, what)| socket.as_ref().map(|s| (addr, s, what)))
            .map(|(addr, socket, what)| {
                let listener =
                    std::net::TcpListener::bind(addr).map_err(|err| format!("{what}: {err}"))?;
                Ok(Pending {
                    listener,
                    socket: socket.clone(),
                    what,
                })
            })
            .collect()
    }

    impl Pending {
        pub(super) fn serve(self) -> Result<(), String> {
            let what = self.what;
            crate::bridge::spawn_bridge_on(self.listener, self.socket)
                .map(drop)
                .map_err(|err| format!("{what}: {err}"))
        }
    }
}
