//! Process attacks: seeing, signalling, tracing and reading host processes; reading the host
//! environment; leaving processes behind; stuffing a terminal.

use std::time::Duration;

use super::harness::{base_policy, Ctx, Script};
use super::host::{processes_appearing, start_time, survivors_after_grace, token, HostProcess};

/// Searches the command line and environment of every process this program can see for
/// `ARGS[0]` (a label the host's tokens contain, not a token) and prints only what matches:
/// the control run reads the real host's processes, whose environments must not end up in logs.
const DUMP_PROCESSES: &str = r#"
seen = 0
for pid in sorted(p for p in os.listdir("/proc") if p.isdigit()):
    for f in ("cmdline", "environ"):
        try:
            with open(f"/proc/{pid}/{f}", "rb") as h:
                for item in h.read().split(b"\0"):
                    text = item.decode(errors="replace")
                    if ARGS[0] in text:
                        print(pid, f, text)
        except OSError:
            pass
    seen += 1
result("visible_processes", seen)
"#;

pub async fn see_host_processes(cx: Ctx) {
    let host = HostProcess::spawn();
    let script = Script::py(DUMP_PROCESSES).arg("host");

    let out = cx.run(&script, &base_policy()).await;
    out.assert_completed()
        .assert_absent(&host.argv_token)
        .assert_absent(&host.env_token);
    let visible: usize = out.result("visible_processes").parse().expect("a count");
    assert!(
        visible < 16,
        "the sandbox sees {visible} processes: not its own pid namespace"
    );

    cx.control(&script)
        .await
        .assert_present(&host.argv_token)
        .assert_present(&host.env_token);
}

/// Signals the host pid given as argument with everything that could hurt it.
const SIGNAL: &str = r#"
import signal
pid = int(ARGS[0])
attempt("sigstop", lambda: os.kill(pid, signal.SIGSTOP))
attempt("sigkill", lambda: os.kill(pid, signal.SIGKILL))
attempt("pidfd", lambda: os.pidfd_open(pid))
"#;

pub async fn signal_host_process(cx: Ctx) {
    let mut host = HostProcess::spawn();
    let script = Script::py(SIGNAL).arg(host.pid());

    let out = cx.run(&script, &base_policy()).await;
    host.untouched().expect("host process survives the sandbox");
    // A pid number can exist inside the sandbox's own namespace too; what matters is the host
    // process above, so only the completion is asserted here.
    out.assert_completed();

    let mut victim = HostProcess::spawn();
    cx.control(&Script::py(SIGNAL).arg(victim.pid()))
        .await
        .assert_ok("sigkill");
    assert!(
        victim.untouched().is_err(),
        "the control run could not signal a host process"
    );
}

/// ptrace: a host pid (argument), then this program's own child.
const PTRACE: &str = r#"
import time
PTRACE_TRACEME, PTRACE_ATTACH, PTRACE_DETACH, PTRACE_SEIZE = 0, 16, 17, 0x4206
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
libc.ptrace.restype = ctypes.c_long
host = int(ARGS[0])
libc_call("attach_host", libc.ptrace, PTRACE_ATTACH, host, None, None)
time.sleep(0.2)
libc.ptrace(PTRACE_DETACH, host, None, None)
child = os.fork()
if child == 0:
    time.sleep(30)
    os._exit(0)
libc_call("attach_child", libc.ptrace, PTRACE_SEIZE, child, None, None)
os.kill(child, 9)
os.waitpid(child, 0)
raw_syscall("process_vm_readv", "process_vm_readv", host, 0, 0, 0, 0, 0)
"#;

pub async fn ptrace_processes(cx: Ctx) {
    let mut host = HostProcess::spawn();
    let script = Script::py(PTRACE).arg(host.pid());

    let out = cx.run(&script, &base_policy()).await;
    host.untouched().expect("host process untraced");
    out.assert_completed()
        .assert_denied("attach_host")
        .assert_blocked("attach_child")
        .assert_blocked("process_vm_readv");

    let mut victim = HostProcess::spawn();
    cx.control(&Script::py(PTRACE).arg(victim.pid()))
        .await
        .assert_ok("attach_host")
        .assert_ok("attach_child");
    // The control detached again; the victim is alive.
    victim.untouched().expect("control victim alive");
}

/// Reads the memory of the host test process (argument) through /proc/PID/mem.
const PROC_MEM_HOST: &str = r#"
def read_mem(pid):
    with open(f"/proc/{pid}/maps") as m:
        start = int(m.readline().split("-")[0], 16)
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as h:
        h.seek(start)
        return len(h.read(16))
def open_rw(pid):
    os.close(os.open(f"/proc/{pid}/mem", os.O_RDWR))
attempt("read_host", lambda: read_mem(int(ARGS[0])))
"#;

/// Opens pid 1's and the host process's memory for writing (never writes). Sandbox-only.
const PROC_MEM_WRITE: &str = r#"
attempt("rw_host", lambda: open_rw(int(ARGS[0])))
attempt("pid1_start", lambda: open("/proc/1/stat").read().rsplit(")", 1)[1].split()[19])
attempt("pid1_is_self", lambda: os.getpid() == 1)
attempt("rw_pid1", lambda: open_rw(1))
"#;

