//! `clawc check [PATH...]`: parse and validate; every problem of every file at once.

use std::io::IsTerminal;
use std::path::PathBuf;

use spec_lang::{Checked, Diagnostic, Severity};

use super::{for_each_spec, note, plural, print_stdout};
use crate::cli::{DiagnosticFormat, Global};
use crate::exit;
use crate::render::render;
use crate::sources::{FsWorld, SpecFile};

/// One spec, read and checked. `text` is what diagnostics point into (lossy for non-UTF-8 input,
/// whose only diagnostic is the decoding error).
#[derive(Debug)]
pub struct CheckedFile {
    pub path: PathBuf,
    pub text: String,
    pub checked: Checked,
}

/// Decode and check one spec read from disk.
pub fn check_file(file: &SpecFile) -> CheckedFile {
    let checked = match spec_lang::decode(&file.bytes) {
        Ok(text) => {
            let checked = spec_lang::check(&file.stem(), text, &FsWorld::for_spec(&file.path));
            return CheckedFile {
                path: file.path.clone(),
                text: text.to_owned(),
                checked,
            };
        }
        Err(diagnostic) => Checked {
            ir: None,
            diagnostics: vec![*diagnostic],
        },
    };
    CheckedFile {
        path: file.path.clone(),
        text: String::from_utf8_lossy(&file.bytes).into_owned(),
        checked,
    }
}

/// Print a file's diagnostics (warnings hidden under `-q`).
pub fn report(file: &CheckedFile, format: DiagnosticFormat, global: &Global) {
    let shown: Vec<Diagnostic> = file
        .checked
        .diagnostics
        .iter()
        .filter(|d| !(global.quiet && d.severity == Severity::Warning))
        .cloned()
        .collect();
    let color = global.use_color(std::io::stdout().is_terminal());
    print_stdout(&render(format, &file.path, &file.text, &shown, color));
}

pub fn run(paths: &[PathBuf], format: DiagnosticFormat, global: &Global) -> i32 {
    let (mut errors, mut warnings) = (0, 0);
    let walked = for_each_spec(paths, |file| {
        let checked = check_file(&file);
        report(&checked, format, global);
        for d in &checked.checked.diagnostics {
            match d.severity {
                Severity::Error => errors += 1,
                Severity::Warning => warnings += 1,
            }
        }
    });
    let walked = match walked {
        Ok(walked) => walked,
        Err(code) => return code,
    };
    note(
        global,
        format!(
            "checked {}: {}, {}",
            plural(walked.found - walked.unreadable, "spec"),
            plural(errors, "error"),
            plural(warnings, "warning")
        ),
    );
    if walked.unreadable > 0 {
        exit::USAGE
    } else if errors > 0 {
        exit::FAILURE
    } else {
        exit::OK
    }
}
