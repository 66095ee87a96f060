//! JSON Schemas (draft-07), generated from the types they describe: the config format
//! (`schema/botform.schema.json`, from `config::types`, for editors such as Taplo and
//! yaml-language-server) and the JSON plan (`schema/plan.schema.json`, from `engine::plan`, the
//! documented contract of `plan --format json`). Tests fail when a committed file is stale.

use crate::config::types::ConfigFile;

/// The schema as pretty JSON, with a trailing newline.
pub fn config_schema_json() -> String {
    let generator = schemars::generate::SchemaSettings::draft07().into_generator();
    let schema = generator.into_root_schema_for::<ConfigFile>();
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serializes");
    text.push('\n');
    text
}

/// The schema of the JSON plan (`botform plan --format json`).
pub fn plan_schema_json() -> String {
    schema_of::<crate::engine::plan::Plan>()
}

/// The JSON Schema of `botform backtest --format json` (`schema/backtest.schema.json`).
pub fn backtest_schema_json() -> String {
    schema_of::<crate::simulate::report::BacktestReport>()
}

/// The draft-07 JSON Schema of an answer type, as text (also `optimize::report::schema_json`).
pub fn schema_of<T: schemars::JsonSchema>() -> String {
    let generator = schemars::generate::SchemaSettings::draft07().into_generator();
    let schema = generator.into_root_schema_for::<T>();
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serializes");
    text.push('\n');
    text
}
