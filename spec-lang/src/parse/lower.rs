//! Lowers pest's pairs into the owned AST: one function per grammar rule.
//!
//! The grammar guarantees each pair's shape, so a mismatch is a bug in this file, not in the
//! input; it still must not panic, so every step returns `Option` and the caller reports `None`.

use super::{codes, strings, Rule};
use crate::ast::*;
use crate::{Diagnostic, Span};
use pest::iterators::{Pair, Pairs};
use std::iter::Peekable;

pub(super) struct Lower<'s> {
    source: &'s str,
    /// All comments, in source order (for `///` field docs).
    comments: &'s [Comment],
    pub diagnostics: Vec<Diagnostic>,
}

type P<'i> = Pair<'i, Rule>;

/// The meaningful children of a pair: keyword and punctuation tokens are skipped.
struct Children<'i> {
    pairs: Peekable<Pairs<'i, Rule>>,
}

impl<'i> Children<'i> {
    fn of(pair: P<'i>) -> Self {
        Self {
            pairs: pair.into_inner().peekable(),
        }
    }

    fn skip_tokens(&mut self) {
        while self
            .pairs
            .peek()
            .is_some_and(|pair| is_token(pair.as_rule()))
        {
            self.pairs.next();
        }
    }

    /// The next child if it is a `rule` (`None` either when it is missing or is something else).
    fn next_of(&mut self, rule: Rule) -> Option<P<'i>> {
        self.skip_tokens();
        self.pairs.next_if(|pair| pair.as_rule() == rule)
    }
}

impl<'i> Iterator for Children<'i> {
    type Item = P<'i>;

    fn next(&mut self) -> Option<P<'i>> {
        self.skip_tokens();
        self.pairs.next()
    }
}

fn is_token(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::EOI
            | Rule::lbrace
            | Rule::rbrace
            | Rule::lbracket
            | Rule::rbracket
            | Rule::lparen
            | Rule::rparen
            | Rule::colon
            | Rule::comma
            | Rule::eq
            | Rule::pipe
            | Rule::arrow
            | Rule::kw_integration
            | Rule::kw_version
            | Rule::kw_summary
            | Rule::kw_target
            | Rule::kw_intent
            | Rule::kw_secret
            | Rule::kw_inject
            | Rule::kw_into
            | Rule::kw_plaintext
            | Rule::kw_network
            | Rule::kw_allow
            | Rule::kw_filesystem
            | Rule::kw_mount
            | Rule::kw_at
            | Rule::kw_limits
            | Rule::kw_config
            | Rule::kw_type
            | Rule::kw_tool
            | Rule::kw_description
            | Rule::kw_input
            | Rule::kw_output
            | Rule::kw_approval
            | Rule::kw_rate
            | Rule::kw_per
            | Rule::kw_timeout
            | Rule::kw_example
            | Rule::kw_call
            | Rule::kw_http
            | Rule::kw_body
            | Rule::kw_expect
            | Rule::kw_error
            | Rule::kw_file
            | Rule::kw_files
    )
}

impl<'s> Lower<'s> {
    pub(super) fn new(source: &'s str, comments: &'s [Comment]) -> Self {
        Self {
            source,
            comments,
            diagnostics: Vec::new(),
        }
    }

    pub(super) fn file(&mut self, pair: P<'_>) -> Option<Integration> {
        let integration = Children::of(pair).next_of(Rule::integration)?;
        self.integration(integration)
    }

    fn integration(&mut self, pair: P<'_>) -> Option<Integration> {
        let span = self.span_of(&pair);
        let mut children = Children::of(pair);
        let name = self.ident(children.next_of(Rule::ident)?);
        let items = children
            .map(|item| self.item(item))
            .collect::<Option<_>>()?;
        Some(Integration { name, items, span })
    }

