//! Finding config files and reading them into one [`Config`].
//!
//! A path may be a file or a directory (every `*.toml`, `*.yaml`, `*.yml` below it, sorted,
//! skipping hidden folders such as `.botform/`). Each file is parsed into a node tree and decoded;
//! tables from several files are combined, and a name defined twice is reported at both places.
//! Owns file discovery, syntax/decoding diagnostics and cross-file duplicates.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::decode::{Record, decode_record};
use super::node::{self, Node};
use super::source::{SourceFile, SourceSet, Span, Syntax};
use super::types::*;
use crate::diagnostic::{Diagnostic, did_you_mean};

/// The most bots one config may describe: far above a real fleet (3Commas users run thousands),
/// and it keeps the memory a config can make botform use bounded (about 5 KB a bot).
pub const MAX_BOTS: usize = 20_000;

/// A named definition (`[accounts.main]`, `[templates.x]`) and where its name was written.
#[derive(Debug, Clone)]
pub struct Named<T> {
    pub name: String,
    pub name_span: Span,
    pub value: T,
}

/// Everything read from the config files, before templates are applied.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub sources: SourceSet,
    pub settings: Settings,
    pub accounts: BTreeMap<String, Named<AccountSpec>>,
    pub strategies: BTreeMap<String, Named<StrategySet>>,
    pub templates: BTreeMap<String, Named<BotSpec>>,
    pub blacklist: Option<Blacklist>,
    pub bots: Vec<BotSpec>,
    pub grid_templates: BTreeMap<String, Named<GridBotSpec>>,
    pub grid_bots: Vec<GridBotSpec>,
}

/// Result of loading: the config (as much as could be read) and every problem found.
#[derive(Debug, Default)]
pub struct Loaded {
    pub config: Config,
    pub diagnostics: Vec<Diagnostic>,
    /// What the files meant to define but could not be read: references to it are echoes of
    /// an error already reported, and are not reported again.
    pub unread: Unread,
}

/// Definitions lost to an error already reported.
#[derive(Debug, Default, Clone)]
pub struct Unread {
    /// A file failed to parse: it defines nothing, and anything might have been in it.
    pub anything: bool,
    /// Kinds whose whole section could not be read (`account`, `template`, `strategy set`): a
    /// misspelt `[acounts.main]`, a section of the wrong type.
    pub kinds: std::collections::BTreeSet<String>,
    /// Single definitions that failed to decode: `(kind, name)`.
    pub names: std::collections::BTreeSet<(String, String)>,
}

impl Unread {
    /// Is a reference to `name` of `kind` unresolved only because of an error already reported?
    /// A file that did not parse might have defined anything, but a name close to one that is
    /// defined (`mian` beside `main`) is a typo to report, not an echo.
    pub fn explains<'a>(
        &self,
        kind: &str,
        name: &str,
        defined: impl IntoIterator<Item = &'a str>,
    ) -> bool {
        self.kinds.contains(kind)
            || self.names.contains(&(kind.to_string(), name.to_string()))
            || (self.anything && crate::diagnostic::closest(name, defined).is_none())
    }
}

/// The kind of definition a top-level section holds.
fn section_kind(section: &str) -> Option<&'static str> {
    match section {
        "accounts" => Some("account"),
        "templates" => Some("template"),
        "strategies" => Some("strategy set"),
        "grid_templates" => Some("grid template"),
        _ => None,
    }
}

/// The config files a set of paths names, in a stable order. Unreadable paths become diagnostics.
/// Only regular files and directories are followed (a FIFO or device never is), and a directory
/// reached twice through links is walked once, so link cycles end.
pub fn discover(paths: &[PathBuf], diagnostics: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    discover_in(paths, None, diagnostics)
}

/// The config files under `root`, reading nothing that resolves outside it: a file or a
/// directory reached through a link that leads out is passed over with a warning. The MCP
/// server reads its `--root` this way (a symlinked directory inside the root must not bring in a
/// bot defined elsewhere).
pub fn discover_confined(root: &Path, diagnostics: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    let real = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    discover_in(&[root.to_path_buf()], Some(&real), diagnostics)
}

