//! Pinning: `golden/<name>/` and `claw.lock` changed together, atomically for every reader.
//!
//! A pin is a small transaction. Its new tree and new lock are staged (synced) in the scratch
//! folder — never in `golden/` — and a journal naming the stage is written; then the tree is
//! swapped in with one `renameat2(RENAME_EXCHANGE)` and the lock renamed over the old one.
//! `recover` (run first by every command that reads pins) finishes or discards a journal that a
//! crash left: before the swap nothing changed; after it the staged lock is put in place. So
//! kill -9 at any moment leaves a valid pinned state, the previous or the new one.

use std::ffi::CString;
use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::lock::Lock;
use super::project::Project;
use super::tree::{self, Files};

const JOURNAL_PREFIX: &str = "journal-";

/// Pins `files` as `golden/<name>/` together with `lock` (which already holds the new entry).
pub fn pin(project: &Project, name: &str, files: &Files, lock: &Lock) -> io::Result<()> {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let scratch = project.scratch();
    fs::create_dir_all(&scratch)?;
    fs::create_dir_all(project.golden())?;
    let stage = scratch.join(format!(
        "pin-{name}-{}-{}",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    ));
    if stage.exists() {
        fs::remove_dir_all(&stage)?;
    }
    fs::create_dir_all(&stage)?;
    tree::write_new(&stage.join("tree"), files)?;
    write_synced(&stage.join("claw.lock"), lock.render().as_bytes())?;
    sync(&stage)?;
    // The journal names the stage; written by rename so it is whole or absent.
    let journal = scratch.join(format!("{JOURNAL_PREFIX}{name}"));
    let journal_tmp = scratch.join(format!("{JOURNAL_PREFIX}{name}.tmp"));
    write_synced(&journal_tmp, stage.as_os_str().as_bytes())?;
    fs::rename(&journal_tmp, &journal)?;
    sync(&scratch)?;
    commit(project, name, &stage)?;
    fs::remove_file(&journal)?;
    let _ = fs::remove_dir_all(&stage);
    Ok(())
}

/// The swap, then the lock's rename.
fn commit(project: &Project, name: &str, stage: &Path) -> io::Result<()> {
    let staged_tree = stage.join("tree");
    let target = project.tree(name);
    if staged_tree.exists() {
        if fs::symlink_metadata(&target).is_ok() {
            exchange(&staged_tree, &target)?;
        } else {
            fs::rename(&staged_tree, &target)?;
        }
        sync(&project.golden())?;
    }
    finish_lock(project, stage)
}

/// Finishes or discards what a crashed pin left. When `golden/<name>/` already hashes to the
/// staged lock's entry, the swap happened: the staged lock is put in place. Otherwise the crash
/// came before the swap: the stage is discarded. Stale stages without a journal are removed.
pub fn recover(project: &Project) -> io::Result<Vec<String>> {
    let scratch = project.scratch();
    let mut recovered = Vec::new();
    let Ok(entries) = fs::read_dir(&scratch) else {
        return Ok(recovered);
    };
    let mut journaled = Vec::new();
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(name) = file_name.strip_prefix(JOURNAL_PREFIX) else {
            continue;
        };
        if name.ends_with(".tmp") {
            fs::remove_file(entry.path())?;
            continue;
        }
        let stage = PathBuf::from(std::ffi::OsStr::from_bytes(&fs::read(entry.path())?));
        if swapped(project, name, &stage) {
            finish_lock(project, &stage)?;
            recovered.push(format!("{name}: finished an interrupted pin"));
        } else {
            recovered.push(format!("{name}: discarded an interrupted pin"));
        }
        journaled.push(stage.clone());
        let _ = fs::remove_dir_all(&stage);
        fs::remove_file(entry.path())?;
    }
    // Stages of pins that crashed before writing their journal.
    if let Ok(entries) = fs::read_dir(&scratch) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("pin-") && !journaled.contains(&entry.path()) {
                let pid = name.rsplit('-').nth(1).and_then(|p| p.parse::<i32>().ok());
                // A live build's stage is its own business.
                if pid.is_some_and(|pid| pid != std::process::id() as i32 && alive(pid)) {
                    continue;
                }
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
    Ok(recovered)
}

