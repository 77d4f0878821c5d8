//! Sandbox policy: secrets and where they may be injected, filesystem mounts, resource limits.

use super::network::{self, Allowlist};
use super::quantity::{self, Measure};
use super::{code, suggest, Ctx, FirstSeen};
use crate::ast::{self, InjectionKind, MountMode, Quantity, Spanned};
use crate::{ir, Diagnostic, Span};
use std::collections::{BTreeMap, BTreeSet};

pub(super) fn check_secrets(
    ctx: &mut Ctx,
    secrets: &[&ast::Secret],
    allowlist: &Allowlist,
) -> BTreeMap<String, ir::Secret> {
    let mut seen = FirstSeen::new("secret");
    let mut out = BTreeMap::new();
    for secret in secrets {
        if !seen.first(ctx, &secret.name.node, secret.name.span) {
            continue;
        }
        if secret.injections.is_empty() {
            ctx.report(
                Diagnostic::error(code::UNUSED_SECRET, format!("secret `{}` is never injected", secret.name.node), secret.name.span)
                    .with_label("declared here, used nowhere")
                    .with_help("add `inject header \"Authorization\" = \"Bearer {value}\" into \"HOST\"`, or remove the secret: the sandbox never sees secrets, so one that is not injected is useless"),
            );
        }
        let mut injections: Vec<ir::Injection> = secret
            .injections
            .iter()
            .filter_map(|injection| check_injection(ctx, injection, allowlist))
            .collect();
        injections.sort();
        injections.dedup();
        let plaintext_hosts = check_plaintext(ctx, secret);
        out.insert(
            secret.name.node.clone(),
            ir::Secret {
                injections,
                plaintext_hosts,
            },
        );
    }
    out
}

/// The hosts of a secret's `plaintext` lines: each exactly one of its injection hosts, named
/// once, never a wildcard. Every accepted one draws a warning, so that sending a credential
/// unencrypted is never silent in `clawc check` or in review.
fn check_plaintext(ctx: &mut Ctx, secret: &ast::Secret) -> Vec<String> {
    // Compared with every well-formed injection host, allowlisted or not: a host that already
    // has an error of its own on its `into` should not draw a second one here.
    let injected: BTreeSet<String> = secret
        .injections
        .iter()
        .flat_map(|injection| &injection.hosts)
        .filter_map(|host| network::parse_host(&host.node, true).ok())
        .collect();
    let name = &secret.name.node;
    let mut first_seen: BTreeMap<String, Span> = BTreeMap::new();
    let mut hosts = Vec::new();
    for host in secret
        .plaintext
        .iter()
        .flat_map(|plaintext| &plaintext.hosts)
    {
        let parsed = match network::parse_host(&host.node, true) {
            Ok(parsed) => parsed,
            Err(problem) => {
                ctx.report(network::invalid_address(host, problem));
                continue;
            }
        };
        if parsed.starts_with("*.") {
            ctx.report(
                Diagnostic::error(code::INVALID_PLAINTEXT_HOST, format!("`{parsed}` is a wildcard; plain HTTP is granted to exact hosts only"), host.span)
                    .with_label("would send the secret unencrypted to every name below it")
                    .with_help("name each host that cannot speak TLS, e.g. `plaintext \"printer.example.lan\"`, and inject into it by name"),
            );
            continue;
        }
        if let Some(first) = first_seen.get(&parsed) {
            ctx.report(
                super::duplicate("plaintext host", &parsed, host.span, *first)
                    .with_help("remove one: naming a host twice grants nothing more"),
            );
            continue;
        }
        first_seen.insert(parsed.clone(), host.span);
        if !injected.contains(&parsed) {
            ctx.report(not_injected(name, &parsed, host.span, &injected));
            continue;
        }
        ctx.report(
            Diagnostic::warning(
                code::PLAINTEXT_SECRET,
                format!("secret `{name}` travels unencrypted to `{parsed}`"),
                host.span,
            )
            .with_label("plain HTTP: anyone on the network path can read the secret")
            .with_help("keep this only for a host on a network you trust that cannot speak TLS; enable TLS there and remove the line when you can"),
        );
        hosts.push(parsed);
    }
    hosts.sort();
    hosts
}

