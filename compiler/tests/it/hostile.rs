//! Hostile input through the CLI: each must give exit 1 and a `file:line:col` diagnostic —
//! never a panic, a hang or a signal.

use crate::support::{clawc, scratch};

fn assert_diagnosed(name: &str, contents: &[u8]) {
    let dir = scratch(&[(name, contents)]);
    let path = dir.path().join(name);
    let output = clawc().arg("check").arg(&path).output().expect("run clawc");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{name}: expected exit 1 (killed by a signal if None)\nstdout:\n{}\nstderr:\n{stderr}",
        truncate(&stdout)
    );
    assert!(!stderr.contains("panicked"), "{name}: panic\n{stderr}");
    let located = format!("{}:", path.display());
    let has_location = stdout.lines().any(|line| {
        line.strip_prefix(&located).is_some_and(|rest| {
            let mut parts = rest.splitn(3, ':');
            let line_no = parts.next().is_some_and(|p| p.parse::<usize>().is_ok());
            let col = parts.next().is_some_and(|p| p.parse::<usize>().is_ok());
            line_no && col && rest.contains("error[E")
        })
    });
    assert!(
        has_location,
        "{name}: no `file:line:col: error[E…]` line in:\n{}",
        truncate(&stdout)
    );
}

fn truncate(text: &str) -> &str {
    let end = text.char_indices().nth(2000).map_or(text.len(), |(i, _)| i);
    &text[..end]
}

#[test]
fn empty_file() {
    assert_diagnosed("empty.claw", b"");
}

#[test]
fn whitespace_only() {
    assert_diagnosed("blank.claw", b"  \n\n\t\n");
}

#[test]
fn binary_garbage() {
    // A deterministic pseudo-random byte soup (xorshift), not valid UTF-8.
    let mut state: u32 = 0x9E37_79B9;
    let bytes: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[0]
        })
        .collect();
    assert_diagnosed("garbage.claw", &bytes);
}

#[test]
fn invalid_utf8_in_a_string() {
    assert_diagnosed(
        "latin1.claw",
        b"integration latin1 {\n  summary \"caf\xe9\"\n}\n",
    );
}

#[test]
fn nul_byte() {
    assert_diagnosed("nul.claw", b"integration nul {\n  version \"0.1.0\"\0\n}\n");
}

#[test]
fn byte_order_mark_then_garbage() {
    assert_diagnosed("bom.claw", b"\xEF\xBB\xBFintegration bom { nonsense }\n");
}

#[test]
fn five_megabyte_single_line() {
    let mut line = b"integration big { summary \"".to_vec();
    line.extend(std::iter::repeat_n(b'a', 5 << 20));
    assert_diagnosed("big.claw", &line);
}

#[test]
fn unterminated_string() {
    assert_diagnosed(
        "open.claw",
        b"integration open {\n  summary \"never closed\n}\n",
    );
}

#[test]
fn unterminated_triple_quoted_string() {
    assert_diagnosed(
        "open3.claw",
        b"integration open3 {\n  intent \"\"\"\n  forever\n}\n",
    );
}

#[test]
fn deep_nesting_of_brackets() {
    let mut spec = b"integration deep {\n  example \"e\" {\n    expect { v: ".to_vec();
    spec.extend(std::iter::repeat_n(b'[', 10_000));
    spec.extend(std::iter::repeat_n(b']', 10_000));
    spec.extend_from_slice(b" }\n  }\n}\n");
    assert_diagnosed("deep.claw", &spec);
}

#[test]
fn deep_nesting_of_types() {
    let mut spec = b"integration deept {\n  type T = ".to_vec();
    spec.extend(std::iter::repeat_n(b'[', 10_000));
    spec.extend_from_slice(b"string");
    spec.extend(std::iter::repeat_n(b']', 10_000));
    spec.extend_from_slice(b"\n}\n");
    assert_diagnosed("deept.claw", &spec);
}

#[test]
fn unbalanced_braces() {
    assert_diagnosed(
        "unbalanced.claw",
        b"integration unbalanced {\n  limits { memory 1MiB\n",
    );
}

