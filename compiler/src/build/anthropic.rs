//! The `anthropic` generator: a Messages API tool-use loop. The model gets the attempt's prompt
//! and four tools — `list_files`, `read_file`, `write_file` (only the contract's output paths)
//! and `run_examples` — and works until it ends its turn.
//!
//! Every reply is streamed (SSE). A request that fails with 429, 500, 502, 503, 504 or 529, a
//! stream that breaks or ends before `message_stop`, an `error` event inside a stream, a refused
//! connection or a timeout is tried again with exponential backoff, waiting what `retry-after`
//! says when the API says it; after the last try the attempt fails with
//! [`GeneratorError::ModelApi`] naming the fault and the number of tries. Turns and dollars are
//! counted over the whole build (`Attempt::spent` plus this attempt) against the
//! `GenerateOptions` limits.
//!
//! The HTTP exchange sits behind [`Transport`]; the real one is reqwest against
//! `ModelApi::base_url`, so tests point it at a scripted server or a fake.
//!
//! `AttemptOutcome::events` holds one object per request/response exchange (the prompt itself
//! is the transcript's `attempt` record):
//! `{"type": "exchange", "turn": N (over the whole build), "model", "message_id",
//! "stop_reason", "content": [the assistant's blocks as the API sent them], "tool_results":
//! [{"tool_use_id", "is_error", "content"}], "usage": {"input_tokens", "output_tokens",
//! "cache_creation_input_tokens", "cache_read_input_tokens", "cost_usd"}}`, plus `"system"`
//! (the system prompt) on the first exchange and `"retried": ["529 overloaded_error: …", …]`
//! when faults were retried. No header and no credential is ever in them.

use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};
use serde_json::{json, Value};

use super::contract::{output_path_problem, MAX_FILES, MAX_FILE_BYTES, OUTPUT_DIR};
use super::generator::{Attempt, AttemptOutcome, Generator, GeneratorError, Usage};
use super::model_api::{Credential, ModelApi};

/// The Messages API version clawc speaks.
const ANTHROPIC_VERSION: &str = "2023-06-01";

/// The most one reply (a stream, or an error body) may hold; a real reply is bounded by
/// `max_tokens`, far below this.
const MAX_REPLY_BYTES: usize = 32 << 20;

/// How much of an error body is read to name the error.
const MAX_ERROR_BODY_BYTES: usize = 64 << 10;

/// Most entries `list_files` reports, so a runaway workspace cannot flood the context.
const MAX_LISTED: usize = 500;

/// Where `write_file` prepares a file before renaming it into place: in the workspace (so the
/// rename stays on one file system) but outside the output folder (so intake never sees it).
const WRITE_TEMP: &str = ".clawc-write.tmp";

const SYSTEM_PROMPT: &str = "You are the code generator of clawc. Write the files the user's \
message asks for with the write_file tool (only the paths it names), check them with \
run_examples, fix what fails, and end your turn when every example passes.";

/// Retry, timeout and size knobs of the loop.
#[derive(Debug, Clone, PartialEq)]
pub struct LoopConfig {
    /// How long a request may wait for the response to begin, and a streaming response for
    /// its next piece (the API sends `ping` events while it works, so a silent connection is a
    /// hung one). Default 120 s; `CLAWC_MODEL_TIMEOUT_SECS` overrides it.
    pub request_timeout: Duration,
    /// Tries per request, the first included. Default 4; `CLAWC_MODEL_RETRIES` sets the
    /// retries after the first (so `CLAWC_MODEL_RETRIES=0` means one try).
    pub tries: u32,
    /// Wait before the second try, doubled before each next one. Default 1 s.
    pub first_backoff: Duration,
    /// Longest wait between tries, `retry-after` included. Default 60 s.
    pub max_backoff: Duration,
    /// `max_tokens` of every request. Default 16,384.
    pub max_tokens: u32,
    /// Turns per build when `--max-turns` is not given. Default 50.
    pub default_max_turns: u32,
}

impl Default for LoopConfig {
    fn default() -> LoopConfig {
        LoopConfig {
            request_timeout: Duration::from_secs(120),
            tries: 4,
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            max_tokens: 16_384,
            default_max_turns: 50,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoopConfigError {
    #[error("{name}=`{value}`: expected {expected}")]
    BadVar {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
}

impl LoopConfig {
    /// The defaults with `CLAWC_MODEL_TIMEOUT_SECS` (seconds, fractions allowed, above zero)
    /// and `CLAWC_MODEL_RETRIES` (a count) applied.
    pub fn from_env() -> Result<LoopConfig, LoopConfigError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Self::with_overrides(var("CLAWC_MODEL_TIMEOUT_SECS"), var("CLAWC_MODEL_RETRIES"))
    }

    fn with_overrides(
        timeout_secs: Option<String>,
        retries: Option<String>,
    ) -> Result<LoopConfig, LoopConfigError> {
        let mut config = LoopConfig::default();
        if let Some(value) = timeout_secs {
            config.request_timeout = value
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|secs| *secs > 0.0)
                .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
                .ok_or(LoopConfigError::BadVar {
                    name: "CLAWC_MODEL_TIMEOUT_SECS",
                    value,
                    expected: "a number of seconds above zero",
                })?;
        }
        if let Some(value) = retries {
            config.tries = value
                .trim()
                .parse::<u32>()
                .ok()
                .and_then(|retries| retries.checked_add(1))
                .ok_or(LoopConfigError::BadVar {
                    name: "CLAWC_MODEL_RETRIES",
                    value,
                    expected: "a count of retries (0 or more)",
                })?;
        }
        Ok(config)
    }
}

/// Dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input: f64,
    pub output: f64,
}

/// Anthropic's list prices (USD per million tokens), matched by the longest prefix of the
/// model id so dated ids (`claude-sonnet-4-5-20250929`) find theirs. Cache writes cost 1.25×
/// input and cache reads 0.1× input. Long-context surcharges are not modelled. A model not
/// listed is priced at the most expensive rate here, so a budget never under-counts.
pub const PRICES: &[(&str, Price)] = &[
    (
        "claude-opus-4-5",
        Price {
            input: 5.0,
            output: 25.0,
        },
    ),
    (
        "claude-opus-4",
        Price {
            input: 15.0,
            output: 75.0,
        },
    ),
    (
        "claude-sonnet-4",
        Price {
            input: 3.0,
            output: 15.0,
        },
    ),
    (
        "claude-haiku-4-5",
        Price {
            input: 1.0,
            output: 5.0,
        },
    ),
    (
        "claude-3-7-sonnet",
        Price {
            input: 3.0,
            output: 15.0,
        },
    ),
    (
        "claude-3-5-sonnet",
        Price {
            input: 3.0,
            output: 15.0,
        },
    ),
    (
        "claude-3-5-haiku",
        Price {
            input: 0.8,
            output: 4.0,
        },
    ),
    (
        "claude-3-opus",
        Price {
            input: 15.0,
            output: 75.0,
        },
    ),
    (
        "claude-3-haiku",
        Price {
            input: 0.25,
            output: 1.25,
        },
    ),
];

/// The price of `model`: its longest listed prefix, else the most expensive listed rate.
pub fn price_of(model: &str) -> Price {
    PRICES
        .iter()
        .filter(|(prefix, _)| model.starts_with(prefix))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, price)| *price)
        .unwrap_or_else(|| {
            PRICES.iter().fold(
                Price {
                    input: 0.0,
                    output: 0.0,
                },
                |most, (_, price)| Price {
                    input: most.input.max(price.input),
                    output: most.output.max(price.output),
                },
            )
        })
}

/// The tokens of one reply, as its `usage` reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Tokens {
    input: u64,
    output: u64,
    cache_creation: u64,
    cache_read: u64,
}

impl Tokens {
    fn cost_usd(&self, model: &str) -> f64 {
        let price = price_of(model);
        let million = 1_000_000.0;
        (self.input as f64 * price.input
            + self.cache_creation as f64 * price.input * 1.25
            + self.cache_read as f64 * price.input * 0.1
            + self.output as f64 * price.output)
            / million
    }

    fn usage(&self, model: &str) -> Usage {
        Usage {
            turns: 1,
            input_tokens: self.input + self.cache_creation + self.cache_read,
            output_tokens: self.output,
            cost_usd: self.cost_usd(model),
        }
    }

