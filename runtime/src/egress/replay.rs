//! Replay mode: recorded fixtures stand in for the network. A request matches a fixture on
//! method, scheme, host, port, path and query (parameter order does not matter), and on the
//! request body when the fixture records one.

use std::io;

use hyper::Uri;
use percent_encoding::percent_decode_str;

use crate::policy::Fixture;

use super::target::Target;

#[derive(Debug, Clone, Default)]
pub(crate) struct Replayer {
    fixtures: Vec<(RequestKey, Fixture)>,
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

fn decode(text: &str) -> String {
    percent_decode_str(&text.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

impl Replayer {
    /// Fails on a fixture whose URL is not an absolute `http(s)://` URL.
    pub(crate) fn new(fixtures: &[Fixture]) -> io::Result<Self> {
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
                Ok((
                    RequestKey::new(&fixture.method, &target, &[]),
                    fixture.clone(),
                ))
            })
            .collect::<io::Result<_>>()?;
        Ok(Self { fixtures })
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
                *fixture_key == key
                    && fixture
                        .request_body
                        .as_deref()
                        .is_none_or(|expected| expected == body)
            })
            .map(|(_, fixture)| fixture)
    }
}
