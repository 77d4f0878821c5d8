//! `clawc sandbox exec` end to end on the native backend: exit statuses, stdio pass-through,
//! default deny, and the documented exit codes 125 (setup failed) and 137 (limit).

use std::io::Write;
use std::process::{Output, Stdio};

use crate::backend_support::require;
use crate::support::{clawc, native_available};

/// Whether a Docker engine answers; under CI its absence is a failure, elsewhere a loud skip.
fn docker_available() -> bool {
    let engine_up = std::process::Command::new("docker")
        .arg("info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    require(
        "docker",
        (!engine_up).then(|| "`docker info` fails".to_owned()),
    )
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

/// Inherited stdout is captured too: a program printing past `--output` is cut off and killed.
#[test]
fn output_past_the_cap_exits_137() {
    if !native_available() {
        return;
    }
    let out = exec(
        &["--output", "100"],
        &[
            "sh",
            "-c",
            "echo begin; yes 0123456789 | head -c 100000; echo end",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(137), "{out:?}");
    assert_eq!(out.stdout.len(), 100);
    assert!(out.stdout.starts_with(b"begin\n"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Output limit reached"));
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

/// Regression: with the Docker backend, `sandbox exec` waited for its own stdin to close before
/// exiting. A program that ignores stdin must end the command promptly while stdin stays open.
#[test]
fn docker_exec_returns_while_stdin_stays_open() {
    if !docker_available() {
        return;
    }
    let mut child = clawc()
        .args([
            "sandbox",
            "exec",
            "--backend",
            "docker",
            "--",
            "sh",
            "-c",
            "echo done",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn clawc");
    let _stdin_held_open = child.stdin.take();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            panic!("clawc sandbox exec --backend docker did not exit while its stdin stayed open");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
}

#[test]
fn an_unknown_docker_runtime_is_a_setup_error() {
    if !docker_available() {
        return;
    }
    let out = exec(
        &["--backend", "docker", "--docker-runtime", "no-such-runtime"],
        &["true"],
        b"",
    );
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no-such-runtime"),
        "{out:?}"
    );
    for flags in [
        &["--docker-runtime", "runsc"][..],
        &["--backend", "native", "--docker-runtime", "runsc"],
    ] {
        let native = exec(flags, &["true"], b"");
        assert_eq!(native.status.code(), Some(2), "a usage error: {native:?}");
    }
}

#[test]
fn exec_snapshot() {
    if !native_available() {
        return;
    }
    crate::support::settings(None).bind(|| {
        insta_cmd::assert_cmd_snapshot!(
            "sandbox_exec",
            clawc().args([
                "sandbox",
                "exec",
                "--env",
                "WHO=sandbox",
                "--",
                "sh",
                "-c",
                "echo \"hello from the $WHO\"; ls /; echo oops >&2; exit 3"
            ])
        );
    });
}

fn exec_spec(spec: &str, flags: &[&str], program: &[&str], env: &[(&str, &str)]) -> Output {
    let spec = crate::support::workspace_root().join("specs").join(spec);
    let mut command = clawc();
    command
        .args(["sandbox", "exec", "--spec"])
        .arg(&spec)
        .args(flags)
        .arg("--")
        .args(program)
        .env_remove("CLAWC_SECRET_GITHUB_TOKEN")
        .env_remove("CLAWC_SECRET_GITHUB_ISSUES__GITHUB_TOKEN");
    for (key, value) in env {
        command.env(key, value);
    }
    command.stdin(Stdio::null()).output().expect("run clawc")
}

/// `--spec` runs under the spec's own policy: its config as JSON, and only a placeholder where
/// the secret is.
#[test]
fn spec_policy_carries_config_and_only_a_placeholder() {
    if !native_available() {
        return;
    }
    let out = exec_spec(
        "github_issues.claw",
        &["--config", r#"{"repo": "octo/hello"}"#],
        &[
            "sh",
            "-c",
            "echo \"$CLAWC_CONFIG\"; echo \"$CLAWC_SECRET_GITHUB_TOKEN\"; env",
        ],
        &[("CLAWC_SECRET_GITHUB_TOKEN", "ghp_real_value_never_inside")],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(stdout.contains(r#""repo":"octo/hello""#), "{stdout}");
    assert!(
        stdout.contains("clawc-placeholder-github_issues-github_token"),
        "{stdout}"
    );
    assert!(!stdout.contains("ghp_real_value_never_inside"), "{stdout}");
}

#[test]
fn spec_without_its_secret_names_both_variables() {
    let out = exec_spec(
        "github_issues.claw",
        &["--config", r#"{"repo": "o/r"}"#],
        &["true"],
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        stderr.contains("CLAWC_SECRET_GITHUB_ISSUES__GITHUB_TOKEN"),
        "{stderr}"
    );
    assert!(stderr.contains("CLAWC_SECRET_GITHUB_TOKEN"), "{stderr}");
}

#[test]
fn spec_config_is_validated_and_flags_conflict() {
    let bad = exec_spec(
        "github_issues.claw",
        &["--config", r#"{"nope": 1}"#],
        &["true"],
        &[("CLAWC_SECRET_GITHUB_TOKEN", "x")],
    );
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--config"),
        "{bad:?}"
    );
    let conflict = exec_spec("weather.claw", &["--memory", "67108864"], &["true"], &[]);
    assert_eq!(conflict.status.code(), Some(2), "{conflict:?}");
}

/// The spec's timeout bounds a `--spec` run — the sandbox is not the runtime's default one.
#[test]
fn spec_timeout_bounds_the_run() {
    if !native_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = r#"integration sleepy {
  version "0.1.0"
  summary "Half a second, no more."
  target python
  limits {
    timeout 500ms
  }
  tool ping {
    description "Answers."
    input {}
    output { ok: bool }
  }
  intent "Return ok."
}
"#;
    let path = dir.path().join("sleepy.claw");
    std::fs::write(&path, spec).expect("write spec");
    let started = std::time::Instant::now();
    let out = clawc()
        .args(["sandbox", "exec", "--spec"])
        .arg(&path)
        .args(["--", "sleep", "30"])
        .output()
        .expect("run clawc");
    assert_eq!(out.status.code(), Some(137), "{out:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

/// Installed alone (no `claw-sandbox-init` beside it), clawc is its own sandbox init.
#[test]
fn clawc_alone_is_its_own_init() {
    if !native_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let alone = dir.path().join("clawc");
    std::fs::copy(env!("CARGO_BIN_EXE_clawc"), &alone).expect("copy clawc");
    assert!(!dir.path().join("claw-sandbox-init").exists());
    let out = std::process::Command::new(&alone)
        .env_remove("CLAWC_SANDBOX_INIT")
        .args(["sandbox", "exec", "--", "/bin/echo", "alone"])
        .output()
        .expect("run the copied clawc");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(out.stdout, b"alone\n");
}
