//! Two capability sets compared: every change classed as widening (the integration may now do
//! something it could not), narrowing or neutral, and tied to the spec construct it comes from.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use spec_lang::ir;

use super::capability::{Capabilities, RateCap, ToolGate};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    Widening,
    Narrowing,
    Neutral,
}

/// Which spec a change's line is in: what was removed is found in the base, the rest in the
/// work tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Base,
    Head,
}

/// The spec construct a change comes from, so that its line can be found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    Integration,
    Host { endpoint: String },
    Secret { secret: String },
    SecretHost { secret: String, host: String },
    Plaintext { secret: String, host: String },
    Mount { target: String },
    Limit { key: &'static str },
    Tool { tool: String },
    Approval { tool: String },
    Rate { tool: String },
    ToolTimeout { tool: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub class: Class,
    /// One line for a person: `network: api.example.com:443 added`.
    pub text: String,
    pub subject: Subject,
    pub side: Side,
}

fn change(class: Class, subject: Subject, side: Side, text: String) -> Change {
    Change {
        class,
        text,
        subject,
        side,
    }
}

/// What changed from `base` to `head`; `None` is an integration that does not exist on that
/// side. Widening first, then narrowing, then neutral, each in spec order.
pub fn compare(base: Option<&Capabilities>, head: Option<&Capabilities>) -> Vec<Change> {
    let mut changes = match (base, head) {
        (None, None) => Vec::new(),
        (Some(_), None) => vec![change(
            Class::Narrowing,
            Subject::Integration,
            Side::Base,
            "integration removed".to_owned(),
        )],
        (None, Some(head)) => added(head),
        (Some(base), Some(head)) => between(base, head),
    };
    changes.sort_by_key(|c| c.class);
    changes
}

/// What `current` may do beyond `signed`: the changes a sign-off must cover.
pub fn widenings(signed: &Capabilities, current: &Capabilities) -> Vec<Change> {
    compare(Some(signed), Some(current))
        .into_iter()
        .filter(|c| c.class == Class::Widening)
        .collect()
}

/// A new integration: each thing it may do is a widening; its limits are listed once.
fn added(head: &Capabilities) -> Vec<Change> {
    let mut changes = vec![change(
        Class::Neutral,
        Subject::Integration,
        Side::Head,
        format!("new integration; limits {}", describe_limits(&head.limits)),
    )];
    for endpoint in &head.network {
        changes.push(host_added(endpoint));
    }
    for (name, reach) in &head.secrets {
        changes.push(secret_added(name, &reach.hosts));
        for host in &reach.plaintext {
            changes.push(plaintext_added(name, host));
        }
    }
    for (target, mount) in &head.mounts {
        changes.push(mount_added(target, &mount.source, mount.writable));
    }
    for (name, gate) in &head.tools {
        changes.push(tool_added(name, gate));
    }
    changes
}

fn between(base: &Capabilities, head: &Capabilities) -> Vec<Change> {
    let mut changes = Vec::new();
    for endpoint in head.network.difference(&base.network) {
        changes.push(host_added(endpoint));
    }
    for endpoint in base.network.difference(&head.network) {
        changes.push(change(
            Class::Narrowing,
            Subject::Host {
                endpoint: endpoint.clone(),
            },
            Side::Base,
            format!("network: {endpoint} removed"),
        ));
    }
    secrets(base, head, &mut changes);
    mounts(base, head, &mut changes);
    limits(&base.limits, &head.limits, &mut changes);
    tools(&base.tools, &head.tools, &mut changes);
    changes
}

fn host_added(endpoint: &str) -> Change {
    change(
        Class::Widening,
        Subject::Host {
            endpoint: endpoint.to_owned(),
        },
        Side::Head,
        format!("network: {endpoint} added"),
    )
}

fn secret_added(name: &str, hosts: &BTreeSet<String>) -> Change {
    change(
        Class::Widening,
        Subject::Secret {
            secret: name.to_owned(),
        },
        Side::Head,
        format!("secret `{name}` added, sent to {}", list(hosts)),
    )
}

fn plaintext_added(secret: &str, host: &str) -> Change {
    change(
        Class::Widening,
        Subject::Plaintext {
            secret: secret.to_owned(),
            host: host.to_owned(),
        },
        Side::Head,
        format!("secret `{secret}`: may now travel to {host} over plain HTTP"),
    )
}

fn mount_added(target: &str, source: &str, writable: bool) -> Change {
    change(
        Class::Widening,
        Subject::Mount {
            target: target.to_owned(),
        },
        Side::Head,
        format!("mount {target} added: {source}, {}", mode(writable)),
    )
}

fn tool_added(name: &str, gate: &ToolGate) -> Change {
    let approval = if gate.approval {
        "approval required"
    } else {
        "no approval"
    };
    let rate = gate.rate.map_or("no rate limit".to_owned(), describe_rate);
    change(
        Class::Widening,
        Subject::Tool {
            tool: name.to_owned(),
        },
        Side::Head,
        format!(
            "tool `{name}` added ({approval}, {rate}, timeout {})",
            millis(gate.timeout_ms)
        ),
    )
}

fn secrets(base: &Capabilities, head: &Capabilities, changes: &mut Vec<Change>) {
    for (name, after) in &head.secrets {
        let Some(before) = base.secrets.get(name) else {
            changes.push(secret_added(name, &after.hosts));
            for host in &after.plaintext {
                changes.push(plaintext_added(name, host));
            }
            continue;
        };
        for host in after.hosts.difference(&before.hosts) {
            changes.push(change(
                Class::Widening,
                Subject::SecretHost {
                    secret: name.clone(),
                    host: host.clone(),
                },
                Side::Head,
                format!("secret `{name}`: may now be sent to {host}"),
            ));
        }
        for host in before.hosts.difference(&after.hosts) {
            changes.push(change(
                Class::Narrowing,
                Subject::SecretHost {
                    secret: name.clone(),
                    host: host.clone(),
                },
                Side::Base,
                format!("secret `{name}`: no longer sent to {host}"),
            ));
        }
        for host in after.plaintext.difference(&before.plaintext) {
            changes.push(plaintext_added(name, host));
        }
        for host in before.plaintext.difference(&after.plaintext) {
            changes.push(change(
                Class::Narrowing,
                Subject::Plaintext {
                    secret: name.clone(),
                    host: host.clone(),
                },
                Side::Base,
                format!("secret `{name}`: TLS required again for {host}"),
            ));
        }
        if after.injections != before.injections {
            changes.push(change(
                Class::Neutral,
                Subject::Secret {
                    secret: name.clone(),
                },
                Side::Head,
                format!(
                    "secret `{name}`: injected as {} (was {})",
                    list(&after.injections),
                    list(&before.injections)
                ),
            ));
        }
    }
    for name in base.secrets.keys() {
        if !head.secrets.contains_key(name) {
            changes.push(change(
                Class::Narrowing,
                Subject::Secret {
                    secret: name.clone(),
                },
                Side::Base,
                format!("secret `{name}` removed"),
            ));
        }
    }
}

fn mounts(base: &Capabilities, head: &Capabilities, changes: &mut Vec<Change>) {
    for (target, after) in &head.mounts {
        let subject = Subject::Mount {
            target: target.clone(),
        };
        let Some(before) = base.mounts.get(target) else {
            changes.push(mount_added(target, &after.source, after.writable));
            continue;
        };
        if after.source != before.source {
            changes.push(change(
                Class::Widening,
                subject.clone(),
                Side::Head,
                format!(
                    "mount {target}: now backed by {} (was {})",
                    after.source, before.source
                ),
            ));
        }
        if after.writable != before.writable {
            let class = if after.writable {
                Class::Widening
            } else {
                Class::Narrowing
            };
            changes.push(change(
                class,
                subject,
                Side::Head,
                format!(
                    "mount {target}: {} (was {})",
                    mode(after.writable),
                    mode(before.writable)
                ),
            ));
        }
    }
    for (target, before) in &base.mounts {
        if !head.mounts.contains_key(target) {
            changes.push(change(
                Class::Narrowing,
                Subject::Mount {
                    target: target.clone(),
                },
                Side::Base,
                format!("mount {target} removed (was {})", before.source),
            ));
        }
    }
}

/// A limit's key, its two values, and how to show one.
type LimitRow = (&'static str, u64, u64, fn(u64) -> String);

fn limits(base: &ir::Limits, head: &ir::Limits, changes: &mut Vec<Change>) {
    let rows: [LimitRow; 6] = [
        ("memory", base.memory_bytes, head.memory_bytes, bytes),
        ("pids", base.pids.into(), head.pids.into(), |n| {
            n.to_string()
        }),
        (
            "cpu",
            base.cpu_millicores.into(),
            head.cpu_millicores.into(),
            cores,
        ),
        ("timeout", base.timeout_ms, head.timeout_ms, millis),
        ("tmp", base.tmp_bytes, head.tmp_bytes, bytes),
        ("output", base.output_bytes, head.output_bytes, bytes),
    ];
    for (key, before, after, show) in rows {
        if before == after {
            continue;
        }
        let (class, verb) = if after > before {
            (Class::Widening, "raised")
        } else {
            (Class::Narrowing, "lowered")
        };
        changes.push(change(
            class,
            Subject::Limit { key },
            Side::Head,
            format!("limit {key} {verb}: {} → {}", show(before), show(after)),
        ));
    }
}

fn tools(
    base: &BTreeMap<String, ToolGate>,
    head: &BTreeMap<String, ToolGate>,
    changes: &mut Vec<Change>,
) {
    for (name, after) in head {
        let Some(before) = base.get(name) else {
            changes.push(tool_added(name, after));
            continue;
        };
        if before.approval != after.approval {
            let (class, text) = if before.approval {
                (Class::Widening, "`approval required` dropped")
            } else {
                (Class::Narrowing, "now needs approval")
            };
            changes.push(change(
                class,
                Subject::Approval { tool: name.clone() },
                Side::Head,
                format!("tool `{name}`: {text}"),
            ));
        }
        if let Some((class, text)) = rate_change(before.rate, after.rate) {
            changes.push(change(
                class,
                Subject::Rate { tool: name.clone() },
                Side::Head,
                format!("tool `{name}`: {text}"),
            ));
        }
        if before.timeout_ms != after.timeout_ms {
            let (class, verb) = if after.timeout_ms > before.timeout_ms {
                (Class::Widening, "raised")
            } else {
                (Class::Narrowing, "lowered")
            };
            changes.push(change(
                class,
                Subject::ToolTimeout { tool: name.clone() },
                Side::Head,
                format!(
                    "tool `{name}`: timeout {verb}: {} → {}",
                    millis(before.timeout_ms),
                    millis(after.timeout_ms)
                ),
            ));
        }
    }
    for name in base.keys() {
        if !head.contains_key(name) {
            changes.push(change(
                Class::Narrowing,
                Subject::Tool { tool: name.clone() },
                Side::Base,
                format!("tool `{name}` removed"),
            ));
        }
    }
}

fn rate_change(before: Option<RateCap>, after: Option<RateCap>) -> Option<(Class, String)> {
    match (before, after) {
        (None, None) => None,
        (Some(before), None) => Some((
            Class::Widening,
            format!("rate limit dropped (was {})", describe_rate(before)),
        )),
        (None, Some(after)) => Some((
            Class::Narrowing,
            format!("rate limited to {}", describe_rate(after)),
        )),
        (Some(before), Some(after)) if before == after => None,
        (Some(before), Some(after)) => {
            let (class, verb) = if after.exceeds(before) {
                (Class::Widening, "raised")
            } else if before.exceeds(after) {
                (Class::Narrowing, "lowered")
            } else {
                (Class::Neutral, "rewritten")
            };
            Some((
                class,
                format!(
                    "rate {verb}: {} → {}",
                    describe_rate(before),
                    describe_rate(after)
                ),
            ))
        }
    }
}

/// Changes to what a tool says it does and accepts: shown to the reviewer, but no capability
/// (the gateway enforces whatever the schemas say).
pub fn contract_changes(base: &ir::Integration, head: &ir::Integration) -> Vec<Change> {
    let mut changes = Vec::new();
    for (name, after) in &head.tools {
        let Some(before) = base.tools.get(name) else {
            continue;
        };
        for (what, changed) in [
            ("description", before.description != after.description),
            ("input schema", before.input != after.input),
            ("output schema", before.output != after.output),
        ] {
            if changed {
                changes.push(change(
                    Class::Neutral,
                    Subject::Tool { tool: name.clone() },
                    Side::Head,
                    format!("tool `{name}`: {what} changed"),
                ));
            }
        }
    }
    if base.config != head.config {
        changes.push(change(
            Class::Neutral,
            Subject::Integration,
            Side::Head,
            "config schema changed".to_owned(),
        ));
    }
    changes
}

fn mode(writable: bool) -> &'static str {
    if writable {
        "read-write"
    } else {
        "read-only"
    }
}

fn list(items: &BTreeSet<String>) -> String {
    if items.is_empty() {
        return "nothing".to_owned();
    }
    items.iter().cloned().collect::<Vec<_>>().join(", ")
}

fn describe_rate(rate: RateCap) -> String {
    let period = match rate.period_seconds {
        1 => "second".to_owned(),
        60 => "minute".to_owned(),
        3_600 => "hour".to_owned(),
        86_400 => "day".to_owned(),
        seconds => format!("{seconds} s"),
    };
    format!("{} per {period}", rate.count)
}

fn describe_limits(limits: &ir::Limits) -> String {
    format!(
        "memory {}, pids {}, cpu {}, timeout {}, tmp {}, output {}",
        bytes(limits.memory_bytes),
        limits.pids,
        cores(limits.cpu_millicores.into()),
        millis(limits.timeout_ms),
        bytes(limits.tmp_bytes),
        bytes(limits.output_bytes)
    )
}

/// The largest binary unit that shows `n` exactly (`128 MiB`, `1536 KiB`, `100 B`).
fn bytes(n: u64) -> String {
    for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if n >= size && n % size == 0 {
            return format!("{} {unit}", n / size);
        }
    }
    format!("{n} B")
}

