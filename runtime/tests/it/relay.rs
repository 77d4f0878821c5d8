//! The model-API relay: a program in the sandbox talks plain HTTP to `127.0.0.1:3129` with a
//! placeholder; a host-side upstream (a scripted server on 127.0.0.1) must get the real
//! credential and the body, and stream its answer back as it is produced.
//!
//! The sandboxed case runs on every backend: native, Docker and Docker on gVisor, each when it
//! is there (and it must be under `CI=true` / `CLAWC_REQUIRE_BACKENDS=1`, see
//! `support::require`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use claw_runtime::bridge::{RELAY_BASE_URL, RELAY_SOCKET_INSIDE};
use claw_runtime::egress::{EgressEvent, EgressOutcome, EgressProxy, ProxyOptions};
use claw_runtime::policy::{ModelApiRelay, NetworkPolicy, Policy, PolicyError, SecretValue};
use claw_runtime::sandbox::{ExitStatus, SandboxCommand};
use claw_runtime::Sandbox;
use futures_util::stream;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UnixStream};
use tokio::sync::{mpsc, Notify};

use crate::attacks::backends;
use crate::attacks::harness::Backend;
use crate::egress::{resolver, tls_upstream, Seen, SeenLog};

/// The real credential: only the scripted upstream may ever see it.
const REAL_KEY: &str = "sk-relay-test-REAL-1f9c2e7a";
const PLACEHOLDER: &str = "clawc-model-api-placeholder";

/// How long the upstream holds back its second event waiting for the client's
/// acknowledgement of the first. A relay that buffered the response would make the client wait
/// this long and then see `"after_ack": false`.
const ACK_WAIT: Duration = Duration::from_secs(10);

type TestBody = BoxBody<Bytes, std::convert::Infallible>;

/// A Messages-API-shaped upstream: `POST …/v1/messages` answers in SSE, one event at once and
/// the second only after `POST …/ack` arrived (or [`ACK_WAIT`] passed); the second event
/// echoes the credential it was sent, as careless services do.
struct Upstream {
    addr: SocketAddr,
    seen: SeenLog,
}

