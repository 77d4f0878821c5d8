//! The canonical layout of each AST node.

use super::printer::Printer;
use super::text::{key, prose, quote};
use crate::ast::*;
use crate::Span;

/// Values longer than this (counting indentation) are broken over several lines.
pub(super) const MAX_WIDTH: usize = 100;

pub(super) fn file(source: &str, file: &File) -> String {
    let mut printer = Printer::new(source, &file.comments);
    integration(&mut printer, &file.integration);
    printer.finish()
}

fn integration(p: &mut Printer<'_>, integration: &Integration) {
    p.comments_before(integration.span.start);
    let open = format!("integration {} {{", integration.name.node);
    p.block(
        &open,
        integration.span.start,
        integration.span.end,
        "}",
        integration.span.end,
        |p| {
            let mut previous: Option<&Item> = None;
            for item in &integration.items {
                if previous.is_some_and(|previous| !(is_header(previous) && is_header(item))) {
                    p.blank_line();
                }
                self::item(p, item);
                previous = Some(item);
            }
        },
    );
}

/// `version`, `summary` and `target` form the header and are not separated by blank lines.
fn is_header(item: &Item) -> bool {
    matches!(item, Item::Version(_) | Item::Summary(_) | Item::Target(_))
}

fn item(p: &mut Printer<'_>, item: &Item) {
    match item {
        Item::Version(version) => keyword_string(p, "version", version),
        Item::Summary(summary) => keyword_prose(p, "summary", summary),
        Item::Target(target) => {
            p.comments_before(target.span.start);
            p.line(&format!("target {}", target.node), target.span.end);
        }
        Item::Secret(secret) => self::secret(p, secret),
        Item::Network(network) => self::network(p, network),
        Item::Filesystem(filesystem) => self::filesystem(p, filesystem),
        Item::Limits(limits) => self::limits(p, limits),
        Item::Config(config) => record(p, "config ", config, "", config.span.end),
        Item::TypeDef(type_def) => self::type_def(p, type_def),
        Item::Tool(tool) => self::tool(p, tool),
        Item::Intent(intent) => {
            p.comments_before(intent.span.start);
            let text = format!("intent {}", prose(&intent.node, &p.continuation_indent()));
            p.line(&text, intent.span.end);
        }
        Item::Example(example) => self::example(p, example),
    }
}

fn keyword_string(p: &mut Printer<'_>, keyword: &str, value: &Spanned<String>) {
    p.comments_before(value.span.start);
    p.line(&format!("{keyword} {}", quote(&value.node)), value.span.end);
}

/// Like [`keyword_string`], but text with line breaks is written as a `"""` block.
fn keyword_prose(p: &mut Printer<'_>, keyword: &str, value: &Spanned<String>) {
    if !value.node.contains('\n') {
        return keyword_string(p, keyword, value);
    }
    p.comments_before(value.span.start);
    let text = format!("{keyword} {}", prose(&value.node, &p.continuation_indent()));
    p.line(&text, value.span.end);
}

fn secret(p: &mut Printer<'_>, secret: &Secret) {
    p.comments_before(secret.span.start);
    let open = format!("secret {} {{", secret.name.node);
    p.block(
        &open,
        secret.span.start,
        secret.span.end,
        "}",
        secret.span.end,
        |p| {
            // Both kinds of line in the order they were written, so comments stay with theirs.
            let mut lines: Vec<(Span, String)> = secret
                .injections
                .iter()
                .map(|injection| (injection.span, self::injection(injection)))
                .chain(secret.plaintext.iter().map(|plaintext| {
                    (
                        plaintext.span,
                        format!("plaintext {}", strings(&plaintext.hosts)),
                    )
                }))
                .collect();
            lines.sort_by_key(|(span, _)| span.start);
            for (span, text) in lines {
                p.comments_before(span.start);
                p.line(&text, span.end);
            }
        },
    );
}

fn injection(injection: &Injection) -> String {
    let kind = match injection.kind {
        InjectionKind::Header => "header",
        InjectionKind::Query => "query",
    };
    let mut text = format!("inject {kind} {}", quote(&injection.name.node));
    if let Some(template) = &injection.template {
        text.push_str(&format!(" = {}", quote(&template.node)));
    }
    text.push_str(&format!(" into {}", strings(&injection.hosts)));
    text
}

