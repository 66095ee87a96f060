//! Grid bots' rules and numbers: what 3Commas would refuse, or what would cost money by mistake,
//! found offline, and the grid's numbers (step, profit per grid, investment) for valid bots.
//!
//! The rules are `GRID-SIGNALS-DEALS.md` §1.10's, each pointing at the line that set the value
//! (in the bot or its grid template): the range (upper above lower, both above 0), 2 to 201
//! lines, a positive size per line in a stated currency, active lines within the lines, each stop
//! loss outside the range with its price and an action for its side, the expansions' stop prices
//! outside the range, trailing only with both currency types `quote` (and a warning beside
//! futures-only settings), spot-only stop actions never on futures, `leverage_custom_value` with
//! `isolated`, names of 1 to 40
//! characters and notes of 1 to 300, unique names per account (terminal controls in names are
//! `rules::check_printable_names`', for every kind of bot). The numbers come from
//! `model::grid`, the arithmetic every docs example follows.

use super::load::Config;
use super::resolve::{DesiredGridBot, unknown_reference};
use super::rules::BotCheck;
use super::types::GridBotSpec;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::decimal::Decimal;
use crate::model::enums::{GridCurrency, GridStopLossAction, GridType, LeverageType};
use crate::model::grid::{Grid, GridNumbers, MAX_LINES};

/// Fields a grid bot must have (after its template) for 3Commas to create it as meant.
/// `order_currency_type` is among them: 3Commas' own sources disagree on its default, and it
/// decides whether `quantity_per_grid` is dollars or coins.
pub const REQUIRED_FIELDS: &[&str] = &[
    "name",
    "account",
    "pair",
    "lower_price",
    "upper_price",
    "grids_quantity",
    "quantity_per_grid",
    "order_currency_type",
];

/// The fee validate takes off each order in the profit per grid, in percent, unless told: the
/// base-tier spot fee of Binance and Bybit.
pub const DEFAULT_FEE_PERCENTAGE: &str = "0.1";

/// Check every grid bot. Returns, per grid bot (in config order), its numbers when it has no
/// errors.
pub fn check(
    config: &Config,
    bots: &[DesiredGridBot],
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Option<GridNumbers>> {
    super::rules::check_unique_names("grid bot", bots.iter().map(|b| &b.spec), diagnostics);
    let fee: Decimal = DEFAULT_FEE_PERCENTAGE.parse().unwrap_or(Decimal::ZERO);
    bots.iter()
        .map(|bot| {
            let mut found = Vec::new();
            check_bot(config, bot, &mut found);
            let ok = !found.iter().any(|d| d.severity == Severity::Error);
            diagnostics.append(&mut found);
            ok.then(|| numbers(&bot.spec, fee)).flatten()
        })
        .collect()
}

/// A valid grid bot's numbers with `fee_percentage` off each order (`None` when a field the
/// numbers need is missing or out of range).
pub fn numbers(spec: &GridBotSpec, fee_percentage: Decimal) -> Option<GridNumbers> {
    grid_of(spec)?
        .numbers(
            spec.quantity_per_grid?,
            spec.order_currency_type?,
            fee_percentage,
        )
        .ok()
}

/// The grid a spec describes, when it gives the range and the lines.
pub fn grid_of(spec: &GridBotSpec) -> Option<Grid> {
    Some(Grid {
        lower: spec.lower_price?,
        upper: spec.upper_price?,
        lines: spec.grids_quantity?,
        grid_type: spec.grid_type.unwrap_or(GridType::Arithmetic),
    })
}

/// The grid rules' shapes, beside the ones every kind of bot has.
type Rules<'a> = BotCheck<'a, GridBotSpec>;

impl Rules<'_> {
    /// Two fields that disagree: the error at the first, the second shown beside it.
    fn conflict(
        &mut self,
        (field, other): (&str, &str),
        code: &'static str,
        message: String,
        help: &str,
    ) {
        self.found.push(
            Diagnostic::error(code, message)
                .at(self.spec.spans.value(field), "here")
                .at(self.spec.spans.value(other), "against this")
                .help(help),
        );
    }

    fn is_on(&self, field: Option<bool>) -> bool {
        field == Some(true)
    }

    /// `field` must be set when `switch` is on.
    fn needs(&mut self, switch: &str, on: bool, field: &str) {
        if on && !self.spec.spans.has(field) && !self.spec.spans.misspelt.contains_key(field) {
            self.error(
                switch,
                "missing-field",
                format!("`{switch}` is on but `{field}` is not set"),
                &format!("set `{field}`, or turn `{switch}` off"),
            );
        }
    }
}

