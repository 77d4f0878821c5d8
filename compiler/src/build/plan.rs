//! The plan: every spec of the project and its state against `claw.lock` — fresh, unpinned,
//! changed, built by another toolchain, or tampered — computed from the fingerprint cache
//! where nothing changed, so that a no-op build touches no parser.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use spec_lang::ir;

use super::fingerprint::{self, Cache, SpecPrint, TreePrint};
use super::lock::{Entry, Lock};
use super::project::Project;
use super::scaffold;
use super::transcript::Transcript;
use super::tree::{self, ManifestEntry, MANIFEST};
use crate::commands::check::CheckedFile;
use crate::sources::{self, FsWorld, SourceError, SpecFile};

/// `clawc <version>`: what the lock records as the toolchain.
pub fn toolchain() -> String {
    format!("clawc {}", env!("CARGO_PKG_VERSION"))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Fresh,
    /// No lock entry.
    Unpinned,
    /// The spec's hash is not the pinned one: generate anew.
    SpecChanged,
    /// Pinned by another toolchain or scaffold: re-render around the pinned code.
    ScaffoldChanged,
    /// The golden tree is not what the lock pinned; each item names a file.
    Tampered(Vec<String>),
}

impl Status {
    pub fn describe(&self) -> String {
        match self {
            Status::Fresh => "fresh".to_owned(),
            Status::Unpinned => "unpinned".to_owned(),
            Status::SpecChanged => "stale (the spec changed)".to_owned(),
            Status::ScaffoldChanged => {
                "stale (pinned by another toolchain or scaffold; re-render without a model)"
                    .to_owned()
            }
            Status::Tampered(files) => format!("tampered: {}", files.join("; ")),
        }
    }
}

#[derive(Debug)]
pub struct Planned {
    pub name: String,
    pub path: PathBuf,
    /// As the lock names it.
    pub relative: String,
    pub status: Status,
}

/// A spec checked in full (needed for anything but a fresh one).
#[derive(Debug)]
pub struct Loaded {
    pub ir: ir::Integration,
    pub source: String,
    pub spec_hash: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Sources(#[from] SourceError),
    /// The spec has errors; its diagnostics are in the checked file.
    #[error("{}: the spec has errors (see `clawc check`)", .0.path.display())]
    Invalid(Box<CheckedFile>),
    #[error("{0}: the IR could not be hashed: {1}")]
    Hash(PathBuf, String),
    #[error("no spec named `{0}` in specs/")]
    UnknownName(String),
}

/// Every spec under `specs/` (or only `names`), in name order.
pub fn spec_paths(
    project: &Project,
    names: &[String],
) -> Result<Vec<(String, PathBuf)>, PlanError> {
    let dir = project.specs();
    let mut found: Vec<(String, PathBuf)> = if dir.is_dir() {
        sources::discover(std::slice::from_ref(&dir))?
            .into_iter()
            .map(|path| (stem(&path), path))
            .collect()
    } else {
        Vec::new()
    };
    found.sort();
    if names.is_empty() {
        return Ok(found);
    }
    names
        .iter()
        .map(|name| {
            found
                .iter()
                .find(|(stem, _)| stem == name)
                .cloned()
                .ok_or_else(|| PlanError::UnknownName(name.clone()))
        })
        .collect()
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Checks `path` in full, recording its inputs (the spec and the fixtures it loaded) in `cache`.
pub fn load(path: &Path, cache: &mut Cache) -> Result<Loaded, PlanError> {
    let file = sources::read(path)?;
    let before = fingerprint::stat_of(path);
    let world = Recording {
        inner: FsWorld::for_spec(path),
        base: path.parent().unwrap_or(Path::new(".")).to_owned(),
        read: RefCell::new(Vec::new()),
    };
    let stem = file.stem();
    let SpecFile {
        path: file_path,
        bytes,
    } = file;
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let checked = crate::commands::check::check_file(SpecFile {
                path: file_path,
                bytes: e.into_bytes(),
            });
            return Err(PlanError::Invalid(Box::new(checked)));
        }
    };
    let checked = spec_lang::check(&stem, &text, &world);
    let Some(ir) = checked.ir.clone() else {
        return Err(PlanError::Invalid(Box::new(CheckedFile {
            path: file_path,
            text,
            checked,
        })));
    };
    let spec_hash = spec_lang::hash::spec_hash(&ir)
        .map_err(|e| PlanError::Hash(path.to_owned(), e.to_string()))?;
    let mut inputs = Vec::new();
    if let Some(stat) = before {
        inputs.push((path.to_owned(), stat));
    }
    for fixture in world.read.into_inner() {
        if let Some(stat) = fingerprint::stat_of(&fixture) {
            inputs.push((fixture, stat));
        }
    }
    cache.specs.insert(
        path.to_owned(),
        SpecPrint {
            inputs,
            spec_hash: spec_hash.clone(),
        },
    );
    Ok(Loaded {
        ir,
        source: text,
        spec_hash,
    })
}

