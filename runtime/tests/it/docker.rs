//! The Docker backend against a real engine and the offline base image
//! (`scripts/docker-engine.sh`, `scripts/build-base-image.sh`).

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bollard::query_parameters::ListContainersOptions;
use claw_runtime::docker::{
    DockerConfig, DockerSandbox, BASE_IMAGE, GVISOR_RUNTIME, OWNER_PID_LABEL, OWNER_START_LABEL,
};
use claw_runtime::egress::EgressOutcome;
use claw_runtime::policy::{Mount, Policy};
use claw_runtime::sandbox::{ExitReport, ExitStatus, LimitKind, SandboxCommand, Stdio};
use claw_runtime::{Sandbox, SandboxError};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use super::support::require;

/// A label value unique to one test, so its removal check sees only its own containers.
fn test_label() -> (String, String) {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    (
        "io.clawc.test".into(),
        format!("{}-{n}", std::process::id()),
    )
}

/// The backend with a fresh test label, or `None` (after `require` decided) when the engine or
/// the image is missing.
async fn docker() -> Option<DockerSandbox> {
    docker_with(None).await
}

/// The same under an OCI runtime of the engine's, e.g. gVisor.
async fn docker_with(runtime: Option<&str>) -> Option<DockerSandbox> {
    let config = DockerConfig {
        labels: vec![test_label()],
        init: Some(crate::parts::test_init()),
        runtime: runtime.map(str::to_owned),
        ..DockerConfig::default()
    };
    let missing = match DockerSandbox::connect(config).await {
        Err(e) => Some(e.to_string()),
        Ok(sandbox) => match sandbox.docker().inspect_image(BASE_IMAGE).await {
            Ok(_) => return Some(sandbox),
            Err(e) => Some(format!(
                "image {BASE_IMAGE}: {e}: run scripts/build-base-image.sh"
            )),
        },
    };
    require("docker", missing);
    None
}

/// Containers carrying this sandbox's test label, stopped ones included.
async fn leftovers(sandbox: &DockerSandbox) -> Vec<String> {
    let (key, value) = &sandbox.config().labels[0];
    labelled(sandbox, &format!("{key}={value}")).await
}

/// Containers carrying `label` (`key=value`), stopped ones included.
async fn labelled(sandbox: &DockerSandbox, label: &str) -> Vec<String> {
    let options = ListContainersOptions {
        all: true,
        filters: Some(HashMap::from([(
            "label".to_string(),
            vec![label.to_owned()],
        )])),
        ..Default::default()
    };
    let containers = sandbox
        .docker()
        .list_containers(Some(options))
        .await
        .unwrap();
    containers.into_iter().filter_map(|c| c.id).collect()
}

struct Run {
    report: ExitReport,
    stdout: String,
    stderr: String,
}

/// Run to completion, reading both pipes while waiting, and check nothing was left behind.
async fn run(sandbox: &DockerSandbox, command: SandboxCommand, policy: &Policy) -> Run {
    let mut child = sandbox.spawn(command, policy).await.unwrap();
    let mut stdout = child.take_stdout();
    let mut stderr = child.take_stderr();
    let read_all = |pipe: Option<claw_runtime::sandbox::BoxedRead>| async move {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            pipe.read_to_string(&mut text).await.unwrap();
        }
        text
    };
    let (report, stdout, stderr) = tokio::join!(
        child.wait(),
        read_all(stdout.take()),
        read_all(stderr.take())
    );
    let report = report.unwrap_or_else(|e| panic!("{e}; stdout: {stdout}; stderr: {stderr}"));
    assert_eq!(
        leftovers(sandbox).await,
        Vec::<String>::new(),
        "container not removed"
    );
    Run {
        report,
        stdout,
        stderr,
    }
}

fn sh(script: &str) -> SandboxCommand {
    SandboxCommand::new("/bin/sh", ["-c", script])
}

fn python(code: &str) -> SandboxCommand {
    SandboxCommand::new("python3", ["-c", code])
}

