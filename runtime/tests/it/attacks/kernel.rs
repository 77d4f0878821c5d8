//! Attacks on the kernel's privileged and risky interfaces: mounts, namespaces, io_uring, bpf,
//! keyrings and friends, setuid binaries, raw sockets. The sandbox's seccomp filter, dropped
//! capabilities and `no_new_privs` must refuse each; where cheap, a control run shows the same
//! call working on the bare host, so a refusal is the sandbox's doing.

use std::os::unix::fs::PermissionsExt;

use super::harness::{base_policy, with_mount, Ctx, Script};
use super::host::HostDir;

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Runs `fn` in a forked child (so a call that succeeds cannot change this process) and
/// reports what the child saw.
const IN_CHILD: &str = r#"
def in_child(key, fn):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            ret = fn()
            msg = "ok" if ret in (None, 0) else ("denied:" + errno.errorcode.get(-ret, str(-ret)) if ret < 0 else f"ok:{ret}")
        except OSError as e:
            msg = "denied:" + err_name(e)
        os.write(w, msg.encode())
        os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    result(key, os.read(r, 200).decode() or "denied:child-died")

def checked(ret):
    return -ctypes.get_errno() if ret == -1 else ret
"#;

/// Every mount-table change here targets a fresh private directory, never a system path: if a
/// broken sandbox let these calls through as host root, they would still touch nothing that
/// exists outside this test (`umount` of a non-mount point fails with EINVAL, not EPERM, and so
/// still fails the case).
const MOUNT_SETUP: &str = r#"
import tempfile
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
MS_RDONLY, MS_REMOUNT, MS_BIND, MNT_DETACH = 1, 32, 4096, 2
CLONE_NEWUSER, CLONE_NEWNS = 0x10000000, 0x20000
target = tempfile.mkdtemp().encode()
"#;

const MOUNT_DIRECT: &str = r#"
libc_call("tmpfs", libc.mount, b"none", target, b"tmpfs", 0, None)
libc_call("proc", libc.mount, b"proc", target, b"proc", 0, None)
libc_call("remount_ro", libc.mount, None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY, None)
libc_call("umount", libc.umount2, target, MNT_DETACH)
raw_syscall("fsopen", "fsopen", b"tmpfs", 0)
"#;

/// The classic route to CAP_SYS_ADMIN: a fresh user namespace, then a mount inside it. Runs in a
/// forked child whose new mount namespace nothing else shares, so it is safe as a control too.
const MOUNT_IN_USERNS: &str = r#"
in_child("userns_mount", lambda: checked(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS))
         or checked(libc.mount(b"none", target, b"tmpfs", 0, None)))
"#;

/// Detaches anything a call above did manage to mount, so not even a failed run leaves a mount.
const MOUNT_CLEANUP: &str = r#"
for _ in range(3):
    libc.umount2(target, MNT_DETACH)
os.rmdir(target)
"#;

pub async fn mount_filesystems(cx: Ctx) {
    let attack = Script::py(&format!(
        "{IN_CHILD}{MOUNT_SETUP}{MOUNT_DIRECT}{MOUNT_IN_USERNS}{MOUNT_CLEANUP}"
    ));
    let out = cx.run(&attack, &base_policy()).await;
    out.assert_completed();
    for step in [
        "tmpfs",
        "proc",
        "remount_ro",
        "umount",
        "fsopen",
        "userns_mount",
    ] {
        out.assert_blocked(step);
    }
    // The control runs ONLY the user-namespace step: bare on the host as root, the direct
    // mount calls would change the host's own mount table.
    let control = Script::py(&format!(
        "{IN_CHILD}{MOUNT_SETUP}{MOUNT_IN_USERNS}{MOUNT_CLEANUP}"
    ));
    cx.control(&control).await.assert_ok("userns_mount");
}

const UNSHARE: &str = r#"
FLAGS = dict(user=0x10000000, mnt=0x20000, net=0x40000000, pid=0x20000000, ipc=0x08000000,
             uts=0x04000000, cgroup=0x02000000, time=0x80)
for name, flag in FLAGS.items():
    in_child("unshare_" + name, lambda flag=flag: checked(libc.unshare(flag)))
for ns in ("net", "mnt", "user", "pid"):
    def go(ns=ns):
        fd = os.open(f"/proc/self/ns/{ns}", os.O_RDONLY)
        return checked(libc.setns(fd, 0))
    in_child("setns_" + ns, go)
# clone3 carries its flags behind a pointer seccomp cannot read, so it must be refused whole.
args = (ctypes.c_uint64 * 11)(FLAGS["user"], 0, 0, 0, 17, 0, 0, 0, 0, 0, 0)
def clone3():
    fn = libc.syscall
    fn.restype = ctypes.c_long
    ret = fn(ctypes.c_long(NR["clone3"]), ctypes.byref(args), ctypes.c_size_t(88))
    if ret == 0:
        os._exit(0)
    if ret > 0:
        os.waitpid(ret, 0)
        return ret
    return -ctypes.get_errno()
