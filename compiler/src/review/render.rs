//! A [`Review`] for a terminal, for one pull-request comment (Markdown), or for tools (JSON).

use std::fmt::Write as _;

use serde_json::json;

use super::compare::Class;
use super::diff::{FileDiff, IntegrationDiff, Located, Review, SignoffState, Status};

/// GitHub refuses comments over 65,536 characters; the rest is room for the cut note.
pub const MARKDOWN_LIMIT: usize = 60_000;

pub fn json(review: &Review) -> String {
    let unsigned: Vec<&str> = review
        .unsigned_widening()
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    let mut text = json!({
        "base": review.base,
        "head": review.head,
        "widening": review.widening(),
        "unsigned_widening": unsigned,
        "integrations": review.integrations,
        "project_files": review.project_files,
    })
    .to_string();
    text.push('\n');
    text
}

pub fn text(review: &Review) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "clawc diff: {} → {}", review.base, review.head);
    if review.integrations.is_empty() && review.project_files.is_empty() {
        let _ = writeln!(out, "no integration changed");
        return out;
    }
    for file in &review.project_files {
        let _ = writeln!(out, "\nWIDENING  {} changed: {}", file.path, file.why);
        out.push_str(&file.diff);
    }
    for integration in ordered(review) {
        let _ = writeln!(
            out,
            "\n{} ({})",
            integration.name,
            status(integration.status)
        );
        for problem in &integration.problems {
            let _ = writeln!(out, "  problem: {problem}");
        }
        if !integration.capabilities.is_empty() {
            let _ = writeln!(out, "  capabilities:");
            for located in &integration.capabilities {
                let _ = writeln!(
                    out,
                    "    {:<9} {}  ({})",
                    class_word(located.change.class),
                    located.change.text,
                    place(located)
                );
            }
        }
        for located in &integration.contract {
            let _ = writeln!(
                out,
                "  contract: {}  ({})",
                located.change.text,
                place(located)
            );
        }
        if let Some(line) = signoff_line(&integration.signoff, &integration.name) {
            let _ = writeln!(out, "  sign-off: {line}");
        }
        if let Some(scaffold) = &integration.scaffold {
            let _ = writeln!(
                out,
                "  scaffold: {} files re-rendered from new templates ({} → {})",
                scaffold.files,
                short(&scaffold.template_before),
                short(&scaffold.template_after)
            );
        }
        for field in &integration.provenance {
            let _ = writeln!(
                out,
                "  provenance: {} {} → {}",
                field.field, field.before, field.after
            );
        }
        for file in &integration.code {
            let _ = writeln!(out, "  {}", file_title(file));
            out.push_str(&file.diff);
        }
    }
    out
}