    /// Takes the counts `usage` carries (`message_start` has them all, `message_delta` the
    /// final ones).
    fn update(&mut self, usage: &Value) {
        let set = |field: &str, slot: &mut u64| {
            if let Some(count) = usage[field].as_u64() {
                *slot = count;
            }
        };
        set("input_tokens", &mut self.input);
        set("output_tokens", &mut self.output);
        set("cache_creation_input_tokens", &mut self.cache_creation);
        set("cache_read_input_tokens", &mut self.cache_read);
    }
}

/// Why the build may not make another request, if it may not.
fn budget_problem(
    limit_turns: u32,
    budget_usd: Option<f64>,
    used: &Usage,
    before_request: bool,
) -> Option<String> {
    if before_request && used.turns >= limit_turns {
        return Some(format!(
            "turn limit of {limit_turns} reached ({} turns this build)",
            used.turns
        ));
    }
    match budget_usd {
        Some(budget) if used.cost_usd > budget || (before_request && used.cost_usd >= budget) => {
            Some(format!(
                "${:.4} spent of a ${budget:.2} budget",
                used.cost_usd
            ))
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// The transport.

/// A body arriving in pieces.
pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, TransportError>> + Send>>;

/// A response as far as the loop needs it.
pub struct HttpReply {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: BodyStream,
}

impl std::fmt::Debug for HttpReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpReply")
            .field("status", &self.status)
            .field("retry_after", &self.retry_after)
            .finish_non_exhaustive()
    }
}

/// Why a request or its body failed on the wire (never carries the credential).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(pub String);

/// `POST /v1/messages` with a JSON body, authenticated.
#[async_trait]
pub trait Transport: Send + Sync {
    async fn post_messages(&self, body: Vec<u8>) -> Result<HttpReply, TransportError>;
}

/// The real transport: reqwest with rustls, no redirects (a redirect would carry `x-api-key`
/// to wherever it points), and proxies from the environment only for `https://` upstreams
/// (a plain-HTTP upstream is a loopback relay or test server; a proxy would see the key).
struct ReqwestTransport {
    client: reqwest::Client,
    url: String,
    credential: Credential,
}

impl ReqwestTransport {
    fn new(api: ModelApi) -> Result<ReqwestTransport, GeneratorError> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("clawc/", env!("CARGO_PKG_VERSION")));
        if !api.base_url.starts_with("https://") {
            builder = builder.no_proxy();
        }
        let client = builder
            .build()
            .map_err(|error| GeneratorError::ModelApi(format!("HTTP client: {}", chain(&error))))?;
        Ok(ReqwestTransport {
            client,
            url: format!("{}/v1/messages", api.base_url),
            credential: api.credential,
        })
    }
}

/// An error with its sources, `a: b: c`.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[async_trait]
impl Transport for ReqwestTransport {
    async fn post_messages(&self, body: Vec<u8>) -> Result<HttpReply, TransportError> {
        let (name, value) = self.credential.header();
        let mut value = reqwest::header::HeaderValue::from_str(&value)
            .map_err(|_| TransportError("the credential is not a valid header value".into()))?;
        value.set_sensitive(true);
        let response = self
            .client
            .post(&self.url)
            .header(name, value)
            .header("anthropic-version", ANTHROPIC_VERSION)
            .header("content-type", "application/json")
            .header("accept", "text/event-stream")
            .body(body)
            .send()
            .await
            .map_err(|error| TransportError(chain(&error)))?;
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        Ok(HttpReply {
            status: response.status().as_u16(),
            retry_after,
            body: Box::pin(
                response
                    .bytes_stream()
                    .map(|piece| piece.map_err(|error| TransportError(chain(&error)))),
            ),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Server-sent events.

/// One SSE event: its `event:` name (`message` when none was given) and its `data:` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SseEvent {
    name: String,
    data: String,
}

/// An incremental parser of `text/event-stream`: takes the body in whatever pieces the network
/// delivers (a line, an event or a UTF-8 sequence may be split anywhere) and yields complete
/// events. Lines end in `\n`, `\r\n` or `\r`; `:` lines are comments; `id` and `retry` are
/// ignored; an event without a closing blank line at the end of the body is dropped, as the
/// SSE standard says.
#[derive(Debug, Default)]
struct SseParser {
    /// The current line so far.
    pending: Vec<u8>,
    /// The last byte ended a line with `\r`.
    after_cr: bool,
    name: String,
    data: String,
    has_data: bool,
}

impl SseParser {
    fn feed(&mut self, piece: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        for &byte in piece {
            let after_cr = std::mem::take(&mut self.after_cr);
            match byte {
                // The second half of a `\r\n` (perhaps in the next piece): the line has ended.
                b'\n' if after_cr => {}
                b'\n' | b'\r' => {
                    self.after_cr = byte == b'\r';
                    let bytes = std::mem::take(&mut self.pending);
                    // Whole lines only, so a UTF-8 sequence split between pieces is whole here.
                    let line = String::from_utf8_lossy(&bytes);
                    if let Some(event) = self.line(&line) {
                        events.push(event);
                    }
                }
                _ => self.pending.push(byte),
            }
        }
        events
    }

    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            let name = std::mem::take(&mut self.name);
            let data = std::mem::take(&mut self.data);
            if !std::mem::take(&mut self.has_data) {
                return None;
            }
            let name = if name.is_empty() {
                "message".into()
            } else {
                name
            };
            return Some(SseEvent { name, data });
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => self.name = value.to_owned(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            _ => {}
        }
        None
    }
}

// ---------------------------------------------------------------------------------------------
// One reply.

/// What went wrong with one try, and whether another may help.
#[derive(Debug, Clone, PartialEq)]
struct Fault {
    /// `529 overloaded_error`, `timeout`, `truncated stream`, …
    kind: String,
    detail: String,
    retryable: bool,
    /// The `retry-after` header, when the API sent one.
    retry_after: Option<String>,
}

impl Fault {
    fn new(kind: impl Into<String>, detail: impl Into<String>, retryable: bool) -> Fault {
        Fault {
            kind: kind.into(),
            detail: detail.into(),
            retryable,
            retry_after: None,
        }
    }

    fn summary(&self) -> String {
        if self.detail.is_empty() {
            self.kind.clone()
        } else {
            format!("{}: {}", self.kind, self.detail)
        }
    }
}

/// Statuses worth another try: rate limits, overload and the server's own failures.
fn retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504 | 529)
}

/// The wait before try `next_try` (2, 3, …) after `fault`, or `None` when there is to be no
/// such try: the fault is final, or the tries are used up. `retry-after` (whole or fractional
/// seconds) wins over the exponential backoff; both are capped by `max_backoff`.
fn retry_delay(config: &LoopConfig, next_try: u32, fault: &Fault) -> Option<Duration> {
    if !fault.retryable || next_try > config.tries {
        return None;
    }
    let told = fault
        .retry_after
        .as_deref()
        .and_then(|value| value.trim().parse::<f64>().ok())
        .filter(|secs| *secs >= 0.0)
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok());
    let doubled = config
        .first_backoff
        .saturating_mul(2u32.saturating_pow(next_try.saturating_sub(2)));
    Some(told.unwrap_or(doubled).min(config.max_backoff))
}

/// A whole assistant message, assembled from its stream.
#[derive(Debug, Clone, Default, PartialEq)]
struct Reply {
    id: String,
    content: Vec<Value>,
    stop_reason: Option<String>,
    tokens: Tokens,
    /// `tool_use` ids whose streamed input was not valid JSON (sent back as `{}`, answered
    /// with an error).
    bad_inputs: Vec<(String, String)>,
}

/// Builds a [`Reply`] from the stream's events.
#[derive(Debug, Default)]
struct ReplyBuilder {
    reply: Reply,
    /// The `input_json_delta` text of each block so far.
    partial_json: Vec<String>,
    finished: bool,
}