in_child("clone3_newuser", clone3)
"#;

pub async fn unshare_namespaces(cx: Ctx) {
    let script = Script::py(&format!("{IN_CHILD}{UNSHARE}"));
    let out = cx.run(&script, &base_policy()).await;
    out.assert_completed();
    for ns in ["user", "mnt", "net", "pid", "ipc", "uts", "cgroup", "time"] {
        out.assert_blocked(&format!("unshare_{ns}"));
    }
    for ns in ["net", "mnt", "user", "pid"] {
        out.assert_blocked(&format!("setns_{ns}"));
    }
    out.assert_blocked("clone3_newuser");
    let control = cx.control(&script).await;
    control
        .assert_ok("unshare_user")
        .assert_ok("clone3_newuser");
}

const IO_URING: &str = r#"
params = ctypes.create_string_buffer(120)
raw_syscall("io_uring_setup", "io_uring_setup", ctypes.c_long(4), ctypes.byref(params))
"#;

pub async fn io_uring(cx: Ctx) {
    let script = Script::py(IO_URING);
    cx.run(&script, &base_policy())
        .await
        .assert_completed()
        .assert_blocked("io_uring_setup");
    let enabled = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .map_or(true, |v| v.trim() == "0");
    if enabled {
        cx.control(&script).await.assert_ok("io_uring_setup");
    }
}

const BPF: &str = r#"
import struct
attr = ctypes.create_string_buffer(struct.pack("IIII", 2, 4, 4, 1) + bytes(112))  # an ARRAY map
raw_syscall("bpf_map_create", "bpf", ctypes.c_long(0), ctypes.byref(attr), ctypes.c_long(128))
prog = ctypes.create_string_buffer(128)  # BPF_PROG_LOAD of nothing: refused before validation
raw_syscall("bpf_prog_load", "bpf", ctypes.c_long(5), ctypes.byref(prog), ctypes.c_long(128))
"#;

pub async fn bpf(cx: Ctx) {
    let script = Script::py(BPF);
    cx.run(&script, &base_policy())
        .await
        .assert_completed()
        .assert_blocked("bpf_map_create")
        .assert_blocked("bpf_prog_load");
    if running_as_root() {
        cx.control(&script).await.assert_ok("bpf_map_create");
    }
}

const KEYRING: &str = r#"
KEY_SPEC_PROCESS_KEYRING, KEYCTL_JOIN_SESSION_KEYRING = -2, 1
raw_syscall("add_key", "add_key", b"user", b"claw-attack", b"payload", ctypes.c_long(7),
            ctypes.c_long(KEY_SPEC_PROCESS_KEYRING))
raw_syscall("keyctl_join", "keyctl", ctypes.c_long(KEYCTL_JOIN_SESSION_KEYRING), None)
"#;

pub async fn keyctl(cx: Ctx) {
    let script = Script::py(KEYRING);
    cx.run(&script, &base_policy())
        .await
        .assert_completed()
        .assert_blocked("add_key")
        .assert_blocked("keyctl_join");
    cx.control(&script).await.assert_ok("add_key");
}

const MISC_SYSCALLS: &str = r#"
import struct
# perf_event_open: a software CPU-clock counter on this process.
perf = ctypes.create_string_buffer(struct.pack("IIQ", 1, 128, 0) + bytes(112))
raw_syscall("perf_event_open", "perf_event_open", ctypes.byref(perf), ctypes.c_long(0),
            ctypes.c_long(-1), ctypes.c_long(-1), ctypes.c_long(0))
# A foreign architecture in kexec's flags: without privilege the call is refused (EPERM); with
# it, the flags are rejected (EINVAL) before anything could be loaded or unloaded.
raw_syscall("kexec_load", "kexec_load", ctypes.c_long(0), ctypes.c_long(0), None,
            ctypes.c_long(0x00ff0000))
raw_syscall("init_module", "init_module", None, ctypes.c_long(0), b"")
"#;

const USERFAULTFD: &str = r#"
raw_syscall("userfaultfd", "userfaultfd", ctypes.c_long(1))  # UFFD_USER_MODE_ONLY
"#;

pub async fn kernel_attack_surface(cx: Ctx) {
    let script = Script::py(&format!("{MISC_SYSCALLS}{USERFAULTFD}"));
    let out = cx.run(&script, &base_policy()).await;
    out.assert_completed();
    for step in [
        "perf_event_open",
        "userfaultfd",
        "kexec_load",
        "init_module",
    ] {
        out.assert_blocked(step);
    }
    // The control makes only the harmless call: kexec and module loading stay sandbox-only.
    cx.control(&Script::py(USERFAULTFD))
        .await
        .assert_ok("userfaultfd");
}

/// Runs the setuid copy of `cat` given as argument on its own /proc status: a privilege
/// transition shows as an effective uid different from ours. Also reports this process's
/// capability sets and `no_new_privs`.
const SETUID: &str = r#"
import subprocess
def fields(text):
    return dict((l.split(":", 1)[0], l.split(":", 1)[1].split()) for l in text.splitlines() if ":" in l)
