//! Sorting the integration's items by kind, and the metadata rules: `version`, `summary`,
//! `target` and `intent` appear exactly once, the version is semver, the target is known.

use super::{code, suggest, Ctx};
use crate::ast::{self, Item, Spanned};
use crate::{ir, Diagnostic, Span};

/// The integration's items grouped by kind, each group in source order.
#[derive(Default)]
pub(super) struct Items<'a> {
    pub versions: Vec<&'a Spanned<String>>,
    pub summaries: Vec<&'a Spanned<String>>,
    pub targets: Vec<&'a ast::Ident>,
    pub intents: Vec<&'a Spanned<String>>,
    pub secrets: Vec<&'a ast::Secret>,
    pub networks: Vec<&'a ast::Network>,
    pub filesystems: Vec<&'a ast::Filesystem>,
    pub limits: Vec<&'a ast::Limits>,
    pub config: Vec<&'a ast::Record>,
    pub type_defs: Vec<&'a ast::TypeDef>,
    pub tools: Vec<&'a ast::Tool>,
    pub examples: Vec<&'a ast::Example>,
}

impl<'a> Items<'a> {
    pub fn collect(ctx: &mut Ctx, integration: &'a ast::Integration) -> Self {
        let mut items = Items::default();
        for item in &integration.items {
            match item {
                Item::Version(version) => items.versions.push(version),
                Item::Summary(summary) => items.summaries.push(summary),
                Item::Target(target) => items.targets.push(target),
                Item::Intent(intent) => items.intents.push(intent),
                Item::Secret(secret) => items.secrets.push(secret),
                Item::Network(network) => items.networks.push(network),
                Item::Filesystem(filesystem) => items.filesystems.push(filesystem),
                Item::Limits(limits) => items.limits.push(limits),
                Item::Config(config) => items.config.push(config),
                Item::TypeDef(def) => items.type_defs.push(def),
                Item::Tool(tool) => items.tools.push(tool),
                Item::Example(example) => items.examples.push(example),
            }
        }
        // `config` describes one object: two blocks would leave it unclear which wins.
        at_most_once(ctx, "config", &items.config, |config| config.span);
        items
    }
}

/// The checked metadata; `None` where the item is missing or invalid.
pub(super) struct Meta {
    pub version: Option<String>,
    pub summary: Option<String>,
    pub target: Option<ir::Target>,
    pub intent: Option<String>,
}

pub(super) fn check(ctx: &mut Ctx, items: &Items, name_span: Span) -> Meta {
    let version = exactly_once(
        ctx,
        "version",
        "version \"0.1.0\"",
        &items.versions,
        name_span,
        |v| v.span,
    )
    .filter(|version| valid_version(ctx, version))
    .map(|version| version.node.clone());
    let summary = exactly_once(
        ctx,
        "summary",
        "summary \"What it does, in one line.\"",
        &items.summaries,
        name_span,
        |s| s.span,
    )
    .map(|summary| summary.node.clone());
    let target = exactly_once(
        ctx,
        "target",
        "target python",
        &items.targets,
        name_span,
        |t| t.span,
    )
    .and_then(|target| known_target(ctx, target));
    let intent = exactly_once(
        ctx,
        "intent",
        "intent \"\"\"How to implement the tools.\"\"\"",
        &items.intents,
        name_span,
        |i| i.span,
    )
    .map(|intent| intent.node.clone());
    Meta {
        version,
        summary,
        target,
        intent,
    }
}

/// The first of `found`, reporting a missing one at `owner` and every extra one.
pub(super) fn exactly_once<'a, T>(
    ctx: &mut Ctx,
    what: &str,
    template: &str,
    found: &[&'a T],
    owner: Span,
    span_of: impl Fn(&T) -> Span,
) -> Option<&'a T> {
    if found.is_empty() {
        ctx.report(
            Diagnostic::error(code::MISSING_ITEM, format!("missing `{what}`"), owner)
                .with_label(format!("needs a `{what}`"))
                .with_help(format!("add `{template}`")),
        );
    }
    at_most_once(ctx, what, found, span_of)
}

/// The first of `found`, reporting every extra one.
pub(super) fn at_most_once<'a, T>(
    ctx: &mut Ctx,
    what: &str,
    found: &[&'a T],
    span_of: impl Fn(&T) -> Span,
) -> Option<&'a T> {
    let first = found.first().copied()?;
    for extra in &found[1..] {
        ctx.report(
            Diagnostic::error(
                code::REPEATED_ITEM,
                format!("`{what}` is given more than once"),
                span_of(extra),
            )
            .with_label("given again here")
            .with_secondary(span_of(first), "first given here")
            .with_help(format!("keep one `{what}`")),
        );
    }
    Some(first)
}

fn valid_version(ctx: &mut Ctx, version: &Spanned<String>) -> bool {
    let Err(problem) = semver(&version.node) else {
        return true;
    };
    ctx.report(
        Diagnostic::error(
            code::INVALID_VERSION,
            format!("`{}` is not a semantic version", version.node),
            version.span,
        )
        .with_label(problem)
        .with_help("write MAJOR.MINOR.PATCH, e.g. \"0.1.0\" or \"1.2.0-beta.1\""),
    );
    false
}

/// Semantic Versioning 2.0.0: `MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`.
fn semver(text: &str) -> Result<(), &'static str> {
    let (rest, build) = match text.split_once('+') {
        Some((rest, build)) => (rest, Some(build)),
        None => (text, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (rest, None),
    };
    let numbers: Vec<&str> = core.split('.').collect();
    if numbers.len() != 3 {
        return Err("expected three numbers separated by dots");
    }
    if !numbers.iter().all(|number| numeric_identifier(number)) {
        return Err("each number must be digits without leading zeros");
    }
    let identifiers_ok = |part: &str, numeric_rule: bool| {
        part.split('.').all(|id| {
            !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !(numeric_rule
                    && id.bytes().all(|b| b.is_ascii_digit())
                    && !numeric_identifier(id))
        })
    };
    if pre.is_some_and(|pre| !identifiers_ok(pre, true)) {
        return Err("invalid pre-release part after `-`");
    }
    if build.is_some_and(|build| !identifiers_ok(build, false)) {
        return Err("invalid build part after `+`");
    }
    Ok(())
}

fn numeric_identifier(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'))
}

fn known_target(ctx: &mut Ctx, target: &ast::Ident) -> Option<ir::Target> {
    const TARGETS: [&str; 1] = ["python"];
    if target.node == "python" {
        return Some(ir::Target::Python);
    }
    let mut diagnostic = Diagnostic::error(
        code::UNKNOWN_TARGET,
        format!("unknown target `{}`", target.node),
        target.span,
    )
    .with_label("not a supported target");
    diagnostic = match suggest::closest(&target.node, TARGETS) {
        Some(close) => diagnostic.with_help(format!("did you mean `{close}`?")),
        None => diagnostic.with_help("the supported targets are: python"),
    };
    ctx.report(diagnostic);
    None
}

#[cfg(test)]
mod tests {
    use super::semver;

    #[test]
    fn semver_accepts_and_rejects() {
        for good in ["0.1.0", "1.2.3-beta.1", "1.0.0+build.5", "10.20.30-rc.1+x"] {
            assert_eq!(semver(good), Ok(()), "{good}");
        }
        for bad in [
            "1.0", "01.0.0", "1.0.0-", "1.0.0-01", "a.b.c", "1.0.0+", "1..0",
        ] {
            assert!(semver(bad).is_err(), "{bad}");
        }
    }
}
