//! Semantic rules: what 3Commas would reject, or what is almost certainly a mistake, found offline.
//!
//! Runs after decoding and template resolution, on the merged bots, so a rule fires on the value a
//! bot really gets and points at the line that set it (in the bot or in its template). Ranges and
//! rules come from the 3Commas API reference (section 6) and the server's own error messages.
//! Owns: required fields, ranges, take-profit steps, the stop-loss rule, pair format, duplicate
//! names, account references, the strategy catalogue check, and the DCA numbers of valid bots.

use std::collections::{BTreeMap, BTreeSet};

use super::decode::Record;
use super::load::Config;
use super::resolve::{DesiredBot, DesiredGridBot, Templated, unknown_reference};
use super::source::Span;
use super::types::{BotSpec, Condition, Conditions, OptionValue};
use crate::diagnostic::{Diagnostic, Severity, did_you_mean};
use crate::model::catalogue::Catalogue;
use crate::model::dca::{self, DcaNumbers, LadderInput};
use crate::model::decimal::Decimal;
use crate::model::enums::LeverageType;
use crate::model::grid::GridNumbers;

/// Fields a bot must have (after its template is applied) for 3Commas to create it.
pub const REQUIRED_FIELDS: &[&str] = &[
    "name",
    "account",
    "pairs",
    "start",
    "base_order_volume",
    "safety_order_volume",
    "safety_order_step_percentage",
    "max_safety_orders",
    "martingale_volume_coefficient",
    "martingale_step_coefficient",
    "take_profit_type",
];

/// Names and aliases are printed in plans, on terminals and in CI logs: one holding a terminal
/// control character (an escape sequence, a carriage return, a bidi override) could move the
/// cursor, erase lines or reorder what is shown, and hide a destroy line. Refused, with where.
fn check_printable_names(config: &Config, diagnostics: &mut Vec<Diagnostic>) {
    let mut check = |what: &str, text: &str, span: crate::config::source::Span| {
        if let Some(c) = text
            .chars()
            .find(|c| crate::diagnostic::is_terminal_control(*c))
        {
            diagnostics.push(
                Diagnostic::error(
                    "control-character",
                    format!(
                        "{what} `{}` holds a terminal control character (\\u{{{:x}}})",
                        crate::diagnostic::quote_input(text),
                        c as u32
                    ),
                )
                .at(span, "here")
                .help("names are shown on terminals and in logs: use printable characters only"),
            );
        }
    };
    for (kind, names) in [
        (
            "account alias",
            config
                .accounts
                .values()
                .map(|n| (&n.name, n.name_span))
                .collect::<Vec<_>>(),
        ),
        (
            "template name",
            config
                .templates
                .values()
                .map(|n| (&n.name, n.name_span))
                .collect(),
        ),
        (
            "strategy set name",
            config
                .strategies
                .values()
                .map(|n| (&n.name, n.name_span))
                .collect(),
        ),
    ] {
        for (name, span) in names {
            check(kind, name, span);
        }
    }
    for account in config.accounts.values() {
        if let Some(name) = &account.value.name {
            check("account name", name, account.value.spans.value("name"));
        }
    }
    for bot in &config.bots {
        if let Some(name) = &bot.name {
            check("bot name", name, bot.spans.value("name"));
        }
    }
    for grid in &config.grid_bots {
        if let Some(name) = &grid.name {
            check("grid bot name", name, grid.spans.value("name"));
        }
    }
    for template in config.grid_templates.values() {
        check("grid template name", &template.name, template.name_span);
    }
}