#[tokio::test]
async fn exit_codes_are_the_programs() {
    let Some(sandbox) = docker().await else {
        return;
    };
    let policy = Policy::default();
    let ok = run(
        &sandbox,
        SandboxCommand::new("/bin/true", Vec::<String>::new()),
        &policy,
    )
    .await;
    assert_eq!(ok.report.status, ExitStatus::Code(0));
    assert_eq!(ok.report.killed_by, None);
    let seven = run(&sandbox, sh("exit 7"), &policy).await;
    assert_eq!(seven.report.exit_code(), 7);
    let missing = run(
        &sandbox,
        SandboxCommand::new("/no/such/program", Vec::<String>::new()),
        &policy,
    )
    .await;
    assert_eq!(missing.report.exit_code(), 127, "{}", missing.stderr);
}

#[tokio::test]
async fn stdout_and_stderr_are_separate_pipes() {
    let Some(sandbox) = docker().await else {
        return;
    };
    let out = run(
        &sandbox,
        sh("echo to-out; echo to-err >&2; echo more-out"),
        &Policy::default(),
    )
    .await;
    assert_eq!(out.stdout, "to-out\nmore-out\n");
    assert_eq!(out.stderr, "to-err\n");
}

#[tokio::test]
async fn piped_stdin_reaches_the_program_and_drop_means_eof() {
    let Some(sandbox) = docker().await else {
        return;
    };
    let mut command = SandboxCommand::new("/bin/cat", Vec::<String>::new());
    command.stdin = Stdio::Piped;
    let mut child = sandbox.spawn(command, &Policy::default()).await.unwrap();
    let mut stdin = child.take_stdin().unwrap();
    let mut stdout = child.take_stdout().unwrap();
    stdin.write_all(b"hello through docker\n").await.unwrap();
    drop(stdin);
    let mut text = String::new();
    stdout.read_to_string(&mut text).await.unwrap();
    assert_eq!(text, "hello through docker\n");
    assert_eq!(child.wait().await.unwrap().status, ExitStatus::Code(0));
}

#[tokio::test]
async fn a_long_lived_program_speaks_a_line_protocol() {
    let Some(sandbox) = docker().await else {
        return;
    };
    let code = "import sys\nfor line in sys.stdin:\n    print(int(line) * 2, flush=True)\n";
    let mut command = python(code);
    command.stdin = Stdio::Piped;
    let mut child = sandbox.spawn(command, &Policy::default()).await.unwrap();
    let mut stdin = child.take_stdin().unwrap();
    let mut lines = BufReader::new(child.take_stdout().unwrap()).lines();
    for n in [1, 21, 500] {
        stdin.write_all(format!("{n}\n").as_bytes()).await.unwrap();
        stdin.flush().await.unwrap();
        assert_eq!(lines.next_line().await.unwrap(), Some((n * 2).to_string()));
    }
    stdin.shutdown().await.unwrap();
    assert_eq!(lines.next_line().await.unwrap(), None);
    assert_eq!(child.wait().await.unwrap().exit_code(), 0);
    assert_eq!(leftovers(&sandbox).await, Vec::<String>::new());
}

#[tokio::test]
async fn null_stdin_is_empty() {
    let Some(sandbox) = docker().await else {
        return;
    };
    let out = run(&sandbox, sh("cat; echo end"), &Policy::default()).await;
    assert_eq!(out.stdout, "end\n");
}

#[tokio::test]
async fn the_environment_is_exactly_the_policys() {
    let Some(sandbox) = docker().await else {
        return;
    };
    let mut policy = Policy::default();
    policy.env.insert("GREETING".into(), "hello world".into());
    policy.env.insert("EMPTY".into(), String::new());
    let out = run(
        &sandbox,
        SandboxCommand::new("/usr/bin/env", Vec::<String>::new()),
        &policy,
    )
    .await;
    let mut vars: Vec<&str> = out.stdout.lines().collect();
    vars.sort_unstable();
    // The base environment both backends give (policy::BASE_ENV) and the policy's, but no
    // HOSTNAME or any of the host's variables (this test process has HOME, PATH, …).
    assert_eq!(
        vars,
        [
            "EMPTY=",
            "GREETING=hello world",
            "HOME=/tmp",
            "LANG=C.UTF-8",
            "PATH=/usr/local/bin:/usr/bin:/bin"
        ]
    );
}

