//! Examples: the call, its HTTP fixtures, the mounts' files and the expectation. Data is queued
//! for schema validation (see `validate`) and put into the IR afterwards.

use super::files::{self, MountFiles};
use super::network::{self, Allowlist};
use super::tools::CheckedTool;
use super::validate::{Slot, Validated, Validation};
use super::{code, suggest, values, Ctx, FirstSeen};
use crate::ast::{self, BodyKind, ValueKind};
use crate::{ir, Diagnostic};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// An example whose data is waiting in [`Validation`].
pub(super) struct PendingExample {
    name: String,
    config: Slot,
    call: Option<(String, Slot)>,
    http: Vec<ir::HttpFixture>,
    /// The mounts' files before and after the call.
    files: Option<(MountFiles, MountFiles)>,
    expect: Option<PendingExpect>,
}

/// What examples are checked against: the declared tools, hosts and mounts.
pub(super) struct Policy<'p> {
    pub tools: &'p BTreeMap<String, CheckedTool>,
    pub allowlist: &'p Allowlist,
    pub mounts: &'p [ir::Mount],
}

enum PendingExpect {
    Output(Slot),
    Error(String),
}

impl PendingExample {
    /// The IR example, once its data has been validated; `None` when parts were invalid (and
    /// reported, so the IR is discarded anyway).
    pub fn resolve(self, values: &mut Validated) -> Option<ir::Example> {
        let (tool, args) = self.call?;
        let (files_before, files_after) = self.files?;
        Some(ir::Example {
            name: self.name,
            config: values.take(self.config),
            call: ir::Call {
                tool,
                args: values.take(args),
            },
            http: self.http,
            expect: match self.expect? {
                PendingExpect::Output(slot) => ir::Expect::Output(values.take(slot)),
                PendingExpect::Error(message) => ir::Expect::Error(message),
            },
            files_before,
            files_after,
        })
    }
}

pub(super) fn check_examples<'a>(
    ctx: &mut Ctx,
    policy: &Policy,
    validation: &mut Validation<'a>,
    examples: &[&'a ast::Example],
) -> Vec<PendingExample> {
    let mut seen = FirstSeen::new("example");
    let mut out = Vec::with_capacity(examples.len());
    for example in examples {
        let unique = seen.first(ctx, &example.name.node, example.name.span);
        let pending = check_example(ctx, policy, validation, example);
        if unique {
            out.push(pending);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn check_example<'a>(
    ctx: &mut Ctx,
    policy: &Policy,
    validation: &mut Validation<'a>,
    example: &'a ast::Example,
) -> PendingExample {
    let Policy {
        tools, allowlist, ..
    } = *policy;
    let config = match &example.config {
        Some(value) => {
            let json = values::to_json(ctx, value).unwrap_or_else(|| Value::Object(Map::new()));
            validation.add_config(json, Some(value), example.name.span)
        }
        None => validation.add_config(Value::Object(Map::new()), None, example.name.span),
    };

    // The tool's name, borrowed from the call (so that the tools map stays free to be lent
    // mutably to the validation), when the call names a known tool.
    let mut tool_name: Option<&'a str> = None;
    let call = match &example.call {
        None => {
            ctx.report(missing(example, "call", "call TOOL { argument: value }"));
            None
        }
        Some(call) => {
            tool_name = known_tool(ctx, tools, &call.tool);
            let args = values::to_json(ctx, &call.args);
            match (tool_name, args) {
                (Some(tool), Some(args)) => Some((
                    tool.to_owned(),
                    validation.add_arguments(tool, args, &call.args),
                )),
                _ => None,
            }
        }
    };

    let http = example
        .http
        .iter()
        .filter_map(|fixture| check_http(ctx, allowlist, fixture))
        .collect::<Vec<_>>();

    let files = files::check_files(ctx, policy.mounts, example);

    let expect = match &example.expect {
        None => {
            ctx.report(missing(
                example,
                "expect",
                "expect { field: value }` or `expect error \"message\"",
            ));
            None
        }
        Some(ast::Expect::Error(message)) => Some(PendingExpect::Error(message.node.clone())),
        Some(ast::Expect::Output(value)) => {
            let output = values::to_json(ctx, value);
            match (tool_name, output) {
                (Some(tool), Some(output)) => Some(PendingExpect::Output(
                    validation.add_expected(tool, output, value),
                )),
                _ => None,
            }
        }
    };

    PendingExample {
        name: example.name.node.clone(),
        config,
        call,
        http: if http.len() == example.http.len() {
            http
        } else {
            Vec::new()
        },
        files,
        expect,
    }
}

fn missing(example: &ast::Example, what: &str, template: &str) -> Diagnostic {
    Diagnostic::error(
        code::MISSING_ITEM,
        format!("example \"{}\" has no `{what}`", example.name.node),
        example.name.span,
    )
    .with_label(format!("needs a `{what}`"))
    .with_help(format!("add `{template}`"))
}

fn known_tool<'a>(
    ctx: &mut Ctx,
    tools: &BTreeMap<String, CheckedTool>,
    name: &'a ast::Ident,
) -> Option<&'a str> {
    if tools.contains_key(&name.node) {
        return Some(name.node.as_str());
    }
    ctx.report(
        Diagnostic::error(
            code::UNKNOWN_TOOL,
            format!("unknown tool `{}`", name.node),
            name.span,
        )
        .with_label("no tool has this name")
        .with_help(suggest::help(
            &name.node,
            tools.keys().map(String::as_str),
            || "call one of the tools declared with `tool NAME { ... }`".to_owned(),
        )),
    );
    None
}

