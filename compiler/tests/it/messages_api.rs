//! A scripted Anthropic Messages API on 127.0.0.1 for tests and benchmarks: the real wire
//! format (SSE or plain JSON, `tool_use` blocks with ids, Anthropic's error bodies, faults),
//! replies chosen by what the request says rather than by how many calls came before (Claude
//! Code interleaves auxiliary calls, such as title generation, with its real ones).
//!
//! Self-contained (tokio, hyper, serde_json, bytes, futures-util) so that a benchmark can take
//! it with `#[path]`. The server runs on its own thread and runtime, so sync and async tests
//! start it the same way; dropping the handle stops it.
//!
//! ```ignore
//! let api = MessagesApi::spawn(
//!     Script::new()
//!         .expect_key("sk-test")
//!         .rule(Match::tool_result_for("run_examples"), Reply::text("done"))
//!         .rule(Match::tool_result_for("write_file"), Reply::tool_use("run_examples", json!({})))
//!         .rule(Match::last_user_contains("Write the tools"), Reply::tool_use("write_file",
//!             json!({"path": "generated/tools.py", "content": "..."})))
//!         .rule(Match::last_user_contains("ping"), Reply::overloaded().retry_after(0).times(1)),
//! )?;
//! // ... point ANTHROPIC_BASE_URL at api.base_url() ...
//! assert!(!api.saw_wrong_key());
//! ```

#![allow(dead_code, reason = "each test and the benchmark use what they need")]
#![allow(clippy::disallowed_methods, reason = "a test server does IO")]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};

/// What a rule looks at: the request's JSON body.
#[derive(Clone)]
pub struct Match(Arc<dyn Fn(&Value) -> bool + Send + Sync>);

impl Match {
    pub fn custom(test: impl Fn(&Value) -> bool + Send + Sync + 'static) -> Match {
        Match(Arc::new(test))
    }

    /// Every request.
    pub fn any() -> Match {
        Match::custom(|_| true)
    }

    /// The last `user` message (its text, and the text of any tool result in it) contains
    /// `needle`.
    pub fn last_user_contains(needle: &str) -> Match {
        let needle = needle.to_owned();
        Match::custom(move |request| {
            last_user_message(request).is_some_and(|message| {
                let mut texts = Vec::new();
                collect_texts(&message["content"], &mut texts);
                texts.iter().any(|text| text.contains(&needle))
            })
        })
    }

    /// Some text anywhere in the request (system, any message, tool results) contains `needle`.
    pub fn any_text_contains(needle: &str) -> Match {
        let needle = needle.to_owned();
        Match::custom(move |request| {
            let mut texts = Vec::new();
            collect_texts(&request["system"], &mut texts);
            for message in messages(request) {
                collect_texts(&message["content"], &mut texts);
            }
            texts.iter().any(|text| text.contains(&needle))
        })
    }

    /// The system prompt (a string or text blocks) contains `needle`.
    pub fn system_contains(needle: &str) -> Match {
        let needle = needle.to_owned();
        Match::custom(move |request| {
            let mut texts = Vec::new();
            collect_texts(&request["system"], &mut texts);
            texts.iter().any(|text| text.contains(&needle))
        })
    }

    /// Some message holds a `tool_result` answering a `tool_use` of tool `name`.
    pub fn tool_result_for(name: &str) -> Match {
        let name = name.to_owned();
        Match::custom(move |request| {
            messages(request)
                .iter()
                .any(|message| !tool_results_for(request, message, &name).is_empty())
        })
    }

    /// The last user message holds a `tool_result` for tool `name` whose text contains `needle`.
    pub fn last_tool_result_contains(name: &str, needle: &str) -> Match {
        let (name, needle) = (name.to_owned(), needle.to_owned());
        Match::custom(move |request| {
            last_user_message(request).is_some_and(|message| {
                tool_results_for(request, message, &name)
                    .iter()
                    .any(|result| {
                        let mut texts = Vec::new();
                        collect_texts(&result["content"], &mut texts);
                        texts.iter().any(|text| text.contains(&needle))
                    })
            })
        })
    }

