//! The one validator of a [`Policy`], called by every backend before anything is started, and
//! the one parser of `host:port`. Pure: no file system, no environment.

use std::path::Path;

use super::{HostPattern, Limits, Mount, Policy, SecretRule};

/// Paths the sandbox itself provides: the system image (`/usr` and the root aliases that point
/// into it), the kernel's views, the private `/tmp`, the CA certificates shown with network, and
/// the sandbox's own plumbing (init, the egress socket). A declared mount may be none of them,
/// no ancestor of one (it would hide it: a mount at `/run` would replace `/run/clawc/init`,
/// one at `/lib64` the dynamic loader), and nothing beneath one but `/`.
///
/// spec-lang keeps the same list for its diagnostic (the two crates never import each other);
/// a compiler test keeps the two equal.
pub const RESERVED_TARGETS: &[&str] = &[
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
];

/// The environment every sandboxed program starts from, on every backend; the policy's own
/// variables override it (and the egress settings override both).
pub const BASE_ENV: &[(&str, &str)] = &[
    ("PATH", "/usr/local/bin:/usr/bin:/bin"),
    ("HOME", "/tmp"),
    ("LANG", "C.UTF-8"),
];

/// Why a policy cannot be enforced as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error(
        "mount target `{target}` must be an absolute path without `.`, `..` or a trailing `/`"
    )]
    MountNotPlain { target: String },
    #[error("mount target `{target}` would cover `{reserved}`, which the sandbox itself provides")]
    MountReserved {
        target: String,
        reserved: &'static str,
    },
    #[error("mount target `{target}` is declared twice")]
    MountTwice { target: String },
    #[error("environment variable name `{name}` is not a valid name (letters, digits, `_`; not starting with a digit)")]
    EnvName { name: String },
    #[error("limit {limit}: {reason}")]
    Limit { limit: &'static str, reason: String },
    #[error("`{text}` is not a valid host:port ({reason})")]
    HostPort { text: String, reason: &'static str },
    #[error("secret `{secret}`: {reason}")]
    Secret { secret: String, reason: String },
    #[error("model-API relay: {reason}")]
    ModelApi { reason: String },
}

impl Policy {
    /// Refuses what no backend could enforce as written: reserved mount targets and their
    /// ancestors, bad environment names, impossible limits, malformed hosts and secrets.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let mut seen: Vec<&Path> = Vec::new();
        for mount in &self.mounts {
            check_mount_target(mount)?;
            if seen.contains(&mount.target.as_path()) {
                return Err(PolicyError::MountTwice {
                    target: mount.target.display().to_string(),
                });
            }
            seen.push(&mount.target);
        }
        for name in self.env.keys() {
            if !is_env_name(name) {
                return Err(PolicyError::EnvName { name: name.clone() });
            }
        }
        check_limits(&self.limits)?;
        for pattern in &self.network.allow {
            HostPattern::parse(&pattern.to_string())?;
        }
        for secret in &self.network.secrets {
            check_secret(secret)?;
        }
        if let Some(relay) = &self.network.model_api {
            crate::egress::relay::Relay::new(relay)
                .map_err(|reason| PolicyError::ModelApi { reason })?;
        }
        Ok(())
    }
}

fn check_mount_target(mount: &Mount) -> Result<(), PolicyError> {
    let target = &mount.target;
    let text = target.to_string_lossy();
    // Judged on the text: `Path::components` would quietly drop a `.` or a doubled `/`.
    let plain = text == "/"
        || text.strip_prefix('/').is_some_and(|rest| {
            rest.split('/')
                .all(|part| !part.is_empty() && part != "." && part != "..")
        });
    if !plain {
        return Err(PolicyError::MountNotPlain {
            target: text.into_owned(),
        });
    }
    match reserved_conflict(target) {
        Some(reserved) => Err(PolicyError::MountReserved {
            target: text.into_owned(),
            reserved,
        }),
        None => Ok(()),
    }
}

