//! The model-API relay: what the proxy does with a request that arrived on the relay's socket
//! (the sandbox's `127.0.0.1:3129`, see [`crate::bridge::RELAY_ADDR`]).
//!
//! The request is plain HTTP in origin form (`POST /v1/messages`), as any API client sends it
//! to a base URL. The relay refuses it when a credential header holds anything but the
//! placeholder, drops those headers, sets the real credential and sends the request to the one
//! configured upstream, in the upstream's own scheme. Nothing in the request can choose another
//! host: only the path and query come from the sandbox.

use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Uri};
use rustls::pki_types::ServerName;

use crate::policy::{Injection, ModelApiRelay, SecretRule};

use super::target::{classify_host, normalize_host, Endpoint, HostKind, Scheme, Target};

/// The Messages API's own cap on a request (32 MB). Bodies are streamed, not held; this only
/// keeps one request from running on forever.
pub(crate) const MAX_REQUEST_BODY: usize = 32 << 20;

/// The credential's name in the audit log and in redactions (`<secret model-api>`).
const CREDENTIAL_NAME: &str = "model-api";

/// Headers API clients put a credential in; whatever they hold is checked and never forwarded.
const CLIENT_CREDENTIAL_HEADERS: [&str; 2] = ["x-api-key", "authorization"];

#[derive(Debug, Clone)]
pub(crate) struct Relay {
    scheme: Scheme,
    endpoint: Endpoint,
    /// `""` or `/prefix`, never ending in `/`; the request's path is appended.
    base_path: String,
    header_name: HeaderName,
    /// Marked sensitive, so hyper never prints it.
    header_value: HeaderValue,
    placeholder: String,
}

impl Relay {
    /// Checks everything about `config` once; the policy validator calls this too, so a bad
    /// relay is refused before any sandbox starts. No error message carries the credential.
    pub(crate) fn new(config: &ModelApiRelay) -> Result<Relay, String> {
        let (scheme, endpoint, base_path) = parse_upstream(&config.upstream)?;
        let value = config.value.0.as_str();
        if value.is_empty() {
            return Err("the credential is empty".to_owned());
        }
        let placeholder = config.placeholder.as_str();
        if placeholder.is_empty() {
            return Err("the placeholder is empty".to_owned());
        }
        if placeholder.contains(value) || value.contains(placeholder) {
            return Err(
                "the placeholder and the credential must not contain each other".to_owned(),
            );
        }
        if HeaderValue::from_str(placeholder).is_err() {
            return Err("the placeholder is not a valid header value".to_owned());
        }
        let header_name = HeaderName::from_bytes(config.header_name.as_bytes())
            .map_err(|_| format!("`{}` is not a header name", config.header_name))?;
        if !config.header_template.contains("{value}") {
            return Err(format!(
                "the header template `{}` has no `{{value}}`",
                config.header_template
            ));
        }
        let mut header_value =
            HeaderValue::from_str(&config.header_template.replace("{value}", value))
                .map_err(|_| format!("the credential does not fit in header `{header_name}`"))?;
        header_value.set_sensitive(true);
        Ok(Relay {
            scheme,
            endpoint,
            base_path,
            header_name,
            header_value,
            placeholder: placeholder.to_owned(),
        })
    }

    /// The credential as one of the proxy's secrets, so that every redaction (audit log,
    /// responses on both paths) covers it and the placeholder tripwire refuses any request
    /// through the proxy that carries it: it belongs to the relay only, so it binds no host.
    pub(crate) fn secret_rule(config: &ModelApiRelay) -> SecretRule {
        SecretRule {
            name: CREDENTIAL_NAME.to_owned(),
            placeholder: config.placeholder.clone(),
            value: config.value.clone(),
            injection: Injection::Header {
                name: config.header_name.clone(),
                template: config.header_template.clone(),
            },
            hosts: Vec::new(),
            plaintext_hosts: Vec::new(),
        }
    }

    pub(crate) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Where the request goes upstream: the base URL with the request's path and query.
    pub(crate) fn target(&self, method: &Method, uri: &Uri) -> Result<Target, String> {
        if method == Method::CONNECT || uri.scheme().is_some() || uri.authority().is_some() {
            return Err(format!(
                "the model-API relay takes plain requests to its own base URL \
                 (`{method} /path`), not proxy requests; got `{uri}`"
            ));
        }
        let path_and_query = uri.path_and_query().map_or("/", |pq| pq.as_str());
        Ok(Target {
            scheme: self.scheme,
            endpoint: self.endpoint.clone(),
            path_and_query: format!("{}{path_and_query}", self.base_path),
        })
    }

