//! The checker's outputs beyond the fixtures: the committed IR schema, tool schemas, the spec
//! hash's invariance and sensitivity, and the shape of the diagnostics list.

use spec_lang::{hash, schema, World};
use std::collections::BTreeMap;
use std::path::Path;

const SPEC: &str = include_str!("../fixtures/ok/github_issues.claw");
const ISSUES_JSON: &str = include_str!("../fixtures/ok/fixtures/github_issues/issues.json");

/// Fixture files in memory, as tests of a pure library want them.
struct MemoryWorld(BTreeMap<&'static str, String>);

impl MemoryWorld {
    fn github(issues_json: &str) -> Self {
        let mut files = BTreeMap::new();
        files.insert("fixtures/github_issues/issues.json", issues_json.to_owned());
        Self(files)
    }
}

impl World for MemoryWorld {
    fn read_fixture(&self, path: &str) -> Result<Vec<u8>, String> {
        self.0
            .get(path)
            .map(|text| text.as_bytes().to_vec())
            .ok_or_else(|| format!("no file {path}"))
    }
}

fn checked_hash(source: &str, world: &dyn World) -> String {
    let checked = spec_lang::check("github_issues", source, world);
    let ir = checked
        .ir
        .unwrap_or_else(|| panic!("errors: {:#?}", checked.diagnostics));
    hash::spec_hash(&ir).expect("hashable")
}

fn spec_hash(source: &str) -> String {
    checked_hash(source, &MemoryWorld::github(ISSUES_JSON))
}

#[test]
fn ir_schema_file_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("ir.schema.json");
    let expected = format!(
        "{}\n",
        serde_json::to_string_pretty(&schema::ir_schema()).expect("schema serialises")
    );
    if std::env::var_os("UPDATE_SCHEMAS").is_some() {
        std::fs::write(&path, &expected).expect("write ir.schema.json");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == expected,
        "spec-lang/ir.schema.json is stale: regenerate it with `UPDATE_SCHEMAS=1 cargo test -p spec-lang --test it ir_schema` and commit it"
    );
}