fn strings(values: &[Spanned<String>]) -> String {
    values
        .iter()
        .map(|value| quote(&value.node))
        .collect::<Vec<_>>()
        .join(", ")
}

fn network(p: &mut Printer<'_>, network: &Network) {
    p.comments_before(network.span.start);
    p.block(
        "network {",
        network.span.start,
        network.span.end,
        "}",
        network.span.end,
        |p| {
            for host in &network.allow {
                p.comments_before(host.span.start);
                p.line(&format!("allow {}", quote(&host.node)), host.span.end);
            }
        },
    );
}

fn filesystem(p: &mut Printer<'_>, filesystem: &Filesystem) {
    p.comments_before(filesystem.span.start);
    p.block(
        "filesystem {",
        filesystem.span.start,
        filesystem.span.end,
        "}",
        filesystem.span.end,
        |p| {
            for mount in &filesystem.mounts {
                p.comments_before(mount.span.start);
                let mode = match mount.mode.node {
                    MountMode::ReadOnly => "ro",
                    MountMode::ReadWrite => "rw",
                };
                let text = format!(
                    "mount {} at {} {mode}",
                    quote(&mount.source.node),
                    quote(&mount.target.node)
                );
                p.line(&text, mount.span.end);
            }
        },
    );
}

fn limits(p: &mut Printer<'_>, limits: &Limits) {
    p.comments_before(limits.span.start);
    p.block(
        "limits {",
        limits.span.start,
        limits.span.end,
        "}",
        limits.span.end,
        |p| {
            for entry in &limits.entries {
                p.comments_before(entry.span.start);
                p.line(
                    &format!("{} {}", entry.key.node, quantity(&entry.value.node)),
                    entry.span.end,
                );
            }
        },
    );
}

fn quantity(quantity: &Quantity) -> String {
    format!("{}{}", quantity.number, quantity.unit)
}

fn type_def(p: &mut Printer<'_>, type_def: &TypeDef) {
    p.comments_before(type_def.span.start);
    let name = &type_def.name.node;
    match &type_def.ty.kind {
        TypeKind::Record(fields) if type_def.ty.constraints.is_empty() => {
            record(p, &format!("type {name} "), fields, "", fields.span.end);
        }
        _ => type_expr(
            p,
            format!("type {name} = "),
            &type_def.ty,
            String::new(),
            type_def.span.end,
        ),
    }
}

/// `prefix{`, the fields, `}suffix`; `prefix{}suffix` when there is nothing inside.
/// `line_end` is where the source of the last printed line (`}suffix`) ends.
fn record(p: &mut Printer<'_>, prefix: &str, record: &Record, suffix: &str, line_end: usize) {
    p.comments_before(record.span.start);
    if record.fields.is_empty() && !p.has_comment_within(record.span) {
        return p.line(&format!("{prefix}{{}}{suffix}"), line_end);
    }
    let open = format!("{prefix}{{");
    p.block(
        &open,
        record.span.start,
        record.span.end,
        &format!("}}{suffix}"),
        line_end,
        |p| {
            for field in &record.fields {
                self::field(p, field);
            }
        },
    );
}

fn field(p: &mut Printer<'_>, field: &Field) {
    let doc_lines = field.doc.as_ref().map_or(0, |doc| doc.split('\n').count());
    p.comments_before_field(field.span.start, doc_lines);
    let mark = if field.optional { "?" } else { "" };
    let default = field.default.as_ref().map_or_else(String::new, |default| {
        format!(" = {}", inline_value(default))
    });
    type_expr(
        p,
        format!("{}{mark}: ", field.name.node),
        &field.ty,
        default,
        field.span.end,
    );
}

