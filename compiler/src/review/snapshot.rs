//! A project as it is in one place: the work tree, or a git revision read through git itself
//! (`git ls-tree` once, then `git cat-file --batch`), never by checking anything out.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// Reads a project's files; paths are relative to the project root, `/`-separated.
pub trait Snapshot {
    /// `Ok(None)` when there is no such file.
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, SnapshotError>;
    /// Every file below `dir`, sorted, relative to the root.
    fn list(&self, dir: &str) -> Result<Vec<String>, SnapshotError>;
    /// For messages: `the work tree`, `HEAD (1a2b3c4)`.
    fn describe(&self) -> String;
    /// A hint that every file below `dirs` will be read (so a slow source can read them at
    /// once).
    fn preload(&self, _dirs: &[&str]) -> Result<(), SnapshotError> {
        Ok(())
    }
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
    /// Blob id → contents, for what has been read (identical files are read once).
    contents: Mutex<BTreeMap<String, Vec<u8>>>,
    root: PathBuf,
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
            contents: Mutex::new(BTreeMap::new()),
            root: root.to_owned(),
        })
    }

    /// Reads the blobs `ids` not read yet, through one `git cat-file --batch`: a round trip
    /// per file would cost more than everything else `clawc diff` does.
    fn fetch(&self, ids: &[&String]) -> Result<(), SnapshotError> {
        let mut contents = self.contents.lock().unwrap_or_else(|e| e.into_inner());
        let mut wanted: Vec<&String> = ids
            .iter()
            .copied()
            .filter(|id| !contents.contains_key(*id))
            .collect();
        wanted.sort();
        wanted.dedup();
        if wanted.is_empty() {
            return Ok(());
        }
        let broken = |e: std::io::Error| SnapshotError::Git(format!("`git cat-file`: {e}"));
        let mut child = Command::new("git")
            .args(["cat-file", "--batch"])
            .current_dir(&self.root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| SnapshotError::Git(format!("starting `git cat-file`: {e}")))?;
        let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(SnapshotError::Git("`git cat-file` has no pipes".to_owned()));
        };
        let request: String = wanted.iter().map(|id| format!("{id}\n")).collect();
        // Written from a thread: git answers while it reads, and both pipes have a bound.
        let writer = std::thread::spawn(move || stdin.write_all(request.as_bytes()));
        let mut stdout = BufReader::new(stdout);
        let mut read = || -> Result<(), SnapshotError> {
            for id in &wanted {
                let mut header = String::new();
                stdout.read_line(&mut header).map_err(broken)?;
                // `<id> blob <size>`
                let size: usize = header
                    .split_whitespace()
                    .nth(2)
                    .and_then(|size| size.parse().ok())
                    .ok_or_else(|| SnapshotError::Git(format!("unexpected reply {header:?}")))?;
                let mut bytes = vec![0; size + 1];
                stdout.read_exact(&mut bytes).map_err(broken)?;
                bytes.pop(); // the newline after the contents
                contents.insert((*id).clone(), bytes);
            }
            Ok(())
        };
        let result = read();
        if result.is_err() {
            let _ = child.kill();
        }
        let _ = child.wait();
        let _ = writer.join();
        result
    }
}

impl Snapshot for Revision {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, SnapshotError> {
        let Some(id) = self.blobs.get(path) else {
            return Ok(None);
        };
        self.fetch(&[id])?;
        let contents = self.contents.lock().unwrap_or_else(|e| e.into_inner());
        Ok(contents.get(id).cloned())
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

    fn preload(&self, dirs: &[&str]) -> Result<(), SnapshotError> {
        let ids: Vec<&String> = self
            .blobs
            .iter()
            .filter(|(path, _)| {
                dirs.iter()
                    .any(|dir| path.starts_with(&format!("{}/", dir.trim_end_matches('/'))))
            })
            .map(|(_, id)| id)
            .collect();
        self.fetch(&ids)
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
