//! The shipped GitHub Actions workflow (`docs/ci/github-actions.yml`), its shell steps run
//! locally as GitHub would run them (`bash -eo pipefail`, expressions substituted) against a
//! scratch repository with a base and a head commit. The install step is skipped (this machine
//! has what it installs); `gh` is a stand-in that records the comment it would post, since
//! GitHub's API is not reachable from a test.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use yaml_rust2::YamlLoader;

use crate::review::{text, Repo, Reviewer};
use crate::support::{native_available, settings, workspace_root};

struct Step {
    id: String,
    run: String,
}

/// The workflow's `run` steps, in order, with their ids.
fn steps() -> Vec<Step> {
    let path = workspace_root().join("docs/ci/github-actions.yml");
    let text = fs::read_to_string(&path).expect("the workflow file");
    let docs = YamlLoader::load_from_str(&text).expect("valid YAML");
    let job = &docs[0]["jobs"]["review"];
    job["steps"]
        .as_vec()
        .expect("steps")
        .iter()
        .filter_map(|step| {
            let run = step["run"].as_str()?;
            let id = step["id"].as_str().expect("every run step has an id");
            Some(Step {
                id: id.to_owned(),
                run: run.to_owned(),
            })
        })
        .collect()
}

/// `${{ expr }}` replaced from `values`; an expression the test does not know fails it, so
/// the workflow cannot grow an input this test ignores.
fn substitute(script: &str, values: &BTreeMap<&str, String>) -> String {
    let mut out = String::new();
    let mut rest = script;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").expect("closed expression") + start;
        let expr = rest[start + 3..end].trim();
        let value = values
            .get(expr)
            .unwrap_or_else(|| panic!("the workflow uses `{expr}`, unknown to this test"));
        out.push_str(value);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// A stand-in `gh` that appends its arguments and the body file to `$GH_LOG`.
fn fake_gh(dir: &Path) {
    let script = "#!/bin/sh\n\
                  printf 'gh %s\\n' \"$*\" >> \"$GH_LOG\"\n\
                  while [ $# -gt 0 ]; do\n\
                    if [ \"$1\" = --body-file ]; then cat \"$2\" >> \"$GH_LOG\"; fi\n\
                    shift\n\
                  done\n";
    let path = dir.join("gh");
    fs::write(&path, script).unwrap();
    let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    fs::set_permissions(&path, mode).unwrap();
}

struct Run {
    outputs: BTreeMap<String, Output>,
    posted: String,
}

fn run_workflow(repo: &Repo, base: &str, bin: &Path) -> Run {
    let log = bin.join("gh.log");
    let _ = fs::remove_file(&log);
    let values = BTreeMap::from([
        ("github.event.pull_request.base.sha", base.to_owned()),
        ("github.event.pull_request.number", "7".to_owned()),
        ("github.token", "stand-in-token".to_owned()),
        (
            "vars.CLAWC_GIT",
            "unused: the install step is skipped".to_owned(),
        ),
    ]);
    let clawc_dir = Path::new(env!("CARGO_BIN_EXE_clawc"))
        .parent()
        .unwrap()
        .to_owned();
    let path = format!(
        "{}:{}:{}",
        bin.display(),
        clawc_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut outputs = BTreeMap::new();
    for step in steps() {
        if step.id == "install" {
            continue;
        }
        let script = substitute(&step.run, &values);
        let out = Command::new("bash")
            .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", &script])
            .current_dir(repo.root())
            .env("PATH", &path)
            .env("GH_LOG", &log)
            .env("GH_TOKEN", "stand-in-token")
            .env_remove("CLAWC_SANDBOX_INIT")
            .env("NO_COLOR", "1")
            .output()
            .expect("bash runs");
        outputs.insert(step.id, out);
    }
    Run {
        outputs,
        posted: fs::read_to_string(&log).unwrap_or_default(),
    }
}

#[test]
fn the_workflow_fails_an_unsigned_widening_and_passes_once_signed_off() {
    if !native_available() {
        return;
    }
    let ids: Vec<String> = steps().into_iter().map(|s| s.id).collect();
    assert_eq!(ids, ["install", "verify", "diff", "comment"]);
    let keys = tempfile::tempdir().unwrap();
    let bin = tempfile::tempdir().unwrap();
    fake_gh(bin.path());
    let alice = Reviewer::new(keys.path(), "alice@example.com");
    let repo = Repo::pinned();
    repo.write("clawc.allowed_signers", &alice.signers_line);
    repo.approve(&alice);
    let base = repo.commit("the base: shop, signed off by alice");

    // The pull request widens shop (a new host) without a sign-off.
    repo.allow("uploads.example.com:443");
    repo.build();
    repo.commit("the head: shop may reach uploads.example.com");
    let unsigned = run_workflow(&repo, &base, bin.path());
    let verify = &unsigned.outputs["verify"];
    assert_eq!(verify.status.code(), Some(1), "{}", text(verify));
    let annotations = String::from_utf8_lossy(&verify.stdout).into_owned();
    assert!(
        annotations.contains("::error file=specs/shop.claw,line=13::`shop` widens"),
        "{annotations}"
    );
    let diff = &unsigned.outputs["diff"];
    assert_eq!(diff.status.code(), Some(0), "{}", text(diff));
    let comment = &unsigned.outputs["comment"];
    assert_eq!(comment.status.code(), Some(0), "{}", text(comment));
    assert!(unsigned
        .posted
        .starts_with("gh pr comment 7 --body-file clawc-diff.md --edit-last\n"));
    assert!(
        unsigned
            .posted
            .contains("| `shop` (changed) | ⚠️ **1 widening** | — | ❌ needed |"),
        "{}",
        unsigned.posted
    );
    assert!(unsigned
        .posted
        .contains("network: uploads.example.com:443 added — `specs/shop.claw:13`"));
    let mut shown = settings(Some(repo.root()));
    shown.add_filter(&base, "[BASE]");
    shown.add_filter(&base[..7], "[BASE]");
    shown.bind(|| insta::assert_snapshot!("workflow_comment_unsigned", unsigned.posted));

    // Alice reviews the diff and signs the widening off in the pull request: it passes.
    repo.approve(&alice);
    repo.commit("alice signs off uploads.example.com");
    let signed = run_workflow(&repo, &base, bin.path());
    let verify = &signed.outputs["verify"];
    assert_eq!(verify.status.code(), Some(0), "{}", text(verify));
    assert!(
        signed.posted.contains("✅ alice@example.com"),
        "{}",
        signed.posted
    );
}
