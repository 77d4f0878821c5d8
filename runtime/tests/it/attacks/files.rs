//! Filesystem attacks: reading and writing the host outside what the policy mounts.

use super::harness::{base_policy, with_mount, Ctx, Script};
use super::host::{token, HostDir};

/// Reads a path given as argument, both directly and through `/proc/1/root`.
const READ_PATH: &str = r#"
path = ARGS[0]
attempt("direct", lambda: open(path).read())
attempt("via_proc1_root", lambda: open("/proc/1/root" + path).read())
"#;

pub async fn read_host_file(cx: Ctx) {
    let dir = HostDir::new("secretdir");
    let secret = token("filecanary");
    let path = dir.file("canary.txt", &secret);
    let script = Script::py(READ_PATH).arg(path.display());

    let out = cx.run(&script, &base_policy()).await;
    out.assert_completed()
        .assert_denied("direct")
        .assert_denied("via_proc1_root")
        .assert_absent(&secret);

    cx.control(&script)
        .await
        .assert_ok("direct")
        .assert_present(&secret);
}

pub async fn read_etc_shadow(cx: Ctx) {
    let script = Script::py(READ_PATH).arg("/etc/shadow");
    let out = cx.run(&script, &base_policy()).await;
    out.assert_completed().assert_denied("direct");
    // Host side: no line of the host's own shadow file (as far as this user can read it)
    // reached the output, whatever the program claimed.
    // (The message never quotes the line: a failure must not print the host's hashes.)
    if let Ok(shadow) = std::fs::read_to_string("/etc/shadow") {
        for line in shadow.lines().filter(|l| l.len() > 8) {
            assert!(
                !out.stdout.contains(line) && !out.stderr.contains(line),
                "a line of the host's /etc/shadow reached the sandboxed program's output"
            );
        }
    }
}

/// Tries to create a file in each directory given as argument.
const WRITE_EACH: &str = r#"
name = ARGS[0]
for i, d in enumerate(ARGS[1:]):
    def go(d=d):
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name), "w") as f:
            f.write("pwned")
    attempt(f"write{i}", go)
"#;

pub async fn write_outside_tmp(cx: Ctx) {
    let host_dir = HostDir::new("writeto");
    let name = token("written");
    // Host directories the sandbox must not write. The host temp dir is not mounted: a write
    // to that path may land in the sandbox's private /tmp, but never on the host.
    let system_dirs = ["/", "/usr", "/etc", "/var/tmp", "/usr/lib"];
    let mut script = Script::py(WRITE_EACH).arg(&name);
    for d in system_dirs {
        script = script.arg(d);
    }
    script = script.arg(host_dir.path().display());

    let out = cx.run(&script, &base_policy()).await;
    let leaked: Vec<_> = system_dirs
        .iter()
        .map(|d| std::path::Path::new(d).join(&name))
        .filter(|p| p.exists())
        .collect();
    for p in &leaked {
        let _ = std::fs::remove_file(p);
    }
    assert!(leaked.is_empty(), "sandbox wrote to the host: {leaked:?}");
    assert_eq!(
        host_dir.entries(),
        Vec::<String>::new(),
        "host temp dir was written"
    );
    out.assert_completed();
    for i in 0..system_dirs.len() {
        out.assert_denied(&format!("write{i}"));
    }

    // Control: the same program, unsandboxed, does write the host directory.
    cx.control(
        &Script::py(WRITE_EACH)
            .arg(&name)
            .arg(host_dir.path().display()),
    )
    .await
    .assert_ok("write0");
    assert_eq!(host_dir.entries(), vec![name]);
}

/// Every way to change a directory and the file `data.txt` in it.
const MODIFY_DIR: &str = r#"
d = ARGS[0]
f = os.path.join(d, "data.txt")
def create():
    with open(os.path.join(d, "new.txt"), "w") as h:
        h.write("pwned")
def append():
    with open(f, "a") as h:
        h.write("pwned")
attempt("create", create)
attempt("append", append)
attempt("truncate", lambda: os.truncate(f, 0))
attempt("chmod", lambda: os.chmod(f, 0o777))
attempt("rename", lambda: os.rename(f, os.path.join(d, "moved.txt")))
attempt("mkdir", lambda: os.mkdir(os.path.join(d, "sub")))
attempt("unlink", lambda: os.unlink(f))
"#;

pub async fn write_readonly_mount(cx: Ctx) {
    let dir = HostDir::new("romount");
    let original = token("rocontent");
    let file = dir.file("data.txt", &original);
    let script = Script::py(MODIFY_DIR).arg("/data");

    let out = cx
        .run(
            &script,
            &with_mount(base_policy(), dir.path(), "/data", false),
        )
        .await;
    out.assert_completed();
    for step in [
        "create", "append", "truncate", "chmod", "rename", "mkdir", "unlink",
    ] {
        out.assert_denied(step);
    }
    assert_eq!(dir.entries(), vec!["data.txt".to_owned()]);
    assert_eq!(std::fs::read_to_string(&file).expect("read back"), original);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o644, "mode of a read-only mount's file changed");

    // Control: the same mount made writable lets the same program change the host directory,
    // so the refusals above are the read-only flag's doing.
    let writable = HostDir::new("rwmount");
    writable.file("data.txt", &original);
    cx.run(
        &script,
        &with_mount(base_policy(), writable.path(), "/data", true),
    )
    .await
    .assert_completed()
    .assert_ok("create");
    assert!(writable.entries().contains(&"new.txt".to_owned()));
}