pub fn markdown(review: &Review) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## clawc diff against `{}`\n", review.base);
    if review.integrations.is_empty() && review.project_files.is_empty() {
        let _ = writeln!(out, "No integration changed.");
        return out;
    }
    let unsigned = review.unsigned_widening().len();
    let _ = writeln!(
        out,
        "**{} integration{} changed; {} widening{}{}.**\n",
        review.integrations.len(),
        plural(review.integrations.len()),
        review.widening(),
        plural(review.widening()),
        if unsigned > 0 {
            format!(
                " ({unsigned} integration{} without sign-off)",
                plural(unsigned)
            )
        } else {
            String::new()
        }
    );
    for file in &review.project_files {
        let _ = writeln!(
            out,
            "> ⚠️ **`{}` changed** — {}. Review it by hand:\n",
            file.path, file.why
        );
        let _ = writeln!(out, "{}", fenced("diff", &file.diff));
    }
    if !review.integrations.is_empty() {
        let _ = writeln!(out, "| integration | capabilities | code | sign-off |");
        let _ = writeln!(out, "| --- | --- | --- | --- |");
        for integration in ordered(review) {
            let _ = writeln!(
                out,
                "| `{}` ({}) | {} | {} | {} |",
                integration.name,
                status(integration.status),
                capability_summary(integration),
                code_summary(integration),
                match &integration.signoff {
                    SignoffState::NotNeeded => "—".to_owned(),
                    SignoffState::SignedBy(who) => format!("✅ {}", cell(who)),
                    SignoffState::Missing | SignoffState::Outdated(_) => "❌ needed".to_owned(),
                    SignoffState::Invalid(_) => "❌ invalid".to_owned(),
                }
            );
        }
        out.push('\n');
    }
    // Everything but the code is always shown; code sections fill what room is left.
    let mut sections: Vec<(String, Vec<String>)> = Vec::new();
    for integration in ordered(review) {
        let mut head = String::new();
        let _ = writeln!(
            head,
            "### `{}` ({})\n",
            integration.name,
            status(integration.status)
        );
        for problem in &integration.problems {
            let _ = writeln!(head, "- ❗ {}", cell(problem));
        }
        if !integration.capabilities.is_empty() {
            let _ = writeln!(head, "**Capabilities**\n");
            for located in &integration.capabilities {
                let mark = match located.change.class {
                    Class::Widening => "⚠️ **widening**",
                    Class::Narrowing => "narrowing",
                    Class::Neutral => "neutral",
                };
                let _ = writeln!(
                    head,
                    "- {mark}: {} — `{}`",
                    located.change.text,
                    place(located)
                );
            }
            head.push('\n');
        }
        if !integration.contract.is_empty() {
            let _ = writeln!(head, "**Tool contract** (shown; not a capability)\n");
            for located in &integration.contract {
                let _ = writeln!(head, "- {} — `{}`", located.change.text, place(located));
            }
            head.push('\n');
        }
        if let Some(line) = signoff_line(&integration.signoff, &integration.name) {
            let _ = writeln!(head, "**Sign-off**: {line}\n");
        }
        if let Some(scaffold) = &integration.scaffold {
            let _ = writeln!(
                head,
                "Scaffold: {} files re-rendered from new templates (`{}` → `{}`), collapsed.\n",
                scaffold.files,
                short(&scaffold.template_before),
                short(&scaffold.template_after)
            );
        }
        if !integration.provenance.is_empty() {
            let _ = writeln!(head, "| provenance | before | after |\n| --- | --- | --- |");
            for field in &integration.provenance {
                let _ = writeln!(
                    head,
                    "| {} | {} | {} |",
                    field.field,
                    cell(&field.before),
                    cell(&field.after)
                );
            }
            head.push('\n');
        }
        let files = integration
            .code
            .iter()
            .map(|file| {
                if file.diff.is_empty() {
                    format!("- {}\n", file_title(file))
                } else {
                    format!(
                        "<details><summary>{}</summary>\n\n{}\n</details>\n",
                        file_title(file),
                        fenced("diff", &file.diff)
                    )
                }
            })
            .collect();
        sections.push((head, files));
    }
    let fixed: usize = out.len() + sections.iter().map(|(head, _)| head.len()).sum::<usize>();
    let mut room = MARKDOWN_LIMIT.saturating_sub(fixed);
    let mut cut = 0;
    for (head, files) in sections {
        out.push_str(&head);
        for file in files {
            if file.len() <= room {
                room -= file.len();
                out.push_str(&file);
            } else {
                cut += 1;
            }
        }
        out.push('\n');
    }
    if cut > 0 {
        let _ = writeln!(
            out,
            "_{cut} file diff{} left out to keep this comment under {MARKDOWN_LIMIT} characters; \
             run `clawc diff --base {}` to see everything._",
            plural(cut),
            review.base.split(' ').next().unwrap_or_default()
        );
    }
    out
}

/// Integrations that widen first, then by name.
fn ordered(review: &Review) -> Vec<&IntegrationDiff> {
    let mut list: Vec<&IntegrationDiff> = review.integrations.iter().collect();
    list.sort_by_key(|i| (i.widening() == 0, i.name.clone()));
    list
}

