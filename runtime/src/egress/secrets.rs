//! Credential injection and the placeholder tripwire.
//!
//! The sandbox only ever holds a secret's placeholder. On a request to one of the secret's
//! hosts the proxy sets the declared header (or query parameter) to the real value; a request
//! that carries the placeholder anywhere (URL, headers, body, raw or percent-encoded) to any
//! other host is refused. The tripwire catches mistakes and naive exfiltration, not a determined
//! encoder (base64, reversal): the real value is never sent anywhere but the declared hosts,
//! and that is the guarantee.

use hyper::header::{HeaderName, HeaderValue};
use hyper::HeaderMap;
use percent_encoding::{percent_decode, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::policy::{Injection, SecretRule};

use super::allowlist::NamePattern;
use super::target::Endpoint;

/// Everything but RFC 3986's unreserved characters is escaped in an injected query parameter.
const QUERY_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[derive(Debug, Clone, Default)]
pub(crate) struct Secrets {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
struct Rule {
    name: String,
    placeholder: String,
    /// The real value, and the forms of it that may appear in text we log.
    value: String,
    encoded_value: String,
    hosts: Vec<HostRule>,
    /// The hosts the spec lets this secret reach over plain HTTP (a LAN appliance).
    plaintext_hosts: Vec<HostRule>,
    injection: Prepared,
}

/// A secret host: a name pattern, and a port when the rule wrote `host:port`.
#[derive(Debug, Clone)]
struct HostRule {
    name: NamePattern,
    port: Option<u16>,
}

/// The injection, validated once at start so a bad header name fails loudly and early.
#[derive(Debug, Clone)]
enum Prepared {
    Header {
        name: HeaderName,
        value: HeaderValue,
    },
    Query {
        name: String,
        pair: String,
    },
}

/// The parts of a request the tripwire inspects.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestParts<'a> {
    pub path_and_query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

impl Secrets {
    pub(crate) fn new(rules: &[SecretRule]) -> Result<Self, String> {
        let rules = rules
            .iter()
            .map(|rule| {
                let injection = prepare(rule)?;
                Ok(Rule {
                    name: rule.name.clone(),
                    placeholder: rule.placeholder.clone(),
                    value: rule.value.0.clone(),
                    encoded_value: utf8_percent_encode(&rule.value.0, QUERY_COMPONENT).to_string(),
                    hosts: rule.hosts.iter().map(|h| parse_host_rule(h)).collect(),
                    plaintext_hosts: rule
                        .plaintext_hosts
                        .iter()
                        .map(|h| parse_host_rule(h))
                        .collect(),
                    injection,
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Self { rules })
    }

    /// Refuses a plain-HTTP request to a host a secret is bound to: it would carry the real
    /// value unencrypted. Only a host the spec opted in for plain HTTP gets it.
    pub(crate) fn check_transport(&self, endpoint: &Endpoint, tls: bool) -> Result<(), String> {
        if tls {
            return Ok(());
        }
        match self.rules.iter().find(|rule| {
            rule.binds(endpoint)
                && !rule
                    .plaintext_hosts
                    .iter()
                    .any(|host| host.matches(endpoint))
        }) {
            Some(rule) => Err(format!(
                "secret `{}` is sent only over TLS: use https://{}/ (plain HTTP to {endpoint} \
                 would carry it unencrypted, and the spec does not allow that for this host)",
                rule.name,
                endpoint.host_for_url()
            )),
            None => Ok(()),
        }
    }

    /// `value` with every real secret value (raw or percent-encoded) masked by as many `*`:
    /// what an upstream echoes back never reaches the sandbox. Same length, so a response's
    /// `Content-Length` stays true and nothing is re-framed.
    pub(crate) fn mask_values(&self, value: &[u8]) -> Option<Vec<u8>> {
        let mut out = value.to_vec();
        let mut changed = false;
        for rule in &self.rules {
            for needle in [&rule.value, &rule.encoded_value] {
                if contains(&out, needle.as_bytes()) {
                    out = replace_all(&out, needle.as_bytes(), &mask(needle.len()));
                    changed = true;
                }
            }
        }
        changed.then_some(out)
    }

    /// Whether there is any real value to mask at all.
    pub(crate) fn has_values(&self) -> bool {
        self.rules
            .iter()
            .any(|rule| !rule.value.is_empty() || !rule.encoded_value.is_empty())
    }

    /// Masks every value in `bytes` and returns the masked bytes, holding back only a tail
    /// that is the start of a value (it may continue in the next chunk). Everything else goes
    /// out at once, so a streamed response (SSE) is not delayed until more bytes arrive.
    pub(crate) fn mask_streaming(&self, bytes: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let needles: Vec<&[u8]> = self
            .rules
            .iter()
            .flat_map(|rule| [rule.value.as_bytes(), rule.encoded_value.as_bytes()])
            .filter(|needle| !needle.is_empty())
            .collect();
        let mut out = Vec::with_capacity(bytes.len());
        let mut at = 0;
        'scan: while at < bytes.len() {
            let rest = &bytes[at..];
            for needle in &needles {
                if rest.starts_with(needle) {
                    out.extend_from_slice(&mask(needle.len()));
                    at += needle.len();
                    continue 'scan;
                }
            }
            if needles.iter().any(|needle| needle.starts_with(rest)) {
                break;
            }
            out.push(bytes[at]);
            at += 1;
        }
        (out, bytes[at..].to_vec())
    }

    /// Refuses a request that carries the placeholder — or the real value — of a secret not
    /// bound to `endpoint`.
    pub(crate) fn check_placeholders(
        &self,
        endpoint: &Endpoint,
        parts: RequestParts<'_>,
    ) -> Result<(), String> {
        for rule in &self.rules {
            if rule.placeholder.is_empty() || rule.binds(endpoint) {
                continue;
            }
            let decoded_url: Vec<u8> =
                percent_decode(parts.path_and_query.replace('+', " ").as_bytes()).collect();
            let decoded_body: Vec<u8> = percent_decode(parts.body).collect();
            let found_in = [&rule.placeholder, &rule.value, &rule.encoded_value]
                .into_iter()
                .map(|needle| needle.as_bytes())
                .find_map(|needle| {
                    if contains(parts.path_and_query.as_bytes(), needle)
                        || contains(&decoded_url, needle)
                    {
                        Some("URL")
                    } else if parts.headers.iter().any(|(name, value)| {
                        contains(name.as_str().as_bytes(), needle)
                            || contains(value.as_bytes(), needle)
                    }) {
                        Some("headers")
                    } else if contains(parts.body, needle) || contains(&decoded_body, needle) {
                        Some("body")
                    } else {
                        None
                    }
                });
            if let Some(place) = found_in {
                return Err(format!(
                    "the request's {place} carry the placeholder or value of secret `{}`, which may \
                     only be sent to {}",
                    rule.name,
                    rule.host_list()
                ));
            }
        }
        Ok(())
    }

    /// Puts the real values of the secrets bound to `endpoint` into the request.
    pub(crate) fn inject(
        &self,
        endpoint: &Endpoint,
        headers: &mut HeaderMap,
        path_and_query: &mut String,
    ) {
        for rule in self.rules.iter().filter(|rule| rule.binds(endpoint)) {
            match &rule.injection {
                Prepared::Header { name, value } => {
                    headers.insert(name.clone(), value.clone());
                }
                Prepared::Query { name, pair } => {
                    *path_and_query = with_query_param(path_and_query, name, pair);
                }
            }
        }
    }

    /// Names of query parameters the proxy itself sets on requests to `endpoint`; replay
    /// matching ignores them, since fixtures describe the integration's request, not the auth.
    pub(crate) fn injected_query_names(&self, endpoint: &Endpoint) -> Vec<&str> {
        self.rules
            .iter()
            .filter(|rule| rule.binds(endpoint))
            .filter_map(|rule| match &rule.injection {
                Prepared::Query { name, .. } => Some(name.as_str()),
                Prepared::Header { .. } => None,
            })
            .collect()
    }

    /// `text` with every secret value replaced by `<secret NAME>`.
    pub(crate) fn redact(&self, text: &str) -> String {
        self.rules.iter().fold(text.to_owned(), |text, rule| {
            let marker = format!("<secret {}>", rule.name);
            [&rule.value, &rule.encoded_value]
                .into_iter()
                .filter(|value| !value.is_empty())
                .fold(text, |text, value| text.replace(value.as_str(), &marker))
        })
    }
}

impl HostRule {
    fn matches(&self, endpoint: &Endpoint) -> bool {
        self.port.is_none_or(|port| port == endpoint.port) && self.name.matches(&endpoint.host)
    }
}

impl Rule {
    fn binds(&self, endpoint: &Endpoint) -> bool {
        self.hosts.iter().any(|host| host.matches(endpoint))
    }

    fn host_list(&self) -> String {
        if self.hosts.is_empty() {
            // Only the model-API relay's credential binds no host: the relay sends it itself.
            return "the model-API relay".to_owned();
        }
        self.hosts
            .iter()
            .map(|host| {
                let name = match &host.name {
                    NamePattern::Exact(name) => name.clone(),
                    NamePattern::Below(suffix) => format!("*{suffix}"),
                };
                host.port
                    .map_or(name.clone(), |port| format!("{name}:{port}"))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn prepare(rule: &SecretRule) -> Result<Prepared, String> {
    match &rule.injection {
        Injection::Header { name, template } => {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("secret `{}`: invalid header name `{name}`", rule.name))?;
            let mut value = HeaderValue::from_str(&template.replace("{value}", &rule.value.0))
                .map_err(|_| {
                    format!(
                        "secret `{}`: the value does not fit in header `{name}`",
                        rule.name
                    )
                })?;
            value.set_sensitive(true);
            Ok(Prepared::Header {
                name: header,
                value,
            })
        }
        Injection::Query { name } => Ok(Prepared::Query {
            name: name.clone(),
            pair: format!(
                "{}={}",
                utf8_percent_encode(name, QUERY_COMPONENT),
                utf8_percent_encode(&rule.value.0, QUERY_COMPONENT)
            ),
        }),
    }
}

/// `host` or `host:port` (a bracketed IPv6 literal keeps its colons inside the brackets).
fn parse_host_rule(raw: &str) -> HostRule {
    let port_split = raw
        .rsplit_once(':')
        .filter(|(host, _)| !host.contains(':') || host.ends_with(']'))
        .and_then(|(host, port)| port.parse::<u16>().ok().map(|port| (host, port)));
    match port_split {
        Some((host, port)) => HostRule {
            name: NamePattern::parse(host),
            port: Some(port),
        },
        None => HostRule {
            name: NamePattern::parse(raw),
            port: None,
        },
    }
}

/// `path_and_query` with every `name=…` parameter replaced by `pair`.
fn with_query_param(path_and_query: &str, name: &str, pair: &str) -> String {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let mut params: Vec<&str> = query
        .split('&')
        .filter(|param| !param.is_empty())
        .filter(|param| {
            let key = param.split_once('=').map_or(*param, |(key, _)| key);
            percent_decode(key.as_bytes()).decode_utf8_lossy() != name
        })
        .collect();
    params.push(pair);
    format!("{path}?{}", params.join("&"))
}

fn mask(len: usize) -> Vec<u8> {
    vec![b'*'; len]
}

fn replace_all(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while let Some(at) = rest.windows(needle.len()).position(|w| w == needle) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(with);
        rest = &rest[at + needle.len()..];
    }
    out.extend_from_slice(rest);
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::SecretValue;

    fn rule(injection: Injection) -> SecretRule {
        SecretRule {
            name: "token".to_owned(),
            placeholder: "CLAW_SECRET_token".to_owned(),
            value: SecretValue("s3cr3t/v+al".to_owned()),
            injection,
            hosts: vec!["api.x.com".to_owned()],
            plaintext_hosts: Vec::new(),
        }
    }

    fn endpoint(host: &str) -> Endpoint {
        Endpoint {
            host: host.to_owned(),
            port: 443,
        }
    }

    #[test]
    fn query_injection_replaces_the_parameter() {
        let secrets = Secrets::new(&[rule(Injection::Query {
            name: "key".to_owned(),
        })])
        .unwrap();
        let mut pq = "/v1?a=1&key=CLAW_SECRET_token&b=2".to_owned();
        secrets.inject(&endpoint("api.x.com"), &mut HeaderMap::new(), &mut pq);
        assert_eq!(pq, "/v1?a=1&b=2&key=s3cr3t%2Fv%2Bal");
        assert_eq!(secrets.redact(&pq), "/v1?a=1&b=2&key=<secret token>");
    }

    #[test]
    fn percent_encoded_placeholder_is_caught() {
        let secrets = Secrets::new(&[rule(Injection::Query {
            name: "key".to_owned(),
        })])
        .unwrap();
        let parts = RequestParts {
            path_and_query: "/?q=%43LAW_SECRET_token",
            headers: &HeaderMap::new(),
            body: b"",
        };
        assert!(secrets
            .check_placeholders(&endpoint("evil.com"), parts)
            .is_err());
        assert!(secrets
            .check_placeholders(&endpoint("api.x.com"), parts)
            .is_ok());
    }

    #[test]
    fn streaming_masks_split_values_and_holds_back_only_a_possible_start() {
        let secrets = Secrets::new(&[rule(Injection::Header {
            name: "x-key".to_owned(),
            template: "{value}".to_owned(),
        })])
        .unwrap();
        // A tail that cannot begin the value goes out at once (an SSE event's `\n\n`).
        let (out, rest) = secrets.mask_streaming(b"data: 1\n\n");
        assert_eq!(
            (out.as_slice(), rest.as_slice()),
            (&b"data: 1\n\n"[..], &b""[..])
        );
        // A value split across two chunks is masked whole.
        let (out, rest) = secrets.mask_streaming(b"key=s3cr");
        assert_eq!(
            (out.as_slice(), rest.as_slice()),
            (&b"key="[..], &b"s3cr"[..])
        );
        let mut next = rest;
        next.extend_from_slice(b"3t/v+al!");
        let (out, rest) = secrets.mask_streaming(&next);
        assert_eq!(out, b"***********!");
        assert!(rest.is_empty());
    }

    #[test]
    fn bad_header_name_fails_at_start() {
        let bad = rule(Injection::Header {
            name: "bad header".to_owned(),
            template: "{value}".to_owned(),
        });
        assert!(Secrets::new(&[bad]).is_err());
    }
}
