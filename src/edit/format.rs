//! `botform fmt`: one canonical layout for config files, with every comment kept and nothing a
//! person ordered reordered.
//!
//! TOML (through `toml_edit`): `key = value` with one space on each side, keys at the start of
//! their line, one-line lists and inline tables spaced as `[a, b]` and `{ a = 1 }`. Both syntaxes:
//! no trailing whitespace, at most one blank line in a row, a blank line before each TOML table
//! header (and before the comments just above it), one newline at the end. YAML indentation is
//! left as written (it carries meaning), and so are files with multi-line strings, where
//! whitespace is content. The result is checked: the file must hold the same data as before, and
//! formatting it again must change nothing.

use std::path::Path;

use toml_edit::{DocumentMut, Item, Value};

use super::normalized;
use crate::config::node;
use crate::config::source::{FileId, SourceFile, Syntax};

/// The file in the canonical layout. `Err` when it does not parse (validate says where) or when
/// formatting would change its data (never expected; the file is then left alone).
pub fn format(path: &Path, text: &str) -> Result<String, String> {
    let syntax = Syntax::from_path(path)
        .ok_or_else(|| format!("{} is neither TOML nor YAML", path.display()))?;
    let before = data(path, syntax, text)?;
    let once = match syntax {
        Syntax::Toml => lines(&toml_layout(text)?, true),
        Syntax::Yaml => lines(text, false),
    };
    let after = data(path, syntax, &once).map_err(|e| format!("formatting broke the file: {e}"))?;
    if normalized(&before) != normalized(&after) {
        return Err(format!(
            "{}: formatting would change the data; left as it is",
            path.display()
        ));
    }
    Ok(once)
}

fn data(path: &Path, syntax: Syntax, text: &str) -> Result<serde_json::Value, String> {
    let file = SourceFile::new(path.to_path_buf(), syntax, text.to_string());
    node::parse(FileId(0), &file)
        .map(|tree| tree.to_json())
        .map_err(|errors| {
            let (line, col) = file.line_col(errors[0].span.start as usize);
            format!(
                "{}:{line}:{col}: {} (run `botform validate`)",
                path.display(),
                errors[0].message
            )
        })
}

/// Spacing of keys and values, through `toml_edit`.
fn toml_layout(text: &str) -> Result<String, String> {
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| e.to_string())?;
    layout_table(doc.as_table_mut());
    Ok(doc.to_string())
}

fn layout_table(table: &mut toml_edit::Table) {
    for (mut key, item) in table.iter_mut() {
        match item {
            Item::Value(value) => {
                let decor = key.leaf_decor_mut();
                let prefix = decor.prefix().and_then(|p| p.as_str()).map(own_line);
                decor.set_prefix(prefix.unwrap_or_default());
                decor.set_suffix(" ");
                layout_value(value);
                let suffix = value
                    .decor()
                    .suffix()
                    .and_then(|s| s.as_str())
                    .map(|s| {
                        if s.trim().is_empty() {
                            String::new()
                        } else {
                            s.trim_end().to_string()
                        }
                    })
                    .unwrap_or_default();
                let decor = value.decor_mut();
                decor.set_prefix(" ");
                decor.set_suffix(suffix);
            }
            Item::Table(t) => layout_table(t),
            Item::ArrayOfTables(tables) => {
                for t in tables.iter_mut() {
                    layout_table(t);
                }
            }
            Item::None => {}
        }
    }
}

/// One-line lists and inline tables (and those inside them) spaced canonically; a value written
/// over several lines, or with comments inside, is left as written.
fn layout_value(value: &mut Value) {
    let written = value.to_string();
    if written.contains('\n') || written.contains('#') {
        return;
    }
    match value {
        Value::Array(a) => {
            for item in a.iter_mut() {
                layout_value(item);
            }
            a.fmt();
        }
        Value::InlineTable(t) => {
            for (_, v) in t.iter_mut() {
                layout_value(v);
            }
            t.fmt();
        }
        _ => {}
    }
}

/// A key's prefix keeps the comment lines above it; the key itself starts its line.
fn own_line(prefix: &str) -> String {
    match prefix.rfind('\n') {
        Some(i) => prefix[..=i].to_string(),
        None => String::new(),
    }
}

/// Whitespace between lines: no trailing spaces, one blank line at most, a blank line before a
/// TOML table header and the comments just above it, one newline at the end. Files with
/// multi-line strings keep their lines as they are.
fn lines(text: &str, toml: bool) -> String {
    let multi_line_strings = if toml {
        text.contains("\"\"\"") || text.contains("'''")
    } else {
        text.lines()
            .any(|l| matches!(l.trim_end().chars().last(), Some('|' | '>')))
    };
    if multi_line_strings {
        let mut out = text.trim_end().to_string();
        out.push('\n');
        return out;
    }
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let mut out: Vec<&str> = Vec::new();
    for line in &lines {
        if line.is_empty() {
            if out.last().is_none_or(|l| l.is_empty()) {
                continue;
            }
            out.push(line);
            continue;
        }
        if toml && line.starts_with('[') && !out.is_empty() {
            // Move up over the comment lines just above the header.
            let mut at = out.len();
            while at > 0 && out[at - 1].starts_with('#') {
                at -= 1;
            }
            let first_comment_of_file = at == 0;
            if !first_comment_of_file && !out[at - 1].is_empty() {
                out.insert(at, "");
            }
        }
        out.push(line);
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_gets_one_layout_and_keeps_its_comments() {
        let messy = "# top\n[settings]\nmode=\"real\"   # the money  \n\n\n\n# about the bot\n[[bots]]\n  name   =  \"x\"\npairs = [ \"USDT_BTC\" ,\"USDT_ETH\" ]\nstart = [{strategy=\"nonstop\"}]\n[[bots]]\nname = \"y\"\n\n\n";
        let tidy = format(Path::new("c.toml"), messy).unwrap();
        assert_eq!(
            tidy,
            "# top\n[settings]\nmode = \"real\"   # the money\n\n# about the bot\n[[bots]]\nname = \"x\"\npairs = [\"USDT_BTC\", \"USDT_ETH\"]\nstart = [{ strategy = \"nonstop\" }]\n\n[[bots]]\nname = \"y\"\n"
        );
        assert_eq!(
            format(Path::new("c.toml"), &tidy).unwrap(),
            tidy,
            "idempotent"
        );
    }

    #[test]
    fn yaml_keeps_its_indentation_and_comments() {
        let messy = "bots:   \n  - name: x   # first\n\n\n    pairs: [USDT_BTC]\n";
        let tidy = format(Path::new("c.yaml"), messy).unwrap();
        assert_eq!(
            tidy,
            "bots:\n  - name: x   # first\n\n    pairs: [USDT_BTC]\n"
        );
        assert_eq!(format(Path::new("c.yaml"), &tidy).unwrap(), tidy);
    }

    #[test]
    fn the_examples_are_already_formatted() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/bots");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            assert_eq!(format(&path, &text).unwrap(), text, "{}", path.display());
        }
    }

    #[test]
    fn a_broken_file_is_an_error() {
        assert!(format(Path::new("c.toml"), "[[bots]\nname = 1").is_err());
    }
}
