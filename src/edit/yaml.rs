//! Edits to YAML files as splices of the original text at the spans the loader keeps: only the
//! bytes of the changed values move, so comments, anchors, quoting and layout stay as written.
//! Block collections get new lines at the indentation of their neighbours; flow collections
//! (`[a, b]`, `{k: v}`) get items inside their brackets.

use std::ops::Range;

use serde_json::Value;

use super::{Entity, Op, number_text};
use crate::config::node::{Node, NodeValue};

/// One replacement of a byte range.
struct Splice {
    range: Range<usize>,
    text: String,
}

pub fn apply(text: &str, root: &Node, op: &Op) -> Result<String, String> {
    let mut splices = Vec::new();
    match op {
        Op::Set { entity, fields } => {
            let map =
                entity_node(root, entity).ok_or_else(|| format!("{entity} is not in this file"))?;
            for (key, value) in fields {
                splices.extend(set_entry(text, map, key, value)?);
            }
        }
        Op::AddBot { list, fields } => match root.get(list.key()) {
            Some(entry) => splices.push(append_item(text, &entry.value, fields)?),
            None => splices.push(Splice {
                range: text.len()..text.len(),
                text: format!(
                    "{}{}:\n{}\n",
                    separator(text),
                    list.key(),
                    block_item(fields, 2)
                ),
            }),
        },
        Op::RemoveBot(bot) => {
            let bots = root
                .get(bot.list.key())
                .and_then(|e| e.value.as_seq().map(|items| (&e.value, items)))
                .ok_or("this file has no bot list")?;
            let (seq, items) = bots;
            let i = bot
                .position(items.iter().map(name_of))
                .ok_or_else(|| format!("no bot \"{}\" in this file", bot.name))?;
            splices.push(remove_item(text, seq, items, i)?);
        }
        Op::BlacklistAdd { pairs } => {
            let blacklist = root.get("blacklist");
            let list = blacklist.and_then(|b| b.value.get("pairs"));
            match (blacklist, list) {
                (None, _) => splices.push(Splice {
                    range: text.len()..text.len(),
                    text: format!(
                        "{}blacklist:\n  pairs: {}\n",
                        separator(text),
                        flow_seq(pairs)
                    ),
                }),
                (Some(b), None) => splices.extend(set_entry(
                    text,
                    &b.value,
                    "pairs",
                    &Value::Array(pairs.iter().map(|p| Value::String(p.clone())).collect()),
                )?),
                (Some(_), Some(list)) => {
                    let have: Vec<&str> = list
                        .value
                        .as_seq()
                        .ok_or("`blacklist.pairs` is not a list")?
                        .iter()
                        .filter_map(Node::as_str)
                        .collect();
                    let mut added: Vec<String> = Vec::new();
                    for p in pairs {
                        if !have.contains(&p.as_str()) && !added.contains(p) {
                            added.push(p.clone());
                        }
                    }
                    if !added.is_empty() {
                        let block = added
                            .iter()
                            .map(|p| scalar(&Value::String(p.clone())))
                            .collect::<Vec<_>>();
                        splices.push(append_items(text, &list.value, &block)?);
                    }
                }
            }
        }
        Op::BlacklistRemove { pairs } => {
            let list = root
                .get("blacklist")
                .and_then(|b| b.value.get("pairs"))
                .ok_or("this file has no blacklist")?;
            let items = list
                .value
                .as_seq()
                .ok_or("`blacklist.pairs` is not a list")?;
            if is_flow(text, &list.value) {
                let kept: Vec<String> = items
                    .iter()
                    .filter_map(Node::as_str)
                    .filter(|s| !pairs.iter().any(|p| p == s))
                    .map(str::to_string)
                    .collect();
                splices.push(Splice {
                    range: list.value.span.range(),
                    text: flow_seq(&kept),
                });
            } else {
                for (i, item) in items.iter().enumerate() {
                    if item.as_str().is_some_and(|s| pairs.iter().any(|p| p == s)) {
                        splices.push(remove_item(text, &list.value, items, i)?);
                    }
                }
            }
        }
    }
    Ok(splice(text, splices))
}

fn splice(text: &str, mut splices: Vec<Splice>) -> String {
    splices.sort_by_key(|s| std::cmp::Reverse(s.range.start));
    let mut out = text.to_string();
    for s in splices {
        out.replace_range(s.range, &s.text);
    }
    out
}

