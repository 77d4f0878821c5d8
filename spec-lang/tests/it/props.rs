//! Property tests: the formatter is idempotent and keeps meaning and comments, over generated
//! specs and over mutations of real ones; parse and check never panic on any input.
use proptest::prelude::*;
use std::path::{Path, PathBuf};

// ---- properties -------------------------------------------------------------------------------

/// The tree without spans, as JSON: what formatting must not change.
fn meaning(source: &str) -> serde_json::Value {
    let (file, _) = spec_lang::parse(source);
    let file = file.unwrap_or_else(|| panic!("parses:\n{source}"));
    let mut tree = serde_json::to_value(&file.integration).expect("serialisable");
    strip_spans(&mut tree);
    tree
}

fn strip_spans(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.remove("span");
            map.values_mut().for_each(strip_spans);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_spans),
        _ => {}
    }
}

fn comment_texts(source: &str) -> Vec<String> {
    let (file, _) = spec_lang::parse(source);
    let mut texts: Vec<String> = file
        .expect("parses")
        .comments
        .into_iter()
        .map(|c| c.text.trim_end().to_owned())
        .collect();
    texts.sort();
    texts
}

/// Formats `source` (which must be clean) and checks every formatter promise on it.
fn assert_format_properties(source: &str) -> Result<(), TestCaseError> {
    let once = match spec_lang::format(source) {
        Ok(once) => once,
        Err(diagnostics) => return Err(TestCaseError::fail(format!("{diagnostics:#?}\n{source}"))),
    };
    let twice = spec_lang::format(&once)
        .map_err(|d| TestCaseError::fail(format!("output does not parse: {d:#?}\n{once}")))?;
    prop_assert_eq!(&twice, &once, "idempotent; source:\n{}", source);
    prop_assert_eq!(meaning(&once), meaning(source), "same tree");
    prop_assert_eq!(
        comment_texts(&once),
        comment_texts(source),
        "every comment kept"
    );
    let untidy: Vec<&str> = once
        .lines()
        .filter(|line| line.ends_with([' ', '\t']))
        .collect();
    prop_assert!(
        once.ends_with('\n') && untidy.is_empty(),
        "untidy lines {:?} in:\n{}",
        untidy,
        once
    );
    Ok(())
}

// ---- generated specs --------------------------------------------------------------------------

fn name() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_]{0,7}"
}

fn quoted() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 .:/_-]{0,16}",
        "\\PC{0,8}",
        Just("quote \" back \\ slash / tab \t nl \n ctl \u{1} emoji 😀".to_owned()),
    ]
    .prop_map(|text| serde_json::to_string(&text).expect("json string"))
}

fn comment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,20}",
        Just("/ a doc line".to_owned()),
        Just(String::new())
    ]
    .prop_map(|text| format!("//{text}"))
}

/// Space between tokens: a space, a newline with some indentation, or an own-line comment.
fn gap() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just(" ".to_owned()),
        3 => "\n {0,6}",
        2 => comment().prop_map(|c| format!("  {c}\n  ")),
    ]
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof!["-?[0-9]{1,4}", "[0-9]{1,3}\\.[0-9]{1,3}", "[1-9]e[0-9]"]
}

fn value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        number(),
        quoted(),
        Just("file(\"fixtures/x.json\")".to_owned()),
        Just("date-time".to_owned()),
    ];
    leaf.prop_recursive(4, 24, 5, |inner| {
        let key = prop_oneof![name(), quoted()];
        prop_oneof![
            (proptest::collection::vec((inner.clone(), gap(), prop::bool::ANY), 0..5)).prop_map(
                |items| {
                    let body: String = items
                        .into_iter()
                        .map(|(v, gap, comma)| format!("{v}{}{gap}", if comma { "," } else { "" }))
                        .collect();
                    format!("[{body}]")
                }
            ),
            (proptest::collection::vec((key, inner, gap()), 0..5)).prop_map(|entries| {
                let body: String = entries
                    .into_iter()
                    .map(|(k, v, gap)| format!("{k}: {v},{gap}"))
                    .collect();
                format!("{{ {body}}}")
            }),
        ]
    })
}

fn constraint() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(" min(1)".to_owned()),
        Just(" max(10)".to_owned()),
        Just(" range(1, 100)".to_owned()),
        Just(" min_len(1) max_len(64)".to_owned()),
        Just(" pattern(\"^[a-z]+\\\\d$\")".to_owned()),
        Just(" format(date-time)".to_owned()),
        Just(" unique".to_owned()),
        Just(" max_items(5)".to_owned()),
    ]
}