fn discover_in(
    paths: &[PathBuf],
    confine: Option<&Path>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut seen_dirs = std::collections::HashSet::new();
    let files = &mut found;
    for path in paths {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => {
                let before = files.len();
                walk(path, confine, files, &mut seen_dirs, diagnostics);
                files[before..].sort();
            }
            // Named explicitly: read_bounded says why a non-regular file is refused.
            Ok(_) => files.push(path.clone()),
            Err(_) => diagnostics.push(
                Diagnostic::error("file-not-found", "no such file or directory")
                    .with_path(path.display().to_string()),
            ),
        }
    }
    // A file named twice, or named and inside a named directory (`validate ex ex/shared.toml`),
    // is read once: the first spelling wins.
    let mut seen_files = std::collections::HashSet::new();
    found.retain(|f| seen_files.insert(f.canonicalize().unwrap_or_else(|_| f.clone())));
    found
}

/// Directories a walk never enters (besides hidden ones such as `.git/` and `.botform/`): build
/// output and installed packages. Named explicitly, they are read like any other.
pub const SKIPPED_DIRS: [&str; 2] = ["target", "node_modules"];

/// The config files directly in `dir` (not in its subdirectories), hidden ones aside, sorted:
/// the context a file named alone is checked with. Unreadable entries are passed over.
pub fn config_files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !name.starts_with('.')
                && Syntax::from_path(p).is_some()
                && std::fs::metadata(p).is_ok_and(|m| m.is_file())
        })
        .collect();
    files.sort();
    files
}

/// A directory's identity, so one reached again through a link is not walked twice.
fn dir_identity(path: &Path) -> Option<PathBuf> {
    path.canonicalize().ok()
}

fn walk(
    dir: &Path,
    confine: Option<&Path>,
    files: &mut Vec<PathBuf>,
    seen_dirs: &mut std::collections::HashSet<PathBuf>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    if let Some(id) = dir_identity(dir)
        && !seen_dirs.insert(id)
    {
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            diagnostics.push(
                Diagnostic::error("unreadable", format!("cannot read directory: {e}"))
                    .with_path(dir.display().to_string()),
            );
            return;
        }
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            continue;
        }
        // Follows links; a dangling one, a FIFO, a socket or a device is passed over.
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if let Some(root) = confine
            && (meta.is_dir() || Syntax::from_path(&path).is_some())
            && !path.canonicalize().is_ok_and(|real| real.starts_with(root))
        {
            diagnostics.push(
                Diagnostic::warning(
                    "outside-root",
                    "leads outside the root through a link: not read",
                )
                .with_path(path.display().to_string()),
            );
            continue;
        }
        if meta.is_dir() {
            // Build output and installed packages are never config, and can be huge.
            if SKIPPED_DIRS.contains(&name) {
                continue;
            }
            walk(&path, confine, files, seen_dirs, diagnostics);
        } else if meta.is_file() && Syntax::from_path(&path).is_some() {
            files.push(path);
        }
    }
}

/// Read and decode the config at `paths` (files or directories).
pub fn load(paths: &[PathBuf]) -> Loaded {
    let mut diagnostics = Vec::new();
    let files = discover(paths, &mut diagnostics);
    load_files(files, diagnostics)
}

/// Read and decode the config under `root`, nothing from outside it (see [`discover_confined`]).
pub fn load_confined(root: &Path) -> Loaded {
    let mut diagnostics = Vec::new();
    let files = discover_confined(root, &mut diagnostics);
    load_files(files, diagnostics)
}