    /// The request offers a tool called `name`.
    pub fn offers_tool(name: &str) -> Match {
        let name = name.to_owned();
        Match::custom(move |request| {
            request["tools"]
                .as_array()
                .is_some_and(|tools| tools.iter().any(|tool| tool["name"] == name.as_str()))
        })
    }

    pub fn and(self, other: Match) -> Match {
        Match::custom(move |request| (self.0)(request) && (other.0)(request))
    }

    pub fn not(self) -> Match {
        Match::custom(move |request| !(self.0)(request))
    }
}

fn messages(request: &Value) -> &[Value] {
    request["messages"].as_array().map_or(&[], Vec::as_slice)
}

fn last_user_message(request: &Value) -> Option<&Value> {
    messages(request)
        .iter()
        .rev()
        .find(|message| message["role"] == "user")
}

/// Strings of a content value: a plain string, text blocks, and tool results' content.
fn collect_texts<'a>(content: &'a Value, into: &mut Vec<&'a str>) {
    match content {
        Value::String(text) => into.push(text),
        Value::Array(blocks) => {
            for block in blocks {
                if let Some(text) = block["text"].as_str() {
                    into.push(text);
                }
                collect_texts(&block["content"], into);
            }
        }
        _ => {}
    }
}

/// The `tool_result` blocks of `message` that answer a `tool_use` of `name` in the request.
fn tool_results_for<'a>(request: &Value, message: &'a Value, name: &str) -> Vec<&'a Value> {
    let ids: Vec<&str> = messages(request)
        .iter()
        .filter(|m| m["role"] == "assistant")
        .filter_map(|m| m["content"].as_array())
        .flatten()
        .filter(|block| block["type"] == "tool_use" && block["name"] == name)
        .filter_map(|block| block["id"].as_str())
        .collect();
    message["content"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter(|block| {
            block["type"] == "tool_result"
                && block["tool_use_id"]
                    .as_str()
                    .is_some_and(|id| ids.contains(&id))
        })
        .collect()
}

/// One content block of a scripted assistant message.
#[derive(Debug, Clone)]
pub enum Block {
    Text(String),
    ToolUse { name: String, input: Value },
}

#[derive(Debug, Clone)]
enum Body {
    Message {
        blocks: Vec<Block>,
        stop_reason: String,
    },
    Error {
        status: u16,
        kind: String,
        message: String,
    },
    /// Starts the reply, then closes the connection mid-body.
    Truncated(Vec<Block>),
    /// Never answers.
    Hang,
}

/// What the server answers.
#[derive(Debug, Clone)]
pub struct Reply {
    body: Body,
    input_tokens: u64,
    output_tokens: u64,
    retry_after: Option<String>,
    delay: Option<Duration>,
    times: Option<usize>,
}

impl Reply {
    fn of(body: Body) -> Reply {
        Reply {
            body,
            input_tokens: 100,
            output_tokens: 50,
            retry_after: None,
            delay: None,
            times: None,
        }
    }

    /// An assistant message: text, `end_turn`.
    pub fn text(text: &str) -> Reply {
        Reply::message(vec![Block::Text(text.to_owned())], "end_turn")
    }

    /// An assistant message calling one tool, `tool_use`.
    pub fn tool_use(name: &str, input: Value) -> Reply {
        Reply::message(
            vec![Block::ToolUse {
                name: name.to_owned(),
                input,
            }],
            "tool_use",
        )
    }

    pub fn message(blocks: Vec<Block>, stop_reason: &str) -> Reply {
        Reply::of(Body::Message {
            blocks,
            stop_reason: stop_reason.to_owned(),
        })
    }

