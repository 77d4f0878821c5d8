//! What a change does to each integration, from two snapshots of the project (a git revision
//! and the work tree): capabilities first, then the code of the golden trees, then provenance.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;
use similar::{ChangeTag, TextDiff};
use spec_lang::ir;

use super::capability::Capabilities;
use super::compare::{self, Change, Class, Side};
use super::locate::SpecLines;
use super::signoff::{self, Signer, Verdict};
use super::snapshot::{Snapshot, SnapshotError, SnapshotWorld};
use crate::build::contract::OUTPUT_DIR;
use crate::build::lock::{self, Lock};
use crate::build::tree::{MANIFEST, PROVENANCE, TRANSCRIPT};

/// Project files outside any integration whose change decides what runs on the host or what
/// leaves it (secret sources, mount sources, who may sign off): always flagged for review.
pub const FLAGGED_PROJECT_FILES: [(&str, &str); 2] = [
    (
        "clawc.toml",
        "the deployment config: secret sources (a `command` runs on the host), mount sources, \
         profiles, approval routing",
    ),
    (
        signoff::SIGNERS_FILE,
        "who may sign off capabilities (CI trusts the base's copy, never this one)",
    ),
];

#[derive(Debug, Serialize)]
pub struct Review {
    pub base: String,
    pub head: String,
    pub integrations: Vec<IntegrationDiff>,
    pub project_files: Vec<ProjectFileChange>,
}

impl Review {
    pub fn widening(&self) -> usize {
        self.integrations
            .iter()
            .map(IntegrationDiff::widening)
            .sum::<usize>()
            + self.project_files.len()
    }

    /// Integrations that widen without a sign-off that covers them.
    pub fn unsigned_widening(&self) -> Vec<&IntegrationDiff> {
        self.integrations
            .iter()
            .filter(|i| i.widening() > 0 && !matches!(i.signoff, SignoffState::SignedBy(_)))
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Added,
    Removed,
    Changed,
}

#[derive(Debug, Serialize)]
pub struct IntegrationDiff {
    pub name: String,
    pub status: Status,
    pub capabilities: Vec<Located>,
    /// Tool descriptions, schemas, config: shown, but not capabilities.
    pub contract: Vec<Located>,
    pub code: Vec<FileDiff>,
    /// Scaffold files re-rendered because only the scaffold templates changed: one line.
    pub scaffold: Option<ScaffoldSummary>,
    pub provenance: Vec<FieldChange>,
    pub signoff: SignoffState,
    /// What could not be compared (a spec with errors, an unreadable lock).
    pub problems: Vec<String>,
}

impl IntegrationDiff {
    pub fn widening(&self) -> usize {
        self.capabilities
            .iter()
            .filter(|c| c.change.class == Class::Widening)
            .count()
    }
}

#[derive(Debug, Serialize)]
pub struct Located {
    #[serde(flatten)]
    pub change: Change,
    /// The spec the line is in (the base's for what was removed).
    pub file: String,
    pub line: Option<usize>,
}

/// In the order a reviewer reads them: the model's code first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// Written by the generator (`generated/`).
    Generated,
    /// Rendered from clawc's templates.
    Scaffold,
    /// The generator's transcript.
    Transcript,
}

#[derive(Debug, Serialize)]
pub struct FileDiff {
    /// Relative to the golden tree.
    pub path: String,
    pub kind: FileKind,
    pub status: Status,
    pub added: usize,
    pub removed: usize,
    /// Unified, three lines of context; empty for a binary file or a transcript.
    pub diff: String,
}

#[derive(Debug, Serialize)]
pub struct ScaffoldSummary {
    pub files: usize,
    pub template_before: String,
    pub template_after: String,
}

#[derive(Debug, Serialize)]
pub struct FieldChange {
    pub field: &'static str,
    pub before: String,
    pub after: String,
}

#[derive(Debug, Serialize)]
#[serde(tag = "state", content = "detail", rename_all = "snake_case")]
pub enum SignoffState {
    /// Nothing widens.
    NotNeeded,
    SignedBy(String),
    Missing,
    /// A sign-off (by this signer) of fewer capabilities than the change grants.
    Outdated(String),
    Invalid(String),
}

#[derive(Debug, Serialize)]
pub struct ProjectFileChange {
    pub path: String,
    pub why: &'static str,
    pub diff: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error("no integration `{0}` in the base or the work tree")]
    UnknownName(String),
}