#[tokio::test]
async fn it_runs_as_nobody_without_capabilities() {
    let Some(sandbox) = docker().await else {
        return;
    };
    let out = run(&sandbox, sh("id -u; id -g; grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status; grep NoNewPrivs /proc/self/status"), &Policy::default()).await;
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[..2], ["65534", "65534"]);
    for line in &lines[2..5] {
        assert!(
            line.ends_with("0000000000000000"),
            "capability left: {line}"
        );
    }
    assert_eq!(
        lines[5].split_whitespace().collect::<Vec<_>>(),
        ["NoNewPrivs:", "1"]
    );
}

#[tokio::test]
async fn the_root_filesystem_is_read_only() {
    let Some(sandbox) = docker().await else {
        return;
    };
    let out = run(
        &sandbox,
        sh("for p in /etc/x /usr/x /x /var/x; do touch $p 2>&1 || echo refused $p; done"),
        &Policy::default(),
    )
    .await;
    for path in ["/etc/x", "/usr/x", "/x", "/var/x"] {
        assert!(
            out.stdout.contains(&format!("refused {path}")),
            "{path} writable: {}",
            out.stdout
        );
    }
    assert!(
        out.stdout.contains("Read-only file system"),
        "{}",
        out.stdout
    );
}

#[tokio::test]
async fn tmp_is_a_private_sized_tmpfs() {
    let Some(sandbox) = docker().await else {
        return;
    };
    let mut policy = Policy::default();
    policy.limits.tmp_bytes = 1 << 20;
    let script = "grep ' /tmp ' /proc/mounts | cut -d' ' -f3; echo hi > /tmp/f && cat /tmp/f; \
                  head -c 2000000 /dev/zero > /tmp/big || echo full; pwd";
    let out = run(&sandbox, sh(script), &policy).await;
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        ["tmpfs", "hi", "full", "/tmp"],
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("No space left"), "{}", out.stderr);
}

