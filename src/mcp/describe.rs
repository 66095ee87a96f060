//! `describe_config`: the config language explained from its JSON Schema, every `$ref` resolved,
//! every section covered, required fields marked, and a minimal valid bot to start from.

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::BotformServer;
use crate::config::rules::REQUIRED_FIELDS;

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DescribeArgs {
    /// bots, templates, settings, accounts, strategies or blacklist; empty: all, in brief.
    #[serde(default)]
    pub section: String,
    /// One field (`take_profit`): its full schema.
    #[serde(default)]
    pub field: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FieldInfo {
    pub name: String,
    pub description: String,
    /// In brief: `decimal`, `integer 0..200`, `one of: long, short`, `list of strings`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// `yes`, `yes (here or in the template)`, a condition, or empty.
    pub required: String,
    /// With `field`: the field's JSON Schema, references resolved.
    #[schemars(with = "Map<String, Value>")]
    pub schema: Value,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SectionInfo {
    pub name: String,
    /// How the section is written in TOML.
    pub written_as: String,
    pub description: String,
    pub fields: Vec<FieldInfo>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DescribeAnswer {
    pub sections: Vec<SectionInfo>,
    /// A minimal valid bot (TOML; YAML takes the same keys), to copy and fill in.
    pub skeleton: String,
}

/// Sections: (name, how written, definition).
const SECTIONS: &[(&str, &str, &str)] = &[
    ("bots", "[[bots]] (YAML: bots: - ...)", "BotSpec"),
    ("templates", "[templates.NAME]", "BotSpec"),
    ("settings", "[settings]", "Settings"),
    ("accounts", "[accounts.ALIAS]", "AccountSpec"),
    ("strategies", "[strategies.NAME]", "StrategySet"),
    ("blacklist", "[blacklist]", "Blacklist"),
    (
        "grid_bots",
        "[[grid_bots]] (YAML: grid_bots: - ...)",
        "GridBotSpec",
    ),
    ("grid_templates", "[grid_templates.NAME]", "GridBotSpec"),
];

/// A minimal bot that validates once `main` names an account.
pub const SKELETON: &str = r#"[[bots]]
name = "ETH dip buyer"
account = "main"                 # an alias from [accounts]
pairs = ["USDT_ETH"]
start = [{ strategy = "nonstop" }] # or a strategy set name, or rsi/bb/... conditions
base_order_volume = 10           # quote currency (USDT) per base order
safety_order_volume = 20
safety_order_step_percentage = 1.5
max_safety_orders = 5
active_safety_orders_count = 1
martingale_volume_coefficient = 1.5
martingale_step_coefficient = 1.2
take_profit = 1.5                # percent
take_profit_type = "total"
"#;

/// Inline every `$ref`, at most a few references deep (the config schema has no cycles; the
/// bound keeps a future one from looping).
fn resolve(value: &Value, defs: &Map<String, Value>, depth: usize) -> Value {
    if depth > 6 {
        return value.clone();
    }
    match value {
        Value::Object(map) => {
            if let Some(target) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/definitions/"))
                .and_then(|name| defs.get(name))
            {
                let mut merged = resolve(target, defs, depth + 1);
                if let (Value::Object(m), Some(desc)) = (&mut merged, map.get("description")) {
                    m.insert("description".into(), desc.clone());
                }
                return merged;
            }
            Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), resolve(v, defs, depth)))
                    .collect(),
            )
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| resolve(v, defs, depth)).collect())
        }
        other => other.clone(),
    }
}