    fn item(&mut self, pair: P<'_>) -> Option<Item> {
        let rule = pair.as_rule();
        let mut children = Children::of(pair.clone());
        Some(match rule {
            Rule::version => Item::Version(self.string(children.next_of(Rule::string)?)?),
            Rule::summary => Item::Summary(self.string(children.next_of(Rule::string)?)?),
            Rule::target => Item::Target(self.ident(children.next_of(Rule::ident)?)),
            Rule::intent => Item::Intent(self.string(children.next_of(Rule::string)?)?),
            Rule::secret => Item::Secret(self.secret(pair)?),
            Rule::network => Item::Network(self.network(pair)?),
            Rule::filesystem => Item::Filesystem(self.filesystem(pair)?),
            Rule::limits => Item::Limits(self.limits(pair)?),
            Rule::config => Item::Config(self.record(children.next_of(Rule::record)?)?),
            Rule::type_def => Item::TypeDef(self.type_def(pair)?),
            Rule::tool => Item::Tool(self.tool(pair)?),
            Rule::example => Item::Example(self.example(pair)?),
            _ => return None,
        })
    }

    fn secret(&mut self, pair: P<'_>) -> Option<Secret> {
        let span = self.span_of(&pair);
        let mut children = Children::of(pair);
        let name = self.ident(children.next_of(Rule::ident)?);
        let mut injections = Vec::new();
        let mut plaintext = Vec::new();
        for item in children {
            match item.as_rule() {
                Rule::injection => injections.push(self.injection(item)?),
                Rule::plaintext => plaintext.push(self.plaintext(item)?),
                _ => return None,
            }
        }
        Some(Secret {
            name,
            injections,
            plaintext,
            span,
        })
    }

    fn plaintext(&mut self, pair: P<'_>) -> Option<Plaintext> {
        let span = self.span_of(&pair);
        let hosts = self.host_list(Children::of(pair).next_of(Rule::host_list)?)?;
        Some(Plaintext { hosts, span })
    }

    fn injection(&mut self, pair: P<'_>) -> Option<Injection> {
        let span = self.span_of(&pair);
        let mut children = Children::of(pair);
        let kind = match children.next_of(Rule::injection_kind)?.as_str() {
            "header" => InjectionKind::Header,
            _ => InjectionKind::Query,
        };
        let name = self.string(children.next_of(Rule::string)?)?;
        let template = match children.next_of(Rule::injection_template) {
            Some(template) => Some(self.string(Children::of(template).next_of(Rule::string)?)?),
            None => None,
        };
        let hosts = self.host_list(children.next_of(Rule::host_list)?)?;
        Some(Injection {
            kind,
            name,
            template,
            hosts,
            span,
        })
    }

    fn host_list(&mut self, pair: P<'_>) -> Option<Vec<Spanned<String>>> {
        Children::of(pair).map(|host| self.string(host)).collect()
    }

    fn network(&mut self, pair: P<'_>) -> Option<Network> {
        let span = self.span_of(&pair);
        let mut allow = Vec::new();
        for rule in Children::of(pair) {
            allow.extend(self.host_list(Children::of(rule).next_of(Rule::host_list)?)?);
        }
        Some(Network { allow, span })
    }

    fn filesystem(&mut self, pair: P<'_>) -> Option<Filesystem> {
        let span = self.span_of(&pair);
        let mounts = Children::of(pair)
            .map(|mount| self.mount(mount))
            .collect::<Option<_>>()?;
        Some(Filesystem { mounts, span })
    }

    fn mount(&mut self, pair: P<'_>) -> Option<MountDecl> {
        let span = self.span_of(&pair);
        let mut children = Children::of(pair);
        let source = self.string(children.next_of(Rule::string)?)?;
        let target = self.string(children.next_of(Rule::string)?)?;
        let mode_pair = children.next_of(Rule::mount_mode)?;
        let mode = if mode_pair.as_str() == "rw" {
            MountMode::ReadWrite
        } else {
            MountMode::ReadOnly
        };
        Some(MountDecl {
            source,
            target,
            mode: Spanned::new(mode, self.span_of(&mode_pair)),
            span,
        })
    }

