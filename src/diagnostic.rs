//! Diagnostics: every problem botform reports about a user's files, and how they are printed.
//!
//! A [`Diagnostic`] is plain data (severity, stable code, message, labelled spans, help), produced
//! by parsing, decoding and validation alike, so every problem is reported in one run. Rendering is
//! separate: human (miette, with the offending text underlined), JSON (documented, with 1-based
//! line and column) and GitHub Actions annotations. Must not decide what is wrong; only how to say it.

use std::fmt;
use std::io::{self, Write};

use serde::Serialize;

use crate::config::source::{SourceSet, Span};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable identifier such as `unknown-field`, for scripts and docs.
    pub code: &'static str,
    pub message: String,
    /// The first label is the primary location; more labels may point at related places.
    pub labels: Vec<Label>,
    pub help: Option<String>,
    /// For problems with no text to point at (an unreadable file, say): the path concerned.
    pub path: Option<String>,
    /// For a reference to something undefined: what it names (`("template", "conservative")`),
    /// so a reference that fails only because its definition could not be read is not reported
    /// beside the reason it could not be (one root cause, one error).
    pub refers_to: Option<(String, String)>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            labels: Vec::new(),
            help: None,
            path: None,
            refers_to: None,
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    pub fn at(mut self, span: Span, label: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: label.into(),
        });
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn help_opt(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    pub fn primary(&self) -> Option<Span> {
        self.labels.first().map(|l| l.span)
    }
}

/// Sort diagnostics by file, position, then severity, so output is stable.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        let key = |d: &Diagnostic| d.primary().map(|s| (s.file, s.start, s.end));
        key(a)
            .cmp(&key(b))
            .then(a.severity.cmp(&b.severity))
            .then(a.message.cmp(&b.message))
    });
}

/// The most characters of a user's input an error quotes.
pub const QUOTED_INPUT_CHARS: usize = 200;

/// Is `c` a character a terminal may act on instead of showing: C0 and C1 controls, DEL, and
/// the bidirectional overrides and isolates that reorder what is shown.
pub fn is_terminal_control(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

/// Text that came from outside (a file, 3Commas, an MCP argument), made safe to quote: each
/// terminal control character shown as `\u{1b}`, at most [`QUOTED_INPUT_CHARS`] characters with
/// a count of what was cut.
pub fn quote_input(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    escape_into(&mut out, chars.by_ref().take(QUOTED_INPUT_CHARS));
    let rest = chars.count();
    if rest > 0 {
        out.push_str(&format!("… ({rest} more characters)"));
    }
    out
}

/// A name from outside (a live bot's, an account's) as a terminal may show it: every terminal
/// control character written as `\u{1b}`, nothing cut.
pub fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(is_terminal_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    escape_into(&mut out, text.chars());
    std::borrow::Cow::Owned(out)
}

fn escape_into(out: &mut String, chars: impl Iterator<Item = char>) {
    for c in chars {
        if is_terminal_control(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
}

/// The known name a misspelt one most likely meant, whatever its case (`take_Profit` finds
/// `take_profit`). A name longer than [`QUOTED_INPUT_CHARS`] is no misspelling of a known one:
/// it gets no suggestion, and no quadratic comparison.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    if name.chars().count() > QUOTED_INPUT_CHARS {
        return None;
    }
    let name = name.to_lowercase();
    candidates
        .into_iter()
        .filter(|c| c.len() <= 4 * QUOTED_INPUT_CHARS)
        .map(|c| (strsim::jaro_winkler(&name, &c.to_lowercase()), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// "did you mean" for a misspelt name among the known ones.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    closest(name, candidates).map(|c| format!("did you mean `{c}`?"))
}

// ---------------------------------------------------------------------------------------------
// Human rendering with miette

#[derive(Debug)]
struct MietteView<'s> {
    message: String,
    code: &'static str,
    severity: miette::Severity,
    help: Option<String>,
    source: Option<Excerpt<'s>>,
    labels: Vec<miette::LabeledSpan>,
    related: Vec<MietteView<'s>>,
}

/// A source file as miette reads it: only the lines around a span, found through the file's
/// line index, so rendering many diagnostics of a large file stays linear (miette's own reader
/// scans from the start of the text for each one, and the text would be copied for each).
/// Its text is the file's as [`shown_in_place`] made it, once per file per rendering.
#[derive(Debug, Clone, Copy)]
struct Excerpt<'s>(&'s crate::config::source::SourceFile, &'s str);

/// Each source's text made safe to show, by file id, for one rendering.
struct ShownSources<'s> {
    sources: &'s SourceSet,
    texts: Vec<std::borrow::Cow<'s, str>>,
}

impl<'s> ShownSources<'s> {
    fn new(sources: &'s SourceSet) -> ShownSources<'s> {
        ShownSources {
            sources,
            texts: sources
                .iter()
                .map(|(_, f)| shown_in_place(&f.text))
                .collect(),
        }
    }

    fn excerpt(&self, id: crate::config::source::FileId) -> Excerpt<'_> {
        Excerpt(self.sources.get(id), &self.texts[id.0 as usize])
    }
}

/// The text with every terminal control character (see [`is_terminal_control`]; a line feed and
/// a tab aside) replaced by a visible one of the same length in bytes, so excerpts of a hostile
/// file cannot move the cursor or erase lines, and every span still points where it did.
pub fn shown_in_place(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| is_terminal_control(c) && c != '\n' && c != '\t';
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut next = text.chars().skip(1).chain(std::iter::once(' '));
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| match (unsafe_char(c), c.len_utf8(), next.next()) {
                (false, _, _) => c,
                // A CR alone ends a line (as `SourceFile` counts lines); before an LF it goes.
                (true, _, Some(after)) if c == '\r' && after != '\n' => '\n',
                (true, _, _) if c == '\r' => ' ',
                (true, 1, _) => '?',
                (true, 2, _) => '\u{bf}',
                (true, _, _) => '\u{fffd}',
            })
            .collect(),
    )
}

