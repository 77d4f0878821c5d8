//! Formatter tests: golden outputs for real inputs, comment preservation, idempotence.
use std::path::Path;

fn read(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/syntax").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn format(source: &str) -> String {
    spec_lang::format(source).unwrap_or_else(|diagnostics| panic!("does not format: {diagnostics:#?}"))
}

#[test]
fn language_reference_example_formats_canonically() {
    let formatted = format(&read("github_issues.claw"));
    insta::assert_snapshot!(formatted);
    assert_eq!(format(&formatted), formatted, "formatting is idempotent");
}
