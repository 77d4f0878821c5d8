//! Replay mode: recorded fixtures stand in for the network. A request matches a fixture on
//! method, scheme, host, port, path and query (parameter order does not matter), and on the
//! request body when the fixture records one — as JSON values when both sides are JSON, since
//! clients serialise the same document differently (spacing, key order), byte for byte otherwise.
//! With a fallback, a request no fixture matches gets the fallback's responses in turn.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};

use hyper::header::HeaderValue;
use hyper::{StatusCode, Uri};
use percent_encoding::percent_decode_str;

use crate::policy::{FallbackResponse, Fixture};

use super::target::Target;

#[derive(Debug, Default)]
pub(crate) struct Replayer {
    fixtures: Vec<(RequestKey, Fixture)>,
    fallback: Vec<FallbackResponse>,
    /// How many fallback answers were given: the next one is `fallback[used % len]`.
    used: AtomicUsize,
}

/// What identifies a request for matching.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RequestKey {
    method: String,
    scheme: &'static str,
    host: String,
    port: u16,
    path: String,
    /// Decoded `(name, value)` pairs, sorted.
    query: Vec<(String, String)>,
}

impl RequestKey {
    fn new(method: &str, target: &Target, ignored_params: &[&str]) -> Self {
        let mut query: Vec<(String, String)> = target
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|param| !param.is_empty())
            .map(|param| {
                let (name, value) = param.split_once('=').unwrap_or((param, ""));
                (decode(name), decode(value))
            })
            .filter(|(name, _)| !ignored_params.contains(&name.as_str()))
            .collect();
        query.sort();
        Self {
            method: method.to_ascii_uppercase(),
            scheme: target.scheme.as_str(),
            host: target.endpoint.host.clone(),
            port: target.endpoint.port,
            path: target.path().to_owned(),
            query,
        }
    }
}

impl RequestKey {
    fn without_params(&self, names: &[&str]) -> RequestKey {
        RequestKey {
            query: self
                .query
                .iter()
                .filter(|(name, _)| !names.contains(&name.as_str()))
                .cloned()
                .collect(),
            ..self.clone()
        }
    }
}

/// A response the proxy could not serve faithfully fails when the proxy starts, not mid-run.
fn validate_response(what: &str, status: u16, content_type: Option<&String>) -> io::Result<()> {
    let invalid =
        |problem: String| io::Error::new(io::ErrorKind::InvalidInput, format!("{what}: {problem}"));
    StatusCode::from_u16(status).map_err(|_| invalid(format!("invalid status {status}")))?;
    if let Some(content_type) = content_type {
        HeaderValue::from_str(content_type)
            .map_err(|_| invalid(format!("invalid content type `{content_type}`")))?;
    }
    Ok(())
}

