//! `import`: the live account written out as config files a person would write.
//!
//! Accounts get aliases from their names and are pinned by id; every bot is pinned by id and
//! carries every setting 3Commas holds (so planning the result finds nothing to change). Each
//! account's bots go to their own files, split into files of at most [`BOTS_PER_FILE`] bots and
//! about [`FILE_BYTES`] (so 10,000 bots stay far inside the per-file cap on config text), and the
//! settings that every bot of a file shares are lifted into that file's template. TOML or YAML,
//! same shape.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::kinds::DCA_WRITE_ONLY_FIELDS;
use super::plan::LiveState;
use crate::model::bot::LiveBot;
use crate::threecommas::grid_wire::WireGridBot;
use crate::threecommas::wire::Account;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportFormat {
    Toml,
    Yaml,
}

impl ImportFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ImportFormat::Toml => "toml",
            ImportFormat::Yaml => "yaml",
        }
    }
}

/// One file to write: a path relative to the output directory, and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedFile {
    pub path: String,
    pub text: String,
}

/// Which accounts to import: by name or id; all when empty. Unknown selectors are an error.
pub fn select_accounts<'a>(
    accounts: &'a [Account],
    selectors: &[String],
) -> Result<Vec<&'a Account>, String> {
    if selectors.is_empty() {
        return Ok(accounts.iter().collect());
    }
    let mut chosen = Vec::new();
    for s in selectors {
        let found = accounts
            .iter()
            .find(|a| a.name == *s || a.id.to_string() == *s)
            .ok_or_else(|| {
                format!(
                    "no live account is named or numbered `{s}`; the accounts are: {}",
                    accounts
                        .iter()
                        .map(|a| format!("\"{}\" ({})", a.name, a.id))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
        if !chosen.iter().any(|a: &&Account| a.id == found.id) {
            chosen.push(found);
        }
    }
    Ok(chosen)
}

/// A config alias from an account name: `Binance Spot` → `binance-spot`.
pub fn alias_of(name: &str) -> String {
    let mut alias = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            alias.push(c.to_ascii_lowercase());
        } else if !alias.ends_with('-') && !alias.is_empty() {
            alias.push('-');
        }
    }
    let alias = alias.trim_end_matches('-').to_string();
    if alias.is_empty() {
        "account".into()
    } else {
        alias
    }
}

/// The config files for `accounts` of `live`, with their grid bots (`grids`).
pub fn import(
    live: &LiveState,
    grids: &[WireGridBot],
    accounts: &[&Account],
    format: ImportFormat,
    source: &str,
) -> Vec<ImportedFile> {
    let mut aliases: BTreeMap<i64, String> = BTreeMap::new();
    for account in accounts {
        let mut alias = alias_of(&account.name);
        let base = alias.clone();
        let mut n = 2;
        while aliases.values().any(|a| *a == alias) {
            alias = format!("{base}-{n}");
            n += 1;
        }
        aliases.insert(account.id, alias);
    }
    let header = format!(
        "Written by `botform import` from {source}. Edit freely: `botform plan` shows what an edit changes."
    );
    let mut files = Vec::new();

    let mut shared = Map::new();
    let mut accounts_table = Map::new();
    for account in accounts {
        let mut a = Map::new();
        a.insert("name".into(), Value::String(account.name.clone()));
        a.insert("id".into(), Value::from(account.id));
        accounts_table.insert(aliases[&account.id].clone(), Value::Object(a));
    }
    shared.insert("accounts".into(), Value::Object(accounts_table));
    let mut blacklist = Map::new();
    blacklist.insert(
        "pairs".into(),
        Value::Array(live.blacklist.iter().cloned().map(Value::String).collect()),
    );
    shared.insert("blacklist".into(), Value::Object(blacklist));
    files.push(ImportedFile {
        path: format!("accounts.{}", format.extension()),
        text: emit(&Value::Object(shared), format, &header),
    });

    for account in accounts {
        let alias = &aliases[&account.id];
        let entries: Vec<Map<String, Value>> = live
            .bots
            .iter()
            .filter(|b| b.account_id == account.id)
            .map(|b| bot_entry(b, alias))
            .collect();
        let chunks = chunks(entries);
        let numbered = chunks.len() > 1;
        for (i, chunk) in chunks.into_iter().enumerate() {
            let suffix = if numbered {
                format!("-{:02}", i + 1)
            } else {
                String::new()
            };
            let doc = bots_document(chunk, &format!("{alias}-shared{suffix}"));
            files.push(ImportedFile {
                path: format!("bots-{alias}{suffix}.{}", format.extension()),
                text: emit(&doc, format, &header),
            });
        }
        let grid_entries: Vec<Value> = grids
            .iter()
            .filter(|g| g.account_id == account.id)
            .map(|g| Value::Object(grid_entry(g, alias)))
            .collect();
        if !grid_entries.is_empty() {
            let mut doc = Map::new();
            doc.insert("grid_bots".into(), Value::Array(grid_entries));
            files.push(ImportedFile {
                path: format!("grid-bots-{alias}.{}", format.extension()),
                text: emit(&Value::Object(doc), format, &header),
            });
        }
    }
    files
}

