//! The network allowlist: `host:port` parsing, wildcard matching, and URL parsing for fixtures.

use super::{code, Ctx};
use crate::ast::{self, Spanned};
use crate::{ir, Diagnostic, Span};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

/// One checked `allow` entry with the span it came from.
pub(super) struct Entry {
    pub host: String,
    pub port: u16,
    pub span: Span,
}

/// The checked allowlist, in source order.
#[derive(Default)]
pub(super) struct Allowlist(Vec<Entry>);

impl Allowlist {
    pub fn entries(&self) -> &[Entry] {
        &self.0
    }

    /// Whether some entry allows `host` on `port`.
    pub fn allows(&self, host: &str, port: u16) -> bool {
        self.0
            .iter()
            .any(|entry| entry.port == port && host_matches(&entry.host, host))
    }

    /// Whether some entry covers `host` on any port (for secret injection, which is per host).
    pub fn covers_host(&self, host: &str) -> bool {
        self.0.iter().any(|entry| host_matches(&entry.host, host))
    }

    pub fn endpoints(&self) -> Vec<ir::Endpoint> {
        let mut endpoints: Vec<ir::Endpoint> = self
            .0
            .iter()
            .map(|entry| ir::Endpoint {
                host: entry.host.clone(),
                port: entry.port,
            })
            .collect();
        endpoints.sort();
        endpoints.dedup();
        endpoints
    }
}

pub(super) fn check_allowlist(ctx: &mut Ctx, networks: &[&ast::Network]) -> Allowlist {
    let mut first_seen: BTreeMap<(String, u16), Span> = BTreeMap::new();
    let mut entries = Vec::new();
    for allow in networks.iter().flat_map(|network| &network.allow) {
        let (host, port) = match parse_host_port(&allow.node) {
            Ok(parsed) => parsed,
            Err(problem) => {
                ctx.report(invalid_address(allow, problem));
                continue;
            }
        };
        let key = (host.clone(), port);
        if let Some(first) = first_seen.get(&key) {
            ctx.report(super::duplicate(
                "network entry",
                &allow.node,
                allow.span,
                *first,
            ));
            continue;
        }
        first_seen.insert(key, allow.span);
        entries.push(Entry {
            host,
            port,
            span: allow.span,
        });
    }
    Allowlist(entries)
}

pub(super) fn invalid_address(text: &Spanned<String>, problem: String) -> Diagnostic {
    Diagnostic::error(code::INVALID_ADDRESS, format!("`{}` is not a valid address", text.node), text.span)
        .with_label(problem)
        .with_help("write `host:port`, e.g. \"api.github.com:443\"; a wildcard is only allowed as a leading `*.` (\"*.example.com:443\")")
}

/// `"api.github.com:443"` → (`api.github.com`, 443). Hosts are lower-cased.
pub(super) fn parse_host_port(text: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest
            .split_once(']')
            .ok_or("unclosed `[` in an IPv6 address")?;
        let port = after
            .strip_prefix(':')
            .ok_or("missing `:port` after the host")?;
        (&text[..inside.len() + 2], port)
    } else {
        text.rsplit_once(':')
            .ok_or("missing `:port` after the host")?
    };
    let host = parse_host(host, true)?;
    Ok((host, parse_port(port)?))
}

