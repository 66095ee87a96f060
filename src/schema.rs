//! The JSON Schema (draft-07) of the config format, generated from `config::types`.
//!
//! `schema/botform.schema.json` is this output, committed so editors (Taplo, yaml-language-server)
//! can complete and check fields; a test fails when the committed file is stale.

use crate::config::types::ConfigFile;

/// The schema as pretty JSON, with a trailing newline.
pub fn config_schema_json() -> String {
    let generator = schemars::generate::SchemaSettings::draft07().into_generator();
    let schema = generator.into_root_schema_for::<ConfigFile>();
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serializes");
    text.push('\n');
    text
}