    fn type_def(&mut self, pair: P<'_>) -> Option<TypeDef> {
        let span = self.span_of(&pair);
        let mut children = Children::of(pair);
        let name = self.ident(children.next_of(Rule::ident)?);
        let ty = match children.next()? {
            record if record.as_rule() == Rule::record => {
                let record_span = self.span_of(&record);
                TypeExpr {
                    kind: TypeKind::Record(self.record(record)?),
                    constraints: Vec::new(),
                    span: record_span,
                }
            }
            type_expr => self.type_expr(type_expr)?,
        };
        Some(TypeDef { name, ty, span })
    }

    fn record(&mut self, pair: P<'_>) -> Option<Record> {
        let span = self.span_of(&pair);
        let fields = Children::of(pair)
            .map(|field| self.field(field))
            .collect::<Option<_>>()?;
        Some(Record { fields, span })
    }

    fn field(&mut self, pair: P<'_>) -> Option<Field> {
        let span = self.span_of(&pair);
        let mut children = Children::of(pair);
        let name = self.ident(children.next_of(Rule::ident)?);
        let optional = children.next_of(Rule::optional_mark).is_some();
        let ty = self.type_expr(children.next_of(Rule::type_expr)?)?;
        let default = match children.next_of(Rule::field_default) {
            Some(default) => Some(self.value(Children::of(default).next_of(Rule::value)?)?),
            None => None,
        };
        let doc = self.doc_comment(span.start);
        Some(Field {
            name,
            optional,
            doc,
            ty,
            default,
            span,
        })
    }

    fn type_expr(&mut self, pair: P<'_>) -> Option<TypeExpr> {
        let span = self.span_of(&pair);
        let mut children = Children::of(pair);
        let kind_pair = children.next()?;
        let kind = match kind_pair.as_rule() {
            Rule::type_name => {
                TypeKind::Name(self.ident(Children::of(kind_pair).next_of(Rule::ident)?))
            }
            Rule::list_type => TypeKind::List(Box::new(
                self.type_expr(Children::of(kind_pair).next_of(Rule::type_expr)?)?,
            )),
            Rule::record => TypeKind::Record(self.record(kind_pair)?),
            Rule::union_type => TypeKind::Union(
                Children::of(kind_pair)
                    .map(|literal| self.literal(literal))
                    .collect::<Option<_>>()?,
            ),
            _ => return None,
        };
        let constraints = children
            .map(|constraint| self.constraint(constraint))
            .collect::<Option<_>>()?;
        Some(TypeExpr {
            kind,
            constraints,
            span,
        })
    }

    fn literal(&mut self, pair: P<'_>) -> Option<Spanned<Literal>> {
        let span = self.span_of(&pair);
        let literal = match pair.as_rule() {
            Rule::string => Literal::String(self.string(pair)?.node),
            Rule::number => Literal::Number(pair.as_str().to_owned()),
            Rule::boolean => Literal::Bool(pair.as_str() == "true"),
            _ => return None,
        };
        Some(Spanned::new(literal, span))
    }

    fn constraint(&mut self, pair: P<'_>) -> Option<Constraint> {
        let span = self.span_of(&pair);
        let mut children = Children::of(pair.clone());
        let Some(name) = children.next_of(Rule::ident) else {
            // `unique`: its keyword token is the whole constraint.
            let keyword = pair
                .into_inner()
                .find(|child| child.as_rule() == Rule::kw_unique)?;
            return Some(Constraint {
                name: self.ident(keyword),
                args: Vec::new(),
                span,
            });
        };
        let args = children.map(|arg| self.value(arg)).collect::<Option<_>>()?;
        Some(Constraint {
            name: self.ident(name),
            args,
            span,
        })
    }