/// A blank line before a new top-level section appended at the end.
fn separator(text: &str) -> &'static str {
    if text.is_empty() || text.ends_with("\n\n") {
        ""
    } else if text.ends_with('\n') {
        "\n"
    } else {
        "\n\n"
    }
}

fn entity_node<'a>(root: &'a Node, entity: &Entity) -> Option<&'a Node> {
    match entity {
        Entity::Settings => Some(&root.get("settings")?.value),
        Entity::Template(n) => Some(&root.get("templates")?.value.get(n)?.value),
        Entity::Account(n) => Some(&root.get("accounts")?.value.get(n)?.value),
        Entity::Bot(bot) => {
            let items = root.get(bot.list.key())?.value.as_seq()?;
            items.get(bot.position(items.iter().map(name_of))?)
        }
    }
}

fn name_of(bot: &Node) -> Option<&str> {
    bot.get("name").and_then(|e| e.value.as_str())
}

fn line_start(text: &str, offset: usize) -> usize {
    text[..offset].rfind('\n').map(|i| i + 1).unwrap_or(0)
}

/// The offset of the newline ending the line at `offset` (or the end of the text).
fn line_end(text: &str, offset: usize) -> usize {
    text[offset..]
        .find('\n')
        .map(|i| offset + i)
        .unwrap_or(text.len())
}

/// The last byte of a node's own text: its span may run on over blank lines and comment lines
/// up to the next token, and those belong to what follows.
fn last_byte(text: &str, node: &Node) -> usize {
    let range = node.span.range();
    let mut own = text[range.clone()].trim_end();
    while let Some(newline) = own.rfind('\n') {
        let last_line = own[newline + 1..].trim();
        if last_line.is_empty() || last_line.starts_with('#') {
            own = own[..newline].trim_end();
        } else {
            break;
        }
    }
    range.start + own.len().max(1) - 1
}

fn is_flow(text: &str, node: &Node) -> bool {
    matches!(
        text.as_bytes().get(node.span.start as usize),
        Some(b'[' | b'{')
    )
}

/// Set (or, for null, remove) one key of a map node.
fn set_entry(text: &str, map: &Node, key: &str, value: &Value) -> Result<Vec<Splice>, String> {
    let entries = map.as_map().ok_or("not a table")?;
    let flow = is_flow(text, map);
    let existing = entries.iter().find(|e| e.key == key);
    match (existing, value.is_null()) {
        (None, true) => Ok(Vec::new()),
        (Some(e), true) => {
            if flow {
                return Err(format!(
                    "`{key}` is in a flow table (`{{...}}`): remove it by hand"
                ));
            }
            let start = line_start(text, e.key_span.start as usize);
            let end = line_end(text, last_byte(text, &e.value).max(e.key_span.end as usize));
            Ok(vec![Splice {
                range: start..(end + 1).min(text.len()),
                text: String::new(),
            }])
        }
        (Some(e), false) => {
            let old_is_block =
                !matches!(e.value.value, NodeValue::Scalar { .. }) && !is_flow(text, &e.value);
            let range = if old_is_block {
                // `key:` then an indented block: replace the block by a flow value on the key's line.
                let end = line_end(text, last_byte(text, &e.value));
                (e.key_span.end as usize)..end
            } else {
                e.value.span.range()
            };
            let rendered = flow_value(key, value);
            let new = if old_is_block {
                let colon = text[e.key_span.end as usize..].find(':').unwrap_or(0);
                format!(
                    "{}: {rendered}",
                    &text[e.key_span.end as usize..e.key_span.end as usize + colon]
                )
            } else {
                rendered
            };
            if range.is_empty() && !old_is_block {
                // `key:` with nothing after it (null): write the value after the colon.
                let colon = text[e.key_span.end as usize..]
                    .find(':')
                    .map(|i| e.key_span.end as usize + i + 1)
                    .ok_or("unexpected layout")?;
                return Ok(vec![Splice {
                    range: colon..colon,
                    text: format!(" {}", flow_value(key, value)),
                }]);
            }
            Ok(vec![Splice { range, text: new }])
        }
        (None, false) => {
            let rendered = flow_value(key, value);
            if flow {
                let close = last_byte(text, map);
                let sep = if entries.is_empty() { "" } else { ", " };
                return Ok(vec![Splice {
                    range: close..close,
                    text: format!("{sep}{key}: {rendered}"),
                }]);
            }
            let first = entries.first().ok_or("an empty block table")?;
            let indent =
                first.key_span.start as usize - line_start(text, first.key_span.start as usize);
            let last = entries.last().expect("not empty");
            let at = line_end(
                text,
                last_byte(text, &last.value).max(last.key_span.end as usize),
            );
            Ok(vec![Splice {
                range: at..at,
                text: format!("\n{}{key}: {rendered}", " ".repeat(indent)),
            }])
        }
    }
}