fn load_files(files: Vec<PathBuf>, mut diagnostics: Vec<Diagnostic>) -> Loaded {
    let mut sources = Vec::new();
    let mut unreadable = false;
    let mut budget = crate::files::MAX_CONFIG_BYTES;
    for path in files {
        let Some(syntax) = Syntax::from_path(&path) else {
            diagnostics.push(
                Diagnostic::error(
                    "unknown-syntax",
                    "not a config file: the name must end in .toml, .yaml or .yml",
                )
                .with_path(path.display().to_string()),
            );
            continue;
        };
        // Each file within its own cap, and all of them within the total.
        let cap = budget.min(crate::files::MAX_CONFIG_FILE_BYTES);
        match crate::files::read_bounded(&path, cap) {
            Ok(text) => {
                budget -= text.len() as u64;
                sources.push(SourceFile::new(path, syntax, text));
            }
            Err(e) => {
                unreadable = true;
                diagnostics.push(
                Diagnostic::error("unreadable", format!("cannot read file: {e}"))
                    .with_path(path.display().to_string())
                    .help(
                        "config files are regular UTF-8 text files of at most 4 MiB each and 16 MiB in all (see README, Safety): split a large file into several (`botform import` writes about 1 MiB a file)",
                    ),
            );
            }
        }
    }
    let mut loaded = load_sources(sources);
    loaded.unread.anything |= unreadable;
    diagnostics.append(&mut loaded.diagnostics);
    loaded.diagnostics = diagnostics;
    loaded
}

/// Decode already-read files (used by `load`, tests and the MCP server).
pub fn load_sources(files: Vec<SourceFile>) -> Loaded {
    let mut loaded = Loaded::default();
    for file in files {
        let id = loaded.config.sources.add(file);
        match node::parse(id, loaded.config.sources.get(id)) {
            Ok(root) => read_document(&root, &mut loaded),
            Err(errors) => {
                loaded.unread.anything = true;
                // A parser's recovery after a syntax mistake mostly finds echoes of it (one
                // missing `]` read as a missing `,` on every later line): the first mistake is
                // reported, with the duplicate keys before it, which are certain.
                let first_mistake = errors.iter().position(|e| e.previous.is_none());
                let errors: Vec<_> = errors
                    .into_iter()
                    .enumerate()
                    .filter(|(i, e)| {
                        Some(*i) == first_mistake
                            || (e.previous.is_some() && first_mistake.is_none_or(|f| *i < f))
                    })
                    .map(|(_, e)| e)
                    .collect();
                for e in errors {
                    let file = loaded.config.sources.get(id);
                    let span = relocate(&file.text, &e.message, e.span);
                    let help = syntax_help(file.syntax, &e.message, &file.text, span);
                    let mut d = Diagnostic::error("syntax", e.message)
                        .at(span, "here")
                        .help(help);
                    if let Some(previous) = e.previous {
                        d = d.at(previous, "first written here");
                    }
                    loaded.diagnostics.push(d);
                }
            }
        }
    }
    loaded
}

/// Where a parser's error belongs when the parser reports it elsewhere: a tab is reported at the
/// end of the line before it, and a YAML key missing its `:` at the start of the key after it.
fn relocate(text: &str, message: &str, span: Span) -> Span {
    let at = (span.start as usize).min(text.len());
    if message.contains("found a tab") {
        if let Some(tab) = text[at..].find('\t') {
            let start = at + tab;
            return Span {
                start: start as u32,
                end: start as u32 + 1,
                ..span
            };
        }
    } else if message.contains("expect ':'") {
        // The key missing its colon is the last content line before the reported one.
        let mut end = text[..at].rfind('\n').map_or(0, |i| i + 1);
        while end > 0 {
            let line_end = end - 1;
            let line_start = text[..line_end].rfind('\n').map_or(0, |i| i + 1);
            let line = &text[line_start..line_end];
            let content = line.trim();
            if !content.is_empty() && !content.starts_with('#') {
                let start = line_start + (line.len() - line.trim_start().len());
                return Span {
                    start: start as u32,
                    end: (start + content.len()) as u32,
                    ..span
                };
            }
            end = line_start;
        }
    }
    span
}

/// The line of `text` that holds byte `at`.
fn line_at(text: &str, at: usize) -> &str {
    let at = at.min(text.len());
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    &text[start..end]
}