/// The inputs of one comparison.
pub struct Inputs<'a> {
    pub base: &'a dyn Snapshot,
    pub head: &'a dyn Snapshot,
    /// Only these integrations (all when empty).
    pub names: &'a [String],
    pub signer: &'a dyn Signer,
    /// The trusted allowed-signers file (the base's), empty when there is none.
    pub signers: &'a [u8],
}

/// One side of one integration.
struct Version {
    spec_path: String,
    source: Option<String>,
    ir: Option<ir::Integration>,
    problem: Option<String>,
    tree: BTreeMap<String, Vec<u8>>,
}

pub fn review(inputs: &Inputs<'_>) -> Result<Review, DiffError> {
    inputs.base.preload(&["specs", "golden"])?;
    let base_specs = specs(inputs.base)?;
    let head_specs = specs(inputs.head)?;
    let mut names: BTreeSet<String> = base_specs
        .keys()
        .chain(head_specs.keys())
        .cloned()
        .collect();
    for name in trees(inputs.base)?.into_iter().chain(trees(inputs.head)?) {
        names.insert(name);
    }
    if !inputs.names.is_empty() {
        for name in inputs.names {
            if !names.contains(name) {
                return Err(DiffError::UnknownName(name.clone()));
            }
        }
        names.retain(|name| inputs.names.contains(name));
    }
    let base_lock = read_lock(inputs.base);
    let head_lock = read_lock(inputs.head);
    let mut integrations = Vec::new();
    for name in &names {
        let before = side(inputs.base, name, base_specs.get(name))?;
        let after = side(inputs.head, name, head_specs.get(name))?;
        let same_entry = entry(&base_lock, name) == entry(&head_lock, name);
        if before.source == after.source && before.tree == after.tree && same_entry {
            continue;
        }
        integrations.push(integration(
            inputs, name, &before, &after, &base_lock, &head_lock,
        ));
    }
    let mut project_files = Vec::new();
    for (path, why) in FLAGGED_PROJECT_FILES {
        let before = inputs.base.read(path)?;
        let after = inputs.head.read(path)?;
        if before != after {
            project_files.push(ProjectFileChange {
                path: path.to_owned(),
                why,
                diff: unified(
                    path,
                    before.as_deref().unwrap_or_default(),
                    after.as_deref().unwrap_or_default(),
                )
                .2,
            });
        }
    }
    Ok(Review {
        base: inputs.base.describe(),
        head: inputs.head.describe(),
        integrations,
        project_files,
    })
}

/// `specs/**/*.claw` by integration name (the file stem), as `clawc build` finds them.
fn specs(snapshot: &dyn Snapshot) -> Result<BTreeMap<String, String>, SnapshotError> {
    Ok(snapshot
        .list("specs")?
        .into_iter()
        .filter_map(|path| {
            let stem = path.rsplit('/').next()?.strip_suffix(".claw")?.to_owned();
            Some((stem, path))
        })
        .collect())
}

/// The names of the golden trees (a tree without a spec is still compared).
fn trees(snapshot: &dyn Snapshot) -> Result<BTreeSet<String>, SnapshotError> {
    Ok(snapshot
        .list("golden")?
        .into_iter()
        .filter_map(|path| {
            let mut parts = path.split('/').skip(1);
            let name = parts.next()?;
            parts.next().map(|_| name.to_owned())
        })
        .collect())
}

fn read_lock(snapshot: &dyn Snapshot) -> Result<Lock, String> {
    match snapshot.read(lock::FILE) {
        Ok(Some(bytes)) => Lock::parse(&String::from_utf8_lossy(&bytes)).map_err(|e| e.to_string()),
        Ok(None) => Ok(Lock::new()),
        Err(e) => Err(e.to_string()),
    }
}

fn entry<'a>(lock: &'a Result<Lock, String>, name: &str) -> Option<&'a lock::Entry> {
    lock.as_ref().ok()?.integration.get(name)
}

