//! What the tool list costs every session: the schemas as clients see them.
//!
//! Input schemas keep every description (they are how an assistant calls a tool right) and drop
//! what says nothing: the `$schema` dialect line and empty defaults (`""`, `[]`, `{}`, `false`,
//! `0`; `required` already says what is optional), and an annotation title that repeats the
//! tool's. Output schemas in the list are compact: each top-level field with its type, nested
//! shapes left open (a reference resolved to its type, a union to its branches' types); the full schema of each tool's answer
//! is the resource `botform://tools/{tool}/output-schema`. Structured answers still validate
//! against the compact schema: it constrains only what the full one does.
//!
//! The selector (which bots) is spelt out once, in `list_bots`; every other tool that takes one
//! says "as in `list_bots`" (the server still refuses an unknown selector field by name).

use std::collections::BTreeMap;
use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use serde_json::{Map, Value};

/// The tool sets `botform mcp --tools` chooses among, and the tools of each. Every tool is in
/// exactly one set.
pub const TOOL_SETS: &[(&str, &[&str])] = &[
    (
        "config",
        &[
            "validate",
            "describe_config",
            "set_fields",
            "add_bot",
            "remove_bot",
            "blacklist_add",
            "blacklist_remove",
        ],
    ),
    (
        "apply",
        &[
            "plan",
            "show_plan",
            "apply",
            "apply_status",
            "history",
            "revert",
        ],
    ),
    (
        "fleet",
        &["list_bots", "explain_bot", "fleet_performance", "deals"],
    ),
    ("backtest", &["backtest"]),
    ("optimize", &["optimize"]),
    (
        "account",
        &[
            "list_accounts",
            "list_strategies",
            "market_pairs",
            "currency_rates",
            "bot_performance",
            "import",
        ],
    ),
    ("trading", &["signals", "smart_trades", "deal_action"]),
];

/// The sets served when `--tools` is not given: the workflow (edit, validate, plan, apply),
/// the fleet reads and the backtest. `account` (raw account reads and import) is on request.
pub const DEFAULT_TOOL_SETS: &[&str] = &["config", "apply", "fleet", "backtest"];

