//! The native backend against real bubblewrap, seccomp, Landlock and cgroups.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use claw_runtime::egress::EgressOutcome;
use claw_runtime::native::NativeSandbox;
use claw_runtime::policy::{EgressMode, FallbackResponse, Mount, Policy};
use claw_runtime::sandbox::{ExitReport, ExitStatus, LimitKind, Sandbox, SandboxCommand, Stdio};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use super::support::require;

fn sandbox() -> Option<NativeSandbox> {
    let missing = (!Path::new("/usr/bin/bwrap").exists())
        .then(|| "bwrap is not installed (apt-get install bubblewrap)".to_owned());
    if !require("bubblewrap", missing) {
        return None;
    }
    Some(NativeSandbox::new(crate::parts::test_init()).expect("native sandbox"))
}

struct Run {
    report: ExitReport,
    stdout: String,
    stderr: String,
}

async fn run_with(sandbox: &NativeSandbox, policy: &Policy, program: &str, args: &[&str]) -> Run {
    let command = SandboxCommand::new(program, args.iter().copied());
    let mut child = sandbox.spawn(command, policy).await.expect("spawn");
    let mut stdout = child.take_stdout().expect("stdout piped");
    let mut stderr = child.take_stderr().expect("stderr piped");
    let (mut out, mut err) = (String::new(), String::new());
    let (read_out, read_err, report) = tokio::join!(
        stdout.read_to_string(&mut out),
        stderr.read_to_string(&mut err),
        child.wait()
    );
    read_out.expect("read stdout");
    read_err.expect("read stderr");
    Run {
        report: report.expect("wait"),
        stdout: out,
        stderr: err,
    }
}

async fn sh(sandbox: &NativeSandbox, policy: &Policy, script: &str) -> Run {
    run_with(sandbox, policy, "sh", &["-c", script]).await
}

fn python(script: &str) -> Vec<&str> {
    vec!["-c", script]
}

#[tokio::test]
async fn exit_codes_are_the_programs() {
    let Some(sandbox) = sandbox() else { return };
    let policy = Policy::default();
    let ok = run_with(&sandbox, &policy, "true", &[]).await;
    assert_eq!(ok.report.status, ExitStatus::Code(0));
    assert_eq!(ok.report.killed_by, None);
    let failed = run_with(&sandbox, &policy, "false", &[]).await;
    assert_eq!(failed.report.status, ExitStatus::Code(1));
    let custom = sh(&sandbox, &policy, "exit 42").await;
    assert_eq!(custom.report.exit_code(), 42);
    let signalled = sh(&sandbox, &policy, "kill -TERM $$").await;
    assert_eq!(signalled.report.status, ExitStatus::Signal(libc::SIGTERM));
    let missing = run_with(&sandbox, &policy, "no-such-program", &[]).await;
    assert_eq!(missing.report.status, ExitStatus::Code(127));
    assert!(
        missing.stderr.contains("no-such-program"),
        "{}",
        missing.stderr
    );
}

#[tokio::test]
async fn stdio_is_piped_both_ways() {
    let Some(sandbox) = sandbox() else { return };
    let mut command = SandboxCommand::new("sh", ["-c", "tr a-z A-Z; echo done >&2"]);
    command.stdin = Stdio::Piped;
    let mut child = sandbox.spawn(command, &Policy::default()).await.unwrap();
    let mut stdin = child.take_stdin().unwrap();
    stdin.write_all(b"hello sandbox\n").await.unwrap();
    drop(stdin);
    let mut out = String::new();
    child
        .take_stdout()
        .unwrap()
        .read_to_string(&mut out)
        .await
        .unwrap();
    let mut err = String::new();
    child
        .take_stderr()
        .unwrap()
        .read_to_string(&mut err)
        .await
        .unwrap();
    let report = child.wait().await.unwrap();
    assert_eq!(out, "HELLO SANDBOX\n");
    assert_eq!(err, "done\n");
    assert_eq!(report.status, ExitStatus::Code(0));
}

