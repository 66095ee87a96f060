//! How each bot of a selection did over a time window, from the account-wide deals list: the
//! figures behind "which bots lost most in the last 30 days, and why".
//!
//! Pure: the deals come in (read once, [`crate::threecommas::client::DealsQuery`]), figures come
//! out. A finished deal counts in the window when it closed inside it; an active deal counts when
//! it is open now (its profit is unrealized). Money is decimal; USD figures are 3Commas' own
//! (`usd_final_profit`, `actual_usd_profit`), or the quote amount where the quote is a dollar
//! stablecoin and 3Commas sent no USD figure.
//!
//! "Worst adverse move" is a lower bound, from what a deal shows: the deepest safety order it
//! filled (the ladder's deviation there), and the price it was sold at (a stop loss or a panic
//! sell) or is at now (an active deal), against its base order's price.

use std::collections::BTreeMap;

use crate::model::bot::BotSettings;
use crate::model::decimal::Decimal;
use crate::threecommas::wire::Deal;

/// Statuses of a deal that is over, its profit realized.
pub const FINISHED: &[&str] = &[
    "completed",
    "stop_loss_finished",
    "panic_sold",
    "liquidated",
    "cancelled",
    "settled",
];

/// One bot's figures over the window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BotPerformance {
    pub bot_id: i64,
    /// Deals closed inside the window.
    pub deals_closed: usize,
    /// Realized profit of those deals, per quote currency.
    pub realized: BTreeMap<String, Decimal>,
    pub realized_usd: Decimal,
    pub active_deals: usize,
    pub unrealized_usd: Decimal,
    pub stop_losses: usize,
    pub panic_sells: usize,
    /// Closed-in-window and active deals that filled every safety order.
    pub ladder_exhausted: usize,
    /// The largest move against a deal seen (at least), in percent of its base order's price.
    pub worst_adverse_move: Decimal,
    /// How far the bot's ladder reaches below (or above, short) the base order, in percent.
    pub ladder_covers: Option<Decimal>,
    pub average_duration_s: u64,
    pub longest_duration_s: u64,
    /// Loss of the worst stop-loss deal, USD (zero when none).
    pub stop_loss_usd: Decimal,
}

/// What the window is: seconds since 1970, `since` inclusive, `until` inclusive.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub since: i64,
    pub until: i64,
}

impl Window {
    /// Whether a deal counts in the window (see the module docs).
    pub fn counts(&self, deal: &Deal) -> bool {
        if is_finished(deal) {
            deal.closed_at
                .as_deref()
                .and_then(crate::timefmt::parse_iso)
                .is_some_and(|t| t >= self.since && t <= self.until)
        } else {
            true
        }
    }
}

/// The window a person gives: `since` (empty: `default_since`, where `None` is "from the
/// beginning") and `until` (empty: now), as [`parse_moment`] reads them.
pub fn window(
    since: &str,
    until: &str,
    default_since: Option<&str>,
    now: i64,
) -> Result<Window, String> {
    let since = match (since.trim(), default_since) {
        ("", None) => i64::MIN,
        ("", Some(default)) => parse_moment(default, now)?,
        (given, _) => parse_moment(given, now)?,
    };
    let until = if until.trim().is_empty() {
        now
    } else {
        parse_moment(until, now)?
    };
    if until < since {
        return Err("`until` comes before `since`".into());
    }
    Ok(Window { since, until })
}

pub fn is_finished(deal: &Deal) -> bool {
    deal.finished || FINISHED.contains(&deal.status.as_str())
}

/// A deal's profit as it stands, in its quote currency and in USD: realized for a finished deal
/// (`final_profit`, `usd_final_profit`), unrealized at the price now for an active one
/// (`actual_profit`, else `final_profit`; `actual_usd_profit`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProfitNow {
    pub quote: Decimal,
    pub usd: Option<Decimal>,
    pub realized: bool,
}

