//! Finding spec files, reading them, and the file-system `World` the checker sees.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

/// The extension of spec files.
pub const EXTENSION: &str = "claw";

/// Where `check` and `fmt` look when given no paths.
pub const DEFAULT_DIR: &str = "specs";

/// A spec read from disk. Invalid UTF-8 is kept as bytes so that it gets a diagnostic, not an
/// IO error.
#[derive(Debug)]
pub struct SpecFile {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

impl SpecFile {
    /// The file name without `.claw`: the integration must be named the same.
    pub fn stem(&self) -> String {
        self.path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{0}: not a .claw file or a directory")]
    NotASpec(PathBuf),
}

/// Expand files and directories (recursively, sorted, `.claw` only) into spec paths.
/// An explicitly named file is taken whatever its extension.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, SourceError> {
    let default = [PathBuf::from(DEFAULT_DIR)];
    let roots = if paths.is_empty() {
        &default[..]
    } else {
        paths
    };
    let mut found = Vec::new();
    for root in roots {
        let meta = fs::metadata(root).map_err(|source| SourceError::Io {
            path: root.clone(),
            source,
        })?;
        if meta.is_dir() {
            walk(root, &mut found)?;
        } else if meta.is_file() {
            found.push(root.clone());
        } else {
            return Err(SourceError::NotASpec(root.clone()));
        }
    }
    found.dedup();
    Ok(found)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), SourceError> {
    let io_err = |source| SourceError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries = fs::read_dir(dir)
        .map_err(io_err)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(io_err)?;
    entries.sort();
    for path in entries {
        let meta = fs::metadata(&path).map_err(|source| SourceError::Io {
            path: path.clone(),
            source,
        })?;
        if meta.is_dir() {
            walk(&path, found)?;
        } else if path.extension().is_some_and(|e| e == EXTENSION) {
            found.push(path);
        }
    }
    Ok(())
}

pub fn read(path: &Path) -> Result<SpecFile, SourceError> {
    let bytes = fs::read(path).map_err(|source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(SpecFile {
        path: path.to_path_buf(),
        bytes,
    })
}

/// Write `contents` to `path` atomically: a temporary file beside it, then a rename, so a crash
/// never leaves a half-written spec.
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.clawc-tmp-{}", std::process::id()));
    let result = (|| {
        let file = fs::File::create(&tmp)?;
        io::Write::write_all(&mut &file, contents)?;
        file.sync_all()?;
        if let Ok(meta) = fs::metadata(path) {
            fs::set_permissions(&tmp, meta.permissions())?;
        }
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Fixture files named by `file("...")`, resolved against the spec's directory. Paths must
/// stay inside that directory: a spec cannot make the checker read `/etc/shadow` or `../..`.
#[derive(Debug)]
pub struct FsWorld {
    base: PathBuf,
}

/// Fixture files larger than this are refused: fixtures are examples, not data sets.
const MAX_FIXTURE_BYTES: u64 = 8 << 20;

impl FsWorld {
    pub fn for_spec(spec: &Path) -> Self {
        let base = spec
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        Self {
            base: base.to_path_buf(),
        }
    }
}

impl spec_lang::World for FsWorld {
    fn read_fixture(&self, path: &str) -> Result<Vec<u8>, String> {
        let relative = Path::new(path);
        let escapes = relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
        if escapes {
            return Err(
                "fixture paths must be relative and stay inside the spec's directory".into(),
            );
        }
        let full = self.base.join(relative);
        let meta = fs::metadata(&full).map_err(|e| describe(&e))?;
        if !meta.is_file() {
            return Err("not a regular file".into());
        }
        if meta.len() > MAX_FIXTURE_BYTES {
            return Err(format!(
                "larger than the {} MiB fixture limit",
                MAX_FIXTURE_BYTES >> 20
            ));
        }
        fs::read(&full).map_err(|e| describe(&e))
    }
}

fn describe(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::NotFound => "no such file".to_owned(),
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => error.to_string(),
    }
}