impl ReplyBuilder {
    fn event(&mut self, event: &SseEvent) -> Result<(), Fault> {
        let malformed = |what: &str| Fault::new("malformed stream", what.to_owned(), true);
        // The API may add event types (and `ping` carries nothing): unknown ones are skipped.
        const HANDLED: [&str; 7] = [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
            "error",
        ];
        if !HANDLED.contains(&event.name.as_str()) {
            return Ok(());
        }
        let data: Value = serde_json::from_str(&event.data)
            .map_err(|_| malformed(&format!("`{}` event is not JSON", event.name)))?;
        match event.name.as_str() {
            "message_start" => {
                let message = &data["message"];
                self.reply.id = message["id"].as_str().unwrap_or_default().to_owned();
                self.reply.tokens.update(&message["usage"]);
            }
            "content_block_start" => {
                if data["index"].as_u64() != Some(self.reply.content.len() as u64) {
                    return Err(malformed("content block out of order"));
                }
                let block = data["content_block"].clone();
                if !block.is_object() {
                    return Err(malformed("content block is not an object"));
                }
                self.reply.content.push(block);
                self.partial_json.push(String::new());
            }
            "content_block_delta" => {
                let index = self.index(&data)?;
                let (block, json) = (
                    &mut self.reply.content[index],
                    &mut self.partial_json[index],
                );
                let delta = &data["delta"];
                let piece = |field: &str| delta[field].as_str().unwrap_or_default().to_owned();
                match delta["type"].as_str() {
                    Some("text_delta") => append(block, "text", &piece("text")),
                    Some("thinking_delta") => append(block, "thinking", &piece("thinking")),
                    Some("signature_delta") => block["signature"] = json!(piece("signature")),
                    Some("input_json_delta") => json.push_str(&piece("partial_json")),
                    _ => {}
                }
            }
            "content_block_stop" => {
                let index = self.index(&data)?;
                let block = &mut self.reply.content[index];
                if block["type"] == "tool_use" {
                    let text = std::mem::take(&mut self.partial_json[index]);
                    let input = if text.trim().is_empty() {
                        Ok(json!({}))
                    } else {
                        serde_json::from_str::<Value>(&text)
                    };
                    match input {
                        Ok(input) if input.is_object() => block["input"] = input,
                        _ => {
                            block["input"] = json!({});
                            let id = block["id"].as_str().unwrap_or_default().to_owned();
                            self.reply.bad_inputs.push((id, text));
                        }
                    }
                }
            }
            "message_delta" => {
                if let Some(reason) = data["delta"]["stop_reason"].as_str() {
                    self.reply.stop_reason = Some(reason.to_owned());
                }
                self.reply.tokens.update(&data["usage"]);
            }
            "message_stop" => self.finished = true,
            "error" => {
                let error = &data["error"];
                let kind = error["type"].as_str().unwrap_or("error");
                let retryable =
                    matches!(kind, "overloaded_error" | "api_error" | "rate_limit_error");
                return Err(Fault::new(
                    format!("stream {kind}"),
                    error["message"].as_str().unwrap_or_default(),
                    retryable,
                ));
            }
            _ => {}
        }
        Ok(())
    }

    fn index(&self, data: &Value) -> Result<usize, Fault> {
        data["index"]
            .as_u64()
            .and_then(|index| usize::try_from(index).ok())
            .filter(|index| *index < self.reply.content.len())
            .ok_or_else(|| Fault::new("malformed stream", "delta for no open content block", true))
    }
}

fn append(block: &mut Value, field: &str, piece: &str) {
    let mut text = block[field].as_str().unwrap_or_default().to_owned();
    text.push_str(piece);
    block[field] = json!(text);
}

// ---------------------------------------------------------------------------------------------
// The workspace tools.

/// The model's view of the workspace: relative paths only, never through a symbolic link,
/// writes only to the contract's output paths, sizes capped.
struct Workspace<'a> {
    root: &'a Path,
}

/// The components of a relative path, or why it is not one.
fn relative_components(path: &str) -> Result<Vec<&str>, &'static str> {
    if path.starts_with('/') {
        return Err("an absolute path (paths are relative to the workspace)");
    }
    if path.contains('\0') {
        return Err("a NUL byte in the path");
    }
    let mut components = Vec::new();
    for component in path.split('/') {
        match component {
            "" | "." => {}
            ".." => return Err("`..` in the path (paths stay inside the workspace)"),
            name => components.push(name),
        }
    }
    if components.is_empty() {
        return Err("names no file");
    }
    Ok(components)
}

impl Workspace<'_> {
    /// The host path of `components`, every directory on the way checked to be a real one.
    fn directory_walk(&self, directories: &[&str]) -> Result<PathBuf, String> {
        let mut path = self.root.to_path_buf();
        for name in directories {
            path.push(name);
            let metadata =
                std::fs::symlink_metadata(&path).map_err(|error| format!("`{name}`: {error}"))?;
            if metadata.file_type().is_symlink() {
                return Err(format!(
                    "`{name}` is a symbolic link (links are never followed)"
                ));
            }
            if !metadata.is_dir() {
                return Err(format!("`{name}` is not a directory"));
            }
        }
        Ok(path)
    }

    fn read(&self, path: &str) -> Result<String, String> {
        let components = relative_components(path).map_err(str::to_owned)?;
        let (file, directories) = components.split_last().ok_or("names no file")?;
        let full = self.directory_walk(directories)?.join(file);
        // O_NOFOLLOW refuses a link as the last component; O_NONBLOCK keeps a FIFO from
        // blocking the open, and the type check below then refuses it.
        let opened = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&full)
            .map_err(|error| match error.raw_os_error() {
                Some(libc::ELOOP) => "a symbolic link (links are never followed)".to_owned(),
                _ => error.to_string(),
            })?;
        let metadata = opened.metadata().map_err(|error| error.to_string())?;
        if !metadata.is_file() {
            return Err("not a regular file".into());
        }
        if metadata.len() > MAX_FILE_BYTES {
            return Err(format!("larger than {MAX_FILE_BYTES} bytes"));
        }
        let mut bytes = Vec::new();
        opened
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|error| error.to_string())?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(format!("larger than {MAX_FILE_BYTES} bytes"));
        }
        String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_owned())
    }

    /// Writes through a fresh temporary file renamed into place, so an existing entry (a hard
    /// link to a host file, a FIFO) is replaced rather than written through.
    fn write(&self, path: &str, content: &str) -> Result<String, String> {
        if let Some(problem) = output_path_problem(path) {
            return Err(format!("`{path}` may not be written: {problem}"));
        }
        if content.len() as u64 > MAX_FILE_BYTES {
            return Err(format!("content larger than {MAX_FILE_BYTES} bytes"));
        }
        let name = path.strip_prefix(&format!("{OUTPUT_DIR}/")).unwrap_or(path);
        let directory = self.root.join(OUTPUT_DIR);
        match std::fs::symlink_metadata(&directory) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                return Err(format!(
                    "`{OUTPUT_DIR}` is a symbolic link (links are never followed)"
                ))
            }
            Ok(metadata) if !metadata.is_dir() => {
                return Err(format!("`{OUTPUT_DIR}` is not a directory"))
            }
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                std::fs::create_dir(&directory).map_err(|error| error.to_string())?;
            }
            Err(error) => return Err(error.to_string()),
        }
        let target = directory.join(name);
        match std::fs::symlink_metadata(&target) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                return Err("a symbolic link is there (links are never followed)".into())
            }
            Ok(metadata) if !metadata.is_file() => {
                return Err("something other than a regular file is there".into())
            }
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                if self.output_files(&directory)? >= MAX_FILES {
                    return Err(format!("a candidate holds at most {MAX_FILES} files"));
                }
            }
            Err(error) => return Err(error.to_string()),
        }
        let temp = self.root.join(WRITE_TEMP);
        // A leftover from an interrupted write; removing a link removes only the link.
        let _ = std::fs::remove_file(&temp);
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&temp)
            .and_then(|mut file| file.write_all(content.as_bytes()))
            .and_then(|()| std::fs::rename(&temp, &target));
        if let Err(error) = written {
            let _ = std::fs::remove_file(&temp);
            return Err(error.to_string());
        }
        Ok(format!("wrote {path} ({} bytes)", content.len()))
    }

    fn output_files(&self, directory: &Path) -> Result<usize, String> {
        let entries = std::fs::read_dir(directory).map_err(|error| error.to_string())?;
        Ok(entries.filter_map(Result::ok).count())
    }

    /// Every entry under the workspace, sorted, links shown but never followed.
    fn list(&self) -> Result<String, String> {
        let mut lines = Vec::new();
        let mut pending = vec![(self.root.to_path_buf(), String::new())];
        while let Some((directory, prefix)) = pending.pop() {
            if lines.len() > MAX_LISTED {
                break;
            }
            let entries = std::fs::read_dir(&directory).map_err(|error| error.to_string())?;
            for entry in entries.filter_map(Result::ok) {
                let name = entry.file_name().to_string_lossy().into_owned();
                if prefix.is_empty() && name == WRITE_TEMP {
                    continue;
                }
                let shown = format!("{prefix}{name}");
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                if kind.is_symlink() {
                    lines.push(format!("{shown} (symbolic link, not followed)"));
                } else if kind.is_dir() {
                    lines.push(format!("{shown}/"));
                    pending.push((entry.path(), format!("{shown}/")));
                } else if kind.is_file() {
                    let size = entry.metadata().map(|m| m.len()).unwrap_or_default();
                    lines.push(format!("{shown} ({size} bytes)"));
                } else {
                    lines.push(format!("{shown} (not a regular file)"));
                }
                if lines.len() > MAX_LISTED {
                    break;
                }
            }
        }
        lines.sort();
        if lines.len() > MAX_LISTED {
            lines.truncate(MAX_LISTED);
            lines.push(format!("… (more than {MAX_LISTED} entries)"));
        }
        Ok(lines.join("\n"))
    }
}