pub fn profit_now(deal: &Deal) -> ProfitNow {
    if is_finished(deal) {
        ProfitNow {
            quote: deal.final_profit.unwrap_or_default(),
            usd: deal.usd_final_profit,
            realized: true,
        }
    } else {
        ProfitNow {
            quote: deal.actual_profit.or(deal.final_profit).unwrap_or_default(),
            usd: deal.actual_usd_profit,
            realized: false,
        }
    }
}

/// A moment as a person writes it: `30d` (days back from `now`), `12h`, a date (`2026-11-01`,
/// midnight UTC) or an ISO time.
pub fn parse_moment(text: &str, now: i64) -> Result<i64, String> {
    let t = text.trim();
    let back = |unit: i64, digits: &str| -> Option<i64> {
        digits
            .parse::<i64>()
            .ok()
            .filter(|n| (0..=36_500).contains(n))
            .map(|n| now - n * unit)
    };
    let parsed = if let Some(d) = t.strip_suffix('d') {
        back(86_400, d)
    } else if let Some(h) = t.strip_suffix('h') {
        back(3_600, h)
    } else {
        crate::timefmt::parse_iso(t)
    };
    parsed.ok_or_else(|| {
        format!(
            "`{}` is not a moment: write days or hours back (`30d`, `12h`), a date (`2026-11-01`) or an ISO time",
            crate::diagnostic::quote_input(t)
        )
    })
}

/// The USD value of a deal's profit: 3Commas' own figure, else the quote amount when the quote is
/// a dollar stablecoin.
fn usd(deal: &Deal, usd_figure: Option<Decimal>, quote_figure: Option<Decimal>) -> Decimal {
    usd_figure
        .or_else(|| {
            Decimal::is_dollar(&quote_of(deal))
                .then_some(quote_figure)
                .flatten()
        })
        .unwrap_or_default()
}

/// A deal's quote currency (`USDT` of `USDT_BTC`): what its profit is counted in.
pub fn quote_of(deal: &Deal) -> String {
    deal.from_currency
        .clone()
        .or_else(|| deal.pair.split_once('_').map(|(q, _)| q.to_string()))
        .unwrap_or_default()
}

/// The move against a deal it shows, in percent (see the module docs); `ladder` is the bot's
/// safety-order deviations, nearest first.
fn adverse_move(deal: &Deal, ladder: &[Decimal]) -> Decimal {
    let filled = deal.completed_safety_orders_count.unwrap_or(0) as usize;
    let by_ladder = filled
        .checked_sub(1)
        .and_then(|i| ladder.get(i))
        .copied()
        .unwrap_or_default();
    let short = deal.strategy.as_deref() == Some("short");
    let seen = [
        deal.sold_average_price
            .filter(|_| matches!(deal.status.as_str(), "stop_loss_finished" | "panic_sold")),
        deal.current_price.filter(|_| !is_finished(deal)),
    ];
    let by_price = match deal.base_order_average_price {
        Some(base) if base > Decimal::ZERO => seen
            .into_iter()
            .flatten()
            .filter(|p| *p > Decimal::ZERO)
            .map(|p| {
                let against = if short { p - base } else { base - p };
                against / base * Decimal::ONE_HUNDRED
            })
            .fold(Decimal::ZERO, |a, b| if b > a { b } else { a }),
        _ => Decimal::ZERO,
    };
    if by_price > by_ladder {
        by_price
    } else {
        by_ladder
    }
}

