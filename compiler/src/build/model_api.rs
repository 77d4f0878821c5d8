//! Where the model API is and how clawc authenticates to it: read once from clawc's own
//! environment. The credential never enters a sandbox; generators that run in one reach the
//! API through the runtime's model-API relay, which puts it on outside.

use std::fmt;

/// `ANTHROPIC_BASE_URL` when unset.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";

/// How requests to the model API are authenticated.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// `ANTHROPIC_API_KEY`, sent as `x-api-key`.
    ApiKey(String),
    /// `ANTHROPIC_AUTH_TOKEN`, sent as `Authorization: Bearer`.
    Bearer(String),
}

impl Credential {
    /// The header that carries it: `(name, value)`.
    pub fn header(&self) -> (&'static str, String) {
        match self {
            Credential::ApiKey(key) => ("x-api-key", key.clone()),
            Credential::Bearer(token) => ("authorization", format!("Bearer {token}")),
        }
    }

    pub fn secret(&self) -> &str {
        match self {
            Credential::ApiKey(value) | Credential::Bearer(value) => value,
        }
    }
}

/// Never print a credential, not even in a debug dump.
impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::ApiKey(_) => f.write_str("ApiKey(<redacted>)"),
            Credential::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ModelApi {
    /// `scheme://host[:port][/base-path]`, without a trailing `/`.
    pub base_url: String,
    pub credential: Credential,
}

#[derive(Debug, thiserror::Error)]
pub enum ModelApiError {
    #[error(
        "no model API credential: set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN), or use \
         `--generator replay` to re-derive pinned code offline"
    )]
    NoCredential,
    #[error("ANTHROPIC_BASE_URL `{0}`: expected http:// or https:// followed by a host")]
    BadBaseUrl(String),
}

impl ModelApi {
    /// From clawc's environment. `ANTHROPIC_AUTH_TOKEN` wins over `ANTHROPIC_API_KEY`, as it
    /// does for Claude Code.
    pub fn from_env() -> Result<ModelApi, ModelApiError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Self::new(
            var("ANTHROPIC_BASE_URL"),
            var("ANTHROPIC_AUTH_TOKEN"),
            var("ANTHROPIC_API_KEY"),
        )
    }

    fn new(
        base_url: Option<String>,
        auth_token: Option<String>,
        api_key: Option<String>,
    ) -> Result<ModelApi, ModelApiError> {
        let base_url = base_url.unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        let trimmed = base_url.trim_end_matches('/');
        let rest = trimmed
            .strip_prefix("https://")
            .or_else(|| trimmed.strip_prefix("http://"));
        if rest.is_none_or(|rest| rest.is_empty() || rest.starts_with('/')) {
            return Err(ModelApiError::BadBaseUrl(base_url));
        }
        let credential = match (auth_token, api_key) {
            (Some(token), _) => Credential::Bearer(token),
            (None, Some(key)) => Credential::ApiKey(key),
            (None, None) => return Err(ModelApiError::NoCredential),
        };
        Ok(ModelApi {
            base_url: trimmed.to_owned(),
            credential,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_token_wins_and_the_default_base_is_anthropics() {
        let api = ModelApi::new(None, Some("t".into()), Some("k".into())).unwrap();
        assert_eq!(api.base_url, DEFAULT_BASE_URL);
        assert_eq!(
            api.credential.header(),
            ("authorization", "Bearer t".into())
        );
        let api =
            ModelApi::new(Some("http://127.0.0.1:9/".into()), None, Some("k".into())).unwrap();
        assert_eq!(api.base_url, "http://127.0.0.1:9");
        assert_eq!(format!("{:?}", api.credential), "ApiKey(<redacted>)");
    }

    #[test]
    fn a_missing_key_or_a_bad_url_is_refused() {
        assert!(matches!(
            ModelApi::new(None, None, None),
            Err(ModelApiError::NoCredential)
        ));
        for bad in ["ftp://x", "https://", "api.anthropic.com", "http:///v1"] {
            assert!(
                matches!(
                    ModelApi::new(Some(bad.into()), None, Some("k".into())),
                    Err(ModelApiError::BadBaseUrl(_))
                ),
                "{bad}"
            );
        }
    }
}