fn capability_summary(integration: &IntegrationDiff) -> String {
    let count = |class| {
        integration
            .capabilities
            .iter()
            .filter(|c| c.change.class == class)
            .count()
    };
    let mut parts = Vec::new();
    let widening = count(Class::Widening);
    if widening > 0 {
        parts.push(format!("⚠️ **{widening} widening**"));
    }
    for (class, word) in [(Class::Narrowing, "narrowing"), (Class::Neutral, "neutral")] {
        let n = count(class);
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    if parts.is_empty() {
        "unchanged".to_owned()
    } else {
        parts.join(", ")
    }
}

fn code_summary(integration: &IntegrationDiff) -> String {
    let mut parts = Vec::new();
    if !integration.code.is_empty() {
        let added: usize = integration.code.iter().map(|f| f.added).sum();
        let removed: usize = integration.code.iter().map(|f| f.removed).sum();
        parts.push(format!(
            "{} file{} (+{added} −{removed})",
            integration.code.len(),
            plural(integration.code.len())
        ));
    }
    if integration.scaffold.is_some() {
        parts.push("scaffold re-rendered".to_owned());
    }
    if parts.is_empty() {
        "—".to_owned()
    } else {
        parts.join("; ")
    }
}

fn signoff_line(state: &SignoffState, name: &str) -> Option<String> {
    match state {
        SignoffState::NotNeeded => None,
        SignoffState::SignedBy(who) => Some(format!("the widening is signed off by {who}")),
        SignoffState::Missing => Some(format!(
            "none covers the widening; a reviewer in clawc.allowed_signers runs \
             `clawc review approve {name}`"
        )),
        SignoffState::Outdated(who) => Some(format!(
            "the sign-off by {who} covers less than this; a reviewer in clawc.allowed_signers \
             runs `clawc review approve {name}`"
        )),
        SignoffState::Invalid(why) => Some(format!("the recorded sign-off does not hold: {why}")),
    }
}

fn file_title(file: &FileDiff) -> String {
    let what = match file.status {
        Status::Added => "added",
        Status::Removed => "removed",
        Status::Changed => "changed",
    };
    format!(
        "<code>{}</code> ({}, {what}, +{} −{})",
        file.path,
        match file.kind {
            super::diff::FileKind::Generated => "generated",
            super::diff::FileKind::Scaffold => "scaffold",
            super::diff::FileKind::Transcript => "transcript",
        },
        file.added,
        file.removed
    )
}

fn place(located: &Located) -> String {
    let side = match located.change.side {
        super::compare::Side::Base => " in the base",
        super::compare::Side::Head => "",
    };
    match located.line {
        Some(line) => format!("{}:{line}{side}", located.file),
        None => format!("{}{side}", located.file),
    }
}

fn status(status: Status) -> &'static str {
    match status {
        Status::Added => "added",
        Status::Removed => "removed",
        Status::Changed => "changed",
    }
}

fn class_word(class: Class) -> &'static str {
    match class {
        Class::Widening => "WIDENING",
        Class::Narrowing => "narrowing",
        Class::Neutral => "neutral",
    }
}

/// A code block whose fence no line of `body` can close.
fn fenced(language: &str, body: &str) -> String {
    let longest = body
        .lines()
        .map(|line| line.trim_start().chars().take_while(|&c| c == '`').count())
        .max()
        .unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let newline = if body.ends_with('\n') { "" } else { "\n" };
    format!("{fence}{language}\n{body}{newline}{fence}\n")
}

/// Text safe inside a table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn short(hash: &str) -> String {
    hash.chars().take(19).collect()
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::diff::FileKind;

    fn file(path: &str, lines: usize) -> FileDiff {
        FileDiff {
            path: path.to_owned(),
            kind: FileKind::Generated,
            status: Status::Changed,
            added: lines,
            removed: 0,
            // A context line that is a fence itself (a Markdown file in the tree, say).
            diff: (0..lines).map(|i| format!(" ````\n+line {i}\n")).collect(),
        }
    }

    #[test]
    fn a_long_comment_is_cut_with_a_note_and_keeps_every_capability() {
        let integration = IntegrationDiff {
            name: "big".to_owned(),
            status: Status::Changed,
            capabilities: Vec::new(),
            contract: Vec::new(),
            code: vec![file("generated/a.py", 10), file("generated/b.py", 5_000)],
            scaffold: None,
            provenance: Vec::new(),
            signoff: SignoffState::NotNeeded,
            problems: Vec::new(),
        };
        let review = Review {
            base: "HEAD (1234567)".to_owned(),
            head: "the work tree".to_owned(),
            integrations: vec![integration],
            project_files: Vec::new(),
        };
        let shown = markdown(&review);
        assert!(shown.len() <= MARKDOWN_LIMIT + 500, "{}", shown.len());
        assert!(shown.contains("generated/a.py"));
        assert!(shown.contains("1 file diff left out"), "{shown}");
        assert!(shown.contains("`clawc diff --base HEAD`"));
        // A fence no line of the diff can close.
        assert!(shown.contains("`````diff\n ````\n+line 0\n"), "{shown}");
    }
}