impl Upstream {
    async fn start() -> Upstream {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = SeenLog::default();
        let acked = Arc::new(Notify::new());
        let log = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (log, acked) = (Arc::clone(&log), Arc::clone(&acked));
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let (log, acked) = (Arc::clone(&log), Arc::clone(&acked));
                        async move { Ok::<_, hyper::Error>(answer(req, log, acked).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Upstream { addr, seen }
    }

    fn url(&self) -> String {
        format!("http://{}/base", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn answer(
    request: Request<Incoming>,
    seen: SeenLog,
    acked: Arc<Notify>,
) -> Response<TestBody> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let key = parts
        .headers
        .get("x-api-key")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
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
    let path = parts.uri.path();
    if path.ends_with("/ack") {
        acked.notify_one();
        return Response::new(Full::new(Bytes::from_static(b"ok")).boxed());
    }
    if !path.ends_with("/v1/messages") {
        let mut response = Response::new(Full::new(Bytes::from_static(b"not here")).boxed());
        *response.status_mut() = hyper::StatusCode::NOT_FOUND;
        return response;
    }
    let (events, receiver) = mpsc::channel::<Bytes>(4);
    tokio::spawn(async move {
        let _ = events
            .send(Bytes::from_static(
                b"event: message_start\ndata: {\"type\":\"message_start\"}\n\n",
            ))
            .await;
        let after_ack = tokio::time::timeout(ACK_WAIT, acked.notified())
            .await
            .is_ok();
        let second = format!(
            "event: message_stop\ndata: {{\"type\":\"message_stop\",\"after_ack\":{after_ack},\"echo\":\"{key}\"}}\n\n"
        );
        let _ = events.send(Bytes::from(second)).await;
    });
    let frames = stream::unfold(receiver, |mut receiver| async move {
        let chunk = receiver.recv().await?;
        Some((Ok(Frame::data(chunk)), receiver))
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(StreamBody::new(frames).boxed())
        .unwrap()
}

fn relay_to(upstream: &str) -> ModelApiRelay {
    ModelApiRelay {
        upstream: upstream.to_owned(),
        header_name: "x-api-key".to_owned(),
        header_template: "{value}".to_owned(),
        value: SecretValue(REAL_KEY.to_owned()),
        placeholder: PLACEHOLDER.to_owned(),
    }
}

fn socket_path() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    std::env::temp_dir().join(format!(
        "claw-relay-test-{}-{}.sock",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ))
}

fn relayed(events: &[EgressEvent]) -> Vec<&EgressEvent> {
    events
        .iter()
        .filter(|e| matches!(e.outcome, EgressOutcome::Allowed { .. }))
        .collect()
}

fn denials(events: &[EgressEvent]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match &e.outcome {
            EgressOutcome::Denied { reason } => Some(reason.as_str()),
            _ => None,
        })
        .collect()
}

/// The production path: an `https://` upstream (by name, its certificate from a test CA) is
/// reached over TLS with the credential on; the sandbox's side stays plain HTTP.
#[tokio::test]
async fn an_https_upstream_is_reached_over_tls_with_the_credential() {
    let (addr, root, seen) = tls_upstream("secure.test").await;
    let policy = NetworkPolicy {
        model_api: Some(relay_to(&format!(
            "https://secure.test:{}/api",
            addr.port()
        ))),
        ..NetworkPolicy::default()
    };
    let options = ProxyOptions {
        resolver: Arc::new(resolver()),
        extra_roots: vec![root],
        ..ProxyOptions::default()
    };
    let proxy = EgressProxy::start_with(&policy, &socket_path(), options)
        .await
        .unwrap();
    let mut stream = UnixStream::connect(proxy.relay_socket().unwrap())
        .await
        .unwrap();
    let request = format!(
        "GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:3129\r\nx-api-key: {PLACEHOLDER}\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("hello from upstream"), "{response}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].uri, "/api/v1/models");
    assert_eq!(seen[0].header("x-api-key"), Some(REAL_KEY));
    assert_eq!(
        seen[0].header("host"),
        Some(format!("secure.test:{}", addr.port()).as_str())
    );
    let events = proxy.shutdown().await;
    assert_eq!(relayed(&events).len(), 1, "{events:?}");
    assert_eq!(relayed(&events)[0].host, "secure.test");
}

#[test]
fn the_policy_validates_the_relay_and_never_shows_the_credential() {
    let mut policy = Policy::default();
    policy.network.model_api = Some(relay_to("https://api.example.com"));
    assert_eq!(policy.validate(), Ok(()));
    assert!(policy.network.is_enabled());
    let shown = format!("{policy:?}");
    assert!(!shown.contains(REAL_KEY), "{shown}");
    for bad in ["http://api.example.com", "http://192.168.1.5:80", "nope"] {
        policy.network.model_api = Some(relay_to(bad));
        assert!(
            matches!(policy.validate(), Err(PolicyError::ModelApi { .. })),
            "{bad}"
        );
    }
    let mut empty = relay_to("https://api.example.com");
    empty.placeholder = String::new();
    policy.network.model_api = Some(empty);
    assert!(policy.validate().is_err());
}

/// The relay's socket directly (no sandbox): origin-form requests reach the upstream with the
/// real key, a wrong key is refused, and absolute-form proxy requests are refused.
#[tokio::test]
async fn the_relay_socket_swaps_the_credential_and_refuses_any_other() {
    let upstream = Upstream::start().await;
    let policy = NetworkPolicy {
        model_api: Some(relay_to(&upstream.url())),
        ..NetworkPolicy::default()
    };
    let proxy = EgressProxy::start(&policy, &socket_path()).await.unwrap();
    let relay = proxy.relay_socket().expect("a relay socket").to_owned();
    let send = |request: String| {
        let relay = relay.clone();
        async move {
            let mut stream = UnixStream::connect(&relay).await.unwrap();
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut response = Vec::new();
            stream.read_to_end(&mut response).await.unwrap();
            String::from_utf8_lossy(&response).into_owned()
        }
    };
    let ack = send(format!(
        "POST /ack HTTP/1.1\r\nHost: 127.0.0.1:3129\r\nx-api-key: {PLACEHOLDER}\r\n\
         Authorization: Bearer {PLACEHOLDER}\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
    ))
    .await;
    assert!(ack.starts_with("HTTP/1.1 200"), "{ack}");
    let wrong = send(
        "POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: sk-someone-else\r\n\
         Content-Length: 2\r\nConnection: close\r\n\r\n{}"
            .to_owned(),
    )
    .await;
    assert!(wrong.starts_with("HTTP/1.1 403"), "{wrong}");
    assert!(!wrong.contains("sk-someone-else"), "{wrong}");
    let proxied = send(
        "GET http://evil.test/ HTTP/1.1\r\nHost: evil.test\r\nConnection: close\r\n\r\n".to_owned(),
    )
    .await;
    assert!(proxied.starts_with("HTTP/1.1 400"), "{proxied}");

    let seen = upstream.seen();
    assert_eq!(
        seen.len(),
        1,
        "only the placeholder request went upstream: {seen:?}"
    );
    assert_eq!(seen[0].uri, "/base/ack");
    assert_eq!(seen[0].header("x-api-key"), Some(REAL_KEY));
    assert_eq!(seen[0].header("authorization"), None);
    assert_eq!(
        seen[0].header("host"),
        Some(upstream.addr.to_string().as_str())
    );
    assert_eq!(seen[0].body, b"hello");

    // The placeholder belongs to the relay: through the proxy it is refused everywhere.
    let mut through_proxy = UnixStream::connect(proxy.socket_path()).await.unwrap();
    let request = format!(
        "GET {}/v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: {PLACEHOLDER}\r\nConnection: close\r\n\r\n",
        upstream.url()
    );
    through_proxy.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    through_proxy.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 403"), "{response}");

    let events = proxy.shutdown().await;
    let shown = format!("{events:?}");
    assert!(!shown.contains(REAL_KEY), "{shown}");
    let allowed = relayed(&events);
    assert_eq!(allowed.len(), 1, "{events:?}");
    assert_eq!(allowed[0].host, "127.0.0.1");
    assert_eq!(allowed[0].port, upstream.addr.port());
    assert_eq!(allowed[0].path.as_deref(), Some("/base/ack"));
    let refused = denials(&events);
    assert_eq!(refused.len(), 3, "{events:?}");
    assert!(refused[0].contains("x-api-key"), "{refused:?}");
    assert!(refused[1].contains("not proxy requests"), "{refused:?}");
    assert!(refused[2].contains("model-API relay"), "{refused:?}");
}

/// Run inside the sandbox with stdlib `http.client`: the relayed stream arrives in pieces, a
/// foreign key is refused, the upstream cannot be reached directly, and the environment holds
/// only the placeholder.
const CLIENT: &str = r#"
import http.client, json, os, socket
base = os.environ["MODEL_API_BASE_URL"]
assert base.startswith("http://127.0.0.1:"), base
host, port = base[len("http://"):].split(":")
key = os.environ["MODEL_API_KEY"]
out = {}

def connect():
    return http.client.HTTPConnection(host, int(port), timeout=30)

stream = connect()
body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
stream.request("POST", "/v1/messages?beta=true", body=body,
               headers={"x-api-key": key, "content-type": "application/json"})
response = stream.getresponse()
out["status"] = response.status
first = b""
while b"\n\n" not in first:
    piece = response.read1(65536)
    if not piece:
        break
    first += piece
out["first"] = first.decode()
ack = connect()
ack.request("POST", "/ack", body=b"seen", headers={"x-api-key": key})
out["ack"] = ack.getresponse().status
out["rest"] = response.read().decode()

foreign = connect()
foreign.request("POST", "/v1/messages", body="{}", headers={"x-api-key": "sk-not-the-placeholder"})
refused = foreign.getresponse()
out["foreign"] = refused.status
refused.read()

upstream_host, upstream_port = os.environ["UPSTREAM_DIRECT"].split(":")
try:
    socket.create_connection((upstream_host, int(upstream_port)), timeout=5)
    out["direct"] = "connected"
except OSError as err:
    out["direct"] = type(err).__name__
proxy = http.client.HTTPConnection("127.0.0.1", 3128, timeout=30)
proxy.request("GET", "http://" + os.environ["UPSTREAM_DIRECT"] + "/base/v1/messages")
out["via_proxy"] = proxy.getresponse().status

with open("/proc/self/environ", "rb") as f:
    out["environ"] = f.read().hex()
out["relay_socket"] = os.path.exists(os.environ["RELAY_SOCKET"])
print(json.dumps(out))
"#;

async fn relayed_stream_reaches_the_sandbox(backend: Backend) {
    let Some(sandbox) = backends::open(backend).await else {
        return;
    };
    let upstream = Upstream::start().await;
    let mut policy = Policy::default();
    policy.network.model_api = Some(relay_to(&upstream.url()));
    // Named so that a refusal is the allowlist's doing, not the address vetting's.
    policy
        .network
        .allow_ips
        .push(IpAddr::V4(Ipv4Addr::LOCALHOST));
    for (name, value) in [
        ("MODEL_API_BASE_URL", RELAY_BASE_URL.to_owned()),
        ("MODEL_API_KEY", PLACEHOLDER.to_owned()),
        ("UPSTREAM_DIRECT", upstream.addr.to_string()),
        ("RELAY_SOCKET", RELAY_SOCKET_INSIDE.to_owned()),
    ] {
        policy.env.insert(name.to_owned(), value);
    }
    policy.limits.timeout = Some(Duration::from_secs(60));
    let run = run_python(sandbox.as_ref(), &policy).await;
    assert_eq!(run.status, ExitStatus::Code(0), "{}", run.stderr);
    let out: serde_json::Value = serde_json::from_str(run.stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stdout, run.stderr));

    assert_eq!(out["status"], 200, "{out}");
    let first = out["first"].as_str().unwrap();
    assert!(first.contains("message_start"), "{first}");
    assert!(!first.contains("message_stop"), "{first}");
    assert_eq!(out["ack"], 200);
    let rest = out["rest"].as_str().unwrap();
    assert!(
        rest.contains("\"after_ack\":true"),
        "the first event must arrive before the stream ends: {rest}"
    );
    // The upstream echoed the key it got; the sandbox sees only a mask of it.
    let mask = "*".repeat(REAL_KEY.len());
    assert!(rest.contains(&format!("\"echo\":\"{mask}\"")), "{rest}");
    assert_eq!(out["foreign"], 403, "{out}");
    assert_eq!(out["direct"], "ConnectionRefusedError", "{out}");
    assert_eq!(out["via_proxy"], 403, "{out}");
    assert_eq!(out["relay_socket"], true);

    let environ = hex_decode(out["environ"].as_str().unwrap());
    let environ = String::from_utf8_lossy(&environ);
    assert!(
        !environ.contains(REAL_KEY),
        "the real key is in the sandbox: {environ}"
    );
    assert!(environ.contains(PLACEHOLDER), "{environ}");

    let seen = upstream.seen();
    assert_eq!(
        seen.len(),
        2,
        "the foreign-key request must not go upstream: {seen:?}"
    );
    let messages = &seen[0];
    assert_eq!(messages.method, "POST");
    assert_eq!(messages.uri, "/base/v1/messages?beta=true");
    assert_eq!(messages.header("x-api-key"), Some(REAL_KEY));
    let body: serde_json::Value = serde_json::from_slice(&messages.body).unwrap();
    assert_eq!(body["messages"][0]["content"], "hi");
    assert_eq!(seen[1].uri, "/base/ack");
    assert_eq!(seen[1].body, b"seen");
    for request in &seen {
        assert!(
            request
                .headers
                .iter()
                .all(|(_, v)| !v.contains(PLACEHOLDER)),
            "the placeholder went upstream: {request:?}"
        );
    }

    let events = &run.egress;
    assert!(!format!("{events:?}").contains(REAL_KEY));
    let allowed = relayed(events);
    assert_eq!(allowed.len(), 2, "{events:?}");
    assert!(allowed
        .iter()
        .all(|e| e.host == "127.0.0.1" && e.port == upstream.addr.port()));
    let refused = denials(events);
    assert_eq!(refused.len(), 2, "{events:?}");
    assert!(
        refused.iter().any(|r| r.contains("x-api-key")),
        "{refused:?}"
    );
    assert!(
        refused
            .iter()
            .any(|r| r.contains("not in the network allowlist")),
        "{refused:?}"
    );
}

struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    egress: Vec<EgressEvent>,
}

async fn run_python(sandbox: &dyn Sandbox, policy: &Policy) -> Run {
    let mut command = SandboxCommand::new("python3", ["-c", CLIENT]);
    command.cwd = Some("/tmp".into());
    let mut child = sandbox.spawn(command, policy).await.expect("spawn");
    let mut stdout = child.take_stdout().expect("stdout");
    let mut stderr = child.take_stderr().expect("stderr");
    let (mut out, mut err) = (String::new(), String::new());
    let (o, e, report) = tokio::join!(
        stdout.read_to_string(&mut out),
        stderr.read_to_string(&mut err),
        child.wait()
    );
    o.expect("stdout");
    e.expect("stderr");
    let report = report.expect("wait");
    Run {
        status: report.status,
        stdout: out,
        stderr: err,
        egress: report.egress,
    }
}

fn hex_decode(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .filter_map(|at| text.get(at..at + 2))
        .filter_map(|pair| u8::from_str_radix(pair, 16).ok())
        .collect()
}

#[tokio::test]
async fn native_relayed_stream_reaches_the_sandbox() {
    relayed_stream_reaches_the_sandbox(Backend::Native).await;
}

#[tokio::test]
async fn docker_relayed_stream_reaches_the_sandbox() {
    relayed_stream_reaches_the_sandbox(Backend::Docker).await;
}

#[tokio::test]
async fn gvisor_relayed_stream_reaches_the_sandbox() {
    relayed_stream_reaches_the_sandbox(Backend::Gvisor).await;
}
