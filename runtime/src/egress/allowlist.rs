//! The `host:port` allowlist. Exact names match exactly; `*.x.com` matches names strictly below
//! `x.com` (`a.x.com`, `b.a.x.com`) and never `x.com` itself. Nothing else is a wildcard.

use crate::policy::HostPattern;

use super::target::{normalize_host, Endpoint};

#[derive(Debug, Clone)]
pub(crate) struct Allowlist {
    entries: Vec<(NamePattern, u16)>,
}

/// A normalised host pattern: an exact name, or the suffix a wildcard demands (`.x.com`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NamePattern {
    Exact(String),
    Below(String),
}

impl NamePattern {
    pub(crate) fn parse(pattern: &str) -> NamePattern {
        match pattern.strip_prefix("*.") {
            Some(parent) => NamePattern::Below(format!(".{}", normalize_host(parent))),
            None => NamePattern::Exact(normalize_host(pattern)),
        }
    }

    /// `host` must already be normalised.
    pub(crate) fn matches(&self, host: &str) -> bool {
        match self {
            NamePattern::Exact(name) => host == name,
            NamePattern::Below(suffix) => host
                .strip_suffix(suffix.as_str())
                .is_some_and(|label| !label.is_empty() && !label.ends_with('.')),
        }
    }
}

impl HostPattern {
    /// Whether this pattern lets a request to `host:port` through: the proxy's own rule, for
    /// callers that sort the requests it refused.
    pub fn allows(&self, host: &str, port: u16) -> bool {
        port == self.port && NamePattern::parse(&self.host).matches(&normalize_host(host))
    }
}

impl Allowlist {
    pub(crate) fn new(patterns: &[HostPattern]) -> Self {
        Self {
            entries: patterns
                .iter()
                .map(|p| (NamePattern::parse(&p.host), p.port))
                .collect(),
        }
    }

    pub(crate) fn check(&self, endpoint: &Endpoint) -> Result<(), String> {
        let allowed = self
            .entries
            .iter()
            .any(|(pattern, port)| *port == endpoint.port && pattern.matches(&endpoint.host));
        if allowed {
            Ok(())
        } else {
            Err(format!("{endpoint} is not in the network allowlist"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowlist(patterns: &[(&str, u16)]) -> Allowlist {
        Allowlist::new(
            &patterns
                .iter()
                .map(|(host, port)| HostPattern {
                    host: (*host).to_owned(),
                    port: *port,
                })
                .collect::<Vec<_>>(),
        )
    }

    fn allows(list: &Allowlist, host: &str, port: u16) -> bool {
        list.check(&Endpoint {
            host: normalize_host(host),
            port,
        })
        .is_ok()
    }

    #[test]
    fn a_pattern_alone_allows_what_the_allowlist_does() {
        for (pattern, host, port) in [
            ("API.GitHub.com", "api.github.com.", 443),
            ("*.x.com", "a.b.x.com", 443),
            ("*.x.com", "x.com", 443),
            ("api.github.com", "api.github.com", 80),
        ] {
            let one = HostPattern {
                host: pattern.to_owned(),
                port: 443,
            };
            let list = allowlist(&[(pattern, 443)]);
            assert_eq!(
                one.allows(host, port),
                allows(&list, host, port),
                "{pattern} {host}:{port}"
            );
        }
    }

    #[test]
    fn exact_names_match_case_insensitively_with_trailing_dot() {
        let list = allowlist(&[("API.GitHub.com", 443)]);
        assert!(allows(&list, "api.github.com", 443));
        assert!(allows(&list, "api.github.com.", 443));
        assert!(!allows(&list, "api.github.com", 80));
        assert!(!allows(&list, "x.api.github.com", 443));
        assert!(!allows(&list, "github.com", 443));
    }

    #[test]
    fn wildcards_match_strictly_deeper_names_only() {
        let list = allowlist(&[("*.x.com", 443)]);
        assert!(allows(&list, "a.x.com", 443));
        assert!(allows(&list, "b.a.x.com", 443));
        assert!(!allows(&list, "x.com", 443));
        assert!(!allows(&list, ".x.com", 443));
        assert!(!allows(&list, "evilx.com", 443));
        assert!(!allows(&list, "a.x.com.evil", 443));
    }
}