/// E0043 for a plaintext `host` that is none of the secret's injection hosts.
fn not_injected(name: &str, host: &str, span: Span, injected: &BTreeSet<String>) -> Diagnostic {
    let covering = injected
        .iter()
        .find(|pattern| network::host_matches(pattern, host));
    let help = match covering {
        Some(pattern) => format!(
            "`{pattern}` covers it, but plain HTTP is granted to exact hosts only: add `\"{host}\"` to an `into` list by name"
        ),
        None => suggest::help(
            host,
            injected
                .iter()
                .map(String::as_str)
                .filter(|candidate| !candidate.starts_with("*.")),
            || format!("`plaintext` only relaxes an injection: inject the secret into `{host}` first, or remove the host"),
        ),
    };
    Diagnostic::error(
        code::INVALID_PLAINTEXT_HOST,
        format!("secret `{name}` is not injected into `{host}`, so it has nothing to send there over plain HTTP"),
        span,
    )
    .with_label("not one of this secret's `into` hosts")
    .with_help(help)
}

fn check_injection(
    ctx: &mut Ctx,
    injection: &ast::Injection,
    allowlist: &Allowlist,
) -> Option<ir::Injection> {
    let mut valid = true;
    let name = &injection.name;
    let name_problem = match injection.kind {
        InjectionKind::Header if !is_header_name(&name.node) => {
            Some("a header name is letters, digits and !#$%&'*+-.^_`|~")
        }
        InjectionKind::Query if name.node.is_empty() => Some("the query parameter name is empty"),
        _ => None,
    };
    if let Some(problem) = name_problem {
        valid = false;
        ctx.report(
            Diagnostic::error(code::INVALID_INJECTION, format!("`{}` is not a valid {} name", name.node, kind_name(injection.kind)), name.span)
                .with_label(problem)
                .with_help("write e.g. `inject header \"Authorization\" = \"Bearer {value}\" into \"api.example.com\"`"),
        );
    }
    if let Some(template) = &injection.template {
        if !template.node.contains("{value}") {
            valid = false;
            ctx.report(
                Diagnostic::error(
                    code::INVALID_INJECTION,
                    "the template never uses the secret",
                    template.span,
                )
                .with_label("no `{value}` in here")
                .with_help("put `{value}` where the secret goes, e.g. \"Bearer {value}\""),
            );
        }
    }
    let mut hosts = Vec::with_capacity(injection.hosts.len());
    for host in &injection.hosts {
        match network::parse_host(&host.node, true) {
            Err(problem) => {
                valid = false;
                ctx.report(network::invalid_address(host, problem));
            }
            Ok(parsed) if !allowlist.covers_host(&parsed) => {
                valid = false;
                ctx.report(
                    Diagnostic::error(code::SECRET_HOST_NOT_ALLOWED, format!("the secret is injected into `{parsed}`, which the network allowlist does not allow"), host.span)
                        .with_label("not allowlisted")
                        .with_help(format!("add `network {{ allow \"{parsed}:443\" }}`, or inject into an allowlisted host")),
                );
            }
            Ok(parsed) => hosts.push(parsed),
        }
    }
    hosts.sort();
    hosts.dedup();
    valid.then(|| ir::Injection {
        kind: match injection.kind {
            InjectionKind::Header => ir::InjectionKind::Header,
            InjectionKind::Query => ir::InjectionKind::Query,
        },
        name: name.node.clone(),
        template: injection
            .template
            .as_ref()
            .map_or_else(|| "{value}".to_owned(), |template| template.node.clone()),
        hosts,
    })
}

fn kind_name(kind: InjectionKind) -> &'static str {
    match kind {
        InjectionKind::Header => "header",
        InjectionKind::Query => "query parameter",
    }
}

/// RFC 9110 `token`.
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Paths the sandbox itself provides: the system image (`/usr` and the root aliases into it),
/// the kernel's views, the private `/tmp`, the CA certificates shown with network, and the
/// sandbox's plumbing (its init and egress socket under `/run/clawc`). A mount may be none of
/// them, no ancestor of one (a mount at `/run` would hide `/run/clawc/init`, one at `/lib64` the
/// dynamic loader) and nothing inside one but `/`. The runtime keeps the same list
/// (`claw_runtime::policy::RESERVED_TARGETS`) but for `/opt/clawc`, where the compiler mounts the
/// integration's code (the runtime does not know of it); a compiler test keeps them in step.
pub const RESERVED_MOUNT_TARGETS: &[&str] = &[
    "/",
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/proc",
    "/dev",
    "/tmp",
    "/etc/ssl/certs",
    "/run/clawc",
    // Where an integration's pinned code is mounted (read-only): a mount at or inside it
    // would run something other than the tree that hashes to claw.lock.
    "/opt/clawc",
];