#[tokio::test]
async fn environment_is_exactly_the_policys() {
    let Some(sandbox) = sandbox() else { return };
    let mut policy = Policy::default();
    policy.env.insert("GREETING".into(), "hi".into());
    let run = run_with(&sandbox, &policy, "env", &[]).await;
    let names: BTreeSet<&str> = run
        .stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, _)| k)
        .collect();
    // The test process has CARGO_*, HOME=/root, … — none of it may show up.
    // bubblewrap adds PWD for the working directory; nothing of the host's may show up.
    let expected: BTreeSet<&str> = ["GREETING", "HOME", "LANG", "PATH", "PWD"].into();
    assert_eq!(names, expected, "{}", run.stdout);
    assert!(run.stdout.contains("HOME=/tmp\n"));
    assert!(run.stdout.contains("GREETING=hi\n"));
}

#[tokio::test]
async fn only_usr_tmp_and_plumbing_are_visible() {
    let Some(sandbox) = sandbox() else { return };
    let run = sh(
        &sandbox,
        &Policy::default(),
        "ls -A /; echo ---; ls /proc | grep -c '^[0-9]'; hostname; cat /etc/passwd; pwd",
    )
    .await;
    let (root, rest) = run.stdout.split_once("---\n").unwrap();
    let allowed: BTreeSet<&str> = [
        "bin", "dev", "lib", "lib64", "proc", "run", "sbin", "tmp", "usr",
    ]
    .into();
    let seen: BTreeSet<&str> = root.lines().collect();
    assert!(
        seen.is_subset(&allowed),
        "unexpected entries in /: {seen:?}"
    );
    let mut rest = rest.lines();
    let processes: u32 = rest.next().unwrap().parse().unwrap();
    // init, sh, ls/grep: the host's processes are not there.
    assert!(processes <= 4, "{processes} processes visible");
    assert_eq!(rest.next(), Some("sandbox"));
    assert_eq!(rest.next(), Some("/tmp"));
    assert!(run.stderr.contains("/etc/passwd"), "{}", run.stderr);
}

#[tokio::test]
async fn outside_tmp_is_read_only_and_tmp_is_not_executable() {
    let Some(sandbox) = sandbox() else { return };
    let run = sh(
        &sandbox,
        &Policy::default(),
        "touch /usr/x 2>/dev/null && echo usr-writable; touch /x 2>/dev/null && echo root-writable; \
         echo ok > /tmp/f && cat /tmp/f; printf '#!/bin/sh\\necho ran\\n' > /tmp/s; chmod +x /tmp/s; /tmp/s",
    )
    .await;
    assert_eq!(run.stdout, "ok\n");
    assert_eq!(run.report.status, ExitStatus::Code(126), "{}", run.stderr);
}

#[tokio::test]
async fn declared_mounts_are_read_only_or_writable_as_declared() {
    let Some(sandbox) = sandbox() else { return };
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("in.txt"), "input").unwrap();
    let out = tempfile::tempdir().unwrap();
    let policy = Policy {
        mounts: vec![
            Mount {
                source: data.path().into(),
                target: "/data".into(),
                writable: false,
            },
            Mount {
                source: out.path().into(),
                target: "/out".into(),
                writable: true,
            },
        ],
        ..Policy::default()
    };
    let run = sh(
        &sandbox,
        &policy,
        "cat /data/in.txt; echo x > /data/in.txt 2>/dev/null && echo ro-writable; echo result > /out/r.txt",
    )
    .await;
    assert_eq!(run.stdout, "input");
    assert_eq!(run.report.status, ExitStatus::Code(0), "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(data.path().join("in.txt")).unwrap(),
        "input"
    );
    assert_eq!(
        std::fs::read_to_string(out.path().join("r.txt")).unwrap(),
        "result\n"
    );
}

#[tokio::test]
async fn bad_mount_targets_are_refused() {
    let Some(sandbox) = sandbox() else { return };
    for target in ["relative", "/usr/lib", "/data/../etc", "/"] {
        let policy = Policy {
            mounts: vec![Mount {
                source: "/tmp".into(),
                target: target.into(),
                writable: false,
            }],
            ..Policy::default()
        };
        let spawned = sandbox
            .spawn(SandboxCommand::new("true", [""; 0]), &policy)
            .await;
        assert!(spawned.is_err(), "{target} was accepted");
    }
}

