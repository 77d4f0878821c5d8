//! Rendering spec-lang's plain diagnostics for people (miette), machines (JSON lines) and
//! GitHub Actions (workflow annotations). The only place that knows about miette.

use std::fmt::Write as _;
use std::path::Path;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource};
use serde::Serialize;
use spec_lang::{line_col, Diagnostic, Severity};

use crate::cli::DiagnosticFormat;

/// Render every diagnostic of one file in `format`. `color` only affects human output.
pub fn render<'a>(
    format: DiagnosticFormat,
    path: &Path,
    source: &str,
    diagnostics: impl IntoIterator<Item = &'a Diagnostic>,
    color: bool,
) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics {
        match format {
            DiagnosticFormat::Human => out.push_str(&human(path, source, diagnostic, color)),
            DiagnosticFormat::Json => {
                let line = serde_json::to_string(&JsonDiagnostic::new(path, source, diagnostic))
                    .unwrap_or_default();
                out.push_str(&line);
                out.push('\n');
            }
            DiagnosticFormat::Github => out.push_str(&github(path, source, diagnostic)),
        }
    }
    out
}

/// miette's view of one diagnostic. It has no `code`: the `file:line:col: error[CODE]` header
/// above the snippet already says it, and miette would print it again on a line of its own.
#[derive(Debug)]
struct Report<'a> {
    diagnostic: &'a Diagnostic,
    source: NamedSource<String>,
}

impl std::fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        self.diagnostic
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let d = self.diagnostic;
        let len = self.source.inner().len();
        let clamp = move |s: spec_lang::Span| {
            let start = s.start.min(len);
            (start, s.end.clamp(start, len) - start)
        };
        let primary = LabeledSpan::new_primary_with_span(d.label.clone(), clamp(d.span));
        let secondary = d
            .labels
            .iter()
            .map(move |l| LabeledSpan::new_with_span(Some(l.message.clone()), clamp(l.span)));
        Some(Box::new(std::iter::once(primary).chain(secondary)))
    }
}

fn human(path: &Path, source: &str, diagnostic: &Diagnostic, color: bool) -> String {
    let (line, col) = line_col(source, diagnostic.span.start);
    // miette's snippet shows the file name; the `file:line:col` header line makes every
    // diagnostic clickable in editors and greppable in logs, whatever the theme.
    let mut out = format!(
        "{}:{line}:{col}: {}[{}]: {}\n",
        path.display(),
        severity_word(diagnostic.severity),
        diagnostic.code,
        diagnostic.message
    );
    if !snippet_fits(source, diagnostic.span.start) {
        // A snippet of a huge line (a 5 MB single-line file) helps nobody: say it plainly.
        if let Some(label) = &diagnostic.label {
            let _ = writeln!(out, "  = {label}");
        }
        if let Some(help) = &diagnostic.help {
            let _ = writeln!(out, "  help: {help}");
        }
        out.push('\n');
        return out;
    }
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let report = Report {
        diagnostic,
        source: NamedSource::new(path.display().to_string(), shown_safely(source)),
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_context_lines(1)
        .with_width(100);
    if handler.render_report(&mut out, &report).is_err() {
        out.push_str("  (could not render a snippet)\n");
    }
    out.push('\n');
    out
}

/// The source as a snippet shows it: a bidirectional control (refused by `E0008`, "Trojan
/// Source") would reorder the very line that reports it on the reader's terminal, so each is
/// shown as a visible stand-in of the same UTF-8 length, keeping every span's byte offsets.
fn shown_safely(source: &str) -> String {
    source
        .chars()
        .map(|ch| match spec_lang::bidi_control_name(ch) {
            Some(_) if ch.len_utf8() == 3 => '\u{FFFD}',
            Some(_) => '\u{00A4}',
            None => ch,
        })
        .collect()
}

/// Lines longer than this are not shown as snippets.
const MAX_SNIPPET_LINE: usize = 400;

fn snippet_fits(source: &str, offset: usize) -> bool {
    let offset = offset.min(source.len());
    let bytes = source.as_bytes();
    let start = bytes[..offset]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let end = bytes[offset..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |i| offset + i);
    end - start <= MAX_SNIPPET_LINE
}

fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

#[derive(Debug, Serialize)]
struct JsonDiagnostic<'a> {
    file: String,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    severity: Severity,
    code: &'a str,
    message: &'a str,
    label: Option<&'a str>,
    help: Option<&'a str>,
    labels: Vec<JsonLabel<'a>>,
}

#[derive(Debug, Serialize)]
struct JsonLabel<'a> {
    line: usize,
    column: usize,
    message: &'a str,
}

impl<'a> JsonDiagnostic<'a> {
    fn new(path: &Path, source: &str, d: &'a Diagnostic) -> Self {
        let (line, column) = line_col(source, d.span.start);
        let (end_line, end_column) = line_col(source, d.span.end);
        Self {
            file: path.display().to_string(),
            line,
            column,
            end_line,
            end_column,
            severity: d.severity,
            code: d.code,
            message: &d.message,
            label: d.label.as_deref(),
            help: d.help.as_deref(),
            labels: d
                .labels
                .iter()
                .map(|l| {
                    let (line, column) = line_col(source, l.span.start);
                    JsonLabel {
                        line,
                        column,
                        message: &l.message,
                    }
                })
                .collect(),
        }
    }
}

/// `::error file=…,line=…::message` — see GitHub's "workflow commands" documentation.
fn github(path: &Path, source: &str, d: &Diagnostic) -> String {
    let (line, col) = line_col(source, d.span.start);
    let (end_line, end_col) = line_col(source, d.span.end);
    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        let _ = write!(message, "\nhelp: {help}");
    }
    format!(
        "::{} file={},line={line},col={col},endLine={end_line},endColumn={end_col},title={}::{}\n",
        severity_word(d.severity),
        escape_property(&path.display().to_string()),
        escape_property(d.code),
        escape_data(&message)
    )
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}