impl miette::SourceCode for Excerpt<'_> {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let file = self.0;
        let start = file.clamp(span.offset());
        let end = file.clamp(span.offset() + span.len()).max(start);
        let first_line = file.line_col(start).0.saturating_sub(before).max(1);
        let last_line = file.line_col(end).0 + after + 1;
        let window_start = file.offset_of(first_line, 0);
        let window_end = file.offset_of(last_line, 0);
        let window = &self.1[window_start..window_end.max(window_start)];
        let inner = window.read_span(
            &miette::SourceSpan::new((start - window_start).into(), end - start),
            before,
            after,
        )?;
        Ok(Box::new(miette::MietteSpanContents::new_named(
            file.display_name(),
            inner.data(),
            miette::SourceSpan::new(
                (inner.span().offset() + window_start).into(),
                inner.span().len(),
            ),
            inner.line() + first_line - 1,
            inner.column(),
            inner.line_count(),
        )))
    }
}

impl fmt::Display for MietteView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MietteView<'_> {}

impl miette::Diagnostic for MietteView<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            None
        } else {
            Some(Box::new(self.labels.iter().cloned()))
        }
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            None
        } else {
            Some(Box::new(
                self.related.iter().map(|r| r as &dyn miette::Diagnostic),
            ))
        }
    }
}

fn miette_view<'s>(d: &Diagnostic, shown_sources: &'s ShownSources<'_>) -> MietteView<'s> {
    let sources = shown_sources.sources;
    let severity = match d.severity {
        Severity::Error => miette::Severity::Error,
        Severity::Warning => miette::Severity::Warning,
    };
    let primary_file = d.primary().map(|s| s.file);
    let mut labels = Vec::new();
    let mut related = Vec::new();
    for label in &d.labels {
        if Some(label.span.file) == primary_file {
            let file = sources.get(label.span.file);
            let start = file.clamp(label.span.start as usize);
            let end = file.clamp(label.span.end as usize).max(start);
            labels.push(miette::LabeledSpan::new(
                Some(shown(&label.message).into_owned()),
                start,
                end - start,
            ));
        } else {
            let file = sources.get(label.span.file);
            let start = file.clamp(label.span.start as usize);
            let end = file.clamp(label.span.end as usize).max(start);
            related.push(MietteView {
                message: shown(&label.message).into_owned(),
                code: d.code,
                severity: miette::Severity::Advice,
                help: None,
                source: Some(shown_sources.excerpt(label.span.file)),
                labels: vec![miette::LabeledSpan::new(
                    Some("here".into()),
                    start,
                    end - start,
                )],
                related: Vec::new(),
            });
        }
    }
    // Names in messages come from files and from 3Commas: shown, never obeyed by the terminal.
    let message = match (&d.path, primary_file) {
        (Some(path), None) => format!("{}: {}", shown(path), shown(&d.message)),
        _ => shown(&d.message).into_owned(),
    };
    MietteView {
        message,
        code: d.code,
        severity,
        help: d.help.as_deref().map(|h| shown(h).into_owned()),
        source: primary_file.map(|f| shown_sources.excerpt(f)),
        labels,
        related,
    }
}