#[tokio::test]
async fn timeout_kills_the_whole_tree() {
    let Some(sandbox) = sandbox() else { return };
    let mut policy = Policy::default();
    policy.limits.timeout = Some(Duration::from_millis(300));
    let run = sh(&sandbox, &policy, "sleep 31.4159 & sleep 31.4159").await;
    assert_eq!(run.report.killed_by, Some(LimitKind::Timeout));
    assert_eq!(run.report.exit_code(), 137);
    assert!(run.report.elapsed < Duration::from_secs(2));
    assert_eq!(host_processes_with_arg("31.4159"), 0);
}

#[tokio::test]
async fn background_processes_do_not_outlive_the_sandbox() {
    let Some(sandbox) = sandbox() else { return };
    let run = sh(&sandbox, &Policy::default(), "sleep 27.1828 & echo started").await;
    assert_eq!(run.stdout, "started\n");
    assert_eq!(host_processes_with_arg("27.1828"), 0);
}

/// Host processes whose command line contains `needle` (scanning the host's /proc).
fn host_processes_with_arg(needle: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
        .filter(|cmdline| String::from_utf8_lossy(cmdline).contains(needle))
        .count()
}

#[tokio::test]
async fn memory_hog_is_stopped() {
    let Some(sandbox) = sandbox() else { return };
    let mut policy = Policy::default();
    policy.limits.memory_bytes = 48 << 20;
    let run = run_with(
        &sandbox,
        &policy,
        "python3",
        &python("b = bytearray(300 << 20); b[::4096] = b'x' * len(b[::4096]); print('survived')"),
    )
    .await;
    assert!(!run.stdout.contains("survived"));
    if cgroup_writable("memory") {
        assert_eq!(
            run.report.killed_by,
            Some(LimitKind::Memory),
            "{}",
            run.stderr
        );
        assert_eq!(run.report.exit_code(), 137);
    } else {
        // Only RLIMIT_DATA: the allocation fails inside the program.
        assert!(run.stderr.contains("MemoryError"), "{}", run.stderr);
    }
}

/// Whether this process can create a cgroup with `controller`, probed here independently of
/// the backend: v1's per-controller hierarchy, or a v2 tree offering it to root.
fn cgroup_writable(controller: &str) -> bool {
    let v1 = Path::new("/sys/fs/cgroup")
        .join(controller)
        .join(format!("clawc-probe-{}", std::process::id()));
    if std::fs::create_dir(&v1).is_ok() {
        let _ = std::fs::remove_dir(&v1);
        return true;
    }
    let v2_offers = std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
        .is_ok_and(|list| list.split_whitespace().any(|c| c == controller));
    // SAFETY: geteuid has no preconditions.
    v2_offers && unsafe { libc::geteuid() } == 0
}

#[tokio::test]
async fn fork_bomb_is_contained_by_the_pids_limit() {
    let Some(sandbox) = sandbox() else { return };
    let mut policy = Policy::default();
    policy.limits.pids = 16;
    let script = "import os, time\nn = 0\ntry:\n    while n < 1000:\n        if os.fork() == 0:\n            time.sleep(30)\n            os._exit(0)\n        n += 1\nexcept OSError:\n    pass\nprint(n)";
    let run = run_with(&sandbox, &policy, "python3", &python(script)).await;
    let forked: u32 = run
        .stdout
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{}", run.stderr));
    assert!(forked < 16, "forked {forked} processes under a limit of 16");
    assert!(run.report.elapsed < Duration::from_secs(2));
}

