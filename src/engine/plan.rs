//! The plan: what differs between the config and the live account, as data.
//!
//! `plan()` is a pure function of the desired state and the live state: no I/O. The human text,
//! the JSON plan, the saved plan file and the MCP answer are all renderings of the [`Plan`] value.
//! Both sides are normalized the same way before comparing (decimals by value, pair and condition
//! order, option values as text), so applying a plan and planning again gives no changes.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub use super::change::{
    Action, Change, DcaFigures, FieldChange, Held, LiveState, PlanProblem, Planning, short_hash,
};
use super::desired::{Desired, WantedBot};
use super::kinds::DCA_WRITE_ONLY_FIELDS;
pub use super::kinds::ResourceKind;
use crate::diagnostic::shown;
use crate::model::bot::{BotSettings, LiveBot, UnreadableBot};
use crate::model::dca::{self, LadderInput};
use crate::model::decimal::Decimal;
use crate::model::enums::{TradingMode, VolumeType};
use crate::threecommas::wire::Account;

/// The version of the JSON plan; changes only when a field is removed or changes meaning.
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// Where the plan is aimed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanTarget {
    pub api_url: String,
    pub mode: Option<TradingMode>,
    /// True when the target is botform's built-in sandbox.
    pub sandbox: bool,
}

/// The change threshold apply enforces without `--force`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Limits {
    /// Largest share, in percent of an account's live bots, that one apply may update or delete
    /// (deletes: at any fleet size; updates: from 10 live bots on the account).
    pub max_change_percentage: Decimal,
    /// Most bots one apply may delete on one account.
    pub max_delete: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
    /// Bots matched to the config (the base of the safety threshold).
    pub managed: usize,
    /// Live bots on the config's accounts that the config does not describe.
    pub unmanaged: usize,
    /// Every live bot on each of the config's accounts, by account id: the base of the change
    /// threshold.
    pub live_by_account: BTreeMap<i64, usize>,
}

/// The most capital an account's enabled bots can lock at once (every deal they may open, run to
/// its last safety order), before and after the plan, in one quote currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Capital {
    pub account_id: i64,
    /// The config's account alias.
    pub account: String,
    pub currency: String,
    pub before: Decimal,
    pub after: Decimal,
    /// The account's `max_capital`, when the config sets one.
    pub budget: Option<Decimal>,
    /// The currency `max_capital` is read in: the one most of the account's bots are quoted in
    /// (as validate reads it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_currency: Option<String>,
    /// For a currency other than the budget's: `after` in the budget's currency at 3Commas'
    /// rate when the plan was made (`currency_rates`' last price).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_in_budget_currency: Option<Decimal>,
    /// The account's free balance of this currency when the plan was made (3Commas'
    /// `account_table_data`, `position_available`), when 3Commas reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available: Option<Decimal>,
}

impl Capital {
    /// The bots may lock more than the account has free.
    pub fn short_of_balance(&self) -> bool {
        self.available.is_some_and(|a| a < self.after)
    }
}

/// The currency an account's `max_capital` is read in: the one most of its (present) bots are
/// quoted in, ties to the last in alphabetical order, as validate's budget check reads it.
fn budget_currency(desired: &Desired, alias: &str) -> Option<String> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for bot in desired
        .bots
        .iter()
        .filter(|b| b.account == alias && !b.absent)
    {
        if let Some(currency) = dca_figures(&bot.settings).and_then(|f| f.currency) {
            *counts.entry(currency).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(currency, _)| currency)
}

/// A live bot the config leaves alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BotRef {
    pub id: i64,
    pub name: String,
    pub account_id: i64,
}