/// Each bot's figures over `window`, for the bots in `settings` (id -> the settings its ladder
/// comes from); deals of other bots are left out. Bots without a counted deal are left out too.
pub fn per_bot(
    deals: &[Deal],
    settings: &BTreeMap<i64, &BotSettings>,
    window: Window,
) -> Vec<BotPerformance> {
    let ladders: BTreeMap<i64, (Vec<Decimal>, Option<Decimal>)> = settings
        .iter()
        .map(|(id, s)| {
            let numbers = crate::model::dca::LadderInput::from_settings(s)
                .and_then(|input| crate::model::dca::compute(&input).ok());
            let ladder = numbers
                .as_ref()
                .map(|n| n.ladder.iter().map(|o| o.deviation_percentage).collect())
                .unwrap_or_default();
            (
                *id,
                (ladder, numbers.map(|n| n.price_move_covered_percentage)),
            )
        })
        .collect();
    let mut by_bot: BTreeMap<i64, (BotPerformance, u64)> = BTreeMap::new();
    for deal in deals.iter().filter(|d| window.counts(d)) {
        let Some((ladder, covers)) = ladders.get(&deal.bot_id) else {
            continue;
        };
        let (p, total_duration) = by_bot.entry(deal.bot_id).or_insert_with(|| {
            (
                BotPerformance {
                    bot_id: deal.bot_id,
                    ladder_covers: *covers,
                    ..BotPerformance::default()
                },
                0,
            )
        });
        let most = deal
            .max_safety_orders
            .filter(|m| *m > 0)
            .or(Some(ladder.len() as u32).filter(|m| *m > 0));
        if most.is_some_and(|m| deal.completed_safety_orders_count.unwrap_or(0) >= m) {
            p.ladder_exhausted += 1;
        }
        let moved = adverse_move(deal, ladder);
        if moved > p.worst_adverse_move {
            p.worst_adverse_move = moved;
        }
        if is_finished(deal) {
            p.deals_closed += 1;
            let profit = deal.final_profit.unwrap_or_default();
            *p.realized.entry(quote_of(deal)).or_default() += profit;
            let in_usd = usd(deal, deal.usd_final_profit, deal.final_profit);
            p.realized_usd += in_usd;
            match deal.status.as_str() {
                "stop_loss_finished" => {
                    p.stop_losses += 1;
                    if in_usd < p.stop_loss_usd {
                        p.stop_loss_usd = in_usd;
                    }
                }
                "panic_sold" => p.panic_sells += 1,
                _ => {}
            }
            if let (Some(a), Some(b)) = (
                crate::timefmt::parse_iso(&deal.created_at),
                deal.closed_at
                    .as_deref()
                    .and_then(crate::timefmt::parse_iso),
            ) && b >= a
            {
                let d = (b - a) as u64;
                *total_duration += d;
                p.longest_duration_s = p.longest_duration_s.max(d);
            }
        } else {
            p.active_deals += 1;
            p.unrealized_usd += usd(deal, deal.actual_usd_profit, None);
        }
    }
    by_bot
        .into_values()
        .map(|(mut p, total)| {
            p.average_duration_s = total.checked_div(p.deals_closed as u64).unwrap_or(0);
            p
        })
        .collect()
}