/// A live grid bot as a `[[grid_bots]]` entry: its identity and every setting 3Commas shows,
/// by the same names (the write-only ones it never shows are left out, as for DCA bots).
fn grid_entry(grid: &WireGridBot, alias: &str) -> Map<String, Value> {
    let mut entry = Map::new();
    entry.insert("name".into(), Value::String(grid.name.clone()));
    entry.insert("id".into(), Value::from(grid.id));
    entry.insert("account".into(), Value::String(alias.to_string()));
    entry.insert("pair".into(), Value::String(grid.pair.clone()));
    entry.insert("enabled".into(), Value::Bool(grid.is_enabled));
    let Ok(Value::Object(settings)) = serde_json::to_value(grid) else {
        return entry;
    };
    // Identity and state are above; 3Commas computes the step.
    let not_settings = [
        "id",
        "account_id",
        "account_name",
        "is_enabled",
        "name",
        "pair",
        "grid_price_step",
    ];
    for (key, value) in settings {
        let empty_note = key == "note" && value.as_str().is_some_and(str::is_empty);
        if value.is_null() || empty_note || not_settings.contains(&key.as_str()) {
            continue;
        }
        entry.insert(key, readable(value));
    }
    entry
}

/// The most bots one imported file holds.
pub const BOTS_PER_FILE: usize = 1_000;

/// About the most text one imported file holds (1 MiB, a quarter of the per-file cap on config
/// text): a file of bots with many pairs each ends before [`BOTS_PER_FILE`].
pub const FILE_BYTES: usize = 1024 * 1024;

/// An account's bots in files: in their order, each file up to [`BOTS_PER_FILE`] bots and
/// about [`FILE_BYTES`] (an entry's size judged by its JSON, which TOML and YAML stay near).
fn chunks(entries: Vec<Map<String, Value>>) -> Vec<Vec<Map<String, Value>>> {
    let mut chunks: Vec<Vec<Map<String, Value>>> = Vec::new();
    let mut bytes = 0;
    for entry in entries {
        let size = serde_json::to_string(&entry).map_or(0, |t| t.len());
        match chunks.last_mut() {
            Some(last) if last.len() < BOTS_PER_FILE && bytes + size <= FILE_BYTES => {
                bytes += size;
                last.push(entry);
            }
            _ => {
                bytes = size;
                chunks.push(vec![entry]);
            }
        }
    }
    chunks
}

/// One file of bots: the settings every bot of it agrees on lifted into `template_name` (when
/// there are two bots or more), each bot keeping the rest.
fn bots_document(entries: Vec<Map<String, Value>>, template_name: &str) -> Value {
    let mut doc = Map::new();
    let common = if entries.len() >= 2 {
        common_settings(&entries)
    } else {
        Map::new()
    };
    if !common.is_empty() {
        let mut templates = Map::new();
        templates.insert(template_name.to_string(), Value::Object(common.clone()));
        doc.insert("templates".into(), Value::Object(templates));
    }
    let list: Vec<Value> = entries
        .into_iter()
        .map(|entry| {
            if common.is_empty() {
                return Value::Object(entry);
            }
            // The template goes right after the bot's identity, before its own settings.
            let mut ordered = Map::new();
            for (k, v) in entry {
                if common.contains_key(&k) {
                    continue;
                }
                let after_identity = k == "enabled";
                ordered.insert(k, v);
                if after_identity {
                    ordered.insert("template".into(), Value::String(template_name.to_string()));
                }
            }
            Value::Object(ordered)
        })
        .collect();
    doc.insert("bots".into(), Value::Array(list));
    Value::Object(doc)
}

