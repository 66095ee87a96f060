//! Edits to TOML files through `toml_edit`, which keeps comments, whitespace and order.

use serde_json::Value;
use toml_edit::{Array, ArrayOfTables, DocumentMut, InlineTable, Item, Table, TableLike};

use super::{Entity, Op, number_text};

pub fn apply(text: &str, op: &Op) -> Result<String, String> {
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| e.to_string())?;
    match op {
        Op::Set { entity, fields } => {
            let table = entity_table(&mut doc, entity)
                .ok_or_else(|| format!("{entity} is not in this file"))?;
            for (key, value) in fields {
                if value.is_null() {
                    table.remove(key);
                    continue;
                }
                let mut new = to_value(key, value)?;
                match table.get_mut(key) {
                    Some(Item::Value(old)) => {
                        // Keep the comment after the old value and the spacing around it.
                        *new.decor_mut() = old.decor().clone();
                        *old = new;
                    }
                    Some(other) => *other = Item::Value(new),
                    None => {
                        table.insert(key, Item::Value(new));
                    }
                }
            }
        }
        Op::AddBot { list, fields } => {
            let mut table = Table::new();
            for (key, value) in fields {
                table.insert(key, Item::Value(to_value(key, value)?));
            }
            match doc.get_mut(list.key()) {
                None => {
                    let mut bots = ArrayOfTables::new();
                    bots.push(table);
                    doc.insert(list.key(), Item::ArrayOfTables(bots));
                }
                Some(Item::ArrayOfTables(bots)) => bots.push(table),
                Some(Item::Value(toml_edit::Value::Array(bots))) => {
                    let mut inline = InlineTable::new();
                    for (k, v) in table.iter() {
                        if let Some(v) = v.as_value() {
                            inline.insert(k, v.clone());
                        }
                    }
                    bots.push(inline);
                }
                Some(_) => return Err(format!("`{}` is not a list in this file", list.key())),
            }
        }
        Op::RemoveBot(bot) => {
            let missing = || format!("no bot \"{}\" in this file", bot.name);
            match doc.get_mut(bot.list.key()) {
                Some(Item::ArrayOfTables(bots)) => {
                    let i = bot.position(bots.iter().map(name_of)).ok_or_else(missing)?;
                    bots.remove(i);
                }
                Some(Item::Value(toml_edit::Value::Array(bots))) => {
                    let i = bot
                        .position(
                            bots.iter()
                                .map(|v| v.as_inline_table().and_then(|t| name_of(t))),
                        )
                        .ok_or_else(missing)?;
                    bots.remove(i);
                }
                _ => return Err("this file has no bot list".into()),
            }
        }
        Op::BlacklistAdd { pairs } => {
            if doc.get("blacklist").is_none() {
                doc.insert("blacklist", Item::Table(Table::new()));
            }
            let table = doc
                .get_mut("blacklist")
                .and_then(Item::as_table_like_mut)
                .ok_or("`blacklist` is not a table")?;
            if table.get("pairs").is_none() {
                table.insert("pairs", Item::Value(toml_edit::Value::Array(Array::new())));
            }
            let list = table
                .get_mut("pairs")
                .and_then(Item::as_array_mut)
                .ok_or("`blacklist.pairs` is not a list")?;
            for p in pairs {
                if !list.iter().any(|v| v.as_str() == Some(p)) {
                    list.push(p.as_str());
                }
            }
        }
        Op::BlacklistRemove { pairs } => {
            let list = doc
                .get_mut("blacklist")
                .and_then(Item::as_table_like_mut)
                .and_then(|t| t.get_mut("pairs"))
                .and_then(Item::as_array_mut)
                .ok_or("this file has no blacklist")?;
            list.retain(|v| !v.as_str().is_some_and(|s| pairs.iter().any(|p| p == s)));
        }
    }
    Ok(doc.to_string())
}

fn name_of(table: &(impl TableLike + ?Sized)) -> Option<&str> {
    table.get("name").and_then(Item::as_str)
}

fn entity_table<'a>(doc: &'a mut DocumentMut, entity: &Entity) -> Option<&'a mut dyn TableLike> {
    match entity {
        Entity::Settings => doc.get_mut("settings")?.as_table_like_mut(),
        Entity::Template(n) => doc
            .get_mut("templates")?
            .as_table_like_mut()?
            .get_mut(n)?
            .as_table_like_mut(),
        Entity::Account(n) => doc
            .get_mut("accounts")?
            .as_table_like_mut()?
            .get_mut(n)?
            .as_table_like_mut(),
        Entity::Bot(bot) => match doc.get_mut(bot.list.key())? {
            Item::ArrayOfTables(bots) => {
                let i = bot.position(bots.iter().map(name_of))?;
                bots.get_mut(i).map(|t| t as &mut dyn TableLike)
            }
            Item::Value(toml_edit::Value::Array(bots)) => {
                let i = bot.position(
                    bots.iter()
                        .map(|v| v.as_inline_table().and_then(|t| name_of(t))),
                )?;
                bots.get_mut(i)?
                    .as_inline_table_mut()
                    .map(|t| t as &mut dyn TableLike)
            }
            _ => None,
        },
    }
}

/// A JSON value as a TOML value; numbers keep the exact text they were given in.
fn to_value(field: &str, value: &Value) -> Result<toml_edit::Value, String> {
    if let Some(number) = number_text(field, value) {
        return number
            .parse::<toml_edit::Value>()
            .map_err(|e| format!("`{field}`: {e}"));
    }
    Ok(match value {
        Value::Null => return Err(format!("`{field}`: null cannot be written in TOML")),
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => n
            .to_string()
            .parse::<toml_edit::Value>()
            .map_err(|e| format!("`{field}`: {e}"))?,
        Value::String(s) => s.as_str().into(),
        Value::Array(items) => {
            let mut array = Array::new();
            for item in items {
                array.push(to_value(field, item)?);
            }
            toml_edit::Value::Array(array)
        }
        Value::Object(map) => {
            let mut table = InlineTable::new();
            for (k, v) in map {
                table.insert(k, to_value(k, v)?);
            }
            toml_edit::Value::InlineTable(table)
        }
    })
}
