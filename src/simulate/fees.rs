//! The fee a backtest assumes when the caller gives none: the exchange's usual taker fee, when
//! the exchange is known (the account's `market_code` from the live account, or the exchange
//! the candles were downloaded from).
//!
//! The figures are each exchange's base-tier taker fee, before any volume tier or token
//! discount, from its public fee schedule (Binance: binance.com/en/fee/schedule, spot 0.1 %,
//! USDⓈ-M futures 0.05 %; Bybit: bybit.com/en/help-center fee structure, spot 0.1 %,
//! derivatives 0.055 %; OKX: okx.com/fees, spot 0.1 %). 3Commas fills take profits with limit
//! orders (maker) on some exchanges, so the taker fee is the cautious choice. An exchange this
//! table does not know gets no fee and the report's warning says so: `--fee` is the way out.

use crate::model::decimal::Decimal;

/// An exchange's usual fee, and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsualFee {
    pub percentage: Decimal,
    /// "Binance spot's base-tier taker fee".
    pub what: &'static str,
}

/// 3Commas `market_code` prefixes, the most specific first.
const TABLE: &[(&str, &str, &str)] = &[
    (
        "binance_futures",
        "0.05",
        "Binance USDⓈ-M futures' base-tier taker fee",
    ),
    // Binance.US has its own schedule, which this table does not carry.
    ("binance_us", "", ""),
    ("binance", "0.1", "Binance spot's base-tier taker fee"),
    ("bybit_spot", "0.1", "Bybit spot's base-tier taker fee"),
    ("bybit", "0.055", "Bybit derivatives' base-tier taker fee"),
    ("okex", "0.1", "OKX spot's base-tier taker fee"),
    // Paper accounts trade on 3Commas' own book; it does not publish a fee for them.
    ("paper_trading", "", ""),
];

/// The usual taker fee on the exchange of this 3Commas `market_code`, when known.
pub fn usual_taker_fee(market_code: &str) -> Option<UsualFee> {
    let (_, percentage, what) = TABLE
        .iter()
        .find(|(prefix, _, _)| market_code.starts_with(prefix))?;
    Some(UsualFee {
        percentage: percentage.parse().ok()?,
        what,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_exchanges_get_their_taker_fee_and_others_none() {
        let fee = |code: &str| usual_taker_fee(code).map(|f| f.percentage.to_string());
        assert_eq!(fee("binance").as_deref(), Some("0.1"));
        assert_eq!(fee("binance_futures_eea").as_deref(), Some("0.05"));
        assert_eq!(fee("bybit_spot").as_deref(), Some("0.1"));
        assert_eq!(fee("bybit_usdt_perpetual").as_deref(), Some("0.055"));
        assert_eq!(fee("okex").as_deref(), Some("0.1"));
        assert_eq!(fee("binance_us"), None);
        assert_eq!(fee("paper_trading"), None);
        assert_eq!(fee("kraken"), None);
    }
}
