//! The fleet-wide reads: `list_bots` and `fleet_performance`, both over one
//! [`Selector`](crate::engine::selector::Selector), and the live snapshot every read of bots and
//! accounts shares.
//!
//! The snapshot is the account list and the bot list, read at most once per
//! [`SNAPSHOT_TTL`] and never across a write: an apply starting or ending makes the next read
//! fetch again. So a per-bot read costs no re-listing of a 1,000-bot fleet, and no answer shows a
//! bot list older than the last apply.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::reads::{BotLine, Realized};
use super::{BotformServer, budget};
use crate::engine::deals;
use crate::engine::desired::Desired;
use crate::engine::performance::{self, BotPerformance, Window};
use crate::engine::selector::{Fleet, FleetBot, Selector};
use crate::model::decimal::Decimal;
use crate::threecommas::client::BotList;
use crate::threecommas::wire::Account;

/// How long a bot list serves later reads (none across a write).
pub const SNAPSHOT_TTL: Duration = Duration::from_secs(10);

/// The live accounts and bots, read together.
pub struct LiveSnapshot {
    taken: Instant,
    /// The write generation it was read in (see [`BotformServer::wrote`]).
    generation: u64,
    pub accounts: Vec<Account>,
    pub bots: BotList,
}

/// The snapshot slot, in the server's shared state.
#[derive(Default)]
pub struct Snapshots {
    slot: tokio::sync::Mutex<Option<Arc<LiveSnapshot>>>,
    generation: std::sync::atomic::AtomicU64,
}

/// Bots in a `list_bots` answer at most.
const BOTS_PER_PAGE: usize = 50;
/// Finished deals read for a window at most (50 pages of 1,000).
const MAX_WINDOW_DEALS: u32 = 50_000;

impl BotformServer {
    /// The live accounts and bots: the snapshot when it is young and no write came since,
    /// else read now (concurrent callers wait for one read).
    pub(super) async fn live(&self) -> Result<Arc<LiveSnapshot>, String> {
        let snapshots = &self.inner.snapshots;
        let mut slot = snapshots.slot.lock().await;
        let generation = snapshots.generation.load(Ordering::SeqCst);
        if let Some(young) = young(&slot, generation) {
            return Ok(young);
        }
        let target = self.target().await?;
        let accounts = target.client.accounts().await.map_err(|e| e.to_string())?;
        let bots = target
            .client
            .bots(Default::default())
            .await
            .map_err(|e| e.to_string())?;
        crate::engine::names::remember(&target.identity, &bots.bots);
        let fresh = Arc::new(LiveSnapshot {
            taken: Instant::now(),
            generation,
            accounts,
            bots,
        });
        *slot = Some(fresh.clone());
        Ok(fresh)
    }