fn side(
    snapshot: &dyn Snapshot,
    name: &str,
    spec_path: Option<&String>,
) -> Result<Version, SnapshotError> {
    let prefix = format!("golden/{name}/");
    let mut tree = BTreeMap::new();
    for path in snapshot.list(&format!("golden/{name}"))? {
        if let Some(bytes) = snapshot.read(&path)? {
            tree.insert(path[prefix.len()..].to_owned(), bytes);
        }
    }
    let Some(spec_path) = spec_path else {
        return Ok(Version {
            spec_path: format!("specs/{name}.claw"),
            source: None,
            ir: None,
            problem: None,
            tree,
        });
    };
    let source = snapshot
        .read(spec_path)?
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
    let (ir, problem) = match &source {
        None => (None, None),
        Some(text) => {
            let dir = spec_path.rsplit_once('/').map_or("", |(dir, _)| dir);
            let world = SnapshotWorld {
                snapshot,
                dir: dir.to_owned(),
            };
            let checked = spec_lang::check(name, text, &world);
            match checked.ir {
                Some(ir) => (Some(ir), None),
                None => (
                    None,
                    Some(format!(
                        "{spec_path} in {} has errors; see `clawc check`",
                        snapshot.describe()
                    )),
                ),
            }
        }
    };
    Ok(Version {
        spec_path: spec_path.clone(),
        source,
        ir,
        problem,
        tree,
    })
}

fn integration(
    inputs: &Inputs<'_>,
    name: &str,
    before: &Version,
    after: &Version,
    base_lock: &Result<Lock, String>,
    head_lock: &Result<Lock, String>,
) -> IntegrationDiff {
    let mut problems: Vec<String> = [&before.problem, &after.problem]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    for (lock, at) in [(base_lock, inputs.base), (head_lock, inputs.head)] {
        if let Err(e) = lock {
            problems.push(format!("claw.lock in {}: {e}", at.describe()));
        }
    }
    let status = match (&before.source, &after.source) {
        (None, Some(_)) => Status::Added,
        (Some(_), None) => Status::Removed,
        _ => Status::Changed,
    };
    let capabilities_of = |side: &Version, problems: &mut Vec<String>| {
        side.ir.as_ref().and_then(|ir| match Capabilities::of(ir) {
            Ok(caps) => Some(caps),
            Err(e) => {
                problems.push(format!("{}: {e}", side.spec_path));
                None
            }
        })
    };
    let base_caps = capabilities_of(before, &mut problems);
    let head_caps = capabilities_of(after, &mut problems);
    let base_lines = before.source.as_deref().map(SpecLines::new);
    let head_lines = after.source.as_deref().map(SpecLines::new);
    let locate = |changes: Vec<Change>| -> Vec<Located> {
        changes
            .into_iter()
            .map(|change| {
                let (lines, file) = match change.side {
                    Side::Base => (&base_lines, &before.spec_path),
                    Side::Head => (&head_lines, &after.spec_path),
                };
                let line = lines.as_ref().and_then(|l| l.line(&change.subject));
                Located {
                    change,
                    file: file.clone(),
                    line,
                }
            })
            .collect()
    };
    // A side whose spec has errors is not compared: an empty diff there would read as "no
    // change" where nothing is known.
    let comparable = before.problem.is_none() && after.problem.is_none();
    let capabilities = if comparable {
        locate(compare::compare(base_caps.as_ref(), head_caps.as_ref()))
    } else {
        Vec::new()
    };
    let contract = match (&before.ir, &after.ir) {
        (Some(base), Some(head)) => locate(compare::contract_changes(base, head)),
        _ => Vec::new(),
    };
    let widens = capabilities
        .iter()
        .any(|c| c.change.class == Class::Widening);
    let signoff = match (&head_caps, widens) {
        (_, false) => SignoffState::NotNeeded,
        (None, true) => SignoffState::Missing,
        (Some(current), true) => {
            let signed = head_lock.as_ref().ok().and_then(|l| l.signoff.get(name));
            match signoff::check(inputs.signer, name, signed, current, inputs.signers) {
                Verdict::Holds => {
                    SignoffState::SignedBy(signed.map(|s| s.signer.clone()).unwrap_or_default())
                }
                Verdict::Missing => SignoffState::Missing,
                Verdict::Widens(_) => {
                    SignoffState::Outdated(signed.map(|s| s.signer.clone()).unwrap_or_default())
                }
                other => SignoffState::Invalid(other.to_string()),
            }
        }
    };
    let base_entry = entry(base_lock, name);
    let head_entry = entry(head_lock, name);
    let only_templates = matches!((base_entry, head_entry), (Some(b), Some(h))
        if b.template_hash != h.template_hash && b.spec_hash == h.spec_hash);
    let (code, scaffold) = code(&before.tree, &after.tree, only_templates);
    let scaffold = scaffold.map(|files| ScaffoldSummary {
        files,
        template_before: base_entry
            .map(|e| e.template_hash.clone())
            .unwrap_or_default(),
        template_after: head_entry
            .map(|e| e.template_hash.clone())
            .unwrap_or_default(),
    });
    IntegrationDiff {
        name: name.to_owned(),
        status,
        capabilities,
        contract,
        code,
        scaffold,
        provenance: provenance(before.tree.get(PROVENANCE), after.tree.get(PROVENANCE)),
        signoff,
        problems,
    }
}