/// A botform plan: the changes that would make a 3Commas account match a config
/// (`botform plan --format json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "botform plan")]
pub struct Plan {
    /// 1 for this layout; raised only when a field is removed or changes meaning.
    pub format_version: u32,
    pub target: PlanTarget,
    pub changes: Vec<Change>,
    pub summary: Summary,
    /// The safety limits apply enforces, from the config's settings when the plan was made: part
    /// of the plan (and of its hash), so a saved plan cannot carry looser ones than it was made
    /// with.
    pub limits: Limits,
    /// The mode 3Commas answered in when no `Forced-Mode` was sent (`target.mode` is unset): paper
    /// when every account it listed is a paper account, else real.
    pub answered_in: Option<TradingMode>,
    pub unmanaged: Vec<BotRef>,
    /// Config bots no change is planned for, because they may be a live bot botform cannot read
    /// (see `LiveState::unreadable`): held until that bot reads cleanly or is pinned elsewhere.
    pub held: Vec<Held>,
    /// Capital at risk per account and currency, before and after (see [`Capital`]). Bots whose
    /// figures depend on the price (volumes in the base currency, mixed quotes) are not counted.
    pub capital: Vec<Capital>,
    /// A hash of every live object the plan read and depends on (`bot/<id>`, `absent/<account
    /// id>/<name>` for bots to create, `blacklist`): apply refuses when any of them moved.
    pub fingerprints: BTreeMap<String, String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Check that what each change shows (`fields`) is what it would write (`settings`,
    /// `enable`, `blacklist`), so no plan can display one value and send another.
    pub fn check_consistent(&self) -> Result<(), String> {
        for change in &self.changes {
            if change.kind == ResourceKind::GridBot {
                super::grid::check_consistent(change)
                    .map_err(|what| format!("{}: {what}", change.address))?;
                continue;
            }
            let shown = |field: &str| {
                change
                    .fields
                    .iter()
                    .find(|f| f.field == field)
                    .and_then(|f| f.after.clone())
            };
            let wrong = |what: &str| Err(format!("{}: {what}", change.address));
            match change.action {
                Action::UpdateBlacklist => {
                    let list: BTreeSet<&str> = change
                        .blacklist
                        .iter()
                        .flatten()
                        .map(String::as_str)
                        .collect();
                    for f in &change.fields {
                        let added = f.after.as_ref().and_then(Value::as_str);
                        let removed = f.before.as_ref().and_then(Value::as_str);
                        if added.is_some_and(|p| !list.contains(p))
                            || removed.is_some_and(|p| list.contains(p))
                        {
                            return wrong("the pairs shown differ from the pairs sent");
                        }
                    }
                }
                Action::Create | Action::Update => {
                    let sent = match (&change.settings, change.action) {
                        (Some(s), Action::Create) => s.to_map(),
                        (Some(s), _) => comparable(s),
                        (None, _) => serde_json::Map::new(),
                    };
                    let shown_fields: BTreeSet<&str> = change
                        .fields
                        .iter()
                        .map(|f| f.field.as_str())
                        .filter(|f| *f != "enabled")
                        .collect();
                    let sent_write_only = change
                        .settings
                        .as_ref()
                        .map(BotSettings::to_map)
                        .unwrap_or_default();
                    for field in &shown_fields {
                        let sent_value = if DCA_WRITE_ONLY_FIELDS.contains(field) {
                            sent_write_only.get(*field)
                        } else {
                            sent.get(*field)
                        };
                        if sent_value != shown(field).as_ref() {
                            return wrong(&format!("`{field}` shown differs from `{field}` sent"));
                        }
                    }
                    // Every field sent is shown (write-only fields never compare, by design).
                    if sent.keys().any(|k| !shown_fields.contains(k.as_str())) {
                        return wrong("it sends a field it does not show");
                    }
                    let enable_shown = shown("enabled").and_then(|v| v.as_bool());
                    let enable_sent = match change.action {
                        Action::Create => change.enable.or(enable_shown.filter(|e| !e)),
                        _ => change.enable,
                    };
                    if enable_shown != enable_sent {
                        return wrong("the on/off state shown differs from the one sent");
                    }
                }
                Action::Delete => {}
            }
        }
        Ok(())
    }

    /// A hash of the whole plan: what the person reviewed is what gets applied.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(
            serde_json::to_vec(self).expect("plans serialize"),
        ))
    }
}

/// Compare and normalize both sides the same way: pairs and conditions sorted, write-only
/// fields dropped, decimals by value (their JSON form is normalized).
pub fn comparable(settings: &BotSettings) -> serde_json::Map<String, Value> {
    let mut s = settings.clone();
    if let Some(p) = s.pairs.as_mut() {
        p.sort();
    }
    for list in [
        &mut s.strategy_list,
        &mut s.close_strategy_list,
        &mut s.safety_strategy_list,
    ] {
        if let Some(l) = list.as_mut() {
            l.sort();
        }
    }
    // With take-profit steps 3Commas keeps no ordinary take profit (it stores the 0 sent with
    // steps as null): 0, null and absent are the same, so it is not compared.
    if s.take_profit_steps
        .as_ref()
        .is_some_and(|steps| !steps.is_empty())
    {
        s.take_profit = None;
    }
    let mut map = s.to_map();
    for field in DCA_WRITE_ONLY_FIELDS {
        map.remove(*field);
    }
    map
}

/// The fingerprint of a live bot: everything a plan depends on, nothing that drifts by itself
/// (profits, deal counters).
pub fn bot_fingerprint(bot: &LiveBot) -> String {
    let value = serde_json::json!({
        "account_id": bot.account_id,
        "is_enabled": bot.is_enabled,
        "settings": comparable(&bot.settings),
    });
    short_hash(&value)
}

