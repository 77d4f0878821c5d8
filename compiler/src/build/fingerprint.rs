//! The stat fingerprint cache (what cargo keeps in `target/`): for each spec, the stats of the
//! files its hash was computed from; for each golden tree, the stats of its files. When none
//! changed, the hash is taken from the cache instead of parsing, checking and hashing again,
//! which keeps a no-op build to a few system calls per spec. A cache that cannot be read is
//! simply empty; `verify` never uses it.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::project::Project;
use super::tree::Stat;

const FILE: &str = "fingerprints.json";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cache {
    /// The toolchain that computed the hashes: another one may hash differently.
    pub toolchain: String,
    /// Spec path → its fingerprint.
    pub specs: BTreeMap<PathBuf, SpecPrint>,
    /// Integration → its golden tree's fingerprint.
    pub trees: BTreeMap<String, TreePrint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpecPrint {
    /// The spec and every fixture file it loaded.
    pub inputs: Vec<(PathBuf, Stat)>,
    pub spec_hash: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreePrint {
    /// Every file of the tree, sorted by relative path.
    pub files: Vec<(String, Stat)>,
    pub tree_hash: String,
}

impl Cache {
    pub fn load(project: &Project, toolchain: &str) -> Cache {
        let path = project.scratch().join(FILE);
        fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Cache>(&bytes).ok())
            .filter(|cache| cache.toolchain == toolchain)
            .unwrap_or_else(|| Cache {
                toolchain: toolchain.to_owned(),
                ..Cache::default()
            })
    }

    /// Best effort: a cache that cannot be written costs only speed.
    pub fn save(&self, project: &Project) {
        if let Ok(bytes) = serde_json::to_vec(self) {
            let _ =
                super::pin::replace_file(&project.scratch(), &project.scratch().join(FILE), &bytes);
        }
    }

    /// The cached spec hash of `spec`, when none of its inputs changed.
    pub fn spec_hash(&self, spec: &Path) -> Option<&str> {
        let print = self.specs.get(spec)?;
        print
            .inputs
            .iter()
            .all(|(path, stat)| stat_of(path).as_ref() == Some(stat))
            .then_some(print.spec_hash.as_str())
    }

    /// The cached hash of the tree whose current file stats are `files`.
    pub fn tree_hash(&self, name: &str, files: &[(String, Stat)]) -> Option<&str> {
        let print = self.trees.get(name)?;
        (print.files == files).then_some(print.tree_hash.as_str())
    }
}

pub fn stat_of(path: &Path) -> Option<Stat> {
    fs::symlink_metadata(path).ok().map(|meta| Stat::of(&meta))
}

/// Every file under `root` with its stat, sorted by relative path; `None` when the tree holds
/// anything but folders and regular files (the full read reports what).
pub fn tree_stats(root: &Path) -> Option<Vec<(String, Stat)>> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<(String, Stat)>) -> Option<()> {
        for entry in fs::read_dir(dir).ok()? {
            let entry = entry.ok()?;
            let name = entry.file_name().into_string().ok()?;
            let meta = fs::symlink_metadata(entry.path()).ok()?;
            let relative = format!("{prefix}{name}");
            if meta.is_dir() {
                walk(&entry.path(), &format!("{relative}/"), out)?;
            } else if meta.is_file() {
                out.push((relative, Stat::of(&meta)));
            } else {
                return None;
            }
        }
        Some(())
    }
    let mut out = Vec::new();
    walk(root, "", &mut out)?;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Some(out)
}