/// Check the whole config. Returns, per bot (in config order), its DCA numbers when the bot has
/// no errors.
pub fn check(
    config: &Config,
    bots: &[DesiredBot],
    grid_bots: &[DesiredGridBot],
    grid_numbers: &[Option<GridNumbers>],
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Option<DcaNumbers>> {
    check_settings(config, diagnostics);
    check_printable_names(config, diagnostics);
    check_accounts(config, diagnostics);
    check_strategy_sets(config, diagnostics);
    let blacklist = check_blacklist(config, diagnostics);
    check_unique_names("bot", bots.iter().map(|b| &b.spec), diagnostics);
    let numbers: Vec<Option<DcaNumbers>> = bots
        .iter()
        .map(|bot| {
            let mut found = Vec::new();
            let numbers = check_bot(config, bot, &blacklist, &mut found);
            let ok = !found.iter().any(|d| d.severity == Severity::Error);
            diagnostics.append(&mut found);
            numbers.filter(|_| ok)
        })
        .collect();
    check_capital_budgets(config, bots, &numbers, grid_bots, grid_numbers, diagnostics);
    numbers
}

/// `max_capital` of each account against the worst case of its bots, by the one rule plan uses
/// too ([`crate::model::dca::CAPITAL_AT_RISK_RULE`]), in the budget's currency, grid bots beside
/// DCA bots (a grid counts every line as a buy: the most it can hold, whatever the price). Bots
/// quoted in another currency, or whose capital depends on the price, are named in a warning,
/// not summed.
fn check_capital_budgets(
    config: &Config,
    bots: &[DesiredBot],
    numbers: &[Option<DcaNumbers>],
    grid_bots: &[DesiredGridBot],
    grid_numbers: &[Option<GridNumbers>],
    diagnostics: &mut Vec<Diagnostic>,
) {
    for (alias, named) in &config.accounts {
        let Some(budget) = named.value.max_capital else {
            continue;
        };
        let mut by_currency: BTreeMap<String, (Decimal, Vec<String>)> = BTreeMap::new();
        let mut uncounted = Vec::new();
        for (bot, n) in bots.iter().zip(numbers) {
            // CAPITAL_AT_RISK_RULE: a bot set `enabled = false` locks nothing.
            if bot.spec.account.as_deref() != Some(alias.as_str())
                || bot.spec.absent == Some(true)
                || bot.spec.enabled == Some(false)
            {
                continue;
            }
            let pairs: Vec<String> = bot
                .spec
                .pairs
                .iter()
                .flatten()
                .map(|p| p.value.clone())
                .collect();
            let capital = n.as_ref().and_then(|n| {
                let currency = crate::model::bot::common_currency(
                    &pairs,
                    n.capital_currency? == crate::model::enums::VolumeType::BaseCurrency,
                )?;
                Some((currency, n.capital_all_deals?))
            });
            match capital {
                Some((currency, amount)) => {
                    let entry = by_currency.entry(currency.clone()).or_default();
                    entry.0 += amount;
                    entry.1.push(format!(
                        "{}: {} {currency}",
                        bot.name(),
                        amount.display_in(&currency)
                    ));
                }
                None => uncounted.push(bot.name().to_string()),
            }
        }
        for (bot, n) in grid_bots.iter().zip(grid_numbers) {
            if bot.spec.account.as_deref() != Some(alias.as_str())
                || bot.spec.absent == Some(true)
                || bot.spec.enabled == Some(false)
            {
                continue;
            }
            let quote = bot
                .spec
                .pair
                .as_ref()
                .and_then(|p| p.value.split_once('_'))
                .map(|(quote, _)| quote.to_string());
            match (quote, n) {
                (Some(currency), Some(n)) => {
                    let entry = by_currency.entry(currency.clone()).or_default();
                    entry.0 += n.capital_quote;
                    entry.1.push(format!(
                        "grid {}: {} {currency}",
                        bot.name(),
                        n.capital_quote.display_in(&currency)
                    ));
                }
                _ => uncounted.push(format!("grid {}", bot.name())),
            }
        }
        // The budget's currency: the one most of the account's capital is in.
        let Some((currency, (total, lines))) = by_currency
            .iter()
            .max_by_key(|(_, (_, lines))| lines.len())
            .map(|(c, v)| (c.clone(), v.clone()))
        else {
            continue;
        };
        let span = named.value.spans.value("max_capital");
        if total > budget {
            diagnostics.push(
                Diagnostic::error(
                    "over-budget",
                    format!(
                        "the bots on account `{alias}` can lock {} {currency} at once, over its max_capital of {budget}",
                        total.display_in(&currency)
                    ),
                )
                .at(span, "the budget")
                .help(format!(
                    "counted: {}; per bot: {}; lower volumes, safety orders or max_active_deals, disable bots, or raise max_capital",
                    crate::model::dca::CAPITAL_AT_RISK_RULE,
                    lines.join("; ")
                )),
            );
        }
        let others: Vec<String> = by_currency
            .iter()
            .filter(|(c, _)| **c != currency)
            .flat_map(|(_, (_, lines))| lines.clone())
            .chain(
                uncounted
                    .iter()
                    .map(|b| format!("{b}: depends on the price")),
            )
            .collect();
        if !others.is_empty() {
            diagnostics.push(
                Diagnostic::warning(
                    "budget-currency",
                    format!(
                        "max_capital of `{alias}` is read as {currency}; not counted in it: {}",
                        others.join("; ")
                    ),
                )
                .at(span, "the budget")
                .help(
                    "give those bots their own account alias, or quote them in the same currency",
                ),
            );
        }
    }
}

/// The safety settings: a limit outside its range would switch the rail off or make it meaningless.
fn check_settings(config: &Config, diagnostics: &mut Vec<Diagnostic>) {
    let settings = &config.settings;
    if let Some(pace) = settings.rate_limit
        && !(1..=100).contains(&pace)
    {
        let mut d = Diagnostic::error(
            "out-of-range",
            format!("rate_limit is {pace}; it must be between 1 and 100 requests a minute"),
        )
        .help("3Commas allows 100 a minute; lower plans allow fewer");
        if settings.spans.fields.contains_key("rate_limit") {
            d = d.at(settings.spans.value("rate_limit"), "outside 1..=100");
        }
        diagnostics.push(d);
    }
    if let Some(limit) = settings.max_change_percentage {
        let hundred = Decimal::ONE_HUNDRED;
        if limit < Decimal::from_int(0) || limit > hundred {
            let mut d = Diagnostic::error(
                "out-of-range",
                format!("max_change_percentage is {limit}; it must be between 0 and 100"),
            )
            .help("a share of the account's live bots, in percent; the default is 30");
            if settings.spans.fields.contains_key("max_change_percentage") {
                d = d.at(
                    settings.spans.value("max_change_percentage"),
                    "outside 0..=100",
                );
            }
            diagnostics.push(d);
        }
    }
}

fn check_accounts(config: &Config, diagnostics: &mut Vec<Diagnostic>) {
    for (name, account) in &config.accounts {
        let spec = &account.value;
        if spec.name.is_none() && spec.id.is_none() {
            diagnostics.push(
                Diagnostic::error(
                    "missing-field",
                    format!("account `{name}` names no live account"),
                )
                .at(account.name_span, "this alias")
                .help(
                    "add `name = \"...\"` (the account's name on 3Commas) or `id = ...` to pin it",
                ),
            );
        }
        if let Some(n) = &spec.name
            && n.trim().is_empty()
        {
            diagnostics.push(
                Diagnostic::error("invalid-value", "an account name cannot be empty")
                    .at(spec.spans.value("name"), "empty"),
            );
        }
    }
}

fn check_strategy_sets(config: &Config, diagnostics: &mut Vec<Diagnostic>) {
    for (name, set) in &config.strategies {
        match &set.value.conditions {
            None => diagnostics.push(
                Diagnostic::error(
                    "missing-field",
                    format!("strategy set `{name}` has no `conditions`"),
                )
                .at(set.name_span, "this set")
                .help("add `conditions = [{ strategy = \"nonstop\" }]` or another condition"),
            ),
            Some(conditions) => check_conditions(conditions, diagnostics),
        }
    }
}

/// Check the blacklist; returns its pairs.
fn check_blacklist(config: &Config, diagnostics: &mut Vec<Diagnostic>) -> BTreeSet<String> {
    let mut pairs = BTreeSet::new();
    let Some(blacklist) = &config.blacklist else {
        return pairs;
    };
    let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
    for pair in blacklist.pairs.iter().flatten() {
        check_pair_format(&pair.value, pair.span, diagnostics);
        if let Some(first) = seen.insert(&pair.value, pair.span) {
            diagnostics.push(
                Diagnostic::warning(
                    "duplicate-pair",
                    format!("`{}` is listed twice", pair.value),
                )
                .at(pair.span, "again here")
                .at(first, "first here"),
            );
        }
        pairs.insert(pair.value.clone());
    }
    pairs
}

/// No two bots of one kind (`what`: "bot", "grid bot") with one name on one account, nor pinned
/// to one id.
pub(super) fn check_unique_names<'a, T: Templated + 'a>(
    what: &str,
    specs: impl Iterator<Item = &'a T>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let mut by_name: BTreeMap<(&str, &str), &T> = BTreeMap::new();
    let mut by_id: BTreeMap<i64, &T> = BTreeMap::new();
    for spec in specs {
        let (name, account, id) = spec.identity();
        if let (Some(name), Some(account)) = (name, account)
            && let Some(first) = by_name.insert((account, name), spec)
        {
            diagnostics.push(
                Diagnostic::error(
                    "duplicate-bot",
                    format!("two {what}s on account `{account}` are named `{name}`"),
                )
                .at(spec.spans().value("name"), format!("this {what}"))
                .at(first.spans().value("name"), "has the same name as this one")
                .help(format!(
                    "a {what}'s name is its identity on an account: give each {what} its own name"
                )),
            );
        }
        if let Some(id) = id
            && let Some(first) = by_id.insert(id, spec)
        {
            diagnostics.push(
                Diagnostic::error(
                    "duplicate-bot",
                    format!("two {what}s are pinned to id {id}"),
                )
                .at(spec.spans().value("id"), format!("this {what}"))
                .at(
                    first.spans().value("id"),
                    format!("is pinned to the same live {what} as this one"),
                )
                .help(format!(
                    "each live {what} can be described by one config {what} only"
                )),
            );
        }
    }
}

/// The one error for every required field a bot of kind `what` ("bot", "grid bot") lacks after
/// its template (`template`: the kind of template it names), or `None` when it lacks none.
pub(super) fn missing_fields<T: Templated>(
    what: &str,
    template: &str,
    label: &str,
    missing: &[&str],
    spec: &T,
) -> Option<Diagnostic> {
    if missing.is_empty() {
        return None;
    }
    let list = missing
        .iter()
        .map(|m| format!("`{m}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let them = if missing.len() == 1 { "it" } else { "them" };
    let help = match spec.template() {
        Some(t) => format!("set {them} in this {what} or in its {template} `{t}`"),
        None => format!(
            "set {them} in this {what}, or in a {template} it names with `template = \"...\"`"
        ),
    };
    let fields = if missing.len() == 1 {
        "a required field"
    } else {
        "required fields"
    };
    Some(
        Diagnostic::error(
            "missing-field",
            format!("{what} `{label}` lacks {fields}: {list}"),
        )
        .at(spec.spans().head(), format!("this {what}"))
        .help(help),
    )
}

/// A small builder so each rule reads as one line, for every kind of bot (`config::grid` adds
/// its own rules' shapes).
pub(super) struct BotCheck<'a, T> {
    pub(super) spec: &'a T,
    pub(super) found: &'a mut Vec<Diagnostic>,
}

impl<T: Record> BotCheck<'_, T> {
    pub(super) fn error(&mut self, field: &str, code: &'static str, message: String, help: &str) {
        self.found.push(
            Diagnostic::error(code, message)
                .at(self.spec.spans().value(field), "here")
                .help(help),
        );
    }

    pub(super) fn warn(&mut self, field: &str, code: &'static str, message: String, help: &str) {
        self.found.push(
            Diagnostic::warning(code, message)
                .at(self.spec.spans().value(field), "here")
                .help(help),
        );
    }

    /// `min <= value <= max`, or `min < value < max` when `exclusive`.
    pub(super) fn range(
        &mut self,
        field: &str,
        value: Option<Decimal>,
        min: Decimal,
        max: Decimal,
        exclusive: bool,
    ) {
        let Some(v) = value else { return };
        let outside = if exclusive {
            v <= min || v >= max
        } else {
            v < min || v > max
        };
        if outside {
            let bound = if exclusive {
                format!("greater than {min} and less than {max}")
            } else {
                format!("between {min} and {max}")
            };
            self.error(
                field,
                "out-of-range",
                format!("`{field}` is {v}; it must be {bound}"),
                "3Commas rejects values outside this range",
            );
        }
    }

    pub(super) fn positive(&mut self, field: &str, value: Option<Decimal>) {
        if let Some(v) = value
            && v <= Decimal::ZERO
        {
            self.error(
                field,
                "out-of-range",
                format!("`{field}` is {v}; it must be greater than 0"),
                "use a positive amount",
            );
        }
    }
}

fn d(i: i64) -> Decimal {
    Decimal::from_int(i)
}

fn check_bot(
    config: &Config,
    bot: &DesiredBot,
    blacklist: &BTreeSet<String>,
    found: &mut Vec<Diagnostic>,
) -> Option<DcaNumbers> {
    let spec = &bot.spec;
    let label = spec
        .name
        .clone()
        .unwrap_or_else(|| format!("#{}", bot.index + 1));
    let mut c = BotCheck { spec, found };
    // One audit per concern, in the order a reader of the bot meets them.
    if !check_identity(config, &mut c, &label) {
        return None;
    }
    check_required(&mut c, &label);
    check_pairs(&mut c, &label, blacklist);
    check_condition_lists(&mut c, bot, &label);
    check_ranges(&mut c);
    check_companions(&mut c);
    check_take_profit_steps(&mut c);
    check_custom_safety_steps(&mut c);
    check_ladder(&mut c, bot)
}

/// The account a bot names exists; a bot to delete is identified. False for a bot to delete
/// (`absent`): nothing else is checked of it.
fn check_identity(config: &Config, c: &mut BotCheck<'_, BotSpec>, label: &str) -> bool {
    let spec = c.spec;
    if let Some(account) = &spec.account
        && !config.accounts.contains_key(account)
    {
        c.found.push(unknown_reference(
            "account",
            account,
            spec.spans.value("account"),
            config.accounts.keys(),
        ));
    }

    if spec.absent == Some(true) {
        // A bot to delete needs only what identifies it.
        if spec.account.is_none() || (spec.name.is_none() && spec.id.is_none()) {
            c.found.push(
                Diagnostic::error(
                    "missing-field",
                    format!("bot `{label}` to delete is not identified"),
                )
                .at(spec.spans.head(), "this bot")
                .help("give its `account` and its `name` (or pin it with `id`)"),
            );
        }
        return false;
    }
    true
}

/// Every required field is set (after the template merge), and the name is well formed.
fn check_required(c: &mut BotCheck<'_, BotSpec>, label: &str) {
    let spec = c.spec;
    let mut missing: Vec<&str> = REQUIRED_FIELDS
        .iter()
        .copied()
        .filter(|field| !spec.spans.has(field))
        .collect();
    if !spec.spans.has("take_profit") && !spec.spans.has("take_profit_steps") {
        missing.push("take_profit");
    }
    if spec.max_safety_orders.unwrap_or(0) > 0 && !spec.spans.has("active_safety_orders_count") {
        missing.push("active_safety_orders_count");
    }
    // A field written with a typo was reported as unknown, with the right name: once is enough.
    missing.retain(|field| !spec.spans.misspelt.contains_key(field));
    if let Some(d) = missing_fields("bot", "template", label, &missing, spec) {
        c.found.push(d);
    }
    if let Some(name) = &spec.name
        && (name.trim().is_empty() || name.chars().count() > 200)
    {
        c.error(
            "name",
            "invalid-value",
            "a bot name must have 1 to 200 characters".into(),
            "shorten or fill in the name",
        );
    }
}

/// Pairs: none empty, none twice, well formed; a blacklisted one is a warning.
fn check_pairs(c: &mut BotCheck<'_, BotSpec>, label: &str, blacklist: &BTreeSet<String>) {
    let spec = c.spec;
    if let Some(pairs) = &spec.pairs {
        if pairs.is_empty() {
            c.error(
                "pairs",
                "invalid-value",
                "`pairs` is empty".into(),
                "list at least one pair, like \"USDT_BTC\"",
            );
        }
        let mut seen = BTreeMap::new();
        for pair in pairs {
            check_pair_format(&pair.value, pair.span, c.found);
            if let Some(first) = seen.insert(pair.value.as_str(), pair.span) {
                c.found.push(
                    Diagnostic::error(
                        "duplicate-pair",
                        format!("`{}` is listed twice", pair.value),
                    )
                    .at(pair.span, "again here")
                    .at(first, "first here"),
                );
            }
            if blacklist.contains(&pair.value) {
                c.found.push(
                    Diagnostic::warning("blacklisted-pair", format!("bot `{label}` trades `{}`, which is blacklisted", pair.value))
                        .at(pair.span, "blacklisted")
                        .help("3Commas opens no deals on blacklisted pairs: remove the pair here or from `[blacklist]`"),
                );
            }
        }
    }
}

/// Start, close and safety-order conditions; `nonstop` on single-pair bots only.
fn check_condition_lists(c: &mut BotCheck<'_, BotSpec>, bot: &DesiredBot, label: &str) {
    let spec = c.spec;
    let pair_count = spec.pairs.as_ref().map_or(0, Vec::len);
    if let Some(Conditions::List(list)) = &spec.start {
        check_conditions(list, c.found);
    }
    if let Some(Conditions::List(list)) = &spec.close_strategy_list {
        check_conditions(list, c.found);
    }
    if let Some(Conditions::List(list)) = &spec.safety_strategy_list {
        check_conditions(list, c.found);
    }
    if pair_count > 1
        && bot
            .start
            .iter()
            .flatten()
            .any(|cond| cond.strategy.value == "nonstop")
    {
        c.error(
            "start",
            "nonstop-multi-pair",
            format!("`nonstop` starts deals on single-pair bots only; bot `{label}` has {pair_count} pairs"),
            "use a signal or indicator condition for a multi-pair bot, or give it one pair",
        );
    }
}

/// Every figure within the range 3Commas accepts (REFERENCE.md section 6).
fn check_ranges(c: &mut BotCheck<'_, BotSpec>) {
    let spec = c.spec;
    c.positive("base_order_volume", spec.base_order_volume);
    c.positive("safety_order_volume", spec.safety_order_volume);
    c.range(
        "safety_order_step_percentage",
        spec.safety_order_step_percentage,
        d(0),
        d(100),
        true,
    );
    c.range(
        "martingale_volume_coefficient",
        spec.martingale_volume_coefficient,
        "0.1".parse().unwrap(),
        d(10),
        false,
    );
    c.range(
        "martingale_step_coefficient",
        spec.martingale_step_coefficient,
        "0.1".parse().unwrap(),
        d(10),
        false,
    );
    if let Some(n) = spec.max_safety_orders
        && n > 200
    {
        c.error(
            "max_safety_orders",
            "out-of-range",
            format!("`max_safety_orders` is {n}; it must be between 0 and 200"),
            "3Commas allows at most 200 safety orders",
        );
    }
    // 0 is valid: safety orders then come from safety conditions (signals), as on 3Commas.
    if let (Some(active), Some(max)) = (spec.active_safety_orders_count, spec.max_safety_orders)
        && max > 0
        && active > max
    {
        c.error(
            "active_safety_orders_count",
            "out-of-range",
            format!("`active_safety_orders_count` is {active}; it must be between 0 and max_safety_orders ({max})"),
            "you cannot place more safety orders in advance than the bot may use",
        );
    }
    if let (Some(n), Some(pairs)) = (spec.max_active_deals, &spec.pairs)
        && !pairs.is_empty()
        && (1..=199).contains(&n)
    {
        // Deals per pair are for multi-pair bots only (review L-2): a single-pair bot has one.
        let single = pairs.len() == 1;
        let per_pair = if single {
            1
        } else {
            spec.allowed_deals_on_same_pair.unwrap_or(1).max(1)
        };
        let most = pairs.len() as u64 * u64::from(per_pair);
        if u64::from(n) > most {
            c.error(
                "max_active_deals",
                "out-of-range",
                format!(
                    "`max_active_deals` is {n}, but {} pair{} × {per_pair} deal{} per pair allow at most {most} (3Commas: \"must be less than or equal to {most}\")",
                    pairs.len(),
                    if single { "" } else { "s" },
                    if per_pair == 1 { "" } else { "s" },
                ),
                if single {
                    "lower max_active_deals to 1, or add pairs (deals per pair are for multi-pair bots only)"
                } else {
                    "lower max_active_deals, add pairs, or raise allowed_deals_on_same_pair"
                },
            );
        }
    }
    if let Some(n) = spec.max_active_deals
        && !(1..=199).contains(&n)
    {
        c.error(
            "max_active_deals",
            "out-of-range",
            format!("`max_active_deals` is {n}; it must be between 1 and 199"),
            "3Commas runs 1 to 199 deals per bot",
        );
    }
    if let Some(n) = spec.cooldown
        && n > 2_592_000
    {
        c.error(
            "cooldown",
            "out-of-range",
            format!("`cooldown` is {n} seconds; it must be at most 2592000 (30 days)"),
            "cooldown is in seconds",
        );
    }
    if let Some(n) = spec.close_deals_timeout
        && n < 60
    {
        c.error(
            "close_deals_timeout",
            "out-of-range",
            format!("`close_deals_timeout` is {n} seconds; it must be at least 60"),
            "the timeout is in seconds",
        );
    }
    c.range("take_profit", spec.take_profit, d(0), d(10_000), false);
    c.range(
        "stop_loss_percentage",
        spec.stop_loss_percentage,
        d(0),
        d(100),
        false,
    );
    c.range(
        "reinvesting_percentage",
        spec.reinvesting_percentage,
        d(0),
        d(100),
        false,
    );
    c.range(
        "risk_reduction_percentage",
        spec.risk_reduction_percentage,
        d(0),
        d(100),
        false,
    );
    c.range(
        "min_price_percentage",
        spec.min_price_percentage,
        d(-95),
        d(1000),
        true,
    );
    c.range(
        "max_price_percentage",
        spec.max_price_percentage,
        d(-95),
        d(1000),
        true,
    );
    c.positive("trailing_deviation", spec.trailing_deviation);
    c.positive("leverage_custom_value", spec.leverage_custom_value);
    c.positive("min_price", spec.min_price);
    c.positive("max_price", spec.max_price);
    if let (Some(min), Some(max)) = (spec.min_price, spec.max_price)
        && min >= max
    {
        c.error(
            "min_price",
            "invalid-value",
            format!("`min_price` ({min}) must be below `max_price` ({max})"),
            "no price would open a deal",
        );
    }
    if let (Some(min), Some(max)) = (spec.min_price_percentage, spec.max_price_percentage)
        && min >= max
    {
        c.error(
            "min_price_percentage",
            "invalid-value",
            format!("`min_price_percentage` ({min}) must be below `max_price_percentage` ({max})"),
            "no price change would open a deal",
        );
    }
}

/// Settings that need a companion setting, and settings another makes meaningless.
fn check_companions(c: &mut BotCheck<'_, BotSpec>) {
    let spec = c.spec;
    let pair_count = spec.pairs.as_ref().map_or(0, Vec::len);
    if spec.trailing_enabled == Some(true) && spec.trailing_deviation.is_none() {
        c.error(
            "trailing_enabled",
            "missing-field",
            "trailing take profit needs `trailing_deviation`".into(),
            "add `trailing_deviation = 0.2` (percent)",
        );
    }
    if let (Some(dev), Some(tp)) = (spec.trailing_deviation, spec.take_profit)
        && spec.trailing_enabled == Some(true)
        && !tp.is_zero()
        && dev >= tp
    {
        c.error(
            "trailing_deviation",
            "invalid-value",
            format!("`trailing_deviation` ({dev}) must be below `take_profit` ({tp})"),
            "a trailing deviation as large as the take profit could close the deal at a loss",
        );
    }
    if spec.stop_loss_timeout_enabled == Some(true) && spec.stop_loss_timeout_in_seconds.is_none() {
        c.error(
            "stop_loss_timeout_enabled",
            "missing-field",
            "a stop-loss timeout needs `stop_loss_timeout_in_seconds`".into(),
            "add `stop_loss_timeout_in_seconds = 300`",
        );
    }
    if spec.sl_to_breakeven_enabled == Some(true) && spec.sl_to_breakeven_data.is_none() {
        c.error(
            "sl_to_breakeven_enabled",
            "missing-field",
            "moving the stop loss to break-even needs `sl_to_breakeven_data`, which 3Commas requires with it".into(),
            "add `sl_to_breakeven_data = { upper_breakeven_limit = 1 }` (0: the average price, 1: the first take-profit step)",
        );
    }
    match spec.leverage_type {
        Some(LeverageType::Isolated) if spec.leverage_custom_value.is_none() => c.error(
            "leverage_type",
            "missing-field",
            "isolated leverage needs `leverage_custom_value`".into(),
            "add `leverage_custom_value = 3` (the leverage)",
        ),
        Some(LeverageType::Custom) => c.warn(
            "leverage_type",
            "deprecated",
            "`leverage_type = \"custom\"` is deprecated; 3Commas stores it as `isolated`".into(),
            "write `isolated` to avoid a difference on every plan",
        ),
        _ => {}
    }
    if spec.allowed_deals_on_same_pair.is_some() && pair_count == 1 {
        c.warn(
            "allowed_deals_on_same_pair",
            "ignored",
            "`allowed_deals_on_same_pair` has no effect on a single-pair bot".into(),
            "remove it, or add pairs",
        );
    }
}

/// Take-profit steps: at most 4, their shares and profits as 3Commas takes them.
fn check_take_profit_steps(c: &mut BotCheck<'_, BotSpec>) {
    let spec = c.spec;
    if let Some(steps) = &spec.take_profit_steps {
        if steps.len() > 4 {
            c.error(
                "take_profit_steps",
                "out-of-range",
                format!(
                    "{} take-profit steps; 3Commas allows at most 4",
                    steps.len()
                ),
                "merge some steps",
            );
        }
        let total: Decimal = steps.iter().map(|s| s.amount_percentage).sum();
        if !steps.is_empty() && total != Decimal::ONE_HUNDRED {
            c.error(
                "take_profit_steps",
                "invalid-value",
                format!("take-profit step amounts add up to {total}%; they must add up to 100%"),
                "adjust `amount_percentage` so the steps sell the whole position",
            );
        }
        for (i, step) in steps.iter().enumerate() {
            if step.amount_percentage <= Decimal::ZERO || step.profit_percentage <= Decimal::ZERO {
                c.error(
                    "take_profit_steps",
                    "out-of-range",
                    format!(
                        "take-profit step {} must have a positive amount and profit",
                        i + 1
                    ),
                    "use percentages above 0",
                );
            }
        }
        if let Some(tp) = spec.take_profit
            && !tp.is_zero()
            && !steps.is_empty()
        {
            c.error(
                "take_profit",
                "conflict",
                format!("`take_profit` is {tp} but `take_profit_steps` are set: 3Commas refuses an ordinary take profit together with steps"),
                "remove `take_profit` (or set it to 0): with steps botform sends 0, which 3Commas stores as no ordinary take profit",
            );
        }
    }
    if spec.sl_to_breakeven_enabled == Some(true)
        && spec.take_profit_steps.as_ref().map_or(0, Vec::len) < 2
    {
        c.error(
            "sl_to_breakeven_enabled",
            "invalid-value",
            "moving the stop loss to break-even needs at least 2 take-profit steps".into(),
            "add take-profit steps or turn this off",
        );
    }
}

/// Custom safety steps: one per safety order, each within range.
fn check_custom_safety_steps(c: &mut BotCheck<'_, BotSpec>) {
    let spec = c.spec;
    if let Some(steps) = &spec.custom_safety_steps {
        for (i, step) in steps.iter().enumerate() {
            if step.deviation < d(-100) || step.deviation > d(10_000) {
                c.error(
                    "custom_safety_steps",
                    "out-of-range",
                    format!(
                        "custom safety step {} has deviation {}; it must be between -100 and 10000",
                        i + 1,
                        step.deviation
                    ),
                    "deviation is in percent",
                );
            }
            // 3Commas' deviation is signed (negative: below the base price); a long bot whose
            // steps are positive would buy as the price rises (fidelity review, H-1).
            let direction = spec
                .strategy
                .unwrap_or(crate::model::enums::Direction::Long);
            let step_model = crate::model::bot::SafetyStep {
                deviation: step.deviation,
                size: step.size,
            };
            if !step.deviation.is_zero() && !step_model.on_the_side_of(direction) {
                let (side, wanted, rises) = match direction {
                    crate::model::enums::Direction::Long => ("above", "-", "rises"),
                    crate::model::enums::Direction::Short => ("below", "", "falls"),
                };
                let magnitude = Decimal(step.deviation.0.abs());
                c.error(
                    "custom_safety_steps",
                    "wrong-sign",
                    format!(
                        "custom safety step {} has deviation {}: 3Commas places it {magnitude} % {side} the base price, so this {direction} bot would add to its deal as the price {rises}",
                        i + 1,
                        step.deviation
                    ),
                    &format!(
                        "3Commas' deviation is signed (negative below the base price, positive above): write deviation = {wanted}{magnitude}"
                    ),
                );
            } else if step.deviation.is_zero() {
                c.error(
                    "custom_safety_steps",
                    "out-of-range",
                    format!(
                        "custom safety step {} has deviation 0: a safety order at the base price",
                        i + 1
                    ),
                    "give the distance from the base price in percent, negative below it (long), positive above it (short)",
                );
            }
            if step.size <= Decimal::ZERO {
                c.error(
                    "custom_safety_steps",
                    "out-of-range",
                    format!(
                        "custom safety step {} has size {}; it must be greater than 0",
                        i + 1,
                        step.size
                    ),
                    "use a positive size",
                );
            }
        }
        if let Some(max) = spec.max_safety_orders
            && max as usize != steps.len()
        {
            c.error(
                "custom_safety_steps",
                "conflict",
                format!(
                    "{} custom safety steps but `max_safety_orders` is {max}",
                    steps.len()
                ),
                "give one custom step per safety order",
            );
        }
    }
}

/// The DCA ladder (its numbers, for the report), and the server's stop-loss rule, which depends
/// on it.
fn check_ladder(c: &mut BotCheck<'_, BotSpec>, bot: &DesiredBot) -> Option<DcaNumbers> {
    let spec = c.spec;
    let input = LadderInput::from_settings(&bot.settings())?;
    let numbers = match dca::compute(&input) {
        Ok(n) => n,
        Err(overflow) => {
            c.error(
                "martingale_volume_coefficient",
                "out-of-range",
                format!(
                    "the safety-order ladder grows beyond any balance by safety order {}",
                    overflow.safety_order
                ),
                "lower the coefficients or max_safety_orders",
            );
            return None;
        }
    };
    if input.custom_steps.is_none()
        && numbers.price_move_covered_percentage >= Decimal::ONE_HUNDRED
        && spec.strategy != Some(crate::model::enums::Direction::Short)
    {
        c.error(
            "safety_order_step_percentage",
            "out-of-range",
            format!(
                "the last safety order is {}% below the base order: at or below a zero price",
                numbers.price_move_covered_percentage
            ),
            "lower safety_order_step_percentage, martingale_step_coefficient or max_safety_orders",
        );
    }
    if let Some(sl) = spec.stop_loss_percentage
        && !sl.is_zero()
        && !numbers.ladder.is_empty()
        && sl <= numbers.price_move_covered_percentage
    {
        let last = numbers.price_move_covered_percentage;
        c.error(
            "stop_loss_percentage",
            "stop-loss-above-last-safety-order",
            format!(
                "the stop loss at {sl}% would close deals before the last safety order, {}% below the entry (3Commas: \"Stop Loss should be below the last safety order\")",
                last.display_percent()
            ),
            &format!(
                "set `stop_loss_percentage` above {}% (the last safety order is at {last}%), or use fewer or closer safety orders",
                last.round_up_dp(2)
            ),
        );
    }
    Some(numbers)
}

/// `QUOTE_BASE`: upper-case letters and digits, an underscore, then the base (futures bases may
/// contain `-` and `.`, as in `1INCH_1INCH-USD-SWAP`).
pub fn check_pair_format(pair: &str, span: Span, diagnostics: &mut Vec<Diagnostic>) {
    let valid = pair.split_once('_').is_some_and(|(quote, base)| {
        !quote.is_empty()
            && !base.is_empty()
            && quote
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            && base.bytes().all(|b| {
                b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'.' || b == b'_'
            })
    });
    if valid {
        return;
    }
    let upper = pair.to_ascii_uppercase();
    let help = if upper != pair && upper.contains('_') {
        format!("pairs are upper case: `{upper}`")
    } else if let Some((base, quote)) = pair.split_once(['/', '-']) {
        format!(
            "3Commas writes pairs as QUOTE_BASE: `{}_{}`",
            quote.to_ascii_uppercase(),
            base.to_ascii_uppercase()
        )
    } else {
        "3Commas writes pairs as QUOTE_BASE, like `USDT_BTC`".to_string()
    };
    diagnostics.push(
        Diagnostic::error("pair-format", format!("`{pair}` is not a 3Commas pair"))
            .at(span, "not QUOTE_BASE")
            .help(help),
    );
}

/// Check conditions against the strategy catalogue.
/// The values a free numeric option of an indicator can take.
struct OptionRange {
    min: Decimal,
    max: Option<Decimal>,
    whole: bool,
    help: &'static str,
}

impl OptionRange {
    fn problem(&self, n: Decimal) -> Option<String> {
        if self.whole && n.round_dp(0) != n {
            return Some("not a whole number".into());
        }
        if n < self.min {
            return Some(format!("below {}", self.min));
        }
        match self.max {
            Some(max) if n > max => Some(format!("above {max}")),
            _ => None,
        }
    }
}

/// Ranges the catalogue leaves implicit: oscillators that read 0 to 100 (RSI, Ultimate, ADX,
/// Stochastic, MFI), periods that count candles, Parabolic SAR's factors. Options not listed
/// (CCI and %B levels, which have no bound) are only checked to be numbers.
fn option_range(strategy: &str, option: &str) -> Option<OptionRange> {
    let d = |n: i64| Decimal::from_int(n);
    match (strategy, option) {
        ("rsi" | "ult" | "adx" | "stochastic" | "mfi", "points") => Some(OptionRange {
            min: d(0),
            max: Some(d(100)),
            whole: false,
            help: "this indicator reads 0 to 100 (RSI below 30 is oversold)",
        }),
        (_, "deviation") => Some(OptionRange {
            min: "0.01".parse().expect("literal"),
            max: None,
            whole: false,
            help: "a number of standard deviations above 0, usually 2",
        }),
        (_, "acceleration_factor" | "af_maximum") => Some(OptionRange {
            min: "0.001".parse().expect("literal"),
            max: Some(d(1)),
            whole: false,
            help: "Parabolic SAR's factors lie between 0 and 1 (usually 0.02 and 0.2)",
        }),
        (_, o) if o.contains("period") => Some(OptionRange {
            min: d(1),
            max: Some(d(1000)),
            whole: true,
            help: "a number of candles: a whole number from 1, usually 14",
        }),
        _ => None,
    }
}

pub fn check_conditions(conditions: &[Condition], diagnostics: &mut Vec<Diagnostic>) {
    let catalogue = Catalogue::get();
    for condition in conditions {
        let id = &condition.strategy;
        let Some(info) = catalogue.strategy(&id.value) else {
            diagnostics.push(
                Diagnostic::error(
                    "unknown-strategy",
                    format!("unknown strategy `{}`", id.value),
                )
                .at(id.span, "not in the 3Commas strategy catalogue")
                .help(did_you_mean(&id.value, catalogue.ids()).unwrap_or_else(|| {
                    format!(
                        "known strategies: {}",
                        catalogue.ids().collect::<Vec<_>>().join(", ")
                    )
                })),
            );
            continue;
        };
        for (option, value) in &condition.options {
            let Some(choices) = info.options.get(option) else {
                let known: Vec<&str> = info.options.keys().map(String::as_str).collect();
                let help = did_you_mean(option, known.iter().copied()).unwrap_or_else(|| {
                    if known.is_empty() {
                        format!("`{}` takes no options", id.value)
                    } else {
                        format!("`{}` takes: {}", id.value, known.join(", "))
                    }
                });
                diagnostics.push(
                    Diagnostic::error(
                        "unknown-option",
                        format!("strategy `{}` has no option `{option}`", id.value),
                    )
                    .at(value.span, "unknown option")
                    .help(help),
                );
                continue;
            };
            match (choices, &value.value) {
                (Some(allowed), v) => {
                    let text = v.as_text();
                    if !allowed.contains_key(&text) {
                        let keys: Vec<&str> = allowed.keys().map(String::as_str).collect();
                        diagnostics.push(
                            Diagnostic::error(
                                "unknown-value",
                                format!(
                                    "`{text}` is not a choice for `{option}` of `{}`",
                                    id.value
                                ),
                            )
                            .at(value.span, "not an allowed value")
                            .help(
                                match did_you_mean(&text, keys.iter().copied()) {
                                    Some(hint) => format!("{hint} (choices: {})", keys.join(", ")),
                                    None => format!("choices: {}", keys.join(", ")),
                                },
                            ),
                        );
                    }
                }
                (None, OptionValue::Text(t)) if t.parse::<Decimal>().is_err() => diagnostics.push(
                    Diagnostic::error(
                        "invalid-type",
                        format!("`{option}` of `{}` is a number, not `{t}`", id.value),
                    )
                    .at(value.span, "not a number")
                    .help("write a number, like 14"),
                ),
                (None, v) => {
                    let text = v.as_text();
                    if let (Ok(n), Some(range)) =
                        (text.parse::<Decimal>(), option_range(&id.value, option))
                        && let Some(problem) = range.problem(n)
                    {
                        diagnostics.push(
                            Diagnostic::error(
                                "out-of-range",
                                format!("`{option}` of `{}` is {text}, {problem}", id.value),
                            )
                            .at(value.span, "out of range")
                            .help(range.help),
                        );
                    }
                }
            }
        }
        let missing: Vec<&str> = info
            .options
            .keys()
            .filter(|k| !condition.options.contains_key(*k))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() && !info.unlisted {
            diagnostics.push(
                Diagnostic::error(
                    "missing-option",
                    format!(
                        "strategy `{}` needs {}",
                        id.value,
                        missing
                            .iter()
                            .map(|m| format!("`{m}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
                .at(id.span, "options missing")
                .help(format!(
                    "add them to `options`, e.g. `options = {{ {} }}`",
                    missing
                        .iter()
                        .map(|m| format!("{m} = ..."))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            );
        }
    }
}