fn tool_definitions() -> Value {
    let path = json!({"type": "string", "description": "relative to the workspace, `/`-separated"});
    json!([
        {
            "name": "list_files",
            "description": "Lists every file in the workspace with its size.",
            "input_schema": {"type": "object", "properties": {}},
        },
        {
            "name": "read_file",
            "description": "Returns a workspace file's text.",
            "input_schema": {"type": "object", "properties": {"path": path}, "required": ["path"]},
        },
        {
            "name": "write_file",
            "description": format!(
                "Creates or replaces a file of the candidate: only `{OUTPUT_DIR}/<module>.py` \
                 (a lower-case Python module name), at most {MAX_FILE_BYTES} bytes, at most \
                 {MAX_FILES} files."
            ),
            "input_schema": {
                "type": "object",
                "properties": {"path": path, "content": {"type": "string"}},
                "required": ["path", "content"],
            },
        },
        {
            "name": "run_examples",
            "description": "Runs the spec's examples against the workspace as it is now and \
                            reports each result (expected vs actual, unmatched requests, \
                            tracebacks).",
            "input_schema": {"type": "object", "properties": {}},
        },
    ])
}

// ---------------------------------------------------------------------------------------------
// The generator.

pub struct AnthropicGenerator {
    transport: Arc<dyn Transport>,
    config: LoopConfig,
}

impl std::fmt::Debug for AnthropicGenerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnthropicGenerator")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl AnthropicGenerator {
    /// Talks to `api.base_url` with `api.credential`.
    pub fn new(api: ModelApi, config: LoopConfig) -> Result<AnthropicGenerator, GeneratorError> {
        Ok(Self::with_transport(
            Arc::new(ReqwestTransport::new(api)?),
            config,
        ))
    }

    pub fn with_transport(transport: Arc<dyn Transport>, config: LoopConfig) -> AnthropicGenerator {
        AnthropicGenerator { transport, config }
    }

    /// One request, tried until it succeeds or the tries are used up. Returns the reply and
    /// the faults that were retried.
    async fn exchange(&self, body: &[u8]) -> Result<(Reply, Vec<String>), GeneratorError> {
        let mut retried = Vec::new();
        let mut try_number = 1;
        loop {
            let fault = match self.try_once(body).await {
                Ok(reply) => return Ok((reply, retried)),
                Err(fault) => fault,
            };
            match retry_delay(&self.config, try_number + 1, &fault) {
                Some(delay) => {
                    retried.push(fault.summary());
                    tokio::time::sleep(delay).await;
                    try_number += 1;
                }
                None => {
                    let tries = if try_number == 1 { "try" } else { "tries" };
                    let detail = if fault.detail.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", fault.detail)
                    };
                    return Err(GeneratorError::ModelApi(format!(
                        "{} after {try_number} {tries}{detail}",
                        fault.kind
                    )));
                }
            }
        }
    }

    async fn try_once(&self, body: &[u8]) -> Result<Reply, Fault> {
        let timeout = self.config.request_timeout;
        let timed_out = |what: &str| {
            Fault::new(
                "timeout",
                format!("{what} within {:.1} s", timeout.as_secs_f64()),
                true,
            )
        };
        let reply = tokio::time::timeout(timeout, self.transport.post_messages(body.to_vec()))
            .await
            .map_err(|_| timed_out("no response"))?
            .map_err(|error| Fault::new("connection failed", error.0, true))?;
        let HttpReply {
            status,
            retry_after,
            mut body,
        } = reply;
        if !(200..300).contains(&status) {
            let mut text = Vec::new();
            while text.len() < MAX_ERROR_BODY_BYTES {
                match tokio::time::timeout(timeout, body.next()).await {
                    Ok(Some(Ok(piece))) => text.extend_from_slice(&piece),
                    _ => break,
                }
            }
            let error: Value = serde_json::from_slice(&text).unwrap_or(Value::Null);
            let kind = error["error"]["type"].as_str().unwrap_or("error");
            let message = error["error"]["message"].as_str().unwrap_or_default();
            let mut fault = Fault::new(
                format!("{status} {kind}"),
                message,
                retryable_status(status),
            );
            fault.retry_after = retry_after;
            return Err(fault);
        }
        let mut parser = SseParser::default();
        let mut builder = ReplyBuilder::default();
        let mut received = 0usize;
        loop {
            let piece = match tokio::time::timeout(timeout, body.next()).await {
                Err(_) => return Err(timed_out("the stream stalled: nothing")),
                Ok(None) => break,
                Ok(Some(Err(error))) => {
                    return Err(Fault::new("truncated stream", error.0, true));
                }
                Ok(Some(Ok(piece))) => piece,
            };
            received += piece.len();
            if received > MAX_REPLY_BYTES {
                return Err(Fault::new(
                    "oversized reply",
                    format!("more than {MAX_REPLY_BYTES} bytes"),
                    false,
                ));
            }
            for event in parser.feed(&piece) {
                builder.event(&event)?;
            }
            if builder.finished {
                return Ok(builder.reply);
            }
        }
        Err(Fault::new(
            "truncated stream",
            "the stream ended before `message_stop`",
            true,
        ))
    }

    /// Runs one tool call; `(is_error, text)`.
    async fn run_tool(&self, attempt: &Attempt<'_>, name: &str, input: &Value) -> (bool, String) {
        let workspace = Workspace {
            root: attempt.workspace,
        };
        let text_field = |field: &str| input[field].as_str();
        let result = match name {
            "list_files" => workspace.list(),
            "read_file" => match text_field("path") {
                Some(path) => workspace
                    .read(path)
                    .map_err(|why| format!("`{path}`: {why}")),
                None => Err("read_file needs a string `path`".into()),
            },
            "write_file" => match (text_field("path"), text_field("content")) {
                (Some(path), Some(content)) => workspace.write(path, content),
                _ => Err("write_file needs a string `path` and a string `content`".into()),
            },
            "run_examples" => Ok(attempt.examples.run(attempt.workspace).await),
            other => Err(format!("no tool `{other}`")),
        };
        match result {
            Ok(text) => (false, text),
            Err(text) => (true, text),
        }
    }
}