    fn tool(&mut self, pair: P<'_>) -> Option<Tool> {
        let span = self.span_of(&pair);
        let mut children = Children::of(pair);
        let name = self.ident(children.next_of(Rule::ident)?);
        let items = children
            .map(|item| self.tool_item(item))
            .collect::<Option<_>>()?;
        Some(Tool { name, items, span })
    }

    fn tool_item(&mut self, pair: P<'_>) -> Option<ToolItem> {
        let item_span = self.span_of(&pair);
        let rule = pair.as_rule();
        let mut children = Children::of(pair);
        Some(match rule {
            Rule::description => {
                ToolItem::Description(self.string(children.next_of(Rule::string)?)?)
            }
            Rule::input => ToolItem::Input(self.record(children.next_of(Rule::record)?)?),
            Rule::output => ToolItem::Output(self.record(children.next_of(Rule::record)?)?),
            Rule::approval => {
                let mode = children.next_of(Rule::approval_mode)?;
                ToolItem::Approval(Spanned::new(
                    mode.as_str() == "required",
                    self.span_of(&mode),
                ))
            }
            Rule::rate => {
                let count = children.next_of(Rule::rate_count)?;
                let per = self.ident(children.next_of(Rule::ident)?);
                ToolItem::Rate(Rate {
                    count: self.text(&count),
                    per,
                    span: item_span,
                })
            }
            Rule::tool_timeout => {
                ToolItem::Timeout(self.quantity(children.next_of(Rule::quantity)?)?)
            }
            _ => return None,
        })
    }

    fn example(&mut self, pair: P<'_>) -> Option<Example> {
        let span = self.span_of(&pair);
        let mut children = Children::of(pair);
        let name = self.string(children.next_of(Rule::string)?)?;
        let mut example = Example {
            name,
            config: None,
            call: None,
            http: Vec::new(),
            files: Vec::new(),
            expect: None,
            span,
        };
        for clause in children {
            let clause_span = self.span_of(&clause);
            match clause.as_rule() {
                Rule::example_config => {
                    let config = self.value(Children::of(clause).next_of(Rule::object)?)?;
                    self.set_once(&mut example.config, config, "config", clause_span);
                }
                Rule::call => {
                    let call = self.call(clause)?;
                    self.set_once(&mut example.call, call, "call", clause_span);
                }
                Rule::http => example.http.push(self.http(clause)?),
                Rule::files => example.files.push(self.files(clause)?),
                Rule::expect => {
                    let expect = self.expect(clause)?;
                    self.set_once(&mut example.expect, expect, "expect", clause_span);
                }
                _ => return None,
            }
        }
        // `before` clauses first, each side in source order: the order the formatter prints.
        example.files.sort_by_key(|clause| clause.phase.node);
        Some(example)
    }

    /// An example has at most one `config`, `call` and `expect`; a second one is reported and
    /// dropped (the first one stays, so later checks still see a sensible example).
    fn set_once<T>(&mut self, slot: &mut Option<T>, value: T, clause: &str, clause_span: Span) {
        if slot.is_none() {
            *slot = Some(value);
            return;
        }
        self.diagnostics.push(
            Diagnostic::error(
                codes::DUPLICATE_CLAUSE,
                format!("this example already has a `{clause}` clause"),
                clause_span,
            )
            .with_label(format!("second `{clause}`"))
            .with_help(format!(
                "an example has at most one `{clause}`; split it into two examples"
            )),
        );
    }

    fn call(&mut self, pair: P<'_>) -> Option<Call> {
        let span = self.span_of(&pair);
        let mut children = Children::of(pair);
        let tool = self.ident(children.next_of(Rule::ident)?);
        let args = self.value(children.next_of(Rule::object)?)?;
        Some(Call { tool, args, span })
    }

