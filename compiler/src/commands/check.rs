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

impl CheckedFile {
    /// A file that never reached the checker (not UTF-8, or a syntax error before formatting):
    /// its diagnostics point into a lossy rendering of the bytes.
    pub fn unchecked(path: PathBuf, bytes: &[u8], diagnostics: Vec<Diagnostic>) -> Self {
        let text = String::from_utf8_lossy(bytes).into_owned();
        Self {
            path,
            text,
            checked: Checked {
                ir: None,
                diagnostics,
            },
        }
    }
}

/// Decode and check one spec read from disk. Takes the file so that its bytes become the
/// text without a copy: this runs once per spec on `check`'s hot path.
pub fn check_file(file: SpecFile) -> CheckedFile {
    let stem = file.stem();
    let world = FsWorld::for_spec(&file.path);
    match String::from_utf8(file.bytes) {
        Ok(text) => {
            let checked = spec_lang::check(&stem, &text, &world);
            CheckedFile {
                path: file.path,
                text,
                checked,
            }
        }
        Err(not_utf8) => {
            let bytes = not_utf8.into_bytes();
            let diagnostics = spec_lang::decode(&bytes)
                .err()
                .map(|d| vec![*d])
                .unwrap_or_default();
            CheckedFile::unchecked(file.path, &bytes, diagnostics)
        }
    }
}

/// Print a file's diagnostics (warnings hidden under `-q`).
pub fn report(file: &CheckedFile, format: DiagnosticFormat, global: &Global) {
    if file.checked.diagnostics.is_empty() {
        return;
    }
    let shown = file
        .checked
        .diagnostics
        .iter()
        .filter(|d| !(global.quiet && d.severity == Severity::Warning));
    let color = global.use_color(std::io::stdout().is_terminal());
    print_stdout(&render(format, &file.path, &file.text, shown, color));
}

pub fn run(paths: &[PathBuf], format: DiagnosticFormat, global: &Global) -> i32 {
    let (mut errors, mut warnings) = (0, 0);
    let walked = for_each_spec(paths, |file| {
        let checked = check_file(file);
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
