//! The one policy type every sandbox backend enforces. Default deny: whatever a field does not
//! grant is refused. The compiler lowers a spec into this; the runtime never sees `.claw`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

mod validate;

pub use validate::{
    is_env_name, reserved_conflict, split_host_port, PolicyError, BASE_ENV, RESERVED_TARGETS,
};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {
    /// Host paths made visible inside. Nothing else of the host is, except read-only `/usr`.
    pub mounts: Vec<Mount>,
    pub network: NetworkPolicy,
    /// The complete environment of the sandboxed program (no host variable leaks in).
    pub env: BTreeMap<String, String>,
    pub limits: Limits,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub source: PathBuf,
    pub target: PathBuf,
    pub writable: bool,
}

/// Egress: the sandbox has no network of its own; an in-sandbox bridge on 127.0.0.1 forwards to
/// the egress proxy over a Unix socket. Empty `allow` and no replay fixtures means no proxy at all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetworkPolicy {
    pub allow: Vec<HostPattern>,
    /// IP literals the policy names explicitly, exempt from the private/loopback refusal.
    pub allow_ips: Vec<std::net::IpAddr>,
    pub secrets: Vec<SecretRule>,
    pub mode: EgressMode,
    /// One authenticated HTTP API the sandbox reaches through the relay on its own loopback
    /// ([`crate::bridge::RELAY_BASE_URL`]), independent of `allow`.
    pub model_api: Option<ModelApiRelay>,
}

impl NetworkPolicy {
    /// Whether the sandbox needs the egress path at all.
    pub fn is_enabled(&self) -> bool {
        !self.allow.is_empty()
            || matches!(
                self.mode,
                EgressMode::Replay(_) | EgressMode::ReplayWithFallback { .. }
            )
            || self.model_api.is_some()
    }
}

/// The model-API relay: a program in the sandbox sends plain HTTP to
/// [`crate::bridge::RELAY_BASE_URL`] holding only `placeholder`; the host side drops whatever
/// credential headers the request carries (refusing it when they hold anything but the
/// placeholder), sets `header_name` to the real credential and forwards the request to
/// `upstream` in the upstream's own scheme, streaming the response back. A client that tunnels
/// `https://` through `CONNECT` could have nothing injected; this is how a sandboxed API client
/// is authenticated without ever holding the credential.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelApiRelay {
    /// `https://host[:port][/base-path]`, or `http://` to a loopback IP literal (a local test
    /// server: the only case where the credential may travel unencrypted, since it never
    /// leaves the machine). The request's path is appended to the base path.
    pub upstream: String,
    /// The header that carries the credential upstream (`x-api-key`, `authorization`).
    pub header_name: String,
    /// That header's value, `{value}` standing for the credential (`{value}`, `Bearer {value}`).
    pub header_template: String,
    pub value: SecretValue,
    /// What the sandbox holds instead of the credential.
    pub placeholder: String,
}

/// `host:port`. `host` may start with `*.`, which matches strictly deeper names only
/// (`*.x.com` matches `a.x.com`, never `x.com`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostPattern {
    pub host: String,
    pub port: u16,
}

/// A credential: the sandbox sees only `placeholder`; the proxy swaps in the value in the
/// declared header or query parameter on requests to `hosts` that leave over TLS, and refuses
/// any request that carries the placeholder (or the real value) elsewhere.
#[derive(Clone, PartialEq)]
pub struct SecretRule {
    pub name: String,
    pub placeholder: String,
    pub value: SecretValue,
    pub injection: Injection,
    /// `host` or `host:port` (the same syntax as [`HostPattern::parse`], port optional).
    pub hosts: Vec<String>,
    /// The subset of `hosts` the spec explicitly lets the secret reach over plain HTTP (a LAN
    /// appliance without TLS). Everywhere else a plain-HTTP request that would carry the secret
    /// is refused and recorded.
    pub plaintext_hosts: Vec<String>,
}

impl fmt::Debug for SecretRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretRule")
            .field("name", &self.name)
            .field("placeholder", &self.placeholder)
            .field("value", &self.value)
            .field("injection", &self.injection)
            .field("hosts", &self.hosts)
            .field("plaintext_hosts", &self.plaintext_hosts)
            .finish()
    }
}

/// A secret's real value. Its `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(pub String);

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Injection {
    /// Set header `name` to `template` with `{value}` replaced by the secret.
    Header { name: String, template: String },
    /// Set query parameter `name` to the secret.
    Query { name: String },
}

#[derive(Debug, Clone, Default, PartialEq)]
pub enum EgressMode {
    /// Forward allowed requests to the real network.
    #[default]
    Live,
    /// Serve these recorded responses; anything unmatched is refused and reported.
    Replay(Vec<Fixture>),
    /// Serve these recorded responses; answer anything unmatched (but allowed) with the next of
    /// `fallback` in turn, as an upstream that knows nothing of the request would, recorded as
    /// [`crate::egress::EgressOutcome::Fallback`]. Hardening runs use it: generated inputs make
    /// requests no fixture recorded, and the code must cope with the upstream's 404s and 500s.
    /// Everything a plain replay refuses is refused here too.
    ReplayWithFallback {
        fixtures: Vec<Fixture>,
        /// Used in turn, from the first; empty is a plain [`EgressMode::Replay`].
        fallback: Vec<FallbackResponse>,
    },
}

/// A canned answer to any request replay has no fixture for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FallbackResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// A recorded HTTP exchange for replay mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixture {
    pub method: String,
    /// Absolute URL, e.g. `https://api.github.com/repos/o/r/issues?state=open`.
    pub url: String,
    /// When set, the request body must equal this.
    pub request_body: Option<Vec<u8>>,
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// Resource limits of one sandbox.
///
/// Two kinds: limits on the sandbox's *resources* (memory, pids, CPU, `/tmp`), which hold for
/// its whole life, and *run* limits (`timeout`, `output_bytes`), which bound a run-to-completion
/// sandbox (`clawc sandbox exec`, one example run). A long-lived server's sandbox has neither
/// run limit: the spec's `timeout` and `output` bound one tool call, and whoever makes the call
/// (the acceptance harness, the gateway) enforces them per call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub memory_bytes: u64,
    /// Processes and threads of the program (the sandbox's own init is not counted).
    pub pids: u32,
    /// Share of one CPU (0.5 = half a core).
    pub cpu: f64,
    /// Size of the private `/tmp` tmpfs.
    pub tmp_bytes: u64,
    /// Wall-clock limit for the whole run: the process tree is killed when it passes
    /// ([`crate::sandbox::LimitKind::Timeout`]). `None`: a long-lived sandbox.
    pub timeout: Option<Duration>,
    /// Cap on the bytes the program writes to stdout and stderr together, enforced by the
    /// backend's capture: past it the sandbox is killed ([`crate::sandbox::LimitKind::Output`]).
    /// `None`: a long-lived sandbox.
    pub output_bytes: Option<u64>,
}

impl Default for Limits {
    /// The spec language's defaults (a compiler test keeps the two equal; the crates never
    /// import each other). Used as is only by `clawc sandbox exec` without `--spec`.
    fn default() -> Self {
        Self {
            memory_bytes: 256 << 20,
            pids: 64,
            cpu: 1.0,
            tmp_bytes: 16 << 20,
            timeout: Some(Duration::from_secs(30)),
            output_bytes: Some(1 << 20),
        }
    }
}
