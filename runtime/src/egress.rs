//! The egress proxy: the sandbox's only way out.
//!
//! The sandbox has no network of its own. An in-sandbox bridge ([`crate::bridge`]) forwards
//! `127.0.0.1:3128` to a Unix socket bound into the sandbox, and this proxy serves that socket:
//!
//! - HTTP/1.1 absolute-form requests (`GET http://host/...` and `GET https://host/...`; the latter
//!   is upgraded to TLS by the proxy, so credentials can be injected without a MITM certificate),
//! - `CONNECT host:port` tunnels, which are opaque: allowed only to allowlisted `host:port`, and
//!   no credential can be injected into them (the proxy never sees inside). Standard clients
//!   (curl, Python's urllib) tunnel `https://` URLs this way when `HTTPS_PROXY` is set, so a
//!   client that needs a credential must send `GET https://…` in absolute form to the proxy
//!   instead, as the scaffold's HTTP helper does.
//!
//! Every request is checked against the allowlist, then (live mode) its resolved addresses are
//! vetted against loopback/private/metadata/host ranges, and the proxy connects to exactly the
//! vetted address (no second lookup, so DNS rebinding cannot switch targets). Every decision is
//! recorded as an [`EgressEvent`], with secret values redacted.

mod address;
mod allowlist;
mod body;
mod events;
mod idle;
mod redact;
pub(crate) mod relay;
mod replay;
mod resolve;
mod secrets;
mod server;
mod target;
mod upstream;

pub use resolve::{Resolve, StaticResolver, SystemResolver};
pub use server::{EgressProxy, ProxyLimits, ProxyOptions};

/// One request the proxy saw, for the caller's audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressEvent {
    pub method: String,
    pub host: String,
    pub port: u16,
    /// Path and query, when the proxy could see them (not inside a CONNECT tunnel).
    pub path: Option<String>,
    pub outcome: EgressOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EgressOutcome {
    /// Forwarded upstream; the upstream status when known.
    Allowed { status: Option<u16> },
    /// Served from a replay fixture.
    Replayed { status: u16 },
    /// Refused: not allowlisted, forbidden address, placeholder to a wrong host, …
    Denied { reason: String },
    /// Replay mode: no fixture matched this request.
    Unmatched,
    /// Replay with a fallback: no fixture matched, the fallback answered with this status.
    Fallback { status: u16 },
}