#[test]
fn the_ir_schema_accepts_a_real_ir() {
    let checked = spec_lang::check("github_issues", SPEC, &MemoryWorld::github(ISSUES_JSON));
    let ir = serde_json::to_value(checked.ir.expect("clean spec")).expect("serialises");
    let validator = jsonschema::validator_for(&schema::ir_schema()).expect("IR schema compiles");
    let errors: Vec<String> = validator.iter_errors(&ir).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn tool_schemas_are_self_contained_2020_12_documents() {
    let checked = spec_lang::check("github_issues", SPEC, &MemoryWorld::github(ISSUES_JSON));
    let ir = checked.ir.expect("clean spec");
    let tool = schema::tool_schemas(&ir, "list_issues").expect("tool exists");
    assert_eq!(tool.input["$schema"], schema::DIALECT);
    assert_eq!(tool.input["additionalProperties"], false);
    assert_eq!(tool.input["properties"]["limit"]["maximum"], 100);
    assert_eq!(tool.input["properties"]["limit"]["default"], 20);
    assert_eq!(tool.input["properties"]["state"]["$ref"], "#/$defs/State");
    assert!(
        tool.input.get("required").is_none(),
        "defaulted fields are not required"
    );
    assert_eq!(
        tool.output["properties"]["issues"]["items"]["$ref"],
        "#/$defs/Issue"
    );
    assert!(tool.output["$defs"]["Issue"].is_object());
    assert!(
        tool.output["$defs"].get("State").is_none(),
        "only reachable types are carried"
    );
    assert!(schema::tool_schemas(&ir, "no_such_tool").is_none());

    // The standalone documents validate on their own, with any JSON Schema validator.
    let output = jsonschema::validator_for(tool.output).expect("output schema compiles");
    let good =
        serde_json::json!({"issues": [{"number": 1, "title": "t", "state": "open", "labels": []}]});
    let bad =
        serde_json::json!({"issues": [{"number": 0, "title": "t", "state": "new", "labels": []}]});
    assert!(output.is_valid(&good));
    assert_eq!(output.iter_errors(&bad).count(), 2);

    let all = schema::integration_schemas(&ir);
    assert_eq!(
        all["tools"]["add_comment"]["input"],
        ir.tools["add_comment"].input
    );
    assert_eq!(all["config"]["properties"]["repo"]["type"], "string");
}

#[test]
fn hash_ignores_formatting_comments_and_item_order() {
    let original = spec_hash(SPEC);
    assert!(
        original.starts_with("sha256:") && original.len() == 7 + 64,
        "{original}"
    );

    let formatted = spec_lang::format(SPEC).expect("formats");
    assert_eq!(
        spec_hash(&formatted),
        original,
        "formatting changed the hash"
    );

    let without_comments: String = SPEC
        .lines()
        .map(|line| match line.find("//") {
            // Keep `///` docs: they are field descriptions, part of the schema.
            Some(at) if !line[..at].contains('"') && !line[at..].starts_with("///") => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        spec_hash(&without_comments),
        original,
        "comments changed the hash"
    );

    let respaced = SPEC
        .replace("  ", "    ")
        .replace(" -> ", "\n        ->    ");
    assert_eq!(
        spec_hash(&respaced),
        original,
        "whitespace changed the hash"
    );

    // Move the last example to the top, and swap the two allowlist entries.
    let cut = SPEC
        .find("  example \"comment on a missing")
        .expect("second example");
    let end = SPEC.rfind('}').expect("closing brace");
    let moved_example = &SPEC[cut..end];
    let reordered = format!(
        "{}{}{}",
        SPEC[..cut].replacen("  version", &format!("{moved_example}  version"), 1),
        "",
        &SPEC[end..]
    )
    .replace(
        "allow \"api.github.com:443\"\n    allow \"*.example.com:443\"",
        "allow \"*.example.com:443\"\n    allow \"api.github.com:443\"",
    );
    assert_ne!(reordered, SPEC);
    assert_eq!(
        spec_hash(&reordered),
        original,
        "item order changed the hash"
    );
}

#[test]
fn hash_changes_with_every_semantic_change() {
    let original = spec_hash(SPEC);
    let edits = [
        ("\"0.1.0\"", "\"0.1.1\""),
        ("\"*.example.com:443\"", "\"*.example.com:8443\""),
        ("memory 128MiB", "memory 256MiB"),
        ("cpu 0.5", "cpu 0.25"),
        ("approval required", "approval none"),
        ("rate 10 per minute", "rate 10 per hour"),
        ("range(1, 100) = 20", "range(1, 100) = 30"),
        ("title: string", "title: string max_len(200)"),
        ("assignee?: string", "login?: string"),
        (
            "/srv/notes\" at \"/notes\" ro",
            "/srv/notes\" at \"/notes\" rw",
        ),
        ("\"Bearer {value}\"", "\"token {value}\""),
        ("\"List issues, newest first.\"", "\"List issues.\""),
        ("Use the GitHub REST API v3.", "Use the GitHub REST API v4."),
        ("expect error \"not found\"", "expect error \"missing\""),
        ("-> 404", "-> 410"),
    ];
    let mut seen = BTreeMap::new();
    seen.insert(original.clone(), "original");
    for (from, to) in edits {
        assert!(SPEC.contains(from), "edit `{from}` does not apply");
        let changed = spec_hash(&SPEC.replacen(from, to, 1));
        if let Some(previous) = seen.insert(changed, from) {
            panic!("`{from}` -> `{to}` hashes like {previous}");
        }
    }
    // Fixture file contents are part of the spec too.
    let other_fixture = ISSUES_JSON.replace("Add dark mode", "Add light mode");
    assert_ne!(
        checked_hash(SPEC, &MemoryWorld::github(&other_fixture)),
        original
    );
}

#[test]
fn all_errors_come_at_once_sorted_and_without_an_ir() {
    let broken = SPEC
        .replace("target  python", "target  ruby")
        .replace("labels: [string]", "labels: [Label]")
        .replace("limit: 2 }", "limit: 500 }")
        .replace("pids 32", "pids 0");
    let checked = spec_lang::check("github_issues", &broken, &MemoryWorld::github(ISSUES_JSON));
    let codes: Vec<&str> = checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.code)
        .collect();
    assert_eq!(
        codes,
        ["E0014", "E0029", "E0016", "E0039"],
        "{:#?}",
        checked.diagnostics
    );
    let starts: Vec<usize> = checked.diagnostics.iter().map(|d| d.span.start).collect();
    assert!(
        starts.windows(2).all(|pair| pair[0] <= pair[1]),
        "not sorted: {starts:?}"
    );
    assert!(checked.ir.is_none());
    assert!(checked.has_errors());
}

#[test]
fn a_wrong_file_stem_is_an_error_and_a_syntax_error_stops_before_checking() {
    let checked = spec_lang::check("issues", SPEC, &MemoryWorld::github(ISSUES_JSON));
    assert_eq!(
        checked
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.code)
            .collect::<Vec<_>>(),
        ["E0010"]
    );

    let checked = spec_lang::check(
        "github_issues",
        "integration github_issues {",
        &spec_lang::NoFiles,
    );
    assert!(checked.has_errors());
    assert!(
        checked.diagnostics.iter().all(|d| d.code < "E0010"),
        "{:#?}",
        checked.diagnostics
    );
}

