//! Pipes handed through bubblewrap: seccomp programs in, bubblewrap's info and init's status out.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A close-on-exec pipe: `(read, write)`. The read end is non-blocking, because the host
/// reads it only once the writer has finished (or to peek without waiting).
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut ends = [0; 2];
    // SAFETY: pipe2 fills the two-element array.
    if unsafe { libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds were just created and are owned by nobody else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(ends[0]), OwnedFd::from_raw_fd(ends[1])) };
    // SAFETY: fcntl on an fd we own.
    unsafe { libc::fcntl(read.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    Ok((read, write))
}

/// A pipe already holding `bytes` and closed for writing; returns the read end. The filters
/// are a few KiB, well under a pipe's buffer, so the write never blocks.
pub(crate) fn pipe_with(bytes: &[u8]) -> io::Result<OwnedFd> {
    let (read, write) = pipe()?;
    let mut file = std::fs::File::from(write);
    io::Write::write_all(&mut file, bytes)?;
    // bubblewrap reads it with blocking reads; clear the non-blocking flag we set.
    // SAFETY: fcntl on an fd we own.
    unsafe { libc::fcntl(read.as_raw_fd(), libc::F_SETFL, 0) };
    Ok(read)
}

/// In the forked child: let exactly `fds` (besides stdio) survive `exec`. Whatever else the
/// host process holds without close-on-exec (a jobserver pipe, an fd its own parent leaked)
/// would otherwise pass through bubblewrap into the sandbox. Async-signal-safe.
pub(crate) fn inherit_only_in_child(fds: &[RawFd]) -> io::Result<()> {
    // SAFETY: close_range only flags this process's own descriptors close-on-exec.
    if unsafe {
        libc::close_range(
            3,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC as libc::c_int,
        )
    } != 0
    {
        return Err(io::Error::last_os_error());
    }
    for &fd in fds {
        // SAFETY: fcntl on fds the parent keeps open across the fork.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
