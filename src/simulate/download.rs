//! Candles from an exchange's public market data (no key): Binance `GET /api/v3/klines` (oldest
//! first, 1,000 a page) and Bybit v5 `GET /v5/market/kline` (newest first, 1,000 a page), into
//! the user's cache as one CSV per 3Commas pair (`USDT_BTC.csv`), in the layout `candles` reads.
//!
//! Resumable: a file already in the cache is extended from its last candle, never fetched again.
//! Pairs map to symbols as 3Commas writes them: spot `USDT_BTC` is `BTCUSDT`; a USDT perpetual
//! `USDT_BTCUSDT` is `BTCUSDT` on Binance futures data or Bybit `linear`. Base URLs can be pointed
//! elsewhere (`BOTFORM_BINANCE_URL`, `BOTFORM_BYBIT_URL`): the tests run a local server that
//! answers as the documented endpoints do.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::candles;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Exchange {
    Binance,
    Bybit,
}

impl Exchange {
    pub fn name(self) -> &'static str {
        match self {
            Exchange::Binance => "binance",
            Exchange::Bybit => "bybit",
        }
    }

    /// From its name (`binance`, `bybit`; any case).
    pub fn named(name: &str) -> Option<Exchange> {
        <Exchange as clap::ValueEnum>::from_str(name, true).ok()
    }

    /// The fee a trade pays on its spot market at the base tier, and where that figure comes
    /// from: the default fee of a backtest on its candles.
    pub fn usual_fee(self) -> (crate::model::decimal::Decimal, super::FeeSource) {
        let code = match self {
            Exchange::Binance => "binance",
            Exchange::Bybit => "bybit_spot",
        };
        super::fees::usual_taker_fee(code).map_or(
            (
                crate::model::decimal::Decimal::ZERO,
                super::FeeSource::NotGiven,
            ),
            |usual| (usual.percentage, super::FeeSource::Usual(usual.what)),
        )
    }

    fn base_url(self) -> String {
        let (var, default) = match self {
            Exchange::Binance => ("BOTFORM_BINANCE_URL", "https://api.binance.com"),
            Exchange::Bybit => ("BOTFORM_BYBIT_URL", "https://api.bybit.com"),
        };
        std::env::var(var)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default.into())
    }

    /// The exchange's name for an interval, from botform's (`5m`, `1h`, `1d`).
    fn interval(self, ms: i64) -> Option<String> {
        let minutes = ms / 60_000;
        Some(match self {
            Exchange::Binance => match minutes {
                1 | 3 | 5 | 15 | 30 => format!("{minutes}m"),
                60 | 120 | 240 | 360 | 480 | 720 => format!("{}h", minutes / 60),
                1440 => "1d".into(),
                _ => return None,
            },
            Exchange::Bybit => match minutes {
                1 | 3 | 5 | 15 | 30 | 60 | 120 | 240 | 360 | 720 => minutes.to_string(),
                1440 => "D".into(),
                _ => return None,
            },
        })
    }
}

/// The exchange symbol of a 3Commas pair, and whether it is a USDT perpetual. `None` for
/// anything but two non-empty runs of capital letters and digits around one `_`: the pair also
/// names the cache file, so `USDT_BTC/../../x` must never reach a path.
pub fn symbol(pair: &str) -> Option<(String, bool)> {
    let (quote, base) = pair.split_once('_')?;
    let part = |p: &str| {
        !p.is_empty()
            && p.len() <= 32
            && p.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    };
    if !part(quote) || !part(base) {
        return None;
    }
    if base.len() > quote.len() && base.ends_with(quote) {
        return Some((base.to_string(), true));
    }
    Some((format!("{base}{quote}"), false))
}

/// Where downloaded candles live: `$BOTFORM_CACHE_DIR`, else `$XDG_CACHE_HOME/botform/candles`,
/// else `~/.cache/botform/candles`; one folder per exchange and interval.
pub fn cache_dir(exchange: Exchange, interval_ms: i64) -> PathBuf {
    cache_root()
        .join(exchange.name())
        .join(format!("{}m", interval_ms / 60_000))
}

