//! What a hardening run counts as a failure of one call (pure: the session's findings in, a
//! verdict out). A tool must answer every input the gateway lets through with a result valid
//! against its output schema or with a clean tool error: one an agent can be shown, so no
//! Python traceback and no path of the machine it runs on. Crashes, hangs, protocol breaks and
//! refused requests are found by the session; this module words them.

use serde_json::Value;

use crate::build::acceptance;
use crate::lower;

/// The ways a call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FailureKind {
    /// The server process died.
    Crash,
    /// No answer within the tool's timeout.
    Hang,
    /// Something that is not a JSON-RPC answer to the call, or a JSON-RPC error for a valid
    /// call.
    Protocol,
    /// A result (not a tool error) that breaks the output schema.
    InvalidResult,
    /// A tool error showing a traceback or a path of the machine.
    Leak,
    /// A request outside the allowlist (refused by the proxy).
    Denied,
    /// An answer larger than the spec's `output` limit.
    Output,
}

impl FailureKind {
    /// How a report line words it: `FUZZ FAIL x/y #3 (seed 1): crashed: …`.
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::Crash => "crashed",
            FailureKind::Hang => "timed out",
            FailureKind::Protocol => "broke the protocol",
            FailureKind::InvalidResult => "invalid result",
            FailureKind::Leak => "leaked",
            FailureKind::Denied => "request outside the allowlist",
            FailureKind::Output => "output over the limit",
        }
    }
}

/// What a call's JSON-RPC result amounts to.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// A schema-valid result.
    Result,
    /// A clean tool error.
    ToolError,
    Fail(FailureKind, String),
}

/// The top-level folders of a Linux file system: a path starting with one of them, standing
/// on its own in a message, is a path of the machine (the sandbox's own `/opt/clawc/…`
/// included: it is where the host's tree is mounted).
const ROOTS: &[&str] = &[
    "bin", "boot", "dev", "etc", "home", "lib", "lib32", "lib64", "media", "mnt", "nix", "opt",
    "proc", "root", "run", "sbin", "snap", "srv", "sys", "tmp", "usr", "var", "work",
];

/// Judges `result` (the JSON-RPC `result` of `tools/call`) against the tool's output schema.
/// `input` is the call's arguments as sent: what the tool merely echoes back is no leak.
/// `declared` are paths the spec itself shows the agent (its mount targets).
pub fn judge(
    result: &Value,
    output: &jsonschema::Validator,
    input: &str,
    declared: &[String],
) -> Verdict {
    if !result.is_object() {
        return Verdict::Fail(
            FailureKind::Protocol,
            format!(
                "a tools/call result that is not an object: {}",
                short(result)
            ),
        );
    }
    if result.get("isError").and_then(Value::as_bool) == Some(true) {
        let text = acceptance::result_text(result);
        return match leak(&text, input, declared) {
            Some(what) => Verdict::Fail(
                FailureKind::Leak,
                format!(
                    "the tool error shows {what}: {}",
                    acceptance::shorten(&text, 600)
                ),
            ),
            None => Verdict::ToolError,
        };
    }
    let Some(content) = result.get("structuredContent") else {
        return Verdict::Fail(
            FailureKind::InvalidResult,
            "a result without structuredContent (and not a tool error)".to_owned(),
        );
    };
    let problems = lower::schema_problems(output, content, 5);
    if problems.is_empty() {
        Verdict::Result
    } else {
        Verdict::Fail(
            FailureKind::InvalidResult,
            format!(
                "the result breaks the output schema: {}; result {}",
                problems.join("; "),
                short(content)
            ),
        )
    }
}

