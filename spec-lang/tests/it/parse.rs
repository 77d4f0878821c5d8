//! Parser tests: AST snapshots of real inputs, and a diagnostic for each syntax code.
use std::path::Path;

fn read(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/syntax")
        .join(name);
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

/// The codes, spans and messages of the syntax diagnostics for `source`.
fn diagnostics(source: &str) -> Vec<spec_lang::Diagnostic> {
    let (file, diagnostics) = spec_lang::parse(source);
    assert!(
        !diagnostics.is_empty(),
        "expected diagnostics for {source:?}"
    );
    for diagnostic in &diagnostics {
        assert!(
            diagnostic.span.end <= source.len(),
            "span inside the source: {diagnostic:?}"
        );
        assert!(
            diagnostic.label.is_some() && diagnostic.help.is_some(),
            "label and help: {diagnostic:?}"
        );
        let info = spec_lang::codes::explain(diagnostic.code).expect("every code is explained");
        assert!(
            info.explanation.contains("Fix"),
            "{} explains the fix",
            info.code
        );
    }
    if diagnostics.iter().any(|d| {
        matches!(
            d.code,
            "E0001" | "E0002" | "E0003" | "E0004" | "E0007" | "E0008"
        )
    }) {
        assert!(file.is_none(), "no tree when the syntax is broken");
    }
    diagnostics
}

fn only_code(source: &str) -> (&'static str, spec_lang::Span) {
    let found = diagnostics(source);
    (found[0].code, found[0].span)
}

#[test]
fn syntax_errors_name_what_was_expected() {
    let cases = [
        "integration x { sumary \"s\" }",
        "integration x { version }",
        "integration x { limits { memory 128 MiB } }",
        "integration x { tool t { input { a int } } }",
        "integration x { type T = [string }",
        "integration x {} integration y {}",
        "integration x { example \"e\" { http GET \"u\" 200 } }",
        "integration x { secret s { plaintxt \"h\" } }",
        "integration x { secret s { plaintext } }",
        "integration x {",
        "",
        "   // only a comment\n",
    ];
    let rendered: Vec<String> = cases
        .iter()
        .map(|source| {
            let d = &diagnostics(source)[0];
            format!(
                "{source:?}\n  {} at {}..{}: {}\n  help: {}",
                d.code,
                d.span.start,
                d.span.end,
                d.message,
                d.help.as_deref().unwrap_or("")
            )
        })
        .collect();
    insta::assert_snapshot!(rendered.join("\n"));
}

#[test]
fn misspelt_keyword_gets_a_suggestion() {
    let d = &diagnostics("integration x {\n  sumary \"s\"\n}")[0];
    assert_eq!(d.code, "E0001");
    assert_eq!(d.span, spec_lang::Span::new(18, 24));
    assert_eq!(d.help.as_deref(), Some("did you mean `summary`?"));
}

#[test]
fn ten_thousand_nested_brackets_are_refused_before_parsing() {
    for (open, close) in [("[", "]"), ("{", "}"), ("(", ")")] {
        let source = format!(
            "integration x {{ example \"e\" {{ expect {}{} }} }}",
            open.repeat(10_000),
            close.repeat(10_000)
        );
        let (code, span) = only_code(&source);
        assert_eq!(code, "E0002");
        assert_eq!(span.len(), 1);
    }
    // 60 levels are fine.
    let ok = format!(
        "integration x {{ example \"e\" {{ expect {{ a: {}1{} }} }} }}",
        "[".repeat(60),
        "]".repeat(60)
    );
    assert_eq!(spec_lang::parse(&ok).1, vec![]);
}

#[test]
fn brackets_inside_strings_and_comments_do_not_count_as_nesting() {
    let source = format!(
        "// {}\nintegration x {{ summary \"{}\" }}",
        "[".repeat(100),
        "{".repeat(100)
    );
    let (file, diagnostics) = spec_lang::parse(&source);
    assert_eq!(diagnostics, vec![]);
    assert!(file.is_some());
}

#[test]
fn oversized_input_is_refused_quickly() {
    let source = format!("integration x {{ summary \"{}\" }}", "a".repeat(5_000_000));
    let started = std::time::Instant::now();
    let (code, span) = only_code(&source);
    assert_eq!(code, "E0003");
    assert_eq!(span, spec_lang::Span::new(0, 0));
    assert!(
        started.elapsed() < std::time::Duration::from_millis(100),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn unterminated_strings_point_at_their_opening_quote() {
    assert_eq!(
        only_code("integration x {\n  summary \"abc\n}\n"),
        ("E0004", spec_lang::Span::new(26, 30))
    );
    assert_eq!(
        only_code("integration x { intent \"\"\"\n text\n}"),
        ("E0004", spec_lang::Span::new(23, 34))
    );
    assert_eq!(
        only_code("integration x { summary \"ab\\"),
        ("E0004", spec_lang::Span::new(24, 28))
    );
}

#[test]
fn invalid_escapes_are_reported_at_the_escape() {
    let source = r#"integration x { summary "a\qb \ud800 \u12" }"#;
    let found = diagnostics(source);
    let spans: Vec<(&str, &str)> = found
        .iter()
        .map(|d| (d.code, &source[d.span.start..d.span.end]))
        .collect();
    assert_eq!(
        spans,
        vec![("E0005", r"\q"), ("E0005", r"\ud800"), ("E0005", r"\u12")]
    );
}

#[test]
fn json_escapes_are_decoded() {
    let (file, diagnostics) =
        spec_lang::parse(r#"integration x { summary "q\" b\\ s\/ \n\t \u00e9 \ud83d\ude00" }"#);
    assert_eq!(diagnostics, vec![]);
    let Some(spec_lang::ast::Item::Summary(summary)) =
        file.expect("tree").integration.items.into_iter().next()
    else {
        panic!("summary expected");
    };
    assert_eq!(summary.node, "q\" b\\ s/ \n\t é 😀");
}

#[test]
fn triple_quoted_strings_are_dedented() {
    let source =
        "integration x {\n  intent \"\"\"\n    first\n      indented\n\n    last\n    \"\"\"\n}";
    let (file, diagnostics) = spec_lang::parse(source);
    assert_eq!(diagnostics, vec![]);
    let Some(spec_lang::ast::Item::Intent(intent)) =
        file.expect("tree").integration.items.into_iter().next()
    else {
        panic!("intent expected");
    };
    assert_eq!(intent.node, "first\n  indented\n\nlast");
}

#[test]
fn nul_bytes_and_control_characters_are_reported_where_they_are() {
    assert_eq!(
        only_code("integration x {\0}"),
        ("E0007", spec_lang::Span::new(15, 16))
    );
    assert_eq!(
        only_code("integration x { summary \"a\u{1}\" }"),
        ("E0007", spec_lang::Span::new(26, 27))
    );
    // A backslash does not hide the character after it.
    assert_eq!(
        only_code("integration x { summary \"a\\\u{1}\" }"),
        ("E0007", spec_lang::Span::new(27, 28))
    );
    // A file of NUL bytes yields a bounded number of diagnostics.
    assert!(diagnostics(&"\0".repeat(10_000)).len() <= 8);
}

#[test]
fn bidirectional_controls_are_refused_everywhere_with_their_name() {
    let places = [
        ("code", "integration x {\u{202E} }", 15),
        ("string", "integration x { summary \"a\u{2066}b\" }", 26),
        (
            "after a backslash",
            "integration x { summary \"a\\\u{202D}\" }",
            27,
        ),
        (
            "triple string",
            "integration x { intent \"\"\"\n  a\u{200F}\n  \"\"\" }",
            30,
        ),
        ("comment", "integration x { // ok\u{061C}\n}", 21),
        (
            "doc comment",
            "integration x { config {\n/// d\u{2069}\na: int } }",
            30,
        ),
    ];
    for (place, source, at) in places {
        let found = diagnostics(source);
        assert_eq!(found.len(), 1, "{place}: {found:?}");
        assert_eq!(found[0].code, "E0008", "{place}");
        let ch = source[at..]
            .chars()
            .next()
            .expect("a character at the offset");
        assert_eq!(
            found[0].span,
            spec_lang::Span::new(at, at + ch.len_utf8()),
            "{place}"
        );
        assert!(
            found[0]
                .message
                .contains(&format!("U+{:04X} ", u32::from(ch))),
            "{place}: {}",
            found[0].message
        );
    }
    let (_, diagnostics) = spec_lang::parse("integration x {\u{202E}}");
    assert!(
        diagnostics[0]
            .message
            .contains("U+202E RIGHT-TO-LEFT OVERRIDE"),
        "{}",
        diagnostics[0].message
    );
    // Every one of them, and nothing that merely shares their first UTF-8 byte.
    for ch in ['\u{061C}', '\u{200E}', '\u{200F}']
        .into_iter()
        .chain('\u{202A}'..='\u{202E}')
        .chain('\u{2066}'..='\u{2069}')
    {
        assert_eq!(
            only_code(&format!("integration x {{ // {ch}\n}}")).0,
            "E0008",
            "U+{:04X}",
            u32::from(ch)
        );
    }
    let (file, diagnostics) = spec_lang::parse(
        "integration x { // \u{2014} \u{2026} \u{2192} \u{2067}\u{200B} \u{0600}\n summary \"\u{2019}\" }",
    );
    let codes: Vec<&str> = diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["E0008"], "only U+2067 is refused");
    assert!(file.is_none());
    let (file, diagnostics) =
        spec_lang::parse("integration x { // \u{2014} \u{2026} \u{0600}\n summary \"\u{2019}\" }");
    assert_eq!(diagnostics, vec![]);
    assert!(file.is_some());
}

#[test]
fn a_leading_byte_order_mark_is_skipped() {
    let (file, diagnostics) = spec_lang::parse("\u{feff}integration x { version \"1\" }");
    assert_eq!(diagnostics, vec![]);
    assert_eq!(
        file.expect("tree").integration.name.span,
        spec_lang::Span::new(15, 16)
    );
    // Anywhere else it is not whitespace.
    assert_eq!(only_code("integration \u{feff}x {}").0, "E0001");
}

#[test]
fn second_example_clause_is_reported_and_the_first_kept() {
    let source = "integration x { example \"e\" { call a {} call b {} expect 1 expect 2 } }";
    let (file, diagnostics) = spec_lang::parse(source);
    let codes: Vec<&str> = diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["E0006", "E0006"]);
    assert_eq!(
        &source[diagnostics[0].span.start..diagnostics[0].span.end],
        "call b {}"
    );
    let Some(spec_lang::ast::Item::Example(example)) =
        file.expect("tree").integration.items.into_iter().next()
    else {
        panic!("example expected");
    };
    assert_eq!(example.call.expect("call").tool.node, "a");
}

#[test]
fn doc_comments_attach_only_directly_above_a_field() {
    let source = "integration x { config {\n  /// One.\n  /// Two.\n  a: int\n  /// Detached.\n\n  b: int\n  c: int  /// trailing, not a doc\n  d: int\n  // plain\n  e: int\n} }";
    let (file, diagnostics) = spec_lang::parse(source);
    assert_eq!(diagnostics, vec![]);
    let Some(spec_lang::ast::Item::Config(config)) =
        file.expect("tree").integration.items.into_iter().next()
    else {
        panic!("config expected");
    };
    let docs: Vec<Option<&str>> = config.fields.iter().map(|f| f.doc.as_deref()).collect();
    assert_eq!(docs, [Some("One.\nTwo."), None, None, None, None]);
}

#[test]
fn every_syntax_code_is_explained_with_an_example_and_a_fix() {
    for code in [
        "E0001", "E0002", "E0003", "E0004", "E0005", "E0006", "E0007", "E0008", "E0009",
    ] {
        let info = spec_lang::codes::explain(code).unwrap_or_else(|| panic!("{code} explained"));
        assert!(!info.title.is_empty());
        assert!(
            info.explanation.contains("Example") && info.explanation.contains("Fix"),
            "{code}"
        );
    }
}
