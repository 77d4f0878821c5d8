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

const ESCAPES: &str = "fixture paths must be relative and stay inside the spec's directory";

/// The names of a fixture path as written in a spec (`./` dropped), or an error when it is
/// absolute or climbs out of the spec's directory. The one rule, for the disk and for git.
pub fn fixture_path_parts(path: &str) -> Result<Vec<&str>, &'static str> {
    let mut parts = Vec::new();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(name) => parts.push(name.to_str().ok_or(ESCAPES)?),
            Component::CurDir => {}
            _ => return Err(ESCAPES),
        }
    }
    Ok(parts)
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
        let Ok(parts) = fixture_path_parts(path) else {
            return Err(ESCAPES.into());
        };
        let names: Vec<&std::ffi::OsStr> = parts.iter().map(std::ffi::OsStr::new).collect();
        let file = open_beneath(&self.base, &names).map_err(|e| describe(&e))?;
        // One open, then everything from that descriptor: what is checked is what is read,
        // whatever happens to the path meanwhile.
        let meta = file.metadata().map_err(|e| describe(&e))?;
        if !meta.is_file() {
            return Err("not a regular file".into());
        }
        let too_large = || {
            format!(
                "larger than the {} MiB fixture limit",
                MAX_FIXTURE_BYTES >> 20
            )
        };
        if meta.len() > MAX_FIXTURE_BYTES {
            return Err(too_large());
        }
        // Bounded even if the file grows after the fstat.
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        io::Read::read_to_end(
            &mut io::Read::take(&file, MAX_FIXTURE_BYTES + 1),
            &mut bytes,
        )
        .map_err(|e| describe(&e))?;
        if bytes.len() as u64 > MAX_FIXTURE_BYTES {
            return Err(too_large());
        }
        Ok(bytes)
    }
}

/// Opens `base/names[0]/…/names[n]` refusing a symbolic link at every component after `base`
/// (a spec from a pull request is hostile: `fixtures -> /home/me/.ssh` must not be read). Each
/// directory is opened relative to the previous one with `O_NOFOLLOW`, so no component can be
/// swapped for a link between a check and the use. FIFOs and devices open non-blocking and are
/// then refused as "not a regular file".
fn open_beneath(base: &Path, names: &[&std::ffi::OsStr]) -> io::Result<fs::File> {
    use std::ffi::CString;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;

    let Some((last, dirs)) = names.split_last() else {
        return Err(io::Error::from(io::ErrorKind::NotFound));
    };
    let mut dir: OwnedFd = fs::File::open(base)?.into();
    let open_at = |dir: &OwnedFd, name: &std::ffi::OsStr, flags: libc::c_int| {
        let name = CString::new(name.as_bytes())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: `dir` is an open descriptor and `name` a NUL-terminated string, both alive for
        // the call; a non-negative result is a new descriptor that we own from here on.
        let fd = unsafe {
            libc::openat(
                dir.as_raw_fd(),
                name.as_ptr(),
                flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            let error = io::Error::last_os_error();
            // O_NOFOLLOW answers ELOOP on a link, and ENOTDIR with O_DIRECTORY: ask the
            // directory what the name is, only to say so (the refusal does not depend on it).
            let is_link = matches!(error.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR))
                && is_symlink_at(dir, &name);
            return Err(if is_link {
                io::Error::other("a symbolic link (fixtures are never read through links)")
            } else {
                error
            });
        }
        // SAFETY: `fd` was just returned by openat and nothing else owns it.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    };
    fn is_symlink_at(dir: &OwnedFd, name: &std::ffi::CStr) -> bool {
        let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: valid descriptor, NUL-terminated name, and a buffer of the right type that
        // is read only when the call succeeded.
        let rc = unsafe {
            libc::fstatat(
                dir.as_raw_fd(),
                name.as_ptr(),
                stat.as_mut_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        // SAFETY: fstatat returned 0, so it filled `stat`.
        rc == 0 && unsafe { stat.assume_init() }.st_mode & libc::S_IFMT == libc::S_IFLNK
    }
    for name in dirs {
        dir = open_at(&dir, name, libc::O_RDONLY | libc::O_DIRECTORY)?;
    }
    Ok(open_at(&dir, last, libc::O_RDONLY | libc::O_NONBLOCK)?.into())
}

fn describe(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::NotFound => "no such file".to_owned(),
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => error.to_string(),
    }
}
