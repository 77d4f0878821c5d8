//! What the egress path costs: per-request latency (p50/p90) and the throughput of a 100 MB
//! download, through bridge (TCP) → Unix socket → proxy → upstream, against the same upstream
//! reached directly. Everything runs on 127.0.0.1, so the figures are the path's own overhead.
//!
//! Run: `cargo bench -p claw-runtime --bench egress`
#![allow(
    clippy::print_stdout,
    clippy::disallowed_methods,
    reason = "a benchmark reports its figures and measures time"
)]

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener as StdTcpListener};
use std::time::{Duration, Instant};

use bytes::Bytes;
use claw_runtime::bridge::spawn_bridge_on;
use claw_runtime::egress::EgressProxy;
use claw_runtime::policy::{HostPattern, NetworkPolicy};
use futures_util::stream;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const DOWNLOAD_BYTES: usize = 100 << 20;
const CHUNK_BYTES: usize = 1 << 20;
const LATENCY_REQUESTS: usize = 2000;
const WARMUP_REQUESTS: usize = 100;
const DOWNLOAD_RUNS: usize = 5;

type BenchBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

async fn answer(request: Request<Incoming>) -> Result<Response<BenchBody>, Infallible> {
    if request.uri().path() == "/big" {
        let chunk = Bytes::from(vec![7u8; CHUNK_BYTES]);
        let chunks = (0..DOWNLOAD_BYTES / CHUNK_BYTES)
            .map(move |_| Ok::<_, Infallible>(Frame::data(chunk.clone())));
        let mut response = Response::new(StreamBody::new(stream::iter(chunks)).boxed());
        response
            .headers_mut()
            .insert("content-length", DOWNLOAD_BYTES.into());
        Ok(response)
    } else {
        Ok(Response::new(Full::new(Bytes::from_static(b"ok")).boxed()))
    }
}

async fn upstream() -> SocketAddr {
    let listener = TcpListener::bind((LOCALHOST, 0))
        .await
        .expect("bind upstream");
    let addr = listener.local_addr().expect("upstream address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            stream.set_nodelay(true).expect("nodelay");
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(answer)),
            );
        }
    });
    addr
}

async fn client(addr: SocketAddr) -> SendRequest<Empty<Bytes>> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    sender
}

/// One GET; returns the body length.
async fn fetch(sender: &mut SendRequest<Empty<Bytes>>, uri: &str) -> usize {
    sender.ready().await.expect("connection ready");
    let request = Request::get(uri).body(Empty::new()).expect("request");
    let response = sender.send_request(request).await.expect("response");
    assert!(response.status().is_success(), "{}", response.status());
    let mut body = response.into_body();
    let mut total = 0;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.expect("body").into_data() {
            total += data.len();
        }
    }
    total
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index]
}

async fn latency(connect_to: SocketAddr, uri: &str) -> (Duration, Duration) {
    let mut sender = client(connect_to).await;
    for _ in 0..WARMUP_REQUESTS {
        fetch(&mut sender, uri).await;
    }
    let mut samples = Vec::with_capacity(LATENCY_REQUESTS);
    for _ in 0..LATENCY_REQUESTS {
        let start = Instant::now();
        fetch(&mut sender, uri).await;
        samples.push(start.elapsed());
    }
    samples.sort();
    (percentile(&samples, 0.5), percentile(&samples, 0.9))
}

/// Median MB/s over several 100 MB downloads.
async fn throughput(connect_to: SocketAddr, uri: &str) -> f64 {
    let mut rates = Vec::with_capacity(DOWNLOAD_RUNS);
    for _ in 0..DOWNLOAD_RUNS {
        let mut sender = client(connect_to).await;
        let start = Instant::now();
        let bytes = fetch(&mut sender, uri).await;
        assert_eq!(bytes, DOWNLOAD_BYTES);
        rates.push(bytes as f64 / (1 << 20) as f64 / start.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

#[tokio::main]
async fn main() {
    let upstream = upstream().await;
    let policy = NetworkPolicy {
        allow: vec![HostPattern {
            host: "127.0.0.1".to_owned(),
            port: upstream.port(),
        }],
        allow_ips: vec![LOCALHOST],
        ..NetworkPolicy::default()
    };
    let socket =
        std::env::temp_dir().join(format!("claw-egress-bench-{}.sock", std::process::id()));
    let proxy = EgressProxy::start(&policy, &socket)
        .await
        .expect("start proxy");
    let bridge_listener = StdTcpListener::bind((LOCALHOST, 0)).expect("bind bridge");
    let bridge = bridge_listener.local_addr().expect("bridge address");
    spawn_bridge_on(bridge_listener, socket.clone()).expect("start bridge");

    let absolute = |path: &str| format!("http://{upstream}{path}");
    let (direct_p50, direct_p90) = latency(upstream, "/small").await;
    let (proxied_p50, proxied_p90) = latency(bridge, &absolute("/small")).await;
    println!("egress latency, {LATENCY_REQUESTS} keep-alive GETs of 2 bytes (after {WARMUP_REQUESTS} warm-up):");
    println!("  direct            p50 {direct_p50:>10.1?}  p90 {direct_p90:>10.1?}");
    println!("  bridge+proxy      p50 {proxied_p50:>10.1?}  p90 {proxied_p90:>10.1?}");
    println!(
        "  added by the path p50 {:>10.1?}",
        proxied_p50.saturating_sub(direct_p50)
    );

    let direct_rate = throughput(upstream, "/big").await;
    let proxied_rate = throughput(bridge, &absolute("/big")).await;
    println!("egress throughput, 100 MB download, median of {DOWNLOAD_RUNS}:");
    println!("  direct            {direct_rate:>8.0} MB/s");
    println!(
        "  bridge+proxy      {proxied_rate:>8.0} MB/s ({:.0}% of direct)",
        100.0 * proxied_rate / direct_rate
    );

    let events = proxy.shutdown().await;
    println!("proxy recorded {} events", events.len());
}