#[tokio::test]
async fn seccomp_refuses_namespaces_ptrace_and_kernel_surface() {
    let Some(sandbox) = sandbox() else { return };
    let policy = Policy::default();
    let unshare = run_with(&sandbox, &policy, "unshare", &["-U", "true"]).await;
    assert_ne!(unshare.report.status, ExitStatus::Code(0));
    assert!(
        unshare.stderr.contains("Operation not permitted"),
        "{}",
        unshare.stderr
    );

    // Each probe prints the errno the syscall failed with.
    let script = r#"
import ctypes, os, socket
libc = ctypes.CDLL(None, use_errno=True)
def errno_of(nr, *args):
    r = libc.syscall(nr, *args)
    return 0 if r >= 0 else ctypes.get_errno()
print("ptrace", errno_of(101, 0, 0, 0, 0))
print("io_uring_setup", errno_of(425, 8, ctypes.create_string_buffer(120)))
print("bpf", errno_of(321, 0, 0, 0))
print("keyctl", errno_of(250, 0, 0, 0, 0))
print("clone3", errno_of(435, 0, 0))
print("clone_newuser", errno_of(56, 0x10000000 | 17, 0, 0, 0, 0))
print("x32_ptrace", errno_of(0x40000000 + 521, 0, 0, 0, 0))
print("tiocsti", errno_of(16, 0, 0x5412, ctypes.c_char_p(b"x")))
try:
    socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0); print("netlink", 0)
except OSError as e:
    print("netlink", e.errno)
socket.socket(socket.AF_INET, socket.SOCK_STREAM).close(); print("inet", 0)
"#;
    let run = run_with(&sandbox, &policy, "python3", &python(script)).await;
    assert_eq!(run.report.status, ExitStatus::Code(0), "{}", run.stderr);
    let eperm = libc::EPERM.to_string();
    let enosys = libc::ENOSYS.to_string();
    for line in run.stdout.lines() {
        let (probe, errno) = line.split_once(' ').unwrap();
        let expected = match probe {
            "clone3" => enosys.as_str(),
            "inet" => "0",
            _ => eperm.as_str(),
        };
        assert_eq!(errno, expected, "{probe}: {}", run.stdout);
    }
    assert_eq!(run.stdout.lines().count(), 10);
}

#[tokio::test]
async fn unenforced_limits_are_reported_never_dropped() {
    let Some(sandbox) = sandbox() else { return };
    let mut child = sandbox
        .spawn(SandboxCommand::new("true", [""; 0]), &Policy::default())
        .await
        .unwrap();
    let reported: BTreeSet<&str> = child.unenforced().iter().map(|u| u.limit).collect();
    child.wait().await.unwrap();
    // Without a pids cgroup, RLIMIT_NPROC counts the sandbox user's processes — except for
    // root, whom the kernel exempts, so only root sees pids reported.
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let expected: BTreeSet<&str> = ["memory", "cpu", "pids"]
        .into_iter()
        .filter(|c| !cgroup_writable(c) && (*c != "pids" || root))
        .collect();
    // Landlock is probed by init; on kernels below the reviewed ABI it is reported too.
    let reported_cgroups: BTreeSet<&str> = reported
        .iter()
        .copied()
        .filter(|limit| *limit != "landlock")
        .collect();
    assert_eq!(reported_cgroups, expected, "{reported:?}");
    for gap in child.unenforced() {
        assert!(!gap.reason.is_empty());
    }
}

#[tokio::test]
async fn egress_goes_through_the_proxy_and_is_reported() {
    let Some(sandbox) = sandbox() else { return };
    let policy = super::support::replay_one(
        "api.example.test",
        "http://api.example.test/hello",
        b"hi from replay",
    );
    let script = r#"
import urllib.request, urllib.error, socket
print(urllib.request.urlopen("http://api.example.test/hello", timeout=5).read().decode())
try:
    urllib.request.urlopen("http://api.example.test/other", timeout=5)
except urllib.error.HTTPError as e:
    print("other", e.code)
try:
    socket.create_connection(("10.0.0.1", 80), timeout=1)
except OSError as e:
    print("direct", type(e).__name__)
import ssl
print("ca", ssl.create_default_context().cert_store_stats()["x509_ca"] > 0)
"#;
    let run = run_with(&sandbox, &policy, "python3", &python(script)).await;
    assert_eq!(run.report.status, ExitStatus::Code(0), "{}", run.stderr);
    let mut lines = run.stdout.lines();
    assert_eq!(lines.next(), Some("hi from replay"));
    assert!(
        lines.next().is_some_and(|l| l.starts_with("other ")),
        "{}",
        run.stdout
    );
    assert!(
        lines.next().is_some_and(|l| l.starts_with("direct ")),
        "{}",
        run.stdout
    );
    assert_eq!(
        lines.next(),
        Some("ca True"),
        "CA bundle for CONNECT tunnels"
    );
    let outcomes: Vec<_> = run
        .report
        .egress
        .iter()
        .map(|e| (e.path.clone(), e.outcome.clone()))
        .collect();
    assert!(
        outcomes.contains(&(
            Some("/hello".into()),
            EgressOutcome::Replayed { status: 200 }
        )),
        "{outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .any(|(path, outcome)| path.as_deref() == Some("/other")
                && *outcome == EgressOutcome::Unmatched),
        "{outcomes:?}"
    );
}

