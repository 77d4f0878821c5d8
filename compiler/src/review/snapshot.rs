//! A project as it is in one place: the work tree, or a git revision read through git itself
//! (`git ls-tree` once, then `git cat-file --batch`), never by checking anything out.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;

/// Reads a project's files; paths are relative to the project root, `/`-separated.
pub trait Snapshot {
    /// `Ok(None)` when there is no such file.
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, SnapshotError>;
    /// Every file below `dir`, sorted, relative to the root.
    fn list(&self, dir: &str) -> Result<Vec<String>, SnapshotError>;
    /// For messages: `the work tree`, `HEAD (1a2b3c4)`.
    fn describe(&self) -> String;
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("`{revision}` is not a revision git knows here: {message}")]
    UnknownRevision { revision: String, message: String },
    #[error("git: {0}")]
    Git(String),
}

/// The files on disk under `root`.
#[derive(Debug)]
pub struct WorkTree {
    root: PathBuf,
}

impl WorkTree {
    pub fn new(root: &Path) -> WorkTree {
        WorkTree {
            root: root.to_owned(),
        }
    }
}

impl Snapshot for WorkTree {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, SnapshotError> {
        match std::fs::read(self.root.join(path)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => Ok(None),
            Err(source) => Err(SnapshotError::Io {
                path: path.to_owned(),
                source,
            }),
        }
    }

    fn list(&self, dir: &str) -> Result<Vec<String>, SnapshotError> {
        let mut found = Vec::new();
        let mut pending = vec![dir.trim_end_matches('/').to_owned()];
        while let Some(dir) = pending.pop() {
            let entries = match std::fs::read_dir(self.root.join(&dir)) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(SnapshotError::Io { path: dir, source }),
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let path = format!("{dir}/{name}");
                match entry.file_type() {
                    Ok(kind) if kind.is_dir() => pending.push(path),
                    Ok(kind) if kind.is_file() => found.push(path),
                    // A link or a device is not a project file: reviewing it would follow it.
                    _ => {}
                }
            }
        }
        found.sort();
        Ok(found)
    }

    fn describe(&self) -> String {
        "the work tree".to_owned()
    }
}

/// The project's files at one git revision.
pub struct Revision {
    label: String,
    /// Path (relative to the project root) → blob id.
    blobs: BTreeMap<String, String>,
    reader: Mutex<Option<BatchReader>>,
    root: PathBuf,
}

struct BatchReader {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Drop for BatchReader {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Revision {
    /// `revision` of the repository holding `root` (the project may be a sub-folder of it).
    pub fn open(root: &Path, revision: &str) -> Result<Revision, SnapshotError> {
        let unknown = |message: String| SnapshotError::UnknownRevision {
            revision: revision.to_owned(),
            message,
        };
        if revision.starts_with('-') {
            return Err(unknown("a revision cannot start with `-`".to_owned()));
        }
        let commit = git(
            root,
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                "--end-of-options",
                &format!("{revision}^{{commit}}"),
            ],
        )
        .map_err(|e| unknown(e.to_string()))?;
        let commit = String::from_utf8_lossy(&commit).trim().to_owned();
        if commit.is_empty() {
            return Err(unknown("git does not know it".to_owned()));
        }
        // Run from the project root, ls-tree lists only what is below it, relative to it.
        let listing = git(root, &["ls-tree", "-r", "-z", &commit])?;
        let mut blobs = BTreeMap::new();
        for record in listing.split(|&b| b == 0).filter(|r| !r.is_empty()) {
            let record = String::from_utf8_lossy(record);
            let Some((meta, path)) = record.split_once('\t') else {
                continue;
            };
            let mut fields = meta.split(' ');
            let (mode, kind, id) = (fields.next(), fields.next(), fields.next());
            // Regular files only: a committed symlink is not followed into the host.
            if kind == Some("blob") && matches!(mode, Some("100644" | "100755")) {
                if let Some(id) = id {
                    blobs.insert(path.to_owned(), id.to_owned());
                }
            }
        }
        let short: String = commit.chars().take(7).collect();
        Ok(Revision {
            label: format!("{revision} ({short})"),
            blobs,
            reader: Mutex::new(None),
            root: root.to_owned(),
        })
    }

    fn cat(&self, id: &str) -> Result<Vec<u8>, SnapshotError> {
        let mut guard = self.reader.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            let mut child = Command::new("git")
                .args(["cat-file", "--batch"])
                .current_dir(&self.root)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| SnapshotError::Git(format!("starting `git cat-file`: {e}")))?;
            let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
                return Err(SnapshotError::Git("`git cat-file` has no pipes".to_owned()));
            };
            *guard = Some(BatchReader {
                child,
                stdin,
                stdout: BufReader::new(stdout),
            });
        }
        let Some(reader) = guard.as_mut() else {
            return Err(SnapshotError::Git(
                "`git cat-file` is not running".to_owned(),
            ));
        };
        let broken = |e: std::io::Error| SnapshotError::Git(format!("`git cat-file`: {e}"));
        writeln!(reader.stdin, "{id}").map_err(broken)?;
        reader.stdin.flush().map_err(broken)?;
        let mut header = String::new();
        reader.stdout.read_line(&mut header).map_err(broken)?;
        // `<id> blob <size>`
        let size: usize = header
            .split_whitespace()
            .nth(2)
            .and_then(|size| size.parse().ok())
            .ok_or_else(|| SnapshotError::Git(format!("unexpected reply {header:?}")))?;
        let mut bytes = vec![0; size + 1];
        reader.stdout.read_exact(&mut bytes).map_err(broken)?;
        bytes.pop(); // the newline after the contents
        Ok(bytes)
    }
}

impl Snapshot for Revision {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, SnapshotError> {
        match self.blobs.get(path) {
            Some(id) => self.cat(id).map(Some),
            None => Ok(None),
        }
    }

    fn list(&self, dir: &str) -> Result<Vec<String>, SnapshotError> {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        Ok(self
            .blobs
            .keys()
            .filter(|path| path.starts_with(&prefix))
            .cloned()
            .collect())
    }

    fn describe(&self) -> String {
        self.label.clone()
    }
}

fn git(root: &Path, args: &[&str]) -> Result<Vec<u8>, SnapshotError> {
    let output = Command::new("git")
        .args(args)
        .current_dir(root)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| SnapshotError::Git(format!("running git: {e}")))?;
    if !output.status.success() {
        let message = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        return Err(SnapshotError::Git(if message.is_empty() {
            format!("`git {}` failed", args.join(" "))
        } else {
            message
        }));
    }
    Ok(output.stdout)
}

/// A fixture file named by a spec (`file("...")`), read from the same snapshot as the spec.
pub struct SnapshotWorld<'a> {
    pub snapshot: &'a dyn Snapshot,
    /// The spec's folder, relative to the root (`specs`).
    pub dir: String,
}

impl spec_lang::World for SnapshotWorld<'_> {
    fn read_fixture(&self, path: &str) -> Result<Vec<u8>, String> {
        let parts = crate::sources::fixture_path_parts(path)?;
        let mut full = self.dir.clone();
        for part in parts {
            if !full.is_empty() {
                full.push('/');
            }
            full.push_str(part);
        }
        match self.snapshot.read(&full) {
            Ok(Some(bytes)) => Ok(bytes),
            Ok(None) => Err(format!("no such file in {}", self.snapshot.describe())),
            Err(e) => Err(e.to_string()),
        }
    }
}
