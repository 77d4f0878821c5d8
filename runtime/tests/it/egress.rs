//! The egress proxy over real sockets: local upstream servers on 127.0.0.1 (named in
//! `allow_ips`), a static resolver for names, raw HTTP over the proxy's Unix socket so every
//! request is exactly what a hostile sandbox could send.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener as StdTcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use claw_runtime::bridge::spawn_bridge_on;
use claw_runtime::egress::{
    EgressEvent, EgressOutcome, EgressProxy, ProxyLimits, ProxyOptions, StaticResolver,
};
use claw_runtime::policy::{
    EgressMode, Fixture, HostPattern, Injection, NetworkPolicy, SecretRule, SecretValue,
};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UnixStream};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const PLACEHOLDER: &str = "CLAW_PLACEHOLDER_gh_token";
const SECRET: &str = "ghp_REAL-secret-value";

/// What a local upstream received (the relay's suite records into it too).
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) method: String,
    pub(crate) uri: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Seen {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

pub(crate) type SeenLog = Arc<Mutex<Vec<Seen>>>;

async fn record_and_answer(request: Request<Incoming>, seen: SeenLog) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    seen.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    });
    // `/echo`: an upstream that repeats the credential it got — in a redirect, another header
    // and an error page — as careless services do.
    if parts.uri.path().starts_with("/echo") {
        let auth = parts
            .headers
            .get("authorization")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        let token = auth.trim_start_matches("Bearer ");
        let page = format!("<p>bad request with {auth}; token={token}</p>");
        return Response::builder()
            .status(302)
            .header(
                "location",
                format!("https://elsewhere.test/login?t={token}"),
            )
            .header("x-debug-auth", auth.clone())
            .header("content-length", page.len())
            .body(Full::new(Bytes::from(page)))
            .unwrap();
    }
    Response::new(Full::new(Bytes::from_static(b"hello from upstream")))
}