/// Replay with a fallback: recorded fixtures first, then the fallback's responses in turn as an
/// upstream's (no proxy marker), recorded as such; hosts outside the allowlist are still refused;
/// and the caller sees each request while the program is still running.
#[tokio::test]
async fn replay_with_a_fallback_answers_in_turn_and_shows_requests_as_they_happen() {
    let Some(sandbox) = sandbox() else { return };
    let mut policy = super::support::replay_one(
        "api.example.test",
        "http://api.example.test/hello",
        b"hi from replay",
    );
    let EgressMode::Replay(fixtures) = policy.network.mode.clone() else {
        unreachable!("replay_one replays")
    };
    let canned = |status, body: &[u8]| FallbackResponse {
        status,
        content_type: Some("application/json".to_owned()),
        body: body.to_vec(),
    };
    policy.network.mode = EgressMode::ReplayWithFallback {
        fixtures,
        fallback: vec![canned(404, b"{\"e\":404}"), canned(500, b"{\"e\":500}")],
    };
    let script = r#"
import sys, urllib.request, urllib.error
def get(url):
    try:
        r = urllib.request.urlopen(url, timeout=5)
        return "%d %s" % (r.status, r.read().decode())
    except urllib.error.HTTPError as e:
        return "%d %s %s" % (e.code, e.read().decode().strip(), e.headers.get("x-clawc-egress"))
for line in sys.stdin:
    print(get(line.strip()), flush=True)
"#;
    let mut command = SandboxCommand::new("python3", python(script));
    command.stdin = Stdio::Piped;
    let mut child = sandbox.spawn(command, &policy).await.expect("spawn");
    let mut stdin = child.take_stdin().expect("stdin piped");
    let mut stdout = BufReader::new(child.take_stdout().expect("stdout piped"));
    let mut answers = Vec::new();
    let mut seen = Vec::new();
    for url in [
        "http://api.example.test/hello",
        "http://api.example.test/a",
        "http://api.example.test/b",
        "http://api.example.test/c",
        "http://elsewhere.test/",
    ] {
        stdin
            .write_all(format!("{url}\n").as_bytes())
            .await
            .unwrap();
        let mut line = String::new();
        stdout.read_line(&mut line).await.unwrap();
        answers.push(line.trim().to_owned());
        seen.push(child.egress_so_far().len());
    }
    drop(stdin);
    let report = child.wait().await.expect("wait");
    assert_eq!(
        answers[..4],
        [
            "200 hi from replay",
            "404 {\"e\":404} None",
            "500 {\"e\":500} None",
            "404 {\"e\":404} None",
        ]
    );
    assert!(
        answers[4].starts_with("403 ") && answers[4].ends_with(" proxy"),
        "{answers:?}"
    );
    assert_eq!(
        seen,
        [1, 2, 3, 4, 5],
        "one more request seen after each answer"
    );
    let outcomes: Vec<_> = report.egress.iter().map(|e| e.outcome.clone()).collect();
    assert_eq!(
        outcomes[..4],
        [
            EgressOutcome::Replayed { status: 200 },
            EgressOutcome::Fallback { status: 404 },
            EgressOutcome::Fallback { status: 500 },
            EgressOutcome::Fallback { status: 404 },
        ]
    );
    assert!(
        matches!(outcomes[4], EgressOutcome::Denied { .. }),
        "{outcomes:?}"
    );
    assert!(
        child.egress_so_far().is_empty(),
        "after wait the report has them"
    );
}