/// Keys a bot always keeps itself (never lifted into a template).
const OWN_KEYS: &[&str] = &["name", "id", "account", "pairs", "enabled", "template"];

fn bot_entry(bot: &LiveBot, alias: &str) -> Map<String, Value> {
    let mut entry = Map::new();
    entry.insert(
        "name".into(),
        Value::String(bot.settings.name.clone().unwrap_or_default()),
    );
    entry.insert("id".into(), Value::from(bot.id));
    entry.insert("account".into(), Value::String(alias.to_string()));
    entry.insert("enabled".into(), Value::Bool(bot.is_enabled));
    for (key, value) in bot.settings.to_map() {
        if key == "name" || DCA_WRITE_ONLY_FIELDS.contains(&key.as_str()) {
            continue;
        }
        let empty_list = value.as_array().is_some_and(|a| a.is_empty());
        if empty_list && key != "strategy_list" {
            continue;
        }
        let key = if key == "strategy_list" {
            "start".to_string()
        } else {
            key
        };
        entry.insert(key, readable(value));
    }
    entry
}

/// Settings every bot agrees on.
fn common_settings(entries: &[Map<String, Value>]) -> Map<String, Value> {
    let Some(first) = entries.first() else {
        return Map::new();
    };
    first
        .iter()
        .filter(|(k, _)| !OWN_KEYS.contains(&k.as_str()))
        .filter(|(k, v)| entries.iter().all(|e| e.get(*k) == Some(*v)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Decimal strings that a number shows exactly become numbers; everything else stays as is.
fn readable(value: Value) -> Value {
    match value {
        Value::String(s) => match s.parse::<f64>() {
            Ok(f)
                if f.is_finite()
                    && format!("{f}") == s
                    && s.parse::<crate::model::decimal::Decimal>().is_ok() =>
            {
                if let Ok(i) = s.parse::<i64>() {
                    Value::from(i)
                } else {
                    Value::from(f)
                }
            }
            _ => Value::String(s),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(readable).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, readable(v))).collect())
        }
        other => other,
    }
}

fn emit(doc: &Value, format: ImportFormat, header: &str) -> String {
    let mut out = format!("# {header}\n\n");
    match format {
        ImportFormat::Toml => toml_document(&mut out, doc),
        ImportFormat::Yaml => yaml_value(&mut out, doc, 0),
    }
    // `botform fmt`'s layout: the file ends with one newline, no blank line after the last table.
    let end = out.trim_end_matches('\n').len();
    out.truncate(end);
    out.push('\n');
    out
}

/// A small TOML writer for import's shape: named tables (`[accounts.x]`, `[templates.x]`,
/// `[blacklist]`) and `[[bots]]`, each key on one line with lists and tables written inline, the
/// way a person writes `start = [{ strategy = "rsi", options = { ... } }]`.
fn toml_document(out: &mut String, doc: &Value) {
    let Some(sections) = doc.as_object() else {
        return;
    };
    for (section, value) in sections {
        match value {
            Value::Array(items) => {
                for item in items {
                    out.push_str(&format!("[[{section}]]\n"));
                    toml_keys(out, item);
                    out.push('\n');
                }
            }
            Value::Object(map) if map.values().all(Value::is_object) && !map.is_empty() => {
                for (name, table) in map {
                    out.push_str(&format!("[{section}.{}]\n", toml_key(name)));
                    toml_keys(out, table);
                    out.push('\n');
                }
            }
            other => {
                out.push_str(&format!("[{section}]\n"));
                toml_keys(out, other);
                out.push('\n');
            }
        }
    }
}

fn toml_keys(out: &mut String, table: &Value) {
    for (k, v) in table.as_object().into_iter().flatten() {
        out.push_str(&format!("{} = {}\n", toml_key(k), toml_inline(v)));
    }
}

fn toml_key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        k.to_string()
    } else {
        serde_json::to_string(k).expect("strings serialize")
    }
}

