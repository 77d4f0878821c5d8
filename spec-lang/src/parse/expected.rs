//! Turns pest's failure ("positives": the rules it tried at the furthest position) into an E0001
//! diagnostic that names what was expected in the spec's own words, never in rule names.

use super::{codes, Rule};
use crate::{Diagnostic, Span};
use pest::error::{ErrorVariant, InputLocation};

pub(super) fn syntax_error(source: &str, error: &pest::error::Error<Rule>) -> Diagnostic {
    let at = match error.location {
        InputLocation::Pos(pos) => pos,
        InputLocation::Span((start, _)) => start,
    };
    let rules: &[Rule] = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => positives,
        ErrorVariant::CustomError { .. } => &[],
    };
    let mut expected: Vec<&'static str> = Vec::new();
    for &rule in rules {
        let name = describe(rule);
        if !expected.contains(&name) {
            expected.push(name);
        }
    }
    let found = token_at(source, at);
    let span = Span::new(at, at + found.len());
    let found_text = if found.is_empty() {
        "end of file".to_owned()
    } else {
        format!("`{}`", found.escape_debug())
    };

    if source.trim_start_matches('\u{feff}').trim().is_empty() {
        return Diagnostic::error(codes::SYNTAX_ERROR, "the file is empty", span)
            .with_label("expected `integration NAME { ... }`")
            .with_help("a spec declares one integration named after its file, e.g. `integration github_issues { version \"0.1.0\" }`");
    }
    let wanted = if expected.is_empty() {
        "something else".to_owned()
    } else {
        one_of(&expected)
    };
    // A long list is already in the message; the label under the source stays short.
    let label = if expected.len() <= 3 {
        format!("expected {wanted}")
    } else {
        "not valid here".to_owned()
    };
    let diagnostic = Diagnostic::error(
        codes::SYNTAX_ERROR,
        format!("expected {wanted}, found {found_text}"),
        span,
    )
    .with_label(label);
    match suggestion(found, rules) {
        Some(keyword) => diagnostic.with_help(format!("did you mean `{keyword}`?")),
        None => diagnostic.with_help(generic_help(
            source.get(..at).unwrap_or_default(),
            found,
            rules,
        )),
    }
}

/// A close keyword when the user wrote a misspelt one (`sumary` for `summary`).
fn suggestion(found: &str, rules: &[Rule]) -> Option<&'static str> {
    if !found.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    rules
        .iter()
        .filter_map(|&rule| keyword(rule))
        .map(|keyword| (strsim::jaro_winkler(found, keyword), keyword))
        .filter(|&(score, _)| score > 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, keyword)| keyword)
}

/// `before` is the source up to the error.
fn generic_help(before: &str, found: &str, rules: &[Rule]) -> String {
    if rules.contains(&Rule::EOI) && found.starts_with("integration") {
        return "a file holds exactly one integration; put the second one in its own file"
            .to_owned();
    }
    if rules
        .iter()
        .any(|rule| matches!(rule, Rule::quantity | Rule::quantity_number))
        && (found.starts_with(|c: char| c.is_ascii_alphabetic()) || unit_after_space(before))
    {
        return "write the unit right after the number, without a space: `128MiB`, `20s`"
            .to_owned();
    }
    if rules.contains(&Rule::rbrace) && found == "}" {
        return "a `{` was opened without being closed, or a `}` is missing before this one"
            .to_owned();
    }
    "see `clawc explain E0001` and docs/language.md for the syntax of each construct".to_owned()
}

/// Whether `before` ends in `128 MiB`: a number, a space, then a word (read as the next key).
fn unit_after_space(before: &str) -> bool {
    let trimmed = before.trim_end();
    let word = trimmed.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    word.len() < trimmed.len()
        && word.ends_with([' ', '\t'])
        && word.trim_end().ends_with(|c: char| c.is_ascii_digit())
}

/// The text of the token at `at`, for "found ..." (a word, a quoted string's start, one character).
fn token_at(source: &str, at: usize) -> &str {
    let Some(rest) = source.get(at..) else {
        return "";
    };
    let word_len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    if word_len > 0 {
        return &rest[..word_len.min(40)];
    }
    rest.chars().next().map_or("", |c| &rest[..c.len_utf8()])
}

