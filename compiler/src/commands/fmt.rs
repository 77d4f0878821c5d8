//! `clawc fmt [--check] [PATH...]`: canonical layout, comments kept, written atomically.

use std::path::PathBuf;

use super::check::{report, CheckedFile};
use super::{error, for_each_spec, note, plural, print_stdout};
use crate::cli::{DiagnosticFormat, Global};
use crate::exit;
use crate::sources::{self, SpecFile};

/// What formatting one file came to.
enum Outcome {
    Unchanged,
    Changed,
    /// Does not parse (diagnostics shown).
    Unparsable,
    /// Could not be written (error shown): an IO problem, exit 2.
    Unwritable,
}

pub fn run(paths: &[PathBuf], check_only: bool, global: &Global) -> i32 {
    let (mut changed, mut unparsable, mut unwritable) = (0, 0, 0);
    let walked = for_each_spec(paths, |file| match format_one(&file, check_only, global) {
        Outcome::Unchanged => {}
        Outcome::Changed => changed += 1,
        Outcome::Unparsable => unparsable += 1,
        Outcome::Unwritable => unwritable += 1,
    });
    let walked = match walked {
        Ok(walked) => walked,
        Err(code) => return code,
    };
    let verb = if check_only {
        "would reformat"
    } else {
        "reformatted"
    };
    let unchanged = walked.found - walked.unreadable - changed - unparsable - unwritable;
    note(
        global,
        format!(
            "{verb} {}, {unchanged} already formatted",
            plural(changed, "file")
        ),
    );
    if walked.unreadable + unwritable > 0 {
        exit::USAGE
    } else if unparsable > 0 || (check_only && changed > 0) {
        exit::FAILURE
    } else {
        exit::OK
    }
}

fn format_one(file: &SpecFile, check_only: bool, global: &Global) -> Outcome {
    let formatted = spec_lang::decode(&file.bytes)
        .map_err(|d| vec![*d])
        .and_then(spec_lang::format);
    let formatted = match formatted {
        Ok(text) => text,
        Err(diagnostics) => {
            // A file that does not parse cannot be formatted: show why, touch nothing.
            let unchecked = CheckedFile::unchecked(file.path.clone(), &file.bytes, diagnostics);
            report(&unchecked, DiagnosticFormat::Human, global);
            return Outcome::Unparsable;
        }
    };
    if formatted.as_bytes() == file.bytes.as_slice() {
        return Outcome::Unchanged;
    }
    if check_only {
        print_stdout(&format!("would reformat {}\n", file.path.display()));
    } else if let Err(e) = sources::write_atomic(&file.path, formatted.as_bytes()) {
        error(format!("{}: {e}", file.path.display()));
        return Outcome::Unwritable;
    }
    Outcome::Changed
}