fn parse_port(text: &str) -> Result<u16, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{text}` is not a port number"));
    }
    match text.parse::<u32>() {
        Ok(0) => Err("port 0 is not a real port".to_owned()),
        Ok(port) => u16::try_from(port).map_err(|_| format!("port {port} is above 65535")),
        Err(_) => Err(format!("port {text} is above 65535")),
    }
}

/// A host name, IPv4 address or bracketed IPv6 address, lower-cased; with `wildcard`, a leading
/// `*.` over a name of at least two labels (`*.example.com`, never `*.com` or `*`).
pub(super) fn parse_host(text: &str, wildcard: bool) -> Result<String, String> {
    if let Some(inside) = text
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
    {
        return inside
            .parse::<Ipv6Addr>()
            .map(|address| format!("[{address}]"))
            .map_err(|_| format!("`{inside}` is not an IPv6 address"));
    }
    let lower = text.to_ascii_lowercase();
    let (star, name) = match lower.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, lower.as_str()),
    };
    if name.contains('*') {
        return Err("a wildcard is only allowed as a leading `*.`".to_owned());
    }
    if star && !wildcard {
        return Err("a wildcard is not allowed here".to_owned());
    }
    if name.is_empty() {
        return Err("the host is empty".to_owned());
    }
    if name.len() > 253 {
        return Err("a host name has at most 253 characters".to_owned());
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels
        .iter()
        .all(|label| !label.is_empty() && label.bytes().all(|b| b.is_ascii_digit()))
    {
        if star {
            return Err("a wildcard cannot stand for part of an IP address".to_owned());
        }
        return name
            .parse::<Ipv4Addr>()
            .map(|address| address.to_string())
            .map_err(|_| format!("`{name}` is not an IPv4 address"));
    }
    for label in &labels {
        if label.is_empty() {
            return Err("a host name has no empty labels (`..` or a trailing `.`)".to_owned());
        }
        if label.len() > 63 {
            return Err(format!("label `{label}` is longer than 63 characters"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(format!(
                "label `{label}` may only contain letters, digits and `-`"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label `{label}` may not start or end with `-`"));
        }
    }
    if star && labels.len() < 2 {
        return Err(format!("`*.{name}` would match a whole top-level domain"));
    }
    Ok(lower)
}

/// Whether allowlist host `pattern` (maybe `*.suffix`) matches `host`, which may itself be a
/// wildcard (a secret scoped to `*.a.example.com` is covered by `*.example.com`).
pub(super) fn host_matches(pattern: &str, host: &str) -> bool {
    if pattern == host {
        return true;
    }
    match pattern.strip_prefix('*') {
        // `*.example.com` keeps the dot: `xexample.com` does not match, nor does `example.com`.
        Some(suffix) => {
            host.len() > suffix.len() && host.ends_with(suffix) && !host.starts_with('.')
        }
        None => false,
    }
}

/// The parts of an absolute `http(s)` URL that policy needs.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Url {
    pub host: String,
    pub port: u16,
}

/// Parses an absolute `http://` or `https://` URL without credentials; the port defaults to 80
/// or 443.
pub(super) fn parse_url(text: &str) -> Result<Url, String> {
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("a URL may not contain spaces or control characters".to_owned());
    }
    let (rest, default_port) = if let Some(rest) = strip_prefix_ignore_case(text, "https://") {
        (rest, 443)
    } else if let Some(rest) = strip_prefix_ignore_case(text, "http://") {
        (rest, 80)
    } else {
        return Err("not an absolute http:// or https:// URL".to_owned());
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err("credentials do not belong in a URL: inject them with a `secret`".to_owned());
    }
    if authority.is_empty() {
        return Err("the URL has no host".to_owned());
    }
    let bracketed_end = authority.rfind(']');
    let (host, port) = match authority.rfind(':') {
        Some(colon) if bracketed_end.is_none_or(|end| colon > end) => {
            (&authority[..colon], parse_port(&authority[colon + 1..])?)
        }
        _ => (authority, default_port),
    };
    Ok(Url {
        host: parse_host(host, false)?,
        port,
    })
}

fn strip_prefix_ignore_case<'t>(text: &'t str, prefix: &str) -> Option<&'t str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_parsing() {
        assert_eq!(
            parse_host_port("API.github.com:443"),
            Ok(("api.github.com".to_owned(), 443))
        );
        assert_eq!(
            parse_host_port("*.example.com:8443"),
            Ok(("*.example.com".to_owned(), 8443))
        );
        assert_eq!(parse_host_port("[::1]:80"), Ok(("[::1]".to_owned(), 80)));
        assert_eq!(
            parse_host_port("10.0.0.1:80"),
            Ok(("10.0.0.1".to_owned(), 80))
        );
        for bad in [
            "api.github.com",
            "a.com:0",
            "a.com:65536",
            "*.com:443",
            "a.*.com:443",
            "*:443",
            "-a.com:1",
            "a..b:1",
            "300.1.1.1:80",
            "a_b.com:1",
        ] {
            assert!(parse_host_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn wildcards_match_strictly_deeper_names() {
        assert!(host_matches("*.example.com", "api.example.com"));
        assert!(host_matches("*.example.com", "a.b.example.com"));
        assert!(host_matches("*.example.com", "*.a.example.com"));
        assert!(!host_matches("*.example.com", "example.com"));
        assert!(!host_matches("*.example.com", "badexample.com"));
        assert!(!host_matches("api.example.com", "x.api.example.com"));
    }

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("https://api.github.com/repos?x=1"),
            Ok(Url {
                host: "api.github.com".to_owned(),
                port: 443
            })
        );
        assert_eq!(
            parse_url("http://h.example:8080"),
            Ok(Url {
                host: "h.example".to_owned(),
                port: 8080
            })
        );
        assert_eq!(
            parse_url("http://[::1]/x"),
            Ok(Url {
                host: "[::1]".to_owned(),
                port: 80
            })
        );
        for bad in [
            "ftp://x.com/",
            "/relative",
            "https://user:pw@x.com/",
            "https:///path",
            "https://x.com:99999/",
            "https://a b.com/",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }
}
