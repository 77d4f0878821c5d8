//! `clawc sandbox exec` end to end on the native backend: exit statuses, stdio pass-through,
//! default deny, and the documented exit codes 125 (setup failed) and 137 (limit).

use std::io::Write;
use std::process::{Output, Stdio};

use crate::support::clawc;

/// Whether bubblewrap is here; under CI its absence is a failure, elsewhere a loud skip.
fn native_available() -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join("bwrap").is_file()));
    if found {
        return true;
    }
    let required = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
        || std::env::var("CLAWC_REQUIRE_BACKENDS").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "bubblewrap is required here (CI=true) but not installed"
    );
    let _ = writeln!(std::io::stderr(), "SKIPPED: bubblewrap not installed");
    false
}

fn exec(flags: &[&str], program: &[&str], stdin: &[u8]) -> Output {
    let mut child = clawc()
        .args(["sandbox", "exec"])
        .args(flags)
        .arg("--")
        .args(program)
        .env("CLAWC_HOST_CANARY", "host-secret-canary")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn clawc");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

#[test]
fn exit_status_is_the_programs() {
    if !native_available() {
        return;
    }
    let out = exec(&[], &["sh", "-c", "exit 42"], b"");
    assert_eq!(
        out.status.code(),
        Some(42),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn stdio_passes_through() {
    if !native_available() {
        return;
    }
    let out = exec(
        &[],
        &["sh", "-c", "read line; echo \"out:$line\"; echo err >&2"],
        b"hello\n",
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out:hello\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("err"));
}

#[test]
fn only_declared_environment_is_visible() {
    if !native_available() {
        return;
    }
    let out = exec(&["--env", "GREETING=hi"], &["sh", "-c", "env"], b"");
    let env = String::from_utf8_lossy(&out.stdout);
    assert!(env.contains("GREETING=hi"), "{env}");
    assert!(
        !env.contains("host-secret-canary"),
        "a host variable leaked:\n{env}"
    );
}

#[test]
fn host_files_are_not_visible() {
    if !native_available() {
        return;
    }
    let manifest = env!("CARGO_MANIFEST_DIR");
    let out = exec(
        &[],
        &[
            "sh",
            "-c",
            &format!("ls {manifest} /root /home /etc/hostname 2>&1; echo done"),
        ],
        b"",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("done"), "{text}");
    assert!(
        !text.contains("Cargo.toml"),
        "the host's source tree is visible:\n{text}"
    );
}

#[test]
fn python_runs_with_usr_read_only() {
    if !native_available() {
        return;
    }
    let out = exec(&[], &["python3", "-c", "open('/usr/evil','w')"], b"");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Read-only file system") || err.contains("Permission denied"),
        "{err}"
    );
}

#[test]
fn timeout_exits_137() {
    if !native_available() {
        return;
    }
    let out = exec(&["--timeout", "0.5"], &["sh", "-c", "sleep 30"], b"");
    assert_eq!(out.status.code(), Some(137));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Timeout"));
}

#[test]
fn memory_limit_exits_137() {
    if !native_available() {
        return;
    }
    let out = exec(
        &["--memory", "67108864"],
        &["python3", "-c", "x = bytearray(300 << 20)"],
        b"",
    );
    // As root a memory cgroup kills the program (137); without cgroups an rlimit makes the
    // allocation fail (MemoryError, exit 1). Either way the 300 MB never exist.
    assert!(matches!(out.status.code(), Some(137) | Some(1)), "{out:?}");
}

#[test]
fn setup_failure_exits_125() {
    let out = clawc()
        .args(["sandbox", "exec", "--", "true"])
        .env("CLAWC_SANDBOX_INIT", "/nonexistent/claw-sandbox-init")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(125));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("sandbox"),
        "{out:?}"
    );
}

#[test]
fn docker_engine_missing_exits_125() {
    let out = clawc()
        .args(["sandbox", "exec", "--backend", "docker", "--", "true"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(125));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("dockerd"),
        "{out:?}"
    );
}

#[test]
fn bad_flags_are_usage_errors() {
    for flags in [
        &["--allow", "no-port"][..],
        &["--mount", "relative"],
        &["--env", "=x"],
        &["--pids", "0"],
    ] {
        let out = clawc()
            .args(["sandbox", "exec"])
            .args(flags)
            .args(["--", "true"])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {out:?}");
    }
}