#[tokio::test]
async fn kill_stops_the_sandbox_at_once() {
    let Some(sandbox) = sandbox() else { return };
    let command = SandboxCommand::new("sh", ["-c", "sleep 23.456 & sleep 23.456"]);
    let mut child = sandbox.spawn(command, &Policy::default()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    child.kill().await.unwrap();
    let report = child.wait().await.unwrap();
    assert_eq!(report.status, ExitStatus::Signal(libc::SIGKILL));
    assert_eq!(report.killed_by, None);
    assert!(report.elapsed < Duration::from_secs(2));
    assert_eq!(host_processes_with_arg("23.456"), 0);
}

#[tokio::test]
async fn dropping_the_child_takes_the_sandbox_down() {
    let Some(sandbox) = sandbox() else { return };
    let command = SandboxCommand::new("sleep", ["19.283"]);
    let child = sandbox.spawn(command, &Policy::default()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(child);
    // The kernel tears the PID namespace down asynchronously after the kill.
    let mut left = usize::MAX;
    for _ in 0..50 {
        left = host_processes_with_arg("19.283");
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(left, 0);
}

#[tokio::test]
async fn a_sandbox_bubblewrap_cannot_build_is_a_setup_error() {
    let Some(sandbox) = sandbox() else { return };
    let mut command = SandboxCommand::new("true", [""; 0]);
    command.cwd = Some("/no/such/dir".into());
    let mut child = sandbox.spawn(command, &Policy::default()).await.unwrap();
    let err = child.wait().await.unwrap_err();
    assert!(err.to_string().contains("bubblewrap"), "{err}");
}

#[tokio::test]
async fn the_program_inherits_only_stdio() {
    let Some(sandbox) = sandbox() else { return };
    let run = sh(&sandbox, &Policy::default(), "ls /proc/self/fd").await;
    // 0-2, plus the fd `ls` itself opens on the directory.
    let fds: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(fds, ["0", "1", "2", "3"], "{}", run.stderr);
}

#[tokio::test]
async fn pids_exhaustion_is_reported() {
    let Some(sandbox) = sandbox() else { return };
    let mut policy = Policy::default();
    policy.limits.pids = 8;
    let run = sh(
        &sandbox,
        &policy,
        "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 5 & done; wait",
    )
    .await;
    assert_ne!(run.report.status, ExitStatus::Code(0), "{}", run.stderr);
    assert!(run.report.elapsed < Duration::from_secs(2));
    if cgroup_writable("pids") {
        assert_eq!(run.report.killed_by, Some(LimitKind::Pids));
    }
}

#[tokio::test]
async fn the_program_cannot_reach_into_init() {
    let Some(sandbox) = sandbox() else { return };
    let run = sh(
        &sandbox,
        &Policy::default(),
        "head -c1 /proc/1/mem >/dev/null 2>&1 && echo mem; readlink /proc/1/fd/0 >/dev/null 2>&1 && echo fd; \
         cat /proc/1/environ >/dev/null 2>&1 && echo environ; kill -KILL 1; echo alive",
    )
    .await;
    assert_eq!(run.stdout, "alive\n", "{}", run.stderr);
    assert_eq!(run.report.status, ExitStatus::Code(0));
}

#[tokio::test]
async fn output_over_the_cap_ends_the_run() {
    let Some(sandbox) = sandbox() else { return };
    let mut policy = Policy::default();
    policy.limits.output_bytes = Some(1000);
    let run = sh(
        &sandbox,
        &policy,
        "echo started; i=0; while [ $i -lt 2000 ]; do echo 0123456789; i=$((i+1)); done; echo finished",
    )
    .await;
    assert!(run.stdout.starts_with("started\n"), "{}", run.stdout);
    assert!(!run.stdout.contains("finished"));
    assert_eq!(run.stdout.len() + run.stderr.len(), 1000);
    assert_eq!(run.report.killed_by, Some(LimitKind::Output));
    assert_eq!(run.report.exit_code(), 137);

    // Exactly at the cap is within it.
    policy.limits.output_bytes = Some(6);
    let run = sh(&sandbox, &policy, "printf 12345; echo").await;
    assert_eq!(run.stdout, "12345\n");
    assert_eq!(run.report.killed_by, None);
}