/// JSON scalars are valid TOML scalars (strings use the escapes both share); lists and tables
/// become inline.
fn toml_inline(v: &Value) -> String {
    match v {
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(toml_inline).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) if map.is_empty() => "{}".into(),
        Value::Object(map) => format!(
            "{{ {} }}",
            map.iter()
                .map(|(k, v)| format!("{} = {}", toml_key(k), toml_inline(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => serde_json::to_string(other).expect("JSON serializes"),
    }
}

/// A small YAML writer: block maps and lists, flow lists of scalars, JSON-quoted strings (valid
/// YAML double-quoted scalars).
fn yaml_value(out: &mut String, value: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                out.push_str(&format!("{pad}{}:", yaml_key(k)));
                yaml_child(out, v, indent);
            }
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(map) if !map.is_empty() => {
                        let mut first = true;
                        for (k, v) in map {
                            let lead = if first {
                                format!("{pad}- ")
                            } else {
                                format!("{pad}  ")
                            };
                            first = false;
                            out.push_str(&format!("{lead}{}:", yaml_key(k)));
                            yaml_child(out, v, indent + 2);
                        }
                    }
                    other => {
                        out.push_str(&format!("{pad}- {}\n", yaml_scalar(other)));
                    }
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", yaml_scalar(other))),
    }
}

fn yaml_child(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            yaml_value(out, v, indent + 2);
        }
        Value::Array(items)
            if !items.is_empty() && items.iter().all(|i| !i.is_object() && !i.is_array()) =>
        {
            out.push_str(&format!(
                " [{}]\n",
                items.iter().map(yaml_scalar).collect::<Vec<_>>().join(", ")
            ));
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            yaml_value(out, v, indent + 2);
        }
        other => out.push_str(&format!(" {}\n", yaml_scalar(other))),
    }
}

fn yaml_key(k: &str) -> String {
    if k.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !k.is_empty()
    {
        k.to_string()
    } else {
        serde_json::to_string(k).expect("strings serialize")
    }
}

fn yaml_scalar(v: &Value) -> String {
    match v {
        Value::Object(m) if m.is_empty() => "{}".into(),
        Value::Array(a) if a.is_empty() => "[]".into(),
        Value::Object(_) | Value::Array(_) => serde_json::to_string(v).expect("JSON serializes"),
        other => serde_json::to_string(other).expect("JSON serializes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_ends_at_a_thousand_bots_or_about_a_mebibyte_whichever_comes_first() {
        let entry = |pairs: usize| {
            let mut e = Map::new();
            e.insert("name".into(), Value::String("bot".into()));
            e.insert(
                "pairs".into(),
                Value::Array(vec![Value::String("USDT_BTCUSDT".into()); pairs]),
            );
            e
        };
        let small: Vec<usize> = chunks(vec![entry(1); 2_500]).iter().map(Vec::len).collect();
        assert_eq!(small, [1_000, 1_000, 500]);
        // Bots with 500 pairs each (about 7.5 KB of JSON): a file holds what fits in 1 MiB.
        let large = chunks(vec![entry(500); 300]);
        let size = |c: &Vec<Map<String, Value>>| {
            c.iter()
                .map(|e| serde_json::to_string(e).unwrap().len())
                .sum::<usize>()
        };
        assert!(large.len() > 1 && large.iter().all(|c| size(c) <= FILE_BYTES));
        assert_eq!(large.iter().map(Vec::len).sum::<usize>(), 300);
        // One entry over the size still gets a file of its own, never lost.
        assert_eq!(chunks(vec![entry(100_000)]).len(), 1);
    }

    #[test]
    fn aliases_are_slugs() {
        assert_eq!(alias_of("Binance Spot"), "binance-spot");
        assert_eq!(alias_of("Paper Account 2080398"), "paper-account-2080398");
        assert_eq!(alias_of("!!!"), "account");
    }

    #[test]
    fn numbers_that_read_back_exactly_become_numbers() {
        assert_eq!(readable(Value::String("1.5".into())), Value::from(1.5));
        assert_eq!(readable(Value::String("10".into())), Value::from(10));
        assert_eq!(
            readable(Value::String("2516.288198099688473520249221184".into())),
            Value::String("2516.288198099688473520249221184".into())
        );
        assert_eq!(
            readable(Value::String("15m".into())),
            Value::String("15m".into())
        );
    }
}
