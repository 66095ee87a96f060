//! The sandbox's data: one user's accounts, bots, deals and blacklist, kept apart per trading mode
//! (`Forced-Mode: paper|real`), with realistic seed data. `store` keeps it on disk.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::decimal::Decimal;
use crate::model::enums::TradingMode;
use crate::threecommas::wire::WireBot;

const ACCOUNT_TEMPLATE: &str = include_str!("../../data/sandbox/account_template.json");
pub const DEAL_TEMPLATE: &str = include_str!("../../data/sandbox/deal_template.json");

/// A market the sandbox knows: its code, pairs and reference prices (quote per base).
pub struct Market {
    pub code: &'static str,
    pub name: &'static str,
    pub pairs: &'static [(&'static str, &'static str)],
}

pub const MARKETS: &[Market] = &[
    Market {
        code: "binance",
        name: "Binance",
        pairs: &[
            ("USDT_BTC", "63802.44"),
            ("USDT_ETH", "2561.37"),
            ("USDT_SOL", "148.21"),
            ("USDT_BNB", "571.4"),
            ("USDT_XRP", "0.5321"),
            ("USDT_ADA", "0.3512"),
            ("USDT_DOGE", "0.1089"),
            ("USDT_AVAX", "26.74"),
            ("USDT_LINK", "11.02"),
            ("USDT_DOT", "4.31"),
            ("USDT_LTC", "66.2"),
            ("USDT_LUNA", "0.4123"),
            ("USDT_FTT", "1.65"),
            ("USDT_UST", "0.0201"),
            ("BTC_ETH", "0.04015"),
            ("BTC_SOL", "0.002323"),
            ("BTC_BNB", "0.008956"),
        ],
    },
    Market {
        code: "bybit_usdt_perpetual",
        name: "Bybit USDT Perpetual",
        pairs: &[
            ("USDT_BTCUSDT", "63790.5"),
            ("USDT_ETHUSDT", "2560.9"),
            ("USDT_SOLUSDT", "148.18"),
            ("USDT_XRPUSDT", "0.5319"),
        ],
    },
    Market {
        code: "paper_trading",
        name: "Binance Spot account simulator",
        pairs: &[
            ("USDT_BTC", "63802.44"),
            ("USDT_ETH", "2561.37"),
            ("USDT_SOL", "148.21"),
            ("USDT_BNB", "571.4"),
            ("USDT_DOGE", "0.1089"),
        ],
    },
];

pub fn market(code: &str) -> Option<&'static Market> {
    MARKETS.iter().find(|m| m.code == code)
}

/// Everything one trading mode sees.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ModeState {
    /// Account entities as 3Commas returns them.
    pub accounts: Vec<serde_json::Value>,
    pub bots: BTreeMap<i64, WireBot>,
    pub blacklist: Vec<String>,
    /// Deal entities as 3Commas returns them (list form).
    pub deals: BTreeMap<i64, serde_json::Value>,
    /// SmartTrade v2 entities (read only in the sandbox; put in by `POST /__sandbox/smart_trades`,
    /// in memory).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub smart_trades: Vec<serde_json::Value>,
    /// Grid bots (`sandbox::grids`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub grid_bots: BTreeMap<i64, GridRecord>,
}

/// A grid bot: its entity as 3Commas shows it (48 keys), and what it was sent that 3Commas never
/// shows back (`trailing_down_enabled`, `expansion_up_enabled`, `expansion_up_stop_price`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridRecord {
    pub entity: serde_json::Value,
    #[serde(default)]
    pub write_only: serde_json::Map<String, serde_json::Value>,
    /// What the market did with it (`--market`): filled line orders, balancing orders, completed
    /// grids and events, each in 3Commas' shape, oldest first, the last [`GRID_LOG_CAP`] kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub market_orders: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub balancing_orders: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profits: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<serde_json::Value>,
}

/// The most entries a grid bot's market log keeps of each kind (orders, profits, events): a
/// grid that runs for years stays bounded.
pub const GRID_LOG_CAP: usize = 5_000;

impl GridRecord {
    /// A record of a new entity, with nothing sent write-only and no market history.
    pub fn new(entity: serde_json::Value) -> GridRecord {
        GridRecord {
            entity,
            write_only: serde_json::Map::new(),
            market_orders: Vec::new(),
            balancing_orders: Vec::new(),
            profits: Vec::new(),
            events: Vec::new(),
        }
    }
}

impl ModeState {
    pub fn account(&self, id: i64) -> Option<&serde_json::Value> {
        self.accounts.iter().find(|a| a["id"].as_i64() == Some(id))
    }
}