fn millis(ms: u64) -> String {
    if ms >= 1_000 && ms % 1_000 == 0 {
        format!("{} s", ms / 1_000)
    } else {
        format!("{ms} ms")
    }
}

fn cores(millicores: u64) -> String {
    format!("{}", millicores as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::capability::{MountReach, SecretReach};

    fn caps() -> Capabilities {
        Capabilities {
            network: ["api.example.com:443".to_owned()].into(),
            secrets: [(
                "token".to_owned(),
                SecretReach {
                    hosts: ["api.example.com".to_owned()].into(),
                    plaintext: BTreeSet::new(),
                    injections: ["header Authorization = \"Bearer {value}\"".to_owned()].into(),
                },
            )]
            .into(),
            mounts: [(
                "/notes".to_owned(),
                MountReach {
                    source: "/srv/notes".to_owned(),
                    writable: false,
                },
            )]
            .into(),
            limits: ir::Limits {
                memory_bytes: 128 << 20,
                pids: 32,
                cpu_millicores: 500,
                timeout_ms: 20_000,
                tmp_bytes: 16 << 20,
                output_bytes: 1 << 20,
            },
            tools: [(
                "post".to_owned(),
                ToolGate {
                    approval: true,
                    rate: Some(RateCap {
                        count: 10,
                        period_seconds: 3_600,
                    }),
                    timeout_ms: 20_000,
                },
            )]
            .into(),
        }
    }

    fn classes(changes: &[Change]) -> Vec<(Class, &str)> {
        changes.iter().map(|c| (c.class, c.text.as_str())).collect()
    }

    #[test]
    fn equal_sets_have_no_changes() {
        assert!(compare(Some(&caps()), Some(&caps())).is_empty());
    }

    #[test]
    fn every_widening_is_flagged_and_its_reverse_is_a_narrowing() {
        let base = caps();
        let mut head = caps();
        head.network.insert("evil.example:443".into());
        if let Some(reach) = head.secrets.get_mut("token") {
            reach.hosts.insert("evil.example".into());
            reach.plaintext.insert("api.example.com".into());
        }
        if let Some(mount) = head.mounts.get_mut("/notes") {
            mount.writable = true;
        }
        head.limits.memory_bytes = 256 << 20;
        if let Some(gate) = head.tools.get_mut("post") {
            gate.approval = false;
            gate.rate = None;
            gate.timeout_ms = 60_000;
        }
        head.tools.insert(
            "delete".into(),
            ToolGate {
                approval: false,
                rate: None,
                timeout_ms: 1_000,
            },
        );
        let forward = compare(Some(&base), Some(&head));
        assert_eq!(
            classes(&forward),
            [
                (Class::Widening, "network: evil.example:443 added"),
                (
                    Class::Widening,
                    "secret `token`: may now be sent to evil.example"
                ),
                (
                    Class::Widening,
                    "secret `token`: may now travel to api.example.com over plain HTTP"
                ),
                (Class::Widening, "mount /notes: read-write (was read-only)"),
                (Class::Widening, "limit memory raised: 128 MiB → 256 MiB"),
                (
                    Class::Widening,
                    "tool `delete` added (no approval, no rate limit, timeout 1 s)"
                ),
                (Class::Widening, "tool `post`: `approval required` dropped"),
                (
                    Class::Widening,
                    "tool `post`: rate limit dropped (was 10 per hour)"
                ),
                (Class::Widening, "tool `post`: timeout raised: 20 s → 60 s"),
            ]
        );
        let back = compare(Some(&head), Some(&base));
        assert_eq!(back.len(), forward.len());
        assert!(
            back.iter().all(|c| c.class == Class::Narrowing),
            "{back:#?}"
        );
        assert_eq!(widenings(&head, &base), []);
        assert_eq!(widenings(&base, &head).len(), forward.len());
    }

    #[test]
    fn an_equivalent_rate_is_neutral_and_a_faster_one_widens() {
        let hourly = |count| {
            Some(RateCap {
                count,
                period_seconds: 3_600,
            })
        };
        let per_minute = Some(RateCap {
            count: 1,
            period_seconds: 60,
        });
        assert_eq!(
            rate_change(hourly(60), per_minute).map(|c| c.0),
            Some(Class::Neutral)
        );
        assert_eq!(
            rate_change(hourly(10), hourly(11)).map(|c| c.0),
            Some(Class::Widening)
        );
        assert_eq!(
            rate_change(None, hourly(1)).map(|c| c.0),
            Some(Class::Narrowing)
        );
    }

    #[test]
    fn units_read_as_written() {
        assert_eq!(bytes(128 << 20), "128 MiB");
        assert_eq!(bytes(1536 << 10), "1536 KiB");
        assert_eq!(bytes(100), "100 B");
        assert_eq!(millis(500), "500 ms");
        assert_eq!(cores(500), "0.5");
    }
}