/// A plain HTTP/1.1 upstream on 127.0.0.1 that records what it receives.
async fn http_upstream() -> (SocketAddr, SeenLog) {
    let listener = TcpListener::bind((LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = SeenLog::default();
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let log = Arc::clone(&log);
                    async move { Ok::<_, hyper::Error>(record_and_answer(req, log).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, seen)
}

/// A TLS upstream for `name` on 127.0.0.1, its certificate issued by a fresh test CA.
pub(crate) async fn tls_upstream(name: &str) -> (SocketAddr, CertificateDer<'static>, SeenLog) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    // Distinct names, or OpenSSL-based clients take the leaf for a self-signed certificate.
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "clawc test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, &ca_key);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let mut leaf_params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
    leaf_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind((LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = SeenLog::default();
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (log, acceptor) = (Arc::clone(&log), acceptor.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let service = service_fn(move |req| {
                    let log = Arc::clone(&log);
                    async move { Ok::<_, hyper::Error>(record_and_answer(req, log).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (addr, ca_cert.der().clone(), seen)
}

fn socket_path() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    std::env::temp_dir().join(format!(
        "claw-egress-test-{}-{}.sock",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ))
}

fn allow(host: &str, port: u16) -> HostPattern {
    HostPattern {
        host: host.to_owned(),
        port,
    }
}

fn header_secret(hosts: &[&str]) -> SecretRule {
    SecretRule {
        name: "gh_token".to_owned(),
        placeholder: PLACEHOLDER.to_owned(),
        value: SecretValue(SECRET.to_owned()),
        injection: Injection::Header {
            name: "Authorization".to_owned(),
            template: "Bearer {value}".to_owned(),
        },
        hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
        plaintext_hosts: Vec::new(),
    }
}

/// A secret the policy lets reach `hosts` over plain HTTP (the spec's explicit opt-in).
fn plaintext_secret(hosts: &[&str]) -> SecretRule {
    SecretRule {
        plaintext_hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
        ..header_secret(hosts)
    }
}

/// Names every test resolves: `service.test`, `other.test` and `*.svc.test` are 127.0.0.1
/// (reachable only because tests name 127.0.0.1 in `allow_ips`), `evil.test` too (never named).
pub(crate) fn resolver() -> StaticResolver {
    StaticResolver::new()
        .with("service.test", [LOCALHOST])
        .with("other.test", [LOCALHOST])
        .with("a.svc.test", [LOCALHOST])
        .with("b.a.svc.test", [LOCALHOST])
        .with("svc.test", [LOCALHOST])
        .with("evil.test", [LOCALHOST])
        .with("mixed.test", ["1.1.1.1".parse().unwrap(), LOCALHOST])
        .with("secure.test", [LOCALHOST])
}

async fn start(policy: NetworkPolicy, roots: Vec<CertificateDer<'static>>) -> EgressProxy {
    let options = ProxyOptions {
        resolver: Arc::new(resolver()),
        extra_roots: roots,
        ..ProxyOptions::default()
    };
    EgressProxy::start_with(&policy, &socket_path(), options)
        .await
        .unwrap()
}

/// Sends raw bytes to the proxy and reads until it closes the connection.
async fn raw(proxy: &EgressProxy, request: &str) -> String {
    let mut stream = UnixStream::connect(proxy.socket_path()).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

async fn get(proxy: &EgressProxy, url: &str, extra_headers: &str) -> String {
    raw(
        proxy,
        &format!("GET {url} HTTP/1.1\r\nHost: ignored\r\n{extra_headers}Connection: close\r\n\r\n"),
    )
    .await
}

fn status(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"))
}

fn denial(events: &[EgressEvent]) -> &str {
    match &events.last().expect("an event").outcome {
        EgressOutcome::Denied { reason } => reason,
        other => panic!("expected a denial, got {other:?}"),
    }
}

fn live(allow: Vec<HostPattern>) -> NetworkPolicy {
    NetworkPolicy {
        allow,
        allow_ips: vec![LOCALHOST],
        ..NetworkPolicy::default()
    }
}

#[tokio::test]
async fn allowlisted_host_is_forwarded_to_the_vetted_address() {
    let (upstream, seen) = http_upstream().await;
    let port = upstream.port();
    let proxy = start(live(vec![allow("service.test", port)]), vec![]).await;
    let response = get(
        &proxy,
        &format!("http://Service.Test.:{port}/hello?x=1"),
        "",
    )
    .await;
    assert_eq!(status(&response), 200, "{response}");
    assert!(response.ends_with("hello from upstream"));
    let post = raw(
        &proxy,
        &format!(
            "POST http://service.test:{port}/items HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        ),
    )
    .await;
    assert_eq!(status(&post), 200, "{post}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        (seen[0].method.as_str(), seen[0].uri.as_str()),
        ("GET", "/hello?x=1")
    );
    assert_eq!(
        seen[0].header("host"),
        Some(format!("service.test:{port}").as_str())
    );
    assert_eq!(
        (seen[1].method.as_str(), seen[1].body.as_slice()),
        ("POST", &b"hello"[..])
    );
    assert_eq!(seen[1].header("content-length"), Some("5"));
    let socket = proxy.socket_path().to_owned();
    let events = proxy.shutdown().await;
    assert!(!socket.exists(), "shutdown removes the socket");
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[0],
        EgressEvent {
            method: "GET".to_owned(),
            host: "service.test".to_owned(),
            port,
            path: Some("/hello?x=1".to_owned()),
            outcome: EgressOutcome::Allowed { status: Some(200) },
        }
    );
}

#[tokio::test]
async fn hosts_and_ports_outside_the_allowlist_are_refused() {
    let (upstream, seen) = http_upstream().await;
    let port = upstream.port();
    let proxy = start(live(vec![allow("service.test", port)]), vec![]).await;
    let other_host = get(&proxy, &format!("http://other.test:{port}/"), "").await;
    assert_eq!(status(&other_host), 403);
    assert!(
        other_host.contains("not in the network allowlist"),
        "{other_host}"
    );
    let other_port = get(&proxy, &format!("http://service.test:{}/", port + 1), "").await;
    assert_eq!(status(&other_port), 403);
    let events = proxy.shutdown().await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].port, port + 1);
    assert!(denial(&events).contains("not in the network allowlist"));
    assert!(seen.lock().unwrap().is_empty(), "nothing reached upstream");
}

#[tokio::test]
async fn wildcards_match_strictly_deeper_names_only() {
    let (upstream, _seen) = http_upstream().await;
    let port = upstream.port();
    let proxy = start(live(vec![allow("*.svc.test", port)]), vec![]).await;
    for (host, expected) in [
        ("a.svc.test", 200),
        ("b.a.svc.test", 200),
        ("svc.test", 403),
    ] {
        let response = get(&proxy, &format!("http://{host}:{port}/"), "").await;
        assert_eq!(status(&response), expected, "{host}: {response}");
    }
}

#[tokio::test]
async fn every_internal_address_form_is_refused_after_allowlisting() {
    // The allowlist names each literal, so only the address vetting stands in the way; a
    // listener really is on 127.0.0.1:port and must see nothing.
    let (upstream, seen) = http_upstream().await;
    let port = upstream.port();
    let literals = [
        "127.0.0.1",
        "127.1",
        "2130706433",
        "0x7f000001",
        "0177.0.0.1",
        "2852039166",
        "0xa9fea9fe",
        "0251.0376.0251.0376",
        "169.254.169.254",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.0.1",
        "100.64.0.1",
        "0.0.0.0",
        "[::1]",
        "[::]",
        "[::ffff:127.0.0.1]",
        "[::ffff:a9fe:a9fe]",
        "[64:ff9b::7f00:1]",
        "[fd00:ec2::254]",
        "[fe80::1]",
        "[fc00::1]",
    ];
    let policy = NetworkPolicy {
        allow: literals.iter().map(|host| allow(host, port)).collect(),
        ..NetworkPolicy::default()
    };
    let proxy = start(policy, vec![]).await;
    for literal in literals {
        let response = get(&proxy, &format!("http://{literal}:{port}/"), "").await;
        assert_eq!(status(&response), 403, "{literal}: {response}");
        assert!(response.contains("forbidden"), "{literal}: {response}");
    }
    let events = proxy.shutdown().await;
    assert_eq!(events.len(), literals.len());
    assert!(
        events[5].outcome
            == EgressOutcome::Denied {
                reason: "address 169.254.169.254 is forbidden: cloud metadata endpoint".to_owned()
            }
    );
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn names_resolving_to_internal_addresses_are_refused() {
    let (upstream, seen) = http_upstream().await;
    let port = upstream.port();
    let policy = NetworkPolicy {
        allow: vec![allow("evil.test", port), allow("mixed.test", port)],
        ..NetworkPolicy::default()
    };
    let proxy = start(policy, vec![]).await;
    for host in ["evil.test", "mixed.test"] {
        let response = get(&proxy, &format!("http://{host}:{port}/"), "").await;
        assert_eq!(status(&response), 403, "{response}");
    }
    let events = proxy.shutdown().await;
    assert!(denial(&events).contains("mixed.test resolves to address 127.0.0.1 is forbidden"));
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn credentials_are_injected_on_the_secrets_host_and_never_logged() {
    let (upstream, seen) = http_upstream().await;
    let port = upstream.port();
    let mut policy = live(vec![allow("service.test", port)]);
    // A plain-HTTP upstream gets the credential only because the policy opts in for it.
    policy.secrets = vec![plaintext_secret(&["service.test"])];
    let proxy = start(policy, vec![]).await;
    let response = get(
        &proxy,
        &format!("http://service.test:{port}/user"),
        &format!("Authorization: Bearer {PLACEHOLDER}\r\n"),
    )
    .await;
    assert_eq!(status(&response), 200, "{response}");
    assert!(!response.contains(SECRET));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    let events = proxy.shutdown().await;
    assert!(!format!("{events:?}").contains(SECRET));
}

#[tokio::test]
async fn query_injection_replaces_the_parameter_and_events_keep_the_placeholder() {
    let (upstream, seen) = http_upstream().await;
    let port = upstream.port();
    let mut policy = live(vec![allow("service.test", port)]);
    policy.secrets = vec![SecretRule {
        injection: Injection::Query {
            name: "api_key".to_owned(),
        },
        ..plaintext_secret(&["service.test"])
    }];
    let proxy = start(policy, vec![]).await;
    let url = format!("http://service.test:{port}/q?api_key={PLACEHOLDER}&city=Oslo");
    assert_eq!(status(&get(&proxy, &url, "").await), 200);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[0].uri, format!("/q?city=Oslo&api_key={SECRET}"));
    let events = proxy.shutdown().await;
    assert_eq!(
        events[0].path.as_deref(),
        Some(format!("/q?api_key={PLACEHOLDER}&city=Oslo").as_str())
    );
    assert!(!format!("{events:?}").contains(SECRET));
}

#[tokio::test]
async fn a_placeholder_sent_to_another_host_is_refused_wherever_it_hides() {
    let (upstream, seen) = http_upstream().await;
    let port = upstream.port();
    let mut policy = live(vec![allow("service.test", port), allow("other.test", port)]);
    policy.secrets = vec![header_secret(&["service.test"])];
    let proxy = start(policy, vec![]).await;
    let url = format!("http://other.test:{port}/");
    let in_header = get(&proxy, &url, &format!("X-Token: {PLACEHOLDER}\r\n")).await;
    let in_url = get(&proxy, &format!("{url}?t=%43LAW_PLACEHOLDER_gh_token"), "").await;
    let body = format!("{{\"token\":\"{PLACEHOLDER}\"}}");
    let in_body = raw(
        &proxy,
        &format!(
            "POST {url} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
    .await;
    for response in [&in_header, &in_url, &in_body] {
        assert_eq!(status(response), 403, "{response}");
        assert!(
            response.contains("placeholder or value of secret `gh_token`"),
            "{response}"
        );
    }
    let events = proxy.shutdown().await;
    assert_eq!(events.len(), 3);
    assert!(denial(&events).contains("may only be sent to service.test"));
    assert!(
        seen.lock().unwrap().is_empty(),
        "the placeholder never left the proxy"
    );
}

#[tokio::test]
async fn https_urls_sent_as_plain_http_are_upgraded_to_tls_with_injection() {
    let (upstream, ca, seen) = tls_upstream("secure.test").await;
    let port = upstream.port();
    let mut policy = live(vec![allow("secure.test", port)]);
    policy.secrets = vec![header_secret(&["secure.test"])];
    let proxy = start(policy.clone(), vec![ca]).await;
    let response = get(&proxy, &format!("https://secure.test:{port}/repos"), "").await;
    assert_eq!(status(&response), 200, "{response}");
    assert!(response.ends_with("hello from upstream"));
    let seen_now = seen.lock().unwrap().clone();
    assert_eq!(seen_now[0].uri, "/repos");
    assert_eq!(
        seen_now[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    drop(proxy);

    // Without the test CA the upstream's certificate is not trusted: nothing is sent.
    let untrusting = start(policy, vec![]).await;
    let response = get(
        &untrusting,
        &format!("https://secure.test:{port}/again"),
        "",
    )
    .await;
    assert_eq!(status(&response), 502, "{response}");
    assert!(response.contains("TLS"), "{response}");
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn connect_tunnels_reach_allowlisted_endpoints_only() {
    let (upstream, seen) = http_upstream().await;
    let port = upstream.port();
    let mut policy = live(vec![allow("service.test", port)]);
    // A secret's host stays reachable through a tunnel (with nothing injected into it).
    policy.secrets = vec![header_secret(&["service.test"])];
    let proxy = start(policy, vec![]).await;

    let mut tunnel = UnixStream::connect(proxy.socket_path()).await.unwrap();
    let connect =
        format!("CONNECT service.test:{port} HTTP/1.1\r\nHost: service.test:{port}\r\n\r\n");
    tunnel.write_all(connect.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(tunnel.read_u8().await.unwrap());
    }
    assert!(head.starts_with(b"HTTP/1.1 200 OK\r\n"), "{head:?}");
    tunnel
        .write_all(
            b"GET /through-tunnel HTTP/1.1\r\nHost: service.test\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
    let mut response = String::new();
    tunnel.read_to_string(&mut response).await.unwrap();
    assert!(response.ends_with("hello from upstream"), "{response}");
    assert_eq!(seen.lock().unwrap()[0].uri, "/through-tunnel");

    let refused = raw(
        &proxy,
        "CONNECT other.test:443 HTTP/1.1\r\nHost: other.test:443\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status(&refused), 403, "{refused}");
    let events = proxy.shutdown().await;
    assert_eq!(events[0].outcome, EgressOutcome::Allowed { status: None });
    assert_eq!(events[0].path, None);
    assert!(denial(&events).contains("other.test:443 is not in the network allowlist"));
}

fn fixture(method: &str, url: &str, request_body: Option<&[u8]>, body: &str) -> Fixture {
    Fixture {
        method: method.to_owned(),
        url: url.to_owned(),
        request_body: request_body.map(<[u8]>::to_vec),
        status: 200,
        content_type: Some("application/json".to_owned()),
        body: body.as_bytes().to_vec(),
    }
}

#[tokio::test]
async fn replay_serves_fixtures_and_reports_unmatched_requests() {
    let policy = NetworkPolicy {
        allow: vec![
            allow("api.replay.test", 443),
            allow("plain.replay.test", 80),
        ],
        mode: EgressMode::Replay(vec![
            fixture(
                "GET",
                "https://api.replay.test/items?state=open&per_page=2",
                None,
                "[1,2]",
            ),
            fixture(
                "POST",
                "https://api.replay.test/items",
                Some(b"{\"n\":1}"),
                "{\"ok\":true}",
            ),
            fixture("GET", "http://plain.replay.test/", None, "\"plain\""),
        ]),
        // The proxy injects this key itself; fixtures do not record it.
        secrets: vec![SecretRule {
            injection: Injection::Query {
                name: "api_key".to_owned(),
            },
            ..header_secret(&["api.replay.test"])
        }],
        ..NetworkPolicy::default()
    };
    let proxy = start(policy, vec![]).await;
    let hit = get(
        &proxy,
        &format!("https://api.replay.test/items?per_page=2&api_key={PLACEHOLDER}&state=open"),
        "",
    )
    .await;
    assert_eq!(status(&hit), 200, "{hit}");
    assert!(
        hit.contains("application/json") && hit.ends_with("[1,2]"),
        "{hit}"
    );
    let post = |body: &'static str| {
        format!(
            "POST https://api.replay.test/items HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    assert!(raw(&proxy, &post("{\"n\":1}"))
        .await
        .ends_with("{\"ok\":true}"));
    assert_eq!(status(&raw(&proxy, &post("{\"n\":2}")).await), 502);
    assert!(get(&proxy, "http://plain.replay.test/", "")
        .await
        .ends_with("\"plain\""));
    let miss = get(
        &proxy,
        "https://api.replay.test/items?state=closed&per_page=2",
        "",
    )
    .await;
    assert_eq!(status(&miss), 502);
    assert!(
        miss.contains("no recorded fixture matches GET https://api.replay.test/items?state=closed")
    );
    let outside = get(&proxy, "https://elsewhere.test/", "").await;
    assert_eq!(status(&outside), 403, "the allowlist applies first");
    let outcomes: Vec<EgressOutcome> = proxy
        .shutdown()
        .await
        .into_iter()
        .map(|e| e.outcome)
        .collect();
    assert_eq!(
        outcomes[..5].to_vec(),
        vec![
            EgressOutcome::Replayed { status: 200 },
            EgressOutcome::Replayed { status: 200 },
            EgressOutcome::Unmatched,
            EgressOutcome::Replayed { status: 200 },
            EgressOutcome::Unmatched,
        ]
    );
    assert!(matches!(outcomes[5], EgressOutcome::Denied { .. }));
}

#[tokio::test]
async fn malformed_and_oversized_requests_are_refused() {
    let proxy = start(live(vec![allow("service.test", 80)]), vec![]).await;
    let origin_form = raw(
        &proxy,
        "GET /x HTTP/1.1\r\nHost: service.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status(&origin_form), 400, "{origin_form}");
    let huge = format!("X-Big: {}\r\n", "a".repeat(100 << 10));
    let oversized = get(&proxy, "http://service.test/", &huge).await;
    assert_eq!(status(&oversized), 431, "{oversized}");
    let events = proxy.shutdown().await;
    assert_eq!(events.len(), 2);
    assert!(denial(&events[..1]).contains("absolute URL"));
    assert!(denial(&events).contains("malformed, oversized or too slow request"));
}

#[tokio::test]
async fn the_bridge_carries_tcp_to_the_proxy_socket() {
    let (upstream, seen) = http_upstream().await;
    let port = upstream.port();
    let proxy = start(live(vec![allow("service.test", port)]), vec![]).await;
    let listener = StdTcpListener::bind((LOCALHOST, 0)).unwrap();
    let bridge = listener.local_addr().unwrap();
    spawn_bridge_on(listener, proxy.socket_path().to_owned()).unwrap();
    let request = format!(
        "GET http://service.test:{port}/via-bridge HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    );
    let response = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut client = std::net::TcpStream::connect(bridge).unwrap();
        client.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        client.read_to_string(&mut response).unwrap();
        response
    })
    .await
    .unwrap();
    assert_eq!(status(&response), 200, "{response}");
    assert!(response.ends_with("hello from upstream"));
    assert_eq!(seen.lock().unwrap()[0].uri, "/via-bridge");
    assert_eq!(proxy.events().len(), 1);
}

#[tokio::test]
async fn connections_are_bounded_and_idle_ones_closed() {
    let (upstream, _seen) = http_upstream().await;
    let port = upstream.port();
    let options = ProxyOptions {
        resolver: Arc::new(resolver()),
        limits: ProxyLimits {
            max_connections: 1,
            idle_timeout: Duration::from_millis(300),
            ..ProxyLimits::default()
        },
        ..ProxyOptions::default()
    };
    let policy = live(vec![allow("service.test", port)]);
    let proxy = EgressProxy::start_with(&policy, &socket_path(), options)
        .await
        .unwrap();
    // A silent connection takes the only slot; the next request waits until the proxy drops it.
    let mut silent = UnixStream::connect(proxy.socket_path()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let start = Instant::now();
    let response = get(&proxy, &format!("http://service.test:{port}/"), "").await;
    assert_eq!(status(&response), 200, "{response}");
    assert!(
        start.elapsed() >= Duration::from_millis(200),
        "{:?}",
        start.elapsed()
    );
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(2), silent.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok(),
        "the silent connection was closed by the proxy"
    );
}

/// How real in-sandbox clients use the path: Python's `urllib` honours `http_proxy` (absolute
/// form) and `https_proxy` (a CONNECT tunnel, TLS end to end), and the scaffold's helper sends
/// `GET https://…` as plain HTTP to the bridge so the proxy can upgrade it and inject the secret.
const PYTHON_CLIENTS: &str = r#"
import http.client, ssl, sys, urllib.request
ca, plain_url, tls_url, upgrade_url, bridge_port, placeholder = sys.argv[1:]
context = ssl.create_default_context(cadata=bytes.fromhex(ca))
print("plain:", urllib.request.urlopen(plain_url, timeout=10).read().decode())
print("connect:", urllib.request.urlopen(tls_url, timeout=10, context=context).read().decode())
helper = http.client.HTTPConnection("127.0.0.1", int(bridge_port), timeout=10)
helper.request("GET", upgrade_url, headers={"Authorization": "Bearer " + placeholder})
print("upgrade:", helper.getresponse().read().decode())
"#;

#[tokio::test]
async fn python_clients_reach_upstreams_through_the_bridge() {
    let python = "/usr/bin/python3";
    let missing = (!std::path::Path::new(python).exists()).then(|| format!("{python} not found"));
    if !crate::support::require("python3", missing) {
        return;
    }
    let (plain, _plain_seen) = http_upstream().await;
    let (secure, ca, secure_seen) = tls_upstream("secure.test").await;
    let mut policy = live(vec![
        allow("service.test", plain.port()),
        allow("secure.test", secure.port()),
    ]);
    policy.secrets = vec![header_secret(&["secure.test"])];
    let proxy = start(policy, vec![ca.clone()]).await;
    let listener = StdTcpListener::bind((LOCALHOST, 0)).unwrap();
    let bridge = listener.local_addr().unwrap();
    spawn_bridge_on(listener, proxy.socket_path().to_owned()).unwrap();

    let proxy_url = format!("http://{bridge}");
    let ca_hex: String = ca.iter().map(|byte| format!("{byte:02x}")).collect();
    let output = tokio::process::Command::new(python)
        .arg("-c")
        .arg(PYTHON_CLIENTS)
        .args([
            ca_hex,
            format!("http://service.test:{}/py-plain", plain.port()),
            format!("https://secure.test:{}/py-connect", secure.port()),
            format!("https://secure.test:{}/py-upgrade", secure.port()),
            bridge.port().to_string(),
            PLACEHOLDER.to_owned(),
        ])
        .env_clear()
        .env("http_proxy", &proxy_url)
        .env("https_proxy", &proxy_url)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        stdout,
        "plain: hello from upstream\nconnect: hello from upstream\nupgrade: hello from upstream\n"
    );
    let seen = secure_seen.lock().unwrap().clone();
    let upgraded = seen.iter().find(|s| s.uri == "/py-upgrade").unwrap();
    assert_eq!(
        upgraded.header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    let methods: Vec<String> = proxy.events().into_iter().map(|e| e.method).collect();
    assert_eq!(methods, ["GET", "CONNECT", "GET"]);
}

/// Answers 127.0.0.1 the first time and the metadata address afterwards, as a rebinding DNS
/// server would; counts the lookups.
#[derive(Debug, Default)]
struct RebindingResolver {
    lookups: AtomicUsize,
}

#[async_trait::async_trait]
impl claw_runtime::egress::Resolve for RebindingResolver {
    async fn resolve(&self, _host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        let ip = match self.lookups.fetch_add(1, Ordering::SeqCst) {
            0 => LOCALHOST,
            _ => IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
        };
        Ok(vec![SocketAddr::new(ip, port)])
    }
}

#[tokio::test]
async fn each_request_resolves_once_and_connects_to_the_vetted_address() {
    let (upstream, seen) = http_upstream().await;
    let port = upstream.port();
    let resolver = Arc::new(RebindingResolver::default());
    let options = ProxyOptions {
        resolver: Arc::clone(&resolver) as Arc<dyn claw_runtime::egress::Resolve>,
        ..ProxyOptions::default()
    };
    let policy = live(vec![allow("rebind.test", port)]);
    let proxy = EgressProxy::start_with(&policy, &socket_path(), options)
        .await
        .unwrap();
    let first = get(&proxy, &format!("http://rebind.test:{port}/first"), "").await;
    assert_eq!(status(&first), 200, "{first}");
    assert_eq!(
        resolver.lookups.load(Ordering::SeqCst),
        1,
        "one lookup, then the vetted address"
    );
    let second = get(&proxy, &format!("http://rebind.test:{port}/second"), "").await;
    assert_eq!(status(&second), 403, "{second}");
    assert!(second.contains("cloud metadata"), "{second}");
    assert_eq!(seen.lock().unwrap().len(), 1);
}

/// A plain-HTTP request to a secret's host would carry the secret unencrypted: refused and
/// recorded, on port 443 and port 80 alike, live and in replay, unless the policy opts in.
#[tokio::test]
async fn plain_http_to_a_secrets_host_is_refused_without_the_opt_in() {
    let (upstream, seen) = http_upstream().await;
    let port = upstream.port();
    let mut policy = live(vec![
        allow("service.test", port),
        allow("service.test", 443),
        allow("service.test", 80),
    ]);
    policy.secrets = vec![header_secret(&["service.test"])];
    let proxy = start(policy, vec![]).await;
    for url in [
        format!("http://service.test:{port}/user"),
        "http://service.test:443/user".to_owned(),
        "http://service.test:80/user".to_owned(),
    ] {
        let response = get(&proxy, &url, "").await;
        assert_eq!(status(&response), 403, "{url}: {response}");
        assert!(response.contains("only over TLS"), "{response}");
    }
    let events = proxy.shutdown().await;
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(denial(&events).contains("secret `gh_token` is sent only over TLS"));
    assert!(
        seen.lock().unwrap().is_empty(),
        "nothing reached the upstream"
    );

    let replay = NetworkPolicy {
        allow: vec![allow("api.replay.test", 80)],
        mode: EgressMode::Replay(vec![fixture("GET", "http://api.replay.test/x", None, "1")]),
        secrets: vec![header_secret(&["api.replay.test"])],
        ..NetworkPolicy::default()
    };
    let proxy = start(replay, vec![]).await;
    let response = get(&proxy, "http://api.replay.test/x", "").await;
    assert_eq!(status(&response), 403, "{response}");
    proxy.shutdown().await;
}

/// What an upstream echoes back of the real value (in `Location`, another header, the body)
/// never reaches the sandbox; and a real value sent onward to another host is refused.
#[tokio::test]
async fn echoed_secret_values_are_masked_and_never_sent_onward() {
    let (upstream, seen) = http_upstream().await;
    let port = upstream.port();
    let mut policy = live(vec![allow("service.test", port), allow("other.test", port)]);
    policy.secrets = vec![plaintext_secret(&["service.test"])];
    let proxy = start(policy, vec![]).await;
    let response = get(&proxy, &format!("http://service.test:{port}/echo"), "").await;
    assert_eq!(status(&response), 302, "{response}");
    assert!(!response.contains(SECRET), "{response}");
    let mask = "*".repeat(SECRET.len());
    assert!(
        response
            .to_ascii_lowercase()
            .contains(&format!("location: https://elsewhere.test/login?t={mask}")),
        "{response}"
    );
    assert!(
        response.contains(&format!("token={mask}</p>")),
        "{response}"
    );
    // The upstream did get the real value: the mask above hides something that was there.
    assert_eq!(
        seen.lock().unwrap()[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    let onward = get(
        &proxy,
        &format!("http://other.test:{port}/?leak={SECRET}"),
        "",
    )
    .await;
    assert_eq!(status(&onward), 403, "{onward}");
    proxy.shutdown().await;
    assert_eq!(seen.lock().unwrap().len(), 1, "other.test received nothing");
}