/// Is this line's value a number written with a decimal comma (`take_profit = 1,5`)?
fn has_decimal_comma(line: &str) -> bool {
    let Some((_, value)) = line.split_once(['=', ':']) else {
        return false;
    };
    let value = value.split('#').next().unwrap_or("").trim();
    match value.split_once(',') {
        Some((whole, fraction)) => {
            !whole.is_empty()
                && !fraction.is_empty()
                && whole
                    .trim_start_matches('-')
                    .chars()
                    .all(|c| c.is_ascii_digit())
                && fraction.chars().all(|c| c.is_ascii_digit())
        }
        None => false,
    }
}

fn syntax_help(syntax: Syntax, message: &str, text: &str, span: Span) -> String {
    let line = line_at(text, span.start as usize);
    if has_decimal_comma(line) {
        let (_, value) = line.split_once(['=', ':']).unwrap_or(("", ""));
        let value = value.split('#').next().unwrap_or("").trim();
        return format!(
            "`{value}` looks like a decimal comma: numbers take a dot, `{}`",
            value.replace(',', ".")
        );
    }
    if message.contains("missing comma between array elements") {
        return "a list opened above may be missing its closing `]`".into();
    }
    if message.contains("missing comma between key-value pairs") {
        return "a table opened above may be missing its closing `}`".into();
    }
    if message.contains("found a tab") {
        return "YAML indents with spaces only: replace this tab with spaces".into();
    }
    if message.contains("expect ':'") {
        return "this key needs a `:` after it (`key: value`)".into();
    }
    match syntax {
        Syntax::Toml => "this is not valid TOML; see https://toml.io for the syntax".into(),
        Syntax::Yaml => {
            "this is not valid YAML; check the indentation and quoting around here".into()
        }
    }
}

fn read_document(root: &Node, loaded: &mut Loaded) {
    let diagnostics = &mut loaded.diagnostics;
    let config = &mut loaded.config;
    let unread = &mut loaded.unread;
    let Some(entries) = root.as_map() else {
        unread.anything = true;
        diagnostics.push(
            Diagnostic::error(
                "invalid-type",
                format!(
                    "a config file must be a table of sections, found {}",
                    root.kind_name()
                ),
            )
            .at(root.span, "here"),
        );
        return;
    };
    for entry in entries {
        let value = &entry.value;
        match entry.key.as_str() {
            "settings" => {
                if let Some(settings) =
                    decode_record::<Settings>(value, "settings table", diagnostics)
                {
                    merge_settings(&mut config.settings, settings, diagnostics);
                }
            }
            "accounts" => read_named(value, "account", &mut config.accounts, diagnostics, unread),
            "strategies" => read_named(
                value,
                "strategy set",
                &mut config.strategies,
                diagnostics,
                unread,
            ),
            "templates" => read_named(
                value,
                "template",
                &mut config.templates,
                diagnostics,
                unread,
            ),
            "blacklist" => {
                let Some(blacklist) = decode_record::<Blacklist>(value, "blacklist", diagnostics)
                else {
                    continue;
                };
                if let Some(previous) = &config.blacklist {
                    diagnostics.push(
                        Diagnostic::error("duplicate-definition", "the blacklist is defined twice")
                            .at(entry.key_span, "defined again here")
                            .at(previous.spans.record, "first defined here")
                            .help("keep the account-wide blacklist in one file"),
                    );
                } else {
                    config.blacklist = Some(blacklist);
                }
            }
            "bots" => {
                let room = MAX_BOTS.saturating_sub(config.bots.len() + config.grid_bots.len());
                read_list(value, "bots", "bot", room, &mut config.bots, diagnostics);
            }
            "grid_templates" => read_named(
                value,
                "grid template",
                &mut config.grid_templates,
                diagnostics,
                unread,
            ),
            "grid_bots" => {
                let room = MAX_BOTS.saturating_sub(config.bots.len() + config.grid_bots.len());
                read_list(
                    value,
                    "grid_bots",
                    "grid bot",
                    room,
                    &mut config.grid_bots,
                    diagnostics,
                );
            }
            other => {
                // A misspelt section (`[acounts.main]`) meant to define what references will
                // miss: they are echoes of this error.
                if let Some(kind) =
                    crate::diagnostic::closest(other, TOP_LEVEL_KEYS.iter().copied())
                        .and_then(section_kind)
                {
                    unread.kinds.insert(kind.to_string());
                }
                diagnostics.push(
                    Diagnostic::error("unknown-field", format!("unknown section `{other}`"))
                        .at(entry.key_span, "not a section")
                        .help(
                            did_you_mean(other, TOP_LEVEL_KEYS.iter().copied()).unwrap_or_else(
                                || format!("the sections are {}", TOP_LEVEL_KEYS.join(", ")),
                            ),
                        ),
                )
            }
        }
    }
}