/// The file diffs of two golden trees, and, when only the templates changed, the number of
/// scaffold files collapsed into one line instead of being listed.
fn code(
    before: &BTreeMap<String, Vec<u8>>,
    after: &BTreeMap<String, Vec<u8>>,
    only_templates: bool,
) -> (Vec<FileDiff>, Option<usize>) {
    let paths: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let mut diffs = Vec::new();
    let mut collapsed = 0;
    for path in paths {
        // Derived from the rest: the manifest lists the files, provenance is shown as fields.
        if path == MANIFEST || path == PROVENANCE {
            continue;
        }
        let (old, new) = (before.get(path), after.get(path));
        if old == new {
            continue;
        }
        let kind = if path == TRANSCRIPT {
            FileKind::Transcript
        } else if path.starts_with(&format!("{OUTPUT_DIR}/")) {
            FileKind::Generated
        } else {
            FileKind::Scaffold
        };
        if kind == FileKind::Scaffold && only_templates {
            collapsed += 1;
            continue;
        }
        let status = match (old, new) {
            (None, _) => Status::Added,
            (_, None) => Status::Removed,
            _ => Status::Changed,
        };
        let (added, removed, diff) = unified(
            path,
            old.map(Vec::as_slice).unwrap_or_default(),
            new.map(Vec::as_slice).unwrap_or_default(),
        );
        diffs.push(FileDiff {
            path: path.clone(),
            kind,
            status,
            added,
            removed,
            // A transcript is the generator's conversation: counted here, read in the tree.
            diff: if kind == FileKind::Transcript {
                String::new()
            } else {
                diff
            },
        });
    }
    diffs.sort_by(|a, b| (a.kind, &a.path).cmp(&(b.kind, &b.path)));
    (diffs, (collapsed > 0).then_some(collapsed))
}

/// Lines added, lines removed and the unified diff (empty for bytes that are not UTF-8).
fn unified(path: &str, old: &[u8], new: &[u8]) -> (usize, usize, String) {
    let (Ok(old), Ok(new)) = (std::str::from_utf8(old), std::str::from_utf8(new)) else {
        return (0, 0, String::new());
    };
    let diff = TextDiff::from_lines(old, new);
    let (mut added, mut removed) = (0, 0);
    for change in diff.iter_all_changes() {
        match change.tag() {
            ChangeTag::Insert => added += 1,
            ChangeTag::Delete => removed += 1,
            ChangeTag::Equal => {}
        }
    }
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string();
    (added, removed, text)
}

