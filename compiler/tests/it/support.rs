//! Running the real `clawc` binary in a scratch directory, with snapshot filters for the
//! parts of its output that vary between machines.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::backend_support::require;

pub fn clawc() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clawc"));
    // As users run it: clawc is its own sandbox init, without the override CI sets for the
    // runtime's suites (a test that wants one sets it again).
    cmd.env_remove("CLAWC_LOG")
        .env_remove("CLAWC_SANDBOX_INIT")
        .env("NO_COLOR", "1");
    cmd
}

/// The repository's root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The repository's `specs/` folder.
pub fn specs_dir() -> PathBuf {
    workspace_root().join("specs")
}

/// A temporary directory holding the given files.
pub fn scratch(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, contents) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, contents).expect("write");
    }
    dir
}

/// Snapshot settings: temp paths become `[TMP]`, hashes `[HASH]`.
pub fn settings(dir: Option<&Path>) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    if let Some(dir) = dir {
        let shown = regex_escape(&dir.display().to_string());
        settings.add_filter(&shown, "[TMP]");
    }
    settings.add_filter(r"sha256:[0-9a-f]{64}", "sha256:[HASH]");
    settings.add_filter(r"clawc \d+\.\d+\.\d+", "clawc [VERSION]");
    settings.set_prepend_module_to_snapshot(false);
    settings
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$#&-~".contains(c);
            special
                .then_some('\\')
                .into_iter()
                .chain(std::iter::once(c))
        })
        .collect()
}

/// Whether bubblewrap is here; under CI its absence is a failure, elsewhere a loud skip.
pub fn native_available() -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join("bwrap").is_file()));
    require(
        "bubblewrap",
        (!found).then(|| "bwrap is not on PATH".to_owned()),
    )
}

/// Every file under `root`, relative path → bytes, sorted.
pub fn tree_files(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let relative = path.strip_prefix(root).expect("under root").to_owned();
                out.push((relative, std::fs::read(&path).expect("read")));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}
