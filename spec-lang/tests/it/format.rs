//! Formatter tests: golden outputs for real inputs, comment preservation, idempotence.
use std::path::Path;

fn read(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/syntax")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn format(source: &str) -> String {
    spec_lang::format(source)
        .unwrap_or_else(|diagnostics| panic!("does not format: {diagnostics:#?}"))
}

#[test]
fn language_reference_example_formats_canonically() {
    let formatted = format(&read("github_issues.claw"));
    insta::assert_snapshot!(formatted);
    assert_eq!(format(&formatted), formatted, "formatting is idempotent");
}

#[test]
fn messy_input_gets_the_canonical_layout_with_every_comment() {
    let source = read("messy.claw");
    let formatted = format(&source);
    insta::assert_snapshot!(formatted);
    assert_eq!(format(&formatted), formatted, "formatting is idempotent");
    let comments = |text: &str| -> Vec<String> {
        spec_lang::parse(text)
            .0
            .expect("parses")
            .comments
            .into_iter()
            .map(|c| c.text)
            .collect()
    };
    assert_eq!(
        comments(&formatted),
        comments(&source),
        "every comment kept, in order"
    );
}

#[test]
fn formatting_refuses_a_spec_with_syntax_errors() {
    let diagnostics = spec_lang::format("integration x { summary }").expect_err("syntax error");
    assert_eq!(diagnostics[0].code, "E0001");
    let diagnostics =
        spec_lang::format("integration x { summary \"\\q\" }").expect_err("bad escape");
    assert_eq!(diagnostics[0].code, "E0005");
}

#[test]
fn strings_are_re_escaped_canonically() {
    let formatted = format("integration x { summary \"\\u0041\\/\\u00e9\\\"\\\\\\u0001\" }");
    assert_eq!(
        formatted,
        "integration x {\n  summary \"A/é\\\"\\\\\\u0001\"\n}\n"
    );
}

#[test]
fn bidirectional_controls_from_escapes_stay_escapes() {
    // The parser refuses them written raw (E0008), so the formatter must never write one raw,
    // not even in a `"""` block.
    for keyword in ["summary", "intent"] {
        let source = format!("integration x {{ {keyword} \"a\\u202Eb\\nc\\u2066\" }}");
        let formatted = format(&source);
        assert_eq!(
            formatted,
            format!("integration x {{\n  {keyword} \"a\\u202eb\\nc\\u2066\"\n}}\n")
        );
        assert_eq!(format(&formatted), formatted);
    }
}

#[test]
fn intent_text_that_a_block_cannot_hold_falls_back_to_a_quoted_string() {
    // Leading indentation on every line would be dedented away, and `"""` cannot appear inside.
    for intent in ["  indented", "has \"\"\" inside"] {
        let source = format!(
            "integration x {{ intent {} }}",
            serde_json::to_string(intent).expect("json")
        );
        let formatted = format(&source);
        assert!(
            formatted.contains(&format!(
                "intent {}",
                serde_json::to_string(intent).expect("json")
            )),
            "{formatted}"
        );
        assert_eq!(format(&formatted), formatted);
    }
}

#[test]
fn intent_starting_with_a_blank_line_survives_as_a_block() {
    let formatted = format("integration x { intent \"\\nstarts blank\" }");
    assert_eq!(
        formatted,
        "integration x {\n  intent \"\"\"\n\n    starts blank\n    \"\"\"\n}\n"
    );
    assert_eq!(format(&formatted), formatted);
}

#[test]
fn empty_blocks_and_numbers_are_printed_as_written() {
    let formatted = format("integration x { tool t { input {} } limits { cpu 0.50 } example \"e\" { expect [1.0, -0, 1E5] } }");
    insta::assert_snapshot!(formatted, @r#"
    integration x {
      tool t {
        input {}
      }

      limits {
        cpu 0.50
      }

      example "e" {
        expect [1.0, -0, 1E5]
      }
    }
    "#);
}

#[test]
fn files_clauses_format_canonically_and_keep_meaning() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ok/seeded_files.claw");
    let source = std::fs::read_to_string(&path).expect("fixture");
    let formatted = format(&source);
    insta::assert_snapshot!(formatted);
    assert_eq!(format(&formatted), formatted, "formatting is idempotent");
    let world = crate::fixtures::DirWorld(path.parent().expect("folder").to_path_buf());
    let hash = |text: &str| {
        let checked = spec_lang::check("seeded_files", text, &world);
        let ir = checked
            .ir
            .unwrap_or_else(|| panic!("{:#?}", checked.diagnostics));
        spec_lang::hash::spec_hash(&ir).expect("hashable")
    };
    assert_eq!(hash(&formatted), hash(&source), "formatting keeps the hash");
    let comments = |text: &str| spec_lang::parse(text).0.expect("parses").comments.len();
    assert_eq!(
        comments(&formatted),
        comments(&source),
        "every comment kept"
    );
}
