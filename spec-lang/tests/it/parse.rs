//! Parser tests: AST snapshots of real inputs, and a diagnostic for each syntax code.
use std::path::Path;

fn read(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/syntax").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn language_reference_example_parses() {
    let source = read("github_issues.claw");
    let (file, diagnostics) = spec_lang::parse(&source);
    assert_eq!(diagnostics, vec![]);
    let file = file.expect("tree");
    insta::assert_debug_snapshot!(file);
}