pub fn blacklist_fingerprint(pairs: &[String]) -> String {
    let mut sorted = pairs.to_vec();
    sorted.sort();
    short_hash(&serde_json::json!(sorted))
}

pub fn absent_key(account_id: i64, name: &str) -> String {
    format!("absent/{account_id}/{name}")
}

/// The live bot each config bot describes (as a plan matches them: pinned id, name on its
/// account, a rename botform remembers), in `desired.bots`' order; `None` where there is none
/// yet, or the match is not clear (the plan says why).
pub fn live_bot_ids(desired: &Desired, live: &LiveState) -> Vec<Option<i64>> {
    let accounts = resolve_accounts(desired, live, &mut Vec::new());
    desired
        .bots
        .iter()
        .map(|wanted| {
            let account = accounts.get(&wanted.account)?;
            find_live(wanted, account, live, desired)
                .ok()
                .flatten()
                .map(|b| b.id)
        })
        .collect()
}

/// Resolve each account alias to a live account.
pub(super) fn resolve_accounts(
    desired: &Desired,
    live: &LiveState,
    problems: &mut Vec<PlanProblem>,
) -> BTreeMap<String, Account> {
    let mut resolved = BTreeMap::new();
    let names: Vec<&str> = live.accounts.iter().map(|a| a.name.as_str()).collect();
    for (alias, account) in &desired.accounts {
        let found = match (account.spec.id, &account.spec.name) {
            (Some(id), _) => live
                .accounts
                .iter()
                .find(|a| a.id == id)
                .cloned()
                .ok_or_else(|| PlanProblem {
                    message: format!(
                        "account `{alias}` is pinned to id {id}, which is not a live account"
                    ),
                    help: format!(
                        "the live accounts are: {}",
                        describe_accounts(&live.accounts)
                    ),
                    source: Some(account.source.clone()),
                }),
            (None, Some(name)) => {
                let matches: Vec<&Account> =
                    live.accounts.iter().filter(|a| &a.name == name).collect();
                match matches.as_slice() {
                    [one] => Ok((*one).clone()),
                    [] => Err(PlanProblem {
                        message: format!("account `{alias}`: no live account is named \"{name}\""),
                        help: crate::diagnostic::did_you_mean(name, names.iter().copied())
                            .unwrap_or_else(|| {
                                format!(
                                    "the live accounts are: {}",
                                    describe_accounts(&live.accounts)
                                )
                            }),
                        source: Some(account.source.clone()),
                    }),
                    many => Err(PlanProblem {
                        message: format!(
                            "account `{alias}`: {} live accounts are named \"{name}\"",
                            many.len()
                        ),
                        help: format!(
                            "pin one with `id = ...`: {}",
                            many.iter()
                                .map(|a| a.id.to_string())
                                .collect::<Vec<_>>()
                                .join(" or ")
                        ),
                        source: Some(account.source.clone()),
                    }),
                }
            }
            (None, None) => continue, // reported by validation
        };
        match found {
            Ok(a) => {
                resolved.insert(alias.clone(), a);
            }
            Err(p) => problems.push(p),
        }
    }
    resolved
}