/// Whether `golden/<name>/` already is the staged tree: its hash is the staged lock's.
fn swapped(project: &Project, name: &str, stage: &Path) -> bool {
    let Ok(text) = fs::read_to_string(stage.join("claw.lock")) else {
        return false; // the lock was renamed already: nothing left to do
    };
    let Some(entry) = Lock::parse(&text)
        .ok()
        .and_then(|lock| lock.integration.get(name).cloned())
    else {
        return false;
    };
    tree::read(&project.tree(name)).is_ok_and(|files| tree::tree_hash(&files) == entry.tree_hash)
}

fn finish_lock(project: &Project, stage: &Path) -> io::Result<()> {
    let staged_lock = stage.join("claw.lock");
    if staged_lock.exists() {
        fs::rename(&staged_lock, project.lock())?;
        sync(&project.root)?;
    }
    Ok(())
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Atomically exchanges two paths (Linux `renameat2(RENAME_EXCHANGE)`).
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    let a = CString::new(a.as_os_str().as_bytes())?;
    let b = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both are valid NUL-terminated paths; AT_FDCWD resolves them as given.
    let result = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Writes `path` whole and synced.
pub fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Writes `bytes` to `path` atomically: a synced temp file in `scratch`, renamed over it.
pub fn replace_file(scratch: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    fs::create_dir_all(scratch)?;
    let tmp = scratch.join(format!(
        "write-{}-{}",
        std::process::id(),
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    write_synced(&tmp, bytes)?;
    fs::rename(&tmp, path)
}

fn sync(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::lock::Entry;

    fn files(text: &str) -> Files {
        let mut files = Files::new();
        files.insert("a.txt".into(), text.as_bytes().to_vec());
        files
    }

    fn lock_with(tree: &str) -> Lock {
        let tree = &tree::tree_hash(&files(tree));
        let mut lock = Lock::new();
        lock.integration.insert(
            "x".into(),
            Entry {
                spec: "specs/x.claw".into(),
                spec_hash: "s".into(),
                toolchain: "t".into(),
                template_hash: "h".into(),
                generator: "hand".into(),
                model: "none".into(),
                tree_hash: tree.into(),
            },
        );
        lock
    }

    #[test]
    fn a_pin_replaces_tree_and_lock_and_leaves_no_stage() {
        let dir = tempfile::tempdir().unwrap();
        let project = Project {
            root: dir.path().to_owned(),
        };
        pin(&project, "x", &files("one"), &lock_with("one")).unwrap();
        pin(&project, "x", &files("two"), &lock_with("two")).unwrap();
        assert_eq!(
            fs::read_to_string(project.tree("x").join("a.txt")).unwrap(),
            "two"
        );
        assert!(fs::read_to_string(project.lock())
            .unwrap()
            .contains(&tree::tree_hash(&files("two"))));
        assert_eq!(fs::read_dir(project.scratch()).unwrap().count(), 0);
        assert_eq!(fs::read_dir(project.golden()).unwrap().count(), 1);
    }

    #[test]
    fn recovery_discards_before_the_swap_and_finishes_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let project = Project {
            root: dir.path().to_owned(),
        };
        pin(&project, "x", &files("one"), &lock_with("one")).unwrap();
        // A crash after staging and journaling, before the swap.
        let stage = project.scratch().join("pin-x-1-0");
        tree::write_new(&stage.join("tree"), &files("two")).unwrap();
        fs::write(stage.join("claw.lock"), lock_with("two").render()).unwrap();
        fs::write(
            project.scratch().join("journal-x"),
            stage.as_os_str().as_bytes(),
        )
        .unwrap();
        recover(&project).unwrap();
        assert_eq!(
            fs::read_to_string(project.tree("x").join("a.txt")).unwrap(),
            "one"
        );
        assert!(fs::read_to_string(project.lock())
            .unwrap()
            .contains(&tree::tree_hash(&files("one"))));
        // A crash after the swap, before the lock's rename.
        tree::write_new(&stage.join("tree"), &files("two")).unwrap();
        fs::write(stage.join("claw.lock"), lock_with("two").render()).unwrap();
        fs::write(
            project.scratch().join("journal-x"),
            stage.as_os_str().as_bytes(),
        )
        .unwrap();
        exchange(&stage.join("tree"), &project.tree("x")).unwrap();
        recover(&project).unwrap();
        assert_eq!(
            fs::read_to_string(project.tree("x").join("a.txt")).unwrap(),
            "two"
        );
        assert!(fs::read_to_string(project.lock())
            .unwrap()
            .contains(&tree::tree_hash(&files("two"))));
        assert_eq!(fs::read_dir(project.scratch()).unwrap().count(), 0);
    }
}