/// A resolved schema in a few words.
fn kind(schema: &Value) -> String {
    if let Some(choices) = schema.get("enum").and_then(Value::as_array) {
        let names: Vec<String> = choices
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        return format!("one of: {}", names.join(", "));
    }
    if let Some(options) = schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))
        .and_then(Value::as_array)
    {
        let options: Vec<&Value> = options
            .iter()
            .filter(|o| o.get("type") != Some(&Value::String("null".into())))
            .collect();
        let constants: Vec<String> = options
            .iter()
            .filter_map(|o| {
                o.get("const").or_else(|| {
                    o.get("enum")
                        .and_then(Value::as_array)
                        .filter(|e| e.len() == 1)
                        .map(|e| &e[0])
                })
            })
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        if !constants.is_empty() && constants.len() == options.len() {
            return format!("one of: {}", constants.join(", "));
        }
        let kinds: Vec<String> = options.into_iter().map(kind).collect();
        if kinds.iter().any(|k| k == "number") && kinds.iter().any(|k| k == "string") {
            return "decimal (a number, or a string such as \"1.5\")".into();
        }
        return kinds.join(" or ");
    }
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let base = types.into_iter().find(|t| *t != "null").unwrap_or("");
    let range = match (schema.get("minimum"), schema.get("maximum")) {
        (Some(a), Some(b)) => format!(" {a}..{b}"),
        (Some(a), None) => format!(" >= {a}"),
        (None, Some(b)) => format!(" <= {b}"),
        _ => String::new(),
    };
    match base {
        "array" => format!(
            "list of {}",
            schema
                .get("items")
                .map(kind)
                .unwrap_or_else(|| "values".into())
        ),
        "object" if schema.get("properties").is_some() => "table".into(),
        "object" => "table".into(),
        "" => "value".into(),
        other => format!("{other}{range}"),
    }
}

fn required(section: &str, field: &str) -> String {
    match (section, field) {
        ("bots", f) if REQUIRED_FIELDS.contains(&f) && matches!(f, "name" | "account") => {
            "yes".into()
        }
        ("bots", f) if REQUIRED_FIELDS.contains(&f) => "yes (here or in the template)".into(),
        ("bots", "take_profit") => "yes, unless take_profit_steps (here or in the template)".into(),
        ("bots", "active_safety_orders_count") => {
            "when max_safety_orders > 0 (here or in the template)".into()
        }
        ("grid_bots", f)
            if crate::config::grid::REQUIRED_FIELDS.contains(&f)
                && matches!(f, "name" | "account") =>
        {
            "yes".into()
        }
        ("grid_bots", f) if crate::config::grid::REQUIRED_FIELDS.contains(&f) => {
            "yes (here or in the grid template)".into()
        }
        ("strategies", "conditions") | ("blacklist", "pairs") => "yes".into(),
        _ => String::new(),
    }
}