fn check_bot(config: &Config, bot: &DesiredGridBot, found: &mut Vec<Diagnostic>) {
    let spec = &bot.spec;
    let label = spec
        .name
        .clone()
        .unwrap_or_else(|| format!("#{}", bot.index + 1));
    if let Some(account) = &spec.account
        && !config.accounts.contains_key(account)
    {
        found.push(unknown_reference(
            "account",
            account,
            spec.spans.value("account"),
            config.accounts.keys(),
        ));
    }
    if spec.absent == Some(true) {
        if spec.account.is_none() || (spec.name.is_none() && spec.id.is_none()) {
            found.push(
                Diagnostic::error(
                    "missing-field",
                    format!("grid bot `{label}` to delete is not identified"),
                )
                .at(spec.spans.head(), "this grid bot")
                .help("give its `account` and its `name` (or pin it with `id`)"),
            );
        }
        return;
    }
    let mut missing: Vec<&str> = REQUIRED_FIELDS
        .iter()
        .copied()
        .filter(|field| !spec.spans.has(field) && !spec.spans.misspelt.contains_key(field))
        .collect();
    if missing.contains(&"order_currency_type") && missing.len() == 1 {
        missing.clear();
        found.push(
            Diagnostic::error(
                "missing-field",
                format!("grid bot `{label}` does not say what `quantity_per_grid` is in"),
            )
            .at(spec.spans.head(), "this grid bot")
            .help("set `order_currency_type = \"quote\"` (the size per line in the quote currency, USDT for USDT_BTC) or `\"base\"` (in coins): 3Commas' sources disagree on the default"),
        );
    }
    if let Some(d) =
        super::rules::missing_fields("grid bot", "grid template", &label, &missing, spec)
    {
        found.push(d);
    }
    let mut r = Rules { spec, found };
    check_text(&mut r);
    if let Some(pair) = &spec.pair {
        super::rules::check_pair_format(&pair.value, pair.span, r.found);
    }
    check_range(&mut r);
    check_stop_losses(&mut r);
    check_expansions(&mut r);
    check_spot_and_futures(&mut r);
}

/// Name and note lengths, as 3Commas counts them.
fn check_text(r: &mut Rules<'_>) {
    for (field, text, max) in [
        ("name", r.spec.name.clone(), 40),
        ("note", r.spec.note.clone(), 300),
    ] {
        let Some(text) = text else { continue };
        let length = text.chars().count();
        if length == 0 || length > max {
            r.error(
                field,
                "out-of-range",
                format!("`{field}` has {length} characters; 3Commas takes 1 to {max}"),
                "3Commas refuses it (\"is too long\" / \"can't be blank\")",
            );
        }
    }
}