fn one_of(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [only] => (*only).to_owned(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// The keyword a rule starts with, if any (for "did you mean").
fn keyword(rule: Rule) -> Option<&'static str> {
    let name = describe(rule);
    let inner = name.strip_prefix('`')?.strip_suffix('`')?;
    inner
        .chars()
        .all(|c| c.is_ascii_lowercase() || c == '_')
        .then_some(inner)
}

/// How a rule is called in messages. Exhaustive, so a new rule cannot go unnamed.
fn describe(rule: Rule) -> &'static str {
    match rule {
        Rule::EOI => "end of file",
        Rule::WHITESPACE => "whitespace",
        Rule::item => "an item such as `tool` or `example`",
        Rule::tool_item => "a tool clause such as `input` or `description`",
        Rule::example_item => "an example clause such as `call` or `expect`",
        Rule::literal => "a literal",
        Rule::ident_char => "a letter, digit or `_`",
        Rule::file | Rule::integration | Rule::kw_integration => "`integration`",
        Rule::version | Rule::kw_version => "`version`",
        Rule::summary | Rule::kw_summary => "`summary`",
        Rule::target | Rule::kw_target => "`target`",
        Rule::intent | Rule::kw_intent => "`intent`",
        Rule::secret | Rule::kw_secret => "`secret`",
        Rule::secret_item => "`inject` or `plaintext`",
        Rule::injection | Rule::kw_inject => "`inject`",
        Rule::plaintext | Rule::kw_plaintext => "`plaintext`",
        Rule::injection_kind => "`header` or `query`",
        Rule::injection_template => "`=`",
        Rule::host_list => "a host string",
        Rule::kw_into => "`into`",
        Rule::network | Rule::kw_network => "`network`",
        Rule::allow | Rule::kw_allow => "`allow`",
        Rule::filesystem | Rule::kw_filesystem => "`filesystem`",
        Rule::mount | Rule::kw_mount => "`mount`",
        Rule::kw_at => "`at`",
        Rule::mount_mode => "`ro` or `rw`",
        Rule::limits | Rule::kw_limits => "`limits`",
        Rule::limit_entry => "a limit such as `memory 128MiB`",
        Rule::config | Rule::example_config | Rule::kw_config => "`config`",
        Rule::type_def | Rule::kw_type => "`type`",
        Rule::record => "`{`",
        Rule::field => "a field (`name: type`)",
        Rule::optional_mark => "`?`",
        Rule::field_default => "`=`",
        Rule::type_expr | Rule::list_type | Rule::union_type | Rule::type_name => "a type",
        Rule::constraint => "a constraint such as `min(1)`",
        Rule::kw_unique => "`unique`",
        Rule::tool | Rule::kw_tool => "`tool`",
        Rule::description | Rule::kw_description => "`description`",
        Rule::input | Rule::kw_input => "`input`",
        Rule::output | Rule::kw_output => "`output`",
        Rule::approval | Rule::kw_approval => "`approval`",
        Rule::approval_mode => "`required` or `none`",
        Rule::rate | Rule::kw_rate => "`rate`",
        Rule::rate_count => "a whole number",
        Rule::kw_per => "`per`",
        Rule::tool_timeout | Rule::kw_timeout => "`timeout`",
        Rule::example | Rule::kw_example => "`example`",
        Rule::call | Rule::kw_call => "`call`",
        Rule::http | Rule::kw_http => "`http`",
        Rule::files | Rule::kw_files => "`files`",
        Rule::files_phase => "`before` or `after`",
        Rule::file_entry => "a file (`\"path\" = \"contents\"`)",
        Rule::request_body | Rule::kw_body => "`body`",
        Rule::response_body | Rule::body_kind => "`json` or `text`",
        Rule::status => "an HTTP status code",
        Rule::expect | Rule::kw_expect => "`expect`",
        Rule::expect_error | Rule::kw_error => "`error`",
        Rule::value | Rule::word => "a value",
        Rule::object => "an object `{ ... }`",
        Rule::object_entry => "an entry (`key: value`)",
        Rule::list => "a list `[ ... ]`",
        Rule::file_ref | Rule::kw_file => "`file(\"...\")`",
        Rule::null => "`null`",
        Rule::boolean => "`true` or `false`",
        Rule::number => "a number",
        Rule::quantity | Rule::quantity_number => "a quantity such as `128MiB`, `20s` or `32`",
        Rule::quantity_unit => "a unit",
        Rule::ident => "a name",
        Rule::string | Rule::triple_string | Rule::plain_string => "a string",
        Rule::triple_content | Rule::plain_content => "string contents",
        Rule::lbrace => "`{`",
        Rule::rbrace => "`}`",
        Rule::lbracket => "`[`",
        Rule::rbracket => "`]`",
        Rule::lparen => "`(`",
        Rule::rparen => "`)`",
        Rule::colon => "`:`",
        Rule::comma => "`,`",
        Rule::eq => "`=`",
        Rule::pipe => "`|`",
        Rule::arrow => "`->`",
    }
}