fn type_expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        prop_oneof!["string", "int", "float", "bool", "any", "[A-Z][a-z]{0,5}"],
        proptest::collection::vec(
            prop_oneof![quoted(), number(), Just("true".to_owned())],
            1..4
        )
        .prop_map(|literals| literals.join(" | ")),
    ];
    let typed = leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|t| format!("[{t}]")),
            proptest::collection::vec((name(), inner), 0..3).prop_map(|fields| {
                let body: String = fields
                    .into_iter()
                    .map(|(n, t)| format!("{n}: {t}\n"))
                    .collect();
                format!("{{ {body}}}")
            }),
        ]
    });
    (typed, proptest::collection::vec(constraint(), 0..2))
        .prop_map(|(t, cs)| format!("{t}{}", cs.concat()))
}

fn field() -> impl Strategy<Value = String> {
    (
        prop::option::of(comment()),
        name(),
        prop::bool::ANY,
        type_expr(),
        prop::option::of(value()),
        gap(),
    )
        .prop_map(|(doc, n, optional, t, default, gap)| {
            let doc = doc.map_or_else(String::new, |doc| format!("\n/{doc}\n"));
            let mark = if optional { "?" } else { "" };
            let default = default.map_or_else(String::new, |v| format!(" = {v}"));
            format!("{doc}{n}{mark}: {t}{default},{gap}")
        })
}

fn record() -> impl Strategy<Value = String> {
    (proptest::collection::vec(field(), 0..4), gap())
        .prop_map(|(fields, gap)| format!("{{{gap}{}}}", fields.concat()))
}

fn quantity() -> impl Strategy<Value = String> {
    (
        "[0-9]{1,4}(\\.[0-9]{1,2})?",
        prop_oneof!["", "MiB", "KB", "s", "ms", "h"],
    )
        .prop_map(|(n, u)| format!("{n}{u}"))
}

fn prose() -> impl Strategy<Value = String> {
    proptest::collection::vec(" {0,3}[a-z{}/.?=\" ]{0,24}", 0..5).prop_map(|lines| {
        let body: Vec<String> = lines
            .into_iter()
            .filter(|line| !line.contains("\"\"\""))
            .collect();
        format!("\"\"\"\n{}\n    \"\"\"", body.join("\n"))
    })
}

fn tool() -> impl Strategy<Value = String> {
    let item = prop_oneof![
        quoted().prop_map(|d| format!("description {d}")),
        prose().prop_map(|d| format!("description {d}")),
        record().prop_map(|r| format!("input {r}")),
        record().prop_map(|r| format!("output {r}")),
        prop_oneof!["approval required", "approval none"].prop_map(|a| a.to_owned()),
        ("[0-9]{1,3}", prop_oneof!["second", "minute", "day"])
            .prop_map(|(n, p)| format!("rate {n} per {p}")),
        quantity().prop_map(|q| format!("timeout {q}")),
    ];
    (name(), proptest::collection::vec((item, gap()), 0..5)).prop_map(|(n, items)| {
        format!(
            "tool {n} {{\n{}\n}}",
            items
                .into_iter()
                .map(|(i, g)| format!("{i}{g}"))
                .collect::<String>()
        )
    })
}

