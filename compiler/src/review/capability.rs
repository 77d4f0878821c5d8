//! An integration's capabilities: what its sandbox may reach (from the spec's lowered policy:
//! hosts, secrets and where they go, mounts, limits) and how its tools are gated (approval,
//! rate, timeout). This is the set a reviewer signs off and the first thing `clawc diff` shows.

use std::collections::{BTreeMap, BTreeSet};

use claw_runtime::policy::Injection;
use serde::{Deserialize, Serialize};
use serde_json::json;
use spec_lang::ir;

use crate::build::acceptance::ExampleSecrets;
use crate::lower::{self, Lifetime, LowerError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    /// `host:port` the sandbox may connect to.
    pub network: BTreeSet<String>,
    pub secrets: BTreeMap<String, SecretReach>,
    /// By target inside the sandbox.
    pub mounts: BTreeMap<String, MountReach>,
    /// The spec's limits as they are in the IR (base units).
    pub limits: ir::Limits,
    pub tools: BTreeMap<String, ToolGate>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretReach {
    /// Hosts the proxy may put the secret on.
    pub hosts: BTreeSet<String>,
    /// Of those, the ones it may reach over plain HTTP.
    pub plaintext: BTreeSet<String>,
    /// Where in a request it goes: `header NAME = "TEMPLATE"` or `query NAME`.
    pub injections: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MountReach {
    pub source: String,
    pub writable: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolGate {
    pub approval: bool,
    pub rate: Option<RateCap>,
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateCap {
    pub count: u32,
    pub period_seconds: u64,
}

impl RateCap {
    /// Whether `self` lets more calls through over time than `other` (compared as fractions,
    /// so `60 per minute` and `1 per second` are the same rate).
    pub fn exceeds(self, other: RateCap) -> bool {
        u128::from(self.count) * u128::from(other.period_seconds)
            > u128::from(other.count) * u128::from(self.period_seconds)
    }
}

impl Capabilities {
    /// The capabilities `spec` grants. Lowered exactly as a sandbox would be (with stand-in
    /// secret values, which decide nothing here), so the review sees what the runtime enforces.
    pub fn of(spec: &ir::Integration) -> Result<Capabilities, LowerError> {
        let policy = lower::policy(spec, &json!({}), &ExampleSecrets, Lifetime::Server)?;
        let network = policy
            .network
            .allow
            .iter()
            .map(|pattern| format!("{}:{}", pattern.host, pattern.port))
            .collect();
        let mut secrets: BTreeMap<String, SecretReach> = spec
            .secrets
            .keys()
            .map(|name| (name.clone(), SecretReach::default()))
            .collect();
        for rule in &policy.network.secrets {
            let reach = secrets.entry(rule.name.clone()).or_default();
            reach.hosts.extend(rule.hosts.iter().cloned());
            reach.plaintext.extend(rule.plaintext_hosts.iter().cloned());
            reach.injections.insert(match &rule.injection {
                Injection::Header { name, template } => format!("header {name} = {template:?}"),
                Injection::Query { name } => format!("query {name}"),
            });
        }
        let mounts = policy
            .mounts
            .iter()
            .map(|mount| {
                (
                    mount.target.to_string_lossy().into_owned(),
                    MountReach {
                        source: mount.source.to_string_lossy().into_owned(),
                        writable: mount.writable,
                    },
                )
            })
            .collect();
        let tools = spec
            .tools
            .iter()
            .map(|(name, tool)| {
                (
                    name.clone(),
                    ToolGate {
                        approval: tool.approval == ir::Approval::Required,
                        rate: tool.rate.map(|rate| RateCap {
                            count: rate.count,
                            period_seconds: rate.period.seconds(),
                        }),
                        timeout_ms: tool.timeout_ms,
                    },
                )
            })
            .collect();
        Ok(Capabilities {
            network,
            secrets,
            mounts,
            limits: spec.limits,
            tools,
        })
    }

    /// The one rendering that is hashed and signed: canonical JSON (sorted keys, no spaces).
    pub fn canonical(&self) -> String {
        let value = serde_json::to_value(self).unwrap_or_default();
        spec_lang::hash::canonical_json(&value)
    }

    pub fn hash(&self) -> String {
        spec_lang::hash::sha256_prefixed(self.canonical().as_bytes())
    }

    pub fn parse(canonical: &str) -> Result<Capabilities, serde_json::Error> {
        serde_json::from_str(canonical)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_compare_as_fractions() {
        let per_minute = |count| RateCap {
            count,
            period_seconds: 60,
        };
        let one_per_second = RateCap {
            count: 1,
            period_seconds: 1,
        };
        assert!(!per_minute(60).exceeds(one_per_second));
        assert!(!one_per_second.exceeds(per_minute(60)));
        assert!(per_minute(61).exceeds(one_per_second));
        assert!(one_per_second.exceeds(per_minute(59)));
    }
}