/// The backtest cache: `$BOTFORM_CACHE_DIR`, else `$XDG_CACHE_HOME/botform/candles`, else
/// `~/.cache/botform/candles`. Candles live in a folder per exchange, pairs' order steps in
/// `limits` (`engine::limits`).
pub fn cache_root() -> PathBuf {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("BOTFORM_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("botform").join("candles")))
        .or_else(|| var("HOME").map(|h| h.join(".cache").join("botform").join("candles")))
        .unwrap_or_else(|| std::env::temp_dir().join("botform-candles"))
}

/// One page of candles: (open time ms, open, high, low, close, volume), oldest first.
type Row = (i64, f64, f64, f64, f64, f64);

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

fn time(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// The most an exchange's answer for one page may weigh: 1,000 klines are about 200 KB.
const MAX_PAGE_BYTES: usize = 2 << 20;
/// The most klines one page may hold (both exchanges serve at most 1,000).
const MAX_PAGE_ROWS: usize = 1000;

/// Check a page's candles before anything is cached: at most [`MAX_PAGE_ROWS`], each on the
/// interval's grid, with finite prices where low <= open, close <= high and low > 0, and a volume
/// >= 0. A page that breaks one is refused whole, saying which.
fn checked(rows: Vec<Row>, interval_ms: i64) -> Result<Vec<Row>, String> {
    if rows.len() > MAX_PAGE_ROWS {
        return Err(format!(
            "{} klines in one page, more than the {MAX_PAGE_ROWS} asked for",
            rows.len()
        ));
    }
    for &(t, o, h, l, c, v) in &rows {
        let when = crate::timefmt::iso(t);
        if t.rem_euclid(interval_ms) != 0 {
            return Err(format!("a kline at {when} is off the interval's grid"));
        }
        let finite = [o, h, l, c, v].iter().all(|x| x.is_finite());
        if !finite || l <= 0.0 || l > o.min(c) || h < o.max(c) || v < 0.0 {
            return Err(format!(
                "the kline at {when} is impossible (open {o}, high {h}, low {l}, close {c}, volume {v})"
            ));
        }
    }
    Ok(rows)
}

/// The body of an answer, refused once it passes [`MAX_PAGE_BYTES`] (never held whole first).
async fn bounded_body(mut answer: reqwest::Response, exchange: &str) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = answer
        .chunk()
        .await
        .map_err(|e| format!("{exchange}: the answer broke off: {e}"))?
    {
        if body.len() + chunk.len() > MAX_PAGE_BYTES {
            return Err(format!(
                "{exchange}: an answer larger than {} MiB for one page of klines; refused",
                MAX_PAGE_BYTES >> 20
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn rows(list: &[Value]) -> Result<Vec<Row>, String> {
    list.iter()
        .map(|k| {
            let k = k.as_array().ok_or("a kline is not a list")?;
            let cell = |i: usize| {
                k.get(i)
                    .and_then(number)
                    .ok_or(format!("kline field {i} missing"))
            };
            Ok((
                k.first().and_then(time).ok_or("kline time missing")?,
                cell(1)?,
                cell(2)?,
                cell(3)?,
                cell(4)?,
                cell(5)?,
            ))
        })
        .collect()
}

/// Where and what one page asks for.
struct PageQuery<'a> {
    symbol: &'a str,
    perpetual: bool,
    /// The exchange's name of the interval, and its length.
    interval: &'a str,
    interval_ms: i64,
}

async fn page(
    http: &reqwest::Client,
    exchange: Exchange,
    q: &PageQuery<'_>,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<Row>, String> {
    let (symbol, perpetual, interval, interval_ms) =
        (q.symbol, q.perpetual, q.interval, q.interval_ms);
    let base = exchange.base_url();
    let request = match exchange {
        Exchange::Binance if perpetual => http.get(format!("{base}/fapi/v1/klines")),
        Exchange::Binance => http.get(format!("{base}/api/v3/klines")),
        Exchange::Bybit => http.get(format!("{base}/v5/market/kline")),
    };
    let query: Vec<(&str, String)> = match exchange {
        Exchange::Binance => vec![
            ("symbol", symbol.into()),
            ("interval", interval.into()),
            ("startTime", from_ms.to_string()),
            ("endTime", (to_ms - 1).to_string()),
            ("limit", "1000".into()),
        ],
        Exchange::Bybit => vec![
            ("category", if perpetual { "linear" } else { "spot" }.into()),
            ("symbol", symbol.into()),
            ("interval", interval.into()),
            ("start", from_ms.to_string()),
            ("end", (to_ms - 1).to_string()),
            ("limit", "1000".into()),
        ],
    };
    let answer = request
        .query(&query)
        .send()
        .await
        .map_err(|e| unreachable_exchange(exchange.name(), &e))?;
    let status = answer.status();
    let bytes = bounded_body(answer, exchange.name()).await?;
    let body: Value = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{}: unreadable answer ({status}): {e}", exchange.name()))?;
    if !status.is_success() {
        return Err(format!("{} answered {status}: {body}", exchange.name()));
    }
    let mut rows = match exchange {
        Exchange::Binance => rows(body.as_array().ok_or("binance: not a list of klines")?)?,
        Exchange::Bybit => {
            if body["retCode"].as_i64() != Some(0) {
                return Err(format!("bybit: {}", body["retMsg"]));
            }
            rows(
                body["result"]["list"]
                    .as_array()
                    .ok_or("bybit: no result.list")?,
            )?
        }
    };
    rows.sort_by_key(|r| r.0);
    let rows = checked(rows, interval_ms).map_err(|e| format!("{}: {e}", exchange.name()))?;
    // A candle from outside the window asked for (an exchange's edge case) is not this page's.
    Ok(rows
        .into_iter()
        .filter(|r| r.0 >= from_ms && r.0 < to_ms)
        .collect())
}

/// Fetch every pair's candles from `from_ms` to `to_ms` into the cache (each resumed from what
/// is there); returns the cache folder they are in. `progress` hears each pair and the candles
/// fetched for it so far.
pub async fn fetch_pairs(
    exchange: Exchange,
    pairs: &std::collections::BTreeSet<String>,
    interval_ms: i64,
    from_ms: i64,
    to_ms: i64,
    progress: &(dyn Fn(&str, usize) + Sync),
) -> Result<PathBuf, String> {
    for pair in pairs {
        progress(pair, 0);
        fetch(exchange, pair, interval_ms, from_ms, to_ms, &|n| {
            progress(pair, n)
        })
        .await?;
    }
    Ok(cache_dir(exchange, interval_ms))
}

/// The pairs of the config bots `names` chooses (all when empty; names in any case): the
/// candle files a backtest of them reads.
pub fn pairs_of(
    checked: &crate::config::Checked,
    names: &[String],
) -> std::collections::BTreeSet<String> {
    let mut pairs = std::collections::BTreeSet::new();
    for bot in &checked.bots {
        if names.is_empty() || names.iter().any(|b| b.eq_ignore_ascii_case(bot.name())) {
            pairs.extend(bot.spec.pairs.iter().flatten().map(|p| p.value.clone()));
        }
    }
    pairs
}

/// Fetch `pair`'s candles from `from_ms` to `to_ms` into the cache (extending what is there);
/// returns the file. `progress` hears the candles fetched so far.
pub async fn fetch(
    exchange: Exchange,
    pair: &str,
    interval_ms: i64,
    from_ms: i64,
    to_ms: i64,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<PathBuf, String> {
    let (symbol, perpetual) = symbol(pair).ok_or_else(|| format!("`{pair}` is not QUOTE_BASE"))?;
    let interval = exchange.interval(interval_ms).ok_or_else(|| {
        format!(
            "{} has no {}-minute candles",
            exchange.name(),
            interval_ms / 60_000
        )
    })?;
    let dir = cache_dir(exchange, interval_ms);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let file = dir.join(format!("{pair}.csv"));
    // When the exchange has nothing before a time (the pair's listing), remembered beside it.
    let listed_file = dir.join(format!("{pair}.listed"));
    let listed = std::fs::read_to_string(&listed_file)
        .ok()
        .and_then(|t| t.trim().parse::<i64>().ok());
    // Resume after the last candle already cached.
    let mut start = from_ms;
    let mut fresh = true;
    if file.exists() {
        let cached = candles::read_csv(&file).map_err(|e| e.to_string())?;
        if let (Some(first), Some(last)) = (cached.candles.first(), cached.candles.last())
            && cache_covers(first.open_time_ms, from_ms, listed)
        {
            fresh = false;
            start = start.max(last.open_time_ms + interval_ms);
        } else {
            std::fs::remove_file(&file).map_err(|e| e.to_string())?;
        }
    }
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let query = PageQuery {
        symbol: &symbol,
        perpetual,
        interval: &interval,
        interval_ms,
    };
    let mut fetched: Vec<Row> = Vec::new();
    match exchange {
        // Oldest first: walk forward.
        Exchange::Binance => {
            let mut at = start;
            while at < to_ms {
                let rows = page(&http, exchange, &query, at, to_ms).await?;
                let Some(last) = rows.last() else { break };
                at = last.0 + interval_ms;
                fetched.extend(rows);
                progress(fetched.len());
            }
        }
        // Newest first: walk backward from the end.
        Exchange::Bybit => {
            let mut end = to_ms;
            while end > start {
                let rows = page(&http, exchange, &query, start, end).await?;
                let Some(first) = rows.first() else { break };
                end = first.0;
                fetched.extend(rows);
                progress(fetched.len());
            }
            fetched.sort_by_key(|r| r.0);
        }
    }
    fetched.dedup_by_key(|r| r.0);
    closed_only(&mut fetched, interval_ms, crate::timefmt::now_unix() * 1000);
    if fresh
        && let Some(first) = fetched.first()
        && first.0 > from_ms
    {
        crate::files::write_atomic(&listed_file, first.0.to_string().as_bytes())
            .map_err(|e| format!("{}: {e}", listed_file.display()))?;
    }
    append(&file, &fetched)?;
    Ok(file)
}

/// Keep only candles that have closed by `now_ms`: the one still forming has a partial high,
/// low and close, and a cache must never keep it.
fn closed_only(rows: &mut Vec<Row>, interval_ms: i64, now_ms: i64) {
    rows.retain(|r| r.0 + interval_ms <= now_ms);
}

/// Does a cache whose first candle opens at `first_ms` cover a run from `from_ms`? Yes when it
/// starts at or before it, or at the pair's first candle on the exchange (`listed_ms`), as
/// nothing earlier exists to fetch.
fn cache_covers(first_ms: i64, from_ms: i64, listed_ms: Option<i64>) -> bool {
    first_ms <= from_ms || listed_ms.is_some_and(|listed| first_ms <= listed.max(from_ms))
}

/// The cached file with `rows` after what it holds, written atomically.
fn append(file: &Path, rows: &[Row]) -> Result<(), String> {
    let mut text = if file.exists() {
        crate::files::read_bounded(file, candles::MAX_CANDLE_FILE_BYTES)
            .map_err(|e| format!("{}: {e}", file.display()))?
    } else {
        String::new()
    };
    for (t, o, h, l, c, v) in rows {
        text.push_str(&format!("{t},{o},{h},{l},{c},{v}\n"));
        if text.len() as u64 > candles::MAX_CANDLE_FILE_BYTES {
            return Err(format!(
                "{}: more candles than one file may hold ({} MiB): shorten the range or use a longer interval",
                file.display(),
                candles::MAX_CANDLE_FILE_BYTES >> 20
            ));
        }
    }
    crate::files::write_atomic(file, text.as_bytes())
        .map_err(|e| format!("{}: {e}", file.display()))
}

/// Why a download could not even be sent, with its cause (DNS, refused, timeout) and the ways
/// round it: candles already on disk, or synthetic paths, need no network.
fn unreachable_exchange(exchange: &str, e: &reqwest::Error) -> String {
    let mut cause = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    let what = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        format!(
            "cannot connect ({})",
            if cause.is_empty() {
                e.to_string()
            } else {
                cause
            }
        )
    } else if cause.is_empty() {
        e.to_string()
    } else {
        format!("{e}: {cause}")
    };
    format!(
        "{exchange}: the candle download failed: {what}. Offline? Backtest on candle files with --candles DIR (a CSV per pair), or on seeded paths with --synthetic vol=80,days=90,seed=7"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forming_candle_is_never_cached_and_a_listing_is_remembered() {
        let row = |t: i64| (t, 1.0, 1.0, 1.0, 1.0, 0.0);
        let mut rows = vec![row(0), row(300_000), row(600_000)];
        // At 14 minutes the candle opened at 10 has not closed.
        closed_only(&mut rows, 300_000, 840_000);
        assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), [0, 300_000]);
        // A cache that starts at the pair's listing (day 10) covers a run from day 1: nothing
        // is fetched again; without the listing remembered it would be.
        let day = 86_400_000;
        assert!(cache_covers(10 * day, day, Some(10 * day)));
        assert!(!cache_covers(10 * day, day, None));
        assert!(cache_covers(day, day, None));
        // A cache that starts after the listing does not cover an earlier start.
        assert!(!cache_covers(12 * day, day, Some(10 * day)));
    }

    #[test]
    fn impossible_klines_are_refused_before_caching() {
        let good = (300_000, 10.0, 12.0, 9.0, 11.0, 1.0);
        assert!(checked(vec![good], 300_000).is_ok());
        for bad in [
            (300_001, 10.0, 12.0, 9.0, 11.0, 1.0),     // off the grid
            (300_000, 10.0, 9.5, 9.0, 11.0, 1.0),      // high below the close
            (300_000, 10.0, 12.0, 10.5, 11.0, 1.0),    // low above the open
            (300_000, 10.0, 12.0, 0.0, 11.0, 1.0),     // a price of 0
            (300_000, f64::NAN, 12.0, 9.0, 11.0, 1.0), // not a number
            (300_000, 10.0, 12.0, 9.0, 11.0, -1.0),    // negative volume
        ] {
            assert!(checked(vec![bad], 300_000).is_err(), "{bad:?}");
        }
        assert!(checked(vec![good; MAX_PAGE_ROWS + 1], 300_000).is_err());
    }

    #[test]
    fn pairs_map_to_symbols_and_intervals_to_each_exchange() {
        assert_eq!(symbol("USDT_BTC"), Some(("BTCUSDT".into(), false)));
        assert_eq!(symbol("USDT_BTCUSDT"), Some(("BTCUSDT".into(), true)));
        assert_eq!(symbol("BTC_ETH"), Some(("ETHBTC".into(), false)));
        // The pair names the cache file: nothing that could leave the cache passes.
        for hostile in [
            "USDT_BTC/../../x",
            "USDT_",
            "_BTC",
            "USDT_btc",
            "USDT_BTC_ETH",
            "..\\x_Y",
        ] {
            assert_eq!(symbol(hostile), None, "{hostile}");
        }
        assert_eq!(Exchange::Binance.interval(300_000).as_deref(), Some("5m"));
        assert_eq!(Exchange::Bybit.interval(300_000).as_deref(), Some("5"));
        assert_eq!(Exchange::Bybit.interval(86_400_000).as_deref(), Some("D"));
        assert_eq!(Exchange::Binance.interval(420_000), None);
    }
}