/// The reserved path a mount at `target` would be, hide (as an ancestor) or sit inside.
pub fn reserved_conflict(target: &Path) -> Option<&'static str> {
    RESERVED_TARGETS.iter().copied().find(|reserved| {
        let reserved = Path::new(reserved);
        target == reserved
            || reserved.starts_with(target)
            || (reserved != Path::new("/") && target.starts_with(reserved))
    })
}

/// POSIX portable names: what every shell and both backends accept.
pub fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn check_limits(limits: &Limits) -> Result<(), PolicyError> {
    let bad = |limit: &'static str, reason: &str| {
        Err(PolicyError::Limit {
            limit,
            reason: reason.to_owned(),
        })
    };
    if limits.memory_bytes < (4 << 20) {
        return bad("memory", "must be at least 4 MiB (4194304 bytes)");
    }
    if limits.pids == 0 {
        return bad("pids", "must be at least 1 (the program itself)");
    }
    if !(limits.cpu.is_finite() && limits.cpu >= 0.01) {
        return bad("cpu", "must be a share of at least 0.01 of a core");
    }
    if limits.tmp_bytes < (1 << 20) {
        return bad("tmp", "must be at least 1 MiB (1048576 bytes)");
    }
    if limits.timeout.is_some_and(|t| t.is_zero()) {
        return bad("timeout", "must be longer than zero");
    }
    if limits.output_bytes == Some(0) {
        return bad("output", "must be at least one byte");
    }
    Ok(())
}

fn check_secret(secret: &SecretRule) -> Result<(), PolicyError> {
    let bad = |reason: String| {
        Err(PolicyError::Secret {
            secret: secret.name.clone(),
            reason,
        })
    };
    if secret.placeholder.is_empty() {
        return bad("has an empty placeholder".to_owned());
    }
    if secret.value.0.is_empty() {
        return bad("has an empty value".to_owned());
    }
    if secret.hosts.is_empty() {
        return bad("names no host it may be sent to".to_owned());
    }
    for host in secret.hosts.iter().chain(&secret.plaintext_hosts) {
        split_host_port(host)?;
    }
    if let Some(stray) = secret
        .plaintext_hosts
        .iter()
        .find(|host| !secret.hosts.contains(host))
    {
        return bad(format!(
            "plain HTTP is allowed for `{stray}`, which is not one of its hosts"
        ));
    }
    Ok(())
}

/// `host`, `host:port`, `[v6]` or `[v6]:port` → the lower-cased host (brackets kept off) and the
/// port when one is given. A leading `*.` is a wildcard; no other `*` is allowed.
pub fn split_host_port(text: &str) -> Result<(String, Option<u16>), PolicyError> {
    let bad = |reason| PolicyError::HostPort {
        text: text.to_owned(),
        reason,
    };
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(|| bad("unclosed `[`"))?;
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(bad("not an IPv6 address inside `[...]`"));
        }
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return Err(bad("unexpected text after `]`")),
        }
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') => (host, Some(port)),
            Some(_) => return Err(bad("an IPv6 address must be written in brackets")),
            None => (text, None),
        }
    };
    let port = match port {
        Some(digits) => Some(
            digits
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad("the port must be a number from 1 to 65535"))?,
        ),
        None => None,
    };
    let name = host.strip_prefix("*.").unwrap_or(host);
    if name.is_empty() {
        return Err(bad("empty host"));
    }
    if name.contains('*') {
        return Err(bad("`*` is allowed only as a leading `*.`"));
    }
    if !text.starts_with('[')
        && !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
    {
        return Err(bad("a host name is letters, digits, `.`, `-` and `_`"));
    }
    Ok((host.to_ascii_lowercase(), port))
}

impl HostPattern {
    /// The one `host:port` parser: `api.github.com:443`, `*.example.com:443`, `[::1]:8080`.
    pub fn parse(text: &str) -> Result<HostPattern, PolicyError> {
        match split_host_port(text)? {
            (host, Some(port)) => Ok(HostPattern { host, port }),
            (_, None) => Err(PolicyError::HostPort {
                text: text.to_owned(),
                reason: "a port is required, e.g. api.github.com:443",
            }),
        }
    }
}

