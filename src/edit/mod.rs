//! Edits to config files that keep everything else as written: comments, layout, order, quoting.
//!
//! Owns the edit primitives the MCP editing tools (and later `botform fmt`) are built on: set or
//! remove fields of a bot, template, account or the settings; add and remove bots; add and remove
//! blacklist pairs; and `format`, the canonical layout of `botform fmt`. TOML files are edited through `toml_edit`; YAML files by splicing the text at
//! the spans the config loader keeps (`config::node`), so no YAML round trip loses a comment.
//!
//! Every edit is checked before anything is written: the edited file is parsed again and its data
//! must equal the old data with exactly the requested change (no other field moved, in any file),
//! or the edit is refused. Writing (atomic, never through a link, refused when the file changed
//! since it was read) is [`write`]'s job; the caller decides whether an edit that leaves the config
//! invalid may be written.

pub mod format;
pub mod locate;
mod toml;
mod yaml;

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::config::node::{self, Node};
use crate::config::source::{FileId, SourceFile, Syntax};

/// Which list of a file a bot entry is in: one per kind of bot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BotList {
    /// `[[bots]]`: DCA bots.
    #[default]
    Dca,
    /// `[[grid_bots]]`.
    Grid,
}

impl BotList {
    /// The list's key in a config file.
    pub fn key(self) -> &'static str {
        match self {
            BotList::Dca => "bots",
            BotList::Grid => "grid_bots",
        }
    }
}

/// A bot entry in one file: the `nth` (from 0, in file order) of the entries named exactly
/// `name` in its `list`. Names are matched exactly here; choosing among near matches (case,
/// accounts) is the caller's job, so an edit can only ever touch the entry it was aimed at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotRef {
    pub list: BotList,
    pub name: String,
    pub nth: usize,
}

impl BotRef {
    /// The first DCA bot entry of that name.
    pub fn named(name: &str) -> BotRef {
        BotRef {
            list: BotList::Dca,
            name: name.to_string(),
            nth: 0,
        }
    }

    /// The position of this entry among entries with the given names (`None`: no name).
    pub fn position<'a>(&self, names: impl IntoIterator<Item = Option<&'a str>>) -> Option<usize> {
        names
            .into_iter()
            .enumerate()
            .filter(|(_, n)| *n == Some(self.name.as_str()))
            .nth(self.nth)
            .map(|(i, _)| i)
    }
}

/// What an edit acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entity {
    /// A bot entry.
    Bot(BotRef),
    /// `[templates.NAME]`.
    Template(String),
    /// `[accounts.ALIAS]`.
    Account(String),
    /// `[settings]`.
    Settings,
}

impl std::fmt::Display for Entity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Entity::Bot(b) if b.list == BotList::Grid => {
                write!(f, "grid bot \"{}\"", crate::diagnostic::shown(&b.name))
            }
            Entity::Bot(b) => write!(f, "bot \"{}\"", crate::diagnostic::shown(&b.name)),
            Entity::Template(n) => write!(f, "template `{n}`"),
            Entity::Account(n) => write!(f, "account `{n}`"),
            Entity::Settings => write!(f, "the settings"),
        }
    }
}

/// One change to one file.
#[derive(Debug, Clone)]
pub enum Op {
    /// Set fields (a JSON null removes the field).
    Set {
        entity: Entity,
        fields: Map<String, Value>,
    },
    /// Append a bot (a table of fields, `name` first) to the file's `list`.
    AddBot {
        list: BotList,
        fields: Map<String, Value>,
    },
    /// Remove a bot's entry.
    RemoveBot(BotRef),
    /// Add pairs to the blacklist (creating it when the file has none).
    BlacklistAdd { pairs: Vec<String> },
    /// Remove pairs from the blacklist.
    BlacklistRemove { pairs: Vec<String> },
}

/// A file before and after an edit.
#[derive(Debug, Clone)]
pub struct Edited {
    pub path: PathBuf,
    pub before: String,
    pub after: String,
}

impl Edited {
    /// The unified diff of the edit, paths as `label` shows them.
    pub fn diff(&self, label: &str) -> String {
        similar::TextDiff::from_lines(&self.before, &self.after)
            .unified_diff()
            .context_radius(2)
            .header(&format!("a/{label}"), &format!("b/{label}"))
            .to_string()
    }
}