/// Why a bot did as it did, in a sentence of its strongest signals (at most about 300
/// characters).
pub fn why(p: &BotPerformance) -> String {
    let mut parts: Vec<String> = Vec::new();
    if p.stop_losses > 0 {
        parts.push(format!(
            "{} stop loss{} (worst {} USD)",
            p.stop_losses,
            if p.stop_losses == 1 { "" } else { "es" },
            p.stop_loss_usd.round_dp(2)
        ));
    }
    if p.panic_sells > 0 {
        parts.push(format!("{} panic sold", p.panic_sells));
    }
    if let Some(covers) = p.ladder_covers
        && p.worst_adverse_move > covers
    {
        parts.push(format!(
            "the price moved at least {} % against a deal, past the {} % its ladder covers",
            p.worst_adverse_move.round_dp(2),
            covers.round_dp(2)
        ));
    }
    let counted = p.deals_closed + p.active_deals;
    if p.ladder_exhausted > 0 {
        parts.push(format!(
            "{} of {counted} deals filled every safety order",
            p.ladder_exhausted
        ));
    }
    if p.active_deals > 0 && p.unrealized_usd < Decimal::ZERO {
        parts.push(format!(
            "{} open deal{} at {} USD unrealized",
            p.active_deals,
            if p.active_deals == 1 { "" } else { "s" },
            p.unrealized_usd.round_dp(2)
        ));
    }
    if parts.is_empty() {
        parts.push(format!(
            "{} deals closed, none by stop loss; the ladder was never used up",
            p.deals_closed
        ));
    }
    let mut text = parts.join("; ");
    if text.chars().count() > 300 {
        text = text.chars().take(297).collect::<String>() + "...";
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deal(id: i64, bot: i64, status: &str, closed: Option<&str>, usd: &str, filled: u32) -> Deal {
        serde_json::from_value(serde_json::json!({
            "id": id, "bot_id": bot, "account_id": 1, "pair": "USDT_BTC", "status": status,
            "created_at": "2026-11-20T00:00:00.000Z", "closed_at": closed,
            "finished?": closed.is_some(), "final_profit": usd, "usd_final_profit": usd,
            "actual_usd_profit": usd, "completed_safety_orders_count": filled,
            "max_safety_orders": 3, "base_order_average_price": "100",
            "sold_average_price": if status == "stop_loss_finished" { "80" } else { "0" },
            "current_price": "95", "strategy": "long",
        }))
        .unwrap()
    }

    fn ladder_bot() -> BotSettings {
        BotSettings {
            base_order_volume: Some("10".parse().unwrap()),
            safety_order_volume: Some("10".parse().unwrap()),
            safety_order_step_percentage: Some("2".parse().unwrap()),
            max_safety_orders: Some(3),
            martingale_volume_coefficient: Some(Decimal::ONE),
            martingale_step_coefficient: Some(Decimal::ONE),
            ..BotSettings::default()
        }
    }

    #[test]
    fn the_window_counts_deals_by_when_they_closed_and_open_deals_now() {
        let window = Window {
            since: crate::timefmt::parse_iso("2026-11-01").unwrap(),
            until: crate::timefmt::parse_iso("2026-12-01").unwrap(),
        };
        let deals = vec![
            deal(1, 7, "completed", Some("2026-11-21T00:00:00Z"), "5", 0),
            // Closed 45 days before the end: not in the window.
            deal(
                2,
                7,
                "stop_loss_finished",
                Some("2026-10-17T00:00:00Z"),
                "-500",
                3,
            ),
            deal(
                3,
                7,
                "stop_loss_finished",
                Some("2026-11-25T00:00:00Z"),
                "-40",
                3,
            ),
            deal(4, 7, "bought", None, "-3", 1),
            deal(5, 8, "completed", Some("2026-11-21T00:00:00Z"), "9", 0),
        ];
        let settings = ladder_bot();
        let only_7 = BTreeMap::from([(7, &settings)]);
        let figures = per_bot(&deals, &only_7, window);
        assert_eq!(figures.len(), 1, "bot 8 is not selected");
        let p = &figures[0];
        assert_eq!(p.deals_closed, 2);
        assert_eq!(p.realized_usd, Decimal::from_int(-35));
        assert_eq!(p.stop_losses, 1);
        assert_eq!(p.stop_loss_usd, Decimal::from_int(-40));
        assert_eq!(p.active_deals, 1);
        assert_eq!(p.unrealized_usd, Decimal::from_int(-3));
        assert_eq!(p.ladder_exhausted, 1);
        // Sold at 80 from a base order at 100: 20 %, past a ladder covering 6 %.
        assert_eq!(p.worst_adverse_move, Decimal::from_int(20));
        assert_eq!(p.ladder_covers, Some(Decimal::from_int(6)));
        let text = why(p);
        assert!(text.contains("1 stop loss (worst -40 USD)"), "{text}");
        assert!(text.contains("past the 6 % its ladder covers"), "{text}");
        assert!(
            text.contains("1 of 3 deals filled every safety order"),
            "{text}"
        );
    }

    #[test]
    fn moments_read_as_people_write_them() {
        let now = 1_000_000_000;
        assert_eq!(parse_moment("30d", now), Ok(now - 30 * 86_400));
        assert_eq!(parse_moment("12h", now), Ok(now - 12 * 3_600));
        assert_eq!(
            parse_moment("2026-11-01", now),
            Ok(crate::timefmt::parse_iso("2026-11-01T00:00:00Z").unwrap())
        );
        assert!(parse_moment("last week", now).unwrap_err().contains("30d"));
        assert!(parse_moment("99999999d", now).is_err());
    }
}
