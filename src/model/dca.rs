//! The DCA numbers a trader checks by hand: the safety-order ladder, the capital a deal can need,
//! and the price move the ladder covers. Pure decimal arithmetic; no f64.

use serde::Serialize;

use super::bot::BotSettings;
use super::decimal::Decimal;
use super::enums::{Direction, VolumeType};

/// The settings the ladder depends on (already merged from templates).
#[derive(Debug, Clone)]
pub struct LadderInput {
    pub direction: Direction,
    pub base_order_volume: Decimal,
    pub base_order_volume_type: VolumeType,
    pub safety_order_volume: Decimal,
    pub safety_order_volume_type: VolumeType,
    pub safety_order_step_percentage: Decimal,
    pub max_safety_orders: u32,
    pub martingale_volume_coefficient: Decimal,
    pub martingale_step_coefficient: Decimal,
    /// Custom steps replace the martingale ladder when given: (deviation %, size).
    pub custom_steps: Option<Vec<(Decimal, Decimal)>>,
    pub max_active_deals: u32,
}

impl LadderInput {
    /// The ladder of a bot's settings; `None` while a field it needs is unset.
    pub fn from_settings(s: &BotSettings) -> Option<LadderInput> {
        Some(LadderInput {
            direction: s.strategy.unwrap_or(Direction::Long),
            base_order_volume: s.base_order_volume?,
            base_order_volume_type: s
                .base_order_volume_type
                .unwrap_or(VolumeType::QuoteCurrency),
            safety_order_volume: s.safety_order_volume?,
            safety_order_volume_type: s
                .safety_order_volume_type
                .unwrap_or(VolumeType::QuoteCurrency),
            safety_order_step_percentage: s.safety_order_step_percentage?,
            max_safety_orders: s.max_safety_orders?,
            martingale_volume_coefficient: s.martingale_volume_coefficient?,
            martingale_step_coefficient: s.martingale_step_coefficient?,
            custom_steps: s
                .custom_safety_steps
                .as_ref()
                .filter(|steps| !steps.is_empty())
                .map(|steps| {
                    steps
                        .iter()
                        .map(|step| (step.deviation, step.size))
                        .collect()
                }),
            max_active_deals: s.max_active_deals.unwrap_or(1),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct SafetyOrder {
    /// 1-based.
    pub number: u32,
    /// Price move from the base order price, in percent (always positive: down for long bots,
    /// up for short ones).
    pub deviation_percentage: Decimal,
    pub volume: Decimal,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct DcaNumbers {
    pub ladder: Vec<SafetyOrder>,
    /// Base order plus every safety order, when both volumes are in the same currency.
    pub capital_per_deal: Option<Decimal>,
    /// The currency of the capital figures: `quote_currency` or `base_currency`.
    pub capital_currency: Option<VolumeType>,
    /// `capital_per_deal` times `max_active_deals`.
    pub capital_all_deals: Option<Decimal>,
    pub max_active_deals: u32,
    /// The price move to the last safety order, in percent.
    pub price_move_covered_percentage: Decimal,
    /// Why capital is not given, when volumes are not in the quote currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub volume_note: Option<String>,
}

/// The ladder grows beyond what a decimal can hold: no real balance could fund it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LadderOverflow {
    pub safety_order: u32,
}

/// The one rule for capital at risk, used by validate's budget check and by plan alike, and
/// stated in both: a bot counts when it is (or will be) enabled, with every deal it may open run
/// to its last safety order. Offline, a bot whose `enabled` is unset counts, since it may be
/// enabled on 3Commas; plan knows, and counts the bots enabled after the plan.
pub const CAPITAL_AT_RISK_RULE: &str = "bots enabled after the change (offline, an unset `enabled` counts), every deal to its last safety order, every grid line a buy";

pub fn compute(input: &LadderInput) -> Result<DcaNumbers, LadderOverflow> {
    let mut ladder = Vec::new();
    match &input.custom_steps {
        Some(steps) => {
            for (i, (deviation, size)) in steps.iter().enumerate() {
                ladder.push(SafetyOrder {
                    number: i as u32 + 1,
                    deviation_percentage: Decimal(deviation.0.abs()),
                    volume: *size,
                });
            }
        }
        None => {
            let mut step = input.safety_order_step_percentage.0;
            let mut deviation = rust_decimal::Decimal::ZERO;
            let mut volume = input.safety_order_volume.0;
            for n in 1..=input.max_safety_orders {
                let overflow = LadderOverflow { safety_order: n };
                deviation = deviation.checked_add(step).ok_or(overflow.clone())?;
                ladder.push(SafetyOrder {
                    number: n,
                    deviation_percentage: Decimal(deviation).round_dp(4),
                    volume: Decimal(volume).round_dp(8),
                });
                step = step
                    .checked_mul(input.martingale_step_coefficient.0)
                    .ok_or(overflow.clone())?;
                volume = volume
                    .checked_mul(input.martingale_volume_coefficient.0)
                    .ok_or(overflow)?;
            }
        }
    }
    let same_currency = input.base_order_volume_type == input.safety_order_volume_type
        && input.base_order_volume_type != VolumeType::Percent;
    let (capital_per_deal, capital_all_deals, volume_note) = if same_currency {
        let mut total = input.base_order_volume.0;
        for so in &ladder {
            total = total.checked_add(so.volume.0).ok_or(LadderOverflow {
                safety_order: so.number,
            })?;
        }
        let all = total
            .checked_mul(input.max_active_deals.max(1).into())
            .ok_or(LadderOverflow {
                safety_order: input.max_safety_orders,
            })?;
        (
            Some(Decimal(total).round_dp(8)),
            Some(Decimal(all).round_dp(8)),
            None,
        )
    } else {
        let unit = |t: VolumeType| match t {
            VolumeType::QuoteCurrency => "the quote currency",
            VolumeType::BaseCurrency => "the base currency",
            VolumeType::Percent => "percent of the balance",
        };
        (
            None,
            None,
            Some(format!(
                "base order volume is in {}, safety orders in {}: the capital depends on the price",
                unit(input.base_order_volume_type),
                unit(input.safety_order_volume_type)
            )),
        )
    };
    let covered = ladder
        .iter()
        .map(|so| so.deviation_percentage)
        .max()
        .unwrap_or(Decimal::ZERO);
    let _ = input.direction;
    Ok(DcaNumbers {
        ladder,
        capital_per_deal,
        capital_all_deals,
        capital_currency: same_currency.then_some(input.base_order_volume_type),
        max_active_deals: input.max_active_deals.max(1),
        price_move_covered_percentage: covered,
        volume_note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn input() -> LadderInput {
        LadderInput {
            direction: Direction::Long,
            base_order_volume: d("10"),
            base_order_volume_type: VolumeType::QuoteCurrency,
            safety_order_volume: d("20"),
            safety_order_volume_type: VolumeType::QuoteCurrency,
            safety_order_step_percentage: d("1"),
            max_safety_orders: 3,
            martingale_volume_coefficient: d("2"),
            martingale_step_coefficient: d("2"),
            custom_steps: None,
            max_active_deals: 2,
        }
    }

    #[test]
    fn martingale_ladder_matches_hand_arithmetic() {
        let n = compute(&input()).unwrap();
        let devs: Vec<_> = n
            .ladder
            .iter()
            .map(|s| s.deviation_percentage.to_string())
            .collect();
        let vols: Vec<_> = n.ladder.iter().map(|s| s.volume.to_string()).collect();
        assert_eq!(devs, ["1", "3", "7"]);
        assert_eq!(vols, ["20", "40", "80"]);
        assert_eq!(n.capital_per_deal, Some(d("150")));
        assert_eq!(n.capital_all_deals, Some(d("300")));
        assert_eq!(n.price_move_covered_percentage, d("7"));
    }

    #[test]
    fn mixed_volume_currencies_give_no_capital_figure() {
        let mut i = input();
        i.base_order_volume_type = VolumeType::BaseCurrency;
        let n = compute(&i).unwrap();
        assert_eq!(n.capital_per_deal, None);
        assert!(n.volume_note.unwrap().contains("base currency"));
        i.safety_order_volume_type = VolumeType::BaseCurrency;
        let n = compute(&i).unwrap();
        assert_eq!(n.capital_currency, Some(VolumeType::BaseCurrency));
        assert_eq!(n.capital_per_deal, Some(d("150")));
    }

    #[test]
    fn huge_ladders_overflow_instead_of_panicking() {
        let mut i = input();
        i.max_safety_orders = 200;
        i.martingale_volume_coefficient = d("10");
        assert!(compute(&i).is_err());
    }
}