/// Apply `op` to a file's text. The result is checked: its data is the old data with exactly
/// this change.
pub fn apply(path: &Path, text: &str, op: &Op) -> Result<Edited, String> {
    let syntax = Syntax::from_path(path).ok_or_else(|| {
        format!(
            "{} is neither TOML nor YAML (.toml, .yaml, .yml)",
            path.display()
        )
    })?;
    let before_tree = parse(path, syntax, text)?;
    let after = match syntax {
        Syntax::Toml => toml::apply(text, op)?,
        Syntax::Yaml => yaml::apply(text, &before_tree, op)?,
    };
    let after_tree = parse(path, syntax, &after).map_err(|e| {
        format!("botform could not make this edit cleanly ({e}); nothing was written")
    })?;
    let mut expected = before_tree.to_json();
    expect(&mut expected, op)?;
    if without_empty_lists(normalized(&after_tree.to_json()))
        != without_empty_lists(normalized(&expected))
    {
        return Err(
            "botform could not make this edit exactly: the file would change more than asked; nothing was written (edit it by hand)"
                .into(),
        );
    }
    Ok(Edited {
        path: path.to_path_buf(),
        before: text.to_string(),
        after,
    })
}

fn parse(path: &Path, syntax: Syntax, text: &str) -> Result<Node, String> {
    let file = SourceFile::new(path.to_path_buf(), syntax, text.to_string());
    node::parse(FileId(0), &file).map_err(|errors| {
        let e = &errors[0];
        let (line, col) = file.line_col(e.span.start as usize);
        format!("{}:{line}:{col}: {}", path.display(), e.message)
    })
}

/// Numbers compared by value (`1.30` is `1.3`), everything else as is.
/// The data with empty (or null) bot lists left out: removing a file's last bot leaves no list
/// in TOML and may leave an empty one in YAML, and the loader reads both as no bots.
fn without_empty_lists(mut value: Value) -> Value {
    if let Some(root) = value.as_object_mut() {
        for list in [BotList::Dca, BotList::Grid] {
            let empty = root
                .get(list.key())
                .is_some_and(|v| v.is_null() || v.as_array().is_some_and(Vec::is_empty));
            if empty {
                root.remove(list.key());
            }
        }
    }
    value
}

fn normalized(value: &Value) -> Value {
    match value {
        Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| value.clone()),
        Value::Array(items) => Value::Array(items.iter().map(normalized).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), normalized(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The data a file should hold after `op`, from the data before it.
fn expect(doc: &mut Value, op: &Op) -> Result<(), String> {
    let root = doc
        .as_object_mut()
        .ok_or("the file is not a table of sections")?;
    match op {
        Op::Set { entity, fields } => {
            let table =
                entity_json(root, entity).ok_or_else(|| format!("{entity} is not in this file"))?;
            for (k, v) in fields {
                if v.is_null() {
                    table.remove(k);
                } else {
                    table.insert(k.clone(), as_written(k, v));
                }
            }
        }
        Op::AddBot { list, fields } => {
            let bots = root
                .entry(list.key())
                .or_insert_with(|| Value::Array(Vec::new()));
            let table: Map<String, Value> = fields
                .iter()
                .map(|(k, v)| (k.clone(), as_written(k, v)))
                .collect();
            bots.as_array_mut()
                .ok_or_else(|| format!("`{}` is not a list in this file", list.key()))?
                .push(Value::Object(table));
        }
        Op::RemoveBot(bot) => {
            let bots = root
                .get_mut(bot.list.key())
                .and_then(Value::as_array_mut)
                .ok_or("this file has no bot list")?;
            let i = bot_index(bots, bot)
                .ok_or_else(|| format!("no bot \"{}\" in this file", bot.name))?;
            bots.remove(i);
        }
        Op::BlacklistAdd { pairs } => {
            let list = root
                .entry("blacklist")
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .ok_or("`blacklist` is not a table")?
                .entry("pairs")
                .or_insert_with(|| Value::Array(Vec::new()))
                .as_array_mut()
                .ok_or("`blacklist.pairs` is not a list")?;
            for p in pairs {
                if !list.iter().any(|v| v.as_str() == Some(p)) {
                    list.push(Value::String(p.clone()));
                }
            }
        }
        Op::BlacklistRemove { pairs } => {
            let list = root
                .get_mut("blacklist")
                .and_then(|b| b.get_mut("pairs"))
                .and_then(Value::as_array_mut)
                .ok_or("this file has no blacklist")?;
            list.retain(|v| !v.as_str().is_some_and(|s| pairs.iter().any(|p| p == s)));
        }
    }
    Ok(())
}

fn entity_json<'a>(
    root: &'a mut Map<String, Value>,
    entity: &Entity,
) -> Option<&'a mut Map<String, Value>> {
    match entity {
        Entity::Settings => root.get_mut("settings")?.as_object_mut(),
        Entity::Template(n) => root.get_mut("templates")?.get_mut(n)?.as_object_mut(),
        Entity::Account(n) => root.get_mut("accounts")?.get_mut(n)?.as_object_mut(),
        Entity::Bot(bot) => {
            let bots = root.get_mut(bot.list.key())?.as_array_mut()?;
            let i = bot_index(bots, bot)?;
            bots[i].as_object_mut()
        }
    }
}