/// Plants a symlink in the writable mount (ARGS[0]) that points at the host's secret directory
/// (ARGS[1], not mounted), then writes and reads through it.
const SYMLINK_SECRET: &str = r#"
w, secret_dir = ARGS[0], ARGS[1]
attempt("plant", lambda: os.symlink(secret_dir, os.path.join(w, "link")))
def write_through():
    with open(os.path.join(w, "link", "pwned.txt"), "w") as h:
        h.write("pwned")
attempt("write_through", write_through)
attempt("read_through", lambda: open(os.path.join(w, "link", "canary.txt")).read())
"#;

/// The same through links to /etc (a file named ARGS[2], which the host side checks and
/// removes) and through /proc/1/root. Sandbox-only: bare on the host these would succeed.
const SYMLINK_SYSTEM: &str = r#"
attempt("plant_etc", lambda: os.symlink("/etc", os.path.join(w, "etc")))
def write_etc():
    with open(os.path.join(w, "etc", ARGS[2]), "w") as h:
        h.write("pwned")
attempt("write_etc", write_etc)
attempt("plant_root", lambda: os.symlink("/proc/1/root" + secret_dir, os.path.join(w, "root")))
attempt("read_root", lambda: open(os.path.join(w, "root", "canary.txt")).read())
"#;

pub async fn symlink_out_of_writable_mount(cx: Ctx) {
    let work = HostDir::new("symwork");
    let secret_dir = HostDir::new("symsecret");
    let secret = token("symcanary");
    secret_dir.file("canary.txt", &secret);
    let etc_name = token("etcpwned");
    let script = Script::py(&format!("{SYMLINK_SECRET}{SYMLINK_SYSTEM}"))
        .arg("/work")
        .arg(secret_dir.path().display())
        .arg(&etc_name);

    let out = cx
        .run(
            &script,
            &with_mount(base_policy(), work.path(), "/work", true),
        )
        .await;
    out.assert_completed()
        .assert_ok("plant") // planting is allowed: the mount is writable …
        .assert_denied("write_through") // … but the link leads nowhere on the host
        .assert_denied("read_through")
        .assert_denied("write_etc")
        .assert_denied("read_root")
        .assert_absent(&secret);
    let etc_file = std::path::Path::new("/etc").join(&etc_name);
    let escaped_to_etc = etc_file.exists();
    let _ = std::fs::remove_file(&etc_file);
    assert!(!escaped_to_etc, "the sandbox wrote {}", etc_file.display());
    assert_eq!(secret_dir.entries(), vec!["canary.txt".to_owned()]);

    // Control: on the host itself the planted link does lead into the secret directory.
    let control_work = HostDir::new("symctl");
    cx.control(
        &Script::py(SYMLINK_SECRET)
            .arg(control_work.path().display())
            .arg(secret_dir.path().display()),
    )
    .await
    .assert_ok("write_through")
    .assert_present(&secret);
    assert!(secret_dir.entries().contains(&"pwned.txt".to_owned()));
}

/// Hard-links the test's own file of the read-only mount (ARGS[0]) into the writable mount
/// (ARGS[1]) and writes through the new name.
const HARDLINK_RO: &str = r#"
ro, w = ARGS[0], ARGS[1]
def link_and_write(src, name):
    dst = os.path.join(w, name)
    os.link(src, dst)
    with open(dst, "a") as h:
        h.write("pwned")
attempt("ro_file", lambda: link_and_write(os.path.join(ro, "victim.txt"), "hl"))
"#;

/// Hard-links system files into the writable mount. Linking alone is the escape (the writable
/// name would reach a read-only inode), so nothing is ever written through these links, and any
/// link made is removed again: a broken sandbox must not damage the host's own binaries.
const HARDLINK_SYSTEM: &str = r#"
def link_only(src, name):
    dst = os.path.join(w, name)
    os.link(src, dst)
    os.unlink(dst)
attempt("system_file", lambda: link_only("/usr/bin/python3", "py"))
attempt("tmp_to_mount", lambda: os.link("/tmp", os.path.join(w, "tmpdir")))
"#;

