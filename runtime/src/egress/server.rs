//! The proxy itself: a Unix-socket listener, one hyper HTTP/1.1 connection per sandbox
//! connection, and the decision path every request takes (tripwire, allowlist, body bound,
//! then replay or vetted live forwarding).

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderName, HeaderValue, CONNECTION, CONTENT_LENGTH, HOST};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, Uri, Version};
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::pki_types::CertificateDer;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use crate::policy::{EgressMode, NetworkPolicy};

use super::address::AddressVetter;
use super::allowlist::Allowlist;
use super::body::{canned, empty, full, proxy_response, BoxError, ProxyBody};
use super::events::EventLog;
use super::idle::IdleTimeout;
use super::relay::Relay;
use super::replay::Replayer;
use super::resolve::{Resolve, SystemResolver};
use super::secrets::{RequestParts, Secrets};
use super::target::{classify_host, Endpoint, HostKind, Target};
use super::upstream::Upstream;
use super::{EgressEvent, EgressOutcome};

/// Bounds that keep a hostile sandbox from exhausting the host through its proxy.
#[derive(Debug, Clone, Copy)]
pub struct ProxyLimits {
    /// Open connections and tunnels at once; further connections wait in the listen backlog.
    pub max_connections: usize,
    /// Bytes of request line and headers (hyper's read buffer; at least 8 KiB).
    pub max_header_bytes: usize,
    pub max_headers: usize,
    /// Request bodies are read whole (to look for placeholders and match fixtures), so this
    /// times `max_connections` bounds the memory a sandbox can make the proxy hold.
    pub max_request_body: usize,
    /// Time to send a complete request head.
    pub header_timeout: Duration,
    /// A connection or tunnel with no traffic in either direction for this long is closed
    /// (this also bounds how long an upstream may take to start answering).
    pub idle_timeout: Duration,
    /// Resolving a name and connecting upstream, each.
    pub connect_timeout: Duration,
    /// Audit events kept; past this only a count is.
    pub max_events: usize,
}

impl Default for ProxyLimits {
    fn default() -> Self {
        Self {
            max_connections: 32,
            max_header_bytes: 64 << 10,
            max_headers: 100,
            max_request_body: 4 << 20,
            header_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            max_events: 10_000,
        }
    }
}

/// How the proxy reaches the world, beyond the policy.
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    pub resolver: Arc<dyn Resolve>,
    /// Trusted in addition to Mozilla's roots (a test's local TLS upstream).
    pub extra_roots: Vec<CertificateDer<'static>>,
    pub limits: ProxyLimits,
}

impl Default for ProxyOptions {
    fn default() -> Self {
        Self {
            resolver: Arc::new(SystemResolver),
            extra_roots: Vec::new(),
            limits: ProxyLimits::default(),
        }
    }
}

/// A running egress proxy serving one sandbox on a Unix socket.
#[derive(Debug)]
pub struct EgressProxy {
    socket_path: PathBuf,
    /// The model-API relay's socket, when the policy has one.
    relay_socket: Option<PathBuf>,
    log: EventLog,
    /// Dropping the sender stops the accept loops, every connection and every tunnel.
    stop: Option<watch::Sender<()>>,
    accept_tasks: Vec<JoinHandle<()>>,
    /// Every connection and tunnel holds one permit until it has recorded its last event.
    connections: Arc<Semaphore>,
    permits: u32,
}

impl EgressProxy {
    /// Binds `socket_path` (which must not exist) and serves `policy` with the system resolver.
    /// When the policy has a model-API relay, its socket is bound beside it, at `socket_path`
    /// with `.relay` appended ([`EgressProxy::relay_socket_path`]).
    ///
    /// The sockets get the process umask: anyone who can connect to them can use the policy's
    /// credentials, so put them in a directory only the sandbox can reach.
    pub async fn start(policy: &NetworkPolicy, socket_path: &Path) -> io::Result<EgressProxy> {
        Self::start_with(policy, socket_path, ProxyOptions::default()).await
    }