    fn files(&mut self, pair: P<'_>) -> Option<FilesClause> {
        let span = self.span_of(&pair);
        let mut children = Children::of(pair);
        let mount = self.string(children.next_of(Rule::string)?)?;
        let phase_pair = children.next_of(Rule::files_phase)?;
        let phase = if phase_pair.as_str() == "after" {
            FilesPhase::After
        } else {
            FilesPhase::Before
        };
        let entries = children
            .map(|entry| self.file_entry(entry))
            .collect::<Option<_>>()?;
        Some(FilesClause {
            mount,
            phase: Spanned::new(phase, self.span_of(&phase_pair)),
            entries,
            span,
        })
    }

    fn file_entry(&mut self, pair: P<'_>) -> Option<FileEntry> {
        let span = self.span_of(&pair);
        let mut children = Children::of(pair);
        let path = self.string(children.next_of(Rule::string)?)?;
        let contents = self.value(children.next()?)?;
        Some(FileEntry {
            path,
            contents,
            span,
        })
    }

    fn http(&mut self, pair: P<'_>) -> Option<HttpFixture> {
        let span = self.span_of(&pair);
        let mut children = Children::of(pair);
        let method = self.ident(children.next_of(Rule::ident)?);
        let url = self.string(children.next_of(Rule::string)?)?;
        let request_body = match children.next_of(Rule::request_body) {
            Some(body) => Some(self.body(body)?),
            None => None,
        };
        let status = self.text(&children.next_of(Rule::status)?);
        let response = match children.next_of(Rule::response_body) {
            Some(body) => Some(self.body(body)?),
            None => None,
        };
        Some(HttpFixture {
            method,
            url,
            request_body,
            status,
            response,
            span,
        })
    }

    fn body(&mut self, pair: P<'_>) -> Option<Body> {
        let span = self.span_of(&pair);
        let mut children = Children::of(pair);
        let kind = if children.next_of(Rule::body_kind)?.as_str() == "json" {
            BodyKind::Json
        } else {
            BodyKind::Text
        };
        let value = self.value(children.next_of(Rule::value)?)?;
        Some(Body { kind, value, span })
    }

    fn expect(&mut self, pair: P<'_>) -> Option<Expect> {
        let inner = Children::of(pair).next()?;
        Some(match inner.as_rule() {
            Rule::expect_error => {
                Expect::Error(self.string(Children::of(inner).next_of(Rule::string)?)?)
            }
            _ => Expect::Output(self.value(inner)?),
        })
    }

    /// A `value` pair, or one of its alternatives directly (`object` where only objects are allowed).
    fn value(&mut self, pair: P<'_>) -> Option<Value> {
        let pair = if pair.as_rule() == Rule::value {
            Children::of(pair).next()?
        } else {
            pair
        };
        let span = self.span_of(&pair);
        let kind = match pair.as_rule() {
            Rule::null => ValueKind::Null,
            Rule::boolean => ValueKind::Bool(pair.as_str() == "true"),
            Rule::number => ValueKind::Number(pair.as_str().to_owned()),
            Rule::string => ValueKind::String(self.string(pair)?.node),
            Rule::word => ValueKind::Word(pair.as_str().to_owned()),
            Rule::list => ValueKind::List(
                Children::of(pair)
                    .map(|item| self.value(item))
                    .collect::<Option<_>>()?,
            ),
            Rule::object => ValueKind::Object(
                Children::of(pair)
                    .map(|entry| self.object_entry(entry))
                    .collect::<Option<_>>()?,
            ),
            Rule::file_ref => {
                ValueKind::File(self.string(Children::of(pair).next_of(Rule::string)?)?)
            }
            _ => return None,
        };
        Some(Value { kind, span })
    }

    fn object_entry(&mut self, pair: P<'_>) -> Option<(Spanned<String>, Value)> {
        let mut children = Children::of(pair);
        let key_pair = children.next()?;
        let key = match key_pair.as_rule() {
            Rule::ident => self.ident(key_pair),
            _ => self.string(key_pair)?,
        };
        let value = self.value(children.next_of(Rule::value)?)?;
        Some((key, value))
    }