/// Write diagnostics for people: source excerpts with the offending text underlined.
pub fn render_human(
    out: &mut dyn Write,
    diagnostics: &[Diagnostic],
    sources: &SourceSet,
    color: bool,
) -> io::Result<()> {
    let theme = if color {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    };
    let handler = miette::GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_context_lines(1);
    let shown = ShownSources::new(sources);
    for d in diagnostics.iter().take(MAX_RENDERED) {
        let view = miette_view(d, &shown);
        let mut text = String::new();
        handler
            .render_report(&mut text, &view)
            .map_err(|e| io::Error::other(e.to_string()))?;
        writeln!(out, "{text}")?;
    }
    if diagnostics.len() > MAX_RENDERED {
        writeln!(
            out,
            "... and {} more (`--format json` lists every one)\n",
            diagnostics.len() - MAX_RENDERED
        )?;
    }
    Ok(())
}

/// The most diagnostics drawn for people in one run: past this many, more excerpts help nobody.
pub const MAX_RENDERED: usize = 200;

/// The JSON form of one diagnostic (`botform validate --format json`).
#[derive(Debug, Serialize, schemars::JsonSchema)]
/// Location fields are absent when a problem has no text to point at (an unreadable file).
pub struct JsonDiagnostic {
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "usize")]
    pub line: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "usize")]
    pub column: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "usize")]
    pub end_line: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "usize")]
    pub end_column: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub help: Option<String>,
    pub labels: Vec<JsonLabel>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct JsonLabel {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

pub fn to_json(d: &Diagnostic, sources: &SourceSet) -> JsonDiagnostic {
    let place = d.primary().map(|span| {
        let file = sources.get(span.file);
        let (line, column) = file.line_col(span.start as usize);
        let (end_line, end_column) = file.line_col(span.end as usize);
        (file.display_name(), line, column, end_line, end_column)
    });
    JsonDiagnostic {
        severity: d.severity,
        code: d.code,
        message: d.message.clone(),
        file: place.as_ref().map(|p| p.0.clone()).or(d.path.clone()),
        line: place.as_ref().map(|p| p.1),
        column: place.as_ref().map(|p| p.2),
        end_line: place.as_ref().map(|p| p.3),
        end_column: place.as_ref().map(|p| p.4),
        help: d.help.clone(),
        labels: d
            .labels
            .iter()
            .map(|l| {
                let file = sources.get(l.span.file);
                let (line, column) = file.line_col(l.span.start as usize);
                JsonLabel {
                    file: file.display_name(),
                    line,
                    column,
                    message: l.message.clone(),
                }
            })
            .collect(),
    }
}

/// GitHub Actions workflow commands: `::error file=...,line=...,col=...::message`.
pub fn render_github(
    out: &mut dyn Write,
    diagnostics: &[Diagnostic],
    sources: &SourceSet,
) -> io::Result<()> {
    for d in diagnostics {
        let j = to_json(d, sources);
        let level = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut props = Vec::new();
        if let Some(file) = &j.file {
            props.push(format!("file={}", escape_property(file)));
        }
        if let (Some(l), Some(c)) = (j.line, j.column) {
            props.push(format!("line={l},col={c}"));
        }
        if let (Some(l), Some(c)) = (j.end_line, j.end_column) {
            props.push(format!("endLine={l},endColumn={c}"));
        }
        props.push(format!("title=botform {}", d.code));
        let mut message = shown(&d.message).into_owned();
        if let Some(help) = &d.help {
            message.push_str("\nhelp: ");
            message.push_str(&shown(help));
        }
        writeln!(
            out,
            "::{level} {}::{}",
            props.join(","),
            escape_data(&message)
        )?;
    }
    Ok(())
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_you_mean_finds_close_names_only() {
        let names = ["take_profit", "take_profit_type", "cooldown"];
        assert_eq!(
            did_you_mean("take_proft", names).as_deref(),
            Some("did you mean `take_profit`?")
        );
        assert_eq!(did_you_mean("zzz", names), None);
        // Case is no misspelling.
        assert_eq!(
            did_you_mean("Take_Profit", names).as_deref(),
            Some("did you mean `take_profit`?")
        );
        assert_eq!(
            closest("COOLDOWN", ["cooldown", "cooldowns"]),
            Some("cooldown")
        );
        // A huge name gets no suggestion (and no quadratic work).
        assert_eq!(did_you_mean(&"take_profit".repeat(100_000), names), None);
    }

    #[test]
    fn quoted_input_is_short_and_shows_controls() {
        assert_eq!(quote_input("a\u{1b}[2Jb\u{202e}"), "a\\u{1b}[2Jb\\u{202e}");
        let long = "x".repeat(5_000);
        let quoted = quote_input(&long);
        assert!(quoted.starts_with(&"x".repeat(200)));
        assert!(quoted.ends_with("(4800 more characters)"), "{quoted}");
    }

    #[test]
    fn github_annotations_escape_newlines() {
        assert_eq!(escape_data("a\nb%"), "a%0Ab%25");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }
}
