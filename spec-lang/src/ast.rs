//! The owned syntax tree of one `.claw` file. Every node carries the byte span it came from.
//! Produced by [`crate::parse`]; no pest type ever appears here.

use crate::diagnostic::Span;
use serde::Serialize;

/// A value with the span of its source text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spanned<T> {
    pub node: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(node: T, span: Span) -> Self {
        Self { node, span }
    }
}

pub type Ident = Spanned<String>;

/// A `//` comment, kept so that the formatter can put it back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comment {
    /// The text after `//`, without the trailing newline.
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct File {
    pub integration: Integration,
    pub comments: Vec<Comment>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Integration {
    pub name: Ident,
    /// Items in source order (the formatter keeps the order; the checker does not care).
    pub items: Vec<Item>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Item {
    /// `version "0.1.0"`
    Version(Spanned<String>),
    /// `summary "..."`
    Summary(Spanned<String>),
    /// `target python`
    Target(Ident),
    Secret(Secret),
    Network(Network),
    Filesystem(Filesystem),
    Limits(Limits),
    /// `config { repo: string pattern("...") }`
    Config(Record),
    TypeDef(TypeDef),
    Tool(Tool),
    /// `intent """..."""` (already dedented)
    Intent(Spanned<String>),
    Example(Example),
}

/// `secret NAME { inject header "Authorization" = "Bearer {value}" into "api.github.com", "x.y" }`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Secret {
    pub name: Ident,
    pub injections: Vec<Injection>,
    /// `plaintext "h"` lines, in source order.
    pub plaintext: Vec<Plaintext>,
    pub span: Span,
}

/// `plaintext "homeassistant.local"`: the secret may travel to these hosts over plain HTTP.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plaintext {
    /// Each must be one of the secret's injection hosts, exactly.
    pub hosts: Vec<Spanned<String>>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Injection {
    pub kind: InjectionKind,
    /// The header or query-parameter name.
    pub name: Spanned<String>,
    /// The value template; `{value}` is replaced by the secret. Absent means the bare value.
    pub template: Option<Spanned<String>>,
    /// Hosts the secret may be sent to (each must be allowlisted in `network`).
    pub hosts: Vec<Spanned<String>>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum InjectionKind {
    Header,
    Query,
}

/// `network { allow "api.github.com:443" }`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Network {
    /// Raw `host:port` strings; the checker parses and validates them.
    pub allow: Vec<Spanned<String>>,
    pub span: Span,
}

/// `filesystem { mount "/srv/notes" at "/notes" ro }`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Filesystem {
    pub mounts: Vec<MountDecl>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MountDecl {
    pub source: Spanned<String>,
    pub target: Spanned<String>,
    pub mode: Spanned<MountMode>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum MountMode {
    ReadOnly,
    ReadWrite,
}

/// `limits { memory 128MiB  pids 32  cpu 0.5  timeout 20s }`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Limits {
    pub entries: Vec<LimitEntry>,
    pub span: Span,
}

/// One `key quantity` pair; the checker knows which keys exist and what units they take.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LimitEntry {
    pub key: Ident,
    pub value: Spanned<Quantity>,
    pub span: Span,
}

/// A number with an optional unit suffix as written: `128MiB`, `20s`, `0.5`, `32`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quantity {
    /// The digits as written (`"0.5"`, `"128"`), so nothing is lost to float rounding.
    pub number: String,
    /// The unit as written (`"MiB"`, `"s"`), empty when none.
    pub unit: String,
}

/// `type Issue { ... }` or `type State = "open" | "closed"`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TypeDef {
    pub name: Ident,
    pub ty: TypeExpr,
    pub span: Span,
}

/// A brace-delimited list of fields; commas between fields are optional.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    pub fields: Vec<Field>,
    pub span: Span,
}