pub(super) fn check_mounts(ctx: &mut Ctx, filesystems: &[&ast::Filesystem]) -> Vec<ir::Mount> {
    let mut seen = FirstSeen::new("mount target");
    let mut mounts = Vec::new();
    for mount in filesystems.iter().flat_map(|filesystem| &filesystem.mounts) {
        let source = path_problem(&mount.source.node).or_else(|| {
            (mount.source.node == "/")
                .then(|| "mounting `/` would expose the whole host".to_owned())
        });
        if let Some(problem) = &source {
            ctx.report(invalid_mount(&mount.source, "source", problem));
        }
        let target =
            path_problem(&mount.target.node).or_else(|| reserved_target(&mount.target.node));
        if let Some(problem) = &target {
            let mut diagnostic = invalid_mount(&mount.target, "target", problem);
            if path_problem(&mount.target.node).is_none() {
                diagnostic = diagnostic.with_help(
                    "mount it where the sandbox keeps nothing of its own, e.g. `/data` or `/srv/NAME`",
                );
            }
            ctx.report(diagnostic);
        }
        if !seen.first(ctx, &mount.target.node, mount.target.span)
            || source.is_some()
            || target.is_some()
        {
            continue;
        }
        if mount.mode.node == MountMode::ReadWrite {
            ctx.report(
                Diagnostic::warning(
                    code::WRITABLE_MOUNT,
                    format!("`{}` is mounted read-write", mount.source.node),
                    mount.mode.span,
                )
                .with_label("the generated code may change or delete these files")
                .with_help("use `ro` unless the integration must write here"),
            );
        }
        mounts.push(ir::Mount {
            source: mount.source.node.clone(),
            target: mount.target.node.clone(),
            mode: match mount.mode.node {
                MountMode::ReadOnly => ir::MountMode::Ro,
                MountMode::ReadWrite => ir::MountMode::Rw,
            },
        });
    }
    mounts.sort();
    mounts
}

fn invalid_mount(path: &Spanned<String>, role: &str, problem: &str) -> Diagnostic {
    Diagnostic::error(code::INVALID_MOUNT, format!("invalid mount {role} `{}`", path.node), path.span)
        .with_label(problem.to_owned())
        .with_help("use absolute, normalised paths (no `.`, `..`, `//` or trailing `/`), e.g. `mount \"/srv/notes\" at \"/notes\" ro`")
}

/// Why `path` is not an absolute, normalised path.
fn path_problem(path: &str) -> Option<String> {
    if !path.starts_with('/') {
        return Some("not an absolute path".to_owned());
    }
    if path == "/" {
        return None;
    }
    if path.ends_with('/') {
        return Some("ends with `/`".to_owned());
    }
    if path[1..]
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Some("not normalised (`//`, `.` or `..`)".to_owned());
    }
    if path.contains('\0') {
        return Some("contains a NUL byte".to_owned());
    }
    None
}