#[async_trait]
impl Generator for AnthropicGenerator {
    fn name(&self) -> &'static str {
        "anthropic"
    }

    async fn version(&self) -> Result<String, GeneratorError> {
        Ok(env!("CARGO_PKG_VERSION").to_owned())
    }

    async fn attempt(&self, attempt: Attempt<'_>) -> Result<AttemptOutcome, GeneratorError> {
        let options = attempt.options;
        let model = options.model.as_str();
        let max_turns = options.max_turns.unwrap_or(self.config.default_max_turns);
        let tools = tool_definitions();
        let mut messages = vec![json!({"role": "user", "content": attempt.prompt})];
        let mut outcome = AttemptOutcome::default();
        loop {
            let build_total = attempt.spent.add(outcome.usage);
            if let Some(problem) = budget_problem(max_turns, options.budget_usd, &build_total, true)
            {
                return Err(GeneratorError::Budget(problem));
            }
            let turn = build_total.turns + 1;
            (attempt.progress)(&format!("turn {turn}: asking {model}"));
            let request = json!({
                "model": model,
                "max_tokens": self.config.max_tokens,
                "system": SYSTEM_PROMPT,
                "tools": tools,
                "messages": messages,
                "stream": true,
            });
            let (reply, retried) = self.exchange(request.to_string().as_bytes()).await?;
            let usage = reply.tokens.usage(model);
            outcome.usage = outcome.usage.add(usage);

            let calls: Vec<(String, String, Value)> = reply
                .content
                .iter()
                .filter(|block| block["type"] == "tool_use")
                .map(|block| {
                    let field = |name: &str| block[name].as_str().unwrap_or_default().to_owned();
                    (field("id"), field("name"), block["input"].clone())
                })
                .collect();
            let stop_reason = reply.stop_reason.clone().unwrap_or_default();
            let goes_on = stop_reason == "tool_use" && !calls.is_empty();
            let mut results = Vec::new();
            if goes_on {
                for (id, name, input) in &calls {
                    let bad_input = reply.bad_inputs.iter().find(|(bad, _)| bad == id);
                    let (is_error, text) = match bad_input {
                        Some(_) => (true, format!("the input of `{name}` was not a JSON object")),
                        None => {
                            (attempt.progress)(&format!("turn {turn}: {name}"));
                            self.run_tool(&attempt, name, input).await
                        }
                    };
                    results.push(json!({
                        "type": "tool_result",
                        "tool_use_id": id,
                        "is_error": is_error,
                        "content": text,
                    }));
                }
            }

            let mut event = json!({
                "type": "exchange",
                "turn": turn,
                "model": model,
                "message_id": reply.id,
                "stop_reason": stop_reason,
                "content": reply.content.clone(),
                "tool_results": results,
                "usage": {
                    "input_tokens": reply.tokens.input,
                    "output_tokens": reply.tokens.output,
                    "cache_creation_input_tokens": reply.tokens.cache_creation,
                    "cache_read_input_tokens": reply.tokens.cache_read,
                    "cost_usd": usage.cost_usd,
                },
            });
            if outcome.events.is_empty() {
                event["system"] = json!(SYSTEM_PROMPT);
            }
            if !retried.is_empty() {
                event["retried"] = json!(retried);
            }
            outcome.events.push(event);

            let build_total = attempt.spent.add(outcome.usage);
            if let Some(problem) =
                budget_problem(max_turns, options.budget_usd, &build_total, false)
            {
                return Err(GeneratorError::Budget(problem));
            }
            if stop_reason == "refusal" {
                return Err(GeneratorError::Failed("the model refused the task".into()));
            }
            if !goes_on {
                return Ok(outcome);
            }
            messages.push(json!({"role": "assistant", "content": reply.content}));
            messages.push(json!({"role": "user", "content": results}));
        }
    }
}

