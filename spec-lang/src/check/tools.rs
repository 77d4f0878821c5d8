//! Tools: their items, input/output schemas and per-tool policy (approval, rate, timeout).

use super::metadata::{at_most_once, exactly_once};
use super::types::TypeEnv;
use super::validate::Validation;
use super::{code, policy, suggest, Ctx, FirstSeen};
use crate::ast::{self, ToolItem};
use crate::{ir, schema, Diagnostic, Span};
use serde_json::Value;
use std::collections::BTreeMap;

/// A checked tool; `input` and `output` are object schemas without `$defs` (see
/// [`CheckedTool::into_ir`]).
pub(super) struct CheckedTool {
    pub name_span: Span,
    pub input_span: Span,
    pub output_span: Span,
    description: String,
    pub input: Value,
    pub output: Value,
    approval: ir::Approval,
    rate: Option<ir::Rate>,
    timeout_ms: u64,
}

impl CheckedTool {
    pub fn into_ir(self, types: &BTreeMap<String, Value>) -> ir::Tool {
        ir::Tool {
            description: self.description,
            input: schema::document(&self.input, types),
            output: schema::document(&self.output, types),
            approval: self.approval,
            rate: self.rate,
            timeout_ms: self.timeout_ms,
        }
    }
}

/// The items of one tool, grouped by kind.
#[derive(Default)]
struct ToolItems<'a> {
    descriptions: Vec<&'a ast::Spanned<String>>,
    inputs: Vec<&'a ast::Record>,
    outputs: Vec<&'a ast::Record>,
    approvals: Vec<&'a ast::Spanned<bool>>,
    rates: Vec<&'a ast::Rate>,
    timeouts: Vec<&'a ast::Spanned<ast::Quantity>>,
}

pub(super) fn check_tools<'a>(
    ctx: &mut Ctx,
    types: &TypeEnv<'a>,
    validation: &mut Validation<'a>,
    tools: &[&'a ast::Tool],
    default_timeout_ms: u64,
) -> BTreeMap<String, CheckedTool> {
    let mut seen = FirstSeen::new("tool");
    let mut out = BTreeMap::new();
    for tool in tools {
        if !seen.first(ctx, &tool.name.node, tool.name.span) {
            continue;
        }
        super::no_separator(ctx, "tool", &tool.name);
        let checked = check_tool(ctx, types, validation, tool, default_timeout_ms);
        out.insert(tool.name.node.clone(), checked);
    }
    out
}

fn check_tool<'a>(
    ctx: &mut Ctx,
    types: &TypeEnv<'a>,
    validation: &mut Validation<'a>,
    tool: &'a ast::Tool,
    default_timeout_ms: u64,
) -> CheckedTool {
    let mut items = ToolItems::default();
    for item in &tool.items {
        match item {
            ToolItem::Description(description) => items.descriptions.push(description),
            ToolItem::Input(record) => items.inputs.push(record),
            ToolItem::Output(record) => items.outputs.push(record),
            ToolItem::Approval(approval) => items.approvals.push(approval),
            ToolItem::Rate(rate) => items.rates.push(rate),
            ToolItem::Timeout(timeout) => items.timeouts.push(timeout),
        }
    }
    let description = exactly_once(
        ctx,
        "description",
        "description \"What the tool does.\"",
        &items.descriptions,
        tool.name.span,
        |d| d.span,
    )
    .map(|description| description.node.clone())
    .unwrap_or_default();
    let input_record = at_most_once(ctx, "input", &items.inputs, |record| record.span);
    let output_record = at_most_once(ctx, "output", &items.outputs, |record| record.span);
    let approval = at_most_once(ctx, "approval", &items.approvals, |approval| approval.span);
    let rate = at_most_once(ctx, "rate", &items.rates, |rate| rate.span)
        .and_then(|rate| check_rate(ctx, rate));
    let timeout = at_most_once(ctx, "timeout", &items.timeouts, |timeout| timeout.span)
        .and_then(|timeout| policy::check_timeout(ctx, timeout));

    if approval.is_none() && looks_like_a_write(&tool.name.node) {
        ctx.report(
            Diagnostic::warning(code::WRITE_WITHOUT_APPROVAL, format!("tool `{}` sounds like it changes something, but needs no approval", tool.name.node), tool.name.span)
                .with_label("no `approval` given")
                .with_help("add `approval required` so a human confirms every call, or `approval none` to say it is safe"),
        );
    }

    CheckedTool {
        name_span: tool.name.span,
        input_span: input_record.map_or(tool.name.span, |record| record.span),
        output_span: output_record.map_or(tool.name.span, |record| record.span),
        description,
        input: types.lower_record_or_empty(ctx, validation, input_record),
        output: types.lower_record_or_empty(ctx, validation, output_record),
        approval: match approval.map(|approval| approval.node) {
            Some(true) => ir::Approval::Required,
            _ => ir::Approval::None,
        },
        rate,
        timeout_ms: timeout.unwrap_or(default_timeout_ms),
    }
}

/// Verbs whose tools usually change state outside the sandbox.
const WRITE_VERBS: [&str; 22] = [
    "add", "archive", "cancel", "close", "comment", "create", "delete", "edit", "merge", "move",
    "patch", "post", "publish", "put", "remove", "reply", "send", "set", "toggle", "turn",
    "update", "write",
];

fn looks_like_a_write(name: &str) -> bool {
    let verb = name.split('_').next().unwrap_or(name).to_ascii_lowercase();
    WRITE_VERBS.contains(&verb.as_str())
}

const PERIODS: [(&str, ir::Period); 4] = [
    ("second", ir::Period::Second),
    ("minute", ir::Period::Minute),
    ("hour", ir::Period::Hour),
    ("day", ir::Period::Day),
];

fn check_rate(ctx: &mut Ctx, rate: &ast::Rate) -> Option<ir::Rate> {
    let count = match rate.count.node.parse::<u32>() {
        Ok(count) if count > 0 => Some(count),
        _ => {
            ctx.report(
                Diagnostic::error(
                    code::INVALID_RATE,
                    format!("`{}` is not a valid call count", rate.count.node),
                    rate.count.span,
                )
                .with_label("must be a whole number from 1")
                .with_help("write e.g. `rate 10 per minute`; to forbid a tool, remove it"),
            );
            None
        }
    };
    let period = PERIODS
        .iter()
        .find(|(name, _)| *name == rate.per.node)
        .map(|(_, period)| *period);
    if period.is_none() {
        ctx.report(
            Diagnostic::error(
                code::INVALID_RATE,
                format!("unknown period `{}`", rate.per.node),
                rate.per.span,
            )
            .with_label("not a period")
            .with_help(suggest::help(
                &rate.per.node,
                PERIODS.iter().map(|(name, _)| *name),
                || "the periods are second, minute, hour and day".to_owned(),
            )),
        );
    }
    Some(ir::Rate {
        count: count?,
        period: period?,
    })
}
