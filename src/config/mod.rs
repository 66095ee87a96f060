//! The config language: files → a checked desired state, with every problem as a diagnostic.
//!
//! The pipeline is `load` (find, parse, decode) → `resolve` (templates, strategy sets) → `rules`
//! (semantic checks and DCA numbers) and `grid` (grid bots' rules and numbers). [`check`] runs it all; `validate`, `plan` and the MCP server
//! all start here, so they agree on what a config means.

pub mod decode;
pub mod grid;
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
pub use resolve::{DesiredBot, DesiredGridBot};
use source::SourceFile;

/// A config read and checked.
#[derive(Debug)]
pub struct Checked {
    pub config: Config,
    pub bots: Vec<DesiredBot>,
    /// Per bot (same order): its DCA numbers, when the bot has no errors.
    pub numbers: Vec<Option<DcaNumbers>>,
    pub grid_bots: Vec<DesiredGridBot>,
    /// Per grid bot (same order): its numbers, when it has no errors.
    pub grid_numbers: Vec<Option<crate::model::grid::GridNumbers>>,
    /// Sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
    /// The files reported on: all that were read, or the named ones when files were named alone
    /// (the rest of their directories read only for what they define).
    pub files_checked: usize,
    /// Errors not reported because they only follow from one that is (a reference to a
    /// definition in a file that did not parse, say).
    pub echoes: Vec<Diagnostic>,
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
///
/// Files named alone (no directory among `paths`) that refer to accounts, templates or strategy
/// sets they do not define are checked with the config files beside them (see
/// [`check_with_neighbours`]), as the MCP server checks a file with its whole root.
pub fn check(paths: &[PathBuf]) -> Checked {
    let alone = finish(load::load(paths));
    // Files that define all they use are checked as they are: context is read only for what
    // they refer to and do not define.
    let needs_context = alone.diagnostics.iter().any(|d| d.refers_to.is_some());
    if paths.is_empty() || !paths.iter().all(|p| p.is_file()) || !needs_context {
        return alone;
    }
    check_with_neighbours(paths)
}

/// Check the config under `root`, reading nothing that resolves outside it (the MCP server's
/// `--root`; see [`load::discover_confined`]).
pub fn check_confined(root: &std::path::Path) -> Checked {
    finish(load::load_confined(root))
}

/// Check `paths` (files) with the other config files of their directories (beside them, not
/// below). Only the named files' bots and problems are reported; errors in the other files show
/// as one error, and only when something the named files use was lost to them. The blacklist
/// counts only when a named file defines it.
fn check_with_neighbours(paths: &[PathBuf]) -> Checked {
    let named: std::collections::HashSet<PathBuf> = paths
        .iter()
        .map(|p| p.canonicalize().unwrap_or_else(|_| p.clone()))
        .collect();
    let mut dirs: Vec<PathBuf> = Vec::new();
    for p in paths {
        let dir = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    // The named files first, so they keep the spelling the user gave; then the other config
    // files beside them (not below: a file in $HOME must not walk the home directory).
    let mut everything: Vec<PathBuf> = paths.to_vec();
    for dir in &dirs {
        everything.extend(load::config_files_in(dir));
    }
    let mut checked = finish(load::load(&everything));
    let in_scope = |id: source::FileId| {
        let path = &checked.config.sources.get(id).path;
        named.contains(&path.canonicalize().unwrap_or_else(|_| path.clone()))
    };
    let scope: Vec<source::FileId> = checked
        .config
        .sources
        .iter()
        .map(|(id, _)| id)
        .filter(|id| in_scope(*id))
        .collect();
    let (mine, others): (Vec<Diagnostic>, Vec<Diagnostic>) =
        std::mem::take(&mut checked.diagnostics)
            .into_iter()
            .partition(|d| {
                d.labels
                    .first()
                    .is_none_or(|l| scope.contains(&l.span.file))
            });
    checked.diagnostics = mine;
    let other_errors = others
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    // The other files' errors matter here only when something these files use could not be
    // read because of them: then one error says so.
    let mine_echo = checked.echoes.iter().any(|d| {
        d.labels
            .first()
            .is_some_and(|l| scope.contains(&l.span.file))
    });
    if other_errors > 0 && mine_echo {
        let places: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        checked.diagnostics.push(
            Diagnostic::error(
                "context-invalid",
                format!(
                    "{other_errors} error{} in the other files of {}, which these files are checked with",
                    if other_errors == 1 { "" } else { "s" },
                    places.join(", ")
                ),
            )
            .with_path(places.join(", "))
            .help(format!(
                "run `botform validate {}` to see them: the accounts, templates and strategy sets these files use may be among them",
                places.join(" ")
            )),
        );
    }
    let keep: Vec<bool> = checked
        .bots
        .iter()
        .map(|b| scope.contains(&checked.config.bots[b.index].spans.record.file))
        .collect();
    let mut k = keep.iter();
    checked.bots.retain(|_| *k.next().unwrap_or(&false));
    let mut k = keep.iter();
    checked.numbers.retain(|_| *k.next().unwrap_or(&false));
    let keep: Vec<bool> = checked
        .grid_bots
        .iter()
        .map(|b| scope.contains(&checked.config.grid_bots[b.index].spans.record.file))
        .collect();
    let mut k = keep.iter();
    checked.grid_bots.retain(|_| *k.next().unwrap_or(&false));
    let mut k = keep.iter();
    checked.grid_numbers.retain(|_| *k.next().unwrap_or(&false));
    // The blacklist is managed by the file that defines it: not by one read only for context.
    if checked
        .config
        .blacklist
        .as_ref()
        .is_some_and(|b| !scope.contains(&b.spans.record.file))
    {
        checked.config.blacklist = None;
    }
    checked.files_checked = scope.len();
    checked
}

/// Check files already in memory.
pub fn check_sources(files: Vec<SourceFile>) -> Checked {
    finish(load::load_sources(files))
}

/// Drop the errors that only echo one already reported: references to definitions that could
/// not be read, and the fields a bot lacks because the template it names could not be.
fn drop_echoes(
    config: &Config,
    unread: &load::Unread,
    bots: &[DesiredBot],
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Diagnostic> {
    let defined = |kind: &str| -> Vec<&str> {
        match kind {
            "account" => config.accounts.keys().map(String::as_str).collect(),
            "template" => config.templates.keys().map(String::as_str).collect(),
            "grid template" => config.grid_templates.keys().map(String::as_str).collect(),
            "strategy set" => config.strategies.keys().map(String::as_str).collect(),
            _ => Vec::new(),
        }
    };
    let explained = |d: &Diagnostic| {
        d.refers_to
            .as_ref()
            .is_some_and(|(kind, name)| unread.explains(kind, name, defined(kind)))
    };
    // Bots whose template chain breaks at a definition that could not be read.
    let orphaned: Vec<source::Span> = bots
        .iter()
        .filter(|bot| {
            let mut next = config.bots[bot.index].template.clone();
            let mut steps = 0;
            while let Some(name) = next {
                steps += 1;
                match config.templates.get(&name) {
                    Some(t) if steps < 64 => next = t.value.template.clone(),
                    Some(_) => return false,
                    None => return unread.explains("template", &name, defined("template")),
                }
            }
            false
        })
        .map(|bot| config.bots[bot.index].spans.record)
        .collect();
    let is_echo = |d: &Diagnostic| {
        if explained(d) {
            return true;
        }
        if d.code == "missing-field"
            && let Some(label) = d.labels.first()
        {
            let within = |r: &source::Span| {
                r.file == label.span.file && r.start <= label.span.start && label.span.start < r.end
            };
            return orphaned.iter().any(within);
        }
        false
    };
    let (echoes, kept): (Vec<Diagnostic>, Vec<Diagnostic>) =
        std::mem::take(diagnostics).into_iter().partition(is_echo);
    *diagnostics = kept;
    echoes
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
    let grid_bots = resolve::resolve_grid(&config, &mut diagnostics);
    let mut grid_numbers = grid::check(&config, &grid_bots, &mut diagnostics);
    let mut numbers = rules::check(&config, &bots, &grid_bots, &grid_numbers, &mut diagnostics);
    // A grid bot with any error (its own rules', a shared rule's, or its template's) gets no
    // numbers.
    for (bot, numbers) in grid_bots.iter().zip(grid_numbers.iter_mut()) {
        let records = resolve::records_of(&config.grid_bots[bot.index], &config.grid_templates);
        if numbers.is_some() && has_error_within(&diagnostics, &records) {
            *numbers = None;
        }
    }
    // A bot with any error (a field of the wrong type, dropped while decoding, in the bot or in a
    // template it starts from) gets no numbers: they would be computed without that field.
    for (bot, numbers) in bots.iter().zip(numbers.iter_mut()) {
        let records = resolve::records_of(&config.bots[bot.index], &config.templates);
        if numbers.is_some() && has_error_within(&diagnostics, &records) {
            *numbers = None;
        }
    }
    let echoes = drop_echoes(&config, &loaded.unread, &bots, &mut diagnostics);
    diagnostics.dedup();
    diagnostic::sort(&mut diagnostics);
    Checked {
        echoes,
        files_checked: config.sources.len(),
        config,
        bots,
        numbers,
        grid_bots,
        grid_numbers,
        diagnostics,
    }
}
