//! `clawc fmt [--check] [PATH...]`: canonical layout, comments kept, written atomically.

use std::path::PathBuf;

use super::check::{report, CheckedFile};
use super::{error, note, plural, print_stdout};
use crate::cli::{DiagnosticFormat, Global};
use crate::exit;
use crate::sources;

pub fn run(paths: &[PathBuf], check_only: bool, global: &Global) -> i32 {
    let specs = match sources::discover(paths) {
        Ok(specs) => specs,
        Err(e) => {
            error(e);
            return exit::USAGE;
        }
    };
    let (mut changed, mut broken, mut unreadable) = (Vec::new(), 0, 0);
    for path in &specs {
        let file = match sources::read(path) {
            Ok(file) => file,
            Err(e) => {
                error(e);
                unreadable += 1;
                continue;
            }
        };
        let formatted = spec_lang::decode(&file.bytes)
            .map_err(|d| vec![*d])
            .and_then(spec_lang::format);
        let formatted = match formatted {
            Ok(text) => text,
            Err(diagnostics) => {
                // A file that does not parse cannot be formatted: show why, touch nothing.
                let text = String::from_utf8_lossy(&file.bytes).into_owned();
                let checked = spec_lang::Checked {
                    ir: None,
                    diagnostics,
                };
                report(
                    &CheckedFile {
                        path: path.clone(),
                        text,
                        checked,
                    },
                    DiagnosticFormat::Human,
                    global,
                );
                broken += 1;
                continue;
            }
        };
        if formatted.as_bytes() == file.bytes.as_slice() {
            continue;
        }
        if check_only {
            print_stdout(&format!("would reformat {}\n", path.display()));
        } else if let Err(e) = sources::write_atomic(path, formatted.as_bytes()) {
            error(format!("{}: {e}", path.display()));
            unreadable += 1;
            continue;
        }
        changed.push(path);
    }
    let verb = if check_only {
        "would reformat"
    } else {
        "reformatted"
    };
    note(
        global,
        format!(
            "{verb} {}, {} already formatted",
            plural(changed.len(), "file"),
            specs.len() - changed.len() - broken - unreadable
        ),
    );
    if unreadable > 0 {
        exit::USAGE
    } else if broken > 0 || (check_only && !changed.is_empty()) {
        exit::FAILURE
    } else {
        exit::OK
    }
}