/// The position of a bot entry in a JSON bot list.
fn bot_index(bots: &[Value], bot: &BotRef) -> Option<usize> {
    bot.position(bots.iter().map(|b| b.get("name").and_then(Value::as_str)))
}

/// Fields that hold numbers (a decimal given as a string is written as a number there).
fn numeric_field(field: &str) -> bool {
    static NUMERIC: std::sync::OnceLock<std::collections::BTreeSet<String>> =
        std::sync::OnceLock::new();
    NUMERIC
        .get_or_init(|| {
            let schema: Value =
                serde_json::from_str(&crate::schema::config_schema_json()).unwrap_or_default();
            let mut names = std::collections::BTreeSet::new();
            if let Some(defs) = schema["definitions"].as_object() {
                for def in defs.values() {
                    for (name, prop) in def["properties"].as_object().into_iter().flatten() {
                        let text = prop.to_string();
                        let numeric = text.contains("\"number\"")
                            || text.contains("\"integer\"")
                            || text.contains("definitions/Decimal");
                        let textual = text.contains("\"string\"");
                        if numeric && !textual {
                            names.insert(name.clone());
                        }
                    }
                }
            }
            names
        })
        .contains(field)
}

/// A value as the file will hold it: decimal strings in numeric fields become numbers (the text
/// kept exactly), everything else as given.
fn as_written(field: &str, value: &Value) -> Value {
    match value {
        Value::String(s) if numeric_field(field) && is_decimal(s) => {
            serde_json::from_str(s).unwrap_or_else(|_| value.clone())
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| as_written(field, v)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), as_written(k, v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `12`, `-0.5`, `1.25`: a number TOML and YAML both read as written.
pub fn is_decimal(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    !int.is_empty()
        && !frac.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && !(int.len() > 1 && int.starts_with('0'))
}

/// The number text of a value, when it is (or is written as) a plain decimal.
fn number_text(field: &str, value: &Value) -> Option<String> {
    match as_written(field, value) {
        Value::Number(n) => Some(if let Value::String(s) = value {
            s.clone()
        } else {
            n.to_string()
        }),
        _ => None,
    }
}

/// Write edited files: each atomically, and only when it still holds the text the edit started
/// from (a person or another tool may have changed it meanwhile).
pub fn write(edits: &[Edited]) -> Result<(), String> {
    for e in edits {
        let now = match crate::files::read_bounded(&e.path, crate::files::MAX_CONFIG_FILE_BYTES) {
            Ok(text) => Some(text),
            Err(_) if !e.path.exists() && e.before.is_empty() => None,
            Err(err) => return Err(format!("{}: {err}", e.path.display())),
        };
        if now.as_deref().unwrap_or("") != e.before {
            return Err(format!(
                "{} changed underneath this edit (another writer); nothing was written: read it again and make the edit again",
                e.path.display()
            ));
        }
    }
    for e in edits {
        if let Some(dir) = e.path.parent() {
            std::fs::create_dir_all(dir).map_err(|err| format!("{}: {err}", dir.display()))?;
        }
        crate::files::rewrite_config_file(&e.path, e.after.as_bytes())
            .map_err(|err| format!("{}: {err}", e.path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