fn example() -> impl Strategy<Value = String> {
    let object = || {
        value().prop_map(|v| {
            if v.starts_with('{') {
                v
            } else {
                format!("{{ v: {v} }}")
            }
        })
    };
    let body = || {
        prop_oneof![
            value().prop_map(|v| format!(" json {v}")),
            quoted().prop_map(|t| format!(" text {t}")),
            Just(String::new())
        ]
    };
    let http = (
        prop_oneof!["GET", "POST"],
        quoted(),
        prop::option::of(body()),
        "[1-5][0-9]{2}",
        body(),
        gap(),
    )
        .prop_map(|(m, url, req, status, resp, gap)| {
            let req = req
                .filter(|r| !r.is_empty())
                .map_or_else(String::new, |r| format!(" body{r}"));
            format!("http {m} {url}{req}{gap}-> {status}{resp}\n")
        });
    let entry = (
        quoted(),
        prop_oneof![quoted(), quoted().prop_map(|f| format!("file({f})"))],
        prop_oneof![Just(String::new()), Just(",".to_owned())],
        gap(),
    )
        .prop_map(|(path, contents, comma, gap)| format!("{path} = {contents}{comma}{gap}"));
    let files = (
        quoted(),
        prop_oneof!["before", "after"],
        gap(),
        proptest::collection::vec(entry, 0..3),
    )
        .prop_map(|(mount, phase, gap, entries)| {
            format!("files {mount} {phase} {{{gap}{}}}\n", entries.concat())
        });
    let expect = prop_oneof![
        value().prop_map(|v| format!("expect {v}")),
        quoted().prop_map(|m| format!("expect error {m}"))
    ];
    (
        quoted(),
        prop::option::of(object()),
        prop::option::of((name(), object())),
        proptest::collection::vec(http, 0..3),
        prop::option::of(expect),
        // Written first, so that the formatter has to move them to their places.
        proptest::collection::vec(files, 0..3),
    )
        .prop_map(|(n, config, call, http, expect, files)| {
            let config = config.map_or_else(String::new, |c| format!("config {c}\n"));
            let call = call.map_or_else(String::new, |(t, a)| format!("call {t} {a}\n"));
            format!(
                "example {n} {{\n{}{config}{call}{}{}\n}}",
                files.concat(),
                http.concat(),
                expect.unwrap_or_default()
            )
        })
}

fn item() -> impl Strategy<Value = String> {
    prop_oneof![
        quoted().prop_map(|v| format!("version {v}")),
        prop_oneof![quoted(), prose()].prop_map(|s| format!("summary {s}")),
        name().prop_map(|t| format!("target {t}")),
        (
            name(),
            proptest::collection::vec(
                prop_oneof![
                    (
                        prop_oneof!["header", "query"],
                        quoted(),
                        prop::option::of(quoted()),
                        proptest::collection::vec(quoted(), 1..3)
                    )
                        .prop_map(|(kind, h, template, hosts)| {
                            let template = template.map_or_else(String::new, |t| format!(" = {t}"));
                            format!("  inject {kind} {h}{template} into {}\n", hosts.join(", "))
                        }),
                    proptest::collection::vec(quoted(), 1..3)
                        .prop_map(|hosts| format!("  plaintext {}\n", hosts.join(", "))),
                ],
                0..4
            )
        )
            .prop_map(|(n, lines)| format!("secret {n} {{\n{}}}", lines.concat())),
        proptest::collection::vec(quoted(), 0..4).prop_map(|hosts| format!(
            "network {{ {} }}",
            hosts
                .iter()
                .map(|h| format!("allow {h} "))
                .collect::<String>()
        )),
        proptest::collection::vec((quoted(), quoted(), prop_oneof!["ro", "rw"]), 0..3).prop_map(
            |mounts| format!(
                "filesystem {{\n{}}}",
                mounts
                    .iter()
                    .map(|(s, t, m)| format!("mount {s} at {t} {m}\n"))
                    .collect::<String>()
            )
        ),
        proptest::collection::vec(
            (prop_oneof!["memory", "pids", "cpu", "timeout"], quantity()),
            0..4
        )
        .prop_map(|entries| format!(
            "limits {{ {} }}",
            entries
                .iter()
                .map(|(k, q)| format!("{k} {q}  "))
                .collect::<String>()
        )),
        record().prop_map(|r| format!("config {r}")),
        ("[A-Z][a-z]{0,5}", record()).prop_map(|(n, r)| format!("type {n} {r}")),
        ("[A-Z][a-z]{0,5}", type_expr()).prop_map(|(n, t)| format!("type {n} = {t}")),
        tool(),
        prose().prop_map(|p| format!("intent {p}")),
        example(),
    ]
}

fn spec() -> impl Strategy<Value = String> {
    (
        prop::option::of(comment()),
        name(),
        proptest::collection::vec((item(), gap(), prop::option::of(comment())), 0..8),
    )
        .prop_map(|(header, n, items)| {
            let header = header.map_or_else(String::new, |c| format!("{c}\n"));
            let body: String = items
                .into_iter()
                .map(|(item, gap, trailing)| {
                    format!(
                        "{gap}{item}{}\n",
                        trailing.map_or_else(String::new, |c| format!("  {c}"))
                    )
                })
                .collect();
            format!("{header}integration {n} {{{body}}}\n")
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn formatting_generated_specs_is_idempotent_and_keeps_meaning(source in spec()) {
        assert_format_properties(&source)?;
    }
}

// ---- real specs and their mutations -----------------------------------------------------------

/// Every `.claw` file this repository has (the language examples and `specs/`): stem and text.
fn real_specs() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut specs = Vec::new();
    for dir in [root.join("tests/it/syntax"), root.join("../specs")] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|ext| ext == "claw") {
                let stem = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default()
                    .to_owned();
                specs.push((stem, std::fs::read_to_string(&path).expect("readable spec")));
            }
        }
    }
    specs.sort();
    assert!(!specs.is_empty(), "real specs found");
    specs
}