/// A list of bots (`[[bots]]`, `[[grid_bots]]`), at most `room` more of them (the config's
/// bots of every kind count towards [`MAX_BOTS`]).
fn read_list<T: Record>(
    node: &Node,
    key: &str,
    what: &str,
    room: usize,
    into: &mut Vec<T>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let Some(items) = node.as_seq() else {
        diagnostics.push(
            Diagnostic::error(
                "invalid-type",
                format!("`{key}` must be a list of {what}s, found {}", node.kind_name()),
            )
            .at(node.span, "wrong type")
            .help(format!(
                "in TOML write each {what} as a `[[{key}]]` table; in YAML as a `- name: ...` list item"
            )),
        );
        return;
    };
    for (n, item) in items.iter().enumerate() {
        if n >= room {
            diagnostics.push(
                Diagnostic::error(
                    "too-many-bots",
                    format!("a config describes at most {MAX_BOTS} bots; this one goes on"),
                )
                .at(item.span, "the first bot over the limit")
                .help(
                    "split the bots over several config directories, one per account or strategy",
                ),
            );
            break;
        }
        if let Some(bot) = decode_record::<T>(item, what, diagnostics) {
            into.push(bot);
        }
    }
}

fn read_named<T: Record>(
    node: &Node,
    what: &str,
    into: &mut BTreeMap<String, Named<T>>,
    diagnostics: &mut Vec<Diagnostic>,
    unread: &mut Unread,
) {
    let Some(entries) = node.as_map() else {
        unread.kinds.insert(what.to_string());
        diagnostics.push(
            Diagnostic::error(
                "invalid-type",
                format!(
                    "expected a table of {what}s by name, found {}",
                    node.kind_name()
                ),
            )
            .at(node.span, "wrong type"),
        );
        return;
    };
    for entry in entries {
        let Some(value) = decode_record::<T>(&entry.value, what, diagnostics) else {
            unread.names.insert((what.to_string(), entry.key.clone()));
            continue;
        };
        if let Some(previous) = into.get(&entry.key) {
            diagnostics.push(
                Diagnostic::error(
                    "duplicate-definition",
                    format!("{what} `{}` is defined twice", entry.key),
                )
                .at(entry.key_span, "defined again here")
                .at(previous.name_span, "first defined here")
                .help(format!(
                    "rename one of them; each {what} name must be unique across all files"
                )),
            );
            continue;
        }
        into.insert(
            entry.key.clone(),
            Named {
                name: entry.key.clone(),
                name_span: entry.key_span,
                value,
            },
        );
    }
}

fn merge_settings(into: &mut Settings, from: Settings, diagnostics: &mut Vec<Diagnostic>) {
    for field in Settings::FIELDS {
        if let (Some(first), Some(again)) =
            (into.spans.fields.get(field), from.spans.fields.get(field))
        {
            diagnostics.push(
                Diagnostic::error(
                    "duplicate-definition",
                    format!("setting `{field}` is set twice"),
                )
                .at(again.0, "set again here")
                .at(first.0, "first set here")
                .help("set each setting in one file only"),
            );
        }
    }
    let mut from = from;
    from.fill_from(into);
    *into = from;
}