fn describe_accounts(accounts: &[Account]) -> String {
    accounts
        .iter()
        .map(|a| format!("\"{}\" (id {})", a.name, a.id))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The DCA figures of complete settings, when they can be computed.
pub fn dca_figures(settings: &BotSettings) -> Option<DcaFigures> {
    let input = LadderInput::from_settings(settings)?;
    let n = dca::compute(&input).ok()?;
    let pairs = settings.pairs.clone().unwrap_or_default();
    Some(DcaFigures {
        capital_per_deal: n.capital_per_deal,
        capital_all_deals: n.capital_all_deals,
        price_move_covered_percentage: n.price_move_covered_percentage,
        currency: n.capital_currency.and_then(|c| {
            crate::model::bot::common_currency(&pairs, c == VolumeType::BaseCurrency)
        }),
    })
}

/// Compute the plan. `Err` lists every problem that prevents a trustworthy plan.
pub fn plan(
    desired: &Desired,
    live: &LiveState,
    target: PlanTarget,
) -> Result<Plan, Vec<PlanProblem>> {
    let mut problems = Vec::new();
    let accounts = resolve_accounts(desired, live, &mut problems);
    let mut changes = Vec::new();
    let mut fingerprints = BTreeMap::new();
    let mut matched: BTreeSet<i64> = BTreeSet::new();

    let mut held = Vec::new();
    let mut unmanaged = Vec::new();
    let mut out = Planning {
        changes: &mut changes,
        fingerprints: &mut fingerprints,
        problems: &mut problems,
        held: &mut held,
    };
    // One pass per concern; each kind's room adds its own (grid bots: `grid::plan`).
    plan_blacklist(desired, live, &mut out);
    for wanted in &desired.bots {
        plan_bot(wanted, desired, live, &accounts, &mut matched, &mut out);
    }
    plan_unmatched(desired, live, &accounts, &matched, &mut unmanaged, &mut out);
    let grids_matched =
        super::grid::plan(&desired.grid_bots, desired.prune, live, &accounts, &mut out);
    let account_ids: BTreeSet<i64> = accounts.values().map(|a| a.id).collect();

    if !problems.is_empty() {
        return Err(problems);
    }
    // Deterministic order: blacklist, creates, updates, deletes; config order within each.
    changes.sort_by_key(|c| c.action);
    let summary = Summary {
        // A replacement (`-/+`) is one to add and one to destroy, as terraform counts it.
        add: changes.iter().filter(|c| c.creates()).count(),
        change: changes
            .iter()
            .filter(|c| matches!(c.action, Action::Update | Action::UpdateBlacklist))
            .count(),
        destroy: changes
            .iter()
            .filter(|c| c.action == Action::Delete)
            .count(),
        managed: matched.len() + grids_matched,
        unmanaged: unmanaged.len(),
        live_by_account: account_ids
            .iter()
            .map(|id| {
                (
                    *id,
                    live.bots.iter().filter(|b| b.account_id == *id).count()
                        + live
                            .grid_bots
                            .iter()
                            .filter(|g| g.account_id == *id)
                            .count(),
                )
            })
            .collect(),
    };
    let capital = capital_at_risk(desired, &changes, live, &accounts);
    let answered = target
        .mode
        .is_none()
        .then(|| answered_in(&live.accounts))
        .flatten();
    Ok(Plan {
        format_version: PLAN_FORMAT_VERSION,
        target,
        changes,
        summary,
        answered_in: answered,
        held,
        limits: Limits {
            max_change_percentage: desired.max_change_percentage,
            max_delete: desired.max_delete,
        },
        unmanaged,
        capital,
        fingerprints,
    })
}

/// The blacklist: the config's pairs against the live ones (one change replaces it whole).
fn plan_blacklist(desired: &Desired, live: &LiveState, out: &mut Planning<'_>) {
    if let Some((pairs, source)) = &desired.blacklist {
        out.fingerprints
            .insert("blacklist".into(), blacklist_fingerprint(&live.blacklist));
        let want: BTreeSet<&String> = pairs.iter().collect();
        let have: BTreeSet<&String> = live.blacklist.iter().collect();
        if want != have {
            let fields = want
                .difference(&have)
                .map(|p| FieldChange {
                    field: "pairs".into(),
                    before: None,
                    after: Some(Value::String((*p).clone())),
                })
                .chain(have.difference(&want).map(|p| FieldChange {
                    field: "pairs".into(),
                    before: Some(Value::String((*p).clone())),
                    after: None,
                }))
                .collect();
            out.changes.push(Change {
                fields,
                unchanged: want.intersection(&have).count(),
                blacklist: Some(pairs.clone()),
                source: Some(source.clone()),
                ..Change::new(Action::UpdateBlacklist, "blacklist".into())
            });
        }
    }
}

/// One config DCA bot: matched to its live bot (or held, or a problem), then created, updated,
/// deleted or left as it is.
fn plan_bot(
    wanted: &WantedBot,
    desired: &Desired,
    live: &LiveState,
    accounts: &BTreeMap<String, Account>,
    matched: &mut BTreeSet<i64>,
    out: &mut Planning<'_>,
) {
    let Some(account) = accounts.get(&wanted.account) else {
        return;
    };
    if let Some(unreadable) = unreadable_match(wanted, account, live) {
        out.held.push(Held {
            address: format!(
                "bot \"{}\" on {}",
                shown(wanted.name.as_deref().unwrap_or("?")),
                shown(&wanted.account)
            ),
            reason: format!(
                "3Commas sent {} in a form botform cannot read ({}); nothing is planned for it",
                unreadable.describe(),
                unreadable.reason
            ),
        });
        return;
    }
    let found = match find_live(wanted, account, live, desired) {
        Ok(found) => found,
        Err(problem) => {
            out.problems.push(problem);
            return;
        }
    };
    if let Some(bot) = found {
        if !matched.insert(bot.id) {
            out.problems.push(PlanProblem {
                message: format!(
                    "live bot {} (\"{}\") is described by two config bots",
                    bot.id,
                    bot.settings.name.as_deref().unwrap_or("")
                ),
                help: "each live bot can be described once; remove or rename one of them".into(),
                source: Some(wanted.source.clone()),
            });
            return;
        }
        // 3Commas cannot change a bot's direction: its edit endpoint ignores `strategy`.
        if let (Some(want), Some(have)) = (wanted.settings.strategy, bot.settings.strategy)
            && want != have
            && !wanted.absent
        {
            out.problems.push(PlanProblem {
                message: format!(
                    "bot {} (\"{}\") trades {have} on 3Commas; the config says {want}, and 3Commas cannot change a bot's direction",
                    bot.id,
                    bot.settings.name.as_deref().unwrap_or("")
                ),
                help: format!(
                    "to trade {want}, describe a new bot under another name and mark this one `absent = true` (apply --allow-delete deletes it once it has no active deals); or set `strategy = \"{have}\"` again"
                ),
                source: Some(wanted.source.clone()),
            });
            return;
        }
        out.fingerprints
            .insert(format!("bot/{}", bot.id), bot_fingerprint(bot));
    } else if let Some(name) = &wanted.name {
        out.fingerprints
            .insert(absent_key(account.id, name), "absent".into());
    }
    let name = wanted
        .name
        .clone()
        .or_else(|| found.and_then(|b| b.settings.name.clone()));
    let address = format!(
        "bot \"{}\" on {}",
        shown(name.as_deref().unwrap_or("?")),
        shown(&wanted.account)
    );
    let base = Change {
        bot_name: name,
        account: Some(wanted.account.clone()),
        account_id: Some(account.id),
        bot_id: found.map(|b| b.id),
        source: Some(wanted.source.clone()),
        origins: wanted.origins.clone(),
        ..Change::new(Action::Create, address)
    };
    match (found, wanted.absent) {
        (None, true) => {}
        (Some(bot), true) => out.changes.push(delete_change(base, bot)),
        (None, false) => {
            if let Some(pending) = live.pending_creates.iter().find(|p| {
                p.started.account_id == account.id && Some(&p.started.name) == wanted.name.as_ref()
            }) {
                out.fingerprints
                    .remove(&absent_key(account.id, &pending.started.name));
                out.held.push(Held {
                    address: base.address.clone(),
                    reason: pending.reason(),
                });
                return;
            }
            out.changes.push(create_change(base, wanted));
        }
        (Some(bot), false) => out.changes.extend(update_change(base, wanted, bot, live)),
    }
}

/// A config DCA bot 3Commas does not have yet: every setting it sets, switched on after when
/// the config says so.
fn create_change(base: Change, wanted: &WantedBot) -> Change {
    let mut fields: Vec<FieldChange> = wanted
        .settings
        .to_map()
        .into_iter()
        .map(|(field, after)| FieldChange {
            field,
            before: None,
            after: Some(after),
        })
        .collect();
    if let Some(enabled) = wanted.enabled {
        fields.push(FieldChange {
            field: "enabled".into(),
            before: None,
            after: Some(Value::Bool(enabled)),
        });
    }
    Change {
        fields,
        settings: Some(wanted.settings.clone()),
        enable: wanted.enabled.filter(|e| *e),
        dca_after: dca_figures(&wanted.settings),
        ..base
    }
}

/// A config DCA bot against its live bot: only what differs (and the write-only fields against
/// what botform last sent), laid over the live bot when sent; `None` when nothing does.
fn update_change(
    base: Change,
    wanted: &WantedBot,
    bot: &LiveBot,
    live: &LiveState,
) -> Option<Change> {
    let live_map = comparable(&bot.settings);
    let want_map = comparable(&wanted.settings);
    let mut fields: Vec<FieldChange> = want_map
        .iter()
        .filter(|(k, v)| live_map.get(*k) != Some(*v))
        .map(|(k, v)| FieldChange {
            field: k.clone(),
            before: live_map.get(k).cloned(),
            after: Some(v.clone()),
        })
        .collect();
    let unchanged = want_map.len() - fields.len();
    // Write-only fields compare with what botform last sent this bot (review M-1);
    // never sent: unknown, so sent now.
    let want_all = wanted.settings.to_map();
    for field in DCA_WRITE_ONLY_FIELDS {
        let Some(want) = want_all.get(*field) else {
            continue;
        };
        let last = live.remembered.last_sent(bot.id, field);
        if last != Some(want) {
            fields.push(FieldChange {
                field: (*field).to_string(),
                before: last.cloned(),
                after: Some(want.clone()),
            });
        }
    }
    let settings_change = !fields.is_empty();
    let toggle = wanted.enabled.filter(|e| *e != bot.is_enabled);
    if let Some(e) = toggle {
        fields.push(FieldChange {
            field: "enabled".into(),
            before: Some(Value::Bool(bot.is_enabled)),
            after: Some(Value::Bool(e)),
        });
    }
    if fields.is_empty() {
        return None;
    }
    // Only what changes (and the write-only fields, which 3Commas never shows), laid over
    // the live bot when sent: what is shown is what is written.
    let settings = settings_change.then(|| {
        let send: Vec<&str> = fields
            .iter()
            .map(|f| f.field.as_str())
            .chain(DCA_WRITE_ONLY_FIELDS.iter().copied())
            .collect();
        wanted.settings.only(&send)
    });
    let after = bot.settings.overlaid(&wanted.settings);
    let (dca_before, dca_after) = (dca_figures(&bot.settings), dca_figures(&after));
    let dca_changed = dca_before != dca_after;
    Some(Change {
        action: Action::Update,
        fields,
        unchanged,
        settings,
        enable: toggle,
        dca_before: dca_before.filter(|_| dca_changed),
        dca_after: dca_after.filter(|_| dca_changed),
        ..base
    })
}

/// Live bots on the config's accounts that no config bot describes: retired when `revert` or
/// prune says so, else listed as unmanaged.
fn plan_unmatched(
    desired: &Desired,
    live: &LiveState,
    accounts: &BTreeMap<String, Account>,
    matched: &BTreeSet<i64>,
    unmanaged: &mut Vec<BotRef>,
    out: &mut Planning<'_>,
) {
    // Live bots on the config's accounts that no config bot describes.
    let account_ids: BTreeSet<i64> = accounts.values().map(|a| a.id).collect();
    let mut orphans: Vec<&LiveBot> = live
        .bots
        .iter()
        .filter(|b| account_ids.contains(&b.account_id) && !matched.contains(&b.id))
        .collect();
    orphans.sort_by_key(|b| b.id);
    for bot in orphans {
        let retire = desired.retire.get(&bot.id).copied();
        if retire == Some(super::desired::Retire::Disable) {
            out.fingerprints
                .insert(format!("bot/{}", bot.id), bot_fingerprint(bot));
            if bot.is_enabled {
                let alias = accounts
                    .iter()
                    .find(|(_, a)| a.id == bot.account_id)
                    .map(|(k, _)| k.clone());
                let name = bot.settings.name.clone().unwrap_or_default();
                out.changes.push(Change {
                    action: Action::Update,
                    bot_name: Some(name.clone()),
                    account: alias.clone(),
                    account_id: Some(bot.account_id),
                    bot_id: Some(bot.id),
                    enable: Some(false),
                    fields: vec![FieldChange {
                        field: "enabled".into(),
                        before: Some(Value::Bool(true)),
                        after: Some(Value::Bool(false)),
                    }],
                    ..Change::new(
                        Action::Update,
                        format!(
                            "bot \"{}\" on {}",
                            shown(&name),
                            shown(alias.as_deref().unwrap_or("?"))
                        ),
                    )
                });
            }
            continue;
        }
        if desired.prune || retire == Some(super::desired::Retire::Delete) {
            out.fingerprints
                .insert(format!("bot/{}", bot.id), bot_fingerprint(bot));
            let alias = accounts
                .iter()
                .find(|(_, a)| a.id == bot.account_id)
                .map(|(k, _)| k.clone());
            let name = bot.settings.name.clone().unwrap_or_default();
            let change = Change {
                bot_name: Some(name.clone()),
                account: alias.clone(),
                account_id: Some(bot.account_id),
                bot_id: Some(bot.id),
                ..Change::new(
                    Action::Delete,
                    format!(
                        "bot \"{}\" on {}",
                        shown(&name),
                        shown(alias.as_deref().unwrap_or("?"))
                    ),
                )
            };
            out.changes.push(delete_change(change, bot));
        } else {
            unmanaged.push(BotRef {
                id: bot.id,
                name: bot.settings.name.clone().unwrap_or_default(),
                account_id: bot.account_id,
            });
        }
    }
}

/// Every enabled bot's worst case, summed per account and currency: the live bots as they are,
/// then as the changes leave them (updated, toggled, deleted) plus the bots created enabled.
fn capital_at_risk(
    desired: &Desired,
    changes: &[Change],
    live: &LiveState,
    accounts: &BTreeMap<String, Account>,
) -> Vec<Capital> {
    let mut sums: BTreeMap<(i64, String), (Decimal, Decimal)> = BTreeMap::new();
    let mut add = |account: i64, settings: &BotSettings, before: bool| {
        let Some(f) = dca_figures(settings) else {
            return;
        };
        let (Some(amount), Some(currency)) = (f.capital_all_deals, f.currency) else {
            return;
        };
        let entry = sums.entry((account, currency)).or_default();
        if before {
            entry.0 += amount;
        } else {
            entry.1 += amount;
        }
    };
    let by_bot: BTreeMap<i64, &Change> = changes
        .iter()
        .filter(|c| c.kind.is_dca_bot())
        .filter_map(|c| c.bot_id.map(|id| (id, c)))
        .collect();
    let ids: BTreeSet<i64> = accounts.values().map(|a| a.id).collect();
    for bot in live.bots.iter().filter(|b| ids.contains(&b.account_id)) {
        if bot.is_enabled {
            add(bot.account_id, &bot.settings, true);
        }
        match by_bot.get(&bot.id) {
            Some(c) if c.action == Action::Delete => {}
            Some(c) => {
                let after = match &c.settings {
                    Some(s) => bot.settings.overlaid(s),
                    None => bot.settings.clone(),
                };
                if c.enable.unwrap_or(bot.is_enabled) {
                    add(bot.account_id, &after, false);
                }
            }
            None if bot.is_enabled => add(bot.account_id, &bot.settings, false),
            None => {}
        }
    }
    for c in changes.iter().filter(|c| c.action == Action::Create) {
        if let (Some(account), Some(settings), Some(true)) = (c.account_id, &c.settings, c.enable) {
            add(account, settings, false);
        }
    }
    for (account, currency, before, after) in super::grid::capital(changes, live, &ids) {
        let entry = sums.entry((account, currency)).or_default();
        entry.0 += before;
        entry.1 += after;
    }
    sums.into_iter()
        .map(|((account_id, currency), (before, after))| {
            let account = accounts
                .iter()
                .find(|(_, a)| a.id == account_id)
                .map(|(alias, _)| alias.clone())
                .unwrap_or_default();
            let budget = desired
                .accounts
                .get(&account)
                .and_then(|a| a.spec.max_capital);
            Capital {
                budget,
                budget_currency: budget.and_then(|_| budget_currency(desired, &account)),
                after_in_budget_currency: None,
                available: None,
                account_id,
                account,
                currency,
                before,
                after,
            }
        })
        .collect()
}

/// A delete shows what goes: every setting of the live bot, as terraform's destroy does.
fn delete_change(base: Change, bot: &LiveBot) -> Change {
    let mut fields: Vec<FieldChange> = comparable(&bot.settings)
        .into_iter()
        .map(|(field, before)| FieldChange {
            field,
            before: Some(before),
            after: None,
        })
        .collect();
    fields.push(FieldChange {
        field: "enabled".into(),
        before: Some(Value::Bool(bot.is_enabled)),
        after: None,
    });
    Change {
        action: Action::Delete,
        active_deals: bot.active_deals_count,
        dca_before: dca_figures(&bot.settings),
        fields,
        ..base
    }
}

/// The mode a list of accounts shows: paper accounts only (3Commas' paper trading simulator) is
/// paper mode; any exchange account is real. `None` for no accounts.
pub fn answered_in(accounts: &[Account]) -> Option<TradingMode> {
    if accounts.is_empty() {
        return None;
    }
    let paper = |a: &Account| {
        a.account_type.as_deref() == Some("Account::PaperTradingAccount")
            || a.market_code.as_deref() == Some("paper_trading")
    };
    Some(if accounts.iter().all(paper) {
        TradingMode::Paper
    } else {
        TradingMode::Real
    })
}

/// An unreadable live bot a config bot may describe: the one with its pinned id, or, unpinned, one
/// on its account with its name or with no name that could be read.
fn unreadable_match<'a>(
    wanted: &WantedBot,
    account: &Account,
    live: &'a LiveState,
) -> Option<&'a UnreadableBot> {
    live.unreadable.iter().find(|u| match wanted.pinned_id {
        Some(id) => u.id == Some(id),
        None => {
            u.account_id.is_none_or(|a| a == account.id)
                && u.name
                    .as_ref()
                    .is_none_or(|n| Some(n) == wanted.name.as_ref())
        }
    })
}