pub async fn hardlink_out_of_writable_mount(cx: Ctx) {
    let ro = HostDir::new("hlro");
    let work = HostDir::new("hlwork");
    let original = token("victim");
    let victim = ro.file("victim.txt", &original);
    let python = std::fs::read("/usr/bin/python3").expect("read host python3");
    let script = Script::py(&format!("{HARDLINK_RO}{HARDLINK_SYSTEM}"))
        .arg("/ro")
        .arg("/work");
    let policy = with_mount(
        with_mount(base_policy(), ro.path(), "/ro", false),
        work.path(),
        "/work",
        true,
    );

    let out = cx.run(&script, &policy).await;
    out.assert_completed()
        .assert_denied("ro_file")
        .assert_denied("system_file")
        .assert_denied("tmp_to_mount");
    assert_eq!(std::fs::read_to_string(&victim).expect("victim"), original);
    assert_eq!(work.entries(), Vec::<String>::new());
    assert!(std::fs::read("/usr/bin/python3").expect("python3") == python);

    // Control: on the host, both directories sit on one filesystem and one mount, and the
    // same link-then-write does modify the "read-only" file.
    let ctl_ro = HostDir::new("hlctlro");
    let ctl_work = HostDir::new("hlctlwork");
    let ctl_victim = ctl_ro.file("victim.txt", &original);
    cx.control(
        &Script::py(HARDLINK_RO)
            .arg(ctl_ro.path().display())
            .arg(ctl_work.path().display()),
    )
    .await
    .assert_ok("ro_file");
    assert_ne!(
        std::fs::read_to_string(&ctl_victim).expect("control victim"),
        original
    );
}

/// Opens the running interpreter for writing through every name it has. Being allowed to open
/// it for writing is the escape; nothing is ever written, so a broken sandbox cannot damage the
/// host's binaries.
const OVERWRITE_EXE: &str = r#"
def overwrite(path):
    os.close(os.open(path, os.O_WRONLY))
attempt("proc_self_exe", lambda: overwrite("/proc/self/exe"))
attempt("proc_1_exe", lambda: overwrite("/proc/1/exe"))
attempt("sys_executable", lambda: overwrite(os.path.realpath(sys.executable)))
attempt("usr_bin_sh", lambda: overwrite("/usr/bin/sh"))
"#;

pub async fn proc_self_exe_overwrite(cx: Ctx) {
    let watched = ["/usr/bin/python3", "/usr/bin/sh", "/usr/bin/bwrap"];
    let before: Vec<Option<Vec<u8>>> = watched.iter().map(|p| std::fs::read(p).ok()).collect();

    let out = cx.run(&Script::py(OVERWRITE_EXE), &base_policy()).await;

    for (path, was) in watched.iter().zip(&before) {
        let now = std::fs::read(path).ok();
        assert!(&now == was, "host binary {path} changed");
    }
    out.assert_completed();
    for step in [
        "proc_self_exe",
        "proc_1_exe",
        "sys_executable",
        "usr_bin_sh",
    ] {
        out.assert_denied(step);
    }
}

/// Raw devices that would expose the host's memory, disks or kernel log.
const DEVICES: &str = r#"
for i, dev in enumerate(["/dev/mem", "/dev/kmem", "/dev/port", "/dev/kmsg", "/dev/sda",
                         "/dev/vda", "/dev/nvme0n1", "/dev/tty", "/dev/console"]):
    attempt(f"dev{i}", lambda dev=dev: len(open(dev, "rb", buffering=0).read(16)))
"#;

pub async fn read_raw_devices(cx: Ctx) {
    let out = cx.run(&Script::py(DEVICES), &base_policy()).await;
    out.assert_completed();
    for i in 0..9 {
        out.assert_denied(&format!("dev{i}"));
    }
}

/// A planted init: if it ever ran, as PID 1 or as the program, it leaves `planted-ran` in the
/// host folder it was mounted from (mounted writable, so it could).
const PLANTED_INIT: &str =
    "#!/bin/sh\necho pwned > \"$(dirname \"$0\")/../planted-ran\"\nexec \"$@\"\n";

/// Mounts a host folder over paths the sandbox itself provides: `/run` (hiding init at
/// `/run/clawc/init` behind a planted one), `/` itself, `/lib64` (the dynamic loader), `/usr`,
/// `/etc/ssl/certs`'s ancestor `/etc`, `/tmp`, and `/run/clawc` directly. Each must be refused
/// at spawn, by the backend itself, before anything runs.
pub async fn mount_over_sandbox_paths(cx: Ctx) {
    let dir = HostDir::new("plant");
    std::fs::create_dir_all(dir.path().join("clawc")).expect("mkdir");
    let planted = dir.file("clawc/init", PLANTED_INIT);
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let script = Script::sh("echo RESULT done yes");
    for target in [
        "/run",
        "/",
        "/lib64",
        "/usr",
        "/etc",
        "/tmp",
        "/run/clawc",
        "/proc/sys",
    ] {
        let policy = with_mount(base_policy(), dir.path(), target, true);
        let refusal = cx.spawn_refusal(&script, &policy).await;
        let message = match refusal {
            Some(e) => e.to_string(),
            None => panic!("{}: a mount at {target} was accepted", cx.test_path()),
        };
        assert!(
            message.contains(target),
            "the refusal names the target {target}: {message}"
        );
    }
    assert!(
        !dir.path().join("planted-ran").exists(),
        "the planted init ran"
    );
    // Control: the planted script works when started, so its absence of a trace means it
    // never ran.
    let ran = std::process::Command::new(&planted)
        .arg("/bin/true")
        .status()
        .expect("run the planted init bare");
    assert!(ran.success());
    assert!(dir.path().join("planted-ran").exists());
}
