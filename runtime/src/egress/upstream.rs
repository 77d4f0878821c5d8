//! Talking to the real upstream: TCP to an already vetted address, TLS with rustls (Mozilla's
//! roots from webpki-roots, plus any extra roots the caller trusts), one HTTP/1.1 exchange.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::body::ProxyBody;
use super::idle::IdleTimeout;
use super::target::{Scheme, Target};

#[derive(Debug, Clone)]
pub(crate) struct Upstream {
    tls: Arc<rustls::ClientConfig>,
    connect_timeout: Duration,
    idle_timeout: Duration,
}

impl Upstream {
    pub(crate) fn new(
        extra_roots: &[CertificateDer<'static>],
        connect_timeout: Duration,
        idle_timeout: Duration,
    ) -> io::Result<Self> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for root in extra_roots {
            roots
                .add(root.clone())
                .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            tls: Arc::new(config),
            connect_timeout,
            idle_timeout,
        })
    }

    /// Connects to the first of `addrs` that answers. Every address was vetted by the caller;
    /// nothing here resolves a name again.
    pub(crate) async fn connect(&self, addrs: &[SocketAddr]) -> io::Result<TcpStream> {
        let mut last_error = io::Error::new(io::ErrorKind::NotFound, "no address to connect to");
        for addr in addrs {
            match tokio::time::timeout(self.connect_timeout, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => {
                    // Latency matters more than packet count for small API calls.
                    stream.set_nodelay(true)?;
                    return Ok(stream);
                }
                Ok(Err(err)) => last_error = err,
                Err(_) => {
                    last_error = io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("connecting to {addr} timed out"),
                    )
                }
            }
        }
        Err(last_error)
    }

    /// Sends `request` (origin-form) over `stream`, in TLS when the target is `https`. The
    /// body streams: the proxy passes a body it has read whole, the relay one still arriving.
    pub(crate) async fn send(
        &self,
        stream: TcpStream,
        target: &Target,
        request: Request<ProxyBody>,
    ) -> Result<Response<Incoming>, String> {
        let stream = IdleTimeout::new(stream, self.idle_timeout);
        match target.scheme {
            Scheme::Http => exchange(stream, request).await,
            Scheme::Https => {
                let name = ServerName::try_from(target.endpoint.host.clone()).map_err(|err| {
                    format!("`{}` is not a TLS server name: {err}", target.endpoint.host)
                })?;
                let tls = TlsConnector::from(Arc::clone(&self.tls))
                    .connect(name, stream)
                    .await
                    .map_err(|err| format!("TLS with {}: {err}", target.endpoint))?;
                exchange(tls, request).await
            }
        }
    }
}

async fn exchange<I>(io: I, request: Request<ProxyBody>) -> Result<Response<Incoming>, String>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|err| format!("HTTP handshake: {err}"))?;
    tokio::spawn(async move {
        if let Err(err) = connection.await {
            tracing::debug!(%err, "upstream connection ended with an error");
        }
    });
    sender
        .send_request(request)
        .await
        .map_err(|err| format!("upstream request: {err}"))
}
