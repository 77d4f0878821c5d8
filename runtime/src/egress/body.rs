//! The one response body type the proxy returns: either bytes it made itself or a streamed
//! upstream body.

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub(crate) type ProxyBody = BoxBody<Bytes, BoxError>;

pub(crate) fn full(bytes: impl Into<Bytes>) -> ProxyBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

pub(crate) fn empty() -> ProxyBody {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// A response the proxy itself produced, marked so a client can tell it from an upstream one.
pub(crate) fn proxy_response(status: StatusCode, text: String) -> Response<ProxyBody> {
    let mut response = Response::new(full(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert("x-clawc-egress", HeaderValue::from_static("proxy"));
    response
}

/// A recorded (or fallback) response as replay serves it, shaped as an upstream's (no proxy
/// marker). Statuses and content types were validated when the proxy started.
pub(crate) fn canned(
    status: u16,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Response<ProxyBody> {
    let mut response = Response::new(full(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    if let Some(content_type) = content_type.and_then(|ct| HeaderValue::from_str(ct).ok()) {
        response.headers_mut().insert(CONTENT_TYPE, content_type);
    }
    response
}
