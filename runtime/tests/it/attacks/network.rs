//! Direct network attacks, with no proxy in the way: the sandbox's own network namespace must
//! have no route anywhere. Targets are host loopback listeners (which record any connection)
//! or addresses tried only after the program has checked that its namespace has no interface
//! but `lo`, so no packet can leave the machine even if the address would answer.

use super::harness::{allow, base_policy, Ctx, Script};
use super::host::{AbstractUnixCatcher, TcpCatcher, UdpCatcher};

const CONNECT_V4: &str = r#"
port = int(ARGS[0])
connect("ipv4", socket.AF_INET, ("127.0.0.1", port))
connect("localhost", socket.AF_INET, ("localhost", port))
connect("other_loopback", socket.AF_INET, ("127.1.2.3", port))
"#;

pub async fn connect_host_loopback(cx: Ctx) {
    let catcher = TcpCatcher::loopback();
    let script = Script::py(CONNECT_V4).arg(catcher.port);
    let out = cx.run(&script, &base_policy()).await;
    assert_eq!(
        catcher.connections(),
        vec![],
        "a host listener got a connection"
    );
    out.assert_completed().assert_denied("ipv4");

    cx.control(&script).await.assert_ok("ipv4");
    assert!(!catcher.connections().is_empty());
}

const CONNECT_V6: &str = r#"
port = int(ARGS[0])
connect("ipv6", socket.AF_INET6, ("::1", port))
connect("mapped", socket.AF_INET6, ("::ffff:127.0.0.1", port))
"#;

pub async fn connect_host_loopback_ipv6(cx: Ctx) {
    let catcher = TcpCatcher::loopback();
    let script = Script::py(CONNECT_V6).arg(catcher.port);
    let out = cx.run(&script, &base_policy()).await;
    assert_eq!(
        catcher.connections(),
        vec![],
        "a host listener got a connection"
    );
    out.assert_completed()
        .assert_denied("ipv6")
        .assert_denied("mapped");

    let control = cx.control(&script).await;
    if control.result("ipv6").starts_with("ok") {
        assert!(!catcher.connections().is_empty());
    } else {
        eprintln!("[{}] host has no IPv6 loopback: control skipped", cx.case);
    }
}

/// Tries each `host` argument on port 9 (discard), but only from an isolated namespace.
const CONNECT_GUARDED: &str = r#"
if netns_isolated():
    for i, host in enumerate(ARGS):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        connect(f"target{i}", family, (host, 9), timeout=1)
"#;

fn assert_all_unreachable(out: &super::harness::Outcome, targets: &[&str]) {
    out.assert_completed();
    assert_eq!(
        out.result("netns"),
        "isolated",
        "the sandbox shares a network namespace with interfaces"
    );
    for i in 0..targets.len() {
        out.assert_denied(&format!("target{i}"));
    }
}

pub async fn connect_private_addresses(cx: Ctx) {
    let targets = [
        "10.255.255.254",
        "172.31.255.254",
        "192.168.255.254",
        "100.127.255.254",
        "fd00::1",
        "fe80::1",
    ];
    let mut script = Script::py(CONNECT_GUARDED);
    for t in targets {
        script = script.arg(t);
    }
    let out = cx.run(&script, &base_policy()).await;
    assert_all_unreachable(&out, &targets);
}

pub async fn connect_cloud_metadata(cx: Ctx) {
    // 169.254.169.254 as written, in decimal, hex and octal, and IPv4-mapped in two spellings.
    let targets = [
        "169.254.169.254",
        "2852039166",
        "0xa9fea9fe",
        "0251.0376.0251.0376",
        "::ffff:169.254.169.254",
        "::ffff:a9fe:a9fe",
    ];
    let mut script = Script::py(CONNECT_GUARDED);
    for t in targets {
        script = script.arg(t);
    }
    let out = cx.run(&script, &base_policy()).await;
    assert_all_unreachable(&out, &targets);
}

/// Name resolution from inside: the system resolver, and a raw DNS query to a host port.
const DNS: &str = r#"
import struct
attempt("resolv_conf", lambda: open("/etc/resolv.conf").read().strip().replace("\n", " | "))
# An .invalid name: even a broken sandbox would only ever ask a resolver about nothing.
if ARGS[1:] != ["control"] and netns_isolated():
    attempt("getaddrinfo", lambda: socket.getaddrinfo("claw-attack.invalid", 443)[0][4][0])
query = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"\x07example\x07invalid\x00" + struct.pack(">HH", 1, 1)
def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    s.sendto(query, ("127.0.0.1", int(ARGS[0])))
    return len(s.recv(512))  # only a reachable host resolver could answer
attempt("udp_query", udp)
"#;

pub async fn dns_lookups(cx: Ctx) {
    let resolver = UdpCatcher::loopback();
    let script = Script::py(DNS).arg(resolver.port);
    // Even with egress granted, names are resolved by the proxy only, never from inside.
    let mut policy = base_policy();
    allow(&mut policy, "allowed.invalid", 443);
    let out = cx.run(&script, &policy).await;
    assert_eq!(
        resolver.datagrams(),
        0,
        "the host resolver port got a query"
    );
    assert_eq!(out.result("netns"), "isolated");
    out.assert_completed()
        .assert_denied("getaddrinfo")
        .assert_denied("udp_query");

    cx.control(&Script::py(DNS).arg(resolver.port).arg("control"))
        .await;
    assert_eq!(
        resolver.datagrams(),
        1,
        "the control query did not reach the host"
    );
}

const ABSTRACT_UNIX: &str = r#"
def connect_unix(addr):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(addr)
    finally:
        s.close()
attempt("abstract", lambda: connect_unix("\0" + ARGS[0]))
if ARGS[1:] == ["control"]:
    done()
    sys.exit(0)
attempt("docker_sock", lambda: connect_unix("/var/run/docker.sock"))
attempt("run_docker_sock", lambda: connect_unix("/run/docker.sock"))
attempt("systemd_notify", lambda: connect_unix("/run/systemd/private"))
"#;

pub async fn unix_sockets_to_host(cx: Ctx) {
    let catcher = AbstractUnixCatcher::new();
    let script = Script::py(ABSTRACT_UNIX).arg(&catcher.name);
    let out = cx.run(&script, &base_policy()).await;
    assert_eq!(
        catcher.connections(),
        0,
        "the host's abstract socket got a connection"
    );
    out.assert_completed()
        .assert_denied("abstract")
        .assert_denied("docker_sock")
        .assert_denied("run_docker_sock")
        .assert_denied("systemd_notify");

    cx.control(&Script::py(ABSTRACT_UNIX).arg(&catcher.name).arg("control"))
        .await
        .assert_ok("abstract");
    assert_eq!(catcher.connections(), 1);
}
