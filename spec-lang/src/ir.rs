//! The checked, fully resolved intermediate representation of one integration.
//!
//! Self-contained: every default is filled in, every quantity is in base units (bytes,
//! milliseconds, millicores), every type is a JSON Schema 2020-12 value, every `file("...")`
//! fixture is loaded. No spans: formatting and comments leave no trace here, which is what makes
//! [`crate::hash`] invariant under them. Collections whose order means nothing are sorted
//! (maps by name, lists by key), so reordering items in the source does not change the IR either.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// One integration: the whole policy and contract the spec declares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Integration {
    /// The integration's name; equals the spec's file stem.
    pub name: String,
    /// Semantic version of the spec (`MAJOR.MINOR.PATCH`).
    pub version: String,
    pub summary: String,
    /// The language the generated code is written in.
    pub target: Target,
    /// Secrets by name. A secret never enters the sandbox: the egress proxy injects it.
    pub secrets: BTreeMap<String, Secret>,
    /// Hosts the integration may connect to, sorted by host then port.
    pub network: Vec<Endpoint>,
    /// Host directories visible inside the sandbox, sorted by target.
    pub mounts: Vec<Mount>,
    pub limits: Limits,
    /// JSON Schema of the integration's configuration object.
    pub config: Value,
    /// Named types by name, each as a JSON Schema (references use `#/$defs/NAME`).
    pub types: BTreeMap<String, Value>,
    pub tools: BTreeMap<String, Tool>,
    /// The prose the generator implements the tools from.
    pub intent: String,
    /// Examples, sorted by name.
    pub examples: Vec<Example>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Python,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Secret {
    /// Where the proxy puts the secret, sorted.
    pub injections: Vec<Injection>,
    /// Injection hosts (lower-case, exact names, sorted, unique) to which the proxy may send the
    /// secret over plain HTTP; to every other host it goes only over TLS. Omitted when empty, so
    /// that the hash of every spec without a `plaintext` line stays what it was.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plaintext_hosts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Injection {
    pub kind: InjectionKind,
    /// Header or query-parameter name.
    pub name: String,
    /// The value sent; `{value}` stands for the secret (a bare `{value}` when the spec gives none).
    pub template: String,
    /// Hosts (lower-case, possibly `*.` wildcards) the secret may be sent to, sorted.
    pub hosts: Vec<String>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum InjectionKind {
    Header,
    Query,
}

/// One allowlisted `host:port`. `host` is lower-case; `*.example.com` matches names strictly
/// below `example.com`, never `example.com` itself.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Mount {
    /// Absolute, normalised host path.
    pub source: String,
    /// Absolute, normalised path inside the sandbox.
    pub target: String,
    pub mode: MountMode,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum MountMode {
    Ro,
    Rw,
}

/// Resource limits in base units; every one is set (defaults filled in by the checker).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub memory_bytes: u64,
    pub pids: u32,
    /// CPU share in thousandths of one core (`cpu 0.5` is 500).
    pub cpu_millicores: u32,
    /// Wall-clock limit of one tool call, in milliseconds.
    pub timeout_ms: u64,
    /// Size of the private `/tmp`.
    pub tmp_bytes: u64,
    /// Largest tool output accepted.
    pub output_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    pub description: String,
    /// JSON Schema 2020-12 of the arguments object (self-contained: carries its `$defs`).
    pub input: Value,
    /// JSON Schema 2020-12 of the result object (self-contained).
    pub output: Value,
    /// Whether a human must approve every call.
    pub approval: Approval,
    pub rate: Option<Rate>,
    /// Per-call time limit in milliseconds (the integration's `timeout` unless the tool sets one).
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Approval {
    None,
    Required,
}

/// At most `count` calls per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    pub count: u32,
    pub period: Period,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Second,
    Minute,
    Hour,
    Day,
}

impl Period {
    pub fn seconds(self) -> u64 {
        match self {
            Period::Second => 1,
            Period::Minute => 60,
            Period::Hour => 3_600,
            Period::Day => 86_400,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Example {
    pub name: String,
    /// The configuration object the tool runs with (`{}` when the example gives none).
    pub config: Value,
    pub call: Call,
    /// The HTTP exchanges the egress proxy replays, in source order.
    pub http: Vec<HttpFixture>,
    pub expect: Expect,
    /// What each mount (by target) holds before the call: file path relative to the mount →
    /// UTF-8 contents. A mount not named here starts empty; seeded files and folders have the
    /// modification time 2000-01-01T00:00:00Z. Omitted when empty, so that the hash
    /// of every spec without `files` clauses stays what it was.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files_before: BTreeMap<String, BTreeMap<String, String>>,
    /// What each `rw` mount (by target) must hold after the call, exactly: these regular files
    /// with these contents and no other file. A mount not named here is not compared.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files_after: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Call {
    pub tool: String,
    pub args: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpFixture {
    /// Upper-case HTTP method.
    pub method: String,
    /// Absolute `http`/`https` URL.
    pub url: String,
    /// The request body the generated code is expected to send, if any.
    pub request: Option<Body>,
    pub status: u16,
    pub response: Option<Body>,
}

/// An HTTP body with its content; `file("...")` contents are already loaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Body {
    Json { value: Value },
    Text { text: String },
}

impl Body {
    pub fn content_type(&self) -> &'static str {
        match self {
            Body::Json { .. } => "application/json",
            Body::Text { .. } => "text/plain; charset=utf-8",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// The tool's output must equal this value.
    Output(Value),
    /// The tool must fail with a message containing this text (case-insensitive).
    Error(String),
}