/// `name: type constraints = default` ; `name?: type` marks the field optional.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Field {
    pub name: Ident,
    pub optional: bool,
    /// `/// doc` comment lines directly above the field become its JSON Schema description.
    pub doc: Option<String>,
    pub ty: TypeExpr,
    pub default: Option<Value>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TypeExpr {
    pub kind: TypeKind,
    /// `min(1)`, `pattern("...")`, `format(uri)`, ... in source order.
    pub constraints: Vec<Constraint>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum TypeKind {
    /// `string`, `int`, `float`, `bool`, `any`, or a named type — the checker resolves which.
    Name(Ident),
    /// `[T]`
    List(Box<TypeExpr>),
    /// `{ a: T, b: U }`
    Record(Record),
    /// `"open" | "closed"` (string, number or bool literals)
    Union(Vec<Spanned<Literal>>),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Constraint {
    pub name: Ident,
    pub args: Vec<Value>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Literal {
    String(String),
    /// As written, to keep integer/float distinction and exact digits.
    Number(String),
    Bool(bool),
}

/// A JSON-like value: used for defaults, constraint arguments, example data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Value {
    pub kind: ValueKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum ValueKind {
    Null,
    Bool(bool),
    /// As written.
    Number(String),
    String(String),
    /// A bare word such as `uri` in `format(uri)`.
    Word(String),
    List(Vec<Value>),
    /// Keys are bare identifiers or strings; duplicates are reported by the checker.
    Object(Vec<(Spanned<String>, Value)>),
    /// `file("fixtures/x.json")` — contents are loaded through [`crate::World`].
    File(Spanned<String>),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tool {
    pub name: Ident,
    pub items: Vec<ToolItem>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum ToolItem {
    Description(Spanned<String>),
    Input(Record),
    Output(Record),
    /// `approval required` | `approval none`
    Approval(Spanned<bool>),
    /// `rate 10 per minute`
    Rate(Rate),
    /// `timeout 5s`
    Timeout(Spanned<Quantity>),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rate {
    pub count: Spanned<String>,
    /// `second`, `minute`, `hour` or `day` (checked by the checker).
    pub per: Ident,
    pub span: Span,
}

/// `example "name" { config {..} files .. before {..} call tool {..} http ... expect ... files .. after {..} }`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Example {
    pub name: Spanned<String>,
    pub config: Option<Value>,
    pub call: Option<Call>,
    pub http: Vec<HttpFixture>,
    /// `files "/mount" before|after { ... }` clauses: the `before` ones, then the `after` ones,
    /// each in source order.
    pub files: Vec<FilesClause>,
    pub expect: Option<Expect>,
    pub span: Span,
}

/// `files "/notes" before { "ideas.md" = "..." "work/todo.md" = file("fixtures/notes/todo.md") }`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FilesClause {
    /// The target of a declared `filesystem` mount.
    pub mount: Spanned<String>,
    pub phase: Spanned<FilesPhase>,
    pub entries: Vec<FileEntry>,
    pub span: Span,
}

/// Whether a `files` clause seeds the mount before the call or states what it holds after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum FilesPhase {
    Before,
    After,
}

/// `"work/todo.md" = "..."`: one file, by its path relative to the mount.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileEntry {
    pub path: Spanned<String>,
    /// A string or `file("...")` (the grammar allows nothing else).
    pub contents: Value,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Call {
    pub tool: Ident,
    /// An object value.
    pub args: Value,
    pub span: Span,
}

/// `http GET "https://..." [body json VALUE | body text "..."] -> 200 [json VALUE | text "..."]`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpFixture {
    pub method: Ident,
    pub url: Spanned<String>,
    pub request_body: Option<Body>,
    pub status: Spanned<String>,
    pub response: Option<Body>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Body {
    pub kind: BodyKind,
    /// Inline value or `file("...")`.
    pub value: Value,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum BodyKind {
    Json,
    Text,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Expect {
    /// `expect { ... }` — the tool's output must equal this value.
    Output(Value),
    /// `expect error "substring"` — the tool must fail with a message containing this.
    Error(Spanned<String>),
}
