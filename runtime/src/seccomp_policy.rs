//! What both sandbox backends' seccomp filters refuse: one list, so the native BPF filter
//! (by syscall number) and the Docker profile (by name) cannot drift apart.

/// A syscall, by number for the native filter and by name for Docker's JSON profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Syscall {
    pub nr: libc::c_long,
    /// `SYS_ptrace`, as libc spells the constant.
    constant: &'static str,
}

impl Syscall {
    /// The kernel's name: `ptrace`.
    pub fn name(self) -> &'static str {
        self.constant.trim_start_matches("SYS_")
    }
}

macro_rules! syscalls {
    ($($(#[$attr:meta])* $constant:ident,)*) => {
        &[$($(#[$attr])* Syscall { nr: libc::$constant, constant: stringify!($constant) },)*]
    };
}

/// Syscalls refused outright (`EPERM`).
pub(crate) const DENIED: &[Syscall] = syscalls![
    // Inspecting or driving other processes.
    SYS_ptrace,
    SYS_process_vm_readv,
    SYS_process_vm_writev,
    SYS_kcmp,
    SYS_pidfd_getfd,
    // Mount-tree changes and namespace games.
    SYS_mount,
    SYS_umount2,
    SYS_pivot_root,
    SYS_chroot,
    SYS_move_mount,
    SYS_open_tree,
    SYS_fsopen,
    SYS_fsconfig,
    SYS_fsmount,
    SYS_fspick,
    SYS_mount_setattr,
    SYS_unshare,
    SYS_setns,
    SYS_open_by_handle_at,
    SYS_name_to_handle_at,
    // Kernel attack surface rarely needed by integration code.
    SYS_keyctl,
    SYS_add_key,
    SYS_request_key,
    SYS_bpf,
    SYS_perf_event_open,
    SYS_io_uring_setup,
    SYS_io_uring_enter,
    SYS_io_uring_register,
    SYS_userfaultfd,
    SYS_fanotify_init,
    // Host administration.
    SYS_kexec_load,
    SYS_kexec_file_load,
    SYS_init_module,
    SYS_finit_module,
    SYS_delete_module,
    SYS_acct,
    SYS_swapon,
    SYS_swapoff,
    SYS_reboot,
    SYS_settimeofday,
    SYS_clock_settime,
    SYS_clock_adjtime,
    SYS_adjtimex,
    SYS_quotactl,
    SYS_syslog,
    SYS_vhangup,
    #[cfg(target_arch = "x86_64")]
    SYS_iopl,
    #[cfg(target_arch = "x86_64")]
    SYS_ioperm,
    #[cfg(target_arch = "x86_64")]
    SYS_uselib,
];

/// `clone` flags that create namespaces (a new user namespace would hand back capabilities).
pub(crate) const NAMESPACE_FLAGS: &[libc::c_int] = &[
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWNS,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWCGROUP,
];

/// Terminal ioctls that inject input into (or drive) the controlling terminal.
pub(crate) const DENIED_IOCTLS: &[libc::c_ulong] = &[libc::TIOCSTI, libc::TIOCLINUX];

/// Socket families the sandbox needs: Unix sockets, and IP for the loopback egress bridge.
pub(crate) const ALLOWED_FAMILIES: &[libc::c_int] = &[libc::AF_UNIX, libc::AF_INET, libc::AF_INET6];

/// `personality` arguments that change nothing: `PER_LINUX` and the query value.
pub(crate) const ALLOWED_PERSONALITIES: &[u64] = &[0, 0xffff_ffff];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_kernels() {
        let names: Vec<&str> = DENIED.iter().map(|s| s.name()).collect();
        assert!(
            names.contains(&"ptrace") && names.contains(&"io_uring_setup"),
            "{names:?}"
        );
        assert!(DENIED.iter().all(|s| !s.name().starts_with("SYS_")));
    }

    /// `docs/security.md` lists the refused syscalls by hand for readers; this keeps that
    /// list from drifting away from the filter.
    #[test]
    fn the_security_docs_name_every_refused_syscall() {
        let docs = include_str!("../../docs/security.md");
        let row = docs
            .lines()
            .find(|line| line.starts_with("| **seccomp**"))
            .expect("docs/security.md has the seccomp row");
        for syscall in DENIED {
            assert!(
                row.contains(&format!("`{}`", syscall.name())),
                "docs/security.md's seccomp row does not name `{}`",
                syscall.name()
            );
        }
    }
}
