//! The one place where the language and the runtime meet: a checked spec's IR lowered into the
//! runtime's [`Policy`]. Every value is lowered explicitly — nothing falls back to the runtime's
//! own defaults — so a sandbox runs under exactly what the reviewed spec says.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use claw_runtime::policy::{
    HostPattern, Injection, Limits, Mount, NetworkPolicy, Policy, PolicyError, SecretRule,
    SecretValue,
};
use serde_json::Value;
use spec_lang::ir;

/// How long the sandbox lives, which decides whether the spec's per-call bounds (`timeout`,
/// `output`) bound the whole sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// One program run to its end (`clawc sandbox exec --spec`, one example run): the spec's
    /// `timeout` and `output` bound the run.
    Run,
    /// A long-lived server (an MCP server behind the gateway): its caller bounds each call, so
    /// the sandbox itself has no wall timeout and no output cap (a hardening run's sessions).
    Server,
}

/// Where secrets' real values come from (the environment, or a deployment config later).
pub trait SecretSource {
    /// The value of `secret` of `integration`, or `None` when this source has none.
    fn value(&self, integration: &str, secret: &str) -> Option<String>;
    /// What a person should set when a value is missing.
    fn hint(&self, integration: &str, secret: &str) -> String;
}

/// Secrets from clawc's environment: `CLAWC_SECRET_<INTEGRATION>__<NAME>` first, then
/// `CLAWC_SECRET_<NAME>` (names upper-cased), so that integrations can share a token.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvSecrets;

impl EnvSecrets {
    pub fn variables(integration: &str, secret: &str) -> [String; 2] {
        let secret = secret.to_ascii_uppercase();
        [
            format!(
                "CLAWC_SECRET_{}__{secret}",
                integration.to_ascii_uppercase()
            ),
            format!("CLAWC_SECRET_{secret}"),
        ]
    }
}

