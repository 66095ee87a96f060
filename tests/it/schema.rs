//! The committed JSON Schema is fresh, and every example validates against it.

use super::{botform, config_files, root};
use botform::config::{node, source};

#[test]
fn committed_schema_is_fresh() {
    let committed = std::fs::read_to_string(root().join("schema/botform.schema.json")).unwrap();
    assert!(
        committed == botform::schema::config_schema_json(),
        "schema/botform.schema.json is stale: run `cargo run -- schema --out schema/botform.schema.json`"
    );
    botform().arg("schema").assert().success().stdout(committed);
}

#[test]
fn examples_validate_against_the_schema_and_carry_its_header() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schema/botform.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::draft7::new(&schema).expect("the schema compiles");
    let files = config_files(&root().join("examples/bots"));
    assert!(files.len() >= 5);
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let syntax = source::Syntax::from_path(&path).unwrap();
        let header = match syntax {
            source::Syntax::Toml => "#:schema ../../schema/botform.schema.json",
            source::Syntax::Yaml => {
                "# yaml-language-server: $schema=../../schema/botform.schema.json"
            }
        };
        assert!(
            text.starts_with(header),
            "{} lacks the schema header",
            path.display()
        );
        let file = source::SourceFile::new(path.clone(), syntax, text);
        let tree = node::parse(source::FileId(0), &file).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&tree.to_json())
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    }
}

#[test]
fn schema_rejects_what_validate_rejects() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schema/botform.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::draft7::new(&schema).unwrap();
    let bad = serde_json::json!({ "bots": [{ "name": "x", "take_proft": 1 }] });
    assert!(!validator.is_valid(&bad));
    let bad_enum = serde_json::json!({ "bots": [{ "strategy": "sideways" }] });
    assert!(!validator.is_valid(&bad_enum));
}
