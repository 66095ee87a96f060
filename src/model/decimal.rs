//! [`Decimal`]: every volume, price and percentage in botform. Never f64.
//!
//! Reads numbers written as TOML/YAML numbers (exactly as spelt, never through f64 when read from a
//! config file) or as strings, including the exponent form and 30+ digit strings 3Commas sends.
//! Compares by value (`1.50 == 1.5`). Serializes as a plain decimal string, as 3Commas does.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::de::{self, Visitor};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Decimal(pub rust_decimal::Decimal);

impl Decimal {
    pub const ZERO: Decimal = Decimal(rust_decimal::Decimal::ZERO);
    pub const ONE: Decimal = Decimal(rust_decimal::Decimal::ONE);
    pub const ONE_HUNDRED: Decimal = Decimal(rust_decimal::Decimal::ONE_HUNDRED);

    pub fn from_int(i: i64) -> Self {
        Decimal(rust_decimal::Decimal::from(i))
    }

    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }

    /// Rounded for display, trailing zeros removed.
    pub fn round_dp(&self, dp: u32) -> Decimal {
        Decimal(self.0.round_dp(dp).normalize())
    }

    /// Rounded up (away from zero) for display: a threshold shown this way is still past the
    /// exact one.
    pub fn round_up_dp(&self, dp: u32) -> Decimal {
        Decimal(
            self.0
                .round_dp_with_strategy(dp, rust_decimal::RoundingStrategy::AwayFromZero)
                .normalize(),
        )
    }

    /// Whether `currency` is a dollar stablecoin (or the dollar): its amounts are USD amounts.
    pub fn is_dollar(currency: &str) -> bool {
        matches!(
            currency,
            "USDT" | "USDC" | "BUSD" | "USD" | "FDUSD" | "TUSD" | "DAI"
        )
    }

    /// An amount as people read it in `currency`: cents for dollar-like currencies, satoshis
    /// for BTC, 6 places otherwise; trailing zeros dropped. Machine output keeps every digit.
    pub fn display_in(&self, currency: &str) -> Decimal {
        let places = match currency {
            "USDT" | "USDC" | "BUSD" | "TUSD" | "FDUSD" | "DAI" | "USD" | "EUR" | "GBP" | "TRY"
            | "BRL" | "AUD" | "RUB" | "UAH" => 2,
            "BTC" => 8,
            _ => 6,
        };
        self.round_dp(places)
    }

    /// A percentage as people read it: 2 decimals.
    pub fn display_percent(&self) -> Decimal {
        self.round_dp(2)
    }

    pub fn normalize(&self) -> Decimal {
        Decimal(self.0.normalize())
    }
}

/// Why a text is not a decimal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a decimal number")]
pub struct ParseDecimalError(pub String);

impl FromStr for Decimal {
    type Err = ParseDecimalError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().replace('_', "");
        let t = t.strip_prefix('+').unwrap_or(&t);
        let parsed = if t.contains(['e', 'E']) {
            rust_decimal::Decimal::from_scientific(t)
        } else {
            rust_decimal::Decimal::from_str_exact(t).or_else(|_| rust_decimal::Decimal::from_str(t))
        };
        parsed
            .map(Decimal)
            .map_err(|_| ParseDecimalError(s.to_string()))
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.normalize(), f)
    }
}

impl From<rust_decimal::Decimal> for Decimal {
    fn from(d: rust_decimal::Decimal) -> Self {
        Decimal(d)
    }
}

impl From<i64> for Decimal {
    fn from(i: i64) -> Self {
        Decimal::from_int(i)
    }
}

impl std::ops::Add for Decimal {
    type Output = Decimal;
    fn add(self, o: Decimal) -> Decimal {
        Decimal(self.0.saturating_add(o.0))
    }
}

impl std::ops::AddAssign for Decimal {
    fn add_assign(&mut self, other: Decimal) {
        *self = *self + other;
    }
}

impl std::ops::Sub for Decimal {
    type Output = Decimal;
    fn sub(self, o: Decimal) -> Decimal {
        Decimal(self.0.saturating_sub(o.0))
    }
}

impl std::ops::Mul for Decimal {
    type Output = Decimal;
    fn mul(self, o: Decimal) -> Decimal {
        Decimal(self.0.saturating_mul(o.0))
    }
}

impl std::ops::Div for Decimal {
    type Output = Decimal;
    fn div(self, o: Decimal) -> Decimal {
        Decimal(self.0.checked_div(o.0).unwrap_or_default())
    }
}

impl std::iter::Sum for Decimal {
    fn sum<I: Iterator<Item = Decimal>>(iter: I) -> Decimal {
        iter.fold(Decimal::ZERO, |a, b| a + b)
    }
}

impl Serialize for Decimal {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_newtype_struct(crate::config::decode::DECIMAL_NAME, DecimalVisitor)
    }
}

struct DecimalVisitor;

impl<'de> Visitor<'de> for DecimalVisitor {
    type Value = Decimal;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a decimal number (like 1.5 or \"1.5\")")
    }

    fn visit_newtype_struct<D: de::Deserializer<'de>>(self, d: D) -> Result<Decimal, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
        v.parse().map_err(|e: ParseDecimalError| E::custom(e))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
        Ok(Decimal::from_int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
        Ok(Decimal(rust_decimal::Decimal::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
        if !v.is_finite() {
            return Err(E::custom(format!("`{v}` is not a decimal number")));
        }
        // The shortest text that reads back as the same f64 is what a person wrote.
        format!("{v}")
            .parse()
            .map_err(|e: ParseDecimalError| E::custom(e))
    }
}

impl JsonSchema for Decimal {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Decimal".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A decimal number, written as a number (1.5) or a string (\"1.5\").",
            "anyOf": [
                { "type": "number" },
                { "type": "string", "pattern": "^[-+]?([0-9][0-9_]*)?(\\.[0-9]+)?([eE][-+]?[0-9]+)?$" }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn compares_by_value() {
        assert_eq!(d("1.50"), d("1.5"));
        assert_eq!(d("1.50").to_string(), "1.5");
    }

    #[test]
    fn reads_exponent_and_long_strings() {
        assert_eq!(
            d("-3.30980633289966e-05").to_string(),
            "-0.0000330980633289966"
        );
        assert_eq!(
            d("2516.288198099688473520249221184").to_string(),
            "2516.2881980996884735202492212"
        );
    }

    #[test]
    fn json_numbers_and_strings_both_decode() {
        let a: Decimal = serde_json::from_str("1.2").unwrap();
        let b: Decimal = serde_json::from_str("\"1.2\"").unwrap();
        assert_eq!(a, b);
        assert!(serde_json::from_str::<Decimal>("\"abc\"").is_err());
    }
}
