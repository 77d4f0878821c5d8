//! Name resolution behind a trait: the system resolver in production, a static map in tests.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, SocketAddr};

use async_trait::async_trait;

/// Turns a host name into addresses. The proxy vets every address it gets and then connects to
/// exactly one of them, so a resolver never decides on its own what is reachable.
#[async_trait]
pub trait Resolve: Send + Sync + std::fmt::Debug {
    async fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>>;
}

/// The operating system's resolver (`getaddrinfo` on a blocking thread).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

#[async_trait]
impl Resolve for SystemResolver {
    async fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        Ok(tokio::net::lookup_host((host, port)).await?.collect())
    }
}

/// A fixed map from names to addresses; unknown names fail to resolve. For tests.
#[derive(Debug, Clone, Default)]
pub struct StaticResolver {
    names: BTreeMap<String, Vec<IpAddr>>,
}

impl StaticResolver {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the addresses `host` resolves to. Names compare case-insensitively.
    pub fn with(mut self, host: &str, addrs: impl IntoIterator<Item = IpAddr>) -> Self {
        self.names
            .insert(host.to_ascii_lowercase(), addrs.into_iter().collect());
        self
    }
}

#[async_trait]
impl Resolve for StaticResolver {
    async fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        self.names
            .get(&host.to_ascii_lowercase())
            .map(|ips| ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect())
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no such host: {host}")))
    }
}
