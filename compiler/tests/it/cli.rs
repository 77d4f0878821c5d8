//! Every subcommand's exit code, stdout and stderr, snapshotted.

use insta_cmd::assert_cmd_snapshot;

use crate::support::{clawc, scratch, settings, specs_dir, workspace_root};

/// A spec with one error of each broad kind, so a single `check` shows several diagnostics.
const BROKEN: &str = r#"integration broken {
  version "0.1.0"
  summary "Broken on purpose."
  target python
  network { allow "api.example.com:443" }
  tool get {
    description "Get."
    input { id: Identifier }
    output { ok: bool }
  }
  example "calls an unknown tool" {
    call got { id: 1 }
    http GET "https://evil.example.net/x" -> 200 json {}
    expect { ok: true }
  }
}
"#;

#[test]
fn check_real_specs_is_clean() {
    let output = clawc().arg("check").arg(specs_dir()).output().expect("run");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn check_reports_every_error_human() {
    let dir = scratch(&[("broken.claw", BROKEN.as_bytes())]);
    settings(Some(dir.path())).bind(|| {
        assert_cmd_snapshot!(
            "check_human",
            clawc()
                .current_dir(dir.path())
                .args(["check", "broken.claw"])
        );
    });
}

#[test]
fn check_json_format() {
    let dir = scratch(&[("broken.claw", BROKEN.as_bytes())]);
    settings(Some(dir.path())).bind(|| {
        assert_cmd_snapshot!(
            "check_json",
            clawc()
                .current_dir(dir.path())
                .args(["check", "--format", "json", "broken.claw"])
        );
    });
}

#[test]
fn check_github_format() {
    let dir = scratch(&[("broken.claw", BROKEN.as_bytes())]);
    settings(Some(dir.path())).bind(|| {
        assert_cmd_snapshot!(
            "check_github",
            clawc()
                .current_dir(dir.path())
                .args(["check", "--format", "github", "broken.claw"])
        );
    });
}

#[test]
fn check_missing_path_is_a_usage_error() {
    settings(None).bind(|| {
        assert_cmd_snapshot!(
            "check_missing",
            clawc().args(["check", "/nonexistent/specs"])
        );
    });
}

#[test]
fn check_empty_directory_is_a_usage_error() {
    let dir = scratch(&[]);
    settings(Some(dir.path())).bind(|| {
        assert_cmd_snapshot!(
            "check_empty_dir",
            clawc().current_dir(dir.path()).args(["check", "."])
        );
    });
}

#[test]
fn init_creates_a_spec_that_passes_check() {
    let dir = scratch(&[]);
    settings(Some(dir.path())).bind(|| {
        assert_cmd_snapshot!(
            "init",
            clawc().current_dir(dir.path()).args(["init", "my_api"])
        );
    });
    let spec = dir.path().join("specs/my_api.claw");
    let output = clawc().arg("check").arg(&spec).output().expect("run");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(
        output.stdout.is_empty(),
        "no warnings either: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    // A second init must not clobber the first.
    let again = clawc()
        .current_dir(dir.path())
        .args(["init", "my_api"])
        .output()
        .expect("run");
    assert_eq!(again.status.code(), Some(2));
}

#[test]
fn init_rejects_bad_names() {
    let dir = scratch(&[]);
    settings(Some(dir.path())).bind(|| {
        assert_cmd_snapshot!(
            "init_bad_name",
            clawc().current_dir(dir.path()).args(["init", "My-API"])
        );
    });
    // `__` would make the gateway's `<integration>__<tool>` ambiguous (E0048).
    let double = clawc()
        .current_dir(dir.path())
        .args(["init", "my__api"])
        .output()
        .expect("run");
    assert_eq!(double.status.code(), Some(2));
    assert!(!dir.path().join("specs/my__api.claw").exists());
}

#[test]
fn fmt_check_then_write_then_idempotent() {
    let messy =
        "integration tidy {\nversion   \"0.1.0\"   // kept\n summary \"S.\"\ntarget python\n}\n";
    let dir = scratch(&[("tidy.claw", messy.as_bytes())]);
    let spec = dir.path().join("tidy.claw");
    settings(Some(dir.path())).bind(|| {
        let fmt = || {
            let mut cmd = clawc();
            cmd.current_dir(dir.path()).arg("fmt");
            cmd
        };
        assert_cmd_snapshot!("fmt_check_dirty", fmt().args(["--check", "tidy.claw"]));
        assert_cmd_snapshot!("fmt_write", fmt().arg("tidy.claw"));
        assert_cmd_snapshot!("fmt_check_clean", fmt().args(["--check", "tidy.claw"]));
    });
    let formatted = std::fs::read_to_string(&spec).expect("read");
    assert!(
        formatted.contains("// kept"),
        "comments survive formatting:\n{formatted}"
    );
}

#[test]
fn fmt_refuses_unparsable_files_and_leaves_them_alone() {
    let source = b"integration x { version \n";
    let dir = scratch(&[("x.claw", source)]);
    let spec = dir.path().join("x.claw");
    let output = clawc().arg("fmt").arg(&spec).output().expect("run");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        std::fs::read(&spec).expect("read"),
        source,
        "an unparsable file is not touched"
    );
}

#[test]
fn fmt_check_passes_on_the_real_specs() {
    let output = clawc()
        .args(["fmt", "--check"])
        .arg(specs_dir())
        .output()
        .expect("run");
    assert_eq!(
        output.status.code(),
        Some(0),
        "specs/ must be canonically formatted: {}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn schema_of_one_tool() {
    settings(None).bind(|| {
        assert_cmd_snapshot!(
            "schema_tool",
            clawc().current_dir(workspace_root()).args([
                "schema",
                "specs/github_issues.claw",
                "--tool",
                "list_issues"
            ])
        );
    });
}

#[test]
fn schema_unknown_tool_is_a_usage_error() {
    settings(None).bind(|| {
        assert_cmd_snapshot!(
            "schema_unknown_tool",
            clawc().current_dir(workspace_root()).args([
                "schema",
                "specs/github_issues.claw",
                "--tool",
                "list_isues"
            ])
        );
    });
}

#[test]
fn schema_ir_matches_the_committed_schema() {
    let output = clawc().args(["schema", "--ir"]).output().expect("run");
    assert_eq!(output.status.code(), Some(0));
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../spec-lang/ir.schema.json"
        ))
        .expect("read"),
    )
    .expect("json");
    assert_eq!(printed, committed);
}

