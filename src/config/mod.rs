//! The config language: files → a checked desired state, with every problem as a diagnostic.
//!
//! The pipeline is `load` (find, parse, decode) → `resolve` (templates, strategy sets) → `rules`
//! (semantic checks and DCA numbers). [`check`] runs it all; `validate`, `plan` and the MCP server
//! all start here, so they agree on what a config means.

pub mod decode;
pub mod load;
pub mod node;
pub mod resolve;
pub mod rules;
pub mod source;
pub mod types;

use std::path::PathBuf;

use crate::diagnostic::{self, Diagnostic, Severity};
use crate::model::dca::DcaNumbers;
pub use load::Config;
pub use resolve::DesiredBot;
use source::SourceFile;

/// A config read and checked.
#[derive(Debug)]
pub struct Checked {
    pub config: Config,
    pub bots: Vec<DesiredBot>,
    /// Per bot (same order): its DCA numbers, when the bot has no errors.
    pub numbers: Vec<Option<DcaNumbers>>,
    /// Sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn error_count(&self) -> usize {
        self.count(Severity::Error)
    }

    pub fn warning_count(&self) -> usize {
        self.count(Severity::Warning)
    }

    pub fn is_valid(&self) -> bool {
        self.error_count() == 0
    }

    fn count(&self, severity: Severity) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .count()
    }
}

/// The tables a bot's settings come from: its own and its template chain's.
fn records_of(config: &Config, bot: &DesiredBot) -> Vec<source::Span> {
    let own = &config.bots[bot.index];
    let mut records = vec![own.spans.record];
    let mut next = own.template.clone();
    while let Some(name) = next {
        let Some(template) = config.templates.get(&name) else {
            break;
        };
        if records.contains(&template.value.spans.record) {
            break; // a cycle, reported elsewhere
        }
        records.push(template.value.spans.record);
        next = template.value.template.clone();
    }
    records
}

fn has_error_within(diagnostics: &[Diagnostic], records: &[source::Span]) -> bool {
    diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .filter_map(|d| d.labels.first())
        .any(|label| {
            records.iter().any(|r| {
                r.file == label.span.file && r.start <= label.span.start && label.span.start < r.end
            })
        })
}

/// Load and check the config at `paths` (files or directories).
pub fn check(paths: &[PathBuf]) -> Checked {
    let loaded = load::load(paths);
    finish(loaded)
}

/// Check files already in memory.
pub fn check_sources(files: Vec<SourceFile>) -> Checked {
    finish(load::load_sources(files))
}

fn finish(loaded: load::Loaded) -> Checked {
    let mut diagnostics = loaded.diagnostics;
    let config = loaded.config;
    if config.sources.is_empty() && diagnostics.is_empty() {
        diagnostics.push(
            Diagnostic::error("no-config", "no config files found")
                .help("botform reads *.toml, *.yaml and *.yml files; pass a file or a directory"),
        );
    }
    let bots = resolve::resolve(&config, &mut diagnostics);
    let mut numbers = rules::check(&config, &bots, &mut diagnostics);
    // A bot with any error (a field of the wrong type, dropped while decoding, in the bot or in a
    // template it starts from) gets no numbers: they would be computed without that field.
    for (bot, numbers) in bots.iter().zip(numbers.iter_mut()) {
        if numbers.is_some() && has_error_within(&diagnostics, &records_of(&config, bot)) {
            *numbers = None;
        }
    }
    diagnostics.dedup();
    diagnostic::sort(&mut diagnostics);
    Checked {
        config,
        bots,
        numbers,
        diagnostics,
    }
}