/// The spec hash, from the cache when no input changed.
fn spec_hash(path: &Path, cache: &mut Cache) -> Result<String, PlanError> {
    if let Some(hash) = cache.spec_hash(path) {
        return Ok(hash.to_owned());
    }
    Ok(load(path, cache)?.spec_hash)
}

pub fn plan(
    project: &Project,
    lock: &Lock,
    cache: &mut Cache,
    specs: &[(String, PathBuf)],
) -> Result<Vec<Planned>, PlanError> {
    let toolchain = toolchain();
    let template_hash = scaffold::template_hash();
    let mut planned = Vec::with_capacity(specs.len());
    for (name, path) in specs {
        let spec_hash = spec_hash(path, cache)?;
        let relative = project.relative(path);
        let status = match lock.integration.get(name) {
            None => Status::Unpinned,
            Some(entry) => match tree_problems(project, name, entry, cache) {
                problems if !problems.is_empty() => Status::Tampered(problems),
                _ if entry.spec_hash != spec_hash || entry.spec != relative => Status::SpecChanged,
                _ if entry.toolchain != toolchain || entry.template_hash != template_hash => {
                    Status::ScaffoldChanged
                }
                _ => Status::Fresh,
            },
        };
        planned.push(Planned {
            name: name.clone(),
            path: path.clone(),
            relative,
            status,
        });
    }
    Ok(planned)
}

/// Why `golden/<name>/` is not the tree `entry` pinned, each naming a file; empty when it is.
pub fn tree_problems(
    project: &Project,
    name: &str,
    entry: &Entry,
    cache: &mut Cache,
) -> Vec<String> {
    let root = project.tree(name);
    if let Some(stats) = fingerprint::tree_stats(&root) {
        if cache.tree_hash(name, &stats) == Some(entry.tree_hash.as_str()) {
            return Vec::new();
        }
        if let Ok(files) = tree::read(&root) {
            let hash = tree::tree_hash(&files);
            if fingerprint::tree_stats(&root).as_ref() == Some(&stats) {
                cache.trees.insert(
                    name.to_owned(),
                    TreePrint {
                        files: stats,
                        tree_hash: hash.clone(),
                    },
                );
            }
            if hash == entry.tree_hash {
                return Vec::new();
            }
            return name_differences(name, &files);
        }
    }
    match tree::read(&root) {
        Err(e) => vec![e.to_string()],
        Ok(files) => name_differences(name, &files),
    }
}

/// The files of a tree that does not hash to its lock entry: those that differ from its
/// manifest, or the manifest itself when they all agree with it.
fn name_differences(name: &str, files: &tree::Files) -> Vec<String> {
    let shown = |path: &str| format!("golden/{name}/{path}");
    let Some(manifest) = files
        .get(MANIFEST)
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(bytes).ok())
        .and_then(|value| {
            serde_json::from_value::<Vec<ManifestEntry>>(value.get("files")?.clone()).ok()
        })
    else {
        return vec![format!("{}: missing or not a manifest", shown(MANIFEST))];
    };
    let mut problems = Vec::new();
    for listed in &manifest {
        match files.get(&listed.path) {
            None => problems.push(format!("{}: missing", shown(&listed.path))),
            Some(bytes) if spec_lang::hash::sha256_prefixed(bytes) != listed.sha256 => problems
                .push(format!(
                    "{}: content differs from the pin",
                    shown(&listed.path)
                )),
            Some(_) => {}
        }
    }
    for path in files.keys() {
        if path != MANIFEST && !manifest.iter().any(|listed| &listed.path == path) {
            problems.push(format!("{}: not part of the pinned tree", shown(path)));
        }
    }
    if problems.is_empty() {
        problems.push(format!(
            "{}: differs from the pin (the tree hash in claw.lock does not match)",
            shown(MANIFEST)
        ));
    }
    problems
}

/// Where the lock's generator or model for `name` is not what the pinned transcript records.
pub fn generator_mismatch(project: &Project, name: &str, entry: &Entry) -> Option<String> {
    let path = project.tree(name).join(tree::TRANSCRIPT);
    let summary = std::fs::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|text| {
            Transcript::parse(&text)
                .and_then(|t| t.summary())
                .map_err(|e| e.to_string())
        });
    match summary {
        Err(e) => Some(format!("golden/{name}/{}: {e}", tree::TRANSCRIPT)),
        Ok(summary) if summary.generator != entry.generator || summary.model != entry.model => {
            Some(format!(
                "`{name}` records generator {} and model {}; its transcript says {} and {}",
                entry.generator, entry.model, summary.generator, summary.model
            ))
        }
        Ok(_) => None,
    }
}

/// A [`FsWorld`] that remembers which fixture files it read, for the fingerprint.
struct Recording {
    inner: FsWorld,
    base: PathBuf,
    read: RefCell<Vec<PathBuf>>,
}

impl spec_lang::World for Recording {
    fn read_fixture(&self, path: &str) -> Result<Vec<u8>, String> {
        self.read.borrow_mut().push(self.base.join(path));
        self.inner.read_fixture(path)
    }
}