impl std::fmt::Display for HostPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A host may be stored bare (`::1`) or as written (`[::1]`).
        if self.host.contains(':') && !self.host.starts_with('[') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn mount_at(target: &str) -> Policy {
        Policy {
            mounts: vec![Mount {
                source: PathBuf::from("/srv/x"),
                target: PathBuf::from(target),
                writable: false,
            }],
            ..Policy::default()
        }
    }

    #[test]
    fn reserved_targets_their_ancestors_and_insides_are_refused() {
        for target in [
            "/",
            "/usr",
            "/usr/local",
            "/bin",
            "/lib64",
            "/proc",
            "/proc/sys",
            "/dev",
            "/tmp",
            "/tmp/x",
            "/run",
            "/run/clawc",
            "/run/clawc/x",
            "/etc",
            "/etc/ssl",
            "/etc/ssl/certs",
        ] {
            assert!(
                matches!(
                    mount_at(target).validate(),
                    Err(PolicyError::MountReserved { .. })
                ),
                "{target}"
            );
        }
        for target in [
            "/data",
            "/notes",
            "/run/user",
            "/etc/myapp",
            "/srv",
            "/libexec",
        ] {
            assert_eq!(mount_at(target).validate(), Ok(()), "{target}");
        }
    }

    #[test]
    fn mount_targets_must_be_plain() {
        for target in ["data", "/data/", "/a/../etc", "/a/./b", "//data", ""] {
            assert!(
                matches!(
                    mount_at(target).validate(),
                    Err(PolicyError::MountNotPlain { .. })
                ),
                "{target:?}"
            );
        }
    }

    #[test]
    fn env_names_and_limits_are_checked() {
        let mut policy = Policy::default();
        policy.env.insert("A=B".into(), "x".into());
        assert!(matches!(
            policy.validate(),
            Err(PolicyError::EnvName { .. })
        ));
        for bad in ["", "1A", "A-B", "A B"] {
            assert!(!is_env_name(bad), "{bad:?}");
        }
        assert!(is_env_name("_A1"));
        let mut policy = Policy::default();
        policy.limits.pids = 0;
        assert!(matches!(
            policy.validate(),
            Err(PolicyError::Limit { limit: "pids", .. })
        ));
        let mut policy = Policy::default();
        policy.limits.cpu = f64::NAN;
        assert!(matches!(
            policy.validate(),
            Err(PolicyError::Limit { limit: "cpu", .. })
        ));
        let mut policy = Policy::default();
        policy.limits.timeout = Some(std::time::Duration::ZERO);
        assert!(policy.validate().is_err());
        assert_eq!(Policy::default().validate(), Ok(()));
    }

    #[test]
    fn host_port_parsing() {
        let parse = |text: &str| HostPattern::parse(text).map(|p| (p.host, p.port));
        assert_eq!(
            parse("API.GitHub.com:443"),
            Ok(("api.github.com".into(), 443))
        );
        assert_eq!(parse("*.x.com:8443"), Ok(("*.x.com".into(), 8443)));
        assert_eq!(parse("[::1]:8080"), Ok(("::1".into(), 8080)));
        assert_eq!(parse("127.0.0.1:80"), Ok(("127.0.0.1".into(), 80)));
        for bad in [
            "x.com",
            "x.com:0",
            "x.com:99999",
            ":443",
            "*:443",
            "a.*.com:1",
            "::1:80",
            "[::1",
            "[x]:1",
            "a b:1",
            "x.com:",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(split_host_port("ha.local"), Ok(("ha.local".into(), None)));
        assert_eq!(
            HostPattern::parse("[::1]:8080").map(|p| p.to_string()),
            Ok("[::1]:8080".to_owned())
        );
    }
}
