//! Request parameters as Grape sees them: query string and body (JSON or form) merged, the query
//! winning; numbers accepted as numbers or numeric strings; arrays as arrays or JSON strings.
//! Type problems are collected Grape-style into `error_attributes`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::model::decimal::Decimal;

pub type Attributes = BTreeMap<String, Vec<String>>;

pub const MISSING: &str = "is missing";
pub const INVALID: &str = "is invalid";
pub const NOT_VALID_VALUE: &str = "does not have a valid value";

/// Parsed parameters with the problems found so far.
#[derive(Debug, Default, Clone)]
pub struct Params {
    pub values: Map<String, Value>,
    pub errors: Attributes,
}

impl Params {
    /// Merge the query string and the body; the query string wins.
    pub fn parse(
        query: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Params, String> {
        let mut values = Map::new();
        if !body.is_empty() {
            let is_form =
                content_type.is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
            if is_form {
                for (k, v) in url::form_urlencoded::parse(body) {
                    values.insert(k.into_owned(), Value::String(v.into_owned()));
                }
            } else {
                match serde_json::from_slice::<Value>(body) {
                    Ok(Value::Object(map)) => values.extend(map),
                    Ok(Value::Null) => {}
                    Ok(_) => return Err("the body must be a JSON object".into()),
                    Err(_) => return Err("the body is not valid JSON".into()),
                }
            }
        }
        if let Some(q) = query {
            for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
                values.insert(k.into_owned(), Value::String(v.into_owned()));
            }
        }
        Ok(Params {
            values,
            errors: Attributes::new(),
        })
    }

    pub fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors
            .entry(field.to_string())
            .or_default()
            .push(message.into());
    }

    pub fn has(&self, field: &str) -> bool {
        self.values.get(field).is_some_and(|v| !v.is_null())
    }

    pub fn require(&mut self, fields: &[&str]) {
        for field in fields {
            if !self.has(field) {
                self.error(field, MISSING);
            }
        }
    }

    pub fn string(&mut self, field: &str) -> Option<String> {
        match self.values.get(field)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Null => None,
            _ => {
                self.error(field, INVALID);
                None
            }
        }
    }

    pub fn decimal(&mut self, field: &str) -> Option<Decimal> {
        let parsed = match self.values.get(field)? {
            Value::Number(n) => n.to_string().parse().ok(),
            Value::String(s) => s.parse().ok(),
            Value::Null => return None,
            _ => None,
        };
        if parsed.is_none() {
            self.error(field, INVALID);
        }
        parsed
    }

    pub fn int(&mut self, field: &str) -> Option<i64> {
        let parsed = match self.values.get(field)? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            Value::Null => return None,
            _ => None,
        };
        if parsed.is_none() {
            self.error(field, INVALID);
        }
        parsed
    }

    pub fn int_in(&mut self, field: &str, min: i64, max: i64) -> Option<i64> {
        let v = self.int(field)?;
        if v < min || v > max {
            self.error(field, NOT_VALID_VALUE);
            return None;
        }
        Some(v)
    }

    pub fn bool(&mut self, field: &str) -> Option<bool> {
        let parsed = match self.values.get(field)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) => match s.as_str() {
                "true" | "1" => Some(true),
                "false" | "0" => Some(false),
                _ => None,
            },
            Value::Null => return None,
            _ => None,
        };
        if parsed.is_none() {
            self.error(field, INVALID);
        }
        parsed
    }

    /// A value from a closed set (Grape `values:`).
    pub fn one_of(&mut self, field: &str, allowed: &[&str]) -> Option<String> {
        let v = self.string(field)?;
        if allowed.contains(&v.as_str()) {
            Some(v)
        } else {
            self.error(field, NOT_VALID_VALUE);
            None
        }
    }

    /// An array given as a JSON array, a JSON string holding an array, or (for strings) one value.
    pub fn array(&mut self, field: &str, single_string_ok: bool) -> Option<Vec<Value>> {
        match self.values.get(field)?.clone() {
            Value::Array(items) => Some(items),
            Value::String(s) => {
                if let Ok(Value::Array(items)) = serde_json::from_str::<Value>(&s) {
                    Some(items)
                } else if single_string_ok {
                    Some(vec![Value::String(s)])
                } else {
                    self.error(field, INVALID);
                    None
                }
            }
            Value::Null => None,
            _ => {
                self.error(field, INVALID);
                None
            }
        }
    }
}
