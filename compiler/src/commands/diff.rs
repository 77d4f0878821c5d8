//! `clawc diff`: what a change does to each integration, against a git revision.

use super::{discover_project, error, print_stdout};
use crate::cli::{DiffFormat, FailOn, Global};
use crate::exit;
use crate::review::diff::{self, DiffError, Inputs};
use crate::review::render;
use crate::review::signoff::{SshKeygen, SIGNERS_FILE};
use crate::review::snapshot::{Revision, Snapshot, SnapshotError, WorkTree};

pub fn run(
    names: &[String],
    base: &str,
    format: DiffFormat,
    fail_on: Option<FailOn>,
    _global: &Global,
) -> i32 {
    let project = match discover_project() {
        Ok(project) => project,
        Err(code) => return code,
    };
    let revision = match Revision::open(&project.root, base) {
        Ok(revision) => revision,
        Err(e) => {
            error(e);
            return exit::USAGE;
        }
    };
    // The trust root is the base's signers file, never the one of the change under review.
    let signers = match revision.read(SIGNERS_FILE) {
        Ok(signers) => signers.unwrap_or_default(),
        Err(e) => {
            error(e);
            return exit::USAGE;
        }
    };
    let head = WorkTree::new(&project.root);
    let inputs = Inputs {
        base: &revision,
        head: &head,
        names,
        signer: &SshKeygen,
        signers: &signers,
    };
    let review = match diff::review(&inputs) {
        Ok(review) => review,
        Err(
            e @ (DiffError::UnknownName(_)
            | DiffError::Snapshot(SnapshotError::UnknownRevision { .. })),
        ) => {
            error(e);
            return exit::USAGE;
        }
        Err(e) => {
            error(e);
            return exit::FAILURE;
        }
    };
    print_stdout(&match format {
        DiffFormat::Text => render::text(&review),
        DiffFormat::Markdown => render::markdown(&review),
        DiffFormat::Json => render::json(&review),
    });
    let unsigned = review.unsigned_widening();
    if fail_on == Some(FailOn::Widening) && !unsigned.is_empty() {
        for integration in unsigned {
            error(format!(
                "{} widens its capabilities without a sign-off; a reviewer runs `clawc review approve {}`",
                integration.name, integration.name
            ));
        }
        return exit::FAILURE;
    }
    exit::OK
}
