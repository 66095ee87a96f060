//! `THREECOMMAS_RECORD=DIR`: every request botform sends and the answer it gets, written to DIR
//! one JSON file each, so a user can send recordings of real 3Commas behaviour to the project.
//!
//! Nothing secret is written: no headers at all (so no key, signature or mode header), secrets
//! and personal keys in bodies replaced by `"[redacted]"`, account names too, account ids (in
//! bodies, paths and query strings) and bot ids in query strings replaced by stable pseudonyms
//! (a keyed HMAC with a random per-install salt: the same id always becomes the same number, so
//! relations survive, and nobody without the salt can map one back), and account balances and
//! profits set to `null`. A recording placed in `tests/fixtures/3commas/observed/recordings/` is
//! replayed through the client by the test suite with no code change.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One request and its answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recording {
    pub method: String,
    /// The path after `/public/api`, e.g. `/ver1/bots`.
    pub path: String,
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub request_body: Option<Value>,
    pub status: u16,
    /// The answer: JSON when it was JSON, else its text (at most 2,000 characters).
    pub response: Value,
}

/// Keys whose values are never written.
const SECRET_KEYS: &[&str] = &[
    "url_secret",
    "api_key",
    "apikey",
    "secret",
    "signature",
    "token",
    "password",
    "email",
    "customer_id",
    "api_key_invalid",
];

/// The per-install key of the pseudonyms: 32 random bytes, made once in the state dir (0600).
/// When it cannot be kept there, one for this process: pseudonyms are then stable within a run.
fn salt() -> &'static [u8] {
    static SALT: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    SALT.get_or_init(|| {
        let path = crate::files::state_dir().join("record-salt");
        if let Ok(text) = crate::files::read_bounded(&path, 1024)
            && let Some(bytes) = hex_bytes(text.trim())
            && bytes.len() == 32
        {
            return bytes;
        }
        let fresh: [u8; 32] = rand::random();
        let hex: String = fresh.iter().map(|b| format!("{b:02x}")).collect();
        let _ = crate::files::write_atomic(&path, hex.as_bytes());
        fresh.to_vec()
    })
}

fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    text.len().is_multiple_of(2).then_some(())?;
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A stable stand-in for an id of one kind (`account`, `bot`): a keyed HMAC of it, so nobody
/// without this install's salt can map it back (review M-3), and the same id always becomes
/// the same eight-digit number, so relations survive.
fn pseudonym(kind: &str, id: i64) -> i64 {
    use hmac::{Mac, digest::KeyInit};
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(salt())
        .expect("HMAC takes a key of any length");
    mac.update(format!("{kind}:{id}").as_bytes());
    let digest = mac.finalize().into_bytes();
    let n = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
    10_000_000 + (n % 89_999_999) as i64
}

/// Ids in a query string (`account_id`, `bot_id`) become their pseudonyms.
pub fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key @ ("account_id" | "bot_id"), value)) => match value.parse::<i64>() {
                Ok(id) => format!("{key}={}", pseudonym(key.trim_end_matches("_id"), id)),
                Err(_) => pair.to_string(),
            },
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Remove what a recording must not carry from a body of `path`.
pub fn redact(value: &mut Value, path: &str) {
    let accounts = path.starts_with("/ver1/accounts");
    redact_in(value, accounts);
}

/// An account id in a path (`/ver1/accounts/31896123/account_table_data`) becomes its pseudonym,
/// as it does in bodies.
pub fn redact_path(path: &str) -> String {
    let mut segments: Vec<String> = path.split('/').map(str::to_string).collect();
    for i in 1..segments.len() {
        if segments[i - 1] == "accounts"
            && let Ok(id) = segments[i].parse::<i64>()
        {
            segments[i] = pseudonym("account", id).to_string();
        }
    }
    segments.join("/")
}