fn reserved_target(target: &str) -> Option<String> {
    let inside = |path: &str, dir: &str| {
        dir == "/"
            || path
                .strip_prefix(dir)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    RESERVED_MOUNT_TARGETS
        .iter()
        .find(|reserved| {
            target == **reserved
                || inside(reserved, target)
                || (**reserved != "/" && inside(target, reserved))
        })
        .map(|reserved| {
            if target == *reserved {
                format!("the sandbox itself provides {reserved}")
            } else if inside(reserved, target) {
                format!("would hide the sandbox's {reserved}")
            } else {
                format!("lies inside the sandbox's {reserved}")
            }
        })
}

/// One limit key: its measure, allowed range and default (all in base units).
struct LimitRule {
    key: &'static str,
    measure: Measure,
    min: u64,
    max: u64,
    range_text: &'static str,
    default: u64,
}

const MIB: u64 = 1 << 20;
const LIMITS: [LimitRule; 6] = [
    LimitRule {
        key: "memory",
        measure: Measure::Size,
        min: 4 * MIB,
        max: 16 << 30,
        range_text: "4MiB to 16GiB",
        default: 256 * MIB,
    },
    LimitRule {
        key: "pids",
        measure: Measure::Count,
        min: 1,
        max: 4096,
        range_text: "1 to 4096",
        default: 64,
    },
    LimitRule {
        key: "cpu",
        measure: Measure::Thousandths,
        min: 10,
        max: 64_000,
        range_text: "0.01 to 64",
        default: 1_000,
    },
    LimitRule {
        key: "timeout",
        measure: Measure::Duration,
        min: 100,
        max: 3_600_000,
        range_text: "100ms to 1h",
        default: 30_000,
    },
    LimitRule {
        key: "tmp",
        measure: Measure::Size,
        min: MIB,
        max: 4 << 30,
        range_text: "1MiB to 4GiB",
        default: 16 * MIB,
    },
    LimitRule {
        key: "output",
        measure: Measure::Size,
        min: 1 << 10,
        max: 64 * MIB,
        range_text: "1KiB to 64MiB",
        default: MIB,
    },
];

pub(super) fn check_limits(ctx: &mut Ctx, blocks: &[&ast::Limits]) -> ir::Limits {
    let mut given: BTreeMap<&str, &ast::LimitEntry> = BTreeMap::new();
    let mut values: BTreeMap<&str, u64> = BTreeMap::new();
    for entry in blocks.iter().flat_map(|block| &block.entries) {
        let key = entry.key.node.as_str();
        let Some(rule) = LIMITS.iter().find(|rule| rule.key == key) else {
            ctx.report(
                Diagnostic::error(
                    code::UNKNOWN_LIMIT,
                    format!("unknown limit `{key}`"),
                    entry.key.span,
                )
                .with_label("not a limit")
                .with_help(suggest::help(
                    key,
                    LIMITS.iter().map(|rule| rule.key),
                    || "the limits are memory, pids, cpu, timeout, tmp and output".to_owned(),
                )),
            );
            continue;
        };
        if let Some(first) = given.get(key) {
            ctx.report(
                Diagnostic::error(
                    code::REPEATED_ITEM,
                    format!("limit `{key}` is given more than once"),
                    entry.span,
                )
                .with_label("given again here")
                .with_secondary(first.span, "first given here")
                .with_help(format!("keep one `{key}`")),
            );
            continue;
        }
        given.insert(rule.key, entry);
        if let Some(value) = limit_value(ctx, rule, &entry.value) {
            values.insert(rule.key, value);
        }
    }
    let get = |key: &str| {
        values
            .get(key)
            .copied()
            .or_else(|| {
                LIMITS
                    .iter()
                    .find(|rule| rule.key == key)
                    .map(|rule| rule.default)
            })
            .unwrap_or_default()
    };
    ir::Limits {
        memory_bytes: get("memory"),
        pids: u32::try_from(get("pids")).unwrap_or(u32::MAX),
        cpu_millicores: u32::try_from(get("cpu")).unwrap_or(u32::MAX),
        timeout_ms: get("timeout"),
        tmp_bytes: get("tmp"),
        output_bytes: get("output"),
    }
}

/// A tool's own `timeout`, under the same rule as the integration's.
pub(super) fn check_timeout(ctx: &mut Ctx, value: &Spanned<Quantity>) -> Option<u64> {
    let rule = LIMITS.iter().find(|rule| rule.key == "timeout")?;
    limit_value(ctx, rule, value)
}

fn limit_value(ctx: &mut Ctx, rule: &LimitRule, value: &Spanned<Quantity>) -> Option<u64> {
    let written = format!("{}{}", value.node.number, value.node.unit);
    match quantity::to_base(&value.node, rule.measure) {
        Err(problem) => {
            ctx.report(
                Diagnostic::error(
                    code::INVALID_QUANTITY,
                    format!("`{written}` is not a valid `{}`", rule.key),
                    value.span,
                )
                .with_label(problem)
                .with_help(format!(
                    "`{}` takes {}; allowed: {}",
                    rule.key,
                    rule.measure.unit_names(),
                    rule.range_text
                )),
            );
            None
        }
        Ok(base) if base < rule.min || base > rule.max => {
            ctx.report(
                Diagnostic::error(
                    code::LIMIT_OUT_OF_RANGE,
                    format!("`{}` {written} is out of range", rule.key),
                    value.span,
                )
                .with_label(format!("must be from {}", rule.range_text))
                .with_help(format!("choose a `{}` from {}", rule.key, rule.range_text)),
            );
            None
        }
        Ok(base) => Some(base),
    }
}
