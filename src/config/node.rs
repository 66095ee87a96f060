//! The spanned document tree both config syntaxes parse into.
//!
//! TOML and YAML are each parsed once into a [`Node`] tree that keeps the byte span of every key and
//! value. Everything after parsing (typed decoding, validation, error locations) works on this one
//! tree, so the two syntaxes behave the same and every diagnostic can point at the exact text.
//! Owns: syntax errors (all of them, where the parser can recover), duplicate keys, YAML anchors
//! and aliases, and YAML 1.2 core-schema scalar typing. Must not know any config field names.
//!
//! Parsing is bounded whatever the input: nesting deeper than [`MAX_DEPTH`] (block or flow, in
//! either syntax) and aliases that would copy more than [`MAX_ALIAS_BYTES`] are one located error,
//! and every step is linear in the input (positions are found from the previous one, duplicate
//! keys through a hash map), so hostile files fail fast instead of exhausting the stack or memory.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle};

use super::source::{FileId, SourceFile, Span, Syntax};

/// The deepest nesting of lists and tables a config may have. A real config needs about 6.
pub const MAX_DEPTH: usize = 64;
/// How much YAML aliases may copy in one file, in all, in bytes of [`Node::weight`]: the same
/// 4 MiB as the cap on config text, far above any real use of anchors, far below what an alias
/// bomb needs, whether it copies many nodes ("billion laughs") or one long string many times.
pub const MAX_ALIAS_BYTES: usize = 4 * 1024 * 1024;

/// What one node costs in [`Node::weight`] beside its text: about its size in memory, so that
/// copying many small nodes is counted as what it costs.
const NODE_COST: usize = 64;

/// A scalar's type as written in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarKind {
    Str,
    Int,
    Float,
    Bool,
    Null,
    /// A TOML date or time; config fields never take one.
    Datetime,
}

#[derive(Debug, Clone)]
pub enum NodeValue {
    /// `text` is the scalar's value (unquoted, unescaped); numbers keep their source spelling.
    Scalar {
        kind: ScalarKind,
        text: String,
    },
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub key: String,
    pub key_span: Span,
    pub value: Node,
}

#[derive(Debug, Clone)]
pub struct Node {
    pub span: Span,
    pub value: NodeValue,
}

/// A syntax error found while building the tree.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    pub span: Span,
    pub message: String,
    /// Where the same key was first written, for duplicate keys.
    pub previous: Option<Span>,
}

impl Node {
    pub fn kind_name(&self) -> &'static str {
        match &self.value {
            NodeValue::Scalar { kind, .. } => match kind {
                ScalarKind::Str => "a string",
                ScalarKind::Int => "an integer",
                ScalarKind::Float => "a number",
                ScalarKind::Bool => "a boolean",
                ScalarKind::Null => "null",
                ScalarKind::Datetime => "a date",
            },
            NodeValue::Seq(_) => "a list",
            NodeValue::Map(_) => "a table",
        }
    }

    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.value {
            NodeValue::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            NodeValue::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::Scalar {
                kind: ScalarKind::Str,
                text,
            } => Some(text),
            _ => None,
        }
    }

    /// The first list or table nested more than `limit` levels below this node.
    fn deeper_than(&self, limit: usize) -> Option<Span> {
        let children: Vec<&Node> = match &self.value {
            NodeValue::Scalar { .. } => return None,
            NodeValue::Seq(items) => items.iter().collect(),
            NodeValue::Map(entries) => entries.iter().map(|e| &e.value).collect(),
        };
        let nested = children
            .into_iter()
            .filter(|c| !matches!(c.value, NodeValue::Scalar { .. }));
        for child in nested {
            if limit == 0 {
                return Some(child.span);
            }
            if let Some(span) = child.deeper_than(limit - 1) {
                return Some(span);
            }
        }
        None
    }

    /// What copying this node costs, in bytes: its text and keys, and [`NODE_COST`] a node.
    pub fn weight(&self) -> usize {
        NODE_COST
            + match &self.value {
                NodeValue::Scalar { text, .. } => text.len(),
                NodeValue::Seq(items) => items.iter().map(Node::weight).sum(),
                NodeValue::Map(entries) => {
                    entries.iter().map(|e| e.key.len() + e.value.weight()).sum()
                }
            }
    }

    /// The value at a key of a map node.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.as_map()?.iter().find(|e| e.key == key)
    }

    /// A plain JSON rendering of the tree (for JSON Schema checks of config files).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.value {
            NodeValue::Scalar { kind, text } => match kind {
                ScalarKind::Str | ScalarKind::Datetime => Value::String(text.clone()),
                ScalarKind::Null => Value::Null,
                ScalarKind::Bool => Value::Bool(text == "true"),
                ScalarKind::Int | ScalarKind::Float => serde_json::from_str::<Value>(text)
                    .ok()
                    .filter(Value::is_number)
                    .unwrap_or_else(|| Value::String(text.clone())),
            },
            NodeValue::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeValue::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), e.value.to_json()))
                    .collect(),
            ),
        }
    }
}