fn redact_in(value: &mut Value, in_accounts: bool) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(|v| redact_in(v, in_accounts)),
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                let k = key.to_ascii_lowercase();
                if SECRET_KEYS.contains(&k.as_str()) {
                    *v = Value::String("[redacted]".into());
                } else if k == "account_id" || (in_accounts && k == "id") {
                    if let Some(id) = v.as_i64() {
                        *v = Value::from(pseudonym("account", id));
                    }
                } else if (k == "account_name" || (in_accounts && k == "name")) && v.is_string() {
                    // An account's name is the trader's own words (often their exchange login).
                    *v = Value::String("[redacted]".into());
                } else if in_accounts
                    && [
                        "amount",
                        "balance",
                        "equity",
                        "usd",
                        "btc",
                        "profit",
                        "position",
                        "on_orders",
                        "available",
                        "borrowed",
                    ]
                    .iter()
                    .any(|m| k.contains(m))
                {
                    // Removed (null, as 3Commas sends an unknown figure), so it still reads.
                    *v = Value::Null;
                } else {
                    redact_in(v, in_accounts);
                }
            }
        }
        _ => {}
    }
}

/// One request and answer as the client saw them, before redaction.
pub struct Exchange<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub body: Option<&'a [u8]>,
    pub status: u16,
    pub response: &'a [u8],
}

/// Write one recording into `dir` as `{seq}-{METHOD}{path}.json`.
pub fn write(dir: &Path, seq: u64, exchange: Exchange<'_>) -> std::io::Result<()> {
    let Exchange {
        method,
        path,
        query,
        body,
        status,
        response,
    } = exchange;
    let mut request_body = body.and_then(|b| serde_json::from_slice::<Value>(b).ok());
    if let Some(b) = request_body.as_mut() {
        redact(b, path);
    }
    let mut response = match serde_json::from_slice::<Value>(response) {
        Ok(v) => v,
        Err(_) => Value::String(
            String::from_utf8_lossy(response)
                .chars()
                .take(2000)
                .collect(),
        ),
    };
    redact(&mut response, path);
    let path = redact_path(path);
    let path = path.as_str();
    let recording = Recording {
        method: method.into(),
        path: path.into(),
        query: query.map(redact_query),
        request_body,
        status,
        response,
    };
    let slug: String = path
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let file = dir.join(format!("{seq:05}-{method}{slug}.json"));
    let text = serde_json::to_string_pretty(&recording).expect("recordings serialize");
    crate::files::write_atomic(&file, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_secret_is_written() {
        let mut bot = serde_json::json!({
            "id": 16416457, "account_id": 31896123, "url_secret": "abc123", "name": "x",
            "strategy_list": [{"strategy": "nonstop", "options": {}}]
        });
        redact(&mut bot, "/ver1/bots");
        assert_eq!(bot["url_secret"], "[redacted]");
        assert_eq!(bot["id"], 16416457, "bot ids are not personal");
        assert_ne!(bot["account_id"], 31896123);
        let mut accounts = serde_json::json!([{
            "id": 31896123, "name": "Binance Spot", "usd_amount": "12873.21",
            "btc_amount": "0.2", "day_profit_usd": "3", "api_key_invalid": false
        }]);
        redact(&mut accounts, "/ver1/accounts");
        let a = &accounts[0];
        assert_eq!(a["name"], "[redacted]");
        let query = redact_query("limit=100&account_id=31896123&bot_id=7&scope=enabled");
        assert_eq!(
            query,
            format!(
                "limit=100&account_id={}&bot_id={}&scope=enabled",
                pseudonym("account", 31896123),
                pseudonym("bot", 7)
            )
        );
        assert_eq!(
            a["id"], bot["account_id"],
            "the same account, the same pseudonym"
        );
        for key in ["usd_amount", "btc_amount", "day_profit_usd"] {
            assert!(a[key].is_null(), "{key}");
        }
        // The balances table: every holding goes, the currency stays.
        let mut table: serde_json::Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/3commas/account_table_data.json"
        ))
        .unwrap();
        redact(&mut table, "/ver1/accounts/32402783/account_table_data");
        assert_eq!(
            redact_path("/ver1/accounts/31896123/account_table_data"),
            format!(
                "/ver1/accounts/{}/account_table_data",
                pseudonym("account", 31896123)
            )
        );
        let row = table[0].as_object().unwrap();
        assert_eq!(row["currency_code"], "ETH");
        for key in [
            "position",
            "position_available",
            "on_orders",
            "equity",
            "usd_value",
        ] {
            assert!(row[key].is_null(), "{key}");
        }
    }
}