const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

fn check_http(
    ctx: &mut Ctx,
    allowlist: &Allowlist,
    fixture: &ast::HttpFixture,
) -> Option<ir::HttpFixture> {
    let method = fixture.method.node.as_str();
    let method_ok = METHODS.contains(&method);
    if !method_ok {
        let upper = method.to_ascii_uppercase();
        let help = if METHODS.contains(&upper.as_str()) {
            format!("write it in capitals: `{upper}`")
        } else {
            format!("the methods are {}", METHODS.join(", "))
        };
        ctx.report(
            Diagnostic::error(
                code::INVALID_METHOD,
                format!("unknown HTTP method `{method}`"),
                fixture.method.span,
            )
            .with_label("not an HTTP method")
            .with_help(help),
        );
    }

    let url_ok = match network::parse_url(&fixture.url.node) {
        Err(problem) => {
            ctx.report(
                Diagnostic::error(
                    code::INVALID_URL,
                    format!("`{}` is not a valid fixture URL", fixture.url.node),
                    fixture.url.span,
                )
                .with_label(problem)
                .with_help(
                    "write an absolute URL, e.g. \"https://api.example.com/v1/items?limit=2\"",
                ),
            );
            false
        }
        Ok(url) if !allowlist.allows(&url.host, url.port) => {
            ctx.report(
                Diagnostic::error(
                    code::FIXTURE_HOST_NOT_ALLOWED,
                    format!(
                        "`{}:{}` is not in the network allowlist",
                        url.host, url.port
                    ),
                    fixture.url.span,
                )
                .with_label("the generated code could never reach this host")
                .with_help(format!(
                    "add `network {{ allow \"{}:{}\" }}`, or fix the URL",
                    url.host, url.port
                )),
            );
            false
        }
        Ok(_) => true,
    };

    let status = match fixture.status.node.parse::<u16>() {
        Ok(status) if (100..=599).contains(&status) => Some(status),
        _ => {
            ctx.report(
                Diagnostic::error(
                    code::INVALID_STATUS,
                    format!("`{}` is not an HTTP status code", fixture.status.node),
                    fixture.status.span,
                )
                .with_label("must be from 100 to 599")
                .with_help("write the status the real API answers with, e.g. 200 or 404"),
            );
            None
        }
    };

    let request = fixture.request_body.as_ref().map(|body| body_of(ctx, body));
    let response = fixture.response.as_ref().map(|body| body_of(ctx, body));
    let request = request.map_or(Some(None), |body| body.map(Some))?;
    let response = response.map_or(Some(None), |body| body.map(Some))?;
    if !(method_ok && url_ok) {
        return None;
    }
    Some(ir::HttpFixture {
        method: method.to_owned(),
        url: fixture.url.node.clone(),
        request,
        status: status?,
        response,
    })
}

fn body_of(ctx: &mut Ctx, body: &ast::Body) -> Option<ir::Body> {
    match (body.kind, &body.value.kind) {
        (BodyKind::Json, _) => {
            values::to_json(ctx, &body.value).map(|value| ir::Body::Json { value })
        }
        (BodyKind::Text, ValueKind::File(path)) => {
            values::text_file(ctx, path).map(|text| ir::Body::Text { text })
        }
        (BodyKind::Text, ValueKind::String(text)) => Some(ir::Body::Text { text: text.clone() }),
        (BodyKind::Text, _) => {
            ctx.report(
                Diagnostic::error(
                    code::INVALID_VALUE,
                    "a text body must be a string or `file(...)`",
                    body.value.span,
                )
                .with_label("not text")
                .with_help("write `text \"...\"`, or use `json` for structured data"),
            );
            None
        }
    }
}