/// The whole sandbox state (what `--state FILE` holds).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub format_version: u32,
    /// The mode used when a request sends no `Forced-Mode`.
    pub default_mode: TradingMode,
    pub next_bot_id: i64,
    pub next_deal_id: i64,
    /// The token TradingView messages carry (`email_token`), generated with the state: the
    /// account's, as on 3Commas (which shows it in the bot's form and never through the API).
    #[serde(default = "new_email_token")]
    pub email_token: String,
    pub paper: ModeState,
    pub real: ModeState,
}

impl State {
    /// Realistic starting data: two exchange accounts in real mode, a paper account in paper mode,
    /// no bots, an empty blacklist.
    pub fn seeded() -> State {
        let real = ModeState {
            accounts: vec![
                account(
                    31_896_123,
                    "Binance Spot",
                    "binance",
                    "Binance",
                    "Account::BinanceAccount",
                    "BinanceSpot",
                    "12873.21",
                ),
                account(
                    31_896_124,
                    "Bybit Futures",
                    "bybit_usdt_perpetual",
                    "Bybit USDT Perpetual",
                    "Accounts::BybitUsdtPerpetualAccount",
                    "BybitUsdtPerpetual",
                    "5120.5",
                ),
            ],
            ..ModeState::default()
        };
        let paper = ModeState {
            accounts: vec![account(
                33_256_512,
                "Paper Account 2080398",
                "paper_trading",
                "Binance Spot account simulator",
                "Account::PaperTradingAccount",
                "PaperTrading",
                "10000.0",
            )],
            ..ModeState::default()
        };
        State {
            format_version: 1,
            default_mode: TradingMode::Real,
            next_bot_id: 16_416_457,
            next_deal_id: 2_412_395_001,
            email_token: new_email_token(),
            paper,
            real,
        }
    }

    pub fn mode(&self, mode: TradingMode) -> &ModeState {
        match mode {
            TradingMode::Paper => &self.paper,
            TradingMode::Real => &self.real,
        }
    }

    pub fn mode_mut(&mut self, mode: TradingMode) -> &mut ModeState {
        match mode {
            TradingMode::Paper => &mut self.paper,
            TradingMode::Real => &mut self.real,
        }
    }
}

fn account(
    id: i64,
    name: &str,
    market_code: &str,
    exchange: &str,
    class: &str,
    display: &str,
    usd: &str,
) -> serde_json::Value {
    let mut a: serde_json::Value =
        serde_json::from_str(ACCOUNT_TEMPLATE).expect("embedded account template");
    a["id"] = id.into();
    a["name"] = name.into();
    a["market_code"] = market_code.into();
    a["exchange_name"] = exchange.into();
    a["pretty_display_type"] = display.into();
    a["type"] = class.into();
    a["usd_amount"] = usd.into();
    a["created_at"] = "2024-03-11T09:12:44.120Z".into();
    a["updated_at"] = "2025-07-29T17:14:38.489Z".into();
    a
}

/// A figure of a stored deal (string or number; 0 when absent or unreadable).
pub fn deal_decimal(deal: &serde_json::Value, field: &str) -> Decimal {
    match &deal[field] {
        serde_json::Value::String(s) => s.parse().unwrap_or_default(),
        serde_json::Value::Number(n) => n.to_string().parse().unwrap_or_default(),
        _ => Decimal::ZERO,
    }
}

/// The reference price of a pair on a market.
pub fn price(market_code: &str, pair: &str) -> Option<Decimal> {
    market(market_code)?
        .pairs
        .iter()
        .find(|(p, _)| *p == pair)
        .and_then(|(_, price)| price.parse().ok())
}

/// A fresh email token, shaped as 3Commas' are (a UUID).
pub fn new_email_token() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    let hex = |n: usize, rng: &mut rand::rngs::ThreadRng| -> String {
        (0..n)
            .map(|_| char::from_digit(rng.random_range(0..16), 16).expect("a hex digit"))
            .collect()
    };
    format!(
        "{}-{}-{}-{}-{}",
        hex(8, &mut rng),
        hex(4, &mut rng),
        hex(4, &mut rng),
        hex(4, &mut rng),
        hex(12, &mut rng)
    )
}

/// Now, in milliseconds since 1970: the sandbox's one clock.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Now as 3Commas writes times: ISO-8601 UTC with milliseconds.
pub fn now_iso() -> String {
    iso_from_millis(now_millis())
}

pub fn iso_from_millis(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_look_like_3commas_times() {
        assert_eq!(
            iso_from_millis(1_729_799_863_635),
            "2024-10-24T19:57:43.635Z"
        );
        assert_eq!(iso_from_millis(0), "1970-01-01T00:00:00.000Z");
    }
}