/// Parse a file into a tree. On errors, returns every error found; the tree is returned only when
/// the file parsed cleanly.
pub fn parse(file_id: FileId, file: &SourceFile) -> Result<Node, Vec<SyntaxError>> {
    match file.syntax {
        Syntax::Toml => parse_toml(file_id, file),
        Syntax::Yaml => parse_yaml(file_id, file),
    }
}

// ---------------------------------------------------------------------------------------------
// TOML

fn parse_toml(file_id: FileId, file: &SourceFile) -> Result<Node, Vec<SyntaxError>> {
    let (table, errors) = toml::de::DeTable::parse_recoverable(&file.text);
    if !errors.is_empty() {
        return Err(errors
            .into_iter()
            .map(|e| {
                let range = e.span().unwrap_or(0..0);
                SyntaxError {
                    span: Span::new(file_id, range),
                    message: toml_message(e.message()),
                    previous: None,
                }
            })
            .collect());
    }
    let span = Span::new(file_id, 0..file.text.len());
    let root = Node {
        span,
        value: toml_table(file_id, table.get_ref()),
    };
    // The TOML parser stops at 80 levels itself; botform's limit is the same for both syntaxes.
    match root.deeper_than(MAX_DEPTH - 1) {
        Some(span) => Err(vec![YamlBuilder::too_deep(span)]),
        None => Ok(root),
    }
}

fn toml_message(message: &str) -> String {
    let first = message.lines().next().unwrap_or(message).trim();
    let mut out = first.to_string();
    if let Some(rest) = out.strip_prefix("TOML parse error: ") {
        out = rest.to_string();
    }
    out
}

fn toml_table(file_id: FileId, table: &toml::de::DeTable<'_>) -> NodeValue {
    let entries = table
        .iter()
        .map(|(k, v)| Entry {
            key: k.get_ref().to_string(),
            key_span: Span::new(file_id, k.span()),
            value: toml_node(file_id, v),
        })
        .collect();
    NodeValue::Map(entries)
}

fn toml_node(file_id: FileId, value: &toml::Spanned<toml::de::DeValue<'_>>) -> Node {
    use toml::de::DeValue;
    let scalar = |kind, text: String| NodeValue::Scalar { kind, text };
    let node_value = match value.get_ref() {
        DeValue::String(s) => scalar(ScalarKind::Str, s.to_string()),
        DeValue::Integer(i) => {
            let text = match i.radix() {
                10 => i.as_str().to_string(),
                radix => i64::from_str_radix(i.as_str(), radix)
                    .map(|n| n.to_string())
                    .unwrap_or_else(|_| i.as_str().to_string()),
            };
            scalar(ScalarKind::Int, text)
        }
        DeValue::Float(f) => scalar(ScalarKind::Float, f.as_str().to_string()),
        DeValue::Boolean(b) => scalar(ScalarKind::Bool, b.to_string()),
        DeValue::Datetime(d) => scalar(ScalarKind::Datetime, d.to_string()),
        DeValue::Array(items) => {
            NodeValue::Seq(items.iter().map(|v| toml_node(file_id, v)).collect())
        }
        DeValue::Table(t) => toml_table(file_id, t),
    };
    // A table's own span may cover only its header (`[[bots]]`): widen it over its entries, so
    // "inside this bot" means what it reads as.
    let mut span = Span::new(file_id, value.span());
    if let NodeValue::Map(entries) = &node_value {
        for e in entries {
            span = span.join(e.key_span).join(e.value.span);
        }
    }
    Node {
        span,
        value: node_value,
    }
}