/// A spec whose one example reads `fixtures/data.json`.
const FIXTURE_SPEC: &str = r#"integration fx {
  version "0.1.0"
  summary "Reads a fixture."
  target python
  intent "Get it."
  network { allow "api.example.com:443" }
  tool get {
    description "Get."
    input { id: int }
    output { ok: bool }
  }
  example "reads the fixture" {
    call get { id: 1 }
    http GET "https://api.example.com/x" -> 200 json file("fixtures/data.json")
    expect { ok: true }
  }
}
"#;

/// Checks `fx.claw` in `dir`; returns (exit code, stdout).
fn check_fixture_spec(dir: &std::path::Path) -> (Option<i32>, String) {
    let output = clawc()
        .arg("check")
        .arg(dir.join("fx.claw"))
        .output()
        .expect("run clawc");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (output.status.code(), stdout)
}

#[test]
fn a_regular_fixture_is_read() {
    let dir = scratch(&[
        ("fx.claw", FIXTURE_SPEC.as_bytes()),
        ("fixtures/data.json", b"{\"ok\": true}"),
    ]);
    let (code, stdout) = check_fixture_spec(dir.path());
    assert_eq!(code, Some(0), "{stdout}");
}

/// A spec from a pull request must not make the checker read a host file through a link,
/// neither as the fixture itself nor through a linked directory on the way.
#[test]
fn fixture_symlinks_to_host_files_are_refused() {
    let secret = scratch(&[(
        "secret.json",
        b"{\"ok\": true, \"token\": \"host-secret-7f3a\"}",
    )]);
    for linked_dir in [false, true] {
        let dir = scratch(&[("fx.claw", FIXTURE_SPEC.as_bytes())]);
        if linked_dir {
            std::fs::create_dir_all(secret.path().join("fixtures")).expect("mkdir");
            std::fs::copy(
                secret.path().join("secret.json"),
                secret.path().join("fixtures/data.json"),
            )
            .expect("copy");
            std::os::unix::fs::symlink(secret.path().join("fixtures"), dir.path().join("fixtures"))
                .expect("symlink");
        } else {
            std::fs::create_dir(dir.path().join("fixtures")).expect("mkdir");
            std::os::unix::fs::symlink(
                secret.path().join("secret.json"),
                dir.path().join("fixtures/data.json"),
            )
            .expect("symlink");
        }
        // Control: the link really leads to a readable file the bare OS would follow.
        let through_link = std::fs::read_to_string(dir.path().join("fixtures/data.json"))
            .expect("the link resolves");
        assert!(through_link.contains("host-secret-7f3a"));

        let (code, stdout) = check_fixture_spec(dir.path());
        assert_eq!(code, Some(1), "linked_dir={linked_dir}: {stdout}");
        assert!(
            stdout.contains("symbolic link"),
            "linked_dir={linked_dir}: the diagnostic names the link:\n{stdout}"
        );
        assert!(!stdout.contains("host-secret-7f3a"), "{stdout}");
    }
}

#[test]
fn a_fifo_fixture_is_refused_without_hanging() {
    let dir = scratch(&[("fx.claw", FIXTURE_SPEC.as_bytes())]);
    std::fs::create_dir(dir.path().join("fixtures")).expect("mkdir");
    let status = std::process::Command::new("mkfifo")
        .arg(dir.path().join("fixtures/data.json"))
        .status()
        .expect("mkfifo");
    assert!(status.success());
    let (code, stdout) = check_fixture_spec(dir.path());
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("not a regular file"), "{stdout}");
}

/// A Trojan Source spec is refused, and the report itself never prints the bidirectional
/// control (it would reorder the reported line on the reader's terminal).
#[test]
fn bidi_controls_are_refused_and_never_echoed() {
    let spec = "integration t {\n  // access granted \u{202E} }\u{2066} if admin\n  version \"0.1.0\"\n}\n";
    assert_diagnosed("t.claw", spec.as_bytes());
    let dir = scratch(&[("t.claw", spec.as_bytes())]);
    let output = clawc()
        .arg("check")
        .arg(dir.path().join("t.claw"))
        .output()
        .expect("run clawc");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("error[E0008]"), "{stdout}");
    assert!(stdout.contains("U+202E"), "{stdout}");
    assert!(
        !stdout.contains('\u{202E}') && !stdout.contains('\u{2066}'),
        "the report echoes a bidi control:\n{stdout}"
    );
}