me = fields(open("/proc/self/status").read())
result("no_new_privs", me.get("NoNewPrivs", ["absent"])[0])
result("cap_eff", me["CapEff"][0])
result("cap_prm", me["CapPrm"][0])
def run_setuid():
    out = subprocess.run([ARGS[0], "/proc/self/status"], capture_output=True, timeout=10)
    st = fields(out.stdout.decode())
    real, effective = st["Uid"][0], st["Uid"][1]
    return f"real={real},effective={effective},caps={st['CapEff'][0]}"
if ARGS[0] != "-":
    attempt("setuid_exec", run_setuid)
"#;

pub async fn setuid_binaries(cx: Ctx) {
    // A copy of `cat` owned by another, unprivileged user (daemon, uid 1) and marked setuid:
    // running it is a privilege *transition* without handing anyone root on this host.
    let dir = HostDir::new("setuid");
    let staged = if running_as_root() {
        let path = dir.path().join("suid-cat");
        std::fs::copy("/usr/bin/cat", &path).expect("copy cat");
        std::os::unix::fs::chown(&path, Some(1), Some(1)).expect("chown to daemon");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o4755))
            .expect("setuid bit");
        Some(path)
    } else {
        eprintln!("[{}] not root: cannot stage a setuid binary; checking no_new_privs and capabilities only", cx.case);
        None
    };
    let inside = if staged.is_some() {
        "/suid/suid-cat"
    } else {
        "-"
    };
    let out = cx
        .run(
            &Script::py(SETUID).arg(inside),
            &with_mount(base_policy(), dir.path(), "/suid", false),
        )
        .await;
    out.assert_completed();
    // gVisor's /proc has no NoNewPrivs line; its kernel does keep the bit for exec.
    let expected_nnp: &[&str] = if out.second_kernel {
        &["1", "absent"]
    } else {
        &["1"]
    };
    assert!(
        expected_nnp.contains(&out.result("no_new_privs").as_str()),
        "no_new_privs is not set:\n{out:?}"
    );
    assert_eq!(out.result("cap_eff"), "0000000000000000");
    assert_eq!(out.result("cap_prm"), "0000000000000000");
    if let Some(path) = staged {
        let ran = out.result("setuid_exec");
        let fields: std::collections::BTreeMap<&str, &str> = ran
            .trim_start_matches("ok:")
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .collect();
        assert!(
            ran.starts_with("ok:"),
            "could not run the setuid probe: {ran}"
        );
        assert_eq!(
            fields.get("real"),
            fields.get("effective"),
            "setuid took effect inside the sandbox: {ran}"
        );
        assert_eq!(fields.get("caps"), Some(&"0000000000000000"));

        let control = cx.control(&Script::py(SETUID).arg(path.display())).await;
        assert!(
            control.result("setuid_exec").contains("effective=1,"),
            "the control run did not change uid through the setuid binary:\n{control:?}"
        );
    }
}

const RAW_SOCKETS: &str = r#"
def sock(family, kind, proto=0):
    socket.socket(family, kind, proto).close()
attempt("packet", lambda: sock(socket.AF_PACKET, socket.SOCK_RAW))
attempt("raw_icmp", lambda: sock(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP))
attempt("raw_ipv6", lambda: sock(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6))
"#;

pub async fn raw_sockets(cx: Ctx) {
    let script = Script::py(RAW_SOCKETS);
    cx.run(&script, &base_policy())
        .await
        .assert_completed()
        .assert_denied("packet")
        .assert_denied("raw_icmp")
        .assert_denied("raw_ipv6");
    if running_as_root() {
        cx.control(&script).await.assert_ok("packet");
    }
}

/// The host-wide knobs behind classic container escapes: a core-dump or uevent helper runs as
/// host root, a cgroup release agent too, sysrq drives the kernel. Each is opened for writing
/// and closed at once — being allowed to open one is the escape; nothing is ever written.
const KERNEL_KNOBS: &str = r#"
for i, path in enumerate(["/proc/sys/kernel/core_pattern", "/proc/sys/kernel/modprobe",
                          "/proc/sysrq-trigger", "/sys/kernel/uevent_helper",
                          "/sys/fs/cgroup/memory/release_agent", "/sys/fs/cgroup/release_agent",
                          "/proc/sys/vm/drop_caches"]):
    attempt(f"knob{i}", lambda path=path: os.close(os.open(path, os.O_WRONLY)))
"#;

pub async fn host_kernel_knobs(cx: Ctx) {
    let script = Script::py(KERNEL_KNOBS);
    let out = cx.run(&script, &base_policy()).await;
    out.assert_completed();
    for i in 0..7 {
        out.assert_denied(&format!("knob{i}"));
    }
    if running_as_root() {
        // Opening (never writing) is harmless; bare on the host, root may open them.
        cx.control(&script).await.assert_ok("knob0");
    }
}