/// The range, the lines, the size per line and the active lines.
fn check_range(r: &mut Rules<'_>) {
    let spec = r.spec;
    if let Some(lower) = spec.lower_price
        && lower <= Decimal::ZERO
    {
        r.error(
            "lower_price",
            "out-of-range",
            format!("`lower_price` is {lower}; it must be greater than 0"),
            "give the lowest line's price",
        );
    }
    if let (Some(lower), Some(upper)) = (spec.lower_price, spec.upper_price)
        && upper <= lower
    {
        r.conflict(
            ("upper_price", "lower_price"),
            "grid-range",
            format!("`upper_price` ({upper}) is not above `lower_price` ({lower})"),
            "the grid runs from lower_price up to upper_price: swap them, or widen the range",
        );
    }
    if let Some(lines) = spec.grids_quantity
        && !(2..=MAX_LINES).contains(&lines)
    {
        r.error(
            "grids_quantity",
            "out-of-range",
            format!("`grids_quantity` is {lines}; it must be 2 to {MAX_LINES}"),
            "grids_quantity counts lines, both ends of the range included (3Commas offers up to 201)",
        );
    }
    if let Some(size) = spec.quantity_per_grid
        && size <= Decimal::ZERO
    {
        r.error(
            "quantity_per_grid",
            "out-of-range",
            format!("`quantity_per_grid` is {size}; it must be greater than 0"),
            "give each line's order size, in order_currency_type units",
        );
    }
    for field in ["max_active_buy_lines", "max_active_sell_lines"] {
        let value = if field == "max_active_buy_lines" {
            spec.max_active_buy_lines
        } else {
            spec.max_active_sell_lines
        };
        let Some(value) = value else { continue };
        let most = spec.grids_quantity.unwrap_or(MAX_LINES);
        if value == 0 || value > most {
            r.error(
                field,
                "out-of-range",
                format!("`{field}` is {value}; it must be 1 to {most} (the grid's lines)"),
                "at most one order per line is placed",
            );
        }
    }
}

/// Each stop loss: a price when on, outside the range, and an action for its side.
fn check_stop_losses(r: &mut Rules<'_>) {
    let spec = r.spec;
    let upper_on = r.is_on(spec.upper_stop_loss_enabled);
    let lower_on = r.is_on(spec.lower_stop_loss_enabled);
    r.needs("upper_stop_loss_enabled", upper_on, "upper_stop_loss_price");
    r.needs("lower_stop_loss_enabled", lower_on, "lower_stop_loss_price");
    if let (Some(stop), Some(upper)) = (spec.upper_stop_loss_price, spec.upper_price)
        && stop <= upper
    {
        r.conflict(
            ("upper_stop_loss_price", "upper_price"),
            "grid-stop-loss",
            format!("`upper_stop_loss_price` ({stop}) is not above `upper_price` ({upper})"),
            "an upper stop loss inside the range stops the bot while it trades: put it above upper_price",
        );
    }
    if let (Some(stop), Some(lower)) = (spec.lower_stop_loss_price, spec.lower_price)
        && (stop >= lower || stop <= Decimal::ZERO)
    {
        r.conflict(
            ("lower_stop_loss_price", "lower_price"),
            "grid-stop-loss",
            format!("`lower_stop_loss_price` ({stop}) is not between 0 and `lower_price` ({lower})"),
            "a lower stop loss inside the range stops the bot while it trades: put it below lower_price",
        );
    }
    if spec.upper_stop_loss_action == Some(GridStopLossAction::StopBotAndSell) {
        r.error(
            "upper_stop_loss_action",
            "invalid-value",
            "the upper stop loss cannot `stop_bot_and_sell`".into(),
            "above the range the grid holds quote: use `stop_bot`, `stop_bot_and_buy` (spot) or `stop_bot_and_close_position` (futures)",
        );
    }
    if spec.lower_stop_loss_action == Some(GridStopLossAction::StopBotAndBuy) {
        r.error(
            "lower_stop_loss_action",
            "invalid-value",
            "the lower stop loss cannot `stop_bot_and_buy`".into(),
            "below the range the grid holds base: use `stop_bot`, `stop_bot_and_sell` (spot) or `stop_bot_and_close_position` (futures)",
        );
    }
}

/// Each expansion: a stop price when on, beyond its end of the range.
fn check_expansions(r: &mut Rules<'_>) {
    let spec = r.spec;
    let down = r.is_on(spec.expansion_down_enabled);
    let up = r.is_on(spec.expansion_up_enabled);
    r.needs("expansion_down_enabled", down, "expansion_down_stop_price");
    r.needs("expansion_up_enabled", up, "expansion_up_stop_price");
    if let (Some(stop), Some(lower)) = (spec.expansion_down_stop_price, spec.lower_price)
        && (stop >= lower || stop <= Decimal::ZERO)
    {
        r.conflict(
            ("expansion_down_stop_price", "lower_price"),
            "grid-expansion",
            format!(
                "`expansion_down_stop_price` ({stop}) is not between 0 and `lower_price` ({lower})"
            ),
            "downward expansion adds lines below the range, down to this price",
        );
    }
    if let (Some(stop), Some(upper)) = (spec.expansion_up_stop_price, spec.upper_price)
        && stop <= upper
    {
        r.conflict(
            ("expansion_up_stop_price", "upper_price"),
            "grid-expansion",
            format!("`expansion_up_stop_price` ({stop}) is not above `upper_price` ({upper})"),
            "upward expansion adds lines above the range, up to this price",
        );
    }
}