    /// A `string` pair: escapes decoded for `"..."`, dedented for `"""..."""`.
    fn string(&mut self, pair: P<'_>) -> Option<Spanned<String>> {
        let span = self.span_of(&pair);
        let literal = pair.into_inner().next()?;
        let content = literal.into_inner().next()?;
        let value = match content.as_rule() {
            Rule::triple_content => strings::dedent(content.as_str()),
            _ => strings::decode_escapes(
                content.as_str(),
                content.as_span().start(),
                &mut self.diagnostics,
            ),
        };
        Some(Spanned::new(value, span))
    }

    /// The `///` lines directly above `field_start`, each on its own line with no blank line
    /// between them and the field.
    fn doc_comment(&self, field_start: usize) -> Option<String> {
        let before = self
            .comments
            .partition_point(|comment| comment.span.start < field_start);
        let mut next_start = field_start;
        let mut lines = Vec::new();
        for comment in self.comments[..before].iter().rev() {
            let Some(doc) = comment
                .text
                .strip_prefix('/')
                .filter(|doc| !doc.starts_with('/'))
            else {
                break;
            };
            let gap = self.source.get(comment.span.end..next_start)?;
            let own_line = self
                .source
                .get(..comment.span.start)?
                .rsplit('\n')
                .next()?
                .trim()
                .is_empty();
            if !own_line || !gap.trim().is_empty() || gap.matches('\n').count() != 1 {
                break;
            }
            lines.push(doc.strip_prefix(' ').unwrap_or(doc).trim_end());
            next_start = comment.span.start;
        }
        if lines.is_empty() {
            return None;
        }
        lines.reverse();
        Some(lines.join("\n"))
    }

    fn limits(&self, pair: P<'_>) -> Option<Limits> {
        let span = self.span_of(&pair);
        let entries = Children::of(pair)
            .map(|entry| self.limit_entry(entry))
            .collect::<Option<_>>()?;
        Some(Limits { entries, span })
    }

    fn limit_entry(&self, pair: P<'_>) -> Option<LimitEntry> {
        let span = self.span_of(&pair);
        let mut children = Children::of(pair);
        let key = self.ident(children.next_of(Rule::ident)?);
        let value = self.quantity(children.next_of(Rule::quantity)?)?;
        Some(LimitEntry { key, value, span })
    }

    fn quantity(&self, pair: P<'_>) -> Option<Spanned<Quantity>> {
        let span = self.span_of(&pair);
        let mut children = Children::of(pair);
        let number = children.next_of(Rule::quantity_number)?.as_str().to_owned();
        let unit = children
            .next_of(Rule::quantity_unit)
            .map_or_else(String::new, |unit| unit.as_str().to_owned());
        Some(Spanned::new(Quantity { number, unit }, span))
    }

    fn ident(&self, pair: P<'_>) -> Ident {
        self.text(&pair)
    }

    fn text(&self, pair: &P<'_>) -> Spanned<String> {
        Spanned::new(pair.as_str().to_owned(), self.span_of(pair))
    }

    /// The source span of `pair` without the whitespace and comments pest includes at its end
    /// (a rule ending in an optional part, such as a field's `= default`, swallows the trivia
    /// that follows it).
    fn span_of(&self, pair: &P<'_>) -> Span {
        let start = pair.as_span().start();
        let mut end = pair.as_span().end();
        loop {
            let text = self.source.get(start..end).unwrap_or_default();
            end = start + text.trim_end_matches([' ', '\t', '\r', '\n']).len();
            let before = self
                .comments
                .partition_point(|comment| comment.span.start < end);
            match before
                .checked_sub(1)
                .and_then(|last| self.comments.get(last))
            {
                Some(comment) if comment.span.end >= end => end = comment.span.start,
                _ => return Span::new(start, end),
            }
        }
    }
}