    /// One live bot by id or name (any case), as cheaply as the evidence allows: from a young
    /// snapshot (no request); by `show` when the id is given or the last listing named it (one
    /// request, its name checked); else from a fresh listing of the account.
    pub(super) async fn one_bot(&self, key: &str) -> Result<crate::model::bot::LiveBot, String> {
        {
            let slot = self.inner.snapshots.slot.lock().await;
            let generation = self.inner.snapshots.generation.load(Ordering::SeqCst);
            if let Some(young) = young(&slot, generation) {
                return super::reads::find_bot(&young.bots, key).cloned();
            }
        }
        let target = self.target().await?;
        let key = key.trim();
        let by_id = key.parse::<i64>().ok();
        if let Some(id) = by_id.or_else(|| crate::engine::names::id_of(&target.identity, key))
            && let Ok(wire) = target.client.bot(id).await
        {
            let bot = wire.to_model();
            let named = bot
                .settings
                .name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(key));
            if by_id == Some(bot.id) || named {
                return Ok(bot);
            }
        }
        super::reads::find_bot(&self.live().await?.bots, key).cloned()
    }

    /// An apply starts or ends: the next read of bots fetches them again.
    pub(super) fn wrote(&self) {
        self.inner
            .snapshots
            .generation
            .fetch_add(1, Ordering::SeqCst);
    }

    /// A selector resolved against the live fleet and the config: `f` gets the selection.
    async fn with_selection<T>(
        &self,
        selector: &Selector,
        f: impl FnOnce(&LiveSnapshot, &Desired, Vec<FleetBot>) -> T,
    ) -> Result<T, String> {
        let live = self.live().await?;
        let checked = crate::config::check_confined(&self.inner.root);
        let desired = crate::engine::desired::from_checked(&checked);
        let fleet = Fleet::join(&live.bots, &desired, &live.accounts);
        let selected = fleet.select(selector)?;
        Ok(f(&live, &desired, selected))
    }

    /// The config bots a selector selects, by their place in the config (what an edit
    /// touches), and how many selected live bots the config does not describe. Without the live
    /// account (offline), bots are selected from the config alone unless the selector asks
    /// what only 3Commas knows (`enabled`, `status`).
    pub(super) async fn select_config_bots(
        &self,
        selector: &Selector,
        desired: &Desired,
    ) -> Result<(Vec<usize>, usize), String> {
        let live = match self.live().await {
            Ok(live) => Some(live),
            Err(_) if selector.enabled.is_none() && selector.status.is_empty() => None,
            Err(e) => {
                return Err(format!(
                    "{e} (`enabled` and `status` need the live account)"
                ));
            }
        };
        let (bots, accounts) = match &live {
            Some(l) => (&l.bots.bots[..], &l.accounts[..]),
            None => (&[][..], &[][..]),
        };
        let fleet = Fleet::join(bots, desired, accounts);
        let selected = fleet.select(selector)?;
        let unmanaged = selected.iter().filter(|b| b.wanted.is_none()).count();
        let indexes = selected
            .iter()
            .filter_map(|b| {
                let w = b.wanted?;
                desired.bots.iter().position(|d| std::ptr::eq(d, w))
            })
            .collect();
        Ok((indexes, unmanaged))
    }

    /// The names of the config bots (of `checked`, the config as the caller read it) a selector
    /// selects: what a plan or a backtest of them targets; an error when it selects none.
    pub(super) async fn selected_config_names(
        &self,
        selector: &Selector,
        checked: &crate::config::Checked,
    ) -> Result<Vec<String>, String> {
        let desired = crate::engine::desired::from_checked(checked);
        let (indexes, unmanaged) = self.select_config_bots(selector, &desired).await?;
        let mut names: Vec<String> = indexes
            .iter()
            .filter_map(|&i| desired.bots[i].name.clone())
            .collect();
        names.dedup();
        if names.is_empty() {
            return Err(format!(
                "the selector selects no bot of the config{}",
                if unmanaged > 0 {
                    format!(" ({unmanaged} live bots the config does not describe)")
                } else {
                    String::new()
                }
            ));
        }
        Ok(names)
    }

    /// The one bot `bot` (a name or an id) or a selector names, as a key for [`Self::one_bot`]
    /// and `explain`: its id when live, else its name. A selector that selects none or several
    /// is an error that says how many and names a few.
    pub(super) async fn one_bot_key(
        &self,
        bot: &str,
        selector: Option<&Selector>,
    ) -> Result<String, String> {
        let selector = match (bot.is_empty(), selector) {
            (false, None) => return Ok(bot.to_string()),
            (true, Some(selector)) => selector,
            _ => return Err("give `bot` (a name or an id) or `selector`, not both".into()),
        };
        let picked = self
            .with_selection(selector, |_, _, selected| {
                let keys: Vec<String> = selected
                    .iter()
                    .map(|b| {
                        b.id()
                            .map_or_else(|| b.name().to_string(), |id| id.to_string())
                    })
                    .collect();
                let names: Vec<String> = selected
                    .iter()
                    .take(10)
                    .map(|b| crate::diagnostic::quote_input(b.name()))
                    .collect();
                (keys, names)
            })
            .await?;
        match picked {
            (keys, _) if keys.len() == 1 => Ok(keys[0].clone()),
            (keys, _) if keys.is_empty() => Err("the selector selects no bot".into()),
            (keys, names) => Err(format!(
                "the selector selects {} bots ({}{}): narrow it to one, or use `list_bots` or `fleet_performance` for several",
                keys.len(),
                names.join(", "),
                if keys.len() > names.len() {
                    ", ..."
                } else {
                    ""
                }
            )),
        }
    }

    fn line_of(&self, bot: &FleetBot) -> BotLine {
        let settings = bot
            .live
            .map(|b| &b.settings)
            .or_else(|| bot.wanted.map(|w| &w.settings));
        let figures = settings.and_then(crate::engine::plan::dca_figures);
        let mut pairs = bot.pairs().to_vec();
        if pairs.len() > 6 {
            let more = pairs.len() - 5;
            pairs.truncate(5);
            pairs.push(format!("... {more} more"));
        }
        BotLine {
            kind: String::new(),
            id: bot.id().unwrap_or(0),
            name: bot.name().to_string(),
            account: if bot.alias.is_empty() {
                bot.account.map(|a| a.name.clone()).unwrap_or_default()
            } else {
                bot.alias.to_string()
            },
            enabled: bot.enabled(),
            status: bot.status().to_string(),
            pairs,
            active_deals: bot.live.map_or(0, |b| b.active_deals_count),
            capital_all_deals: figures
                .as_ref()
                .and_then(|f| f.capital_all_deals)
                .map(|c| c.to_string())
                .unwrap_or_default(),
            currency: figures.and_then(|f| f.currency).unwrap_or_default(),
            config: bot
                .wanted
                .map(|w| format!("{}:{}", self.relative_file(&w.source.file), w.source.line))
                .unwrap_or_default(),
        }
    }

    /// The grid bots a `kind = "grid"` selector selects, as lines with their cursors (live id,
    /// else a negative config position, as for DCA bots).
    async fn grid_lines(&self, selector: &Selector) -> Result<Vec<(i64, BotLine)>, String> {
        use crate::engine::selector::{Selectable, join_grids, select_grids};
        let live = self.live().await?;
        let target = self.target().await?;
        let grids = target.client.grid_bots().await.map_err(|e| e.to_string())?;
        let checked = crate::config::check_confined(&self.inner.root);
        let desired = crate::engine::desired::from_checked(&checked);
        let fleet = join_grids(&grids, &desired, &live.accounts);
        Ok(select_grids(&fleet, selector)?
            .iter()
            .map(|g| {
                let cursor = match (g.live, g.wanted) {
                    (Some(l), _) => l.id,
                    (None, Some(w)) => desired
                        .grid_bots
                        .iter()
                        .position(|d| std::ptr::eq(d, w))
                        .map_or(i64::MIN, |i| -(i as i64) - 1),
                    (None, None) => i64::MIN,
                };
                let capital = g
                    .live
                    .map(|l| (crate::engine::grid::shown_settings(l), l.pair.clone()))
                    .or_else(|| g.wanted.map(|w| (w.settings.clone(), w.pair.clone())))
                    .and_then(|(settings, pair)| crate::engine::grid::capital_of(&settings, &pair));
                let line = BotLine {
                    kind: "grid".into(),
                    id: g.live.map_or(0, |l| l.id),
                    name: g.name().to_string(),
                    account: if g.alias.is_empty() {
                        g.account.map(|a| a.name.clone()).unwrap_or_default()
                    } else {
                        g.alias.to_string()
                    },
                    enabled: g.enabled(),
                    status: g.status().to_string(),
                    pairs: g.pairs().to_vec(),
                    active_deals: 0,
                    capital_all_deals: capital
                        .as_ref()
                        .map(|(_, c)| c.to_string())
                        .unwrap_or_default(),
                    currency: capital.map(|(c, _)| c).unwrap_or_default(),
                    config: g
                        .wanted
                        .map(|w| {
                            format!("{}:{}", self.relative_file(&w.source.file), w.source.line)
                        })
                        .unwrap_or_default(),
                };
                (cursor, line)
            })
            .collect())
    }

    /// Every finished deal that closed at or after `since`, and every active deal; of one
    /// account when given ([`deals::read_deals`]).
    async fn window_deals(
        &self,
        account_id: Option<i64>,
        since: i64,
    ) -> Result<deals::DealsRead, String> {
        let target = self.target().await?;
        deals::read_deals(
            &target.client,
            &deals::DealsWanted {
                bot_id: None,
                account_id,
                finished: true,
                active: true,
                since,
                cap: MAX_WINDOW_DEALS,
            },
        )
        .await
        .map_err(|e| e.to_string())
    }
}

