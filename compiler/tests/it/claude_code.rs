//! `clawc build --generator claude-code` end to end: the real Claude Code CLI (installed by
//! scripts/setup.sh, named by `CLAWC_CLAUDE`) in a native sandbox, reaching the scripted
//! Messages API only through the runtime's model-API relay, which puts the real key on
//! outside. Under `CI=true` a missing CLI or bubblewrap fails these tests; elsewhere they skip
//! loudly.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{json, Value};

use crate::backend_support::require;
use crate::echo::TOOLS_PY;
use crate::messages_api::{Match, MessagesApi, Reply, Script};
use crate::support::{clawc, tree_files};

/// The real credential. Only the scripted server may ever see it.
const REAL_KEY: &str = "sk-ant-canary-5f0c9a7e31d24b68";

/// A pattern that matches [`REAL_KEY`] without containing it, for the sandbox-side search.
const KEY_PATTERN: &str = "sk-ant-canary-[0-9a-f]{16}";

/// What the CLI inside holds instead (the generator's placeholder).
const PLACEHOLDER: &str = "clawc-model-api-placeholder";

/// The CLI, or `None` (skipped, or a failure under CI) when it is not installed.
fn claude() -> Option<PathBuf> {
    let bwrap = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join("bwrap").is_file()));
    if !require(
        "bubblewrap",
        (!bwrap).then(|| "bwrap is not on PATH".to_owned()),
    ) {
        return None;
    }
    let named = std::env::var_os("CLAWC_CLAUDE").map(PathBuf::from);
    let missing = match &named {
        Some(path) if path.is_file() => None,
        Some(path) => Some(format!("CLAWC_CLAUDE={} is not a file", path.display())),
        None => Some("CLAWC_CLAUDE is not set: run scripts/setup.sh".to_owned()),
    };
    if !require("the Claude Code CLI", missing) {
        return None;
    }
    named
}

/// A project holding `clawc init echo`'s spec, nothing pinned.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let init = clawc()
        .args(["init", "echo"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(init.status.success(), "{init:?}");
    dir
}

fn build(root: &Path, cli: &Path, api: &MessagesApi) -> Output {
    clawc()
        .args([
            "build",
            "echo",
            "--generator",
            "claude-code",
            "--max-attempts",
            "1",
        ])
        .env("CLAWC_CLAUDE", cli)
        .env("ANTHROPIC_BASE_URL", api.base_url())
        .env("ANTHROPIC_API_KEY", REAL_KEY)
        .env_remove("ANTHROPIC_AUTH_TOKEN")
        .current_dir(root)
        .output()
        .expect("clawc runs")
}

/// The text of every `tool_result` in a request's messages.
fn tool_results(request: &Value) -> Vec<String> {
    request["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|message| message["content"].as_array().cloned().unwrap_or_default())
        .filter(|block| block["type"] == "tool_result")
        .map(|block| block["content"].to_string())
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

/// The model searches the sandbox for the key (a canary: it must find nothing), writes to
/// the project's own folder on the host (Claude Code's permission mode lets it; the sandbox
/// must not), then writes the tools; the build accepts and pins them, and the scripted server
/// saw the real key on every request while nothing the sandbox or the golden tree holds
/// carries it.
#[test]
fn claude_code_writes_the_candidate_through_the_relay_and_never_holds_the_key() {
    let Some(cli) = claude() else { return };
    let dir = project();
    let escape = dir.path().join("escaped.txt");
    let script = Script::new()
        .expect_key(REAL_KEY)
        .rule(
            Match::last_tool_result_contains("Write", "tools.py"),
            Reply::text("Done."),
        )
        .rule(
            Match::tool_result_for("Write"),
            Reply::tool_use(
                "Write",
                json!({"file_path": "/workspace/generated/tools.py", "content": TOOLS_PY}),
            ),
        )
        .rule(
            Match::last_tool_result_contains("Grep", "No files found"),
            Reply::tool_use(
                "Write",
                json!({"file_path": escape.display().to_string(), "content": "out"}),
            ),
        )
        .rule(
            Match::offers_tool("Write").and(Match::any_text_contains("get_item")),
            Reply::tool_use(
                "Grep",
                json!({"pattern": KEY_PATTERN, "path": "/", "output_mode": "files_with_matches"}),
            ),
        );
    let api = MessagesApi::spawn(script).expect("scripted Messages API");
    let output = build(dir.path(), &cli, &api);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !escape.exists(),
        "the CLI wrote outside its workspace on the host"
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout: {}\nstderr: {stderr}",
        String::from_utf8_lossy(&output.stdout)
    );

    assert!(api.saw_only_right_key(), "{:?}", api.requests());
    let requests = api.message_requests();
    let results: Vec<String> = requests
        .iter()
        .flat_map(|request| tool_results(&request.body))
        .collect();
    assert!(
        results.iter().any(|r| r.contains("No files found")),
        "the canary search ran inside the sandbox and found nothing: {results:?}"
    );
    assert!(
        results.iter().any(|r| r.contains("escaped.txt")),
        "the write outside the workspace was attempted: {results:?}"
    );
    for request in &requests {
        let body = request.body.to_string();
        assert!(
            !body.contains(REAL_KEY),
            "the sandbox sent the key in a body"
        );
        assert!(
            request
                .headers
                .iter()
                .all(|(_, v)| !v.contains(PLACEHOLDER)),
            "the placeholder reached the upstream: {:?}",
            request.headers
        );
    }

    let golden = dir.path().join("golden/echo");
    assert_eq!(
        fs::read_to_string(golden.join("generated/tools.py")).unwrap(),
        TOOLS_PY
    );
    let provenance = fs::read_to_string(golden.join("provenance.json")).unwrap();
    assert!(provenance.contains("claude-code"), "{provenance}");
    assert!(
        provenance.contains("2.1."),
        "Claude Code's version: {provenance}"
    );
    let transcript = fs::read_to_string(golden.join("transcript.jsonl")).unwrap();
    assert!(
        transcript.contains("\"Grep\""),
        "the stream-json events are kept"
    );
    for (path, bytes) in tree_files(dir.path()) {
        assert!(
            !contains(&bytes, REAL_KEY),
            "{} holds the key",
            path.display()
        );
    }
}

/// A model-API fault the CLI reports (`is_error` with `subtype: "success"`) fails the build
/// honestly, naming it, and pins nothing. A 400 is not retried by the CLI (a 401, 429, 5xx
/// is, for minutes, with its own backoff).
#[test]
fn a_model_api_fault_fails_the_build_and_pins_nothing() {
    let Some(cli) = claude() else { return };
    let script = Script::new()
        .expect_key(REAL_KEY)
        .default_reply(Reply::error(
            400,
            "invalid_request_error",
            "scripted refusal",
        ));
    let api = MessagesApi::spawn(script).expect("scripted Messages API");
    let dir = project();
    let output = build(dir.path(), &cli, &api);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("model API"), "{stderr}");
    assert!(stderr.contains("400"), "{stderr}");
    assert!(stderr.contains("scripted refusal"), "{stderr}");
    assert!(!dir.path().join("golden/echo").exists());
    assert!(!stderr.contains(REAL_KEY));
}
