//! Init as the sandbox's PID 1: starts the program, passes on the signals the host sends,
//! reaps orphans, and returns the program's status. When init returns, the kernel kills every
//! process left in the PID namespace — that is what makes "no process outlives the sandbox" hold.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Instant;

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

/// The write end of the SIGCHLD self-pipe (-1 until it exists): the watched loop sleeps in
/// `poll` and a child's end must wake it.
static CHILD_EXITED: AtomicI32 = AtomicI32::new(-1);

extern "C" fn note_child_exit(_: libc::c_int) {
    let fd = CHILD_EXITED.load(Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: write is async-signal-safe; a full non-blocking pipe already holds a wake-up.
        unsafe { libc::write(fd, [0u8].as_ptr().cast(), 1) };
    }
}

/// What init watches besides the program, when the host asked for it (the Docker backend).
#[derive(Debug, Default)]
pub(crate) struct Watch {
    /// The wall deadline: everything in the sandbox is killed when it passes.
    pub deadline: Option<Instant>,
    /// The connection to the host: its end (EOF, reset) means the host died.
    pub lifeline: Option<OwnedFd>,
}

/// How supervision ended.
#[derive(Debug)]
pub(crate) enum Ended {
    Program(InitStatus),
    /// The deadline passed; everything was killed.
    TimedOut,
    /// The host's end of the lifeline closed; everything was killed.
    HostGone,
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
    watch: Watch,
) -> io::Result<Ended> {
    install_forwarding()?;
    let watched = watch.deadline.is_some() || watch.lifeline.is_some();
    let wake = if watched {
        Some(child_exit_pipe()?)
    } else {
        None
    };
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
            return Ok(Ended::Program(InitStatus::Exited(code)));
        }
    };
    let pid = i32::try_from(child.id()).map_err(io::Error::other)?;
    PROGRAM.store(pid, Ordering::Relaxed);
    match wake {
        None => wait_for(pid).map(Ended::Program),
        Some(wake) => watch_until_end(pid, &wake, &watch),
    }
}

/// Blocks until the program ends, reaping orphans on the way.
fn wait_for(pid: i32) -> io::Result<InitStatus> {
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
            return Ok(status_of(status));
        }
    }
}

fn status_of(status: libc::c_int) -> InitStatus {
    if libc::WIFSIGNALED(status) {
        InitStatus::Signaled(libc::WTERMSIG(status))
    } else {
        InitStatus::Exited(libc::WEXITSTATUS(status))
    }
}

/// The SIGCHLD self-pipe's read end, installed before the program starts so no exit is missed.
fn child_exit_pipe() -> io::Result<OwnedFd> {
    let mut fds = [-1; 2];
    // SAFETY: pipe2 fills two fds on success.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds were just created and are owned by nobody else. The write end stays
    // open for init's life (the handler may use it at any time).
    let read = unsafe { OwnedFd::from_raw_fd(fds[0]) };
    CHILD_EXITED.store(fds[1], Ordering::Relaxed);
    // SAFETY: as in install_forwarding; the handler only writes to a pipe.
    let rc = unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = note_child_exit as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART | libc::SA_NOCLDSTOP;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGCHLD, &action, std::ptr::null_mut())
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(read)
}

/// Sleeps in `poll` on the SIGCHLD pipe and the lifeline until the program ends, the deadline
/// passes or the host goes away; in the last two cases everything in the sandbox is killed.
fn watch_until_end(pid: i32, wake: &OwnedFd, watch: &Watch) -> io::Result<Ended> {
    loop {
        loop {
            let mut status = 0;
            // SAFETY: non-blocking waitpid on any child.
            let reaped = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if reaped == pid {
                return Ok(Ended::Program(status_of(status)));
            }
            if reaped <= 0 {
                break;
            }
        }
        let timeout_ms = match watch.deadline {
            None => -1,
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    kill_everything(pid);
                    return Ok(Ended::TimedOut);
                }
                // Rounded up, so a wake-up never comes just before the deadline.
                i32::try_from(left.as_millis().saturating_add(1)).unwrap_or(i32::MAX)
            }
        };
        let mut fds = vec![libc::pollfd {
            fd: wake.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        if let Some(lifeline) = &watch.lifeline {
            fds.push(libc::pollfd {
                fd: lifeline.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
        }
        // SAFETY: poll on a live array of pollfds whose length is passed along.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if ready < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        drain(wake.as_fd());
        if let (Some(lifeline), Some(polled)) = (&watch.lifeline, fds.get(1)) {
            if polled.revents != 0 && host_gone(lifeline.as_fd()) {
                kill_everything(pid);
                return Ok(Ended::HostGone);
            }
        }
    }
}

fn drain(fd: BorrowedFd<'_>) {
    let mut buffer = [0u8; 64];
    // SAFETY: read into a local buffer from a non-blocking fd this process owns.
    while unsafe { libc::read(fd.as_raw_fd(), buffer.as_mut_ptr().cast(), buffer.len()) } > 0 {}
}

/// Whether the host's end of the lifeline closed. The host never writes, so anything readable
/// is EOF or an error; stray bytes are read and ignored.
fn host_gone(fd: BorrowedFd<'_>) -> bool {
    let mut buffer = [0u8; 64];
    // SAFETY: recv into a local buffer; MSG_DONTWAIT keeps init from blocking on it.
    let n = unsafe {
        libc::recv(
            fd.as_raw_fd(),
            buffer.as_mut_ptr().cast(),
            buffer.len(),
            libc::MSG_DONTWAIT,
        )
    };
    match n {
        0 => true,
        n if n > 0 => false,
        _ => !matches!(
            io::Error::last_os_error().raw_os_error(),
            Some(libc::EAGAIN | libc::EINTR)
        ),
    }
}

/// Kills the whole sandbox. As PID 1 of its own PID namespace, `kill(-1)` reaches every other
/// process in it (and init's own exit then tears the namespace down). Anywhere else `-1` would
/// mean every process of this user on the machine, so only the program's process is signalled.
fn kill_everything(program: i32) {
    // SAFETY: getpid and kill have no memory-safety preconditions.
    unsafe {
        if libc::getpid() == 1 {
            libc::kill(-1, libc::SIGKILL);
        } else {
            libc::kill(program, libc::SIGKILL);
        }
    }
}
