//! What a request is aimed at: scheme, host, port, path. Hosts are normalised once here
//! (lower case, no trailing dot, no IPv6 brackets) so every later check compares like with like,
//! and numeric hosts are decoded the way libc's `inet_aton` (and so curl) would read them.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hyper::Uri;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// A normalised `host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    /// The target of a `CONNECT host:port` request; the port is mandatory there.
    pub(crate) fn from_connect(uri: &Uri) -> Result<Endpoint, String> {
        let authority = uri
            .authority()
            .ok_or_else(|| format!("CONNECT needs host:port, got `{uri}`"))?;
        let port = authority
            .port_u16()
            .ok_or_else(|| format!("CONNECT needs an explicit port, got `{authority}`"))?;
        Ok(Endpoint {
            host: normalize_host(authority.host()),
            port,
        })
    }

    /// `host` or `[v6]`, as it goes into a URL or a `Host` header.
    pub(crate) fn host_for_url(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host_for_url(), self.port)
    }
}

/// The target of an absolute-form request (`GET https://host/path?q`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub scheme: Scheme,
    pub endpoint: Endpoint,
    /// Always starts with `/`.
    pub path_and_query: String,
}

impl Target {
    pub(crate) fn from_uri(uri: &Uri) -> Result<Target, String> {
        let scheme = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("http") => Scheme::Http,
            Some(s) if s.eq_ignore_ascii_case("https") => Scheme::Https,
            Some(other) => return Err(format!("unsupported URL scheme `{other}`")),
            None => {
                return Err(format!(
                    "the proxy needs an absolute URL (`GET http://host/path`), got `{uri}`"
                ))
            }
        };
        let authority = uri
            .authority()
            .ok_or_else(|| format!("URL without a host: `{uri}`"))?;
        if authority.as_str().contains('@') {
            return Err("URLs with user info (`user@host`) are refused".to_owned());
        }
        let port = authority.port_u16().unwrap_or(scheme.default_port());
        let path_and_query = uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned());
        let path_and_query = if path_and_query.starts_with('/') {
            path_and_query
        } else {
            format!("/{path_and_query}")
        };
        Ok(Target {
            scheme,
            endpoint: Endpoint {
                host: normalize_host(authority.host()),
                port,
            },
            path_and_query,
        })
    }

    /// What goes into the upstream `Host` header: the port only when it is not the default.
    pub(crate) fn host_header(&self) -> String {
        if self.endpoint.port == self.scheme.default_port() {
            self.endpoint.host_for_url()
        } else {
            self.endpoint.to_string()
        }
    }

    pub(crate) fn url(&self) -> String {
        format!(
            "{}://{}{}",
            self.scheme.as_str(),
            self.host_header(),
            self.path_and_query
        )
    }

    pub(crate) fn path(&self) -> &str {
        self.path_and_query
            .split_once('?')
            .map_or(self.path_and_query.as_str(), |(path, _)| path)
    }

    pub(crate) fn query(&self) -> Option<&str> {
        self.path_and_query.split_once('?').map(|(_, query)| query)
    }
}

/// Lower case, brackets of an IPv6 literal removed, one trailing dot removed (`x.com.` is `x.com`).
pub(crate) fn normalize_host(raw: &str) -> String {
    let host = raw
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(raw);
    let host = host.strip_suffix('.').unwrap_or(host);
    host.to_ascii_lowercase()
}

/// A normalised host is either a name to resolve or an address literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostKind {
    Name,
    Ip(IpAddr),
}

/// Decides whether `host` (normalised) is an address literal, decoding every spelling libc
/// accepts (`2852039166`, `0xa9fea9fe`, `0251.0376.0251.0376`, `127.1`). A host whose last label
/// is numeric but that is no valid address is refused rather than handed to a resolver, which
/// might read it differently.
pub(crate) fn classify_host(host: &str) -> Result<HostKind, String> {
    if host.is_empty() {
        return Err("empty host".to_owned());
    }
    if host.contains(':') {
        return host
            .parse::<Ipv6Addr>()
            .map(|ip| HostKind::Ip(IpAddr::V6(ip)))
            .map_err(|_| format!("malformed IPv6 literal `{host}`"));
    }
    let last_label = host.rsplit('.').next().unwrap_or(host);
    if !looks_numeric(last_label) {
        return Ok(HostKind::Name);
    }
    parse_ipv4_like_libc(host)
        .map(|ip| HostKind::Ip(IpAddr::V4(ip)))
        .ok_or_else(|| format!("numeric host `{host}` is not a valid IPv4 address"))
}