    /// An error in Anthropic's shape: `{"type":"error","error":{"type":kind,"message":..}}`.
    pub fn error(status: u16, kind: &str, message: &str) -> Reply {
        Reply::of(Body::Error {
            status,
            kind: kind.to_owned(),
            message: message.to_owned(),
        })
    }

    pub fn rate_limited() -> Reply {
        Reply::error(
            429,
            "rate_limit_error",
            "Number of request tokens has exceeded your per-minute rate limit",
        )
    }

    pub fn overloaded() -> Reply {
        Reply::error(529, "overloaded_error", "Overloaded")
    }

    pub fn api_error() -> Reply {
        Reply::error(500, "api_error", "Internal server error")
    }

    /// The beginning of this text reply (headers, the first events or bytes), then the
    /// connection closes.
    pub fn truncated(text: &str) -> Reply {
        Reply::of(Body::Truncated(vec![Block::Text(text.to_owned())]))
    }

    /// Accepts the request and never answers.
    pub fn hang() -> Reply {
        Reply::of(Body::Hang)
    }

    pub fn usage(mut self, input_tokens: u64, output_tokens: u64) -> Reply {
        self.input_tokens = input_tokens;
        self.output_tokens = output_tokens;
        self
    }

    /// A `retry-after` header (seconds, as Anthropic sends it).
    pub fn retry_after(mut self, seconds: u64) -> Reply {
        self.retry_after = Some(seconds.to_string());
        self
    }

    /// Waits this long before answering (on top of the script's latency).
    pub fn delay(mut self, delay: Duration) -> Reply {
        self.delay = Some(delay);
        self
    }

    /// The rule answers at most `count` requests; later matches fall through to the next
    /// rule. For "overloaded once, then fine" on the same request content.
    pub fn times(mut self, count: usize) -> Reply {
        self.times = Some(count);
        self
    }
}

struct Rule {
    matcher: Match,
    reply: Reply,
    used: AtomicUsize,
}

/// The rules (first match wins), the default reply and the server's manners.
pub struct Script {
    rules: Vec<Rule>,
    default: Reply,
    latency: Duration,
    expected_key: Option<String>,
}

impl Default for Script {
    fn default() -> Script {
        Script::new()
    }
}

impl Script {
    /// No rules; every request gets a short `end_turn` text (what auxiliary calls want).
    pub fn new() -> Script {
        Script {
            rules: Vec::new(),
            default: Reply::text("OK"),
            latency: Duration::ZERO,
            expected_key: None,
        }
    }

    pub fn rule(mut self, matcher: Match, reply: Reply) -> Script {
        self.rules.push(Rule {
            matcher,
            reply,
            used: AtomicUsize::new(0),
        });
        self
    }

    pub fn default_reply(mut self, reply: Reply) -> Script {
        self.default = reply;
        self
    }

    /// Added before every response to `/v1/messages`.
    pub fn latency(mut self, latency: Duration) -> Script {
        self.latency = latency;
        self
    }

    /// The credential every `/v1/messages` request must carry, as `x-api-key: KEY` or
    /// `Authorization: Bearer KEY`; a request without it is answered 401 and remembered.
    pub fn expect_key(mut self, key: &str) -> Script {
        self.expected_key = Some(key.to_owned());
        self
    }

    /// The reply for `request`, and which rule gave it (`None`: the default).
    fn pick(&self, request: &Value) -> (Option<usize>, &Reply) {
        for (index, rule) in self.rules.iter().enumerate() {
            if !(rule.matcher.0)(request) {
                continue;
            }
            let limit = rule.reply.times.unwrap_or(usize::MAX);
            let taken = rule
                .used
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                    (used < limit).then_some(used + 1)
                })
                .is_ok();
            if taken {
                return (Some(index), &rule.reply);
            }
        }
        (None, &self.default)
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// With the query (`/v1/messages?beta=true`).
    pub path: String,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    /// The JSON body, `Value::Null` when there was none or it was not JSON.
    pub body: Value,
    /// The index of the rule that answered a `/v1/messages` request; `None`: the default, or
    /// not a messages request.
    pub rule: Option<usize>,
    /// Whether it carried the expected key (`true` when no key is expected).
    pub key_ok: bool,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn is_messages(&self) -> bool {
        self.method == "POST" && self.path.split('?').next() == Some("/v1/messages")
    }
}