fn decode(text: &str) -> String {
    percent_decode_str(&text.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

impl Replayer {
    /// Fails on a fixture whose URL is not an absolute `http(s)://` URL, and on a response
    /// (a fixture's or a fallback's) that cannot be served.
    pub(crate) fn new(fixtures: &[Fixture], fallback: &[FallbackResponse]) -> io::Result<Self> {
        for (at, response) in fallback.iter().enumerate() {
            validate_response(
                &format!("replay fallback response {}", at + 1),
                response.status,
                response.content_type.as_ref(),
            )?;
        }
        let fixtures = fixtures
            .iter()
            .map(|fixture| {
                let target = fixture
                    .url
                    .parse::<Uri>()
                    .map_err(|err| err.to_string())
                    .and_then(|uri| Target::from_uri(&uri))
                    .map_err(|err| {
                        io::Error::new(
                            io::ErrorKind::InvalidInput,
                            format!("replay fixture URL `{}`: {err}", fixture.url),
                        )
                    })?;
                validate_response(
                    &format!("replay fixture {} {}", fixture.method, fixture.url),
                    fixture.status,
                    fixture.content_type.as_ref(),
                )?;
                Ok((
                    RequestKey::new(&fixture.method, &target, &[]),
                    fixture.clone(),
                ))
            })
            .collect::<io::Result<_>>()?;
        Ok(Self {
            fixtures,
            fallback: fallback.to_vec(),
            used: AtomicUsize::new(0),
        })
    }

    /// The answer to a request no fixture matches, when there is a fallback: its responses in
    /// turn, so one run sees each of them.
    pub(crate) fn fallback(&self) -> Option<&FallbackResponse> {
        if self.fallback.is_empty() {
            return None;
        }
        let turn = self.used.fetch_add(1, Ordering::Relaxed);
        self.fallback.get(turn % self.fallback.len())
    }

    /// The fixture for this request, if one matches. `ignored_params` are query parameters the
    /// proxy injects itself (credentials), which fixtures do not record.
    pub(crate) fn find(
        &self,
        method: &str,
        target: &Target,
        body: &[u8],
        ignored_params: &[&str],
    ) -> Option<&Fixture> {
        let key = RequestKey::new(method, target, ignored_params);
        self.fixtures
            .iter()
            .find(|(fixture_key, fixture)| {
                fixture_key.without_params(ignored_params) == key
                    && fixture
                        .request_body
                        .as_deref()
                        .is_none_or(|expected| bodies_match(expected, body))
            })
            .map(|(_, fixture)| fixture)
    }
}

/// Whether a request body is the one a fixture recorded.
fn bodies_match(expected: &[u8], actual: &[u8]) -> bool {
    if expected == actual {
        return true;
    }
    let json = |bytes: &[u8]| serde_json::from_slice::<serde_json::Value>(bytes).ok();
    match (json(expected), json(actual)) {
        (Some(expected), Some(actual)) => expected == actual,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(url: &str, status: u16) -> Fixture {
        Fixture {
            method: "GET".to_owned(),
            url: url.to_owned(),
            request_body: None,
            status,
            content_type: None,
            body: Vec::new(),
        }
    }

    fn target(url: &str) -> Target {
        Target::from_uri(&url.parse::<Uri>().unwrap()).unwrap()
    }

    #[test]
    fn query_order_and_encoding_do_not_matter_but_values_do() {
        let replayer =
            Replayer::new(&[fixture("https://a.test/x?b=2&a=hello%20world", 200)], &[]).unwrap();
        assert!(replayer
            .find(
                "get",
                &target("https://A.test:443/x?a=hello+world&b=2"),
                b"",
                &[]
            )
            .is_some());
        assert!(replayer
            .find("GET", &target("https://a.test/x?a=hello&b=2"), b"", &[])
            .is_none());
        assert!(replayer
            .find(
                "GET",
                &target("http://a.test/x?a=hello%20world&b=2"),
                b"",
                &[]
            )
            .is_none());
    }

    #[test]
    fn json_bodies_match_as_values_other_bodies_as_bytes() {
        let mut post = fixture("https://a.test/x", 201);
        post.method = "POST".to_owned();
        post.request_body = Some(br#"{"body":"hi","labels":["a"]}"#.to_vec());
        let replayer = Replayer::new(&[post], &[]).unwrap();
        let find = |body: &[u8]| replayer.find("POST", &target("https://a.test/x"), body, &[]);
        assert!(find(br#"{"labels": ["a"], "body": "hi"}"#).is_some());
        assert!(find(br#"{"body":"hi","labels":["b"]}"#).is_none());
        assert!(find(b"body=hi").is_none());
        assert!(bodies_match(b"a=1&b=2", b"a=1&b=2"));
        assert!(!bodies_match(b"a=1&b=2", b"b=2&a=1"));
    }

    #[test]
    fn unservable_fixtures_fail_at_start() {
        assert!(Replayer::new(&[fixture("https://a.test/", 1000)], &[]).is_err());
        assert!(Replayer::new(&[fixture("/relative", 200)], &[]).is_err());
        let bad_fallback = FallbackResponse {
            status: 99,
            content_type: None,
            body: Vec::new(),
        };
        assert!(Replayer::new(&[], &[bad_fallback]).is_err());
    }

    #[test]
    fn the_fallback_answers_in_turn_and_only_when_there_is_one() {
        let canned = |status| FallbackResponse {
            status,
            content_type: None,
            body: Vec::new(),
        };
        let replayer = Replayer::new(&[], &[canned(404), canned(500)]).unwrap();
        let statuses: Vec<u16> = (0..5)
            .filter_map(|_| replayer.fallback().map(|r| r.status))
            .collect();
        assert_eq!(statuses, [404, 500, 404, 500, 404]);
        assert!(Replayer::new(&[], &[]).unwrap().fallback().is_none());
    }
}