/// Prints `prefix TYPE constraints suffix`, over several lines when the type holds a record.
fn type_expr(p: &mut Printer<'_>, prefix: String, ty: &TypeExpr, suffix: String, end: usize) {
    let suffix = format!("{}{suffix}", constraints(&ty.constraints));
    match &ty.kind {
        TypeKind::Name(name) => p.line(&format!("{prefix}{}{suffix}", name.node), end),
        TypeKind::Union(literals) => {
            let union = literals
                .iter()
                .map(|literal| self::literal(&literal.node))
                .collect::<Vec<_>>()
                .join(" | ");
            p.line(&format!("{prefix}{union}{suffix}"), end);
        }
        TypeKind::List(inner) => {
            type_expr(p, format!("{prefix}["), inner, format!("]{suffix}"), end)
        }
        TypeKind::Record(fields) => record(p, &prefix, fields, &suffix, end),
    }
}

fn literal(literal: &Literal) -> String {
    match literal {
        Literal::String(value) => quote(value),
        Literal::Number(number) => number.clone(),
        Literal::Bool(value) => value.to_string(),
    }
}

fn constraints(constraints: &[Constraint]) -> String {
    let mut out = String::new();
    for constraint in constraints {
        out.push(' ');
        out.push_str(&constraint.name.node);
        // Only `unique` may be written without parentheses.
        if !(constraint.args.is_empty() && constraint.name.node == "unique") {
            let args = constraint
                .args
                .iter()
                .map(inline_value)
                .collect::<Vec<_>>()
                .join(", ");
            out.push_str(&format!("({args})"));
        }
    }
    out
}

fn tool(p: &mut Printer<'_>, tool: &Tool) {
    p.comments_before(tool.span.start);
    let open = format!("tool {} {{", tool.name.node);
    p.block(
        &open,
        tool.span.start,
        tool.span.end,
        "}",
        tool.span.end,
        |p| {
            for item in &tool.items {
                tool_item(p, item);
            }
        },
    );
}

fn tool_item(p: &mut Printer<'_>, item: &ToolItem) {
    match item {
        ToolItem::Description(description) => keyword_prose(p, "description", description),
        ToolItem::Input(input) => record(p, "input ", input, "", input.span.end),
        ToolItem::Output(output) => record(p, "output ", output, "", output.span.end),
        ToolItem::Approval(approval) => {
            p.comments_before(approval.span.start);
            let mode = if approval.node { "required" } else { "none" };
            p.line(&format!("approval {mode}"), approval.span.end);
        }
        ToolItem::Rate(rate) => {
            p.comments_before(rate.span.start);
            p.line(
                &format!("rate {} per {}", rate.count.node, rate.per.node),
                rate.span.end,
            );
        }
        ToolItem::Timeout(timeout) => {
            p.comments_before(timeout.span.start);
            p.line(
                &format!("timeout {}", quantity(&timeout.node)),
                timeout.span.end,
            );
        }
    }
}

fn example(p: &mut Printer<'_>, example: &Example) {
    p.comments_before(example.span.start);
    let open = format!("example {} {{", quote(&example.name.node));
    p.block(
        &open,
        example.span.start,
        example.span.end,
        "}",
        example.span.end,
        |p| {
            if let Some(config) = &example.config {
                value(p, "config ", config, "");
            }
            // The starting state, the call and its effects, then what must hold afterwards.
            for clause in example
                .files
                .iter()
                .filter(|c| c.phase.node == FilesPhase::Before)
            {
                files(p, clause);
            }
            if let Some(call) = &example.call {
                p.comments_before(call.span.start);
                value(p, &format!("call {} ", call.tool.node), &call.args, "");
            }
            for fixture in &example.http {
                http(p, fixture);
            }
            match &example.expect {
                Some(Expect::Output(output)) => value(p, "expect ", output, ""),
                Some(Expect::Error(message)) => {
                    p.comments_before(message.span.start);
                    p.line(
                        &format!("expect error {}", quote(&message.node)),
                        message.span.end,
                    );
                }
                None => {}
            }
            for clause in example
                .files
                .iter()
                .filter(|c| c.phase.node == FilesPhase::After)
            {
                files(p, clause);
            }
        },
    );
}

