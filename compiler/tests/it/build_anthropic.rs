//! `clawc build --generator anthropic` end to end against the scripted Messages API: a first
//! attempt that fails an example, a retry whose prompt carries that failure and that passes and
//! is pinned; model API faults that fail the build naming the fault and pin nothing; the real
//! key reaching the API and nowhere else.

use std::path::Path;
use std::process::Output;

use serde_json::json;

use crate::messages_api::{Match, MessagesApi, Reply, Script};
use crate::support::{clawc, native_available, scratch};

const SPEC: &str = r#"// One pure tool and no network: what the generator writes is all that is tested.
integration adder {
  version "0.1.0"
  summary "Adds two integers."
  target python
  intent """Return the sum of `a` and `b`."""

  tool sum_of {
    description "The sum of two integers."
    approval none
    input {
      a: int
      b: int
    }
    output {
      sum: int
    }
  }

  example "adds" {
    call sum_of { a: 1, b: 2 }
    expect { sum: 3 }
  }

  example "adds negatives" {
    call sum_of { a: -5, b: 2 }
    expect { sum: -3 }
  }
}
"#;

const WRONG: &str = "def sum_of(args, ctx):\n    return {\"sum\": args[\"a\"] - args[\"b\"]}\n";
const RIGHT: &str = "def sum_of(args, ctx):\n    return {\"sum\": args[\"a\"] + args[\"b\"]}\n";

/// A key that must reach the scripted API and be found nowhere else.
const KEY: &str = "sk-ant-canary-6f1d2c9e";

fn build(project: &Path, api: &MessagesApi, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = clawc();
    command
        .current_dir(project)
        .args(["build", "adder", "--generator", "anthropic"])
        .args(extra)
        .env("ANTHROPIC_BASE_URL", api.base_url())
        .env("ANTHROPIC_API_KEY", KEY)
        .env_remove("ANTHROPIC_AUTH_TOKEN");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("run clawc")
}

fn write(content: &str) -> Reply {
    Reply::tool_use(
        "write_file",
        json!({"path": "generated/tools.py", "content": content}),
    )
}

/// Every file under `dir`, with its bytes.
fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&next) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                out.push((path.display().to_string(), bytes));
            }
        }
    }
    out
}

#[test]
fn a_failed_attempt_is_retried_with_its_failures_and_the_pass_is_pinned() {
    if !native_available() {
        return;
    }
    let project = scratch(&[("specs/adder.claw", SPEC.as_bytes()), ("clawc.toml", b"")]);
    let api = MessagesApi::spawn(
        Script::new()
            .expect_key(KEY)
            .rule(Match::tool_result_for("run_examples"), Reply::text("Done."))
            .rule(
                Match::tool_result_for("write_file")
                    .and(Match::any_text_contains("Your previous attempt failed")),
                Reply::tool_use("run_examples", json!({})),
            )
            .rule(Match::tool_result_for("write_file"), Reply::text("Done."))
            .rule(
                Match::last_user_contains("Your previous attempt failed"),
                write(RIGHT),
            )
            .rule(Match::last_user_contains("`adder`"), write(WRONG)),
    )
    .expect("scripted API");
    let output = build(project.path(), &api, &["--max-attempts", "2"], &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");

    let pinned = project.path().join("golden/adder/generated/tools.py");
    assert_eq!(std::fs::read_to_string(pinned).expect("pinned"), RIGHT);
    assert!(project.path().join("claw.lock").is_file());

    // The retry's prompt named the failing example and what came back.
    let retry = api
        .message_requests()
        .into_iter()
        .find(|r| r.body.to_string().contains("Your previous attempt failed"))
        .expect("a retry prompt");
    let prompt = retry.body["messages"][0]["content"].to_string();
    assert!(prompt.contains("adds negatives"), "{prompt}");

    assert!(api.saw_only_right_key());
    for (path, bytes) in files_under(&project.path().join("golden")) {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(KEY),
            "the key is in {path}"
        );
    }
}

#[test]
fn model_api_faults_fail_the_build_naming_the_fault_and_pin_nothing() {
    let cases = [
        (
            Reply::overloaded().retry_after(0),
            "529 overloaded_error after 2 tries",
        ),
        (
            Reply::rate_limited().retry_after(0),
            "429 rate_limit_error after 2 tries",
        ),
        (Reply::api_error(), "500 api_error after 2 tries"),
        (
            Reply::truncated("cut short"),
            "truncated stream after 2 tries",
        ),
        (Reply::hang(), "timeout after 2 tries"),
    ];
    for (reply, expected) in cases {
        let project = scratch(&[("specs/adder.claw", SPEC.as_bytes()), ("clawc.toml", b"")]);
        let api = MessagesApi::spawn(Script::new().expect_key(KEY).default_reply(reply))
            .expect("scripted API");
        let output = build(
            project.path(),
            &api,
            &["--max-attempts", "1"],
            &[
                ("CLAWC_MODEL_RETRIES", "1"),
                ("CLAWC_MODEL_TIMEOUT_SECS", "0.5"),
            ],
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{expected}: {stderr}");
        assert!(stderr.contains(expected), "{expected}: {stderr}");
        assert_eq!(api.message_requests().len(), 2, "{expected}");
        assert!(!project.path().join("claw.lock").exists(), "{expected}");
        assert!(
            files_under(&project.path().join("golden")).is_empty(),
            "{expected}"
        );
    }
}

#[test]
fn a_build_that_never_passes_fails_naming_the_examples_and_pins_nothing() {
    if !native_available() {
        return;
    }
    let project = scratch(&[("specs/adder.claw", SPEC.as_bytes()), ("clawc.toml", b"")]);
    let api = MessagesApi::spawn(
        Script::new()
            .expect_key(KEY)
            .rule(Match::tool_result_for("write_file"), Reply::text("Done."))
            .rule(Match::any(), write(WRONG)),
    )
    .expect("scripted API");
    let output = build(project.path(), &api, &["--max-attempts", "2"], &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("attempts: 2"), "{stderr}");
    assert!(stderr.contains("FAIL example \"adds\""), "{stderr}");
    assert!(
        stderr.contains("FAIL example \"adds negatives\""),
        "{stderr}"
    );
    assert!(!project.path().join("claw.lock").exists());
    assert!(!project.path().join("golden").exists());
    let retries = api
        .message_requests()
        .into_iter()
        .filter(|r| r.body.to_string().contains("Your previous attempt failed"))
        .count();
    assert!(
        retries >= 1,
        "the second attempt was told of the first one's failures"
    );
}
