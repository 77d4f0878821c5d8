//! The checker: every semantic rule of a parsed spec, all errors at once, and the lowering to
//! [`crate::ir`]. Each rule area lives in its own module; [`Ctx`] collects diagnostics and loads
//! fixture files (through [`World`], once per path).

pub(crate) mod code;
mod examples;
mod files;
mod metadata;
mod network;
pub(crate) mod policy;
mod quantity;
mod suggest;
mod tools;
mod types;
mod validate;
mod values;

use crate::ast;
use crate::{ir, Checked, Diagnostic, Span, World};
use std::collections::BTreeMap;

pub(crate) fn check(file_stem: &str, source: &str, world: &dyn World) -> Checked {
    let (file, mut diagnostics) = crate::parse(source);
    let ir = file.and_then(|file| {
        let mut ctx = Ctx::new(world);
        let ir = check_integration(&mut ctx, file_stem, &file.integration);
        diagnostics.append(&mut ctx.diagnostics);
        ir
    });
    diagnostics.sort_by(|a, b| {
        (a.span.start, a.span.end, a.code).cmp(&(b.span.start, b.span.end, b.code))
    });
    let has_errors = diagnostics.iter().any(Diagnostic::is_error);
    Checked {
        ir: if has_errors { None } else { ir },
        diagnostics,
    }
}

/// Diagnostics found so far, and the fixture files read so far.
pub(crate) struct Ctx<'w> {
    world: &'w dyn World,
    diagnostics: Vec<Diagnostic>,
    files: BTreeMap<String, Result<Vec<u8>, String>>,
}

impl<'w> Ctx<'w> {
    fn new(world: &'w dyn World) -> Self {
        Self {
            world,
            diagnostics: Vec::new(),
            files: BTreeMap::new(),
        }
    }