#[tokio::test]
async fn only_declared_mounts_are_visible_and_ro_is_enforced() {
    let Some(sandbox) = docker().await else {
        return;
    };
    let ro = tempfile::tempdir().unwrap();
    let rw = tempfile::tempdir().unwrap();
    std::fs::write(ro.path().join("in.txt"), "from the host\n").unwrap();
    // The sandbox user is 65534; a writable mount must be writable by it on the host side.
    std::fs::set_permissions(rw.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let policy = Policy {
        mounts: vec![
            Mount {
                source: ro.path().into(),
                target: PathBuf::from("/data/in"),
                writable: false,
            },
            Mount {
                source: rw.path().into(),
                target: PathBuf::from("/data/out"),
                writable: true,
            },
        ],
        ..Policy::default()
    };
    let script = "cat /data/in/in.txt; touch /data/in/new 2>&1 || echo ro-refused; \
                  echo written > /data/out/result && echo rw-ok; ls /root /home 2>&1 | head -3";
    let out = run(&sandbox, sh(script), &policy).await;
    assert!(out.stdout.starts_with("from the host\n"), "{}", out.stdout);
    assert!(out.stdout.contains("ro-refused"), "{}", out.stdout);
    assert!(out.stdout.contains("rw-ok"), "{}", out.stdout);
    assert!(!ro.path().join("new").exists());
    assert_eq!(
        std::fs::read_to_string(rw.path().join("result")).unwrap(),
        "written\n"
    );
    // The host's own /tmp (where the mounts come from) is not visible as such.
    let host_file = ro.path().join("in.txt");
    let probe = run(
        &sandbox,
        SandboxCommand::new("cat", [host_file.to_string_lossy()]),
        &Policy::default(),
    )
    .await;
    assert_ne!(
        probe.report.exit_code(),
        0,
        "host file visible: {}",
        probe.stdout
    );
}

#[tokio::test]
async fn there_is_no_network() {
    let Some(sandbox) = docker().await else {
        return;
    };
    let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let code = format!(
        "import socket\n\
         for host in ['127.0.0.1', '172.17.0.1', '10.0.0.1', '1.1.1.1']:\n\
         \x20   try:\n\
         \x20       socket.create_connection((host, {port}), timeout=2); print('connected', host)\n\
         \x20   except OSError as e:\n\
         \x20       print('refused', host, e.errno)\n\
         import os; print(sorted(os.listdir('/sys/class/net')))\n"
    );
    let out = run(&sandbox, python(&code), &Policy::default()).await;
    assert!(!out.stdout.contains("connected"), "{}", out.stdout);
    assert_eq!(
        out.stdout.matches("refused").count(),
        4,
        "{}{}",
        out.stdout,
        out.stderr
    );
    assert!(out.stdout.ends_with("['lo']\n"), "{}", out.stdout);
    assert!(
        listener.accept().is_err(),
        "the host listener saw a connection"
    );
}

#[tokio::test]
async fn the_seccomp_profile_refuses_what_docker_default_allows() {
    let Some(sandbox) = docker().await else {
        return;
    };
    // x86-64 numbers; each call must fail with EPERM (1). Docker 20.10's own default profile lets
    // io_uring, ptrace and TIOCSTI through.
    let code = "import ctypes, fcntl, os, pty, socket, termios\n\
                libc = ctypes.CDLL(None, use_errno=True)\n\
                def errno(nr, *args):\n\
                \x20   ctypes.set_errno(0); r = libc.syscall(nr, *args); return ctypes.get_errno() if r == -1 else 0\n\
                params = ctypes.create_string_buffer(120)\n\
                print('io_uring_setup', errno(425, 4, params))\n\
                print('ptrace_traceme', errno(101, 0, 0, 0, 0))\n\
                print('unshare_user', errno(272, 0x10000000))\n\
                print('bpf', errno(321, 0, 0, 0))\n\
                try:\n\
                \x20   socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0); print('netlink 0')\n\
                except OSError as e:\n\
                \x20   print('netlink', e.errno)\n\
                master, slave = pty.openpty()\n\
                try:\n\
                \x20   fcntl.ioctl(slave, termios.TIOCSTI, b'x'); print('tiocsti 0')\n\
                except OSError as e:\n\
                \x20   print('tiocsti', e.errno)\n";
    let out = run(&sandbox, python(code), &Policy::default()).await;
    assert_eq!(
        out.stdout,
        "io_uring_setup 1\nptrace_traceme 1\nunshare_user 1\nbpf 1\nnetlink 1\ntiocsti 1\n",
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn a_memory_hog_is_killed_as_a_memory_limit() {
    let Some(sandbox) = docker().await else {
        return;
    };
    let mut policy = Policy::default();
    policy.limits.memory_bytes = 64 << 20;
    let out = run(
        &sandbox,
        python("b = bytearray(300 * 1024 * 1024); print('survived')"),
        &policy,
    )
    .await;
    assert_eq!(
        out.report.killed_by,
        Some(LimitKind::Memory),
        "{out_stderr}",
        out_stderr = out.stderr
    );
    assert_eq!(out.report.exit_code(), 137);
    assert!(!out.stdout.contains("survived"));
}

#[tokio::test]
async fn an_endless_program_is_killed_at_the_timeout() {
    let Some(sandbox) = docker().await else {
        return;
    };
    let mut policy = Policy::default();
    policy.limits.timeout = Some(Duration::from_secs(1));
    let out = run(&sandbox, sh("echo started; sleep 60"), &policy).await;
    assert_eq!(out.report.killed_by, Some(LimitKind::Timeout));
    assert_eq!(out.report.exit_code(), 137);
    assert_eq!(out.stdout, "started\n");
    assert!(
        out.report.elapsed < Duration::from_secs(15),
        "{:?}",
        out.report.elapsed
    );
}

#[tokio::test]
async fn the_pids_limit_stops_a_fork_bomb() {
    let Some(sandbox) = docker().await else {
        return;
    };
    let mut policy = Policy::default();
    policy.limits.pids = 16;
    let code = "import os, time\n\
                n = 0\n\
                try:\n\
                \x20   for _ in range(64):\n\
                \x20       if os.fork() == 0:\n\
                \x20           time.sleep(5); os._exit(0)\n\
                \x20       n += 1\n\
                except OSError as e:\n\
                \x20   print('refused', e.errno)\n\
                print('forked', n)\n";
    let out = run(&sandbox, python(code), &policy).await;
    assert!(
        out.stdout.starts_with("refused 11\n"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    let forked: u32 = out
        .stdout
        .trim()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(forked < 16, "{forked} children under a limit of 16 pids");
}

#[tokio::test]
async fn kill_and_drop_remove_the_container() {
    let Some(sandbox) = docker().await else {
        return;
    };
    let mut child = sandbox
        .spawn(sh("sleep 60"), &Policy::default())
        .await
        .unwrap();
    assert_eq!(leftovers(&sandbox).await.len(), 1);
    child.kill().await.unwrap();
    let report = child.wait().await.unwrap();
    assert_eq!(report.status, ExitStatus::Signal(9));
    assert_eq!(report.killed_by, None);
    assert_eq!(leftovers(&sandbox).await, Vec::<String>::new());

    let child = sandbox
        .spawn(sh("sleep 60"), &Policy::default())
        .await
        .unwrap();
    assert_eq!(leftovers(&sandbox).await.len(), 1);
    drop(child);
    assert_eq!(leftovers(&sandbox).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_missing_image_names_the_build_script() {
    let Some(sandbox) = docker().await else {
        return;
    };
    let config = DockerConfig {
        image: "clawc-missing:never-built".into(),
        ..sandbox.config().clone()
    };
    let missing = DockerSandbox::connect(config).await.unwrap();
    let err = missing
        .spawn(sh("true"), &Policy::default())
        .await
        .err()
        .unwrap();
    assert!(matches!(err, SandboxError::Setup(_)), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("clawc-missing:never-built"), "{message}");
    assert!(message.contains("scripts/build-base-image.sh"), "{message}");
    assert_eq!(leftovers(&sandbox).await, Vec::<String>::new());
}

#[tokio::test]
async fn an_unknown_runtime_is_a_setup_error_and_leaves_nothing() {
    let Some(sandbox) = docker().await else {
        return;
    };
    let config = DockerConfig {
        runtime: Some("clawc-no-such-runtime".into()),
        ..sandbox.config().clone()
    };
    let odd = DockerSandbox::connect(config).await.unwrap();
    let err = odd
        .spawn(sh("true"), &Policy::default())
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("clawc-no-such-runtime"), "{err}");
    assert_eq!(leftovers(&sandbox).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_missing_engine_says_how_to_start_one() {
    // Needs no engine: it is about the message when there is none.
    let config = DockerConfig {
        socket: Some("/nonexistent/docker.sock".into()),
        ..DockerConfig::default()
    };
    let err = DockerSandbox::connect(config).await.unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("Docker engine not reachable at /nonexistent/docker.sock"),
        "{message}"
    );
    assert!(message.contains("scripts/docker-engine.sh"), "{message}");
}

#[tokio::test]
async fn no_init_is_a_setup_error() {
    let Some(sandbox) = docker().await else {
        return;
    };
    let config = DockerConfig {
        init: None,
        ..sandbox.config().clone()
    };
    let err = DockerSandbox::connect(config).await.unwrap_err();
    assert!(matches!(err, SandboxError::Setup(_)), "{err:?}");
    assert!(err.to_string().contains("DockerConfig::init"), "{err}");
}

#[tokio::test]
async fn egress_goes_through_the_proxy_and_is_reported() {
    let Some(sandbox) = docker().await else {
        return;
    };
    egress_through_the_proxy(&sandbox).await;
}

async fn egress_through_the_proxy(sandbox: &DockerSandbox) {
    let policy = super::support::replay_one(
        "api.example.test",
        "http://api.example.test/hello",
        b"hello from the fixture",
    );
    let code = "import socket, urllib.request\n\
                print(urllib.request.urlopen('http://api.example.test/hello', timeout=10).read().decode())\n\
                try:\n\
                \x20   urllib.request.urlopen('http://other.example.test/', timeout=10); print('other reached')\n\
                except Exception as e:\n\
                \x20   print('other refused')\n\
                try:\n\
                \x20   socket.create_connection(('1.1.1.1', 80), timeout=2); print('direct reached')\n\
                except OSError:\n\
                \x20   print('direct refused')\n";
    let out = run(sandbox, python(code), &policy).await;
    assert_eq!(
        out.stdout, "hello from the fixture\nother refused\ndirect refused\n",
        "{}",
        out.stderr
    );
    assert_eq!(out.report.exit_code(), 0);
    let seen: Vec<(&str, u16, bool)> = out
        .report
        .egress
        .iter()
        .map(|e| {
            (
                e.host.as_str(),
                e.port,
                matches!(e.outcome, EgressOutcome::Replayed { status: 200 }),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("api.example.test", 80, true),
            ("other.example.test", 80, false)
        ]
    );
    assert!(matches!(
        out.report.egress[1].outcome,
        EgressOutcome::Denied { .. }
    ));
}

/// Polls until no container carries `label`; how long that took, or `None` past `limit`.
async fn gone_within(sandbox: &DockerSandbox, label: &str, limit: Duration) -> Option<Duration> {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if labelled(sandbox, label).await.is_empty() {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// Set in the re-executed test binary that plays a `clawc` owning a container.
const OWNER_HELPER_LABEL: &str = "CLAWC_TEST_DOCKER_OWNER_LABEL";

/// Not a test of its own: the process [`nothing_survives_kill_9_of_its_owner`] starts (this
/// test binary again, filtered to this one function) and kills. It spawns a long-lived
/// container and then waits to be killed; without the variable it does nothing.
#[tokio::test]
async fn owner_helper_process() {
    let Ok(value) = std::env::var(OWNER_HELPER_LABEL) else {
        return;
    };
    let config = DockerConfig {
        labels: vec![("io.clawc.test".into(), value)],
        init: Some(crate::parts::test_init()),
        ..DockerConfig::default()
    };
    let sandbox = DockerSandbox::connect(config).await.unwrap();
    let mut policy = Policy::default();
    policy.limits.timeout = None;
    let _child = sandbox
        .spawn(SandboxCommand::new("/usr/bin/sleep", ["600"]), &policy)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(600)).await;
}

#[tokio::test]
async fn nothing_survives_kill_9_of_its_owner() {
    let Some(sandbox) = docker().await else {
        return;
    };
    let (_, value) = test_label();
    let label = format!("io.clawc.test={value}");
    let mut owner = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["docker::owner_helper_process", "--exact", "--nocapture"])
        .env(OWNER_HELPER_LABEL, &value)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let mut running = Vec::new();
    while running.is_empty() && start.elapsed() < Duration::from_secs(60) {
        if let Ok(Some(status)) = owner.try_wait() {
            panic!("the owner process ended early: {status}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        running = labelled(&sandbox, &label).await;
    }
    assert_eq!(running.len(), 1, "the owner's container never appeared");
    // The container runs (a created-only one would prove nothing about the lifeline).
    let inspected = sandbox
        .docker()
        .inspect_container(&running[0], None)
        .await
        .unwrap();
    assert_eq!(inspected.state.and_then(|s| s.running), Some(true));
    assert_eq!(
        inspected
            .config
            .and_then(|c| c.labels)
            .and_then(|l| l.get(OWNER_PID_LABEL).cloned()),
        Some(owner.id().to_string())
    );
    owner.kill().unwrap(); // SIGKILL: no Drop, no clean-up of its own.
    owner.wait().unwrap();
    let gone = gone_within(&sandbox, &label, Duration::from_secs(5)).await;
    assert!(
        gone.is_some(),
        "container still there 5 s after kill -9 of its owner"
    );
}

#[tokio::test]
async fn a_container_ends_at_its_timeout_even_when_nobody_waits() {
    let Some(sandbox) = docker().await else {
        return;
    };
    let mut policy = Policy::default();
    policy.limits.timeout = Some(Duration::from_secs(1));
    let started = std::time::Instant::now();
    // The program ignores SIGTERM; the host holds the child (and so the lifeline) but never
    // waits: init's own timeout must end it.
    let child = sandbox
        .spawn(sh("trap '' TERM; sleep 600"), &policy)
        .await
        .unwrap();
    let (key, value) = &sandbox.config().labels[0];
    let label = format!("{key}={value}");
    assert_eq!(labelled(&sandbox, &label).await.len(), 1);
    let gone = gone_within(&sandbox, &label, Duration::from_secs(10)).await;
    let total = started.elapsed();
    assert!(gone.is_some(), "container outlived its timeout by 10 s");
    assert!(
        total < Duration::from_secs(5),
        "gone only {total:?} after a 1 s timeout"
    );
    drop(child);
}

#[tokio::test]
async fn init_reports_its_own_timeout() {
    let Some(sandbox) = docker().await else {
        return;
    };
    let mut policy = Policy::default();
    policy.limits.timeout = Some(Duration::from_millis(500));
    let out = run(
        &sandbox,
        sh("trap '' TERM; echo started; sleep 600"),
        &policy,
    )
    .await;
    assert_eq!(out.report.killed_by, Some(LimitKind::Timeout));
    assert_eq!(out.report.status, ExitStatus::Signal(9));
    assert_eq!(out.stdout, "started\n");
    // Init's deadline, not the host's backstop two seconds later.
    assert!(
        out.report.elapsed < Duration::from_millis(2300),
        "{:?}",
        out.report.elapsed
    );
}

#[tokio::test]
async fn reaping_takes_a_dead_owners_container_and_leaves_a_live_ones() {
    let Some(sandbox) = docker().await else {
        return;
    };
    let (key, value) = &sandbox.config().labels[0];
    let ours: HashMap<String, String> = DockerSandbox::owner_labels().into_iter().collect();
    assert_eq!(
        ours.get(OWNER_PID_LABEL),
        Some(&std::process::id().to_string())
    );
    // A process that existed and is gone: its pid and start time name a dead owner.
    let mut dead = std::process::Command::new("/bin/sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", dead.id())).unwrap();
    let start = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .nth(19)
        .unwrap()
        .to_owned();
    let dead_pid = dead.id().to_string();
    dead.kill().unwrap();
    dead.wait().unwrap();
    let mut theirs = ours.clone();
    theirs.insert(OWNER_PID_LABEL.into(), dead_pid);
    theirs.insert(OWNER_START_LABEL.into(), start);
    // Our own pid with another start time: a reused pid, so a dead owner too.
    let mut reused = ours.clone();
    reused.insert(OWNER_START_LABEL.into(), "1".into());

    let docker = sandbox.docker().clone();
    let label = (key.clone(), value.clone());
    let create = |mut labels: HashMap<String, String>| {
        labels.insert(label.0.clone(), label.1.clone());
        let body = bollard::models::ContainerCreateBody {
            image: Some(BASE_IMAGE.into()),
            cmd: Some(vec!["/bin/true".into()]),
            labels: Some(labels),
            ..Default::default()
        };
        let docker = docker.clone();
        async move { docker.create_container(None, body).await.unwrap().id }
    };
    let live = create(ours).await;
    let dead = create(theirs).await;
    let reused = create(reused).await;
    assert_eq!(leftovers(&sandbox).await.len(), 3);
    let reaped = sandbox.reap_orphans().await.unwrap();
    assert!(
        !reaped.contains(&live),
        "a live owner's container was reaped"
    );
    // Other tests connecting meanwhile reap too, so `reaped` may miss one that a concurrent
    // reaper took (or is still removing): what counts is what is left.
    let only_live = |left: &[String]| left == std::slice::from_ref(&live);
    let start = std::time::Instant::now();
    let mut left = leftovers(&sandbox).await;
    while !only_live(&left) && start.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = leftovers(&sandbox).await;
    }
    assert!(
        only_live(&left),
        "left: {left:?}, live: {live}, dead: {dead}, {reused}"
    );
    // Connecting reaps too, and still leaves the live one.
    let again = DockerSandbox::connect(sandbox.config().clone())
        .await
        .unwrap();
    assert_eq!(leftovers(&again).await, vec![live.clone()]);
    sandbox
        .docker()
        .remove_container(
            &live,
            Some(bollard::query_parameters::RemoveContainerOptions {
                force: true,
                ..Default::default()
            }),
        )
        .await
        .unwrap();
}

/// gVisor under `clawc-runsc` (scripts/docker-engine.sh registers it), or `None` after
/// `require` decided.
async fn gvisor() -> Option<DockerSandbox> {
    let sandbox = docker().await?;
    let missing = crate::parts::runtime_missing(&sandbox, GVISOR_RUNTIME).await;
    if !require("gvisor", missing) {
        return None;
    }
    docker_with(Some(GVISOR_RUNTIME)).await
}

#[tokio::test]
async fn gvisor_runs_a_program_and_reports_the_layers_it_replaces() {
    let Some(sandbox) = gvisor().await else {
        return;
    };
    let mut child = sandbox
        .spawn(sh("uname -r; echo hi; exit 3"), &Policy::default())
        .await
        .unwrap();
    let mut gaps: Vec<&str> = child.unenforced().iter().map(|u| u.limit).collect();
    gaps.sort_unstable();
    assert_eq!(
        gaps,
        ["landlock", "pids", "seccomp"],
        "{:?}",
        child.unenforced()
    );
    let mut stdout = child.take_stdout().unwrap();
    let mut text = String::new();
    stdout.read_to_string(&mut text).await.unwrap();
    let report = child.wait().await.unwrap();
    assert_eq!(report.status, ExitStatus::Code(3));
    let lines: Vec<&str> = text.lines().collect();
    // gVisor's own kernel answers, not the host's.
    let host = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_ne!(lines[0], host.trim(), "not running under gVisor");
    assert_eq!(lines[1..], ["hi"]);
    assert_eq!(leftovers(&sandbox).await, Vec::<String>::new());
}

#[tokio::test]
async fn under_gvisor_the_profile_is_not_what_refuses() {
    let Some(sandbox) = gvisor().await else {
        return;
    };
    // What the `Unenforced` entries say, seen: the seccomp profile's denials do not apply
    // (gVisor's kernel serves io_uring and unshare itself), and there is no Landlock (ENOSYS).
    let code = "import ctypes\n\
                libc = ctypes.CDLL(None, use_errno=True)\n\
                def errno(nr, *args):\n\
                \x20   ctypes.set_errno(0); r = libc.syscall(nr, *args); return ctypes.get_errno() if r == -1 else 0\n\
                params = ctypes.create_string_buffer(120)\n\
                print('io_uring_setup', errno(425, 4, params))\n\
                print('unshare_user', errno(272, 0x10000000))\n\
                print('landlock', errno(444, 0, 0, 1))\n";
    let out = run(&sandbox, python(code), &Policy::default()).await;
    assert_eq!(
        out.stdout,
        format!(
            "io_uring_setup 0\nunshare_user 0\nlandlock {}\n",
            libc::ENOSYS
        ),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn gvisor_egress_goes_through_the_proxy() {
    let Some(sandbox) = gvisor().await else {
        return;
    };
    egress_through_the_proxy(&sandbox).await;
}

#[tokio::test]
async fn gvisor_ends_at_the_timeout() {
    let Some(sandbox) = gvisor().await else {
        return;
    };
    let mut policy = Policy::default();
    policy.limits.timeout = Some(Duration::from_secs(1));
    let out = run(
        &sandbox,
        sh("trap '' TERM; echo started; sleep 600"),
        &policy,
    )
    .await;
    assert_eq!(out.report.killed_by, Some(LimitKind::Timeout));
    assert_eq!(out.stdout, "started\n");
}