// ---------------------------------------------------------------------------------------------
// YAML

fn parse_yaml(file_id: FileId, file: &SourceFile) -> Result<Node, Vec<SyntaxError>> {
    let mut builder = YamlBuilder {
        file_id,
        file,
        parser: Parser::new_from_str(&file.text),
        anchors: HashMap::new(),
        errors: Vec::new(),
        depth: 0,
        alias_bytes: 0,
        cursor: (0, 0, 0),
    };
    let root = builder.document();
    match root {
        Ok(root) if builder.errors.is_empty() => Ok(root),
        Ok(_) => Err(builder.errors),
        Err(e) => {
            builder.errors.push(e);
            Err(builder.errors)
        }
    }
}

struct YamlBuilder<'a> {
    file_id: FileId,
    file: &'a SourceFile,
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    /// Anchored nodes, with their weight (what an alias to it copies).
    anchors: HashMap<usize, (Node, usize)>,
    /// Non-fatal errors (duplicate keys); the scan goes on to find more.
    errors: Vec<SyntaxError>,
    /// Lists and maps open around the current event.
    depth: usize,
    /// Bytes copied by aliases so far.
    alias_bytes: usize,
    /// The last position turned into a byte offset: (line, char column, byte offset).
    cursor: (usize, usize, usize),
}

type Ev<'a> = (Event<'a>, Span);

impl<'a> YamlBuilder<'a> {
    fn span_of(&mut self, span: &saphyr_parser::Span) -> Span {
        let start = self.offset(span.start.line(), span.start.col());
        let end = self.offset(span.end.line(), span.end.col());
        Span::new(self.file_id, start..end.max(start))
    }

    /// A byte offset, found from the previous one when it is on the same line.
    fn offset(&mut self, line: usize, col: usize) -> usize {
        let (last_line, last_col, last_offset) = self.cursor;
        let offset = if line == last_line {
            self.file.offset_of_from(line, col, (last_col, last_offset))
        } else {
            self.file.offset_of(line, col)
        };
        self.cursor = (line, col, offset);
        offset
    }

    fn too_deep(span: Span) -> SyntaxError {
        SyntaxError {
            span,
            message: format!("lists and tables are nested more than {MAX_DEPTH} levels deep"),
            previous: None,
        }
    }