/// What of the machine `text` shows, if anything: a traceback, or an absolute path under one
/// of [`ROOTS`] that is neither in `input` nor under a `declared` path.
pub fn leak(text: &str, input: &str, declared: &[String]) -> Option<String> {
    if text.contains("Traceback (most recent call last)") {
        return Some("a Python traceback".to_owned());
    }
    if let Some(at) = text.find("File \"/") {
        let frame: String = text[at..].chars().take(120).collect();
        return Some(format!("a traceback frame ({frame})"));
    }
    let bytes = text.as_bytes();
    for (at, _) in text.match_indices('/') {
        // A path stands on its own: at the start, or after a space, quote, bracket or `=`/`:`
        // — not inside a URL (`host/usr`) or a relative path (`../etc`).
        let standalone = at == 0
            || matches!(
                bytes[at - 1],
                b' ' | b'\t'
                    | b'\n'
                    | b'"'
                    | b'\''
                    | b'('
                    | b'['
                    | b'{'
                    | b'<'
                    | b'='
                    | b':'
                    | b','
            );
        if !standalone {
            continue;
        }
        let rest = &text[at + 1..];
        let segment: &str = rest
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .next()
            .unwrap_or("");
        if !ROOTS.contains(&segment) {
            continue;
        }
        let path: String = text[at..]
            .chars()
            .take_while(|c| !c.is_whitespace() && !matches!(c, '"' | '\'' | ')' | ']' | ',' | '>'))
            .collect();
        let path = path.trim_end_matches(['.', ':', ';']);
        if input.contains(path) || declared.iter().any(|d| path.starts_with(d.as_str())) {
            continue;
        }
        return Some(format!("a path of the machine ({path})"));
    }
    None
}

fn short(value: &Value) -> String {
    acceptance::shorten(&value.to_string(), 600)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn output() -> jsonschema::Validator {
        jsonschema::validator_for(&json!({"type": "object", "required": ["n"],
            "properties": {"n": {"type": "integer"}}}))
        .unwrap()
    }

    fn error(text: &str) -> Value {
        json!({"content": [{"type": "text", "text": text}], "isError": true})
    }

    #[test]
    fn results_are_checked_against_the_output_schema() {
        let ok = json!({"content": [], "structuredContent": {"n": 1}, "isError": false});
        assert_eq!(judge(&ok, &output(), "{}", &[]), Verdict::Result);
        let bad = json!({"content": [], "structuredContent": {"n": "1"}, "isError": false});
        assert!(matches!(
            judge(&bad, &output(), "{}", &[]),
            Verdict::Fail(FailureKind::InvalidResult, _)
        ));
        let none = json!({"content": [], "isError": false});
        assert!(matches!(
            judge(&none, &output(), "{}", &[]),
            Verdict::Fail(FailureKind::InvalidResult, _)
        ));
        assert!(matches!(
            judge(&json!([1]), &output(), "{}", &[]),
            Verdict::Fail(FailureKind::Protocol, _)
        ));
    }

    #[test]
    fn clean_tool_errors_pass_and_leaky_ones_fail() {
        for clean in [
            "issue 7 not found",
            "KeyError: 'items'",
            "GET https://api.github.com/repos/o/r/issues/1: timed out after 10s",
            "no note at ../../etc/passwd",
            "bad value: 3/4",
        ] {
            assert_eq!(
                judge(&error(clean), &output(), "{}", &[]),
                Verdict::ToolError,
                "{clean}"
            );
        }
        for (leaky, what) in [
            (
                "Traceback (most recent call last):\n  File \"x\", line 1",
                "a Python traceback",
            ),
            (
                "oops File \"/opt/clawc/integration/generated/tools.py\", line 9",
                "a traceback frame",
            ),
            (
                "[Errno 2] No such file or directory: '/opt/clawc/integration/x'",
                "/opt/clawc/integration/x",
            ),
            (
                "cannot read /usr/lib/python3.11/json/decoder.py",
                "/usr/lib/python3.11/json/decoder.py",
            ),
            ("at /tmp.", "(/tmp)"),
        ] {
            match judge(&error(leaky), &output(), "{}", &[]) {
                Verdict::Fail(FailureKind::Leak, detail) => {
                    assert!(detail.contains(what), "{leaky}: {detail}")
                }
                other => panic!("{leaky}: {other:?}"),
            }
        }
    }

    #[test]
    fn echoed_inputs_and_declared_paths_are_no_leak() {
        let text = "no such entity /etc/passwd";
        assert!(leak(text, r#"{"id":"/etc/passwd"}"#, &[]).is_none());
        assert!(leak(text, "{}", &[]).is_some());
        let declared = vec!["/srv/notes".to_owned()];
        assert!(leak("no note /srv/notes/a.md", "{}", &declared).is_none());
        assert!(leak("no note /srv/other/a.md", "{}", &declared).is_some());
    }
}