    pub async fn start_with(
        policy: &NetworkPolicy,
        socket_path: &Path,
        options: ProxyOptions,
    ) -> io::Result<EgressProxy> {
        let invalid = |err: String| io::Error::new(io::ErrorKind::InvalidInput, err);
        let relay = policy
            .model_api
            .as_ref()
            .map(Relay::new)
            .transpose()
            .map_err(|err| invalid(format!("model-API relay: {err}")))?;
        let rules: Vec<_> = policy
            .secrets
            .iter()
            .cloned()
            .chain(policy.model_api.as_ref().map(Relay::secret_rule))
            .collect();
        let secrets = Arc::new(Secrets::new(&rules).map_err(invalid)?);
        let mode = match &policy.mode {
            EgressMode::Live => Mode::Live,
            EgressMode::Replay(fixtures) => Mode::Replay(Replayer::new(fixtures, &[])?),
            EgressMode::ReplayWithFallback { fixtures, fallback } => {
                Mode::Replay(Replayer::new(fixtures, fallback)?)
            }
        };
        let limits = options.limits;
        let upstream = Upstream::new(
            &options.extra_roots,
            limits.connect_timeout,
            limits.idle_timeout,
        )?;
        let log = EventLog::new(Arc::clone(&secrets), limits.max_events);
        let listener = UnixListener::bind(socket_path)?;
        let relay_listener = match relay {
            Some(_) => {
                let path = Self::relay_socket_path(socket_path);
                Some((UnixListener::bind(&path)?, path))
            }
            None => None,
        };
        let (stop, stopped) = watch::channel(());
        // At least one (or nothing is ever served), and few enough for `acquire_many` in `shutdown`.
        let permits = limits.max_connections.clamp(1, 1 << 20) as u32;
        let connections = Arc::new(Semaphore::new(permits as usize));
        let shared = Arc::new(Shared {
            allowlist: Allowlist::new(&policy.allow),
            vetter: AddressVetter::new(&policy.allow_ips),
            secrets,
            mode,
            log: log.clone(),
            limits,
            resolver: options.resolver,
            upstream,
            connections: Arc::clone(&connections),
            stopped,
            relay,
        });
        let mut accept_tasks = vec![tokio::spawn(accept_loop(
            listener,
            Arc::clone(&shared),
            Role::Proxy,
        ))];
        let relay_socket = relay_listener.map(|(listener, path)| {
            accept_tasks.push(tokio::spawn(accept_loop(listener, shared, Role::Relay)));
            path
        });
        Ok(EgressProxy {
            socket_path: socket_path.to_owned(),
            relay_socket,
            log,
            stop: Some(stop),
            accept_tasks,
            connections,
            permits,
        })
    }

    pub fn socket_path(&self) -> &Path {
        &self.socket_path
    }

    /// Where the model-API relay listens when the policy has one: `socket_path` + `.relay`.
    pub fn relay_socket_path(socket_path: &Path) -> PathBuf {
        let mut path = socket_path.as_os_str().to_owned();
        path.push(".relay");
        PathBuf::from(path)
    }

    /// The model-API relay's socket, when this proxy serves one.
    pub fn relay_socket(&self) -> Option<&Path> {
        self.relay_socket.as_deref()
    }

    /// Every request seen so far.
    pub fn events(&self) -> Vec<EgressEvent> {
        self.log.snapshot()
    }

    /// Stops serving (open connections and tunnels are closed), removes the socket and returns
    /// the complete audit log.
    pub async fn shutdown(mut self) -> Vec<EgressEvent> {
        self.stop = None;
        for task in &mut self.accept_tasks {
            if let Err(err) = task.await {
                tracing::warn!(%err, "egress proxy accept loop ended abnormally");
            }
        }
        // Connections stop at once on the signal; waiting for their permits means their last
        // events are in the log. The bound only guards against a task stuck in a syscall.
        let drained = tokio::time::timeout(
            Duration::from_secs(2),
            self.connections.acquire_many(self.permits),
        )
        .await;
        if drained.is_err() {
            tracing::warn!(
                "egress proxy connections did not stop within 2 s; audit log may be incomplete"
            );
        }
        self.log.snapshot()
    }
}