/// The column of the `- ` that introduces a block sequence item.
fn dash_column(text: &str, item: &Node) -> Result<usize, String> {
    let start = item.span.start as usize;
    let line = line_start(text, start);
    text[line..start]
        .rfind('-')
        .ok_or_else(|| "unexpected layout of the list".to_string())
}

/// Append a table to a sequence node: a block item at its neighbours' indentation, or a flow
/// table inside `[...]`.
fn append_item(
    text: &str,
    seq: &Node,
    fields: &serde_json::Map<String, Value>,
) -> Result<Splice, String> {
    let items = seq.as_seq().ok_or("`bots` is not a list in this file")?;
    if is_flow(text, seq) {
        let close = last_byte(text, seq);
        let sep = if items.is_empty() { "" } else { ", " };
        return Ok(Splice {
            range: close..close,
            text: format!("{sep}{}", flow_map(fields)),
        });
    }
    let last = items.last().ok_or("an empty block list")?;
    let indent = dash_column(text, &items[0])?;
    let at = line_end(text, last_byte(text, last));
    Ok(Splice {
        range: at..at,
        text: format!("\n{}", block_item(fields, indent)),
    })
}

/// A table as one block sequence item: `- key: value` then the other keys under it.
fn block_item(fields: &serde_json::Map<String, Value>, indent: usize) -> String {
    let pad = " ".repeat(indent);
    fields
        .iter()
        .enumerate()
        .map(|(i, (k, v))| {
            let lead = if i == 0 { "- " } else { "  " };
            format!("{pad}{lead}{k}: {}", flow_value(k, v))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Append scalars to a sequence node.
fn append_items(text: &str, seq: &Node, items: &[String]) -> Result<Splice, String> {
    let have = seq.as_seq().ok_or("not a list")?;
    if is_flow(text, seq) || have.is_empty() {
        if !is_flow(text, seq) {
            return Err("an empty block list: write the first item by hand".into());
        }
        let close = last_byte(text, seq);
        let sep = if have.is_empty() { "" } else { ", " };
        return Ok(Splice {
            range: close..close,
            text: format!("{sep}{}", items.join(", ")),
        });
    }
    let indent = dash_column(text, &have[0])?;
    let at = line_end(text, last_byte(text, have.last().expect("not empty")));
    Ok(Splice {
        range: at..at,
        text: items
            .iter()
            .map(|i| format!("\n{}- {i}", " ".repeat(indent)))
            .collect(),
    })
}

/// Remove item `i` of a block sequence: its lines, up to the next item.
fn remove_item(text: &str, seq: &Node, items: &[Node], i: usize) -> Result<Splice, String> {
    if is_flow(text, seq) {
        return Err("the list is written in flow style (`[...]`): remove the item by hand".into());
    }
    let start = line_start(text, items[i].span.start as usize);
    let end = (line_end(text, last_byte(text, &items[i])) + 1).min(text.len());
    Ok(Splice {
        range: start..end,
        text: String::new(),
    })
}

fn flow_map(fields: &serde_json::Map<String, Value>) -> String {
    format!(
        "{{{}}}",
        fields
            .iter()
            .map(|(k, v)| format!("{k}: {}", flow_value(k, v)))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn flow_seq(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|i| scalar(&Value::String(i.clone())))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// A value in YAML flow style; numbers keep the exact text they were given in.
fn flow_value(field: &str, value: &Value) -> String {
    if let Some(number) = number_text(field, value) {
        return number;
    }
    match value {
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|v| flow_value(field, v))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Object(map) => flow_map(map),
        other => scalar(other),
    }
}

/// A scalar: plain when YAML reads it back as the same string, else double-quoted.
fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => {
            let reserved = [
                "true", "false", "yes", "no", "on", "off", "null", "y", "n", "~",
            ];
            let plain = s
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ' ' | '.' | '/' | '-'))
                && !s.ends_with(' ')
                && !reserved.contains(&s.to_ascii_lowercase().as_str());
            if plain {
                s.clone()
            } else {
                serde_json::to_string(s).unwrap_or_default()
            }
        }
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}