struct State {
    script: Script,
    recorded: Mutex<Vec<Recorded>>,
    next_id: AtomicU64,
}

/// The running server. Dropping it stops it (hung connections are closed then).
pub struct MessagesApi {
    address: SocketAddr,
    state: Arc<State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for MessagesApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessagesApi")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl MessagesApi {
    /// Listens on 127.0.0.1 (a free port) on a thread of its own.
    pub fn spawn(script: Script) -> std::io::Result<MessagesApi> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let state = Arc::new(State {
            script,
            recorded: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let served = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name("messages-api".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    tokio::select! {
                        () = accept_loop(listener, served) => {}
                        _ = stopped => {}
                    }
                });
                // Dropping the runtime here cancels every connection, hung ones included.
            })?;
        Ok(MessagesApi {
            address,
            state,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`, for `ANTHROPIC_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state
            .recorded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The `/v1/messages` requests so far.
    pub fn message_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(Recorded::is_messages)
            .collect()
    }

    /// Whether any `/v1/messages` request came without the expected key.
    pub fn saw_wrong_key(&self) -> bool {
        self.requests()
            .iter()
            .any(|request| request.is_messages() && !request.key_ok)
    }

    /// Whether at least one `/v1/messages` request came, and all of them with the expected key.
    pub fn saw_only_right_key(&self) -> bool {
        let messages = self.message_requests();
        !messages.is_empty() && messages.iter().all(|request| request.key_ok)
    }
}