/// The fixtures of the real specs, read relative to `specs/` like the compiler does.
struct SpecDir(PathBuf);

impl spec_lang::World for SpecDir {
    fn read_fixture(&self, path: &str) -> Result<Vec<u8>, String> {
        std::fs::read(self.0.join(path)).map_err(|e| e.to_string())
    }
}

fn specs_dir() -> SpecDir {
    SpecDir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs"))
}

/// The spec hash of `source` when it checks cleanly.
fn spec_hash(stem: &str, source: &str) -> Option<String> {
    let checked = spec_lang::check(stem, source, &specs_dir());
    checked
        .ir
        .map(|ir| spec_lang::hash::spec_hash(&ir).expect("hashable"))
}

#[test]
fn real_specs_format_idempotently_without_changing_their_hash() {
    let mut hashed = 0;
    for (stem, source) in real_specs() {
        if !spec_lang::parse(&source).1.is_empty() {
            continue;
        }
        assert_format_properties(&source).unwrap_or_else(|e| panic!("{stem}: {e}"));
        let formatted = spec_lang::format(&source).expect("formats");
        if let Some(hash) = spec_hash(&stem, &source) {
            assert_eq!(
                spec_hash(&stem, &formatted),
                Some(hash),
                "{stem}: hash(fmt(x)) == hash(x)"
            );
            hashed += 1;
        }
    }
    assert!(hashed >= 6, "the real specs check cleanly ({hashed} did)");
}