impl Drop for EgressProxy {
    fn drop(&mut self) {
        self.stop = None;
        for socket in std::iter::once(&self.socket_path).chain(&self.relay_socket) {
            if let Err(err) = std::fs::remove_file(socket) {
                if err.kind() != io::ErrorKind::NotFound {
                    tracing::warn!(%err, path = %socket.display(), "could not remove proxy socket");
                }
            }
        }
    }
}

#[derive(Debug)]
enum Mode {
    Live,
    Replay(Replayer),
}

/// Which socket a connection came in on.
#[derive(Debug, Clone, Copy)]
enum Role {
    /// The egress proxy (`127.0.0.1:3128` inside): absolute-form requests and `CONNECT`.
    Proxy,
    /// The model-API relay (`127.0.0.1:3129` inside): requests to the one upstream.
    Relay,
}

#[derive(Debug)]
struct Shared {
    allowlist: Allowlist,
    vetter: AddressVetter,
    secrets: Arc<Secrets>,
    mode: Mode,
    log: EventLog,
    limits: ProxyLimits,
    resolver: Arc<dyn Resolve>,
    upstream: Upstream,
    connections: Arc<Semaphore>,
    /// Resolves once the proxy is stopped.
    stopped: watch::Receiver<()>,
    relay: Option<Relay>,
}

