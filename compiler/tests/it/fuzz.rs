//! Hardening runs end to end on the native backend: a pinned artifact broken on purpose (it
//! crashes on an empty string and loops on a large int) is caught with the offending inputs,
//! the same seed gives the same report, and the bundled project passes `verify --fuzz 200`.

use std::fs;
use std::path::Path;
use std::process::Output;

use serde_json::{json, Value};

use crate::hand::hand_transcript;
use crate::support::{clawc, native_available, workspace_root};

const SPEC: &str = r#"// A deliberately broken integration: its hardening run must fail.
integration broken {
  version "0.1.0"
  summary "Echo a text back; broken on purpose for the hardening-run tests."
  target python

  tool echo {
    description "Echo the text."
    input {
      text: string
      n?: int
    }
    output { text: string }
    timeout 2s
  }

  intent """
    Return the text as `text`.
    """

  example "echoes" {
    call echo { text: "hi" }
    expect { text: "hi" }
  }
}
"#;

/// Passes its example; dies on an empty text, spins forever on a huge `n`.
const TOOLS_PY: &str = r#"import os


def echo(args, ctx):
    text = args["text"]
    if text == "":
        os._exit(3)
    if args.get("n", 0) > 2 ** 62:
        while True:
            pass
    return {"text": text}
"#;

fn run(root: &Path, args: &[&str]) -> Output {
    clawc()
        .args(args)
        .current_dir(root)
        .output()
        .expect("clawc runs")
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The broken artifact, pinned through the replay generator (its example passes).
fn broken_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    fs::create_dir_all(root.join("specs")).unwrap();
    fs::write(root.join("specs/broken.claw"), SPEC).unwrap();
    fs::create_dir_all(root.join("golden/broken")).unwrap();
    fs::write(
        root.join("golden/broken/transcript.jsonl"),
        hand_transcript("broken", &[("generated/tools.py", TOOLS_PY)]),
    )
    .unwrap();
    let build = run(root, &["build", "--generator", "replay"]);
    assert_eq!(build.status.code(), Some(0), "{:?}", text(&build));
    dir
}

/// A reported failure: its kind and the input it names.
#[derive(Debug, PartialEq)]
struct Reported {
    kind: String,
    input: Value,
}

/// Every `FUZZ FAIL` line, parsed: `FUZZ FAIL x/y #i (seed S): KIND: … input JSON`.
fn failures(stdout: &str, seed: &str) -> Vec<Reported> {
    stdout
        .lines()
        .filter(|line| line.starts_with("FUZZ FAIL "))
        .map(|line| {
            let (_, after) = line
                .split_once(&format!("(seed {seed}): "))
                .unwrap_or_else(|| panic!("the seed in {line}"));
            let (kind, _) = after.split_once(": ").expect("a kind");
            let (_, input) = line.rsplit_once(" input ").expect("the input");
            Reported {
                kind: kind.to_owned(),
                input: serde_json::from_str(input).unwrap_or_else(|e| panic!("{input}: {e}")),
            }
        })
        .collect()
}

/// The failures and their detail: the per-tool lines (with timings) left out.
fn stable(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|line| line.starts_with("FUZZ FAIL ") || line.starts_with("    "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_broken_artifact_is_caught_with_the_inputs_that_break_it_reproducibly() {
    if !native_available() {
        return;
    }
    let dir = broken_project();
    let root = dir.path();
    let first = run(root, &["test", "--fuzz", "40", "--seed", "7", "broken"]);
    let (stdout, stderr) = text(&first);
    assert_eq!(first.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("PASS broken / echoes"),
        "the example passes: {stdout}"
    );
    assert!(stderr.contains("seed 7"), "the seed is printed: {stderr}");
    let found = failures(&stdout, "7");
    let crash = Reported {
        kind: "crashed".to_owned(),
        input: json!({"text": ""}),
    };
    assert!(
        found.contains(&crash),
        "the empty string crashes it: {stdout}"
    );
    let huge = |input: &Value| input["n"].as_u64().is_some_and(|n| n > 1 << 62);
    assert!(
        found
            .iter()
            .any(|f| f.kind == "timed out" && huge(&f.input)),
        "a large int hangs it: {stdout}"
    );
    // Nothing else is wrong with it: every failure is one of those two faults.
    for failure in &found {
        let empty = failure.input["text"] == json!("");
        assert!(
            (failure.kind == "crashed" && empty)
                || (failure.kind == "timed out" && huge(&failure.input)),
            "{failure:?}"
        );
    }
    assert!(
        stdout.contains("the server exited with status 3"),
        "{stdout}"
    );
    assert!(stdout.contains("no answer within 2000 ms"), "{stdout}");
    assert!(
        stdout.contains("reproduce: clawc test --fuzz 40 --seed 7 broken"),
        "{stdout}"
    );

    let again = run(root, &["test", "--fuzz", "40", "--seed", "7", "broken"]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(
        stable(&text(&again).0),
        stable(&stdout),
        "the same seed, the same report"
    );

    // verify carries the failures as problems in the pinned code, in every format.
    let verify = run(
        root,
        &["verify", "--fuzz", "40", "--seed", "7", "--format", "json"],
    );
    let (out, err) = text(&verify);
    assert_eq!(verify.status.code(), Some(1), "{out}\n{err}");
    let problems: Vec<Value> = out
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON lines only on stdout"))
        .filter(|v: &Value| v.get("severity").is_some())
        .collect();
    assert!(!problems.is_empty(), "{out}");
    assert!(
        problems
            .iter()
            .all(|p| p["file"] == "golden/broken/generated/tools.py"
                && p["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("FUZZ FAIL broken/echo #"))),
        "{problems:#?}"
    );
    let github = run(
        root,
        &[
            "verify", "--fuzz", "40", "--seed", "7", "--format", "github",
        ],
    );
    let (out, _) = text(&github);
    assert!(
        out.lines()
            .any(|l| l.starts_with("::error file=golden/broken/generated/tools.py::FUZZ FAIL")),
        "{out}"
    );
}

/// The repository's own specs and pinned artifacts withstand a hardening run of 200 inputs per
/// tool (what scripts/test-all.sh runs with a fresh seed).
#[test]
fn the_bundled_project_passes_verify_with_fuzz_200() {
    if !native_available() {
        return;
    }
    let output = run(
        &workspace_root(),
        &["verify", "--fuzz", "200", "--seed", "1"],
    );
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stderr.contains("hardening run: "), "{stderr}");
    assert!(!stderr.contains("FAIL "), "{stderr}");
}