/// The whitespace runs of `source` outside strings and comments, each with the replacements
/// that cannot change its meaning: after a comment the line must still end, a `///` doc must
/// stay on its own line, and the gap after it stays as it is.
fn layout_gaps(source: &str) -> Vec<(usize, usize, Gap)> {
    let bytes = source.as_bytes();
    let mut gaps = Vec::new();
    let mut at = 0;
    let mut after_comment: Option<bool> = None; // Some(is_doc) right after a comment
    while at < bytes.len() {
        let rest = &source[at..];
        if rest.starts_with("//") {
            let end = rest.find('\n').map_or(bytes.len(), |i| at + i);
            after_comment = Some(rest.starts_with("///") && !rest.starts_with("////"));
            at = end;
            continue;
        }
        let previous = after_comment.take();
        if let Some(body) = rest.strip_prefix("\"\"\"") {
            at += 3 + body.find("\"\"\"").map_or(body.len(), |i| i + 3);
        } else if rest.starts_with('"') {
            let mut i = at + 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            at = i + 1;
        } else if rest.starts_with([' ', '\t', '\r', '\n']) {
            let len = rest
                .find(|c: char| !matches!(c, ' ' | '\t' | '\r' | '\n'))
                .unwrap_or(rest.len());
            let next = &rest[len..];
            let gap = match previous {
                // Whether a blank line follows decides whether it documents the next field.
                Some(true) => Gap::Keep,
                Some(false) => Gap::Newline,
                None if next.starts_with("///") && !next.starts_with("////") => Gap::Newline,
                None => Gap::Any,
            };
            gaps.push((at, at + len, gap));
            at += len;
        } else {
            at += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    gaps
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Gap {
    Any,
    Newline,
    Keep,
}

const LAYOUTS: &[&str] = &[
    " ",
    "  ",
    "\n",
    "\n      ",
    "\n\n",
    " // noise\n",
    "\n// noise\n\n",
    "\t",
];

/// Re-lays `source` out at the gaps chosen by `picks`, without changing its meaning.
fn relayout(source: &str, picks: &[(usize, usize)]) -> String {
    let gaps = layout_gaps(source);
    if gaps.is_empty() {
        return source.to_owned();
    }
    let mut chosen: Vec<(usize, usize, &str)> = picks
        .iter()
        .filter_map(|&(gap, layout)| {
            let (start, end, kind) = gaps[gap % gaps.len()];
            let text = LAYOUTS[layout % LAYOUTS.len()];
            let allowed = match kind {
                Gap::Any => true,
                Gap::Newline => text.starts_with('\n'),
                Gap::Keep => false,
            };
            allowed.then_some((start, end, text))
        })
        .collect();
    chosen.sort();
    chosen.dedup_by_key(|(start, _, _)| *start);
    let mut out = source.to_owned();
    for (start, end, text) in chosen.into_iter().rev() {
        out.replace_range(start..end, text);
    }
    out
}

/// Small edits that tend to break or bend a spec: tokens, brackets, quotes, comment starts.
const SNIPPETS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "\"",
    "\"\"\"",
    "//",
    "///",
    "\\",
    "\n",
    ",",
    ":",
    "?",
    "=",
    "|",
    "->",
    " ",
    "\0",
    "\u{feff}",
    "é",
    "unique",
    "min(1)",
    "type",
    "tool",
    "example",
    "expect error",
    "file(\"x\")",
    "files \"/m\" before {",
    "after",
    "128MiB",
    "-1e5",
];

fn mutate(source: &str, edits: &[(usize, usize, usize)]) -> String {
    let mut bytes = source.as_bytes().to_vec();
    for &(at, delete, snippet) in edits {
        let at = at % (bytes.len() + 1);
        let end = (at + delete % 8).min(bytes.len());
        let insert = SNIPPETS[snippet % SNIPPETS.len()].as_bytes();
        bytes.splice(at..end, insert.iter().copied());
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Runs every entry point; returns the formatted text when the input was clean.
fn survives(stem: &str, source: &str) {
    let (_, diagnostics) = spec_lang::parse(source);
    for diagnostic in &diagnostics {
        assert!(
            diagnostic.span.start <= diagnostic.span.end && diagnostic.span.end <= source.len(),
            "{diagnostic:?}"
        );
    }
    let checked = spec_lang::check(stem, source, &spec_lang::NoFiles);
    assert!(checked
        .diagnostics
        .iter()
        .all(|d| d.span.end <= source.len()));
    let _formatted = spec_lang::format(source);
}

proptest! {
    // Each case checks a real spec three times (with its fixtures): fewer cases suffice.
    #![proptest_config(ProptestConfig { cases: 150, ..ProptestConfig::default() })]

    #[test]
    fn relaid_out_real_specs_keep_their_meaning_and_hash(
        which in any::<usize>(),
        picks in proptest::collection::vec((any::<usize>(), any::<usize>()), 1..40),
    ) {
        let specs = real_specs();
        let (stem, source) = &specs[which % specs.len()];
        let relaid = relayout(source, &picks);
        if spec_lang::parse(source).1.is_empty() {
            prop_assert_eq!(meaning(&relaid), meaning(source), "same tree:\n{}", relaid);
            assert_format_properties(&relaid)?;
            let hash = spec_hash(stem, source);
            prop_assert_eq!(spec_hash(stem, &relaid), hash.clone(), "layout does not change the hash");
            let formatted = spec_lang::format(&relaid).expect("formats");
            prop_assert_eq!(spec_hash(stem, &formatted), hash, "hash(fmt(x)) == hash(x)");
        }
    }
}

proptest! {
    // Each case checks a mutated real spec; the cheaper fuzzers below run 2,000 cases.
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn mutated_real_specs_never_panic_and_still_format_well(
        which in any::<usize>(),
        edits in proptest::collection::vec((any::<usize>(), any::<usize>(), any::<usize>()), 1..4),
    ) {
        let specs = real_specs();
        let (stem, source) = &specs[which % specs.len()];
        let mutated = mutate(source, &edits);
        survives(stem, &mutated);
        if spec_lang::parse(&mutated).1.is_empty() {
            assert_format_properties(&mutated)?;
        }
    }

}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(source in "\\PC{0,200}|[{}\\[\\]()\":,a-z0-9 \\n/\\\\]{0,200}") {
        survives("x", &source);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        survives("x", &String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn token_soup_never_panics(tokens in proptest::collection::vec(0..SNIPPETS.len(), 0..60)) {
        let body: String = tokens.iter().map(|&i| SNIPPETS[i]).collect::<Vec<_>>().join(" ");
        survives("x", &format!("integration x {{ {body} }}"));
    }
}