/// Trailing is for spot grids with both currency types `quote`; `mode`, leverage and closing a
/// position are for futures grids: never both in one bot.
fn check_spot_and_futures(r: &mut Rules<'_>) {
    let spec = r.spec;
    let trailing = [
        ("trailing_up_enabled", spec.trailing_up_enabled),
        ("trailing_down_enabled", spec.trailing_down_enabled),
    ]
    .into_iter()
    .find(|(_, on)| *on == Some(true))
    .map(|(field, _)| field);
    if let Some(trailing) = trailing {
        for field in ["order_currency_type", "profit_currency_type"] {
            let value = if field == "order_currency_type" {
                spec.order_currency_type
            } else {
                spec.profit_currency_type
            };
            if value != Some(GridCurrency::Quote) {
                r.error(
                    trailing,
                    "grid-trailing",
                    format!("`{trailing}` needs `{field} = \"quote\"`"),
                    "3Commas trails a grid only when both order_currency_type and profit_currency_type are quote",
                );
            }
        }
    }
    let futures = [
        ("mode", spec.mode.is_some()),
        (
            "leverage_type",
            spec.leverage_type
                .is_some_and(|l| l != LeverageType::NotSpecified),
        ),
        (
            "upper_stop_loss_action",
            spec.upper_stop_loss_action == Some(GridStopLossAction::StopBotAndClosePosition),
        ),
        (
            "lower_stop_loss_action",
            spec.lower_stop_loss_action == Some(GridStopLossAction::StopBotAndClosePosition),
        ),
    ]
    .into_iter()
    .find(|(_, set)| *set)
    .map(|(field, _)| field);
    // A warning, not an error: the help centre says trailing is for spot grids, yet 3Commas'
    // own futures example (the edit answer, a USDT-M bot in `long` mode) shows
    // `trailing_up_enabled: "true"`, so 3Commas keeps the flag there.
    if let (Some(trailing), Some(futures)) = (trailing, futures) {
        r.found.push(
            Diagnostic::warning(
                "grid-spot-and-futures",
                format!("`{trailing}` is for spot grids and `{futures}` for futures grids"),
            )
            .at(r.spec.spans.value(trailing), "here")
            .at(r.spec.spans.value(futures), "against this")
            .help("3Commas trails spot grids only (help centre): on a futures grid it likely has no effect"),
        );
    }
    for (spot_only, action) in [
        ("upper_stop_loss_action", spec.upper_stop_loss_action),
        ("lower_stop_loss_action", spec.lower_stop_loss_action),
    ] {
        if let (Some(futures), Some(action)) = (futures, action)
            && matches!(
                action,
                GridStopLossAction::StopBotAndBuy | GridStopLossAction::StopBotAndSell
            )
        {
            r.conflict(
                (spot_only, futures),
                "grid-spot-and-futures",
                format!("`{spot_only} = \"{action}\"` is for spot grids and `{futures}` for futures grids"),
                "on futures a stop loss stops the bot or closes the position (`stop_bot_and_close_position`)",
            );
        }
    }
    if spec.leverage_type == Some(LeverageType::Isolated)
        && !spec.spans.has("leverage_custom_value")
    {
        r.error(
            "leverage_type",
            "missing-field",
            "`leverage_type = \"isolated\"` needs `leverage_custom_value`".into(),
            "set the leverage, 2 for 2x (3Commas: required if leverage_type is isolated)",
        );
    }
    if let Some(value) = spec.leverage_custom_value
        && value <= Decimal::ZERO
    {
        r.error(
            "leverage_custom_value",
            "out-of-range",
            format!("`leverage_custom_value` is {value}; it must be greater than 0"),
            "give the leverage, 2 for 2x",
        );
    }
}
