//! The MCP tools that read the live account: accounts, strategies, pairs, bots, one bot
//! explained, its deals with realized profit, currency rates. All read-only, all bounded by
//! [`budget::ANSWER_BUDGET`], all taking bots by id or by name (any case) and accounts by id, by
//! name or by the config's alias.

use std::collections::BTreeMap;

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{BotformServer, budget};
use crate::diagnostic::did_you_mean;
use crate::engine::deals;
use crate::engine::performance::FINISHED;
use crate::model::bot::LiveBot;
use crate::model::decimal::Decimal;
use crate::threecommas::wire::{Account, Deal};

// ---------------------------------------------------------------------------------------------
// Arguments and answers

#[derive(Debug, Serialize, JsonSchema)]
pub struct AccountInfo {
    pub id: i64,
    pub name: String,
    /// The config's alias for this account (`[accounts.ALIAS]`), when it has one.
    pub alias: String,
    pub market_code: String,
    pub exchange: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AccountsAnswer {
    pub accounts: Vec<AccountInfo>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StrategiesArgs {
    /// Only strategies this account may use (alias, name or id). Empty: all.
    #[serde(default)]
    pub account: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct StrategyOption {
    pub name: String,
    /// The values to choose from; empty when the option is a free number.
    pub choices: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct StrategyInfo {
    pub id: String,
    pub name: String,
    pub options: Vec<StrategyOption>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct StrategiesAnswer {
    pub strategies: Vec<StrategyInfo>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MarketPairsArgs {
    /// The account: alias, name or id.
    pub account: String,
    /// Only pairs quoted in this currency (`USDT`). Empty: all.
    #[serde(default)]
    pub quote: String,
    /// Only pairs containing this text (`BTC`). Empty: all.
    #[serde(default)]
    pub contains: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct MarketPairsAnswer {
    pub account: String,
    pub market_code: String,
    pub total: usize,
    /// As many as fit; narrow with `quote` or `contains` for the rest.
    pub pairs: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct BotLine {
    /// `grid`: a grid bot.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    pub id: i64,
    pub name: String,
    pub account: String,
    pub enabled: bool,
    /// `managed` (config and live), `unmanaged` (live only) or `new` (config only).
    pub status: String,
    pub pairs: Vec<String>,
    pub active_deals: u32,
    /// Capital all its deals can lock (decimal string; empty when it depends on the price).
    pub capital_all_deals: String,
    pub currency: String,
    /// `file:line` of the config bot describing it; empty when the config leaves it alone.
    pub config: String,
}

impl BotLine {
    /// The line with every text cut to 200 characters.
    pub(super) fn shortened(&self) -> BotLine {
        let cut = |t: &str| t.chars().take(200).collect::<String>();
        BotLine {
            name: cut(&self.name),
            account: cut(&self.account),
            pairs: self.pairs.iter().map(|p| cut(p)).collect(),
            status: cut(&self.status),
            capital_all_deals: cut(&self.capital_all_deals),
            currency: cut(&self.currency),
            config: cut(&self.config),
            kind: self.kind.clone(),
            ..*self
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BotArgs {
    /// The bot: its name (any case) or its id.
    #[serde(default)]
    pub bot: String,
    /// Instead of `bot`: a selector that selects one bot.
    pub selector: Option<crate::engine::selector::Selector>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FieldExplained {
    pub field: String,
    /// What the config wants, as the plan shows values; empty when the config does not set it.
    pub config: String,
    /// `file:line` where the config sets it (the bot, or a template it starts from).
    pub set_at: String,
    /// What 3Commas holds now; empty when unset or when the bot is not live.
    pub live: String,
    /// The config and 3Commas disagree: the next plan changes it.
    pub differs: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DcaSummary {
    pub capital_per_deal: String,
    pub capital_all_deals: String,
    pub currency: String,
    pub price_move_covered_percentage: String,
    pub safety_orders: usize,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Explained {
    pub name: String,
    /// The live bot's id, 0 when it does not exist yet.
    pub id: i64,
    pub account: String,
    /// Where the config describes it (`file:line`); empty when it does not.
    pub config: String,
    pub enabled_live: bool,
    pub active_deals: u32,
    pub fields: Vec<FieldExplained>,
    /// From the config's settings (or the live ones when the config does not describe it).
    pub dca: Option<DcaSummary>,
    /// Grid bots: validate's numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "serde_json::Map<String, Value>")]
    pub grid: Option<crate::model::grid::GridNumbers>,
    pub note: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DealsArgs {
    /// The bot: its name (any case) or its id; empty (and no selector): every bot's deals.
    #[serde(default)]
    pub bot: String,
    /// Instead of `bot`: a selector that selects one bot (`fleet_performance` reads many).
    pub selector: Option<crate::engine::selector::Selector>,
    /// `active`, `finished`, or empty for all.
    #[serde(default)]
    pub scope: String,
    /// Finished deals that closed at or after this: `30d`, `12h`, `2026-11-01` or an ISO time
    /// (empty: every deal). Active deals are always listed.
    #[serde(default)]
    pub since: String,
    /// ... and at or before this (empty: now).
    #[serde(default)]
    pub until: String,
    /// Page, from 1 (25 deals); totals cover all.
    #[serde(default)]
    pub page: usize,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DealLine {
    pub id: i64,
    pub status: String,
    pub opened: String,
    pub closed: String,
    pub safety_orders_filled: u32,
    pub bought_volume: String,
    /// Profit in the quote currency (decimal string): realized for a finished deal; for an
    /// active deal, 3Commas' `actual_profit` at the price now, unrealized (it moves with the
    /// price).
    pub profit: String,
    /// `realized` (finished deal) or `unrealized` (active deal): how to read `profit`.
    pub profit_kind: &'static str,
    pub usd_profit: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Realized {
    pub currency: String,
    /// Sum of the final profit of every finished deal (completed, stop loss, panic sold,
    /// liquidated, cancelled), in `currency`: what was made or lost.
    pub profit: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DealsAnswer {
    /// Deals 3Commas sent that botform could not read, each with its id and why (not counted in
    /// the figures below).
    pub unreadable_deals: Vec<String>,
    pub bot_id: i64,
    pub bot_name: String,
    pub deals_total: usize,
    /// Deals per status (`completed`, `stop_loss_finished`, `panic_sold`, `bought`, ...).
    pub by_status: BTreeMap<String, usize>,
    pub realized: Vec<Realized>,
    pub realized_usd: String,
    /// Deals by the number of safety orders they filled: index 0 is "none filled".
    pub safety_orders_histogram: Vec<usize>,
    pub average_duration_s: u64,
    pub longest_duration_s: u64,
    pub page: usize,
    pub pages: usize,
    pub deals: Vec<DealLine>,
    pub note: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RatesArgs {
    /// The pair in 3Commas' form (`USDT_BTC`).
    pub pair: String,
    /// The account whose exchange prices it: alias, name or id.
    pub account: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RatesAnswer {
    pub pair: String,
    pub market_code: String,
    pub last: String,
    pub bid: String,
    pub ask: String,
    /// The smallest order the exchange takes, in the quote currency: base and safety orders
    /// below it are refused.
    pub min_total: String,
    pub min_lot_size: String,
    pub lot_step: String,
    pub price_step: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PerformanceAnswer {
    /// Deals 3Commas sent that botform could not read, each with its id and why (not counted in
    /// `realized`).
    pub unreadable_deals: Vec<String>,
    pub bot_id: i64,
    pub bot_name: String,
    /// 3Commas' deals_stats as sent ("the total profit from completed deals", in its docs'
    /// words; whether stop losses count is not documented). `realized` sums every finished deal,
    /// stop losses and panic sells included.
    #[schemars(with = "serde_json::Map<String, Value>")]
    pub deals_stats: Value,
    pub realized: Vec<Realized>,
    pub realized_usd: String,
    /// Profit per day over the last 30 days.
    #[schemars(with = "serde_json::Map<String, Value>")]
    pub profit_by_day: Value,
}

/// Deals read for the totals at most: enough for years of a busy bot, bounded in time.
const MAX_DEALS_READ: u32 = 5_000;
const DEALS_PER_PAGE: usize = 25;

// ---------------------------------------------------------------------------------------------
// Lookups shared by the tools

impl BotformServer {
    /// The config's aliases: alias -> (name, id) as written.
    fn aliases(&self) -> BTreeMap<String, (Option<String>, Option<i64>)> {
        aliases_of(&crate::config::check_confined(&self.inner.root))
    }

    /// A live account by id, name (any case) or config alias.
    pub(super) async fn account_by(&self, key: &str) -> Result<Account, String> {
        find_account(&self.live().await?.accounts, &self.aliases(), key).cloned()
    }

    /// The alias the config gives an account, or its name.
    fn alias_of(
        aliases: &BTreeMap<String, (Option<String>, Option<i64>)>,
        account: &Account,
    ) -> String {
        aliases
            .iter()
            .find(|(_, (name, id))| {
                *id == Some(account.id) || name.as_deref() == Some(&account.name)
            })
            .map(|(alias, _)| alias.clone())
            .unwrap_or_default()
    }

    /// One bot explained (the tool and the `botform://bots/{bot}` resource).
    /// Every setting the config sets or the live bot shows (null: not shown), explained.
    fn fields_explained(
        &self,
        config: &serde_json::Map<String, Value>,
        live: &serde_json::Map<String, Value>,
        origins: Option<&BTreeMap<String, crate::engine::desired::SourceRef>>,
        comparable: impl Fn(&str) -> bool,
    ) -> Vec<FieldExplained> {
        let live_value = |field: &str| live.get(field).filter(|v| !v.is_null());
        let mut names: Vec<&String> = config
            .keys()
            .chain(live.keys().filter(|k| live_value(k).is_some()))
            .collect();
        names.sort();
        names.dedup();
        names
            .into_iter()
            .map(|field| {
                self.field_explained(
                    field,
                    config.get(field),
                    live_value(field),
                    origins.and_then(|o| o.get(field)),
                    comparable(field),
                )
            })
            .collect()
    }

    /// One setting explained: the config's value and where it is set beside the live one;
    /// `comparable`: the live value can differ (the bot is live, and 3Commas shows the field).
    fn field_explained(
        &self,
        field: &str,
        config: Option<&Value>,
        live: Option<&Value>,
        set_at: Option<&crate::engine::desired::SourceRef>,
        comparable: bool,
    ) -> FieldExplained {
        let shown = |v: Option<&Value>| {
            v.filter(|v| !v.is_null())
                .map(crate::engine::change::show)
                .unwrap_or_default()
        };
        FieldExplained {
            field: field.to_string(),
            differs: comparable && config.is_some() && config != live,
            set_at: set_at
                .map(|s| format!("{}:{}", self.relative_file(&s.file), s.line))
                .unwrap_or_default(),
            config: shown(config),
            live: shown(live),
        }
    }

    /// True when `name` names a config grid bot (any case) and no config DCA bot.
    fn names_a_grid_bot(&self, name: &str) -> bool {
        let name = name.trim();
        if name.is_empty() {
            return false;
        }
        let checked = crate::config::check_confined(&self.inner.root);
        let named = |n: Option<&str>| n.is_some_and(|n| n.eq_ignore_ascii_case(name));
        !checked.bots.iter().any(|b| named(b.spec.name.as_deref()))
            && checked
                .grid_bots
                .iter()
                .any(|g| named(g.spec.name.as_deref()))
    }

    /// A grid bot explained: config and live values side by side (the write-only fields as the
    /// config says; 3Commas never shows them), with its numbers.
    async fn explain_grid(
        &self,
        name: &str,
        selector: Option<&crate::engine::selector::Selector>,
    ) -> Result<Explained, String> {
        use crate::engine::grid;
        let checked = crate::config::check_confined(&self.inner.root);
        let desired = crate::engine::desired::from_checked(&checked);
        let live = self.live().await?;
        let target = self.target().await?;
        let grids = target.client.grid_bots().await.map_err(|e| e.to_string())?;
        let fleet = crate::engine::selector::join_grids(&grids, &desired, &live.accounts);
        let by_name = crate::engine::selector::Selector {
            kind: "grid".into(),
            ..Default::default()
        };
        let selected = crate::engine::selector::select_grids(&fleet, selector.unwrap_or(&by_name))?;
        let wanted_name = name.trim().to_lowercase();
        let chosen: Vec<_> = selected
            .into_iter()
            .filter(|g| {
                wanted_name.is_empty()
                    || crate::engine::selector::Selectable::name(g).to_lowercase() == wanted_name
            })
            .collect();
        let g = match chosen.as_slice() {
            [one] => *one,
            [] => {
                return Err(
                    "no grid bot matches: list_bots with selector kind `grid` shows them".into(),
                );
            }
            many => {
                return Err(format!(
                    "{} grid bots match: narrow the selector (account, name_matches)",
                    many.len()
                ));
            }
        };
        let live_map = g.live.map(grid::shown_settings).unwrap_or_default();
        let want_map = g.wanted.map(|w| w.settings.clone()).unwrap_or_default();
        let fields = self.fields_explained(
            &want_map,
            &live_map,
            g.wanted.map(|w| &w.origins),
            |field| {
                g.live.is_some() && !crate::engine::kinds::GRID_WRITE_ONLY_FIELDS.contains(&field)
            },
        );
        let numbers = g.wanted.and_then(|w| w.numbers.clone()).or_else(|| {
            let l = g.live?;
            crate::model::grid::Grid {
                lower: l.lower_price,
                upper: l.upper_price,
                lines: l.grids_quantity,
                grid_type: l
                    .grid_type
                    .unwrap_or(crate::model::enums::GridType::Arithmetic),
            }
            .numbers(
                l.quantity_per_grid,
                l.order_currency_type?,
                crate::config::grid::DEFAULT_FEE_PERCENTAGE
                    .parse()
                    .unwrap_or_default(),
            )
            .ok()
        });
        Ok(Explained {
            name: crate::engine::selector::Selectable::name(&g).to_string(),
            id: g.live.map_or(0, |l| l.id),
            account: if g.alias.is_empty() {
                g.account.map(|a| a.name.clone()).unwrap_or_default()
            } else {
                g.alias.to_string()
            },
            config: g
                .wanted
                .map(|w| format!("{}:{}", self.relative_file(&w.source.file), w.source.line))
                .unwrap_or_default(),
            enabled_live: g.live.is_some_and(|l| l.is_enabled),
            active_deals: 0,
            fields,
            dca: None,
            grid: numbers,
            note: match (g.wanted.is_some(), g.live.is_some()) {
                (true, true) => "a grid bot: config and live values side by side; `differs` marks what the next plan changes (3Commas never shows trailing_down_enabled or the upward expansion: the plan compares them with what botform last sent)".into(),
                (true, false) => "a grid bot the config describes and 3Commas does not have yet: the next plan creates it".into(),
                _ => "a grid bot no config file describes: botform leaves it alone (`import` writes it out)".into(),
            },
        })
    }

    pub(super) async fn explain(&self, key: &str) -> Result<Explained, String> {
        let checked = crate::config::check_confined(&self.inner.root);
        let desired = crate::engine::desired::from_checked(&checked);
        let wanted_key = key.trim().to_lowercase();
        let wanted = desired.bots.iter().find(|b| {
            b.name.as_deref().map(str::to_lowercase) == Some(wanted_key.clone())
                || b.pinned_id.map(|id| id.to_string()) == Some(key.trim().to_string())
        });
        let live = match self.one_bot(key).await {
            Ok(bot) => Some(bot),
            Err(e) if wanted.is_none() => return Err(e),
            Err(_) => None,
        };
        let live_map = live
            .as_ref()
            .map(|b| crate::engine::plan::comparable(&b.settings))
            .unwrap_or_default();
        let want_map = wanted
            .map(|w| crate::engine::plan::comparable(&w.settings))
            .unwrap_or_default();
        let fields =
            self.fields_explained(&want_map, &live_map, wanted.map(|w| &w.origins), |_| {
                live.is_some()
            });
        let settings = wanted
            .map(|w| w.settings.clone())
            .or_else(|| live.as_ref().map(|b| b.settings.clone()));
        let dca = settings.as_ref().and_then(|s| {
            let input = crate::model::dca::LadderInput::from_settings(s)?;
            let n = crate::model::dca::compute(&input).ok()?;
            let figures = crate::engine::plan::dca_figures(s);
            Some(DcaSummary {
                capital_per_deal: n
                    .capital_per_deal
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
                capital_all_deals: n
                    .capital_all_deals
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
                currency: figures.and_then(|f| f.currency).unwrap_or_default(),
                price_move_covered_percentage: n.price_move_covered_percentage.to_string(),
                safety_orders: n.ladder.len(),
            })
        });
        Ok(Explained {
            name: wanted
                .and_then(|w| w.name.clone())
                .or_else(|| live.as_ref().and_then(|b| b.settings.name.clone()))
                .unwrap_or_default(),
            id: live.as_ref().map(|b| b.id).unwrap_or(0),
            account: wanted
                .map(|w| w.account.clone())
                .or_else(|| live.as_ref().map(|b| b.account_name.clone()))
                .unwrap_or_default(),
            config: wanted
                .map(|w| format!("{}:{}", self.relative_file(&w.source.file), w.source.line))
                .unwrap_or_default(),
            enabled_live: live.as_ref().is_some_and(|b| b.is_enabled),
            active_deals: live.as_ref().map(|b| b.active_deals_count).unwrap_or(0),
            fields,
            dca,
            grid: None,
            note: match (wanted.is_some(), live.is_some()) {
                (true, true) => "config and live values side by side; `differs` marks what the next plan changes".into(),
                (true, false) => "the config describes this bot but 3Commas has none by that name: the next plan creates it".into(),
                _ => "no config file describes this bot: botform leaves it alone (`import` writes it out)".into(),
            },
        })
    }

    pub(super) fn relative_file(&self, file: &str) -> String {
        super::paths::relative(&self.inner.root, std::path::Path::new(file))
    }

    /// Every deal of a bot (up to [`MAX_DEALS_READ`]), newest first, and the deals 3Commas sent
    /// that could not be read (each with its id and why: one odd deal never fails the rest).
    async fn all_deals(
        &self,
        bot_id: Option<i64>,
        scope: Option<&str>,
        since: i64,
    ) -> Result<(Vec<Deal>, Vec<String>), String> {
        let target = self.target().await?;
        let mut read = deals::read_deals(
            &target.client,
            &deals::DealsWanted {
                bot_id,
                account_id: None,
                finished: scope != Some("active"),
                active: scope != Some("finished"),
                since,
                cap: MAX_DEALS_READ,
            },
        )
        .await
        .map_err(|e| e.to_string())?;
        // Newest first (by when each deal opened), whatever scope each came from.
        read.deals
            .sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        budget::fit(&mut read.unreadable, budget::ANSWER_BUDGET / 10);
        Ok((read.deals, read.unreadable))
    }
}

fn aliases_of(checked: &crate::config::Checked) -> BTreeMap<String, (Option<String>, Option<i64>)> {
    checked
        .config
        .accounts
        .iter()
        .map(|(alias, named)| (alias.clone(), (named.value.name.clone(), named.value.id)))
        .collect()
}

fn find_account<'a>(
    accounts: &'a [Account],
    aliases: &BTreeMap<String, (Option<String>, Option<i64>)>,
    key: &str,
) -> Result<&'a Account, String> {
    let key = key.trim();
    let by_alias = aliases
        .iter()
        .find(|(alias, _)| alias.eq_ignore_ascii_case(key))
        .map(|(_, v)| v);
    accounts
        .iter()
        .find(|a| a.id.to_string() == key)
        .or_else(|| accounts.iter().find(|a| a.name.eq_ignore_ascii_case(key)))
        .or_else(|| {
            let (name, id) = by_alias?;
            accounts
                .iter()
                .find(|a| Some(a.id) == *id || name.as_deref() == Some(a.name.as_str()))
        })
        .ok_or_else(|| {
            let names: Vec<&str> = accounts
                .iter()
                .map(|a| a.name.as_str())
                .chain(aliases.keys().map(String::as_str))
                .collect();
            format!(
                "no account is named, numbered or aliased `{key}`{}; the accounts are: {}",
                did_you_mean(key, names)
                    .map(|h| format!(" ({h})"))
                    .unwrap_or_default(),
                accounts
                    .iter()
                    .map(|a| format!("\"{}\" ({})", a.name, a.id))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

/// A bot by id or name, any case; two bots of one name need the id.
pub fn find_bot<'a>(bots: &'a [LiveBot], key: &str) -> Result<&'a LiveBot, String> {
    let key = key.trim();
    if let Some(bot) = bots.iter().find(|b| b.id.to_string() == key) {
        return Ok(bot);
    }
    let matches: Vec<&LiveBot> = bots
        .iter()
        .filter(|b| {
            b.settings
                .name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(key))
        })
        .collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(format!(
            "no live bot is named or numbered `{key}`{}",
            did_you_mean(key, bots.iter().filter_map(|b| b.settings.name.as_deref()))
                .map(|h| format!("; {h}"))
                .unwrap_or_default()
        )),
        many => Err(format!(
            "{} bots are named `{key}`: give the id ({})",
            many.len(),
            many.iter()
                .map(|b| format!("{} on {}", b.id, b.account_name))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Realized profit of finished deals, per quote currency, and in USD.
fn realized(deals: &[Deal]) -> (Vec<Realized>, Decimal) {
    let mut by_currency: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut usd = Decimal::ZERO;
    for d in deals
        .iter()
        .filter(|d| FINISHED.contains(&d.status.as_str()))
    {
        let currency = crate::engine::performance::quote_of(d);
        *by_currency.entry(currency).or_default() += d.final_profit.unwrap_or_default();
        usd += d.usd_final_profit.unwrap_or_default();
    }
    (
        by_currency
            .into_iter()
            .map(|(currency, profit)| Realized {
                currency,
                profit: profit.to_string(),
            })
            .collect(),
        usd,
    )
}

/// Seconds between two 3Commas timestamps (ISO 8601).
fn duration_s(from: &str, to: &str) -> Option<u64> {
    let a = crate::timefmt::parse_iso(from)?;
    let b = crate::timefmt::parse_iso(to)?;
    (b >= a).then(|| (b - a) as u64)
}

fn page_of<T>(items: Vec<T>, page: usize, per_page: usize) -> (Vec<T>, usize, usize) {
    let pages = items.len().div_ceil(per_page).max(1);
    let page = page.clamp(1, pages);
    let items = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    (items, page, pages)
}

// ---------------------------------------------------------------------------------------------
// The tools

#[tool_router(router = reads_router, vis = "pub(super)")]
impl BotformServer {
    /// The live 3Commas accounts (id, name, exchange) and the config alias of each: what
    /// `[accounts.*]` entries refer to.
    #[tool(
        title = "List accounts",
        annotations(
            title = "List accounts",
            read_only_hint = true,
            destructive_hint = false,
            open_world_hint = true,
            idempotent_hint = true
        )
    )]
    async fn list_accounts(&self) -> Result<Json<AccountsAnswer>, String> {
        let target = self.target().await?;
        let accounts = target.client.accounts().await.map_err(|e| e.to_string())?;
        let aliases = self.aliases();
        let mut accounts: Vec<AccountInfo> = accounts
            .into_iter()
            .map(|a| AccountInfo {
                id: a.id,
                alias: Self::alias_of(&aliases, &a),
                name: a.name,
                market_code: a.market_code.unwrap_or_default(),
                exchange: a.exchange_name.unwrap_or_default(),
            })
            .collect();
        budget::fit(&mut accounts, budget::ANSWER_BUDGET / 2);
        Ok(Json(AccountsAnswer { accounts }))
    }

    /// The strategy catalogue: start and close condition ids with their options and choices.
    #[tool(
        title = "List strategies",
        annotations(
            title = "List strategies",
            read_only_hint = true,
            destructive_hint = false,
            open_world_hint = true,
            idempotent_hint = true
        )
    )]
    async fn list_strategies(
        &self,
        Parameters(args): Parameters<StrategiesArgs>,
    ) -> Result<Json<StrategiesAnswer>, String> {
        let account_type = if args.account.is_empty() {
            None
        } else {
            Some(
                self.account_by(&args.account)
                    .await?
                    .account_type
                    .unwrap_or_default(),
            )
        };
        let catalogue = crate::model::catalogue::Catalogue::get();
        let mut strategies: Vec<StrategyInfo> = catalogue
            .strategies
            .iter()
            .filter(
                |(_, info)| match (&account_type, &info.accounts_whitelist) {
                    (Some(t), Some(list)) => list.contains(t),
                    _ => true,
                },
            )
            .map(|(id, info)| StrategyInfo {
                id: id.clone(),
                name: info.name.clone(),
                options: info
                    .options
                    .iter()
                    .map(|(name, choices)| StrategyOption {
                        name: name.clone(),
                        choices: choices
                            .as_ref()
                            .map(|c| c.keys().cloned().collect())
                            .unwrap_or_default(),
                    })
                    .collect(),
            })
            .collect();
        budget::fit(&mut strategies, budget::ANSWER_BUDGET / 2 - 100);
        Ok(Json(StrategiesAnswer { strategies }))
    }

    /// The pairs an account's exchange trades, in 3Commas' QUOTE_BASE form.
    #[tool(
        title = "Market pairs",
        annotations(
            title = "Market pairs",
            read_only_hint = true,
            destructive_hint = false,
            open_world_hint = true,
            idempotent_hint = true
        )
    )]
    async fn market_pairs(
        &self,
        Parameters(args): Parameters<MarketPairsArgs>,
    ) -> Result<Json<MarketPairsAnswer>, String> {
        let account = self.account_by(&args.account).await?;
        let market = account.market_code.clone().unwrap_or_default();
        let target = self.target().await?;
        let mut pairs = target
            .client
            .market_pairs(&market)
            .await
            .map_err(|e| e.to_string())?;
        if !args.quote.is_empty() {
            let prefix = format!("{}_", args.quote.to_ascii_uppercase());
            pairs.retain(|p| p.starts_with(&prefix));
        }
        if !args.contains.is_empty() {
            let text = args.contains.to_ascii_uppercase();
            pairs.retain(|p| p.contains(&text));
        }
        let total = pairs.len();
        budget::fit(&mut pairs, budget::ANSWER_BUDGET / 2 - 200);
        Ok(Json(MarketPairsAnswer {
            account: account.name,
            market_code: market,
            total,
            pairs,
        }))
    }

    /// One bot: each setting the config wants with its file:line, the live value, which differ, and
    /// DCA numbers.
    #[tool(
        title = "Explain a bot",
        annotations(
            title = "Explain a bot",
            read_only_hint = true,
            destructive_hint = false,
            open_world_hint = true,
            idempotent_hint = true
        )
    )]
    async fn explain_bot(
        &self,
        Parameters(args): Parameters<BotArgs>,
    ) -> Result<Json<Explained>, String> {
        if args.selector.as_ref().is_some_and(|s| s.is_grid()) || self.names_a_grid_bot(&args.bot) {
            return self
                .explain_grid(&args.bot, args.selector.as_ref())
                .await
                .map(Json);
        }
        let key = self.one_bot_key(&args.bot, args.selector.as_ref()).await?;
        self.explain(&key).await.map(Json)
    }

    /// A bot's deals, newest first, 25 a page, with totals: realized profit (stop losses counted),
    /// statuses, safety orders filled, durations.
    #[tool(
        title = "Deals of a bot",
        annotations(
            title = "Deals of a bot",
            read_only_hint = true,
            destructive_hint = false,
            open_world_hint = true,
            idempotent_hint = true
        )
    )]
    async fn deals(
        &self,
        Parameters(args): Parameters<DealsArgs>,
    ) -> Result<Json<DealsAnswer>, String> {
        // No bot and no selector: every deal of the account.
        let bot = if args.bot.is_empty() && args.selector.is_none() {
            None
        } else {
            let key = self.one_bot_key(&args.bot, args.selector.as_ref()).await?;
            Some(self.one_bot(&key).await?)
        };
        let scope = match args.scope.as_str() {
            "" | "all" => None,
            s @ ("active" | "finished") => Some(s),
            other => {
                return Err(format!(
                    "scope `{}`: use `active` or `finished`",
                    crate::diagnostic::quote_input(other)
                ));
            }
        };
        let window = crate::engine::performance::window(
            &args.since,
            &args.until,
            None,
            crate::timefmt::now_unix(),
        )?;
        let (mut deals, unreadable) = self
            .all_deals(bot.as_ref().map(|b| b.id), scope, window.since)
            .await?;
        deals.retain(|d| window.counts(d));
        let (realized, usd) = realized(&deals);
        let mut by_status = BTreeMap::new();
        let max_so = bot
            .as_ref()
            .and_then(|b| b.settings.max_safety_orders)
            .unwrap_or(0) as usize;
        let mut histogram = vec![0usize; max_so + 1];
        let mut durations = Vec::new();
        for d in &deals {
            *by_status.entry(d.status.clone()).or_insert(0) += 1;
            let filled = d.completed_safety_orders_count.unwrap_or(0) as usize;
            if histogram.len() <= filled {
                histogram.resize(filled + 1, 0);
            }
            histogram[filled] += 1;
            if let Some(closed) = &d.closed_at
                && let Some(s) = duration_s(&d.created_at, closed)
            {
                durations.push(s);
            }
        }
        let lines: Vec<DealLine> = deals.iter().map(deal_line).collect();
        let total = lines.len();
        let (mut lines, page, pages) = page_of(lines, args.page, DEALS_PER_PAGE);
        budget::fit(&mut lines, budget::ANSWER_BUDGET / 2 - 2_000);
        let stop_losses = by_status.get("stop_loss_finished").copied().unwrap_or(0);
        Ok(Json(DealsAnswer {
            unreadable_deals: unreadable,
            bot_id: bot.as_ref().map_or(0, |b| b.id),
            bot_name: bot.as_ref().map_or_else(
                || "(every bot of the account)".to_string(),
                |b| b.settings.name.clone().unwrap_or_default(),
            ),
            deals_total: total,
            by_status,
            realized,
            realized_usd: usd.to_string(),
            safety_orders_histogram: histogram,
            average_duration_s: if durations.is_empty() {
                0
            } else {
                durations.iter().sum::<u64>() / durations.len() as u64
            },
            longest_duration_s: durations.iter().copied().max().unwrap_or(0),
            page,
            pages,
            deals: lines,
            note: format!(
                "realized profit sums every finished deal's final profit, stop losses and panic sells included{}; an active deal's profit is unrealized (profit_kind){}",
                if total as u32 >= MAX_DEALS_READ {
                    format!(" (the newest {MAX_DEALS_READ} deals)")
                } else {
                    String::new()
                },
                if stop_losses > 0 {
                    format!("; {stop_losses} stop-loss deal(s) are counted in it")
                } else {
                    String::new()
                }
            ),
        }))
    }

    /// Price and order limits of a pair on an account's exchange: last, bid, ask, and the smallest
    /// order the exchange accepts (base and safety orders below `min_total` are refused).
    #[tool(
        title = "Currency rates and order limits",
        annotations(
            title = "Currency rates and order limits",
            read_only_hint = true,
            destructive_hint = false,
            open_world_hint = true,
            idempotent_hint = true
        )
    )]
    async fn currency_rates(
        &self,
        Parameters(args): Parameters<RatesArgs>,
    ) -> Result<Json<RatesAnswer>, String> {
        let account = self.account_by(&args.account).await?;
        let market = account.market_code.clone().unwrap_or_default();
        let pair = args.pair.trim().to_ascii_uppercase();
        let target = self.target().await?;
        let rates = target
            .client
            .currency_rates(&market, &pair)
            .await
            .map_err(|e| e.to_string())?;
        let field = |name: &str| match rates.get(name) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        Ok(Json(RatesAnswer {
            pair,
            market_code: market,
            last: field("last"),
            bid: field("bid"),
            ask: field("ask"),
            min_total: field("minTotal"),
            min_lot_size: field("minLotSize"),
            lot_step: field("lotStep"),
            price_step: field("priceStep"),
        }))
    }

    /// A bot's performance: 3Commas' deal statistics, profit by day over 30 days, and the realized
    /// profit computed from its deals (stop losses and panic sells included).
    #[tool(
        title = "Bot performance",
        annotations(
            title = "Bot performance",
            read_only_hint = true,
            destructive_hint = false,
            open_world_hint = true,
            idempotent_hint = true
        )
    )]
    async fn bot_performance(
        &self,
        Parameters(args): Parameters<BotArgs>,
    ) -> Result<Json<PerformanceAnswer>, String> {
        let key = self.one_bot_key(&args.bot, args.selector.as_ref()).await?;
        let bot = self.one_bot(&key).await?;
        let target = self.target().await?;
        let stats = target
            .client
            .bot_deals_stats(bot.id)
            .await
            .map_err(|e| e.to_string())?;
        let profit = target
            .client
            .profit_by_day(bot.id, 30)
            .await
            .map_err(|e| e.to_string())?;
        let (deals, unreadable) = self.all_deals(Some(bot.id), None, i64::MIN).await?;
        let (realized, usd) = realized(&deals);
        Ok(Json(PerformanceAnswer {
            unreadable_deals: unreadable,
            bot_id: bot.id,
            bot_name: bot.settings.name.clone().unwrap_or_default(),
            deals_stats: serde_json::to_value(stats).unwrap_or(Value::Null),
            realized,
            realized_usd: usd.to_string(),
            profit_by_day: serde_json::to_value(profit).unwrap_or(Value::Null),
        }))
    }
}

/// A deal as the `deals` answer lists it: an active deal's profit is unrealized (it moves with
/// the price), a finished one's realized (review L-7).
fn deal_line(d: &Deal) -> DealLine {
    let now = crate::engine::performance::profit_now(d);
    DealLine {
        id: d.id,
        status: d.status.clone(),
        opened: d.created_at.clone(),
        closed: d.closed_at.clone().unwrap_or_default(),
        safety_orders_filled: d.completed_safety_orders_count.unwrap_or(0),
        bought_volume: d.bought_volume.map(|v| v.to_string()).unwrap_or_default(),
        profit: now.quote.to_string(),
        profit_kind: if now.realized {
            "realized"
        } else {
            "unrealized"
        },
        usd_profit: now.usd.map(|v| v.to_string()).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deal_durations_come_from_their_timestamps() {
        assert_eq!(
            duration_s("2025-03-01T12:00:00.000Z", "2025-03-02T12:00:00.000Z"),
            Some(86_400)
        );
        assert_eq!(
            duration_s("2025-03-02T12:00:00Z", "2025-03-01T12:00:00Z"),
            None
        );
    }

    #[test]
    fn realized_profit_counts_stop_losses_and_leaves_active_deals_out() {
        let deal = |status: &str, profit: &str| Deal {
            id: 1,
            bot_id: 1,
            account_id: 1,
            pair: "USDT_BTC".into(),
            status: status.into(),
            finished: status != "bought",
            final_profit: Some(profit.parse().unwrap()),
            usd_final_profit: Some(profit.parse().unwrap()),
            from_currency: Some("USDT".into()),
            ..Deal::default()
        };
        let deals = [
            deal("completed", "4.2"),
            deal("stop_loss_finished", "-60.5"),
            deal("bought", "100"),
            deal("failed", "7"),
        ];
        let (by_currency, usd) = realized(&deals);
        assert_eq!(by_currency[0].profit, "-56.3");
        assert_eq!(usd.to_string(), "-56.3");
        let kinds: Vec<&str> = deals.iter().map(|d| deal_line(d).profit_kind).collect();
        assert_eq!(kinds, ["realized", "realized", "unrealized", "realized"]);
    }
}
