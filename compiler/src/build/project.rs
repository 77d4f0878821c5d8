//! Where a project's parts are: the root (the nearest ancestor holding `claw.lock` or
//! `clawc.toml`, else the working directory), its specs, golden trees, lock and scratch space.

use std::path::{Path, PathBuf};

use super::lock;

/// The build's scratch folder under the root: staging for pins, the fingerprint cache,
/// workspaces. On the same file system as `golden/`, so a rename publishes a tree.
pub const SCRATCH: &str = ".clawc/build";

#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
}

impl Project {
    pub fn discover(cwd: &Path) -> Project {
        let root = cwd
            .ancestors()
            .find(|dir| dir.join(lock::FILE).is_file() || dir.join("clawc.toml").is_file())
            .unwrap_or(cwd);
        Project {
            root: root.to_owned(),
        }
    }

    pub fn specs(&self) -> PathBuf {
        self.root.join("specs")
    }

    pub fn golden(&self) -> PathBuf {
        self.root.join("golden")
    }

    pub fn tree(&self, name: &str) -> PathBuf {
        self.golden().join(name)
    }

    pub fn lock(&self) -> PathBuf {
        self.root.join(lock::FILE)
    }

    pub fn scratch(&self) -> PathBuf {
        self.root.join(SCRATCH)
    }

    /// `path` relative to the root, `/`-separated (how the lock names specs).
    pub fn relative(&self, path: &Path) -> String {
        let relative = path.strip_prefix(&self.root).unwrap_or(path);
        relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/")
    }
}