/// Who and what produced each side's code, where it changed.
fn provenance(before: Option<&Vec<u8>>, after: Option<&Vec<u8>>) -> Vec<FieldChange> {
    let parse = |bytes: Option<&Vec<u8>>| {
        bytes
            .and_then(|b| serde_json::from_slice::<Value>(b).ok())
            .unwrap_or(Value::Null)
    };
    let (before, after) = (parse(before), parse(after));
    const FIELDS: [(&str, &str); 7] = [
        (
            "generator",
            "/predicate/buildDefinition/externalParameters/generator",
        ),
        (
            "model",
            "/predicate/buildDefinition/externalParameters/model",
        ),
        (
            "authored by",
            "/predicate/runDetails/byproducts/0/annotations/authoredBy",
        ),
        (
            "attempts",
            "/predicate/runDetails/byproducts/0/annotations/attempts",
        ),
        (
            "cost (USD)",
            "/predicate/runDetails/byproducts/0/annotations/costUsd",
        ),
        (
            "toolchain",
            "/predicate/buildDefinition/internalParameters/toolchain",
        ),
        (
            "templates",
            "/predicate/buildDefinition/internalParameters/templates/digest/sha256",
        ),
    ];
    let show = |value: Option<&Value>| match value {
        None => "—".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    FIELDS
        .iter()
        .filter_map(|(field, pointer)| {
            let (old, new) = (before.pointer(pointer), after.pointer(pointer));
            (old != new).then(|| FieldChange {
                field,
                before: show(old),
                after: show(new),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::signoff::{SignError, Signer};

    /// A project held in memory.
    struct Memory(BTreeMap<String, Vec<u8>>);

    impl Snapshot for Memory {
        fn read(&self, path: &str) -> Result<Option<Vec<u8>>, SnapshotError> {
            Ok(self.0.get(path).cloned())
        }
        fn list(&self, dir: &str) -> Result<Vec<String>, SnapshotError> {
            let prefix = format!("{dir}/");
            Ok(self
                .0
                .keys()
                .filter(|p| p.starts_with(&prefix))
                .cloned()
                .collect())
        }
        fn describe(&self) -> String {
            "memory".to_owned()
        }
    }

    /// Never asked: nothing here is signed off.
    struct NoSigner;

    impl Signer for NoSigner {
        fn sign(&self, _: &std::path::Path, _: &[u8]) -> Result<String, SignError> {
            unreachable!("diff never signs")
        }
        fn principals(&self, _: &[u8], _: &str) -> Result<Vec<String>, SignError> {
            Ok(Vec::new())
        }
        fn verify(&self, _: &[u8], _: &str, _: &[u8], _: &str) -> Result<(), SignError> {
            Ok(())
        }
    }

    const SPEC: &str = r#"integration demo {
  version "0.1.0"
  summary "A demo."
  target python
  network {
    allow "api.example.com:443"
  }
  tool get {
    description "Get."
    input { id: int }
    output { ok: bool }
  }
  intent "Get it."
}
"#;

    fn project(files: &[(&str, &str)]) -> Memory {
        Memory(
            files
                .iter()
                .map(|(p, t)| ((*p).to_owned(), t.as_bytes().to_vec()))
                .collect(),
        )
    }

    fn review_of(base: &Memory, head: &Memory, names: &[String]) -> Result<Review, DiffError> {
        review(&Inputs {
            base,
            head,
            names,
            signer: &NoSigner,
            signers: b"",
        })
    }

    #[test]
    fn a_new_integration_lists_what_it_may_do_as_widening() {
        let base = project(&[]);
        let head = project(&[
            ("specs/demo.claw", SPEC),
            ("golden/demo/generated/tools.py", "x\n"),
        ]);
        let review = review_of(&base, &head, &[]).unwrap();
        let demo = &review.integrations[0];
        assert_eq!(demo.status, Status::Added);
        let texts: Vec<(Class, &str, Option<usize>)> = demo
            .capabilities
            .iter()
            .map(|c| (c.change.class, c.change.text.as_str(), c.line))
            .collect();
        assert_eq!(
            texts[..2],
            [
                (
                    Class::Widening,
                    "network: api.example.com:443 added",
                    Some(6)
                ),
                (
                    Class::Widening,
                    "tool `get` added (no approval, no rate limit, timeout 30 s)",
                    Some(8)
                ),
            ]
        );
        assert!(matches!(demo.signoff, SignoffState::Missing));
        assert_eq!(demo.code[0].path, "generated/tools.py");
        assert_eq!(demo.code[0].status, Status::Added);
        assert_eq!(review.unsigned_widening().len(), 1);
    }

    #[test]
    fn unchanged_integrations_are_left_out_and_unknown_names_refused() {
        let both = project(&[("specs/demo.claw", SPEC)]);
        assert!(review_of(&both, &both, &[])
            .unwrap()
            .integrations
            .is_empty());
        assert!(matches!(
            review_of(&both, &both, &["nope".to_owned()]),
            Err(DiffError::UnknownName(_))
        ));
    }

    #[test]
    fn a_spec_with_errors_is_reported_not_compared() {
        let base = project(&[("specs/demo.claw", SPEC)]);
        let head = project(&[("specs/demo.claw", "integration demo {")]);
        let review = review_of(&base, &head, &[]).unwrap();
        let demo = &review.integrations[0];
        assert!(demo.capabilities.is_empty());
        assert!(
            demo.problems[0].contains("has errors"),
            "{:?}",
            demo.problems
        );
    }

    #[test]
    fn a_signers_file_change_is_flagged() {
        let base = project(&[("clawc.allowed_signers", "alice k\n")]);
        let head = project(&[("clawc.allowed_signers", "alice k\nmallory k\n")]);
        let review = review_of(&base, &head, &[]).unwrap();
        assert_eq!(review.project_files[0].path, "clawc.allowed_signers");
        assert!(review.project_files[0].diff.contains("+mallory k"));
        assert_eq!(review.widening(), 1);
    }
}
