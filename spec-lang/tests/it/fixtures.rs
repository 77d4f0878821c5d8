//! Data-driven checker tests. Every `tests/fixtures/ok/*.claw` must check without errors and
//! snapshots its IR and spec hash; every `tests/fixtures/err/*.claw` snapshots its rendered
//! diagnostics. Every checker code must be produced by at least one `err` fixture.
//! `file("...")` paths resolve against the fixture's own folder through a directory world.

use spec_lang::{line_col, Diagnostic, Severity, World};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A [`World`] over one real directory, as the CLI has.
pub struct DirWorld(pub PathBuf);

impl World for DirWorld {
    fn read_fixture(&self, path: &str) -> Result<Vec<u8>, String> {
        std::fs::read(self.0.join(path)).map_err(|error| error.to_string())
    }
}

fn fixtures_dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(kind)
}

/// Checks one fixture file as the CLI would.
fn check_file(path: &Path) -> (String, spec_lang::Checked) {
    let bytes = std::fs::read(path).expect("fixture is readable");
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("fixture has a stem");
    let dir = path.parent().expect("fixture has a folder").to_path_buf();
    match spec_lang::decode(&bytes) {
        Ok(source) => {
            let checked = spec_lang::check(stem, source, &DirWorld(dir));
            (source.to_owned(), checked)
        }
        Err(diagnostic) => {
            let checked = spec_lang::Checked {
                ir: None,
                diagnostics: vec![*diagnostic],
            };
            (String::from_utf8_lossy(&bytes).into_owned(), checked)
        }
    }
}

/// `file:line:col: error[CODE]: message`, then the label, secondary labels and help, indented.
pub fn render(file: &str, source: &str, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics {
        let (line, col) = line_col(source, diagnostic.span.start);
        let severity = match diagnostic.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let snippet = source
            .get(diagnostic.span.start..diagnostic.span.end)
            .unwrap_or("");
        let snippet = visible(snippet.lines().next().unwrap_or(""));
        out.push_str(&format!(
            "{file}:{line}:{col}: {severity}[{}]: {}\n",
            diagnostic.code, diagnostic.message
        ));
        out.push_str(&format!("  | {snippet}\n"));
        if let Some(label) = &diagnostic.label {
            out.push_str(&format!("  = label: {label}\n"));
        }
        for secondary in &diagnostic.labels {
            let (line, col) = line_col(source, secondary.span.start);
            out.push_str(&format!(
                "  = note: {file}:{line}:{col}: {}\n",
                secondary.message
            ));
        }
        if let Some(help) = &diagnostic.help {
            out.push_str(&format!("  = help: {help}\n"));
        }
    }
    out
}

/// `text` with control and bidirectional control characters written as `\u{...}`, so that a
/// snapshot shows them and carries none itself.
fn visible(text: &str) -> String {
    text.chars()
        .map(|ch| {
            if spec_lang::bidi_control_name(ch).is_some() || (ch.is_control() && ch != '\t') {
                ch.escape_unicode().to_string()
            } else {
                ch.to_string()
            }
        })
        .collect()
}

#[test]
fn ok_fixtures_check_cleanly_and_snapshot_their_ir() {
    insta::glob!("../fixtures/ok", "*.claw", |path| {
        let (source, checked) = check_file(path);
        let name = path
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let rendered = render(name, &source, &checked.diagnostics);
        assert!(!checked.has_errors(), "{name} has errors:\n{rendered}");
        let ir = checked.ir.expect("no errors, so an IR");
        let hash = spec_lang::hash::spec_hash(&ir).expect("hashable");
        let json = serde_json::to_string_pretty(&ir).expect("serialisable");
        // The IR must read back to itself: it is what the compiler stores and reloads.
        let back: spec_lang::ir::Integration = serde_json::from_str(&json).expect("IR reads back");
        assert_eq!(back, ir);
        insta::assert_snapshot!(format!("hash: {hash}\nwarnings:\n{rendered}\n{json}"));
    });
}

#[test]
fn err_fixtures_snapshot_their_diagnostics() {
    insta::glob!("../fixtures/err", "*.claw", |path| {
        let (source, checked) = check_file(path);
        let name = path
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        assert!(
            !checked.diagnostics.is_empty(),
            "{name} produced no diagnostics"
        );
        assert!(
            checked.ir.is_none() || !checked.has_errors(),
            "{name}: an IR despite errors"
        );
        insta::assert_snapshot!(render(name, &source, &checked.diagnostics));
    });
}

#[test]
fn every_checker_code_has_an_err_fixture() {
    let mut produced = BTreeSet::new();
    for entry in std::fs::read_dir(fixtures_dir("err")).expect("err fixtures") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|ext| ext == "claw") {
            let (_, checked) = check_file(&path);
            produced.extend(checked.diagnostics.iter().map(|d| d.code));
        }
    }
    let missing: Vec<&str> = spec_lang::codes::all()
        .map(|info| info.code)
        .filter(|code| is_checker_code(code) && !produced.contains(code))
        .collect();
    assert!(missing.is_empty(), "no err fixture produces: {missing:?}");
}

/// Checker codes are `E0010` and up, and every warning.
fn is_checker_code(code: &str) -> bool {
    code.starts_with('W') || code[1..].parse::<u32>().is_ok_and(|number| number >= 10)
}

#[test]
fn every_checker_code_is_explained_with_an_example_and_a_fix() {
    let checker_codes: Vec<_> = spec_lang::codes::all()
        .filter(|info| is_checker_code(info.code))
        .collect();
    assert!(
        checker_codes.len() >= 30,
        "only {} checker codes",
        checker_codes.len()
    );
    let mut seen = BTreeSet::new();
    for info in checker_codes {
        assert!(seen.insert(info.code), "{} registered twice", info.code);
        assert!(!info.title.is_empty(), "{} has no title", info.code);
        assert!(
            info.explanation.contains("```claw"),
            "{} has no example",
            info.code
        );
        assert!(
            info.explanation.contains("**Fix:**"),
            "{} has no fix",
            info.code
        );
    }
}