/// `files "/mount" before {` with one `"path" = contents` line per file.
fn files(p: &mut Printer<'_>, clause: &FilesClause) {
    p.comments_before(clause.span.start);
    let phase = match clause.phase.node {
        FilesPhase::Before => "before",
        FilesPhase::After => "after",
    };
    let open = format!("files {} {phase} {{", quote(&clause.mount.node));
    // `after {}` (the mount ends up empty) reads best on one line.
    if clause.entries.is_empty() && !p.has_comment_within(clause.span) {
        return p.line(&format!("{open}}}"), clause.span.end);
    }
    p.block(
        &open,
        clause.span.start,
        clause.span.end,
        "}",
        clause.span.end,
        |p| {
            for entry in &clause.entries {
                p.comments_before(entry.span.start);
                p.line(
                    &format!(
                        "{} = {}",
                        quote(&entry.path.node),
                        inline_value(&entry.contents)
                    ),
                    entry.span.end,
                );
            }
        },
    );
}

/// `http METHOD "url"`, then the request body and the response one level deeper.
fn http(p: &mut Printer<'_>, fixture: &HttpFixture) {
    p.comments_before(fixture.span.start);
    p.line(
        &format!("http {} {}", fixture.method.node, quote(&fixture.url.node)),
        fixture.url.span.end,
    );
    p.indented(|p| {
        if let Some(body) = &fixture.request_body {
            p.comments_before(body.span.start);
            value(
                p,
                &format!("body {} ", body_kind(body.kind)),
                &body.value,
                "",
            );
        }
        p.comments_before(fixture.status.span.start);
        let status = format!("-> {}", fixture.status.node);
        match &fixture.response {
            Some(body) => value(
                p,
                &format!("{status} {} ", body_kind(body.kind)),
                &body.value,
                "",
            ),
            None => p.line(&status, fixture.status.span.end),
        }
    });
}

fn body_kind(kind: BodyKind) -> &'static str {
    match kind {
        BodyKind::Json => "json",
        BodyKind::Text => "text",
    }
}

/// `prefix VALUE suffix` on one line when it fits and holds no comment, else one entry per line.
fn value(p: &mut Printer<'_>, prefix: &str, value: &Value, suffix: &str) {
    p.comments_before(value.span.start);
    let inline = inline_value(value);
    let width =
        p.indent_width() + prefix.chars().count() + inline.chars().count() + suffix.chars().count();
    let fits = width <= MAX_WIDTH && !p.has_comment_within(value.span);
    match &value.kind {
        ValueKind::List(items) if !fits && !items.is_empty() => {
            p.block(
                &format!("{prefix}["),
                value.span.start,
                value.span.end,
                &format!("]{suffix}"),
                value.span.end,
                |p| {
                    for item in items {
                        self::value(p, "", item, ",");
                    }
                },
            );
        }
        ValueKind::Object(entries) if !fits && !entries.is_empty() => {
            p.block(
                &format!("{prefix}{{"),
                value.span.start,
                value.span.end,
                &format!("}}{suffix}"),
                value.span.end,
                |p| {
                    for (name, entry) in entries {
                        p.comments_before(name.span.start);
                        self::value(p, &format!("{}: ", key(&name.node)), entry, ",");
                    }
                },
            );
        }
        _ => p.line(&format!("{prefix}{inline}{suffix}"), value.span.end),
    }
}

fn inline_value(value: &Value) -> String {
    match &value.kind {
        ValueKind::Null => "null".to_owned(),
        ValueKind::Bool(flag) => flag.to_string(),
        ValueKind::Number(number) | ValueKind::Word(number) => number.clone(),
        ValueKind::String(text) => quote(text),
        ValueKind::List(items) => format!(
            "[{}]",
            items
                .iter()
                .map(inline_value)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ValueKind::Object(entries) if entries.is_empty() => "{}".to_owned(),
        ValueKind::Object(entries) => {
            let entries: Vec<String> = entries
                .iter()
                .map(|(name, entry)| format!("{}: {}", key(&name.node), inline_value(entry)))
                .collect();
            format!("{{ {} }}", entries.join(", "))
        }
        ValueKind::File(path) => format!("file({})", quote(&path.node)),
    }
}
