//! `clawc build`, `verify` and `test` end to end on the native backend, through the replay
//! generator (no model here): pinning, byte-for-byte re-derivation, tamper detection,
//! staleness, re-rendering without a model, refusal of hostile transcripts, and kill -9.

use std::fs;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use crate::echo::TOOLS_PY;
use crate::hand::hand_transcript;
use crate::support::{clawc, native_available, tree_files};

/// A project holding `clawc init echo`'s spec and a transcript of `code` as the pinned one.
fn project(code: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let init = clawc()
        .args(["init", "echo"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(init.status.success(), "{init:?}");
    write_transcript(
        dir.path(),
        &hand_transcript("echo", &[("generated/tools.py", code)]),
    );
    dir
}

fn write_transcript(root: &Path, text: &str) {
    let golden = root.join("golden/echo");
    fs::create_dir_all(&golden).unwrap();
    fs::write(golden.join("transcript.jsonl"), text).unwrap();
}

fn run(root: &Path, args: &[&str]) -> Output {
    clawc()
        .args(args)
        .current_dir(root)
        .output()
        .expect("clawc runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_code(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        stderr(output)
    );
}

fn pinned() -> tempfile::TempDir {
    let dir = project(TOOLS_PY);
    assert_code(&run(dir.path(), &["build", "--generator", "replay"]), 0);
    dir
}

#[test]
fn a_replay_build_pins_verifies_and_rederives_byte_for_byte() {
    if !native_available() {
        return;
    }
    let dir = pinned();
    let root = dir.path();
    let lock = fs::read_to_string(root.join("claw.lock")).unwrap();
    assert!(
        lock.contains("[integration.echo]") && lock.contains("generator = \"hand\""),
        "{lock}"
    );
    let golden = tree_files(&root.join("golden/echo"));
    let names: Vec<String> = golden
        .iter()
        .map(|(p, _)| p.display().to_string())
        .collect();
    for expected in [
        "main.py",
        "clawc/mcp.py",
        "clawc/http.py",
        "clawc/tools.json",
        "generated/tools.py",
        "manifest.json",
        "provenance.json",
        "transcript.jsonl",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    let provenance = fs::read_to_string(root.join("golden/echo/provenance.json")).unwrap();
    assert!(provenance.contains("https://slsa.dev/provenance/v1"));
    assert!(
        provenance.contains("no model produced this code"),
        "{provenance}"
    );
    assert_code(&run(root, &["verify"]), 0);
    let test = run(root, &["test"]);
    assert_code(&test, 0);
    let shown = String::from_utf8_lossy(&test.stdout);
    assert!(shown.contains("PASS echo / fetches an item"), "{shown}");
    assert!(
        shown.contains("PASS echo / a missing item is an error"),
        "{shown}"
    );

    let out = tempfile::tempdir().unwrap();
    let before_lock = fs::read(root.join("claw.lock")).unwrap();
    let replay = run(
        root,
        &[
            "build",
            "--generator",
            "replay",
            "--out",
            out.path().to_str().unwrap(),
        ],
    );
    assert_code(&replay, 0);
    assert!(
        stderr(&replay).contains("identical to golden"),
        "{}",
        stderr(&replay)
    );
    assert_eq!(tree_files(&out.path().join("echo")), golden);
    assert_eq!(
        tree_files(&root.join("golden/echo")),
        golden,
        "--out changes nothing in golden/"
    );
    assert_eq!(fs::read(root.join("claw.lock")).unwrap(), before_lock);

    let again = run(root, &["build"]);
    assert_code(&again, 0);
    assert!(
        stderr(&again).contains("1 fresh; nothing to build"),
        "{}",
        stderr(&again)
    );
    assert_code(&run(root, &["build", "--locked"]), 0);
}

#[test]
fn every_kind_of_tampering_is_named_by_verify_and_locked() {
    if !native_available() {
        return;
    }
    let dir = pinned();
    let root = dir.path();
    type Tamper = fn(&Path);
    let cases: [(&str, Tamper, &str); 5] = [
        (
            "a flipped byte in the code",
            |root| flip(&root.join("golden/echo/generated/tools.py")),
            "golden/echo/generated/tools.py",
        ),
        (
            "a flipped byte in the provenance",
            |root| flip(&root.join("golden/echo/provenance.json")),
            "golden/echo/provenance.json",
        ),
        (
            "an extra file",
            |root| fs::write(root.join("golden/echo/generated/extra.py"), "").unwrap(),
            "golden/echo/generated/extra.py",
        ),
        (
            "a missing file",
            |root| fs::remove_file(root.join("golden/echo/clawc/http.py")).unwrap(),
            "golden/echo/clawc/http.py",
        ),
        (
            "a flipped byte in claw.lock's tree hash",
            |root| {
                let lock = fs::read_to_string(root.join("claw.lock")).unwrap();
                let at = lock.find("tree_hash = \"sha256:").unwrap() + 20;
                let mut bytes = lock.into_bytes();
                bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
                fs::write(root.join("claw.lock"), bytes).unwrap();
            },
            "golden/echo",
        ),
    ];
    let pristine_lock = fs::read(root.join("claw.lock")).unwrap();
    let pristine = tree_files(&root.join("golden/echo"));
    for (what, tamper, named) in cases {
        tamper(root);
        let verify = run(root, &["verify"]);
        assert_code(&verify, 1);
        assert!(
            stderr(&verify).contains(named),
            "{what}: verify names {named}: {}",
            stderr(&verify)
        );
        let locked = run(root, &["build", "--locked"]);
        assert_code(&locked, 1);
        assert!(
            stderr(&locked).contains(named),
            "{what}: --locked names {named}: {}",
            stderr(&locked)
        );
        // Restore.
        fs::remove_dir_all(root.join("golden/echo")).unwrap();
        for (path, bytes) in &pristine {
            let target = root.join("golden/echo").join(path);
            fs::create_dir_all(target.parent().unwrap()).unwrap();
            fs::write(&target, bytes).unwrap();
            let mode = std::os::unix::fs::PermissionsExt::from_mode(0o644);
            fs::set_permissions(&target, mode).unwrap();
        }
        fs::write(root.join("claw.lock"), &pristine_lock).unwrap();
        assert_code(&run(root, &["verify"]), 0);
    }
    // A lock edited by hand into another layout is refused even when its data is right.
    let lock = String::from_utf8(pristine_lock.clone()).unwrap();
    fs::write(
        root.join("claw.lock"),
        lock.replace("version = 1", "version =  1"),
    )
    .unwrap();
    let verify = run(root, &["verify"]);
    assert_code(&verify, 1);
    assert!(stderr(&verify).contains("claw.lock: differs from its canonical rendering"));
    assert_code(&run(root, &["build", "--locked"]), 1);
}

fn flip(path: &Path) {
    let mut bytes = fs::read(path).unwrap();
    bytes[10] ^= 0x01;
    fs::write(path, bytes).unwrap();
}

#[test]
fn a_comment_only_edit_stays_fresh_and_a_semantic_edit_is_stale() {
    if !native_available() {
        return;
    }
    let dir = pinned();
    let root = dir.path();
    let spec = root.join("specs/echo.claw");
    let text = fs::read_to_string(&spec).unwrap();
    fs::write(
        &spec,
        format!("// a comment that changes nothing\n{text}\n\n"),
    )
    .unwrap();
    assert_code(&run(root, &["build", "--locked"]), 0);
    assert_code(&run(root, &["verify"]), 0);
    fs::write(
        &spec,
        text.replace("Fetch one item by its id.", "Fetch one item."),
    )
    .unwrap();
    let locked = run(root, &["build", "--locked"]);
    assert_code(&locked, 1);
    assert!(
        stderr(&locked).contains("echo: stale (the spec changed)"),
        "{}",
        stderr(&locked)
    );
    let verify = run(root, &["verify"]);
    assert_code(&verify, 1);
    assert!(
        stderr(&verify).contains("specs/echo.claw: its hash"),
        "{}",
        stderr(&verify)
    );
}

#[test]
fn a_scaffold_or_toolchain_change_repins_without_a_model() {
    if !native_available() {
        return;
    }
    let dir = pinned();
    let root = dir.path();
    let lock = fs::read_to_string(root.join("claw.lock")).unwrap();
    let at = lock.find("template_hash = \"sha256:").unwrap() + 24;
    let old = &lock[at..at + 64];
    fs::write(root.join("claw.lock"), lock.replace(old, &"0".repeat(64))).unwrap();
    let locked = run(root, &["build", "--locked"]);
    assert_code(&locked, 1);
    assert!(
        stderr(&locked).contains("re-render without a model"),
        "{}",
        stderr(&locked)
    );
    // The default generator is claude-code; with no CLI and no key any model call would fail.
    let build = clawc()
        .arg("build")
        .current_dir(root)
        .env("CLAWC_CLAUDE", "/nonexistent/claude")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("ANTHROPIC_AUTH_TOKEN")
        .output()
        .unwrap();
    assert_code(&build, 0);
    assert!(stderr(&build).contains("pinned"), "{}", stderr(&build));
    assert_eq!(fs::read_to_string(root.join("claw.lock")).unwrap(), lock);
    assert_code(&run(root, &["verify"]), 0);
}

#[test]
fn a_candidate_that_fails_an_example_pins_nothing() {
    if !native_available() {
        return;
    }
    let broken = TOOLS_PY.replace("item %d not found", "item %d is gone");
    let dir = project(&broken);
    let root = dir.path();
    let build = run(root, &["build", "--generator", "replay"]);
    assert_code(&build, 1);
    let shown = stderr(&build);
    assert!(
        shown.contains("FAIL example \"a missing item is an error\""),
        "{shown}"
    );
    assert!(
        shown.contains("item 2 is gone"),
        "the actual error is shown: {shown}"
    );
    assert!(!root.join("claw.lock").exists());
    assert_eq!(
        fs::read_dir(root.join("golden/echo")).unwrap().count(),
        1,
        "only the transcript"
    );
}

#[test]
fn hostile_transcripts_are_refused_before_anything_is_written() {
    if !native_available() {
        return;
    }
    let outside = tempfile::tempdir().unwrap();
    let absolute = outside.path().join("abs.py");
    let big = "x".repeat(2 << 20);
    let dir = project(TOOLS_PY);
    let root = dir.path();
    write_transcript(
        root,
        &hand_transcript(
            "echo",
            &[
                ("generated/tools.py", TOOLS_PY),
                ("../escape.py", "pwned"),
                ("generated/../../up.py", "pwned"),
                (absolute.to_str().unwrap(), "pwned"),
                ("generated/big.py", &big),
            ],
        ),
    );
    let before = tree_files(root);
    let build = run(root, &["build", "--generator", "replay"]);
    assert_code(&build, 1);
    let shown = stderr(&build);
    for named in [
        "../escape.py",
        "generated/../../up.py",
        "abs.py",
        "generated/big.py",
    ] {
        assert!(shown.contains(named), "{named} in {shown}");
    }
    assert!(!absolute.exists());
    assert!(!root.join("escape.py").exists() && !root.parent().unwrap().join("up.py").exists());
    let after: Vec<_> = tree_files(root)
        .into_iter()
        .filter(|(p, _)| !p.starts_with(".clawc"))
        .collect();
    assert_eq!(after, before, "nothing written in the project");
}

#[test]
fn kill_9_at_any_moment_leaves_a_valid_pinned_state() {
    if !native_available() {
        return;
    }
    let dir = pinned();
    let root = dir.path();
    let spec = root.join("specs/echo.claw");
    let original = fs::read_to_string(&spec).unwrap();
    let mut finished = 0;
    for step in 0..24u64 {
        // Each round changes the spec, so the build has a new tree to pin.
        let description = format!("Fetch one item by its id (round {step}).");
        fs::write(
            &spec,
            original.replace("Fetch one item by its id.", &description),
        )
        .unwrap();
        let mut child = clawc()
            .args(["build", "--generator", "replay"])
            .current_dir(root)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(40 * step));
        let _ = child.kill(); // SIGKILL
        if child.wait().unwrap().success() {
            finished += 1;
        }
        assert_valid_pin(root, step);
    }
    assert!(
        finished < 24,
        "some builds were killed before they finished"
    );
}

/// The pin is whole: the lock parses and is canonical, the tree hashes to its entry, and
/// `golden/` holds nothing but the tree. The spec itself may be newer than the pin.
fn assert_valid_pin(root: &Path, step: u64) {
    let locked = run(root, &["build", "--locked"]);
    let shown = stderr(&locked);
    assert!(
        locked.status.success() || shown.contains("echo: stale (the spec changed)"),
        "round {step}: {shown}"
    );
    for bad in ["tampered", "canonical", "claw.lock:"] {
        assert!(!shown.contains(bad), "round {step}: {shown}");
    }
    let entries: Vec<_> = fs::read_dir(root.join("golden"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, ["echo"], "round {step}: no temp files in golden/");
}

#[test]
fn the_bundled_golden_trees_replay_byte_for_byte_and_verify() {
    if !native_available() {
        return;
    }
    let root = crate::support::workspace_root();
    let specs: Vec<String> = fs::read_dir(root.join("specs"))
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            (path.extension()? == "claw")
                .then(|| path.file_stem().unwrap().to_string_lossy().into_owned())
        })
        .collect();
    assert!(specs.len() >= 9, "{specs:?}");
    let out = tempfile::tempdir().unwrap();
    let replay = run(
        &root,
        &[
            "build",
            "--generator",
            "replay",
            "--jobs",
            "2",
            "--out",
            out.path().to_str().unwrap(),
        ],
    );
    assert_code(&replay, 0);
    for name in &specs {
        assert_eq!(
            tree_files(&out.path().join(name)),
            tree_files(&root.join("golden").join(name)),
            "{name}: the replay equals golden/{name}/ byte for byte"
        );
    }
    let verify = run(&root, &["verify"]);
    assert_code(&verify, 0);
}

#[test]
fn kill_9_mid_generation_leaves_the_previous_pin_valid() {
    use crate::messages_api::{MessagesApi, Reply, Script};
    if !native_available() {
        return;
    }
    let dir = pinned();
    let root = dir.path();
    let pinned_lock = fs::read(root.join("claw.lock")).unwrap();
    let pinned_tree = tree_files(&root.join("golden/echo"));
    let spec = root.join("specs/echo.claw");
    let original = fs::read_to_string(&spec).unwrap();
    fs::write(
        &spec,
        original.replace("Fetch one item by its id.", "Fetch one item."),
    )
    .unwrap();
    // The model never answers: the build is killed while it waits for generation.
    let api = MessagesApi::spawn(
        Script::new()
            .expect_key("sk-kill")
            .default_reply(Reply::hang()),
    )
    .unwrap();
    let mut child = clawc()
        .args(["build", "--generator", "anthropic"])
        .current_dir(root)
        .env("ANTHROPIC_BASE_URL", api.base_url())
        .env("ANTHROPIC_API_KEY", "sk-kill")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while api.message_requests().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !api.message_requests().is_empty(),
        "the build reached the model"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(fs::read(root.join("claw.lock")).unwrap(), pinned_lock);
    assert_eq!(tree_files(&root.join("golden/echo")), pinned_tree);
    fs::write(&spec, &original).unwrap();
    assert_code(&run(root, &["verify"]), 0);
}
