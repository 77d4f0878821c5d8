//! Init as the sandbox's PID 1: starts the program, passes on the signals the host sends,
//! reaps orphans, and returns the program's status. When init returns, the kernel kills every
//! process left in the PID namespace — that is what makes "no process outlives the sandbox" hold.

use std::ffi::OsStr;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicI32, Ordering};

use super::plan::InitStatus;

/// The program's PID, for the signal handler (0 until it is started).
static PROGRAM: AtomicI32 = AtomicI32::new(0);

/// Signals init passes on. As PID 1 it receives only signals it handles, so without this a
/// polite `SIGTERM` from the host would be dropped.
const FORWARDED: &[libc::c_int] = &[
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
];

extern "C" fn forward(signal: libc::c_int) {
    let pid = PROGRAM.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe; a stale pid only fails with ESRCH.
        unsafe { libc::kill(pid, signal) };
    }
}

fn install_forwarding() -> io::Result<()> {
    for &signal in FORWARDED {
        // SAFETY: a zeroed sigaction with a handler of the expected signature; the handler only
        // does async-signal-safe work. The program gets default dispositions back at exec.
        let rc = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = forward as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Resource limits for the program (never for init itself: init's own address space — the
/// allocator's arenas, the bridge's thread stacks — is not the program's to pay for, and a
/// data limit applied to init made its next mapping fail under small memory limits).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Rlimits {
    pub data: Option<u64>,
    pub nproc: Option<u64>,
}

impl Rlimits {
    /// Between fork and exec: only `setrlimit`, which is async-signal-safe.
    fn apply(self) -> io::Result<()> {
        let limits = [
            (libc::RLIMIT_CORE, Some(0)),
            (libc::RLIMIT_DATA, self.data),
            (libc::RLIMIT_NPROC, self.nproc),
        ];
        for (resource, value) in limits {
            let Some(value) = value else { continue };
            let limit = libc::rlimit {
                rlim_cur: value,
                rlim_max: value,
            };
            // SAFETY: setrlimit with a valid, initialised struct.
            if unsafe { libc::setrlimit(resource, &limit) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

/// Runs the program to its end. A program that cannot be started gets the shell's codes
/// (127 not found, 126 not executable) and a message on stderr, like `sh` would.
pub(crate) fn run_program(
    program: &OsStr,
    args: &[std::ffi::OsString],
    rlimits: Rlimits,
) -> io::Result<InitStatus> {
    install_forwarding()?;
    let mut command = Command::new(program);
    command.args(args);
    // SAFETY: the closure only calls setrlimit (async-signal-safe) and allocates nothing.
    unsafe {
        command.pre_exec(move || rlimits.apply());
    }
    let child = match command.spawn() {
        Ok(child) => child,
        Err(err) => {
            super::complain(&format!("{}: {err}", program.to_string_lossy()));
            let code = if err.kind() == io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            return Ok(InitStatus::Exited(code));
        }
    };
    let pid = i32::try_from(child.id()).map_err(io::Error::other)?;
    PROGRAM.store(pid, Ordering::Relaxed);
    loop {
        let mut status = 0;
        // SAFETY: plain waitpid on any child; init reaps orphans re-parented to it too.
        let reaped = unsafe { libc::waitpid(-1, &mut status, 0) };
        if reaped == -1 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        if reaped == pid {
            return Ok(if libc::WIFSIGNALED(status) {
                InitStatus::Signaled(libc::WTERMSIG(status))
            } else {
                InitStatus::Exited(libc::WEXITSTATUS(status))
            });
        }
    }
}