impl SecretSource for EnvSecrets {
    fn value(&self, integration: &str, secret: &str) -> Option<String> {
        Self::variables(integration, secret)
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    fn hint(&self, integration: &str, secret: &str) -> String {
        let [specific, shared] = Self::variables(integration, secret);
        format!("set {specific} (or {shared}, which integrations may share)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LowerError {
    #[error("secret `{secret}` of `{integration}` has no value: {hint}")]
    MissingSecret {
        integration: String,
        secret: String,
        hint: String,
    },
    #[error("config: {0}")]
    Config(String),
    #[error("the lowered policy is refused: {0}")]
    Policy(#[from] PolicyError),
}

/// The environment variable that carries the integration's configuration (JSON) inside.
pub const CONFIG_ENV: &str = "CLAWC_CONFIG";

/// The placeholder the sandbox sees instead of a secret's value (also under
/// `CLAWC_SECRET_<NAME>` inside, so code that reads a token gets only this).
pub fn placeholder(integration: &str, secret: &str) -> String {
    format!("clawc-placeholder-{integration}-{secret}")
}

/// Lowers a checked integration into the policy its sandbox runs under. `config` is the
/// configuration object, already validated by [`config_with_defaults`].
pub fn policy(
    spec: &ir::Integration,
    config: &Value,
    secrets: &dyn SecretSource,
    lifetime: Lifetime,
) -> Result<Policy, LowerError> {
    let mut env = BTreeMap::new();
    env.insert(CONFIG_ENV.to_owned(), config.to_string());
    let mut network = NetworkPolicy::default();
    for endpoint in &spec.network {
        allow(
            &mut network,
            HostPattern {
                host: endpoint.host.clone(),
                port: endpoint.port,
            },
        );
    }
    for (name, secret) in &spec.secrets {
        let value = secrets
            .value(&spec.name, name)
            .ok_or_else(|| LowerError::MissingSecret {
                integration: spec.name.clone(),
                secret: name.clone(),
                hint: secrets.hint(&spec.name, name),
            })?;
        let placeholder = placeholder(&spec.name, name);
        env.insert(
            format!("CLAWC_SECRET_{}", name.to_ascii_uppercase()),
            placeholder.clone(),
        );
        for injection in &secret.injections {
            network.secrets.push(SecretRule {
                name: name.clone(),
                placeholder: placeholder.clone(),
                value: SecretValue(value.clone()),
                injection: match injection.kind {
                    ir::InjectionKind::Header => Injection::Header {
                        name: injection.name.clone(),
                        template: injection.template.clone(),
                    },
                    ir::InjectionKind::Query => Injection::Query {
                        name: injection.name.clone(),
                    },
                },
                hosts: injection.hosts.clone(),
                // The spec opts hosts in per secret; each rule gets those of its own hosts.
                plaintext_hosts: injection
                    .hosts
                    .iter()
                    .filter(|host| secret.plaintext_hosts.contains(host))
                    .cloned()
                    .collect(),
            });
        }
    }
    let mounts = spec
        .mounts
        .iter()
        .map(|mount| Mount {
            source: PathBuf::from(&mount.source),
            target: PathBuf::from(&mount.target),
            writable: mount.mode == ir::MountMode::Rw,
        })
        .collect();
    let policy = Policy {
        mounts,
        network,
        env,
        limits: limits(&spec.limits, lifetime),
    };
    policy.validate()?;
    Ok(policy)
}

/// Every limit, explicitly; the spec's per-call bounds bound a run-to-completion sandbox only.
pub fn limits(limits: &ir::Limits, lifetime: Lifetime) -> Limits {
    let run = lifetime == Lifetime::Run;
    Limits {
        memory_bytes: limits.memory_bytes,
        pids: limits.pids,
        cpu: f64::from(limits.cpu_millicores) / 1000.0,
        tmp_bytes: limits.tmp_bytes,
        timeout: run.then(|| Duration::from_millis(limits.timeout_ms)),
        output_bytes: run.then_some(limits.output_bytes),
    }
}

/// Grants `pattern`; an address written literally is one the author means, so it is exempt
/// from the proxy's private/loopback refusal (the one place this rule lives).
pub fn allow(network: &mut NetworkPolicy, pattern: HostPattern) {
    if let Ok(ip) = pattern.host.parse::<IpAddr>() {
        network.allow_ips.push(ip);
    }
    network.allow.push(pattern);
}

/// `given` (an object) with the config schema's top-level defaults filled in, validated
/// against the schema.
pub fn config_with_defaults(spec: &ir::Integration, given: Value) -> Result<Value, LowerError> {
    let Value::Object(mut object) = given else {
        return Err(LowerError::Config("must be a JSON object".to_owned()));
    };
    if let Some(Value::Object(properties)) = spec.config.get("properties") {
        for (key, schema) in properties {
            if let Some(default) = schema.get("default") {
                object.entry(key.clone()).or_insert_with(|| default.clone());
            }
        }
    }
    let config = Value::Object(object);
    let validator = jsonschema::validator_for(&spec.config)
        .map_err(|e| LowerError::Config(format!("the spec's config schema: {e}")))?;
    let problems = schema_problems(&validator, &config, usize::MAX);
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(LowerError::Config(problems.join("; ")))
    }
}

/// At most `limit` ways `value` breaks the schema, each with the JSON pointer it is at.
pub fn schema_problems(
    validator: &jsonschema::Validator,
    value: &Value,
    limit: usize,
) -> Vec<String> {
    validator
        .iter_errors(value)
        .take(limit)
        .map(|e| {
            let at = e.instance_path().to_string();
            if at.is_empty() {
                e.to_string()
            } else {
                format!("{at}: {e}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;
    impl SecretSource for Fixed {
        fn value(&self, _: &str, secret: &str) -> Option<String> {
            Some(format!("real-{secret}"))
        }
        fn hint(&self, _: &str, _: &str) -> String {
            String::new()
        }
    }

    struct Empty;
    impl SecretSource for Empty {
        fn value(&self, _: &str, _: &str) -> Option<String> {
            None
        }
        fn hint(&self, integration: &str, secret: &str) -> String {
            EnvSecrets.hint(integration, secret)
        }
    }

    fn checked(name: &str, text: &str) -> ir::Integration {
        let checked = spec_lang::check(name, text, &spec_lang::NoFiles);
        checked
            .ir
            .unwrap_or_else(|| panic!("{name}: {:?}", checked.diagnostics))
    }

    const MINIMAL: &str = r#"integration minimal {
  version "0.1.0"
  summary "Nothing but defaults."
  target python
  tool ping {
    description "Answers."
    input {}
    output { ok: bool }
  }
  intent "Return ok."
}
"#;

    /// The runtime's `Limits::default` serves `sandbox exec` without `--spec`; it must be the
    /// sandbox a spec that sets no limit gets.
    #[test]
    fn runtime_defaults_are_the_spec_defaults() {
        let spec = checked("minimal", MINIMAL);
        assert_eq!(limits(&spec.limits, Lifetime::Run), Limits::default());
    }

    #[test]
    fn servers_have_no_run_bounds() {
        let spec = checked("minimal", MINIMAL);
        let lowered = limits(&spec.limits, Lifetime::Server);
        assert_eq!(lowered.timeout, None);
        assert_eq!(lowered.output_bytes, None);
        assert_eq!(lowered.memory_bytes, spec.limits.memory_bytes);
    }

    /// The reserved mount targets are one list in each crate (they never import each other):
    /// the same paths, and the language refuses exactly what the runtime would — and also
    /// the compiler's code mount, so that what runs is the tree that hashes to claw.lock,
    /// never a folder a spec lays over it.
    #[test]
    fn reserved_targets_agree_with_the_language() {
        let code_root = "/opt/clawc";
        assert!(crate::build::contract::CODE_INSIDE.starts_with(&format!("{code_root}/")));
        let runtime_and_code: Vec<&str> = claw_runtime::policy::RESERVED_TARGETS
            .iter()
            .copied()
            .chain([code_root])
            .collect();
        assert_eq!(spec_lang::RESERVED_MOUNT_TARGETS, runtime_and_code);
        let probes = [
            "/run",
            "/etc",
            "/etc/ssl",
            "/lib64",
            "/tmp/x",
            "/usr/local",
            "/data",
            "/run/user",
            "/srv/app",
            "/opt",
            "/opt/clawc/integration/generated",
        ];
        for target in spec_lang::RESERVED_MOUNT_TARGETS.iter().chain(&probes) {
            let spec = MINIMAL.replace(
                "  target python\n",
                &format!("  target python\n  filesystem {{\n    mount \"/srv/x\" at \"{target}\" ro\n  }}\n"),
            );
            let checked = spec_lang::check("minimal", &spec, &spec_lang::NoFiles);
            let refused_by_language = checked.has_errors();
            let path = std::path::Path::new(target);
            let refused_by_runtime = claw_runtime::policy::reserved_conflict(path).is_some()
                || path.starts_with(code_root)
                || std::path::Path::new(code_root).starts_with(path);
            assert_eq!(
                refused_by_language, refused_by_runtime,
                "{target}: {:?}",
                checked.diagnostics
            );
        }
    }

    fn bundled_specs() -> Vec<PathBuf> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../specs");
        let mut specs: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("specs/")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "claw"))
            .collect();
        specs.sort();
        specs
    }

    /// Every bundled spec lowers into a policy both backends accept, with every value taken
    /// from the spec.
    #[test]
    fn every_bundled_spec_lowers() {
        let specs = bundled_specs();
        assert!(specs.len() >= 9, "found {} specs", specs.len());
        for path in specs {
            let text = std::fs::read_to_string(&path).expect("read spec");
            let stem = path.file_stem().and_then(|s| s.to_str()).expect("stem");
            let world = crate::sources::FsWorld::for_spec(&path);
            let checked = spec_lang::check(stem, &text, &world);
            let spec = checked
                .ir
                .unwrap_or_else(|| panic!("{stem}: {:?}", checked.diagnostics));
            let config = Value::Object(Default::default());
            // A spec whose config has required values cannot lower without them: fill them
            // from its first example instead.
            let config = config_with_defaults(&spec, config).or_else(|_| {
                config_with_defaults(
                    &spec,
                    spec.examples
                        .first()
                        .map(|e| e.config.clone())
                        .unwrap_or_default(),
                )
            });
            let config = config.unwrap_or_else(|e| panic!("{stem}: {e}"));
            let policy = policy(&spec, &config, &Fixed, Lifetime::Run)
                .unwrap_or_else(|e| panic!("{stem}: {e}"));
            assert_eq!(
                policy.limits.memory_bytes, spec.limits.memory_bytes,
                "{stem}"
            );
            assert_eq!(policy.limits.pids, spec.limits.pids, "{stem}");
            assert_eq!(
                policy.limits.timeout,
                Some(Duration::from_millis(spec.limits.timeout_ms)),
                "{stem}"
            );
            assert_eq!(policy.network.allow.len(), spec.network.len(), "{stem}");
            assert_eq!(policy.mounts.len(), spec.mounts.len(), "{stem}");
            let injections: usize = spec.secrets.values().map(|s| s.injections.len()).sum();
            assert_eq!(policy.network.secrets.len(), injections, "{stem}");
            for rule in &policy.network.secrets {
                assert_eq!(rule.value.0, format!("real-{}", rule.name));
                // Plain HTTP only where the spec says so, and only among the rule's own hosts.
                let opted_in = &spec.secrets[&rule.name].plaintext_hosts;
                assert!(
                    rule.plaintext_hosts
                        .iter()
                        .all(|h| opted_in.contains(h) && rule.hosts.contains(h)),
                    "{stem}"
                );
                let expected: &[&str] = if stem == "home_assistant" {
                    &["homeassistant.local"]
                } else {
                    &[]
                };
                assert_eq!(rule.plaintext_hosts, expected, "{stem}");
                // The sandbox's environment holds the placeholder, never the value.
                assert!(
                    !policy.env.values().any(|v| v.contains(&rule.value.0)),
                    "{stem}"
                );
            }
            assert_eq!(
                policy.env.get(CONFIG_ENV).map(String::as_str),
                Some(config.to_string().as_str())
            );
        }
    }

    #[test]
    fn a_missing_secret_names_both_variables() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../specs/github_issues.claw");
        let text = std::fs::read_to_string(&path).expect("read spec");
        let world = crate::sources::FsWorld::for_spec(&path);
        let spec = spec_lang::check("github_issues", &text, &world)
            .ir
            .expect("checks");
        let config = spec.examples[0].config.clone();
        let error = policy(&spec, &config, &Empty, Lifetime::Run)
            .expect_err("no secret")
            .to_string();
        assert!(
            error.contains("CLAWC_SECRET_GITHUB_ISSUES__GITHUB_TOKEN"),
            "{error}"
        );
        assert!(error.contains("CLAWC_SECRET_GITHUB_TOKEN"), "{error}");
    }

    #[test]
    fn config_is_validated_and_defaulted() {
        let spec = checked("minimal", MINIMAL);
        assert!(config_with_defaults(&spec, Value::Array(vec![])).is_err());
        assert!(config_with_defaults(&spec, serde_json::json!({"unknown": 1})).is_err());
        assert_eq!(
            config_with_defaults(&spec, serde_json::json!({})).ok(),
            Some(serde_json::json!({}))
        );
    }
}
