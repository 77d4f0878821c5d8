//! The spec line a capability change comes from. The IR carries no spans (so that formatting
//! never changes a hash), so the construct is looked up again in the syntax tree.

use spec_lang::ast::{self, Item, ToolItem};
use spec_lang::Span;

use super::compare::Subject;

/// One spec's source, parsed once, to look lines up in.
pub struct SpecLines<'a> {
    source: &'a str,
    integration: Option<ast::Integration>,
}

impl<'a> SpecLines<'a> {
    pub fn new(source: &'a str) -> SpecLines<'a> {
        let (file, _) = spec_lang::parse(source);
        SpecLines {
            source,
            integration: file.map(|file| file.integration),
        }
    }

    /// The 1-based line of `subject`; the nearest enclosing construct when the exact one is
    /// not written (a default limit is the `limits` block, or the integration's line).
    pub fn line(&self, subject: &Subject) -> Option<usize> {
        let integration = self.integration.as_ref()?;
        let span = find(integration, subject).unwrap_or(integration.name.span);
        Some(spec_lang::line_col(self.source, span.start).0)
    }
}

fn find(integration: &ast::Integration, subject: &Subject) -> Option<Span> {
    let items = &integration.items;
    match subject {
        Subject::Integration => Some(integration.name.span),
        Subject::Host { endpoint } => items.iter().find_map(|item| match item {
            Item::Network(network) => Some(
                network
                    .allow
                    .iter()
                    .find(|allow| allow.node.to_ascii_lowercase() == *endpoint)
                    .map_or(network.span, |allow| allow.span),
            ),
            _ => None,
        }),
        Subject::Secret { secret } => secret_decl(items, secret).map(|s| s.name.span),
        Subject::SecretHost { secret, host } => secret_decl(items, secret).map(|decl| {
            decl.injections
                .iter()
                .flat_map(|injection| &injection.hosts)
                .find(|h| h.node.eq_ignore_ascii_case(host))
                .map_or(decl.span, |h| h.span)
        }),
        Subject::Plaintext { secret, host } => secret_decl(items, secret).map(|decl| {
            decl.plaintext
                .iter()
                .flat_map(|plaintext| &plaintext.hosts)
                .find(|h| h.node.eq_ignore_ascii_case(host))
                .map_or(decl.span, |h| h.span)
        }),
        Subject::Mount { target } => items.iter().find_map(|item| match item {
            Item::Filesystem(filesystem) => Some(
                filesystem
                    .mounts
                    .iter()
                    .find(|m| m.target.node.trim_end_matches('/') == target.trim_end_matches('/'))
                    .map_or(filesystem.span, |m| m.span),
            ),
            _ => None,
        }),
        Subject::Limit { key } => items.iter().find_map(|item| match item {
            Item::Limits(limits) => Some(
                limits
                    .entries
                    .iter()
                    .find(|entry| entry.key.node == *key)
                    .map_or(limits.span, |entry| entry.span),
            ),
            _ => None,
        }),
        Subject::Tool { tool } => tool_decl(items, tool).map(|t| t.name.span),
        Subject::Approval { tool } => tool_item(items, tool, |item| match item {
            ToolItem::Approval(approval) => Some(approval.span),
            _ => None,
        }),
        Subject::Rate { tool } => tool_item(items, tool, |item| match item {
            ToolItem::Rate(rate) => Some(rate.span),
            _ => None,
        }),
        Subject::ToolTimeout { tool } => tool_item(items, tool, |item| match item {
            ToolItem::Timeout(timeout) => Some(timeout.span),
            _ => None,
        }),
    }
}

fn secret_decl<'a>(items: &'a [Item], name: &str) -> Option<&'a ast::Secret> {
    items.iter().find_map(|item| match item {
        Item::Secret(secret) if secret.name.node == name => Some(secret),
        _ => None,
    })
}

fn tool_decl<'a>(items: &'a [Item], name: &str) -> Option<&'a ast::Tool> {
    items.iter().find_map(|item| match item {
        Item::Tool(tool) if tool.name.node == name => Some(tool),
        _ => None,
    })
}

/// The item `pick` finds in tool `name`, else the tool's own line (an unwritten approval or
/// rate is the tool's default).
fn tool_item(items: &[Item], name: &str, pick: impl Fn(&ToolItem) -> Option<Span>) -> Option<Span> {
    let tool = tool_decl(items, name)?;
    Some(tool.items.iter().find_map(pick).unwrap_or(tool.name.span))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"integration demo {
  version "0.1.0"
  summary "A demo."
  target python
  secret token {
    inject header "Authorization" = "Bearer {value}" into "api.example.com"
  }
  network {
    allow "api.example.com:443"
  }
  limits {
    memory 128MiB
  }
  tool post {
    description "Post."
    input { text: string }
    output { ok: bool }
    approval required
  }
}
"#;

    #[test]
    fn each_subject_finds_its_own_line() {
        let lines = SpecLines::new(SPEC);
        let at = |subject: Subject| lines.line(&subject);
        assert_eq!(
            at(Subject::Host {
                endpoint: "api.example.com:443".into()
            }),
            Some(9)
        );
        assert_eq!(
            at(Subject::SecretHost {
                secret: "token".into(),
                host: "api.example.com".into()
            }),
            Some(6)
        );
        assert_eq!(at(Subject::Limit { key: "memory" }), Some(12));
        // Not written: the limits block.
        assert_eq!(at(Subject::Limit { key: "pids" }), Some(11));
        assert_eq!(
            at(Subject::Approval {
                tool: "post".into()
            }),
            Some(18)
        );
        // No rate written: the tool's line.
        assert_eq!(
            at(Subject::Rate {
                tool: "post".into()
            }),
            Some(14)
        );
        assert_eq!(
            at(Subject::Mount {
                target: "/notes".into()
            }),
            Some(1)
        );
    }
}
