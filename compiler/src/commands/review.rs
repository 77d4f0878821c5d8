//! `clawc review approve`: a reviewer's signed sign-off of an integration's capabilities.

use std::path::{Path, PathBuf};

use super::build::read_lock;
use super::{discover_project, error, note};
use crate::build::fingerprint::Cache;
use crate::build::plan;
use crate::cli::Global;
use crate::exit;
use crate::review::capability::Capabilities;
use crate::review::signoff::{self, ApproveError, SshKeygen, SIGNERS_FILE};
use crate::sources;

pub fn approve(name: &str, key: Option<&Path>, global: &Global) -> i32 {
    let project = match discover_project() {
        Ok(project) => project,
        Err(code) => return code,
    };
    let path = match plan::spec_paths(&project, &[name.to_owned()]) {
        Ok(found) => match found.into_iter().next() {
            Some((_, path)) => path,
            None => return exit::USAGE,
        },
        Err(e) => {
            error(e);
            return exit::USAGE;
        }
    };
    let (mut lock, _) = match read_lock(&project) {
        Ok(lock) => lock,
        Err(message) => {
            error(message);
            return exit::FAILURE;
        }
    };
    let loaded = match plan::load(&path, &mut Cache::default()) {
        Ok(loaded) => loaded,
        Err(e) => {
            error(format!("{}: {e}", project.relative(&path)));
            return exit::FAILURE;
        }
    };
    // What is signed off is what is pinned: the reviewer has seen its diff.
    match lock.integration.get(name) {
        Some(entry) if entry.spec_hash == loaded.spec_hash => {}
        Some(_) => {
            error(format!(
                "{name}: the spec is not what is pinned; run `clawc build {name}` first"
            ));
            return exit::FAILURE;
        }
        None => {
            error(format!(
                "{name}: not pinned; run `clawc build {name}` first"
            ));
            return exit::FAILURE;
        }
    }
    let capabilities = match Capabilities::of(&loaded.ir) {
        Ok(capabilities) => capabilities,
        Err(e) => {
            error(format!("{name}: {e}"));
            return exit::FAILURE;
        }
    };
    let Some(key) = key.map(Path::to_owned).or_else(default_key) else {
        error("no key: pass --key PATH (or set git's user.signingkey)");
        return exit::USAGE;
    };
    let signers = match std::fs::read(project.root.join(SIGNERS_FILE)) {
        Ok(signers) => signers,
        Err(e) => {
            error(format!(
                "{SIGNERS_FILE}: {e}; list reviewers there as `EMAIL namespaces=\"clawc-signoff\" \
                 KEYTYPE KEY` (git's allowed-signers format)"
            ));
            return exit::FAILURE;
        }
    };
    let signoff = match signoff::approve(&SshKeygen, name, &capabilities, &key, &signers) {
        Ok(signoff) => signoff,
        Err(ApproveError::NotASigner) => {
            error(format!(
                "the key {} is not in {SIGNERS_FILE}; add its public key there (a pull request \
                 that does so is checked against its base's file, so it cannot sign itself off)",
                key.display()
            ));
            return exit::FAILURE;
        }
        Err(e) => {
            error(e);
            return exit::FAILURE;
        }
    };
    let signer = signoff.signer.clone();
    let hash = signoff.capability_hash.clone();
    lock.signoff.insert(name.to_owned(), signoff);
    if let Err(e) = sources::write_atomic(&project.lock(), lock.render().as_bytes()) {
        error(format!("{}: {e}", project.lock().display()));
        return exit::FAILURE;
    }
    note(
        global,
        format!("signed off the capabilities of {name} as {signer} ({hash})"),
    );
    exit::OK
}

/// git's `user.signingkey` when it names a file, else `~/.ssh/id_ed25519` when it exists.
fn default_key() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let configured = std::process::Command::new("git")
        .args(["config", "--get", "user.signingkey"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|key| !key.is_empty() && !key.starts_with("key::"));
    if let Some(key) = configured {
        return Some(match (key.strip_prefix("~/"), &home) {
            (Some(rest), Some(home)) => home.join(rest),
            _ => PathBuf::from(key),
        });
    }
    home.map(|home| home.join(".ssh/id_ed25519"))
        .filter(|key| key.is_file())
}