/// The snapshot in the slot, when it is young and no write came since it was read.
fn young(slot: &Option<Arc<LiveSnapshot>>, generation: u64) -> Option<Arc<LiveSnapshot>> {
    slot.as_ref()
        .filter(|s| s.generation == generation && s.taken.elapsed() < SNAPSHOT_TTL)
        .cloned()
}

// ---------------------------------------------------------------------------------------------
// Arguments and answers

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListBotsArgs {
    /// Which bots; none: all.
    #[serde(default)]
    pub selector: Selector,
    /// The previous answer's `next_after_id` (0: from the first).
    #[serde(default)]
    pub after_id: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ListBotsAnswer {
    /// Bots the selector selects, in all.
    pub total: usize,
    /// Of those, how many come before this answer's first.
    pub before: usize,
    /// Up to 50, fewer when long lines fill the answer.
    pub bots: Vec<BotLine>,
    /// Pass it as `after_id` for the next bots; 0 after the last. A live bot's id, or a negative
    /// number for a bot only the config has.
    pub next_after_id: i64,
    pub more: String,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FleetPerformanceArgs {
    /// Which bots; none: all.
    #[serde(default)]
    pub selector: Selector,
    /// Window start: `30d` (default), `12h`, a date or an ISO time.
    #[serde(default)]
    pub since: String,
    /// Window end, the same forms (default now).
    #[serde(default)]
    pub until: String,
    /// loss (default), profit, stop_losses, unrealized or exhausted.
    #[serde(default)]
    pub sort: String,
    /// Bots to rank, up to 50 (default 10).
    #[serde(default)]
    pub limit: usize,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FleetLine {
    pub rank: usize,
    pub id: i64,
    pub name: String,
    pub account: String,
    /// `file:line` of the config entry; empty when the config leaves the bot alone.
    pub config: String,
    pub enabled: bool,
    /// Deals closed inside the window.
    pub deals_closed: usize,
    /// Their realized profit per quote currency (stop losses and panic sells counted).
    pub realized: Vec<Realized>,
    pub realized_usd: String,
    /// Deals open now, and their unrealized profit (it moves with the price).
    pub active_deals: usize,
    pub unrealized_usd: String,
    pub stop_losses: usize,
    pub panic_sells: usize,
    /// Share of counted deals (closed in the window, and open) that filled every safety order,
    /// in percent.
    pub ladder_exhausted_percentage: String,
    /// The largest move against a deal its figures show (at least), in percent.
    pub worst_adverse_move_percentage: String,
    /// How far the ladder reaches, in percent; empty when it cannot be computed.
    pub ladder_covers_percentage: String,
    pub average_duration_s: u64,
    pub longest_duration_s: u64,
    /// The strongest reasons, in a sentence.
    pub why: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FleetTotals {
    pub deals_closed: usize,
    pub realized_usd: String,
    pub active_deals: usize,
    pub unrealized_usd: String,
    pub stop_losses: usize,
    pub panic_sells: usize,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FleetPerformanceAnswer {
    /// The window, ISO 8601 UTC.
    pub since: String,
    pub until: String,
    pub sort: String,
    /// Bots the selector selects (live ones have deals).
    pub bots_selected: usize,
    /// Of those, bots with a deal closed in the window or open now.
    pub bots_with_deals: usize,
    pub deals_read: usize,
    /// 3Commas requests this answer cost (the deal pages; the bot list is shared).
    pub requests: usize,
    /// Over every selected bot with deals, not only those ranked.
    pub totals: FleetTotals,
    pub ranked: Vec<FleetLine>,
    /// Deals 3Commas sent that botform could not read (not counted), up to 10.
    pub unreadable_deals: Vec<String>,
    pub unreadable_left_out: usize,
    pub more: String,
}

// ---------------------------------------------------------------------------------------------
// The tools

/// A bot's place for `after_id`: a live bot's id; for a bot only the config has, minus one more
/// than its position in the config (so 0 stays "from the first").
fn cursor_of(bot: &FleetBot, desired: &Desired) -> i64 {
    match (bot.live, bot.wanted) {
        (Some(live), _) => live.id,
        (None, Some(w)) => desired
            .bots
            .iter()
            .position(|d| std::ptr::eq(d, w))
            .map_or(i64::MIN, |i| -(i as i64) - 1),
        (None, None) => i64::MIN,
    }
}

/// Cursors in the fleet's order: live ids ascending, then config positions.
fn cursor_order(cursor: i64) -> (bool, i64) {
    if cursor > 0 {
        (false, cursor)
    } else {
        (true, cursor.saturating_neg())
    }
}

fn usd(d: Decimal) -> String {
    d.round_dp(2).to_string()
}

#[tool_router(router = fleet_router, vis = "pub(super)")]
impl BotformServer {
    /// The bots a selector picks, 50 an answer (then `after_id`): name, account, on/off, status,
    /// pairs, deals, capital, config line.
    #[tool(
        title = "List bots",
        annotations(
            title = "List bots",
            read_only_hint = true,
            destructive_hint = false,
            open_world_hint = true,
            idempotent_hint = true
        )
    )]
    async fn list_bots(
        &self,
        Parameters(args): Parameters<ListBotsArgs>,
    ) -> Result<Json<ListBotsAnswer>, String> {
        let lines: Vec<(i64, BotLine)> = if args.selector.is_grid() {
            self.grid_lines(&args.selector).await?
        } else {
            self.with_selection(&args.selector, |_, desired, selected| {
                selected
                    .iter()
                    .map(|b| (cursor_of(b, desired), self.line_of(b)))
                    .collect()
            })
            .await?
        };
        let total = lines.len();
        let before = if args.after_id == 0 {
            0
        } else {
            lines
                .iter()
                .take_while(|(c, _)| cursor_order(*c) <= cursor_order(args.after_id))
                .count()
        };
        let mut page: Vec<(i64, BotLine)> =
            lines.into_iter().skip(before).take(BOTS_PER_PAGE).collect();
        let cursors: Vec<i64> = page.iter().map(|(c, _)| *c).collect();
        let mut bots: Vec<BotLine> = page.drain(..).map(|(_, l)| l).collect();
        // What does not fit is not dropped: the next call starts right after the last one kept.
        // A line too long for an answer on its own is shortened, so every call moves on.
        let first = bots.first().map(BotLine::shortened);
        if budget::fit(&mut bots, budget::ANSWER_BUDGET / 2 - 300) == 0
            && let Some(first) = first
        {
            bots = vec![first];
        }
        let rest = total - before - bots.len();
        let next_after_id = match bots.len().checked_sub(1) {
            Some(last) if rest > 0 => cursors[last],
            _ => 0,
        };
        let more = if rest > 0 {
            format!(
                "{rest} more after these: call again with after_id {next_after_id}, or narrow the selector"
            )
        } else {
            String::new()
        };
        Ok(Json(ListBotsAnswer {
            total,
            before,
            bots,
            next_after_id,
            more,
        }))
    }

    /// Rank selected bots over a window (default 30d) from one deals read: realized and unrealized
    /// profit, stop losses, ladders used up, and why.
    #[tool(
        title = "Fleet performance",
        annotations(
            title = "Fleet performance",
            read_only_hint = true,
            destructive_hint = false,
            open_world_hint = true,
            idempotent_hint = true
        )
    )]
    async fn fleet_performance(
        &self,
        Parameters(args): Parameters<FleetPerformanceArgs>,
    ) -> Result<Json<FleetPerformanceAnswer>, String> {
        let now = crate::timefmt::now_unix();
        let Window { since, until } =
            performance::window(&args.since, &args.until, Some("30d"), now)?;
        let sort = match args.sort.to_ascii_lowercase().as_str() {
            "" | "loss" => "loss",
            "profit" => "profit",
            "stop_losses" => "stop_losses",
            "unrealized" => "unrealized",
            "exhausted" => "exhausted",
            other => {
                return Err(format!(
                    "sort `{}`: use loss, profit, stop_losses, unrealized or exhausted",
                    crate::diagnostic::quote_input(other)
                ));
            }
        };
        let limit = if args.limit == 0 {
            10
        } else {
            args.limit.min(50)
        };
        // The selection, with what each line needs from the fleet (owned: the deal read awaits).
        struct Selected {
            id: i64,
            line: BotLine,
            settings: crate::model::bot::BotSettings,
        }
        let (selected, account_ids) = self
            .with_selection(&args.selector, |_, _, bots| {
                let accounts: std::collections::BTreeSet<i64> = bots
                    .iter()
                    .filter_map(|b| b.live.map(|l| l.account_id))
                    .collect();
                let selected: Vec<Selected> = bots
                    .iter()
                    .filter_map(|b| {
                        let live = b.live?;
                        Some(Selected {
                            id: live.id,
                            line: self.line_of(b),
                            settings: live.settings.clone(),
                        })
                    })
                    .collect();
                (selected, accounts)
            })
            .await?;
        // One account selected: read only its deals; else the whole account's list.
        let account_id = match account_ids.len() {
            1 => account_ids.first().copied(),
            _ => None,
        };
        let read = if selected.is_empty() {
            deals::DealsRead::default()
        } else {
            self.window_deals(account_id, since).await?
        };
        let settings: BTreeMap<i64, &crate::model::bot::BotSettings> =
            selected.iter().map(|s| (s.id, &s.settings)).collect();
        let mut figures = performance::per_bot(&read.deals, &settings, Window { since, until });
        let totals = FleetTotals {
            deals_closed: figures.iter().map(|p| p.deals_closed).sum(),
            realized_usd: usd(figures.iter().map(|p| p.realized_usd).sum()),
            active_deals: figures.iter().map(|p| p.active_deals).sum(),
            unrealized_usd: usd(figures.iter().map(|p| p.unrealized_usd).sum()),
            stop_losses: figures.iter().map(|p| p.stop_losses).sum(),
            panic_sells: figures.iter().map(|p| p.panic_sells).sum(),
        };
        let exhausted_share = |p: &BotPerformance| -> Decimal {
            let counted = (p.deals_closed + p.active_deals) as i64;
            if counted == 0 {
                Decimal::ZERO
            } else {
                Decimal::from_int(p.ladder_exhausted as i64) * Decimal::ONE_HUNDRED
                    / Decimal::from_int(counted)
            }
        };
        figures.sort_by(|a, b| {
            let order = match sort {
                "profit" => b.realized_usd.cmp(&a.realized_usd),
                "stop_losses" => b
                    .stop_losses
                    .cmp(&a.stop_losses)
                    .then(a.realized_usd.cmp(&b.realized_usd)),
                "unrealized" => a.unrealized_usd.cmp(&b.unrealized_usd),
                "exhausted" => exhausted_share(b).cmp(&exhausted_share(a)),
                _ => a.realized_usd.cmp(&b.realized_usd),
            };
            order.then(a.bot_id.cmp(&b.bot_id))
        });
        let bots_with_deals = figures.len();
        let lines: BTreeMap<i64, &BotLine> = selected.iter().map(|s| (s.id, &s.line)).collect();
        let mut ranked: Vec<FleetLine> = figures
            .iter()
            .take(limit)
            .enumerate()
            .map(|(i, p)| {
                let line = lines.get(&p.bot_id);
                FleetLine {
                    rank: i + 1,
                    id: p.bot_id,
                    name: line.map(|l| l.name.clone()).unwrap_or_default(),
                    account: line.map(|l| l.account.clone()).unwrap_or_default(),
                    config: line.map(|l| l.config.clone()).unwrap_or_default(),
                    enabled: line.is_some_and(|l| l.enabled),
                    deals_closed: p.deals_closed,
                    realized: p
                        .realized
                        .iter()
                        .map(|(currency, profit)| Realized {
                            currency: currency.clone(),
                            profit: profit.to_string(),
                        })
                        .collect(),
                    realized_usd: usd(p.realized_usd),
                    active_deals: p.active_deals,
                    unrealized_usd: usd(p.unrealized_usd),
                    stop_losses: p.stop_losses,
                    panic_sells: p.panic_sells,
                    ladder_exhausted_percentage: exhausted_share(p).round_dp(1).to_string(),
                    worst_adverse_move_percentage: p.worst_adverse_move.round_dp(2).to_string(),
                    ladder_covers_percentage: p
                        .ladder_covers
                        .map(|c| c.round_dp(2).to_string())
                        .unwrap_or_default(),
                    average_duration_s: p.average_duration_s,
                    longest_duration_s: p.longest_duration_s,
                    why: performance::why(p),
                }
            })
            .collect();
        let cut = ranked.len() - budget::fit(&mut ranked, budget::ANSWER_BUDGET / 2 - 1_500);
        let mut unreadable = read.unreadable;
        let unreadable_total = unreadable.len();
        unreadable.truncate(10);
        let mut more = Vec::new();
        if bots_with_deals > ranked.len() {
            more.push(format!(
                "{} more bots with deals in the window: raise limit (up to 50) or narrow the selector",
                bots_with_deals - ranked.len()
            ));
        }
        if cut > 0 {
            more.push(format!("{cut} ranked lines left out to fit the answer"));
        }
        if read.capped {
            more.push(format!(
                "only the newest {MAX_WINDOW_DEALS} finished deals were read: narrow the window or the selector"
            ));
        }
        Ok(Json(FleetPerformanceAnswer {
            since: crate::timefmt::iso(since * 1000),
            until: crate::timefmt::iso(until * 1000),
            sort: sort.to_string(),
            bots_selected: selected.len(),
            bots_with_deals,
            deals_read: read.deals.len(),
            requests: read.requests,
            totals,
            ranked,
            unreadable_left_out: unreadable_total - unreadable.len(),
            unreadable_deals: unreadable,
            more: more.join("; "),
        }))
    }
}