#[test]
fn fixture_files_are_read_once_and_resolved_into_the_ir() {
    struct Counting(std::cell::Cell<usize>);
    impl World for Counting {
        fn read_fixture(&self, _path: &str) -> Result<Vec<u8>, String> {
            self.0.set(self.0.get() + 1);
            Ok(b"{\"number\": 1}".to_vec())
        }
    }
    let spec = SPEC.replace(
        "-> 404 json { message: \"Not Found\" }",
        "-> 404 json file(\"fixtures/github_issues/issues.json\")",
    );
    let world = Counting(std::cell::Cell::new(0));
    let checked = spec_lang::check("github_issues", &spec, &world);
    assert_eq!(world.0.get(), 1, "the same file is read once");
    let ir = checked.ir.expect("clean");
    let failing = ir
        .examples
        .iter()
        .find(|e| e.name.contains("missing"))
        .expect("example");
    assert_eq!(
        failing.http[0].response,
        Some(spec_lang::ir::Body::Json {
            value: serde_json::json!({"number": 1})
        })
    );
}

#[test]
fn every_spec_in_the_repository_checks_without_errors() {
    let specs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs");
    let mut checked_any = false;
    for entry in std::fs::read_dir(&specs).expect("specs/ exists") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|ext| ext != "claw") {
            continue;
        }
        let source = std::fs::read_to_string(&path).expect("UTF-8 spec");
        let stem = path.file_stem().and_then(|s| s.to_str()).expect("stem");
        let checked = spec_lang::check(stem, &source, &crate::fixtures::DirWorld(specs.clone()));
        let name = path.display().to_string();
        assert!(
            !checked.has_errors(),
            "{}",
            crate::fixtures::render(&name, &source, &checked.diagnostics)
        );
        checked_any = true;
    }
    assert!(checked_any, "no specs found in {}", specs.display());
}

const SEEDED: &str = include_str!("../fixtures/ok/seeded_files.claw");

#[test]
fn files_clauses_reach_the_ir_and_their_contents_the_hash() {
    let todo = "# Todo\n- write the seed clause\n";
    let world = |todo: &str| {
        let mut files = BTreeMap::new();
        files.insert("fixtures/seeded_files/todo.md", todo.to_owned());
        MemoryWorld(files)
    };
    let checked = spec_lang::check("seeded_files", SEEDED, &world(todo));
    let ir = checked
        .ir
        .unwrap_or_else(|| panic!("errors: {:#?}", checked.diagnostics));
    let clears = ir
        .examples
        .iter()
        .find(|e| e.name == "clears the inbox")
        .expect("example");
    assert_eq!(clears.files_before["/inbox"]["work/todo.md"], todo);
    assert_eq!(clears.files_before["/archive"].len(), 1);
    assert!(
        clears.files_after["/inbox"].is_empty(),
        "`after {{}}` is kept: the mount must end empty"
    );
    let hash = |todo: &str| {
        let checked = spec_lang::check("seeded_files", SEEDED, &world(todo));
        hash::spec_hash(&checked.ir.expect("clean")).expect("hashable")
    };
    assert_ne!(
        hash(todo),
        hash("# Todo\n"),
        "the seeded file's contents are hashed"
    );
    // An example without `files` serialises without the two fields, so older hashes hold.
    let json = serde_json::to_value(&ir.examples).expect("serialises");
    let plain = json
        .as_array()
        .and_then(|examples| {
            examples
                .iter()
                .find(|e| e["name"] == "an empty inbox stays empty")
        })
        .expect("example");
    assert!(plain.get("files_before").is_none());
    assert!(plain.get("files_after").is_some());
}

#[test]
fn a_files_clause_holds_at_most_8_mib_in_all() {
    // 8 MiB in one file plus the clause's other two files is over the bound.
    let mut files = BTreeMap::new();
    files.insert("fixtures/seeded_files/todo.md", "x".repeat(8 << 20));
    let checked = spec_lang::check("seeded_files", SEEDED, &MemoryWorld(files));
    let codes: Vec<&str> = checked.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(
        codes.iter().filter(|c| **c == "E0047").count(),
        1,
        "{codes:?}"
    );
    assert!(checked.ir.is_none());

    let mut files = BTreeMap::new();
    files.insert("fixtures/seeded_files/todo.md", "x".repeat((8 << 20) - 100));
    let checked = spec_lang::check("seeded_files", SEEDED, &MemoryWorld(files));
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
}