#[test]
fn explain_a_code() {
    settings(None).bind(|| {
        assert_cmd_snapshot!("explain_e0001", clawc().args(["explain", "E0001"]));
    });
}

#[test]
fn explain_every_listed_code() {
    let list = clawc().arg("explain").output().expect("run");
    assert_eq!(list.status.code(), Some(0));
    let listed = String::from_utf8(list.stdout).expect("utf8");
    let codes: Vec<&str> = listed
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(codes.len() >= 20, "expected a full registry, got {codes:?}");
    for code in codes {
        let out = clawc().args(["explain", code]).output().expect("run");
        assert_eq!(out.status.code(), Some(0), "{code}");
        assert!(out.stdout.len() > 100, "{code} has a real explanation");
    }
}

#[test]
fn explain_unknown_code() {
    settings(None).bind(|| {
        assert_cmd_snapshot!("explain_unknown", clawc().args(["explain", "E9999"]));
    });
}

#[test]
fn usage_errors_exit_2() {
    let output = clawc().arg("frobnicate").output().expect("run");
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn the_language_reference_lists_every_code() {
    let docs =
        std::fs::read_to_string(workspace_root().join("docs/language.md")).expect("read docs");
    let missing: Vec<&str> = spec_lang::codes::all()
        .map(|info| info.code)
        .filter(|code| !docs.contains(&format!("`{code}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/language.md does not list {missing:?}"
    );
}