    fn next(&mut self) -> Result<Ev<'a>, SyntaxError> {
        match self.parser.next_event() {
            Some(Ok((event, span))) => {
                let span = self.span_of(&span);
                Ok((event, span))
            }
            Some(Err(e)) => {
                let offset = self.file.offset_of(e.marker().line(), e.marker().col());
                Err(SyntaxError {
                    span: Span::new(self.file_id, offset..offset),
                    message: e.info().to_string(),
                    previous: None,
                })
            }
            None => Err(SyntaxError {
                span: Span::new(self.file_id, self.file.text.len()..self.file.text.len()),
                message: "unexpected end of the file".into(),
                previous: None,
            }),
        }
    }

    fn document(&mut self) -> Result<Node, SyntaxError> {
        let whole = Span::new(self.file_id, 0..self.file.text.len());
        let empty = Node {
            span: whole,
            value: NodeValue::Map(Vec::new()),
        };
        let mut root = None;
        loop {
            let (event, span) = self.next()?;
            match event {
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                Event::StreamEnd => break,
                Event::DocumentStart(_) => {
                    if root.is_some() {
                        return Err(SyntaxError {
                            span,
                            message: "a config file holds one YAML document; found a second `---`"
                                .into(),
                            previous: None,
                        });
                    }
                    let (event, span) = self.next()?;
                    if matches!(event, Event::DocumentEnd) {
                        root = Some(empty.clone());
                        continue;
                    }
                    let mut node = self.node(event, span)?;
                    if let NodeValue::Scalar {
                        kind: ScalarKind::Null,
                        ..
                    } = node.value
                    {
                        node = empty.clone();
                    }
                    node.span = whole;
                    root = Some(node);
                }
                _ => {}
            }
        }
        Ok(root.unwrap_or(empty))
    }

    fn node(&mut self, event: Event<'a>, span: Span) -> Result<Node, SyntaxError> {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let kind = if style == ScalarStyle::Plain && tag.is_none() {
                    resolve_plain(&text)
                } else if tag.as_ref().is_some_and(|t| t.suffix == "int") {
                    ScalarKind::Int
                } else if tag.as_ref().is_some_and(|t| t.suffix == "float") {
                    ScalarKind::Float
                } else {
                    ScalarKind::Str
                };
                let text = match kind {
                    ScalarKind::Bool => text.to_ascii_lowercase(),
                    _ => text.into_owned(),
                };
                let node = Node {
                    span,
                    value: NodeValue::Scalar { kind, text },
                };
                self.remember(anchor, &node);
                Ok(node)
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some((node, size)) => {
                    self.alias_bytes = self.alias_bytes.saturating_add(*size);
                    if self.alias_bytes > MAX_ALIAS_BYTES {
                        return Err(SyntaxError {
                            span,
                            message: format!(
                                "aliases expand to more than {} MiB (an alias bomb?)",
                                MAX_ALIAS_BYTES / (1024 * 1024)
                            ),
                            previous: None,
                        });
                    }
                    Ok(Node {
                        span,
                        value: node.value.clone(),
                    })
                }
                None => Err(SyntaxError {
                    span,
                    message: "alias to an unknown anchor".into(),
                    previous: None,
                }),
            },
            Event::SequenceStart(anchor, _) => {
                if self.depth >= MAX_DEPTH {
                    return Err(Self::too_deep(span));
                }
                self.depth += 1;
                let mut items = Vec::new();
                let end = loop {
                    let (event, ev_span) = self.next()?;
                    if matches!(event, Event::SequenceEnd) {
                        break ev_span;
                    }
                    items.push(self.node(event, ev_span)?);
                };
                self.depth -= 1;
                let node = Node {
                    span: span.join(end),
                    value: NodeValue::Seq(items),
                };
                self.remember(anchor, &node);
                Ok(node)
            }
            Event::MappingStart(anchor, _) => {
                if self.depth >= MAX_DEPTH {
                    return Err(Self::too_deep(span));
                }
                self.depth += 1;
                let mut entries: Vec<Entry> = Vec::new();
                let mut keys: HashMap<String, Span> = HashMap::new();
                let end = loop {
                    let (event, key_span) = self.next()?;
                    if matches!(event, Event::MappingEnd) {
                        break key_span;
                    }
                    let key_node = self.node(event, key_span)?;
                    let key = match &key_node.value {
                        NodeValue::Scalar { text, .. } => text.clone(),
                        _ => {
                            return Err(SyntaxError {
                                span: key_node.span,
                                message: "a key must be a plain string, not a list or table".into(),
                                previous: None,
                            });
                        }
                    };
                    let (event, value_span) = self.next()?;
                    let value = self.node(event, value_span)?;
                    if let Some(previous) = keys.get(&key) {
                        self.errors.push(SyntaxError {
                            span: key_node.span,
                            message: format!("duplicate key `{key}`"),
                            previous: Some(*previous),
                        });
                        continue;
                    }
                    keys.insert(key.clone(), key_node.span);
                    entries.push(Entry {
                        key,
                        key_span: key_node.span,
                        value,
                    });
                };
                self.depth -= 1;
                let node = Node {
                    span: span.join(end),
                    value: NodeValue::Map(entries),
                };
                self.remember(anchor, &node);
                Ok(node)
            }
            other => Err(SyntaxError {
                span,
                message: format!("unexpected YAML event {other:?}"),
                previous: None,
            }),
        }
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), node.weight()));
        }
    }
}

