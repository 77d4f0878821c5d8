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