impl Drop for MessagesApi {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept_loop(listener: tokio::net::TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let state = Arc::clone(&state);
                async move { Ok::<_, Infallible>(answer(&state, request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

type ReplyBody = BoxBody<Bytes, std::io::Error>;

fn full(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<ReplyBody> {
    let mut response = Response::new(
        Full::new(body.into())
            .map_err(|never: Infallible| match never {})
            .boxed(),
    );
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(value) = content_type.parse() {
        response.headers_mut().insert("content-type", value);
    }
    response
}

fn error_body(kind: &str, message: &str) -> String {
    json!({"type": "error", "error": {"type": kind, "message": message}}).to_string()
}

async fn answer(state: &State, request: Request<Incoming>) -> Response<ReplyBody> {
    let method = request.method().clone();
    let path = request
        .uri()
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let bytes = match request.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let route = path.split('?').next().unwrap_or_default().to_owned();
    let key_ok = key_matches(state.script.expected_key.as_deref(), &headers);
    let mut recorded = Recorded {
        method: method.to_string(),
        path,
        headers,
        body: body.clone(),
        rule: None,
        key_ok,
    };

    let response = match (method, route.as_str()) {
        // Claude Code probes its base URL before the first call.
        (Method::HEAD | Method::GET, "/") => full(200, "text/plain", "ok"),
        (Method::POST, "/v1/messages/count_tokens") => full(
            200,
            "application/json",
            json!({"input_tokens": 100}).to_string(),
        ),
        (Method::POST, "/v1/messages") if !key_ok => full(
            401,
            "application/json",
            error_body("authentication_error", "invalid x-api-key"),
        ),
        (Method::POST, "/v1/messages") => {
            let (rule, reply) = state.script.pick(&body);
            recorded.rule = rule;
            push(state, recorded);
            let latency = state.script.latency + reply.delay.unwrap_or_default();
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            return respond(state, &body, reply).await;
        }
        _ => full(
            404,
            "application/json",
            error_body("not_found_error", "no such route"),
        ),
    };
    push(state, recorded);
    response
}

fn push(state: &State, recorded: Recorded) {
    state
        .recorded
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(recorded);
}

fn key_matches(expected: Option<&str>, headers: &[(String, String)]) -> bool {
    let Some(expected) = expected else {
        return true;
    };
    let bearer = format!("Bearer {expected}");
    headers.iter().any(|(name, value)| {
        (name == "x-api-key" && value == expected) || (name == "authorization" && *value == bearer)
    })
}

async fn respond(state: &State, request: &Value, reply: &Reply) -> Response<ReplyBody> {
    let stream = request["stream"] == true;
    let model = request["model"].as_str().unwrap_or("claude-scripted");
    match &reply.body {
        Body::Hang => std::future::pending().await,
        Body::Error {
            status,
            kind,
            message,
        } => {
            let mut response = full(*status, "application/json", error_body(kind, message));
            if let Some(value) = reply.retry_after.as_deref().and_then(|v| v.parse().ok()) {
                response.headers_mut().insert("retry-after", value);
            }
            response
        }
        Body::Message {
            blocks,
            stop_reason,
        } => {
            let message = Message::new(state, model, blocks, stop_reason, reply);
            if stream {
                sse(message.events(), false)
            } else {
                full(200, "application/json", message.json().to_string())
            }
        }
        Body::Truncated(blocks) => {
            let message = Message::new(state, model, blocks, "end_turn", reply);
            if stream {
                sse(message.events(), true)
            } else {
                // The length of the whole message is promised, half of it is sent.
                let whole = message.json().to_string().into_bytes();
                let half = Bytes::from(whole[..whole.len() / 2].to_vec());
                let frames: Vec<Result<Frame<Bytes>, std::io::Error>> = vec![
                    Ok(Frame::data(half)),
                    Err(std::io::Error::other("scripted truncation")),
                ];
                let mut response = Response::new(paced(frames));
                let headers = response.headers_mut();
                headers.insert(
                    "content-type",
                    hyper::header::HeaderValue::from_static("application/json"),
                );
                headers.insert("content-length", whole.len().into());
                response
            }
        }
    }
}

/// A body of these frames. Before a fault the server pauses, so that what came before it
/// (the head, the first events) has reached the client as it would from a real upstream.
fn paced(frames: Vec<Result<Frame<Bytes>, std::io::Error>>) -> ReplyBody {
    let stream = futures_util::stream::unfold(frames.into_iter(), |mut frames| async move {
        let frame = frames.next()?;
        if frame.is_err() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Some((frame, frames))
    });
    StreamBody::new(stream).boxed()
}

/// A scripted assistant message with its ids assigned.
struct Message {
    id: String,
    model: String,
    blocks: Vec<Value>,
    stop_reason: String,
    input_tokens: u64,
    output_tokens: u64,
}

impl Message {
    fn new(
        state: &State,
        model: &str,
        blocks: &[Block],
        stop_reason: &str,
        reply: &Reply,
    ) -> Message {
        let id = || state.next_id.fetch_add(1, Ordering::SeqCst);
        let id_of_message = format!("msg_scripted_{:04}", id());
        let blocks = blocks
            .iter()
            .map(|block| match block {
                Block::Text(text) => json!({"type": "text", "text": text}),
                Block::ToolUse { name, input } => json!({
                    "type": "tool_use",
                    "id": format!("toolu_scripted_{:04}", id()),
                    "name": name,
                    "input": input,
                }),
            })
            .collect();
        Message {
            id: id_of_message,
            model: model.to_owned(),
            blocks,
            stop_reason: stop_reason.to_owned(),
            input_tokens: reply.input_tokens,
            output_tokens: reply.output_tokens,
        }
    }

    fn json(&self) -> Value {
        json!({
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": self.blocks,
            "stop_reason": self.stop_reason,
            "stop_sequence": null,
            "usage": {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens},
        })
    }

    /// The SSE events of this message, as the API streams them.
    fn events(&self) -> Vec<(&'static str, Value)> {
        let mut events = vec![
            (
                "message_start",
                json!({"type": "message_start", "message": {
                    "id": self.id, "type": "message", "role": "assistant", "model": self.model,
                    "content": [], "stop_reason": null, "stop_sequence": null,
                    "usage": {"input_tokens": self.input_tokens, "output_tokens": 1},
                }}),
            ),
            ("ping", json!({"type": "ping"})),
        ];
        for (index, block) in self.blocks.iter().enumerate() {
            let (start, deltas) = if block["type"] == "tool_use" {
                let input = block["input"].to_string();
                let start = json!({"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}});
                let deltas = pieces(&input)
                    .into_iter()
                    .map(|piece| json!({"type": "input_json_delta", "partial_json": piece}))
                    .collect::<Vec<_>>();
                (start, deltas)
            } else {
                let text = block["text"].as_str().unwrap_or_default();
                let deltas = pieces(text)
                    .into_iter()
                    .map(|piece| json!({"type": "text_delta", "text": piece}))
                    .collect();
                (json!({"type": "text", "text": ""}), deltas)
            };
            events.push((
                "content_block_start",
                json!({"type": "content_block_start", "index": index, "content_block": start}),
            ));
            for delta in deltas {
                events.push((
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": index, "delta": delta}),
                ));
            }
            events.push((
                "content_block_stop",
                json!({"type": "content_block_stop", "index": index}),
            ));
        }
        events.push((
            "message_delta",
            json!({"type": "message_delta",
                "delta": {"stop_reason": self.stop_reason, "stop_sequence": null},
                "usage": {"output_tokens": self.output_tokens}}),
        ));
        events.push(("message_stop", json!({"type": "message_stop"})));
        events
    }
}

/// `text` in up to three pieces split on character boundaries, as deltas arrive.
fn pieces(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return Vec::new();
    }
    let size = chars.len().div_ceil(3);
    chars
        .chunks(size)
        .map(|chunk| chunk.iter().collect())
        .collect()
}

/// A `text/event-stream` response. Each event goes out as two body frames split at an
/// arbitrary byte (inside a UTF-8 sequence too), so clients must reassemble; a truncated one
/// ends with a broken connection after the first content delta.
fn sse(events: Vec<(&'static str, Value)>, truncate: bool) -> Response<ReplyBody> {
    let mut frames: Vec<Result<Frame<Bytes>, std::io::Error>> = Vec::new();
    for (name, data) in events {
        let is_delta = name == "content_block_delta";
        let wire = format!("event: {name}\ndata: {data}\n\n").into_bytes();
        let (first, second) = wire.split_at(wire.len() / 2);
        frames.push(Ok(Frame::data(Bytes::from(first.to_vec()))));
        frames.push(Ok(Frame::data(Bytes::from(second.to_vec()))));
        if truncate && is_delta {
            frames.push(Err(std::io::Error::other("scripted truncation")));
            break;
        }
    }
    let mut response = Response::new(paced(frames));
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        hyper::header::HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    headers.insert(
        "cache-control",
        hyper::header::HeaderValue::from_static("no-cache"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    fn post(api: &MessagesApi, body: Value, key: &str) -> (u16, Vec<(String, String)>, String) {
        runtime().block_on(async {
            let response = reqwest::Client::new()
                .post(format!("{}/v1/messages?beta=true", api.base_url()))
                .header("x-api-key", key)
                .header("anthropic-version", "2023-06-01")
                .json(&body)
                .send()
                .await
                .expect("send");
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
                .collect();
            let text = response
                .text()
                .await
                .unwrap_or_else(|e| format!("BROKEN: {e}"));
            (status, headers, text)
        })
    }

    fn request(text: &str, stream: bool) -> Value {
        json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "stream": stream,
               "messages": [{"role": "user", "content": text}]})
    }

    #[test]
    fn replies_follow_request_content_and_stream_as_sse() {
        let api = MessagesApi::spawn(Script::new().expect_key("sk-right").rule(
            Match::last_user_contains("write"),
            Reply::tool_use("write_file", json!({"path": "généré"})).usage(7, 3),
        ))
        .expect("spawn");
        let (status, headers, body) = post(&api, request("please write", true), "sk-right");
        assert_eq!(status, 200);
        assert!(headers
            .iter()
            .any(|(k, v)| k == "content-type" && v.starts_with("text/event-stream")));
        let names: Vec<&str> = body
            .lines()
            .filter_map(|line| line.strip_prefix("event: "))
            .collect();
        assert_eq!(names.first(), Some(&"message_start"));
        assert_eq!(names.last(), Some(&"message_stop"));
        assert!(names.contains(&"content_block_delta"));
        let json: String = body
            .lines()
            .filter_map(|line| line.strip_prefix("data: "))
            .filter_map(|data| serde_json::from_str::<Value>(data).ok())
            .filter_map(|event| event["delta"]["partial_json"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(
            serde_json::from_str::<Value>(&json).expect("input json"),
            json!({"path": "généré"})
        );
        assert!(body.contains(r#""stop_reason":"tool_use""#));
        assert!(body.contains(r#""output_tokens":3"#));

        // Anything else, such as Claude Code's title call, gets the harmless default, as JSON.
        let (status, _, body) = post(&api, request("a title please", false), "sk-right");
        assert_eq!(status, 200);
        let message: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(message["content"][0]["text"], "OK");
        assert_eq!(message["stop_reason"], "end_turn");

        let recorded = api.message_requests();
        assert_eq!(recorded.len(), 2);
        assert_eq!(recorded[0].rule, Some(0));
        assert_eq!(recorded[1].rule, None);
        assert_eq!(recorded[0].header("anthropic-version"), Some("2023-06-01"));
        assert!(api.saw_only_right_key());
        assert!(!api.saw_wrong_key());

        let (status, _, body) = post(&api, request("write", true), "sk-wrong");
        assert_eq!(status, 401);
        assert!(body.contains("authentication_error"));
        assert!(api.saw_wrong_key());
    }

    #[test]
    fn errors_have_anthropics_shape_and_limited_rules_fall_through() {
        let api = MessagesApi::spawn(
            Script::new().rule(Match::any(), Reply::overloaded().retry_after(2).times(1)),
        )
        .expect("spawn");
        let (status, headers, body) = post(&api, request("x", true), "k");
        assert_eq!(status, 529);
        assert!(headers.iter().any(|(k, v)| k == "retry-after" && v == "2"));
        let error: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(error["type"], "error");
        assert_eq!(error["error"]["type"], "overloaded_error");
        let (status, _, _) = post(&api, request("x", true), "k");
        assert_eq!(status, 200, "the rule was used up");
    }

    #[test]
    fn a_truncated_stream_breaks_and_a_hang_never_answers() {
        let api = MessagesApi::spawn(
            Script::new()
                .rule(
                    Match::last_user_contains("cut"),
                    Reply::truncated("some long text"),
                )
                .rule(Match::last_user_contains("hang"), Reply::hang()),
        )
        .expect("spawn");
        let (status, _, body) = post(&api, request("cut", true), "k");
        assert_eq!(status, 200);
        assert!(body.starts_with("BROKEN"), "{body}");
        let (_, _, body) = post(&api, request("cut", false), "k");
        assert!(body.starts_with("BROKEN"), "{body}");

        let outcome = runtime().block_on(async {
            let client = reqwest::Client::new();
            let probe = client.head(format!("{}/", api.base_url())).send().await;
            assert_eq!(probe.map(|r| r.status().as_u16()).ok(), Some(200));
            tokio::time::timeout(
                Duration::from_millis(300),
                client
                    .post(format!("{}/v1/messages", api.base_url()))
                    .json(&request("hang", true))
                    .send(),
            )
            .await
        });
        assert!(outcome.is_err(), "a hang must not answer");
    }
}