/// The sets a `--tools` value names (`config,fleet`, or `all`); an unknown name is an error
/// that lists the sets.
pub fn parse_tool_sets(text: &str) -> Result<Vec<String>, String> {
    let mut sets = Vec::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if name == "all" {
            sets.extend(TOOL_SETS.iter().map(|(s, _)| s.to_string()));
        } else if TOOL_SETS.iter().any(|(s, _)| *s == name) {
            sets.push(name.to_string());
        } else {
            return Err(format!(
                "no tool set is named `{}`: the sets are {}, or all",
                crate::diagnostic::quote_input(name),
                TOOL_SETS
                    .iter()
                    .map(|(s, _)| *s)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    Ok(sets)
}

/// Keep only the tools of `sets`.
pub fn keep_sets<S>(router: &mut ToolRouter<S>, sets: &[String]) {
    for (set, tools) in TOOL_SETS {
        if !sets.iter().any(|s| s == set) {
            for tool in *tools {
                router.map.remove(*tool);
            }
        }
    }
}

pub const OUTPUT_SCHEMA_URI_PREFIX: &str = "botform://tools/";
pub const OUTPUT_SCHEMA_URI_SUFFIX: &str = "/output-schema";

/// Compact every tool's schemas in place; the full output schemas, by tool name, as JSON text.
pub fn compact<S>(router: &mut ToolRouter<S>) -> BTreeMap<String, String> {
    let mut full = BTreeMap::new();
    for route in router.map.values_mut() {
        let tool = &mut route.attr;
        // The annotations' title repeats the tool's own.
        if let Some(annotations) = &mut tool.annotations
            && annotations.title == tool.title
        {
            annotations.title = None;
        }
        let mut input = Value::Object((*tool.input_schema).clone());
        drop_empty_defaults(&mut input);
        if tool.name != SELECTOR_SPELT_OUT_IN {
            refer_to_the_selector(&mut input);
        }
        if let Value::Object(map) = &mut input {
            map.remove("$schema");
            tool.input_schema = Arc::new(map.clone());
        }
        if let Some(output) = &tool.output_schema {
            full.insert(
                tool.name.to_string(),
                serde_json::to_string_pretty(&**output).unwrap_or_default(),
            );
            tool.output_schema = Some(Arc::new(compact_output(output)));
        }
    }
    full
}

/// The one tool whose input schema spells out the selector's fields.
const SELECTOR_SPELT_OUT_IN: &str = "list_bots";

/// In any tool but [`SELECTOR_SPELT_OUT_IN`], a selector argument becomes an object whose
/// description points there, and its definition goes.
fn refer_to_the_selector(schema: &mut Value) {
    const DEF: &str = "#/$defs/Selector";
    let Some(defs) = schema.get_mut("$defs").and_then(Value::as_object_mut) else {
        return;
    };
    if defs.remove("Selector").is_none() {
        return;
    }
    if defs.is_empty() {
        schema.as_object_mut().map(|s| s.remove("$defs"));
    }
    let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for prop in props.values_mut() {
        let refers = prop.get("$ref").and_then(Value::as_str) == Some(DEF)
            || prop
                .get("anyOf")
                .and_then(Value::as_array)
                .is_some_and(|b| {
                    b.iter()
                        .any(|b| b.get("$ref").and_then(Value::as_str) == Some(DEF))
                });
        if refers {
            let said = prop
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or("");
            *prop = serde_json::json!({
                "type": "object",
                "description": format!("{said} Fields: as `{SELECTOR_SPELT_OUT_IN}`'s selector."),
            });
        }
    }
}

fn drop_empty_defaults(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            let empty = map.get("default").is_some_and(|d| match d {
                Value::String(s) => s.is_empty(),
                Value::Array(a) => a.is_empty(),
                Value::Object(o) => o.is_empty(),
                Value::Bool(b) => !b,
                Value::Number(n) => n.as_f64() == Some(0.0),
                Value::Null => true,
            });
            if empty {
                map.remove("default");
            }
            for value in map.values_mut() {
                drop_empty_defaults(value);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(drop_empty_defaults),
        _ => {}
    }
}

/// Top-level fields and their types; nested shapes open.
fn compact_output(full: &Map<String, Value>) -> Map<String, Value> {
    let defs = full.get("$defs").and_then(Value::as_object);
    let mut out = Map::new();
    out.insert("type".into(), "object".into());
    if let Some(Value::Object(props)) = full.get("properties") {
        let compact: Map<String, Value> = props
            .iter()
            .map(|(name, schema)| (name.clone(), type_only(schema, defs, 0)))
            .collect();
        out.insert("properties".into(), Value::Object(compact));
    }
    out
}

/// A field's type alone (through a reference, and for each branch of a union), its inner shape
/// left open.
fn type_only(schema: &Value, defs: Option<&Map<String, Value>>, depth: usize) -> Value {
    if let Some(t) = schema.get("type") {
        return serde_json::json!({ "type": t });
    }
    if depth < 4
        && let Some(target) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/$defs/"))
            .and_then(|name| defs?.get(name))
    {
        return type_only(target, defs, depth + 1);
    }
    for union in ["anyOf", "oneOf"] {
        if depth < 4
            && let Some(Value::Array(branches)) = schema.get(union)
        {
            let branches: Vec<Value> = branches
                .iter()
                .map(|b| type_only(b, defs, depth + 1))
                .collect();
            return serde_json::json!({ union: branches });
        }
    }
    // Nothing says what it is: any JSON value, said explicitly.
    serde_json::json!({
        "type": ["object", "array", "string", "number", "integer", "boolean", "null"]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_is_in_exactly_one_set() {
        let server = crate::mcp::BotformServer::new(crate::mcp::McpOptions {
            root: std::env::temp_dir(),
            allow_apply: false,
            allow_delete: false,
            allow_unconfirmed_apply: false,
            tool_sets: parse_tool_sets("all").unwrap(),
            allow_deal_actions: true,
        })
        .unwrap();
        let mut served: Vec<String> = server.tool_names();
        served.sort();
        let mut in_sets: Vec<String> = TOOL_SETS
            .iter()
            .flat_map(|(_, tools)| tools.iter().map(|t| t.to_string()))
            .collect();
        in_sets.sort();
        assert_eq!(served, in_sets);
        assert!(
            parse_tool_sets("config,nope")
                .unwrap_err()
                .contains("fleet")
        );
    }

    #[test]
    fn the_compact_output_keeps_fields_and_types_and_loses_no_constraint_it_cannot_keep() {
        let full: Map<String, Value> = serde_json::from_value(serde_json::json!({
            "type": "object",
            "description": "long words",
            "properties": {
                "total": { "type": "integer", "description": "how many" },
                "bots": { "type": "array", "items": { "$ref": "#/$defs/BotLine" } },
                "report": { "$ref": "#/$defs/Report" },
                "dca": { "anyOf": [{ "$ref": "#/$defs/Report" }, { "type": "null" }] },
            },
            "required": ["total"],
            "$defs": { "BotLine": { "type": "object" }, "Report": { "type": "object" } },
        }))
        .unwrap();
        assert_eq!(
            Value::Object(compact_output(&full)),
            serde_json::json!({
                "type": "object",
                "properties": {
                    "total": { "type": "integer" },
                    "bots": { "type": "array" },
                    "report": { "type": "object" },
                    "dca": { "anyOf": [{ "type": "object" }, { "type": "null" }] },
                },
            })
        );
    }

    #[test]
    fn a_selector_points_at_list_bots_and_its_definition_goes() {
        let mut schema = serde_json::json!({
            "$defs": { "Selector": { "type": "object", "properties": { "base": {} } } },
            "properties": {
                "selector": {
                    "description": "Which bots.",
                    "anyOf": [{ "$ref": "#/$defs/Selector" }, { "type": "null" }],
                },
                "bot": { "type": "string" },
            },
        });
        refer_to_the_selector(&mut schema);
        assert_eq!(schema.get("$defs"), None);
        assert_eq!(schema["properties"]["selector"]["type"], "object");
        assert_eq!(
            schema["properties"]["selector"]["description"],
            "Which bots. Fields: as `list_bots`'s selector."
        );
        assert_eq!(schema["properties"]["bot"]["type"], "string");
    }

    #[test]
    fn only_empty_defaults_go() {
        let mut schema = serde_json::json!({
            "properties": {
                "a": { "type": "string", "default": "" },
                "b": { "type": "integer", "default": 5 },
                "c": { "type": "boolean", "default": false },
            }
        });
        drop_empty_defaults(&mut schema);
        assert_eq!(schema["properties"]["a"].get("default"), None);
        assert_eq!(schema["properties"]["b"]["default"], 5);
        assert_eq!(schema["properties"]["c"].get("default"), None);
    }
}