    /// Refuses a request whose credential headers hold anything but the placeholder (bare or
    /// as a bearer token). The offered value is never repeated: it might be a real key.
    pub(crate) fn check_credentials(&self, headers: &HeaderMap) -> Result<(), String> {
        for name in self.credential_headers() {
            for value in headers.get_all(&name) {
                if !self.is_placeholder(value) {
                    return Err(format!(
                        "header `{name}` holds something other than the relay's placeholder \
                         (the sandbox is given only the placeholder; the relay sets the real \
                         credential itself)"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Drops the sandbox's credential headers and sets the real one.
    pub(crate) fn authenticate(&self, headers: &mut HeaderMap) {
        for name in self.credential_headers() {
            headers.remove(&name);
        }
        headers.insert(self.header_name.clone(), self.header_value.clone());
    }

    fn credential_headers(&self) -> Vec<HeaderName> {
        let mut names: Vec<HeaderName> = CLIENT_CREDENTIAL_HEADERS
            .iter()
            .map(|name| HeaderName::from_static(name))
            .collect();
        if !names.contains(&self.header_name) {
            names.push(self.header_name.clone());
        }
        names
    }

    fn is_placeholder(&self, value: &HeaderValue) -> bool {
        let Ok(text) = value.to_str() else {
            return false;
        };
        let text = text.trim();
        let token = match text.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => text,
        };
        token == self.placeholder
    }
}

/// `scheme://host[:port][/base-path]` → its parts. Plain `http://` only to a loopback IP
/// literal: the credential would otherwise cross a network unencrypted.
fn parse_upstream(text: &str) -> Result<(Scheme, Endpoint, String), String> {
    let uri: Uri = text
        .parse()
        .map_err(|_| format!("upstream `{text}` is not a URL"))?;
    let scheme = match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("https") => Scheme::Https,
        Some(s) if s.eq_ignore_ascii_case("http") => Scheme::Http,
        _ => {
            return Err(format!(
                "upstream `{text}` must start with https:// or http://"
            ))
        }
    };
    let authority = uri
        .authority()
        .ok_or_else(|| format!("upstream `{text}` has no host"))?;
    if authority.as_str().contains('@') {
        return Err(format!("upstream `{text}` must not carry user info"));
    }
    if uri.query().is_some() {
        return Err(format!("upstream `{text}` must not have a query"));
    }
    let host = normalize_host(authority.host());
    if host.is_empty() {
        return Err(format!("upstream `{text}` has no host"));
    }
    let ip = classify_host(&host).map_err(|reason| format!("upstream `{text}`: {reason}"))?;
    match (scheme, ip) {
        (Scheme::Http, HostKind::Ip(ip)) if ip.to_canonical().is_loopback() => {}
        (Scheme::Http, _) => {
            return Err(format!(
                "upstream `{text}`: plain http:// is allowed only to a loopback IP literal \
                 (127.0.0.0/8, [::1]), where the credential never leaves the machine; use https://"
            ))
        }
        (Scheme::Https, _) => {
            ServerName::try_from(host.clone())
                .map_err(|err| format!("upstream `{text}`: not a TLS server name: {err}"))?;
        }
    }
    let port = authority.port_u16().unwrap_or(match scheme {
        Scheme::Http => 80,
        Scheme::Https => 443,
    });
    Ok((
        scheme,
        Endpoint { host, port },
        uri.path().trim_end_matches('/').to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::SecretValue;
    use hyper::header::AUTHORIZATION;

    fn config(upstream: &str) -> ModelApiRelay {
        ModelApiRelay {
            upstream: upstream.to_owned(),
            header_name: "x-api-key".to_owned(),
            header_template: "{value}".to_owned(),
            value: SecretValue("sk-real-credential".to_owned()),
            placeholder: "relay-placeholder".to_owned(),
        }
    }

    #[test]
    fn upstreams_are_https_or_loopback_http() {
        let relay = Relay::new(&config("https://api.example.com/base/")).unwrap();
        let target = relay
            .target(&Method::POST, &"/v1/messages?beta=true".parse().unwrap())
            .unwrap();
        assert_eq!(
            target.url(),
            "https://api.example.com/base/v1/messages?beta=true"
        );
        let local = Relay::new(&config("http://127.0.0.1:8080")).unwrap();
        assert_eq!(local.endpoint().to_string(), "127.0.0.1:8080");
        assert!(Relay::new(&config("http://[::1]:9")).is_ok());
        for bad in [
            "http://api.example.com",
            "http://10.0.0.1",
            "http://localhost:80",
            "ftp://x.com",
            "https://user@x.com",
            "https://x.com/?q=1",
            "api.example.com",
            "https://",
        ] {
            assert!(Relay::new(&config(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_the_placeholder_passes_and_the_real_credential_replaces_it() {
        let relay = Relay::new(&config("https://api.example.com")).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", HeaderValue::from_static("relay-placeholder"));
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_static("Bearer relay-placeholder"),
        );
        assert_eq!(relay.check_credentials(&headers), Ok(()));
        relay.authenticate(&mut headers);
        assert_eq!(headers.get(AUTHORIZATION), None);
        assert_eq!(
            headers.get("x-api-key").map(HeaderValue::as_bytes),
            Some(&b"sk-real-credential"[..])
        );
        let mut other = HeaderMap::new();
        other.insert("x-api-key", HeaderValue::from_static("sk-someone-elses"));
        let refused = relay.check_credentials(&other).unwrap_err();
        assert!(!refused.contains("sk-someone-elses"), "{refused}");
        assert!(relay.check_credentials(&HeaderMap::new()).is_ok());
    }

    #[test]
    fn proxy_requests_and_bad_credentials_are_refused_without_echoing_the_value() {
        let relay = Relay::new(&config("https://api.example.com")).unwrap();
        assert!(relay
            .target(&Method::GET, &"http://evil.example/".parse().unwrap())
            .is_err());
        let mut bad = config("https://api.example.com");
        bad.header_template = "Bearer {value}\n".to_owned();
        let err = Relay::new(&bad).unwrap_err();
        assert!(!err.contains("sk-real"), "{err}");
        let mut same = config("https://api.example.com");
        same.placeholder = "sk-real-credential-x".to_owned();
        assert!(Relay::new(&same).is_err());
        let shown = format!("{:?}", config("https://api.example.com"));
        assert!(!shown.contains("sk-real"), "{shown}");
    }
}