/// The live bot a config bot describes: by pinned id, else by name on its account, else the bot
/// botform remembers writing under that name, renamed since in the web app (review L12: the plan
/// renames it back, never makes a twin), unless another config bot has its new name.
fn find_live<'a>(
    wanted: &WantedBot,
    account: &Account,
    live: &'a LiveState,
    desired: &Desired,
) -> Result<Option<&'a LiveBot>, PlanProblem> {
    if let Some(id) = wanted.pinned_id {
        return match live.bots.iter().find(|b| b.id == id) {
            Some(bot) if bot.account_id == account.id => Ok(Some(bot)),
            Some(bot) => Err(PlanProblem {
                message: format!("bot id {id} is on account {} (\"{}\"), not on `{}`", bot.account_id, bot.account_name, wanted.account),
                help: "a bot cannot move between accounts: fix `account`, or remove `id` to create a new bot".into(),
                source: Some(wanted.source.clone()),
            }),
            None if wanted.absent => Ok(None),
            None => Err(PlanProblem {
                message: format!("bot id {id} does not exist on 3Commas"),
                help: "it may have been deleted: remove `id = ...` to create the bot anew".into(),
                source: Some(wanted.source.clone()),
            }),
        };
    }
    let Some(name) = &wanted.name else {
        return Ok(None);
    };
    let same: Vec<&LiveBot> = live
        .bots
        .iter()
        .filter(|b| b.account_id == account.id && b.settings.name.as_deref() == Some(name.as_str()))
        .collect();
    match same.as_slice() {
        [] if wanted.absent => Ok(None),
        [] => Ok(renamed_since(name, account, live, desired)),
        [one] => Ok(Some(one)),
        many => Err(PlanProblem {
            message: format!(
                "{} live bots on `{}` are named \"{name}\"",
                many.len(),
                wanted.account
            ),
            help: format!(
                "pin the one this config describes with `id = ...`: {}",
                many.iter()
                    .map(|b| b.id.to_string())
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
            source: Some(wanted.source.clone()),
        }),
    }
}