/// The tests' scripted Messages API server, reused here so the loop is also tested over reqwest
/// and a real socket.
#[cfg(test)]
#[path = "../../tests/it/messages_api.rs"]
mod messages_api;

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Mutex;

    use super::*;
    use crate::build::generator::{ExampleRunner, GenerateOptions};

    // --- SSE ---------------------------------------------------------------------------------

    fn parse_in_pieces(wire: &[u8], piece: usize) -> Vec<SseEvent> {
        let mut parser = SseParser::default();
        wire.chunks(piece)
            .flat_map(|chunk| parser.feed(chunk))
            .collect()
    }

    #[test]
    fn sse_events_survive_any_split_of_the_body() {
        let wire = "event: message_start\ndata: {\"a\":\"é€\"}\n\n: a comment\n\
                    event: ping\r\ndata: {}\r\n\r\ndata: line one\ndata:line two\n\n\
                    event: cut\ndata: never closed\n";
        let expected = vec![
            SseEvent {
                name: "message_start".into(),
                data: "{\"a\":\"é€\"}".into(),
            },
            SseEvent {
                name: "ping".into(),
                data: "{}".into(),
            },
            SseEvent {
                name: "message".into(),
                data: "line one\nline two".into(),
            },
        ];
        // Every piece size, down to single bytes (which split `é`, `€` and `\r\n`).
        for piece in 1..=wire.len() {
            assert_eq!(
                parse_in_pieces(wire.as_bytes(), piece),
                expected,
                "pieces of {piece}"
            );
        }
        let lone_cr = parse_in_pieces(b"event: x\rdata: 1\r\r", 1);
        assert_eq!(
            lone_cr,
            vec![SseEvent {
                name: "x".into(),
                data: "1".into()
            }]
        );
    }

    fn event(name: &str, data: Value) -> SseEvent {
        SseEvent {
            name: name.into(),
            data: data.to_string(),
        }
    }

    #[test]
    fn a_streamed_reply_assembles_text_tool_calls_and_usage() {
        let mut builder = ReplyBuilder::default();
        let events = [
            event(
                "message_start",
                json!({"message": {"id": "msg_1", "usage": {"input_tokens": 12, "output_tokens": 1}}}),
            ),
            event(
                "content_block_start",
                json!({"index": 0, "content_block": {"type": "text", "text": ""}}),
            ),
            event(
                "content_block_delta",
                json!({"index": 0, "delta": {"type": "text_delta", "text": "Hel"}}),
            ),
            event(
                "content_block_delta",
                json!({"index": 0, "delta": {"type": "text_delta", "text": "lo"}}),
            ),
            event("content_block_stop", json!({"index": 0})),
            event(
                "content_block_start",
                json!({"index": 1, "content_block": {"type": "tool_use", "id": "t1", "name": "read_file", "input": {}}}),
            ),
            event(
                "content_block_delta",
                json!({"index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"pa"}}),
            ),
            event(
                "content_block_delta",
                json!({"index": 1, "delta": {"type": "input_json_delta", "partial_json": "th\": \"x\"}"}}),
            ),
            event("content_block_stop", json!({"index": 1})),
            event(
                "content_block_start",
                json!({"index": 2, "content_block": {"type": "tool_use", "id": "t2", "name": "list_files", "input": {}}}),
            ),
            event("content_block_stop", json!({"index": 2})),
            event(
                "content_block_start",
                json!({"index": 3, "content_block": {"type": "tool_use", "id": "t3", "name": "write_file", "input": {}}}),
            ),
            event(
                "content_block_delta",
                json!({"index": 3, "delta": {"type": "input_json_delta", "partial_json": "{\"path\": "}}),
            ),
            event("content_block_stop", json!({"index": 3})),
            event("some_future_event", json!({"whatever": true})),
            event(
                "message_delta",
                json!({"delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 40}}),
            ),
            event("message_stop", json!({})),
        ];
        for event in &events {
            builder.event(event).expect("well-formed");
        }
        assert!(builder.finished);
        let reply = builder.reply;
        assert_eq!(reply.id, "msg_1");
        assert_eq!(reply.content[0], json!({"type": "text", "text": "Hello"}));
        assert_eq!(reply.content[1]["input"], json!({"path": "x"}));
        assert_eq!(reply.content[2]["input"], json!({}));
        assert_eq!(
            reply.content[3]["input"],
            json!({}),
            "a cut input goes back as {{}}"
        );
        assert_eq!(
            reply.bad_inputs,
            vec![("t3".to_owned(), "{\"path\": ".to_owned())]
        );
        assert_eq!(reply.stop_reason.as_deref(), Some("tool_use"));
        assert_eq!(
            reply.tokens,
            Tokens {
                input: 12,
                output: 40,
                ..Tokens::default()
            }
        );
    }

    #[test]
    fn malformed_and_error_events_are_faults() {
        let mut builder = ReplyBuilder::default();
        let out_of_order = event(
            "content_block_start",
            json!({"index": 5, "content_block": {"type": "text"}}),
        );
        assert_eq!(
            builder.event(&out_of_order).unwrap_err().kind,
            "malformed stream"
        );
        let orphan = event(
            "content_block_delta",
            json!({"index": 0, "delta": {"type": "text_delta", "text": "x"}}),
        );
        assert!(builder.event(&orphan).is_err());
        let not_json = SseEvent {
            name: "message_delta".into(),
            data: "{".into(),
        };
        assert!(builder.event(&not_json).is_err());
        let overloaded = event(
            "error",
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        );
        let fault = builder.event(&overloaded).unwrap_err();
        assert_eq!(
            (fault.kind.as_str(), fault.retryable),
            ("stream overloaded_error", true)
        );
        let invalid = event("error", json!({"error": {"type": "invalid_request_error"}}));
        assert!(!builder.event(&invalid).unwrap_err().retryable);
    }

    // --- retries, budgets, prices, configuration ----------------------------------------------

    fn fault(status: u16, retry_after: Option<&str>) -> Fault {
        let mut fault = Fault::new(format!("{status} x"), "", retryable_status(status));
        fault.retry_after = retry_after.map(str::to_owned);
        fault
    }

    #[test]
    fn retries_back_off_exponentially_and_honour_retry_after() {
        let config = LoopConfig::default();
        let secs = Duration::from_secs;
        assert_eq!(retry_delay(&config, 2, &fault(529, None)), Some(secs(1)));
        assert_eq!(retry_delay(&config, 3, &fault(500, None)), Some(secs(2)));
        assert_eq!(retry_delay(&config, 4, &fault(429, None)), Some(secs(4)));
        assert_eq!(
            retry_delay(&config, 5, &fault(429, None)),
            None,
            "4 tries by default"
        );
        assert_eq!(
            retry_delay(&config, 2, &fault(429, Some("7"))),
            Some(secs(7))
        );
        assert_eq!(
            retry_delay(&config, 2, &fault(529, Some("0.25"))),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            retry_delay(&config, 2, &fault(429, Some("0"))),
            Some(Duration::ZERO)
        );
        assert_eq!(
            retry_delay(&config, 2, &fault(429, Some("3600"))),
            Some(secs(60)),
            "capped"
        );
        assert_eq!(
            retry_delay(&config, 2, &fault(429, Some("soon"))),
            Some(secs(1))
        );
        for final_status in [400, 401, 403, 404, 413] {
            assert_eq!(
                retry_delay(&config, 2, &fault(final_status, Some("1"))),
                None
            );
        }
        let one_try = LoopConfig::with_overrides(None, Some("0".into())).unwrap();
        assert_eq!(retry_delay(&one_try, 2, &fault(529, None)), None);
    }

    #[test]
    fn the_environment_overrides_timeout_and_retries() {
        let config = LoopConfig::with_overrides(Some("0.5".into()), Some("2".into())).unwrap();
        assert_eq!(config.request_timeout, Duration::from_millis(500));
        assert_eq!(config.tries, 3);
        assert_eq!(
            LoopConfig::with_overrides(None, None).unwrap(),
            LoopConfig::default()
        );
        for (timeout, retries) in [("0", "1"), ("-1", "1"), ("x", "1"), ("1", "-1"), ("1", "a")] {
            assert!(
                LoopConfig::with_overrides(Some(timeout.into()), Some(retries.into())).is_err(),
                "{timeout} {retries}"
            );
        }
    }

    #[test]
    fn prices_match_the_longest_prefix_and_unknown_models_pay_the_most() {
        assert_eq!(price_of("claude-opus-4-5-20251101").input, 5.0);
        assert_eq!(price_of("claude-opus-4-1-20250805").input, 15.0);
        assert_eq!(price_of("claude-sonnet-4-5").output, 15.0);
        assert_eq!(price_of("claude-haiku-4-5").input, 1.0);
        assert_eq!(
            price_of("gpt-9"),
            Price {
                input: 15.0,
                output: 75.0
            }
        );
        let tokens = Tokens {
            input: 1_000_000,
            output: 100_000,
            cache_creation: 1_000_000,
            cache_read: 1_000_000,
        };
        // 3 + 1.5 + 3.75 + 0.3 dollars.
        assert!((tokens.cost_usd("claude-sonnet-4-5") - 8.55).abs() < 1e-9);
        let usage = tokens.usage("claude-sonnet-4-5");
        assert_eq!(
            (usage.turns, usage.input_tokens, usage.output_tokens),
            (1, 3_000_000, 100_000)
        );
    }

    #[test]
    fn budgets_count_the_whole_build() {
        let used = |turns, cost_usd| Usage {
            turns,
            cost_usd,
            ..Usage::default()
        };
        assert_eq!(budget_problem(3, None, &used(2, 9.0), true), None);
        assert!(budget_problem(3, None, &used(3, 0.0), true)
            .unwrap()
            .contains("turn limit of 3"));
        assert_eq!(
            budget_problem(3, None, &used(3, 0.0), false),
            None,
            "the last turn may end"
        );
        assert_eq!(budget_problem(9, Some(1.0), &used(1, 0.99), true), None);
        assert!(budget_problem(9, Some(1.0), &used(1, 1.0), true).is_some());
        assert_eq!(budget_problem(9, Some(1.0), &used(1, 1.0), false), None);
        assert!(budget_problem(9, Some(1.0), &used(1, 1.01), false)
            .unwrap()
            .contains("$1.0100 spent of a $1.00 budget"));
    }

    // --- the workspace ------------------------------------------------------------------------

    #[test]
    fn paths_stay_in_the_workspace_and_links_are_never_followed() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "host secret").unwrap();
        let root = tempfile::tempdir().unwrap();
        let workspace = Workspace { root: root.path() };
        std::fs::write(root.path().join("server.py"), "scaffold").unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("out")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), root.path().join("link"))
            .unwrap();

        assert_eq!(workspace.read("server.py").unwrap(), "scaffold");
        assert_eq!(workspace.read("./server.py").unwrap(), "scaffold");
        for (path, why) in [
            ("/etc/passwd", "absolute"),
            ("../x", "`..`"),
            ("a/../../x", "`..`"),
            ("out/secret", "symbolic link"),
            ("link", "symbolic link"),
            ("", "names no file"),
        ] {
            let refused = workspace.read(path).unwrap_err();
            assert!(refused.contains(why), "{path}: {refused}");
        }

        for (path, why) in [
            ("/generated/tools.py", "outside"),
            ("generated/../server.py", "lower-case"),
            ("server.py", "outside"),
            ("generated/sub/x.py", "lower-case"),
        ] {
            let refused = workspace.write(path, "x").unwrap_err();
            assert!(refused.contains(why), "{path}: {refused}");
        }
        assert_eq!(
            std::fs::read_to_string(root.path().join("server.py")).unwrap(),
            "scaffold"
        );

        // The output folder as a link to the host: refused, nothing written there.
        std::os::unix::fs::symlink(outside.path(), root.path().join(OUTPUT_DIR)).unwrap();
        assert!(workspace
            .write("generated/tools.py", "x")
            .unwrap_err()
            .contains("symbolic link"));
        assert!(!outside.path().join("tools.py").exists());
        std::fs::remove_file(root.path().join(OUTPUT_DIR)).unwrap();

        // A link as the target: refused, the host file untouched.
        std::fs::create_dir(root.path().join(OUTPUT_DIR)).unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret"),
            root.path().join("generated/a.py"),
        )
        .unwrap();
        assert!(workspace
            .write("generated/a.py", "x")
            .unwrap_err()
            .contains("symbolic link"));
        assert_eq!(
            std::fs::read_to_string(outside.path().join("secret")).unwrap(),
            "host secret"
        );
    }

    #[test]
    fn writes_replace_hard_links_refuse_oversize_and_cap_the_file_count() {
        let outside = tempfile::tempdir().unwrap();
        let host_file = outside.path().join("host.py");
        std::fs::write(&host_file, "host").unwrap();
        let root = tempfile::tempdir().unwrap();
        let workspace = Workspace { root: root.path() };
        std::fs::create_dir(root.path().join(OUTPUT_DIR)).unwrap();
        // Same file system only; a tempdir in the same parent is.
        if std::fs::hard_link(&host_file, root.path().join("generated/tools.py")).is_ok() {
            workspace.write("generated/tools.py", "new").unwrap();
            assert_eq!(std::fs::read_to_string(&host_file).unwrap(), "host");
            assert_eq!(
                std::fs::read_to_string(root.path().join("generated/tools.py")).unwrap(),
                "new"
            );
        }
        let too_big = "x".repeat(MAX_FILE_BYTES as usize + 1);
        assert!(workspace
            .write("generated/big.py", &too_big)
            .unwrap_err()
            .contains("larger"));
        assert!(!root.path().join("generated/big.py").exists());
        std::fs::write(root.path().join("big.txt"), &too_big).unwrap();
        assert!(workspace.read("big.txt").unwrap_err().contains("larger"));

        for n in 0..MAX_FILES {
            let _ = workspace.write(&format!("generated/m{n}.py"), "");
        }
        let refused = workspace.write("generated/one_more.py", "").unwrap_err();
        assert!(refused.contains("at most 64 files"), "{refused}");
        assert!(!root.path().join(WRITE_TEMP).exists());
        let listing = workspace.list().unwrap();
        assert!(listing.contains("generated/m0.py (0 bytes)"), "{listing}");
        assert!(!listing.contains(WRITE_TEMP));
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let root = tempfile::tempdir().unwrap();
        let fifo = root.path().join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|status| status.success()) {
            return;
        }
        let workspace = Workspace { root: root.path() };
        assert_eq!(workspace.read("pipe").unwrap_err(), "not a regular file");
        assert!(workspace
            .list()
            .unwrap()
            .contains("pipe (not a regular file)"));
    }

    // --- the loop over a fake transport -------------------------------------------------------

    enum Canned {
        Status(u16, Option<&'static str>, Value),
        /// The body in these pieces, then a broken connection when `breaks`.
        Stream(Vec<Vec<u8>>, bool),
        Hang,
    }

    #[derive(Default)]
    struct FakeTransport {
        canned: Mutex<VecDeque<Canned>>,
        bodies: Mutex<Vec<Value>>,
    }

    impl FakeTransport {
        fn new(canned: Vec<Canned>) -> Arc<FakeTransport> {
            Arc::new(FakeTransport {
                canned: Mutex::new(canned.into()),
                bodies: Mutex::default(),
            })
        }
    }

    #[async_trait]
    impl Transport for FakeTransport {
        async fn post_messages(&self, body: Vec<u8>) -> Result<HttpReply, TransportError> {
            self.bodies
                .lock()
                .unwrap()
                .push(serde_json::from_slice(&body).unwrap());
            let next = self.canned.lock().unwrap().pop_front();
            let (status, retry_after, pieces) = match next {
                None => return Err(TransportError("connection refused".into())),
                Some(Canned::Hang) => std::future::pending().await,
                Some(Canned::Status(status, retry_after, body)) => (
                    status,
                    retry_after.map(str::to_owned),
                    vec![Ok(Bytes::from(body.to_string()))],
                ),
                Some(Canned::Stream(pieces, breaks)) => {
                    let mut pieces: Vec<_> =
                        pieces.into_iter().map(|p| Ok(Bytes::from(p))).collect();
                    if breaks {
                        pieces.push(Err(TransportError("connection reset".into())));
                    }
                    (200, None, pieces)
                }
            };
            Ok(HttpReply {
                status,
                retry_after,
                body: Box::pin(futures_util::stream::iter(pieces)),
            })
        }
    }

    /// The SSE body of a message with these blocks, in pieces of `piece` bytes.
    fn sse(blocks: &[Value], stop_reason: &str, tokens: (u64, u64), piece: usize) -> Vec<Vec<u8>> {
        let mut wire = String::new();
        let mut push = |name: &str, data: Value| {
            wire.push_str(&format!("event: {name}\ndata: {data}\n\n"));
        };
        push(
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_f", "usage": {"input_tokens": tokens.0, "output_tokens": 1}}}),
        );
        push("ping", json!({"type": "ping"}));
        for (index, block) in blocks.iter().enumerate() {
            if block["type"] == "tool_use" {
                let start = json!({"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}});
                push(
                    "content_block_start",
                    json!({"index": index, "content_block": start}),
                );
                let delta =
                    json!({"type": "input_json_delta", "partial_json": block["input"].to_string()});
                push(
                    "content_block_delta",
                    json!({"index": index, "delta": delta}),
                );
            } else {
                push(
                    "content_block_start",
                    json!({"index": index, "content_block": {"type": "text", "text": ""}}),
                );
                push(
                    "content_block_delta",
                    json!({"index": index, "delta": {"type": "text_delta", "text": block["text"]}}),
                );
            }
            push("content_block_stop", json!({"index": index}));
        }
        push(
            "message_delta",
            json!({"delta": {"stop_reason": stop_reason}, "usage": {"output_tokens": tokens.1}}),
        );
        push("message_stop", json!({"type": "message_stop"}));
        wire.as_bytes().chunks(piece).map(<[u8]>::to_vec).collect()
    }

    /// Reports what `generated/tools.py` holds, and counts its runs.
    #[derive(Default)]
    struct Examples {
        runs: AtomicU32,
    }

    #[async_trait]
    impl ExampleRunner for Examples {
        async fn run(&self, workspace: &Path) -> String {
            self.runs.fetch_add(1, Ordering::SeqCst);
            match std::fs::read_to_string(workspace.join("generated/tools.py")) {
                Ok(code) if code.contains("return 42") => "all 1 examples passed".into(),
                Ok(_) => "example `answer` FAILED: expected 42, got None".into(),
                Err(_) => "no generated/tools.py".into(),
            }
        }
    }

    fn fast_config() -> LoopConfig {
        LoopConfig {
            request_timeout: Duration::from_millis(300),
            first_backoff: Duration::from_millis(5),
            ..LoopConfig::default()
        }
    }

    fn options(max_turns: Option<u32>, budget_usd: Option<f64>) -> GenerateOptions {
        GenerateOptions {
            model: "claude-sonnet-4-5".into(),
            max_turns,
            budget_usd,
        }
    }

    async fn run(
        generator: &AnthropicGenerator,
        workspace: &Path,
        options: &GenerateOptions,
        spent: Usage,
        examples: &Examples,
    ) -> Result<AttemptOutcome, GeneratorError> {
        let progress = |_: &str| {};
        generator
            .attempt(Attempt {
                integration: "answer",
                number: 1,
                prompt: "Write generated/tools.py",
                workspace,
                options,
                spent,
                examples,
                progress: &progress,
            })
            .await
    }

    fn write_call(id: &str, content: &str) -> Value {
        json!({"type": "tool_use", "id": id, "name": "write_file",
               "input": {"path": "generated/tools.py", "content": content}})
    }

    #[tokio::test]
    async fn the_loop_writes_runs_the_examples_retries_and_accounts() {
        let transport = FakeTransport::new(vec![
            Canned::Status(
                529,
                Some("0"),
                json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
            ),
            Canned::Stream(
                sse(
                    &[
                        json!({"type": "text", "text": "Writing…"}),
                        write_call("t1", "def answer():\n    return 42\n"),
                    ],
                    "tool_use",
                    (1000, 200),
                    7,
                ),
                false,
            ),
            Canned::Stream(
                sse(
                    &[json!({"type": "tool_use", "id": "t2", "name": "run_examples", "input": {}})],
                    "tool_use",
                    (1500, 20),
                    1,
                )[..200]
                    .to_vec(),
                true,
            ),
            Canned::Stream(
                sse(
                    &[json!({"type": "tool_use", "id": "t2", "name": "run_examples", "input": {}})],
                    "tool_use",
                    (1500, 20),
                    13,
                ),
                false,
            ),
            Canned::Stream(
                sse(
                    &[json!({"type": "text", "text": "Done."})],
                    "end_turn",
                    (1700, 5),
                    64,
                ),
                false,
            ),
        ]);
        let generator = AnthropicGenerator::with_transport(transport.clone(), fast_config());
        let root = tempfile::tempdir().unwrap();
        let examples = Examples::default();
        let spent = Usage {
            turns: 2,
            ..Usage::default()
        };
        let outcome = run(
            &generator,
            root.path(),
            &options(None, None),
            spent,
            &examples,
        )
        .await
        .expect("the attempt succeeds");
        assert_eq!(
            std::fs::read_to_string(root.path().join("generated/tools.py")).unwrap(),
            "def answer():\n    return 42\n"
        );
        assert_eq!(examples.runs.load(Ordering::SeqCst), 1);
        assert_eq!(outcome.usage.turns, 3);
        assert_eq!(outcome.usage.input_tokens, 1000 + 1500 + 1700);
        assert_eq!(outcome.usage.output_tokens, 225);
        let expected_cost = (4200.0 * 3.0 + 225.0 * 15.0) / 1e6;
        assert!((outcome.usage.cost_usd - expected_cost).abs() < 1e-12);

        assert_eq!(outcome.events.len(), 3);
        let first = &outcome.events[0];
        assert_eq!(first["turn"], 3, "turns count the whole build");
        assert_eq!(first["system"], SYSTEM_PROMPT);
        assert_eq!(first["retried"][0], "529 overloaded_error: Overloaded");
        assert_eq!(
            first["tool_results"][0]["content"],
            "wrote generated/tools.py (28 bytes)"
        );
        assert_eq!(
            outcome.events[1]["retried"][0]
                .as_str()
                .map(|s| s.starts_with("truncated stream")),
            Some(true)
        );
        assert_eq!(
            outcome.events[1]["tool_results"][0]["content"],
            "all 1 examples passed"
        );
        assert_eq!(outcome.events[2]["content"][0]["text"], "Done.");

        // What the API saw: the prompt first, then the assistant's turn and the tool results.
        let bodies = transport.bodies.lock().unwrap();
        assert_eq!(bodies.len(), 5);
        let last = &bodies[4];
        assert_eq!(last["model"], "claude-sonnet-4-5");
        assert_eq!(last["stream"], true);
        assert_eq!(last["messages"][0]["content"], "Write generated/tools.py");
        assert_eq!(last["messages"][1]["content"][1]["id"], "t1");
        assert_eq!(last["messages"][2]["content"][0]["tool_use_id"], "t1");
        assert_eq!(last["messages"][2]["content"][0]["is_error"], false);
        assert_eq!(
            last["messages"][4]["content"][0]["content"],
            "all 1 examples passed"
        );
        let names: Vec<&str> = last["tools"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t["name"].as_str())
            .collect();
        assert_eq!(
            names,
            ["list_files", "read_file", "write_file", "run_examples"]
        );
    }

    #[tokio::test]
    async fn faults_end_the_attempt_naming_them_after_the_tries() {
        let root = tempfile::tempdir().unwrap();
        let examples = Examples::default();
        let overloaded = || {
            Canned::Status(
                529,
                Some("0"),
                json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
            )
        };
        let cases: Vec<(Vec<Canned>, &str)> = vec![
            (vec![overloaded(), overloaded(), overloaded(), overloaded()], "529 overloaded_error after 4 tries (Overloaded)"),
            ((0..4).map(|_| Canned::Status(429, None, json!({"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}))).collect(), "429 rate_limit_error after 4 tries (slow down)"),
            ((0..4).map(|_| Canned::Status(500, None, json!({}))).collect(), "500 error after 4 tries"),
            ((0..4).map(|_| Canned::Stream(sse(&[], "end_turn", (1, 1), 5)[..3].to_vec(), false)).collect(), "truncated stream after 4 tries"),
            ((0..4).map(|_| Canned::Hang).collect(), "timeout after 4 tries (no response within 0.3 s)"),
            (vec![Canned::Status(401, None, json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}))], "401 authentication_error after 1 try (invalid x-api-key)"),
        ];
        for (canned, expected) in cases {
            let transport = FakeTransport::new(canned);
            let generator = AnthropicGenerator::with_transport(transport.clone(), fast_config());
            let error = run(
                &generator,
                root.path(),
                &options(None, None),
                Usage::default(),
                &examples,
            )
            .await
            .unwrap_err();
            assert!(matches!(error, GeneratorError::ModelApi(_)), "{error}");
            assert!(
                error
                    .to_string()
                    .starts_with(&format!("model API: {expected}")),
                "{error}"
            );
        }
    }

    #[tokio::test]
    async fn budgets_stop_the_loop() {
        let root = tempfile::tempdir().unwrap();
        let examples = Examples::default();
        let calling = || {
            Canned::Stream(
                sse(
                    &[json!({"type": "tool_use", "id": "t", "name": "list_files", "input": {}})],
                    "tool_use",
                    (100_000, 1_000),
                    100,
                ),
                false,
            )
        };

        let transport = FakeTransport::new(vec![calling(), calling(), calling()]);
        let generator = AnthropicGenerator::with_transport(transport.clone(), fast_config());
        let error = run(
            &generator,
            root.path(),
            &options(Some(2), None),
            Usage::default(),
            &examples,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&error, GeneratorError::Budget(why) if why.contains("turn limit of 2")),
            "{error}"
        );
        assert_eq!(transport.bodies.lock().unwrap().len(), 2);

        // Each turn costs $0.315; earlier attempts already spent $0.50 of $1.
        let transport = FakeTransport::new(vec![calling(), calling(), calling()]);
        let generator = AnthropicGenerator::with_transport(transport.clone(), fast_config());
        let spent = Usage {
            cost_usd: 0.5,
            ..Usage::default()
        };
        let error = run(
            &generator,
            root.path(),
            &options(None, Some(1.0)),
            spent,
            &examples,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&error, GeneratorError::Budget(why) if why.contains("$1.1300 spent of a $1.00 budget")),
            "{error}"
        );
        assert_eq!(transport.bodies.lock().unwrap().len(), 2);
    }

    // --- the loop over reqwest against the scripted server -----------------------------------

    fn api(server: &messages_api::MessagesApi, key: &str) -> ModelApi {
        ModelApi {
            base_url: server.base_url(),
            credential: Credential::ApiKey(key.into()),
        }
    }

    #[tokio::test]
    async fn the_loop_works_against_the_scripted_messages_api() {
        use messages_api::{Match, MessagesApi, Reply, Script};
        let server = MessagesApi::spawn(
            Script::new()
                .expect_key("sk-real-key")
                .rule(Match::last_tool_result_contains("run_examples", "passed"), Reply::text("Done.").usage(900, 4))
                .rule(
                    Match::last_tool_result_contains("run_examples", "FAILED"),
                    Reply::tool_use("write_file", json!({"path": "generated/tools.py", "content": "def answer():\n    return 42\n"})),
                )
                .rule(Match::tool_result_for("write_file"), Reply::tool_use("run_examples", json!({})))
                .rule(Match::tool_result_for("read_file"), Reply::overloaded().retry_after(0).times(1))
                .rule(
                    Match::tool_result_for("read_file"),
                    Reply::tool_use("write_file", json!({"path": "generated/tools.py", "content": "def answer():\n    return None\n"})),
                )
                .rule(Match::last_user_contains("Write generated/tools.py"), Reply::tool_use("read_file", json!({"path": "../../etc/passwd"}))),
        )
        .unwrap();
        let generator =
            AnthropicGenerator::new(api(&server, "sk-real-key"), fast_config()).unwrap();
        let root = tempfile::tempdir().unwrap();
        let examples = Examples::default();
        let outcome = run(
            &generator,
            root.path(),
            &options(None, None),
            Usage::default(),
            &examples,
        )
        .await
        .expect("the attempt succeeds");
        assert_eq!(
            std::fs::read_to_string(root.path().join("generated/tools.py")).unwrap(),
            "def answer():\n    return 42\n"
        );
        assert_eq!(examples.runs.load(Ordering::SeqCst), 2);
        // read (refused), write, run (fails), write, run (passes), done; one 529 retried.
        assert_eq!(outcome.usage.turns, 6);
        assert_eq!(outcome.usage.output_tokens, 5 * 50 + 4);
        assert_eq!(server.message_requests().len(), 7);
        assert!(server.saw_only_right_key());
        assert_eq!(outcome.events[0]["tool_results"][0]["is_error"], true);
        let transcript = serde_json::to_string(&outcome.events).unwrap();
        assert!(
            !transcript.contains("sk-real-key"),
            "the key is never in the events"
        );
        let sent = server.message_requests();
        assert_eq!(sent[0].header("anthropic-version"), Some(ANTHROPIC_VERSION));
        assert_eq!(sent[0].header("x-api-key"), Some("sk-real-key"));

        // A wrong key is refused by the server and fails at once, naming the status.
        let generator = AnthropicGenerator::new(api(&server, "sk-wrong"), fast_config()).unwrap();
        let error = run(
            &generator,
            root.path(),
            &options(None, None),
            Usage::default(),
            &examples,
        )
        .await
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("401 authentication_error after 1 try"),
            "{error}"
        );
        assert!(server.saw_wrong_key());
    }

    #[tokio::test]
    async fn scripted_faults_over_a_real_socket_are_retried_then_named() {
        use messages_api::{Match, MessagesApi, Reply, Script};
        let server = MessagesApi::spawn(
            Script::new()
                .rule(
                    Match::last_user_contains("Write"),
                    Reply::truncated("a long reply"),
                )
                .default_reply(Reply::hang()),
        )
        .unwrap();
        let config = LoopConfig {
            tries: 2,
            ..fast_config()
        };
        let generator = AnthropicGenerator::new(api(&server, "k"), config.clone()).unwrap();
        let root = tempfile::tempdir().unwrap();
        let examples = Examples::default();
        let error = run(
            &generator,
            root.path(),
            &options(None, None),
            Usage::default(),
            &examples,
        )
        .await
        .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("model API: truncated stream after 2 tries"),
            "{error}"
        );
        assert_eq!(server.message_requests().len(), 2);

        let hanging = MessagesApi::spawn(Script::new().default_reply(Reply::hang())).unwrap();
        let generator = AnthropicGenerator::new(api(&hanging, "k"), config).unwrap();
        let error = run(
            &generator,
            root.path(),
            &options(None, None),
            Usage::default(),
            &examples,
        )
        .await
        .unwrap_err();
        assert!(
            error.to_string().contains("timeout after 2 tries"),
            "{error}"
        );
    }
}