async fn accept_loop(listener: UnixListener, shared: Arc<Shared>, role: Role) {
    let mut stopped = shared.stopped.clone();
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&shared.connections).acquire_owned() => permit,
            _ = stopped.changed() => return,
        };
        let Ok(permit) = permit else { return };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.changed() => return,
        };
        match accepted {
            Ok((stream, _)) => {
                tokio::spawn(serve_connection(stream, Arc::clone(&shared), permit, role));
            }
            Err(err) => {
                // Typically EMFILE: back off instead of spinning on the error.
                tracing::warn!(%err, "egress proxy accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn serve_connection(
    stream: UnixStream,
    shared: Arc<Shared>,
    permit: OwnedSemaphorePermit,
    role: Role,
) {
    let limits = shared.limits;
    let mut stopped = shared.stopped.clone();
    let io = TokioIo::new(IdleTimeout::new(stream, limits.idle_timeout));
    let log = shared.log.clone();
    let service = service_fn(move |request| {
        let shared = Arc::clone(&shared);
        async move {
            let response = match role {
                Role::Proxy => shared.handle(request).await,
                Role::Relay => shared.relay(request).await,
            };
            Ok::<_, Infallible>(response)
        }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_header_size(limits.max_header_bytes)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .max_headers(limits.max_headers)
        .half_close(true)
        .serve_connection(io, service)
        .with_upgrades();
    tokio::select! {
        result = connection => match result {
            // hyper answers these itself (400, 431, 408) without reaching `handle`, so they
            // are recorded here: a sandbox probing the parser shows up in the audit too.
            Err(err) if err.is_parse() || err.is_parse_too_large() || err.is_timeout() => {
                log.record(EgressEvent {
                    method: "-".to_owned(),
                    host: String::new(),
                    port: 0,
                    path: None,
                    outcome: EgressOutcome::Denied {
                        reason: format!("malformed, oversized or too slow request: {err}"),
                    },
                });
            }
            Err(err) => tracing::debug!(%err, "egress proxy connection ended with an error"),
            Ok(()) => {}
        },
        _ = stopped.changed() => {}
    }
    drop(permit);
}

impl Shared {
    async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Response<ProxyBody> {
        if request.method() == Method::CONNECT {
            self.tunnel(request).await
        } else {
            self.forward(request).await
        }
    }

    /// Records the request as refused and answers with the reason.
    fn refuse(
        &self,
        method: &Method,
        endpoint: Option<&Endpoint>,
        path: Option<&str>,
        status: StatusCode,
        reason: String,
    ) -> Response<ProxyBody> {
        let reason = self.secrets.redact(&reason);
        self.record(
            method,
            endpoint,
            path,
            EgressOutcome::Denied {
                reason: reason.clone(),
            },
        );
        proxy_response(
            status,
            format!(
                "clawc egress proxy refused {method} {}: {reason}\n",
                describe(endpoint)
            ),
        )
    }

    fn record(
        &self,
        method: &Method,
        endpoint: Option<&Endpoint>,
        path: Option<&str>,
        outcome: EgressOutcome,
    ) {
        self.log.record(EgressEvent {
            method: method.to_string(),
            host: endpoint.map_or_else(String::new, |e| e.host.clone()),
            port: endpoint.map_or(0, |e| e.port),
            path: path.map(str::to_owned),
            outcome,
        });
    }

    /// An absolute-form request: `GET http://host/path` or `GET https://host/path`.
    async fn forward(&self, request: Request<Incoming>) -> Response<ProxyBody> {
        let method = request.method().clone();
        let target = match Target::from_uri(request.uri()) {
            Ok(target) => target,
            Err(reason) => {
                return self.refuse(&method, None, None, StatusCode::BAD_REQUEST, reason)
            }
        };
        let endpoint = &target.endpoint;
        let path = Some(target.path_and_query.as_str());
        let head_parts = RequestParts {
            path_and_query: &target.path_and_query,
            headers: request.headers(),
            body: b"",
        };
        if let Err(reason) = self.secrets.check_placeholders(endpoint, head_parts) {
            return self.refuse(&method, Some(endpoint), path, StatusCode::FORBIDDEN, reason);
        }
        if let Err(reason) = self.allowlist.check(endpoint) {
            return self.refuse(&method, Some(endpoint), path, StatusCode::FORBIDDEN, reason);
        }
        // Replay too: the acceptance harness must refuse what a live run would.
        let tls = target.scheme == super::target::Scheme::Https;
        if let Err(reason) = self.secrets.check_transport(endpoint, tls) {
            return self.refuse(&method, Some(endpoint), path, StatusCode::FORBIDDEN, reason);
        }
        let (parts, body) = request.into_parts();
        let body = match Limited::new(body, self.limits.max_request_body)
            .collect()
            .await
        {
            Ok(collected) => collected.to_bytes(),
            Err(err) => {
                let reason = format!(
                    "could not read the request body (at most {} bytes): {err}",
                    self.limits.max_request_body
                );
                return self.refuse(
                    &method,
                    Some(endpoint),
                    path,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    reason,
                );
            }
        };
        let body_parts = RequestParts {
            path_and_query: "",
            headers: &HeaderMap::new(),
            body: &body,
        };
        if let Err(reason) = self.secrets.check_placeholders(endpoint, body_parts) {
            return self.refuse(&method, Some(endpoint), path, StatusCode::FORBIDDEN, reason);
        }
        match &self.mode {
            Mode::Replay(replayer) => self.replay(replayer, &method, &target, &body),
            Mode::Live => {
                self.forward_live(method, parts.headers, &target, body)
                    .await
            }
        }
    }

    fn replay(
        &self,
        replayer: &Replayer,
        method: &Method,
        target: &Target,
        body: &[u8],
    ) -> Response<ProxyBody> {
        let endpoint = &target.endpoint;
        let path = Some(target.path_and_query.as_str());
        let injected = self.secrets.injected_query_names(endpoint);
        let Some(fixture) = replayer.find(method.as_str(), target, body, &injected) else {
            if let Some(fallback) = replayer.fallback() {
                self.record(
                    method,
                    Some(endpoint),
                    path,
                    EgressOutcome::Fallback {
                        status: fallback.status,
                    },
                );
                return canned(
                    fallback.status,
                    fallback.content_type.as_deref(),
                    fallback.body.clone(),
                );
            }
            self.record(method, Some(endpoint), path, EgressOutcome::Unmatched);
            return proxy_response(
                StatusCode::BAD_GATEWAY,
                self.secrets.redact(&format!(
                    "clawc egress proxy (replay mode): no recorded fixture matches {method} {}\n",
                    target.url()
                )),
            );
        };
        self.record(
            method,
            Some(endpoint),
            path,
            EgressOutcome::Replayed {
                status: fixture.status,
            },
        );
        canned(
            fixture.status,
            fixture.content_type.as_deref(),
            fixture.body.clone(),
        )
    }

    async fn forward_live(
        &self,
        method: Method,
        mut headers: HeaderMap,
        target: &Target,
        body: Bytes,
    ) -> Response<ProxyBody> {
        let endpoint = &target.endpoint;
        let path = Some(target.path_and_query.as_str());
        let addrs = match self.vetted_addrs(endpoint).await {
            Ok(addrs) => addrs,
            Err(reason) => {
                return self.refuse(&method, Some(endpoint), path, StatusCode::FORBIDDEN, reason)
            }
        };
        let mut path_and_query = target.path_and_query.clone();
        strip_hop_by_hop(&mut headers);
        self.secrets
            .inject(endpoint, &mut headers, &mut path_and_query);
        let had_length = headers.remove(CONTENT_LENGTH).is_some();
        if had_length || !body.is_empty() {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        let host_header = HeaderValue::from_str(&target.host_header());
        let uri = path_and_query.parse::<Uri>();
        let (Ok(host_header), Ok(uri)) = (host_header, uri) else {
            let reason = "the request URL cannot be rebuilt for upstream".to_owned();
            return self.refuse(
                &method,
                Some(endpoint),
                path,
                StatusCode::BAD_REQUEST,
                reason,
            );
        };
        headers.insert(HOST, host_header);
        let mut upstream_request = Request::new(full(body));
        *upstream_request.method_mut() = method.clone();
        *upstream_request.uri_mut() = uri;
        *upstream_request.version_mut() = Version::HTTP_11;
        *upstream_request.headers_mut() = headers;

        let sent = match self.upstream.connect(&addrs).await {
            Ok(stream) => self.upstream.send(stream, target, upstream_request).await,
            Err(err) => Err(format!("connecting to {endpoint}: {err}")),
        };
        self.answer(&method, target, sent)
    }

    /// Records what the upstream answered and hands it to the sandbox as it streams, every
    /// real secret value in it masked.
    fn answer(
        &self,
        method: &Method,
        target: &Target,
        sent: Result<Response<Incoming>, String>,
    ) -> Response<ProxyBody> {
        let endpoint = &target.endpoint;
        let path = Some(target.path_and_query.as_str());
        match sent {
            Ok(response) => {
                self.record(
                    method,
                    Some(endpoint),
                    path,
                    EgressOutcome::Allowed {
                        status: Some(response.status().as_u16()),
                    },
                );
                let (mut parts, body) = response.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                super::redact::headers(&self.secrets, &mut parts.headers);
                let body = super::redact::body(
                    Arc::clone(&self.secrets),
                    body.map_err(Into::into).boxed(),
                );
                Response::from_parts(parts, body)
            }
            Err(err) => {
                self.record(
                    method,
                    Some(endpoint),
                    path,
                    EgressOutcome::Allowed { status: None },
                );
                proxy_response(
                    StatusCode::BAD_GATEWAY,
                    self.secrets.redact(&format!(
                        "clawc egress proxy: upstream {endpoint} failed: {err}\n"
                    )),
                )
            }
        }
    }

    /// A request on the model-API relay's socket: checked, given the real credential and sent
    /// to the one upstream; both bodies stream through (an API answers in SSE).
    async fn relay(&self, request: Request<Incoming>) -> Response<ProxyBody> {
        let method = request.method().clone();
        let Some(relay) = &self.relay else {
            let reason = "this sandbox has no model-API relay".to_owned();
            return self.refuse(&method, None, None, StatusCode::NOT_FOUND, reason);
        };
        let target = match relay.target(&method, request.uri()) {
            Ok(target) => target,
            Err(reason) => {
                let endpoint = Some(relay.endpoint());
                return self.refuse(&method, endpoint, None, StatusCode::BAD_REQUEST, reason);
            }
        };
        let endpoint = &target.endpoint;
        let path = Some(target.path_and_query.as_str());
        if let Err(reason) = relay.check_credentials(request.headers()) {
            return self.refuse(&method, Some(endpoint), path, StatusCode::FORBIDDEN, reason);
        }
        let addrs = match self.relay_addrs(endpoint).await {
            Ok(addrs) => addrs,
            Err(reason) => {
                return self.refuse(
                    &method,
                    Some(endpoint),
                    path,
                    StatusCode::BAD_GATEWAY,
                    reason,
                )
            }
        };
        let (mut parts, body) = request.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        relay.authenticate(&mut parts.headers);
        let (Ok(host_header), Ok(uri)) = (
            HeaderValue::from_str(&target.host_header()),
            target.path_and_query.parse::<Uri>(),
        ) else {
            let reason = "the request URL cannot be rebuilt for upstream".to_owned();
            return self.refuse(
                &method,
                Some(endpoint),
                path,
                StatusCode::BAD_REQUEST,
                reason,
            );
        };
        parts.headers.insert(HOST, host_header);
        parts.uri = uri;
        parts.version = Version::HTTP_11;
        let body = Limited::new(body, super::relay::MAX_REQUEST_BODY)
            .map_err(BoxError::from)
            .boxed();
        let upstream_request = Request::from_parts(parts, body);
        let sent = match self.upstream.connect(&addrs).await {
            Ok(stream) => self.upstream.send(stream, &target, upstream_request).await,
            Err(err) => Err(format!("connecting to {endpoint}: {err}")),
        };
        self.answer(&method, &target, sent)
    }

    /// The relay's upstream addresses. Not vetted like a sandbox's destinations: the upstream
    /// is the host's own configuration (a private API gateway is legitimate), and nothing the
    /// sandbox sends can change it.
    async fn relay_addrs(&self, endpoint: &Endpoint) -> Result<Vec<SocketAddr>, String> {
        if let HostKind::Ip(ip) = classify_host(&endpoint.host)? {
            return Ok(vec![SocketAddr::new(ip, endpoint.port)]);
        }
        let resolved = tokio::time::timeout(
            self.limits.connect_timeout,
            self.resolver.resolve(&endpoint.host, endpoint.port),
        )
        .await
        .map_err(|_| format!("resolving {} timed out", endpoint.host))?
        .map_err(|err| format!("cannot resolve {}: {err}", endpoint.host))?;
        if resolved.is_empty() {
            return Err(format!("{} resolves to no address", endpoint.host));
        }
        Ok(resolved)
    }

    /// `CONNECT host:port`: an opaque tunnel to an allowlisted endpoint. The proxy cannot see
    /// inside it, so no credential is injected into a tunnel.
    async fn tunnel(&self, request: Request<Incoming>) -> Response<ProxyBody> {
        let method = Method::CONNECT;
        let endpoint = match Endpoint::from_connect(request.uri()) {
            Ok(endpoint) => endpoint,
            Err(reason) => {
                return self.refuse(&method, None, None, StatusCode::BAD_REQUEST, reason)
            }
        };
        let head_parts = RequestParts {
            path_and_query: "",
            headers: request.headers(),
            body: b"",
        };
        if let Err(reason) = self.secrets.check_placeholders(&endpoint, head_parts) {
            return self.refuse(
                &method,
                Some(&endpoint),
                None,
                StatusCode::FORBIDDEN,
                reason,
            );
        }
        if let Err(reason) = self.allowlist.check(&endpoint) {
            return self.refuse(
                &method,
                Some(&endpoint),
                None,
                StatusCode::FORBIDDEN,
                reason,
            );
        }
        if matches!(self.mode, Mode::Replay(_)) {
            let reason = "replay mode serves recorded fixtures only and cannot replay a CONNECT \
                          tunnel; send absolute-form requests (`GET https://…`) to the proxy"
                .to_owned();
            return self.refuse(
                &method,
                Some(&endpoint),
                None,
                StatusCode::FORBIDDEN,
                reason,
            );
        }
        let Ok(permit) = Arc::clone(&self.connections).try_acquire_owned() else {
            let reason = format!(
                "too many open connections (at most {})",
                self.limits.max_connections
            );
            return self.refuse(
                &method,
                Some(&endpoint),
                None,
                StatusCode::SERVICE_UNAVAILABLE,
                reason,
            );
        };
        let addrs = match self.vetted_addrs(&endpoint).await {
            Ok(addrs) => addrs,
            Err(reason) => {
                return self.refuse(
                    &method,
                    Some(&endpoint),
                    None,
                    StatusCode::FORBIDDEN,
                    reason,
                )
            }
        };
        let upstream = match self.upstream.connect(&addrs).await {
            Ok(stream) => stream,
            Err(err) => {
                self.record(
                    &method,
                    Some(&endpoint),
                    None,
                    EgressOutcome::Allowed { status: None },
                );
                return proxy_response(
                    StatusCode::BAD_GATEWAY,
                    format!("clawc egress proxy: connecting to {endpoint}: {err}\n"),
                );
            }
        };
        self.record(
            &method,
            Some(&endpoint),
            None,
            EgressOutcome::Allowed { status: None },
        );
        let idle = self.limits.idle_timeout;
        let mut stopped = self.stopped.clone();
        tokio::spawn(async move {
            let client = match hyper::upgrade::on(request).await {
                Ok(upgraded) => upgraded,
                Err(err) => {
                    tracing::debug!(%err, "CONNECT upgrade failed");
                    return;
                }
            };
            let mut client = IdleTimeout::new(TokioIo::new(client), idle);
            let mut upstream = IdleTimeout::new(upstream, idle);
            tokio::select! {
                result = tokio::io::copy_bidirectional(&mut client, &mut upstream) => if let Err(err) = result {
                    tracing::debug!(%err, "CONNECT tunnel ended with an error");
                },
                _ = stopped.changed() => {}
            }
            drop(permit);
        });
        Response::new(empty())
    }

    /// The addresses the proxy may connect to for `endpoint`, each vetted. A name is resolved
    /// exactly once here; the caller connects to these addresses, never to the name.
    async fn vetted_addrs(&self, endpoint: &Endpoint) -> Result<Vec<SocketAddr>, String> {
        let port = endpoint.port;
        match classify_host(&endpoint.host)? {
            HostKind::Ip(ip) => {
                self.vetter.check(ip)?;
                Ok(vec![SocketAddr::new(ip, port)])
            }
            HostKind::Name => {
                let resolved = tokio::time::timeout(
                    self.limits.connect_timeout,
                    self.resolver.resolve(&endpoint.host, port),
                )
                .await
                .map_err(|_| format!("resolving {} timed out", endpoint.host))?
                .map_err(|err| format!("cannot resolve {}: {err}", endpoint.host))?;
                if resolved.is_empty() {
                    return Err(format!("{} resolves to no address", endpoint.host));
                }
                // One forbidden address refuses the name: a name mixing public and internal
                // addresses is a rebinding attempt, not a legitimate service.
                for addr in &resolved {
                    self.vetter
                        .check(addr.ip())
                        .map_err(|reason| format!("{} resolves to {reason}", endpoint.host))?;
                }
                Ok(resolved)
            }
        }
    }
}

fn describe(endpoint: Option<&Endpoint>) -> String {
    endpoint.map_or_else(|| "this request".to_owned(), ToString::to_string)
}

/// Removes headers that belong to one hop (client↔proxy or proxy↔upstream), including any the
/// `Connection` header names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        "connection",
        "proxy-connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        // The proxy has already read the whole body, so there is nothing left to wait for.
        "expect",
    ] {
        headers.remove(name);
    }
}
