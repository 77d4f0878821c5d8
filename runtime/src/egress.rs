//! The egress proxy: the sandbox's only way out. Owner: the egress work (see lib.rs).

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
}