fn looks_numeric(label: &str) -> bool {
    let hex = label
        .strip_prefix("0x")
        .or_else(|| label.strip_prefix("0X"));
    match hex {
        Some(digits) => digits.bytes().all(|b| b.is_ascii_hexdigit()),
        None => !label.is_empty() && label.bytes().all(|b| b.is_ascii_digit()),
    }
}

/// `inet_aton`: one to four parts, each decimal, `0x` hex or `0`-prefixed octal; the last part
/// fills all remaining bytes (`a`, `a.b` = 8.24 bits, `a.b.c` = 8.8.16 bits, `a.b.c.d`).
fn parse_ipv4_like_libc(host: &str) -> Option<Ipv4Addr> {
    let parts = host
        .split('.')
        .map(parse_ipv4_part)
        .collect::<Option<Vec<u64>>>()?;
    let (last, leading) = parts.split_last()?;
    if parts.len() > 4 || leading.iter().any(|&part| part > 255) {
        return None;
    }
    let last_bits = 8 * (5 - parts.len() as u32);
    if *last >= 1u64 << last_bits {
        return None;
    }
    let leading_bits = leading
        .iter()
        .enumerate()
        .fold(0u64, |acc, (i, &part)| acc | part << (24 - 8 * i as u32));
    u32::try_from(leading_bits | last).ok().map(Ipv4Addr::from)
}

fn parse_ipv4_part(part: &str) -> Option<u64> {
    let (digits, radix) =
        if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            if hex.is_empty() {
                return Some(0);
            }
            (hex, 16)
        } else if part.len() > 1 && part.starts_with('0') {
            (&part[1..], 8)
        } else {
            (part, 10)
        };
    if digits.is_empty() || digits.len() > 12 {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(host: &str) -> Option<Ipv4Addr> {
        match classify_host(&normalize_host(host)) {
            Ok(HostKind::Ip(IpAddr::V4(ip))) => Some(ip),
            _ => None,
        }
    }

    #[test]
    fn numeric_hosts_decode_like_inet_aton() {
        let metadata = Some(Ipv4Addr::new(169, 254, 169, 254));
        assert_eq!(v4("2852039166"), metadata);
        assert_eq!(v4("0xa9fea9fe"), metadata);
        assert_eq!(v4("0XA9FEA9FE"), metadata);
        assert_eq!(v4("0251.0376.0251.0376"), metadata);
        assert_eq!(v4("169.254.43518"), metadata);
        assert_eq!(v4("169.16689662"), metadata);
        assert_eq!(v4("0xa9.0xfe.0xa9.0xfe"), metadata);
        assert_eq!(v4("127.1"), Some(Ipv4Addr::LOCALHOST));
        assert_eq!(v4("127.0.0.1."), Some(Ipv4Addr::LOCALHOST));
        assert_eq!(v4("0"), Some(Ipv4Addr::UNSPECIFIED));
    }

    #[test]
    fn malformed_numeric_hosts_are_refused_not_resolved() {
        for host in [
            "256.1.1.1",
            "1.2.3.4.5",
            "1.2.3.256",
            "4294967296",
            "09",
            "1..2",
        ] {
            assert!(classify_host(host).is_err(), "{host} should be refused");
        }
        assert_eq!(classify_host("api.x.com"), Ok(HostKind::Name));
        assert_eq!(classify_host("1.2.3.com"), Ok(HostKind::Name));
    }

    #[test]
    fn ipv6_literals_lose_their_brackets() {
        assert_eq!(normalize_host("[::FFFF:127.0.0.1]"), "::ffff:127.0.0.1");
        assert!(matches!(
            classify_host("::ffff:127.0.0.1"),
            Ok(HostKind::Ip(IpAddr::V6(_)))
        ));
        assert!(classify_host("fe80::1%eth0").is_err());
    }
}
