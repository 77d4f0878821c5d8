//! Finding bubblewrap and turning a policy into its command line.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};

use crate::policy::Mount;
use crate::sandbox::SandboxError;

/// Where init is mounted inside the sandbox.
pub(crate) const INIT_INSIDE: &str = crate::init::PATH_INSIDE;
/// Where the egress proxy's Unix socket is mounted inside the sandbox.
pub(crate) const EGRESS_SOCKET_INSIDE: &str = "/run/clawc/egress.sock";

/// The host's public CA certificates, shown to sandboxes that have network.
pub(crate) const CA_CERTIFICATES: &str = "/etc/ssl/certs";

/// Top-level directories that merged-`/usr` systems keep as symlinks into `/usr`.
const ROOT_ALIASES: &[&str] = &["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// How each top-level alias looks on the host, mirrored into the sandbox.
#[derive(Debug, Clone)]
pub(crate) enum RootEntry {
    Symlink {
        link: PathBuf,
        target: PathBuf,
    },
    /// A real directory (a non-merged-`/usr` system): bound read-only.
    Directory(PathBuf),
}

pub(crate) fn locate_bwrap() -> Result<PathBuf, SandboxError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join("bwrap"))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| {
            SandboxError::Setup("bubblewrap not found: apt-get install bubblewrap".to_owned())
        })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

pub(crate) fn host_root_entries() -> Vec<RootEntry> {
    ROOT_ALIASES
        .iter()
        .filter_map(|name| {
            let link = Path::new("/").join(name);
            let meta = std::fs::symlink_metadata(&link).ok()?;
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&link).ok()?;
                Some(RootEntry::Symlink { link, target })
            } else if meta.is_dir() {
                Some(RootEntry::Directory(link))
            } else {
                None
            }
        })
        .collect()
}

/// A declared mount's source must exist (its target was checked by `Policy::validate`).
pub(crate) fn check_mount_source(mount: &Mount) -> Result<(), SandboxError> {
    if !mount.source.exists() {
        return Err(SandboxError::Setup(format!(
            "mount source {} does not exist",
            mount.source.display()
        )));
    }
    Ok(())
}

/// Everything one sandbox's bubblewrap command line is made of.
#[derive(Debug)]
pub(crate) struct Layout<'a> {
    pub root: &'a [RootEntry],
    pub tmp_bytes: u64,
    pub mounts: &'a [Mount],
    pub init_host_path: &'a Path,
    pub egress_socket: Option<&'a Path>,
    pub relay_socket: Option<&'a Path>,
    pub cwd: &'a Path,
    pub env: &'a BTreeMap<String, String>,
    pub seccomp_fds: [RawFd; 2],
    pub info_fd: RawFd,
}

impl Layout<'_> {
    /// bubblewrap's options, up to and including `--`; the init command line follows.
    pub fn args(&self) -> Vec<OsString> {
        let mut args = Args::default();
        args.flags(&[
            "--unshare-all",
            // Explicit, so that root gets a user namespace too (unshare-all only "tries").
            "--unshare-user",
            "--disable-userns",
            "--die-with-parent",
            "--new-session",
            // Init is PID 1: when it exits, the kernel kills whatever is left.
            "--as-pid-1",
        ]);
        args.flags(&["--cap-drop", "ALL", "--hostname", "sandbox"]);
        args.paths("--ro-bind", "/usr", "/usr");
        for entry in self.root {
            match entry {
                RootEntry::Symlink { link, target } => args.paths("--symlink", target, link),
                RootEntry::Directory(dir) => args.paths("--ro-bind", dir, dir),
            }
        }
        args.flags(&["--proc", "/proc", "--dev", "/dev"]);
        args.flag("--size", self.tmp_bytes.to_string());
        args.flags(&["--tmpfs", "/tmp"]);
        args.paths("--ro-bind", self.init_host_path, INIT_INSIDE);
        if let Some(socket) = self.egress_socket {
            args.paths("--ro-bind", socket, EGRESS_SOCKET_INSIDE);
            // Programs that tunnel TLS through the proxy (CONNECT) verify the server
            // themselves and need the public CA bundle; nothing else of /etc comes in.
            args.paths("--ro-bind-try", CA_CERTIFICATES, CA_CERTIFICATES);
        }
        if let Some(socket) = self.relay_socket {
            args.paths("--ro-bind", socket, crate::bridge::RELAY_SOCKET_INSIDE);
        }
        for mount in self.mounts {
            let option = if mount.writable {
                "--bind"
            } else {
                "--ro-bind"
            };
            args.paths(option, &mount.source, &mount.target);
        }
        // The root tmpfs holding the mount points: read-only once they exist.
        args.flags(&["--remount-ro", "/"]);
        args.paths("--chdir", self.cwd, "");
        args.flag("--clearenv", "");
        for (name, value) in self.env {
            args.push("--setenv");
            args.push(name);
            args.push(value);
        }
        for fd in self.seccomp_fds {
            args.flag("--add-seccomp-fd", fd.to_string());
        }
        args.flag("--info-fd", self.info_fd.to_string());
        args.push("--");
        args.push(INIT_INSIDE);
        args.0
    }
}

#[derive(Default)]
struct Args(Vec<OsString>);

impl Args {
    fn push(&mut self, arg: impl Into<OsString>) {
        self.0.push(arg.into());
    }

    fn flags(&mut self, flags: &[&str]) {
        self.0.extend(flags.iter().map(OsString::from));
    }

    /// An option with one value (`""` for none).
    fn flag(&mut self, name: &str, value: impl Into<OsString>) {
        self.push(name);
        let value = value.into();
        if !value.is_empty() {
            self.push(value);
        }
    }

    /// An option with one or two path values (`""` to leave the second out).
    fn paths(&mut self, name: &str, first: impl AsRef<Path>, second: impl AsRef<Path>) {
        self.push(name);
        self.push(first.as_ref());
        if !second.as_ref().as_os_str().is_empty() {
            self.push(second.as_ref());
        }
    }
}