pub fn describe(section: &str, field: &str) -> Result<DescribeAnswer, String> {
    let schema: Value =
        serde_json::from_str(&crate::schema::config_schema_json()).map_err(|e| e.to_string())?;
    let defs = schema["definitions"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let wanted: Vec<&(&str, &str, &str)> = SECTIONS
        .iter()
        .filter(|(name, _, _)| section.is_empty() || *name == section)
        .collect();
    if wanted.is_empty() {
        return Err(format!(
            "no section `{section}`: use one of {}",
            SECTIONS.iter().map(|s| s.0).collect::<Vec<_>>().join(", ")
        ));
    }
    let mut sections = Vec::new();
    for (name, written_as, def) in wanted {
        let definition = resolve(&defs[*def], &defs, 0);
        let mut fields = Vec::new();
        for (fname, fschema) in definition["properties"].as_object().into_iter().flatten() {
            if !field.is_empty() && fname != field {
                continue;
            }
            fields.push(FieldInfo {
                name: fname.clone(),
                description: fschema["description"]
                    .as_str()
                    .unwrap_or_default()
                    .replace('\n', " "),
                kind: kind(fschema),
                required: required(name, fname),
                schema: if field.is_empty() {
                    Value::Object(Map::new())
                } else {
                    fschema.clone()
                },
            });
        }
        if !field.is_empty() && fields.is_empty() {
            continue;
        }
        sections.push(SectionInfo {
            name: name.to_string(),
            written_as: written_as.to_string(),
            description: definition["description"]
                .as_str()
                .unwrap_or_default()
                .replace('\n', " "),
            fields,
        });
    }
    if sections.is_empty() {
        let names: Vec<String> = defs
            .values()
            .flat_map(|d| d["properties"].as_object().into_iter().flatten())
            .map(|(k, _)| k.clone())
            .collect();
        return Err(format!(
            "no config field `{field}`{}",
            crate::diagnostic::did_you_mean(field, names.iter().map(String::as_str))
                .map(|h| format!("; {h}"))
                .unwrap_or_default()
        ));
    }
    // Templates share the bot fields: say so once instead of repeating them in brief.
    if section.is_empty() && field.is_empty() {
        for s in &mut sections {
            if s.name == "templates" {
                s.fields.clear();
                s.description = "Shared bot settings: the same fields as `bots` (none required); a bot or another template names one with `template`.".into();
            }
            if s.name == "grid_templates" {
                s.fields.clear();
                s.description = "Shared grid bot settings: the same fields as `grid_bots` (none required); a grid bot or another grid template names one with `template`.".into();
            }
            // Grid bots' fields in brief (names, types, required): the whole language stays
            // within the answer budget; their descriptions come with `section`.
            if s.name == "grid_bots" {
                for f in &mut s.fields {
                    f.description.clear();
                }
                s.description.push_str(
                    " Each field's description: describe_config with section \"grid_bots\".",
                );
            }
        }
    }
    Ok(DescribeAnswer {
        sections,
        skeleton: SKELETON.into(),
    })
}

#[tool_router(router = describe_router, vis = "pub(super)")]
impl BotformServer {
    /// The config language: sections, fields (type, range, required) and a minimal valid bot;
    /// `field` for one field's schema.
    #[tool(
        title = "Describe the config language",
        annotations(
            title = "Describe the config language",
            read_only_hint = true,
            destructive_hint = false,
            open_world_hint = false,
            idempotent_hint = true
        )
    )]
    async fn describe_config(
        &self,
        Parameters(args): Parameters<DescribeArgs>,
    ) -> Result<Json<DescribeAnswer>, String> {
        describe(args.section.trim(), args.field.trim()).map(Json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_section_is_described_without_references() {
        let answer = describe("", "").unwrap();
        assert_eq!(answer.sections.len(), SECTIONS.len());
        let text = serde_json::to_string(&answer).unwrap();
        assert!(!text.contains("$ref"));
        // Measured as clients measure it: Python's `json.dumps` puts a space after every `,`
        // and `:` between items (the assistant test counts that way).
        let mut spaced = text.len();
        let mut in_string = false;
        let mut escaped = false;
        for c in text.chars() {
            match c {
                _ if escaped => escaped = false,
                '\\' if in_string => escaped = true,
                '"' => in_string = !in_string,
                ',' | ':' if !in_string => spaced += 1,
                _ => {}
            }
        }
        assert!(
            spaced < super::super::budget::ANSWER_BUDGET,
            "{spaced} characters as json.dumps writes them"
        );
        let bots = &answer.sections[0];
        let tp_type = bots
            .fields
            .iter()
            .find(|f| f.name == "take_profit_type")
            .unwrap();
        assert!(tp_type.required.starts_with("yes"));
        assert!(tp_type.kind.starts_with("one of:"), "{}", tp_type.kind);
        let tp = bots
            .fields
            .iter()
            .find(|f| f.name == "take_profit")
            .unwrap();
        assert!(tp.kind.starts_with("decimal"), "{}", tp.kind);
        let so = bots
            .fields
            .iter()
            .find(|f| f.name == "max_safety_orders")
            .unwrap();
        assert_eq!(so.kind, "integer 0..200");
    }

    #[test]
    fn one_field_comes_with_its_resolved_schema() {
        let answer = describe("", "start").unwrap();
        let text = serde_json::to_string(&answer).unwrap();
        assert!(!text.contains("$ref"));
        assert!(text.contains("strategy"));
        assert!(
            describe("", "take_proft")
                .unwrap_err()
                .contains("take_profit")
        );
    }

    #[test]
    fn the_skeleton_is_a_valid_bot() {
        let text = format!("[accounts.main]\nname = \"Binance\"\n\n{SKELETON}");
        let file = crate::config::source::SourceFile::new(
            "skeleton.toml".into(),
            crate::config::source::Syntax::Toml,
            text,
        );
        let checked = crate::config::check_sources(vec![file]);
        assert!(checked.is_valid(), "{:?}", checked.diagnostics);
    }
}