    fn report(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// The bytes of fixture `path`, read through the world at most once.
    fn read_file(&mut self, path: &str) -> &Result<Vec<u8>, String> {
        let world = self.world;
        self.files.entry(path.to_owned()).or_insert_with(|| {
            fixture_path_problem(path).map_or_else(|| world.read_fixture(path), Err)
        })
    }
}

/// Fixture paths stay inside the spec's directory: relative, without `..`.
fn fixture_path_problem(path: &str) -> Option<String> {
    if path.is_empty() {
        Some("the path is empty".to_owned())
    } else if path.starts_with('/') || path.starts_with('\\') || path.contains(':') {
        Some("fixture paths must be relative to the spec's directory".to_owned())
    } else if path.split(['/', '\\']).any(|part| part == "..") {
        Some("fixture paths must not leave the spec's directory (`..`)".to_owned())
    } else {
        None
    }
}

/// Checks one integration; returns its IR when lowering succeeded far enough to build one (the
/// caller drops it if any error was reported).
fn check_integration(
    ctx: &mut Ctx,
    file_stem: &str,
    integration: &ast::Integration,
) -> Option<ir::Integration> {
    let name = &integration.name;
    if name.node != file_stem {
        ctx.report(
            Diagnostic::error(
                code::NAME_MISMATCH,
                format!("integration `{}` is in a file named `{file_stem}.claw`", name.node),
                name.span,
            )
            .with_label("the integration's name")
            .with_help(format!(
                "rename the integration to `{file_stem}`, or the file to `{}.claw`: generated code and the lock entry are keyed by this name",
                name.node
            )),
        );
    }

    no_separator(ctx, "integration", name);

    let items = metadata::Items::collect(ctx, integration);
    let meta = metadata::check(ctx, &items, name.span);

    let types = types::TypeEnv::new(ctx, &items.type_defs);
    let mut validation = validate::Validation::default();
    let mut config =
        types.lower_record_or_empty(ctx, &mut validation, items.config.first().copied());
    let mut named = types.lower_named_types(ctx, &mut validation);

    let network = network::check_allowlist(ctx, &items.networks);
    let secrets = policy::check_secrets(ctx, &items.secrets, &network);
    let mounts = policy::check_mounts(ctx, &items.filesystems);
    let limits = policy::check_limits(ctx, &items.limits);

    let mut tools = tools::check_tools(
        ctx,
        &types,
        &mut validation,
        &items.tools,
        limits.timeout_ms,
    );
    let examples = examples::check_examples(
        ctx,
        &examples::Policy {
            tools: &tools,
            allowlist: &network,
            mounts: &mounts,
        },
        &mut validation,
        &items.examples,
    );

    let mut values = validation.run(ctx, &mut named, &mut config, &mut tools);
    let examples = examples
        .into_iter()
        .filter_map(|example| example.resolve(&mut values))
        .collect();

    warn_unused(ctx, &tools, &network, &items);

    let config_schema = crate::schema::document(&config, &named);
    let tools = tools
        .into_iter()
        .map(|(name, tool)| (name, tool.into_ir(&named)))
        .collect();
    Some(ir::Integration {
        name: name.node.clone(),
        version: meta.version?,
        summary: meta.summary?,
        target: meta.target?,
        secrets,
        network: network.endpoints(),
        mounts,
        limits,
        config: config_schema,
        types: named,
        tools,
        intent: meta.intent?,
        examples,
    })
}

/// Warnings about legal but suspicious specs: tools without examples, hosts nobody mentions.
fn warn_unused(
    ctx: &mut Ctx,
    tools: &BTreeMap<String, tools::CheckedTool>,
    network: &network::Allowlist,
    items: &metadata::Items,
) {
    let called: std::collections::BTreeSet<&str> = items
        .examples
        .iter()
        .filter_map(|example| example.call.as_ref().map(|call| call.tool.node.as_str()))
        .collect();
    for (name, tool) in tools {
        if !called.contains(name.as_str()) {
            ctx.report(
                Diagnostic::warning(
                    code::TOOL_WITHOUT_EXAMPLE,
                    format!("tool `{name}` has no example"),
                    tool.name_span,
                )
                .with_label("never called by an example")
                .with_help(format!(
                    "add `example \"...\" {{ call {name} {{ ... }} expect {{ ... }} }}`: examples are the acceptance tests of the generated code"
                )),
            );
        }
    }
    let intents: Vec<&str> = items
        .intents
        .iter()
        .map(|intent| intent.node.as_str())
        .collect();
    let fixture_hosts: Vec<String> = items
        .examples
        .iter()
        .flat_map(|example| &example.http)
        .filter_map(|http| network::parse_url(&http.url.node).ok())
        .map(|url| url.host)
        .collect();
    for entry in network.entries() {
        let mentioned = fixture_hosts
            .iter()
            .any(|host| network::host_matches(&entry.host, host))
            || intents
                .iter()
                .any(|intent| intent.contains(entry.host.trim_start_matches("*.")));
        if !mentioned {
            ctx.report(
                Diagnostic::warning(
                    code::UNMENTIONED_HOST,
                    format!("no example fixture or intent text mentions `{}`", entry.host),
                    entry.span,
                )
                .with_label("allowlisted but never used")
                .with_help("remove the entry if the integration does not need it, or add an example whose `http` fixture calls it"),
            );
        }
    }
}

/// E0015 for `name` defined again at `span`.
/// The gateway names a tool `<integration>__<tool>`; with no `__` inside either name, that
/// splits back one way only.
fn no_separator(ctx: &mut Ctx, kind: &str, name: &ast::Ident) {
    if name.node.contains("__") {
        ctx.report(
            Diagnostic::error(
                code::RESERVED_SEPARATOR,
                format!("{kind} name `{}` contains `__`", name.node),
                name.span,
            )
            .with_label("`__` separates the integration from the tool in the gateway's tool names")
            .with_help(format!(
                "use a single `_`: `{}`",
                name.node
                    .split('_')
                    .filter(|part| !part.is_empty())
                    .collect::<Vec<_>>()
                    .join("_")
            )),
        );
    }
}

fn duplicate(kind: &str, name: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::error(
        code::DUPLICATE_NAME,
        format!("{kind} `{name}` is defined more than once"),
        span,
    )
    .with_label("defined again here")
    .with_secondary(first, "first defined here")
    .with_help(format!(
        "rename or remove one of the two: each {kind} needs its own name"
    ))
}

/// Remembers the first definition of each name and reports later ones as duplicates.
struct FirstSeen<'a> {
    kind: &'static str,
    first: BTreeMap<&'a str, Span>,
}

impl<'a> FirstSeen<'a> {
    fn new(kind: &'static str) -> Self {
        Self {
            kind,
            first: BTreeMap::new(),
        }
    }

    /// `true` the first time `name` is seen; reports a duplicate every other time.
    fn first(&mut self, ctx: &mut Ctx, name: &'a str, span: Span) -> bool {
        match self.first.get(name) {
            Some(first) => {
                ctx.report(duplicate(self.kind, name, span, *first));
                false
            }
            None => {
                self.first.insert(name, span);
                true
            }
        }
    }
}
