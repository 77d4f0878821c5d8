//! Response redaction: a real secret value an upstream echoes back (an error page repeating the
//! URL, a `Location` carrying a token) is masked (same length, `*`) before the bytes reach the
//! sandbox, so the sandbox never holds a real value it could carry elsewhere. The proxy puts
//! the credential on again by itself where it belongs, so nothing usable is lost.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::header::{HeaderMap, HeaderValue};

use super::body::{BoxError, ProxyBody};
use super::secrets::Secrets;

/// Rewrites every header value that carries a real value.
pub(crate) fn headers(secrets: &Secrets, headers: &mut HeaderMap) {
    for value in headers.values_mut() {
        if let Some(clean) = secrets.mask_values(value.as_bytes()) {
            // `*` is visible ASCII, so the rewritten value stays a valid header.
            if let Ok(clean) = HeaderValue::from_bytes(&clean) {
                *value = clean;
            }
        }
    }
}

/// The body with every real value replaced as it streams. A value split across chunks is still
/// caught: a chunk's tail that could begin a value waits for the next chunk, and nothing else
/// does. The length never changes, so `Content-Length` stays.
pub(crate) fn body(secrets: Arc<Secrets>, body: ProxyBody) -> ProxyBody {
    if !secrets.has_values() {
        return body;
    }
    let state = (body, Vec::<u8>::new(), false);
    let frames = stream::unfold(state, move |(mut body, mut carry, finished)| {
        let secrets = Arc::clone(&secrets);
        async move {
            if finished {
                return None;
            }
            loop {
                match body.frame().await {
                    Some(Ok(frame)) => match frame.into_data() {
                        Ok(data) => {
                            carry.extend_from_slice(&data);
                            let (out, rest) = secrets.mask_streaming(&carry);
                            carry = rest;
                            if !out.is_empty() {
                                let frame: Result<Frame<Bytes>, BoxError> =
                                    Ok(Frame::data(Bytes::from(out)));
                                return Some((frame, (body, carry, false)));
                            }
                        }
                        Err(other) => return Some((Ok(other), (body, carry, false))),
                    },
                    Some(Err(err)) => return Some((Err(err), (body, Vec::new(), true))),
                    None => {
                        let tail = secrets
                            .mask_values(&carry)
                            .unwrap_or_else(|| std::mem::take(&mut carry));
                        return Some((
                            Ok(Frame::data(Bytes::from(tail))),
                            (body, Vec::new(), true),
                        ));
                    }
                }
            }
        }
    });
    StreamBody::new(frames).boxed()
}