/// YAML 1.2 core schema resolution of a plain scalar.
fn resolve_plain(text: &str) -> ScalarKind {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return ScalarKind::Null,
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" => return ScalarKind::Bool,
        ".inf" | "-.inf" | "+.inf" | ".nan" | ".NaN" | ".NAN" => return ScalarKind::Float,
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return ScalarKind::Int;
    }
    let mut seen_digit = false;
    let mut seen_dot = false;
    let mut seen_exp = false;
    let mut prev = b' ';
    for b in digits.bytes() {
        match b {
            b'0'..=b'9' => seen_digit = true,
            b'.' if !seen_dot && !seen_exp => seen_dot = true,
            b'e' | b'E' if seen_digit && !seen_exp => seen_exp = true,
            b'+' | b'-' if matches!(prev, b'e' | b'E') => {}
            _ => return ScalarKind::Str,
        }
        prev = b;
    }
    if seen_digit && (seen_dot || seen_exp) && !matches!(prev, b'e' | b'E' | b'+' | b'-') {
        ScalarKind::Float
    } else {
        ScalarKind::Str
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Result<Node, Vec<SyntaxError>> {
        let f = SourceFile::new("t.yaml".into(), Syntax::Yaml, text.into());
        parse(FileId(0), &f)
    }

    #[test]
    fn plain_scalars_resolve_by_the_core_schema() {
        assert_eq!(resolve_plain("12"), ScalarKind::Int);
        assert_eq!(resolve_plain("-1.5"), ScalarKind::Float);
        assert_eq!(resolve_plain("1e3"), ScalarKind::Float);
        assert_eq!(resolve_plain("USDT_BTC"), ScalarKind::Str);
        assert_eq!(resolve_plain("yes"), ScalarKind::Str);
        assert_eq!(resolve_plain("1.2.3"), ScalarKind::Str);
        assert_eq!(resolve_plain("~"), ScalarKind::Null);
    }

    #[test]
    fn yaml_spans_are_byte_offsets_after_non_ascii_text() {
        let text = "# Café ☕\nname: x\n";
        let root = yaml(text).unwrap();
        let entry = root.get("name").unwrap();
        assert_eq!(&text[entry.value.span.range()], "x");
        assert_eq!(&text[entry.key_span.range()], "name");
    }

    #[test]
    fn yaml_duplicate_keys_are_reported_with_both_places() {
        let errors = yaml("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].message.contains("duplicate key `a`"));
        assert_eq!(errors[0].previous.unwrap().start, 0);
    }

    #[test]
    fn yaml_aliases_copy_the_anchored_value() {
        let root = yaml("base: &b {x: 1}\nother: *b\n").unwrap();
        assert_eq!(root.get("other").unwrap().value.to_json()["x"], 1);
    }

    #[test]
    fn toml_keeps_spans_of_keys_and_values() {
        let text = "[a]\nb = \"ü\"\nc = 1.50\n";
        let f = SourceFile::new("t.toml".into(), Syntax::Toml, text.into());
        let root = parse(FileId(0), &f).unwrap();
        let a = &root.get("a").unwrap().value;
        let c = a.get("c").unwrap();
        assert_eq!(&text[c.value.span.range()], "1.50");
        assert!(matches!(&c.value.value, NodeValue::Scalar { text, .. } if text == "1.50"));
    }
}