pub async fn proc_pid_mem(cx: Ctx) {
    let own = std::process::id();
    let script = Script::py(&format!("{PROC_MEM_HOST}{PROC_MEM_WRITE}")).arg(own);
    let out = cx.run(&script, &base_policy()).await;
    out.assert_completed()
        .assert_denied("read_host")
        .assert_denied("rw_host");
    // pid 1 inside is the sandbox's own, never the host's init: their start times differ.
    let host_init = start_time(1).expect("host pid 1 start time");
    assert_ne!(
        out.result("pid1_start"),
        format!("ok:{host_init}"),
        "pid 1 inside is the host's init"
    );
    // /proc/1/mem is writable only when pid 1 is this very program (its own memory).
    if out.result("pid1_is_self") != "ok:True" {
        out.assert_denied("rw_pid1");
    }

    cx.control(&Script::py(PROC_MEM_HOST).arg(own))
        .await
        .assert_ok("read_host");
}

/// The variable the parent run hands its re-executed child (see `host_env_canary`).
const ENV_CANARY_VAR: &str = "CLAW_ATTACK_ENV_CANARY";

/// Searches every environment this program can reach for `ARGS[0]` (a label the canary
/// contains) and prints the matches; printing everything would put the host's environment into
/// the control run's log.
const DUMP_ENV: &str = r#"
for k, v in sorted(os.environ.items()):
    if ARGS[0] in v:
        print("env", k, v)
for pid in ["self", "1"] + [p for p in os.listdir("/proc") if p.isdigit()]:
    try:
        with open(f"/proc/{pid}/environ", "rb") as h:
            for item in h.read().split(b"\0"):
                text = item.decode(errors="replace")
                if ARGS[0] in text:
                    print(pid, text)
    except OSError:
        pass
"#;

/// A canary in the *test process's own* environment must not reach the sandbox. Setting a
/// variable in this multi-threaded process is unsound, so the test re-executes itself (this
/// one test, exactly) with the canary in the child's environment, and the child does the check.
pub async fn host_env_canary(cx: Ctx) {
    if let Ok(canary) = std::env::var(ENV_CANARY_VAR) {
        let script = Script::py(DUMP_ENV).arg("envcanary");
        cx.run(&script, &base_policy())
            .await
            .assert_completed()
            .assert_absent(&canary);
        cx.control(&script).await.assert_present(&canary);
        return;
    }
    let canary = token("envcanary");
    let exe = std::env::current_exe().expect("own test binary");
    let child = tokio::process::Command::new(exe)
        .args([
            &cx.test_path(),
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ENV_CANARY_VAR, &canary)
        .output()
        .await
        .expect("re-execute the test binary");
    let stdout = String::from_utf8_lossy(&child.stdout);
    let stderr = String::from_utf8_lossy(&child.stderr);
    assert!(
        child.status.success() && stdout.contains("1 passed") && !stderr.contains("SKIPPED"),
        "the re-executed canary check failed:\n{stdout}\n{stderr}"
    );
}

/// Leaves a detached, session-leading grandchild (its argv carries a token) and exits at once.
const LEAVE_BEHIND: &str = r#"
import subprocess
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", ARGS[0]],
                 start_new_session=True, stdin=subprocess.DEVNULL,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
result("spawned", "yes")
"#;

pub async fn background_process_left_behind(cx: Ctx) {
    let marker = token("leftbehind");
    let script = Script::py(LEAVE_BEHIND).arg(&marker);
    let out = cx.run(&script, &base_policy()).await;
    out.assert_completed();
    let survivors = survivors_after_grace(&marker, Duration::from_secs(1));
    assert!(
        survivors.is_empty(),
        "sandbox processes outlived wait(): {survivors:?}"
    );

    // Control: unsandboxed, the grandchild does survive — and the host scan sees it.
    cx.control(&script).await.assert_completed();
    let orphans = processes_appearing(&marker, Duration::from_secs(3));
    for pid in &orphans {
        // SAFETY: plain kill(2) on a pid we just found running our own marker.
        unsafe { libc::kill(*pid as i32, libc::SIGKILL) };
    }
    assert!(
        !orphans.is_empty(),
        "the host scan could not see a left-behind process"
    );
}

/// Makes a pseudo-terminal its controlling terminal and pushes a byte into its input queue with
/// TIOCSTI, then checks whether the byte arrived; also tries the inherited descriptors.
const TIOCSTI: &str = r#"
import fcntl, pty, select, termios
master, slave_fd = pty.openpty()
name = os.ttyname(slave_fd)
r, w = os.pipe()
child = os.fork()
if child == 0:
    os.close(r)
    os.setsid()
    fd = os.open(name, os.O_RDWR)  # a session leader's first tty open makes it controlling
    try:
        for byte in (b"X", b"\n"):  # a whole line: the terminal is in canonical mode
            fcntl.ioctl(fd, termios.TIOCSTI, byte)
        ready, _, _ = select.select([fd], [], [], 1)
        os.write(w, b"ok:injected" if ready else b"ok:not-delivered")
    except OSError as e:
        os.write(w, ("denied:" + err_name(e)).encode())
    os._exit(0)
os.close(w)
os.waitpid(child, 0)
result("own_pty", os.read(r, 100).decode())
for fd in (0, 1, 2):
    attempt(f"fd{fd}", lambda fd=fd: fcntl.ioctl(fd, termios.TIOCSTI, b"X"))
"#;

pub async fn tiocsti_injection(cx: Ctx) {
    let out = cx.run(&Script::py(TIOCSTI), &base_policy()).await;
    out.assert_completed()
        .assert_blocked("own_pty")
        .assert_denied("fd0")
        .assert_denied("fd1")
        .assert_denied("fd2");

    let legacy =
        std::fs::read_to_string("/proc/sys/dev/tty/legacy_tiocsti").is_ok_and(|v| v.trim() == "1");
    if legacy {
        // This kernel still honours TIOCSTI for a process's own terminal: unsandboxed, it works.
        cx.control(&Script::py(TIOCSTI))
            .await
            .assert_ok("own_pty")
            .assert_present("ok:injected");
    }
}