/// The live bot botform last wrote as `name` on `account`, now under another name that no config
/// bot claims.
fn renamed_since<'a>(
    name: &str,
    account: &Account,
    live: &'a LiveState,
    desired: &Desired,
) -> Option<&'a LiveBot> {
    let mut remembered = live
        .remembered
        .bots
        .iter()
        .filter(|(_, r)| r.account_id == account.id && r.name == name);
    let (id, _) = remembered.next()?;
    if remembered.next().is_some() {
        return None; // two bots once had this name: not a rename botform can tell
    }
    let bot = live
        .bots
        .iter()
        .find(|b| b.id == *id && b.account_id == account.id)?;
    let now = bot.settings.name.as_deref()?;
    // Conservative: a config bot of that name on any account keeps the live bot as it is.
    let claimed = desired
        .bots
        .iter()
        .any(|w| w.pinned_id == Some(bot.id) || w.name.as_deref() == Some(now));
    (now != name && !claimed).then_some(bot)
}

/// What moved since the plan was made: one line per object whose fingerprint changed.
pub fn staleness(plan: &Plan, live: &LiveState) -> Vec<String> {
    let mut moved = Vec::new();
    for (key, expected) in &plan.fingerprints {
        if key == "blacklist" {
            if blacklist_fingerprint(&live.blacklist) != *expected {
                moved.push("the blacklist changed".to_string());
            }
        } else if let Some(id) = key.strip_prefix("bot/") {
            let id: i64 = id.parse().unwrap_or_default();
            match live.bots.iter().find(|b| b.id == id) {
                None => moved.push(format!("bot {id} no longer exists")),
                Some(bot) if bot_fingerprint(bot) != *expected => moved.push(format!(
                    "bot {id} (\"{}\") changed",
                    bot.settings.name.as_deref().unwrap_or("")
                )),
                Some(_) => {}
            }
        } else if let Some(grid_moved) = super::grid::staleness(key, expected, live) {
            moved.extend(grid_moved);
        } else if let Some(rest) = key.strip_prefix("absent/") {
            let (account, name) = rest.split_once('/').unwrap_or((rest, ""));
            let account: i64 = account.parse().unwrap_or_default();
            if let Some(bot) = live
                .bots
                .iter()
                .find(|b| b.account_id == account && b.settings.name.as_deref() == Some(name))
            {
                moved.push(format!(
                    "bot \"{}\" now exists (id {}): the plan would create it again",
                    shown(name),
                    bot.id
                ));
            } else if let Some(u) = live.unreadable.iter().find(|u| {
                u.account_id.is_none_or(|a| a == account)
                    && u.name.as_deref().is_none_or(|n| n == name)
            }) {
                moved.push(format!(
                    "{} may be the bot \"{}\" the plan would create, and cannot be read ({})",
                    u.describe(),
                    shown(name),
                    u.reason
                ));
            }
        }
    }
    moved
}
