//! An artifact's files as bytes, its manifest and tree hash, and reading a pinned tree back
//! from disk without trusting it.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Relative `/`-separated path → contents, sorted: the one order everything is hashed in.
pub type Files = BTreeMap<String, Vec<u8>>;

/// The manifest's own name in the tree (it lists every other file).
pub const MANIFEST: &str = "manifest.json";
pub const PROVENANCE: &str = "provenance.json";
pub const TRANSCRIPT: &str = "transcript.jsonl";

/// Every file is written with this mode: nothing in an artifact is executable or writable by
/// others, so a mode never differs between machines or umasks.
pub const FILE_MODE: u32 = 0o644;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub path: String,
    pub mode: String,
    pub sha256: String,
}

/// The manifest of `files` (which must not hold the manifest itself), as pretty JSON.
pub fn manifest(files: &Files) -> Vec<u8> {
    let entries: Vec<ManifestEntry> = files
        .iter()
        .filter(|(path, _)| path.as_str() != MANIFEST)
        .map(|(path, bytes)| ManifestEntry {
            path: path.clone(),
            mode: format!("{FILE_MODE:o}"),
            sha256: spec_lang::hash::sha256_prefixed(bytes),
        })
        .collect();
    let mut text =
        serde_json::to_string_pretty(&serde_json::json!({ "files": entries })).unwrap_or_default();
    text.push('\n');
    text.into_bytes()
}

/// The tree hash: SHA-256 over every file (manifest, provenance and transcript included) as
/// `path NUL mode NUL sha256 LF` lines in path order.
pub fn tree_hash(files: &Files) -> String {
    let mut listing = String::new();
    for (path, bytes) in files {
        listing.push_str(path);
        listing.push('\0');
        listing.push_str(&format!("{FILE_MODE:o}"));
        listing.push('\0');
        listing.push_str(&spec_lang::hash::sha256_prefixed(bytes));
        listing.push('\n');
    }
    spec_lang::hash::sha256_prefixed(listing.as_bytes())
}

/// What is wrong with a tree on disk, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error("{0}: missing")]
    Missing(PathBuf),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{0}: not a regular file or folder (symlinks, devices and FIFOs are refused)")]
    NotRegular(PathBuf),
    #[error("{0}: mode {1:o}, expected {FILE_MODE:o}")]
    Mode(PathBuf, u32),
    #[error("{0}: not UTF-8 in its name")]
    Name(PathBuf),
}

/// Reads every file under `root` (no symlink followed, nothing but folders and regular files).
pub fn read(root: &Path) -> Result<Files, TreeError> {
    let mut files = Files::new();
    match fs::symlink_metadata(root) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(TreeError::NotRegular(root.to_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(TreeError::Missing(root.to_owned()))
        }
        Err(source) => {
            return Err(TreeError::Io {
                path: root.to_owned(),
                source,
            })
        }
    }
    walk(root, "", &mut files)?;
    Ok(files)
}

fn walk(dir: &Path, prefix: &str, files: &mut Files) -> Result<(), TreeError> {
    let io_error = |path: &Path| {
        let path = path.to_owned();
        move |source| TreeError::Io { path, source }
    };
    for entry in fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let path = entry.path();
        let name = entry
            .file_name()
            .into_string()
            .map_err(|_| TreeError::Name(path.clone()))?;
        let relative = format!("{prefix}{name}");
        let meta = fs::symlink_metadata(&path).map_err(io_error(&path))?;
        if meta.is_dir() {
            walk(&path, &format!("{relative}/"), files)?;
        } else if meta.is_file() {
            let mode = meta.permissions().mode() & 0o7777;
            if mode != FILE_MODE {
                return Err(TreeError::Mode(path, mode));
            }
            let bytes = fs::read(&path).map_err(io_error(&path))?;
            files.insert(relative, bytes);
        } else {
            return Err(TreeError::NotRegular(path));
        }
    }
    Ok(())
}

/// Writes `files` under `root` (which must not exist yet), each file synced, modes fixed.
pub fn write_new(root: &Path, files: &Files) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    fs::create_dir_all(root)?;
    for (path, bytes) in files {
        let target = root.join(path);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)?;
        }
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(&target)?;
        file.write_all(bytes)?;
        // The umask may have cleared bits of FILE_MODE; set it exactly.
        file.set_permissions(fs::Permissions::from_mode(FILE_MODE))?;
        file.sync_all()?;
    }
    sync_dirs(root)
}

/// fsyncs every folder under `root` (after its files), so a rename publishes complete data.
fn sync_dirs(root: &Path) -> io::Result<()> {
    for entry in fs::read_dir(root)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            sync_dirs(&entry.path())?;
        }
    }
    fs::File::open(root)?.sync_all()
}

/// A cheap fingerprint of a file's identity on disk: what cargo's fingerprints use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stat {
    pub size: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
    pub ino: u64,
}

impl Stat {
    pub fn of(meta: &fs::Metadata) -> Stat {
        Stat {
            size: meta.size(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
            ino: meta.ino(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_hash_covers_every_byte_and_name() {
        let mut files = Files::new();
        files.insert("a.py".into(), b"x".to_vec());
        files.insert("b/c.py".into(), b"y".to_vec());
        let base = tree_hash(&files);
        let mut renamed = files.clone();
        let moved = renamed.remove("a.py").unwrap();
        renamed.insert("a2.py".into(), moved);
        let mut flipped = files.clone();
        flipped.insert("b/c.py".into(), b"z".to_vec());
        assert_ne!(base, tree_hash(&renamed));
        assert_ne!(base, tree_hash(&flipped));
        assert_eq!(base, tree_hash(&files.clone()));
    }

    #[test]
    fn a_written_tree_reads_back_the_same_and_a_symlink_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("t");
        let mut files = Files::new();
        files.insert("x/y.txt".into(), b"hello".to_vec());
        files.insert(MANIFEST.into(), manifest(&files));
        write_new(&root, &files).unwrap();
        assert_eq!(read(&root).unwrap(), files);
        std::os::unix::fs::symlink("/etc/passwd", root.join("x/link")).unwrap();
        assert!(matches!(read(&root), Err(TreeError::NotRegular(_))));
    }
}
