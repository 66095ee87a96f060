//! Grid bots in plan and apply: the grid bot kind's room in the engine (issue 19).
//!
//! The shared core does for grid bots what it does for DCA bots: the plan as data and its hash,
//! the safety rails (`--allow-delete`, the change threshold, `max_delete`), the staleness check,
//! the target's lease, the journal of creates (an unclear create is never sent twice, and nothing
//! of its name is created while it may land), the last-sent memory of write-only fields, the
//! apply history. This room gives the kind's own parts, one per layer:
//!
//! - **desired**: [`WantedGrid`] (in `desired`, beside the DCA bots' `WantedBot`);
//! - **read**: [`LiveState::grid_bots`] (3Commas' list, read only when the config has grid bots);
//! - **diff** ([`plan`]): a config grid bot matches a live one by pinned id, else by its name on
//!   its account; settings compare by value, string booleans and counts parsed by the wire room;
//!   the write-only fields compare with what botform last sent; a new `pair` is a replacement
//!   (`-/+`, a delete and a create in one change, so it needs `--allow-delete`);
//! - **write** ([`run_change`]): create with `POST /ver1/grid_bots/manual`; update with `PATCH
//!   .../manual` carrying the full core set every time (3Commas' §1.1: name, prices, lines, size,
//!   and every setting the bot shows, the config's laid over the live bot's), never `pair`;
//!   enable only after `required_balances` says the account can fund the grid (spot); delete
//!   after switching the bot off; every write read back.
//!
//! What a deleted grid does with its coins is undocumented (the API has no final action, unlike
//! the web app's "Close bot"): the plan says so on every delete.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::change::{
    Action, Change, FieldChange, Held, LiveState, PlanProblem, Planning, short_hash,
};
use super::desired::WantedGrid;
use super::kinds::{GRID_SETTINGS, GRID_WRITE_ONLY_FIELDS, ResourceKind};
use super::lease;
use super::write::{
    ChangeResult, Failure, LOOKS_AFTER_UNCLEAR_CREATE, SETTLE_ATTEMPTS, failure, malformed, started,
};
use crate::model::decimal::Decimal;
use crate::model::enums::{GridCurrency, GridType};
use crate::model::grid::Grid;
use crate::threecommas::grid_wire::{RequiredBalances, WireGridBot};
use crate::threecommas::wire::Account;
use crate::threecommas::{ApiError, Client};

fn is_setting(field: &str) -> bool {
    GRID_SETTINGS.contains(&field)
}

/// What a live grid bot shows of [`GRID_SETTINGS`] (null where it shows none), in the config's JSON
/// forms, so both sides compare by value.
pub fn shown_settings(grid: &WireGridBot) -> Map<String, Value> {
    let mut map = match serde_json::to_value(grid) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    map.retain(|k, _| is_setting(k));
    map
}

/// The fingerprint of a live grid bot: what a plan depends on, nothing that drifts by itself
/// (profits, prices, lines).
pub fn fingerprint(grid: &WireGridBot) -> String {
    short_hash(&serde_json::json!({
        "account_id": grid.account_id,
        "is_enabled": grid.is_enabled,
        "name": grid.name,
        "pair": grid.pair,
        "settings": shown_settings(grid),
    }))
}

/// The fingerprint key of a live grid bot.
pub fn key(id: i64) -> String {
    format!("grid/{id}")
}

/// The fingerprint key of a grid bot the plan creates: no live grid bot has its name there.
pub fn absent_key(account_id: i64, name: &str) -> String {
    format!("absent-grid/{account_id}/{name}")
}

/// What moved since the plan was made, for one of this kind's fingerprint keys (`None`: not a
/// grid key).
pub fn staleness(key: &str, expected: &str, live: &LiveState) -> Option<Option<String>> {
    if let Some(id) = key.strip_prefix("grid/") {
        let id: i64 = id.parse().unwrap_or_default();
        return Some(match live.grid_bots.iter().find(|g| g.id == id) {
            None => Some(format!("grid bot {id} no longer exists")),
            Some(g) if fingerprint(g) != expected => Some(format!(
                "grid bot {id} (\"{}\") changed",
                crate::diagnostic::shown(&g.name)
            )),
            Some(_) => None,
        });
    }
    let rest = key.strip_prefix("absent-grid/")?;
    let (account, name) = rest.split_once('/').unwrap_or((rest, ""));
    let account: i64 = account.parse().unwrap_or_default();
    Some(
        live.grid_bots
            .iter()
            .find(|g| g.account_id == account && g.name == name)
            .map(|g| {
                format!(
                    "grid bot \"{}\" now exists (id {}): the plan would create it again",
                    crate::diagnostic::shown(name),
                    g.id
                )
            }),
    )
}

/// The most a grid's orders can hold, in its quote currency: every line a buy (what validate's
/// `max_capital` counts), from a settings map (a live bot's, or a body sent).
pub fn capital_of(settings: &Map<String, Value>, pair: &str) -> Option<(String, Decimal)> {
    let number = |key: &str| -> Option<Decimal> { settings.get(key)?.as_str()?.parse().ok() };
    let grid = Grid {
        lower: number("lower_price")?,
        upper: number("upper_price")?,
        lines: u32::try_from(settings.get("grids_quantity")?.as_u64()?).ok()?,
        grid_type: settings
            .get("grid_type")
            .and_then(|t| serde_json::from_value(t.clone()).ok())
            .unwrap_or(GridType::Arithmetic),
    };
    let order_currency: GridCurrency =
        serde_json::from_value(settings.get("order_currency_type")?.clone()).ok()?;
    let numbers = grid
        .numbers(number("quantity_per_grid")?, order_currency, Decimal::ZERO)
        .ok()?;
    let quote = pair.split_once('_')?.0.to_string();
    Some((quote, numbers.capital_quote))
}

/// Grid capital per account and currency, before and after the plan's changes (enabled grid
/// bots only, as for DCA bots): `(account id, currency, before, after)`.
pub(super) fn capital(
    changes: &[Change],
    live: &LiveState,
    accounts: &BTreeSet<i64>,
) -> Vec<(i64, String, Decimal, Decimal)> {
    let mut sums = Vec::new();
    let by_grid: BTreeMap<i64, &Change> = changes
        .iter()
        .filter(|c| c.kind == ResourceKind::GridBot)
        .filter_map(|c| Some((c.bot_id?, c)))
        .collect();
    for g in live
        .grid_bots
        .iter()
        .filter(|g| accounts.contains(&g.account_id))
    {
        let shown = shown_settings(g);
        if g.is_enabled
            && let Some((currency, amount)) = capital_of(&shown, &g.pair)
        {
            sums.push((g.account_id, currency, amount, Decimal::ZERO));
        }
        let (settings, pair, enabled) = match by_grid.get(&g.id) {
            Some(c) if c.action == Action::Delete && c.replaces_because.is_none() => continue,
            Some(c) => {
                let body = c.grid_body.clone().unwrap_or(shown);
                let pair = body
                    .get("pair")
                    .and_then(Value::as_str)
                    .unwrap_or(&g.pair)
                    .to_string();
                (body, pair, c.enable.unwrap_or(g.is_enabled))
            }
            None => (shown, g.pair.clone(), g.is_enabled),
        };
        if enabled && let Some((currency, amount)) = capital_of(&settings, &pair) {
            sums.push((g.account_id, currency, Decimal::ZERO, amount));
        }
    }
    for c in changes
        .iter()
        .filter(|c| c.kind == ResourceKind::GridBot && c.action == Action::Create)
    {
        if let (Some(account), Some(body), Some(true)) = (c.account_id, &c.grid_body, c.enable)
            && let Some((currency, amount)) = body
                .get("pair")
                .and_then(Value::as_str)
                .and_then(|pair| capital_of(body, pair))
        {
            sums.push((account, currency, Decimal::ZERO, amount));
        }
    }
    sums
}

/// Plan the config's grid bots against the live ones on their accounts. Under `prune`, a config
/// that describes grid bots owns every grid bot on its accounts: the ones it does not describe
/// are deleted (a config with no grid bot prunes none, so turning prune on for DCA bots never
/// deletes grid bots managed by hand). Returns how many live grid bots the config describes.
pub(super) fn plan(
    wanted: &[WantedGrid],
    prune: bool,
    live: &LiveState,
    accounts: &BTreeMap<String, Account>,
    out: &mut Planning<'_>,
) -> usize {
    let mut matched: BTreeSet<i64> = BTreeSet::new();
    for grid in wanted {
        let Some(account) = accounts.get(&grid.account) else {
            continue;
        };
        let found = match find_live(grid, account, live) {
            Ok(found) => found,
            Err(problem) => {
                out.problems.push(problem);
                continue;
            }
        };
        if let Some(g) = found {
            if !matched.insert(g.id) {
                out.problems.push(PlanProblem {
                    message: format!(
                        "live grid bot {} (\"{}\") is described by two config grid bots",
                        g.id,
                        crate::diagnostic::shown(&g.name)
                    ),
                    help: "each live grid bot can be described once; remove or rename one".into(),
                    source: Some(grid.source.clone()),
                });
                continue;
            }
            out.fingerprints.insert(key(g.id), fingerprint(g));
        }
        let base = Change {
            kind: ResourceKind::GridBot,
            bot_name: Some(grid.name.clone()),
            account: Some(grid.account.clone()),
            account_id: Some(account.id),
            bot_id: found.map(|g| g.id),
            source: Some(grid.source.clone()),
            origins: grid.origins.clone(),
            ..Change::new(
                Action::Create,
                ResourceKind::GridBot.address(&grid.name, &grid.account),
            )
        };
        let change = match (found, grid.absent) {
            (None, true) => None,
            (Some(g), true) => Some(delete(base, g)),
            (None, false) => {
                if let Some(pending) = live.pending_creates.iter().find(|p| {
                    p.started.kind == ResourceKind::GridBot
                        && p.started.account_id == account.id
                        && p.started.name == grid.name
                }) {
                    out.held.push(Held {
                        address: base.address.clone(),
                        reason: pending.reason(),
                    });
                    continue;
                }
                out.fingerprints
                    .insert(absent_key(account.id, &grid.name), "absent".into());
                Some(create(base, grid, account.id))
            }
            (Some(g), false) if g.pair != grid.pair => Some(replace(base, g, grid, account.id)),
            (Some(g), false) => update(base, g, grid, live),
        };
        out.changes.extend(change);
    }
    if prune && !wanted.is_empty() {
        let on: BTreeMap<i64, &str> = accounts
            .iter()
            .map(|(alias, a)| (a.id, alias.as_str()))
            .collect();
        for g in live
            .grid_bots
            .iter()
            .filter(|g| on.contains_key(&g.account_id) && !matched.contains(&g.id))
        {
            let alias = on[&g.account_id];
            out.fingerprints.insert(key(g.id), fingerprint(g));
            out.changes.push(delete(
                Change {
                    kind: ResourceKind::GridBot,
                    bot_name: Some(g.name.clone()),
                    account: Some(alias.to_string()),
                    account_id: Some(g.account_id),
                    bot_id: Some(g.id),
                    ..Change::new(
                        Action::Delete,
                        ResourceKind::GridBot.address(&g.name, alias),
                    )
                },
                g,
            ));
        }
    }
    matched.len()
}

/// The live grid bot a config grid bot describes: by pinned id, else by name on its account.
fn find_live<'a>(
    grid: &WantedGrid,
    account: &Account,
    live: &'a LiveState,
) -> Result<Option<&'a WireGridBot>, PlanProblem> {
    if let Some(id) = grid.pinned_id {
        return match live.grid_bots.iter().find(|g| g.id == id) {
            Some(g) if g.account_id == account.id => Ok(Some(g)),
            Some(g) => Err(PlanProblem {
                message: format!(
                    "grid bot id {id} is on account {}, not on `{}`",
                    g.account_id, grid.account
                ),
                help: "a grid bot cannot move between accounts: fix `account`, or remove `id` to create a new one".into(),
                source: Some(grid.source.clone()),
            }),
            None if grid.absent => Ok(None),
            None => Err(PlanProblem {
                message: format!("grid bot id {id} does not exist on 3Commas"),
                help: "it may have been deleted: remove `id = ...` to create the grid bot anew"
                    .into(),
                source: Some(grid.source.clone()),
            }),
        };
    }
    let same: Vec<&WireGridBot> = live
        .grid_bots
        .iter()
        .filter(|g| g.account_id == account.id && g.name == grid.name)
        .collect();
    match same.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        many => Err(PlanProblem {
            message: format!(
                "{} live grid bots on `{}` are named \"{}\"",
                many.len(),
                grid.account,
                crate::diagnostic::shown(&grid.name)
            ),
            help: format!(
                "pin the one this config describes with `id = ...`: {}",
                many.iter()
                    .map(|g| g.id.to_string())
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
            source: Some(grid.source.clone()),
        }),
    }
}

/// The body of `POST /ver1/grid_bots/manual`: the account, pair and name, and every setting the
/// config sets.
fn create_body(grid: &WantedGrid, account_id: i64) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("account_id".into(), Value::from(account_id));
    body.insert("pair".into(), Value::String(grid.pair.clone()));
    body.insert("name".into(), Value::String(grid.name.clone()));
    body.extend(grid.settings.clone());
    body
}

fn field(name: &str, before: Option<Value>, after: Option<Value>) -> FieldChange {
    FieldChange {
        field: name.to_string(),
        before,
        after,
    }
}

fn create(base: Change, grid: &WantedGrid, account_id: i64) -> Change {
    let body = create_body(grid, account_id);
    let mut fields: Vec<FieldChange> = body
        .iter()
        .filter(|(k, _)| k.as_str() != "account_id" && k.as_str() != "name")
        .map(|(k, v)| field(k, None, Some(v.clone())))
        .collect();
    if let Some(enabled) = grid.enabled {
        fields.push(field("enabled", None, Some(Value::Bool(enabled))));
    }
    let enable = grid.enabled.filter(|e| *e);
    Change {
        fields,
        grid_body: Some(body),
        enable,
        warnings: enable
            .map(|_| vec![balancing_warning(grid)])
            .unwrap_or_default(),
        ..base
    }
}

/// A new pair: 3Commas cannot change it (`pair` is deprecated on update), so the bot is deleted
/// and created anew, in one change: switched off, deleted, created, switched on if wanted.
fn replace(base: Change, old: &WireGridBot, grid: &WantedGrid, account_id: i64) -> Change {
    let body = create_body(grid, account_id);
    let shown = shown_settings(old);
    let mut fields = vec![field(
        "pair",
        Some(Value::String(old.pair.clone())),
        Some(Value::String(grid.pair.clone())),
    )];
    fields.extend(grid.settings.iter().map(|(k, v)| {
        field(
            k,
            shown.get(k).filter(|v| !v.is_null()).cloned(),
            Some(v.clone()),
        )
    }));
    // The new bot is switched on when the config says so, or when the old one was on.
    let enable = grid.enabled.unwrap_or(old.is_enabled);
    fields.push(field("enabled", None, Some(Value::Bool(enable))));
    let mut warnings = vec![coins_warning()];
    if enable {
        warnings.push(balancing_warning(grid));
    }
    Change {
        action: Action::Delete,
        fields,
        grid_body: Some(body),
        enable: Some(enable),
        replaces_because: Some(format!(
            "3Commas cannot change a grid bot's pair ({} -> {})",
            old.pair, grid.pair
        )),
        warnings,
        ..base
    }
}

fn update(base: Change, g: &WireGridBot, grid: &WantedGrid, live: &LiveState) -> Option<Change> {
    let shown = shown_settings(g);
    let mut fields: Vec<FieldChange> = Vec::new();
    if g.name != grid.name {
        // Only a pinned grid bot can have another name live.
        fields.push(field(
            "name",
            Some(Value::String(g.name.clone())),
            Some(Value::String(grid.name.clone())),
        ));
    }
    let mut unchanged = 0;
    for (k, want) in &grid.settings {
        let have = if GRID_WRITE_ONLY_FIELDS.contains(&k.as_str()) {
            live.remembered.last_sent_grid(g.id, k).cloned()
        } else {
            shown.get(k).filter(|v| !v.is_null()).cloned()
        };
        if have.as_ref() == Some(want) {
            unchanged += 1;
        } else {
            fields.push(field(k, have, Some(want.clone())));
        }
    }
    let settings_change = !fields.is_empty();
    let toggle = grid.enabled.filter(|e| *e != g.is_enabled);
    if let Some(e) = toggle {
        fields.push(field(
            "enabled",
            Some(Value::Bool(g.is_enabled)),
            Some(Value::Bool(e)),
        ));
    }
    if fields.is_empty() {
        return None;
    }
    // The full core set every time: what the bot shows, the config's settings laid over it.
    let body = settings_change.then(|| {
        let mut body: Map<String, Value> =
            shown.into_iter().filter(|(_, v)| !v.is_null()).collect();
        body.insert("name".into(), Value::String(grid.name.clone()));
        body.extend(grid.settings.clone());
        body
    });
    let mut warnings = Vec::new();
    if settings_change {
        warnings.push(
            "3Commas resets a grid bot's profit statistics when its settings change, and may cancel and re-place its orders".to_string(),
        );
    }
    if toggle == Some(true) {
        warnings.push(balancing_warning(grid));
    }
    Some(Change {
        action: Action::Update,
        fields,
        unchanged,
        grid_body: body,
        enable: toggle,
        warnings,
        ..base
    })
}

fn delete(base: Change, g: &WireGridBot) -> Change {
    let mut fields = vec![field("pair", Some(Value::String(g.pair.clone())), None)];
    fields.extend(
        shown_settings(g)
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| field(&k, Some(v), None)),
    );
    fields.push(field("enabled", Some(Value::Bool(g.is_enabled)), None));
    Change {
        action: Action::Delete,
        fields,
        warnings: vec![coins_warning()],
        ..base
    }
}

fn coins_warning() -> String {
    "what 3Commas does with the coins a deleted grid bot holds is undocumented (its API has no final action, unlike the web app's \"Close bot\"): apply switches the bot off, then deletes it; check the account's balances afterwards".into()
}

/// What enabling may spend: a spot grid buys the base its sell lines hold at market first.
fn balancing_warning(grid: &WantedGrid) -> String {
    let (quote, base) = grid.pair.split_once('_').unwrap_or(("quote", "base"));
    let size = match &grid.numbers {
        Some(n) => format!(
            ": at the middle of the range ({}) its {} sell lines hold {} {base}, bought at market (about {} {quote}), beside {} {quote} for its {} buy lines",
            n.at_price,
            n.sell_lines,
            n.investment_base,
            (n.investment_base * n.at_price).round_dp(2),
            n.investment_quote,
            n.buy_lines
        ),
        None => String::new(),
    };
    format!(
        "enabling may place a market balancing order{size}; apply asks 3Commas' required_balances first and leaves the bot off when the account cannot fund it"
    )
}

/// Check that what a grid change shows (`fields`) is what it sends (`grid_body`, `enable`), and
/// that only a create (or a replacement's create) sends `pair`. The body also carries what is
/// not shown by design: the account and name, and on an update the bot's unchanged settings
/// (3Commas wants the full core set every time).
pub fn check_consistent(change: &Change) -> Result<(), String> {
    let body = change.grid_body.clone().unwrap_or_default();
    for f in &change.fields {
        if f.field == "enabled" {
            let sent = match change.action {
                Action::Create => change.enable.or(Some(false)),
                _ => change.enable,
            };
            if change.action != Action::Delete || change.replaces_because.is_some() {
                let shown = f.after.as_ref().and_then(Value::as_bool);
                if shown.is_some()
                    && shown != sent
                    && !(change.action == Action::Create && shown == Some(false))
                {
                    return Err("the on/off state shown differs from the one sent".into());
                }
            }
            continue;
        }
        if change.action == Action::Delete && change.replaces_because.is_none() {
            continue;
        }
        if f.after.is_some() && body.get(&f.field) != f.after.as_ref() {
            return Err(format!(
                "`{}` shown differs from `{}` sent",
                f.field, f.field
            ));
        }
    }
    if body.contains_key("pair") != matches!(change.action, Action::Create | Action::Delete)
        && change.grid_body.is_some()
    {
        return Err("`pair` is sent on create only".into());
    }
    Ok(())
}

/// A grid bot is on futures when it shows a leverage or a futures mode.
fn is_futures(grid: &WireGridBot) -> bool {
    grid.mode.is_some()
        || grid
            .leverage_type
            .is_some_and(|l| l != crate::model::enums::LeverageType::NotSpecified)
}

/// Apply one grid change.
pub(super) async fn run_change(
    client: &Client,
    change: &Change,
    journal: &lease::Journal,
) -> ChangeResult {
    match change.action {
        Action::Create => create_settled(client, change, journal, "created").await,
        Action::Update => {
            let Some(id) = change.bot_id else {
                return Err(malformed(change, "an update that names no grid bot"));
            };
            let grid = match &change.grid_body {
                Some(body) => {
                    let sent = Value::Object(body.clone());
                    let answer = write_settled(
                        || client.update_grid_bot(id, &sent),
                        || client.grid_bot(id),
                        |g| not_taken(g, body).is_empty(),
                        change,
                    )
                    .await?;
                    let missed = not_taken(&answer, body);
                    if !missed.is_empty() {
                        return Err(plain(missed.join("; ")));
                    }
                    answer
                }
                None => client
                    .grid_bot(id)
                    .await
                    .map_err(|e| failure(change, &e, false))?,
            };
            finish(
                client,
                change,
                grid,
                if change.grid_body.is_some() {
                    "updated"
                } else {
                    "unchanged settings"
                },
            )
            .await
        }
        Action::Delete => {
            let Some(id) = change.bot_id else {
                return Err(malformed(change, "a delete that names no grid bot"));
            };
            delete_live(client, change, id).await?;
            if change.replaces_because.is_none() {
                return Ok(("deleted".into(), Some(id)));
            }
            let (what, new_id) = create_settled(client, change, journal, "created anew")
                .await
                .map_err(|mut f| {
                    f.message = format!("deleted (id {id}), then: {}", f.message);
                    f
                })?;
            Ok((format!("replaced: deleted (id {id}), {what}"), new_id))
        }
        Action::UpdateBlacklist => Err(malformed(change, "a grid change on the blacklist")),
    }
}

/// Create the change's grid bot, settle a twin another apply made at the same time, then switch
/// it on or off as asked (unless the twin kept is the other apply's to finish).
async fn create_settled(
    client: &Client,
    change: &Change,
    journal: &lease::Journal,
    done: &str,
) -> ChangeResult {
    let grid = create_new(client, change, journal).await?;
    let (grid, twins) = settle_twin(client, grid).await?;
    match twins {
        Twins::None => finish(client, change, grid, done).await,
        Twins::OursKept(note) => {
            let (what, id) = finish(client, change, grid, done).await?;
            Ok((format!("{what}; {note}"), id))
        }
        Twins::TheirsKept(note) => Ok((note, Some(grid.id))),
    }
}

/// What a look for twins found after a create.
enum Twins {
    None,
    /// Ours is the one kept; its younger twins (switched off) were deleted, as the note says.
    OursKept(String),
    /// Another apply's is the one kept (the returned bot): ours was deleted before it was
    /// switched on, and that bot is the other apply's to finish.
    TheirsKept(String),
}

/// The cross-machine half of "never a twin" (the lease covers one machine): right after a
/// create, before anything is switched on, look for grid bots of the same name on the account.
/// The one kept is the first by id that is switched on, else the oldest: a rule every apply
/// reaches alike. When it is not ours, ours (never switched on) is deleted; when it is, younger
/// twins that are off are deleted. A look that fails leaves ours off and fails the change: the
/// next apply looks again.
async fn settle_twin(client: &Client, ours: WireGridBot) -> Result<(WireGridBot, Twins), Failure> {
    let listed = client.grid_bots().await.map_err(|e| {
        plain(format!(
            "created (id {}) and left switched off: could not look for a twin made by another apply at the same time ({e}); apply again to finish",
            ours.id
        ))
    })?;
    let mut same: Vec<WireGridBot> = listed
        .into_iter()
        .filter(|g| g.account_id == ours.account_id && g.name == ours.name)
        .collect();
    same.sort_by_key(|g| g.id);
    let Some(kept) = same.iter().find(|g| g.is_enabled).or(same.first()).cloned() else {
        return Ok((ours, Twins::None));
    };
    if !same.iter().any(|g| g.id == ours.id) {
        let note = format!(
            "another apply created this grid bot at the same time (id {}, kept); ours (id {}) was already deleted by it",
            kept.id, ours.id
        );
        return Ok((kept, Twins::TheirsKept(note)));
    }
    if same.len() < 2 {
        return Ok((ours, Twins::None));
    }
    let gone = |e: &ApiError| e.is_not_found();
    if kept.id != ours.id {
        let note = match client.delete_grid_bot(ours.id).await {
            Err(e) if !gone(&e) => format!(
                "another apply created this grid bot at the same time (id {}, kept); deleting ours (id {}, switched off) failed: {e}",
                kept.id, ours.id
            ),
            _ => format!(
                "another apply created this grid bot at the same time (id {}, kept); ours (id {}) was deleted before it was switched on",
                kept.id, ours.id
            ),
        };
        return Ok((kept, Twins::TheirsKept(note)));
    }
    let mut notes = Vec::new();
    for twin in same.iter().filter(|g| g.id > ours.id && !g.is_enabled) {
        notes.push(match client.delete_grid_bot(twin.id).await {
            Err(e) if !gone(&e) => format!(
                "its younger twin (id {}), made by another apply, could not be deleted: {e}",
                twin.id
            ),
            _ => format!(
                "deleted its younger twin (id {}), made by another apply at the same time",
                twin.id
            ),
        });
    }
    Ok((ours, Twins::OursKept(notes.join("; "))))
}

/// Switch a created or updated grid bot on or off as the change asks, and say what was done.
async fn finish(client: &Client, change: &Change, grid: WireGridBot, done: &str) -> ChangeResult {
    let id = grid.id;
    let what = match change.enable {
        Some(true) if !grid.is_enabled => {
            let note = fundable(client, &grid).await.map_err(|mut f| {
                f.message = format!("{done} (id {id}) and left switched off: {}", f.message);
                f
            })?;
            toggle(client, change, id, true).await?;
            format!("{done} (id {id}), enabled{note}")
        }
        Some(false) if grid.is_enabled => {
            toggle(client, change, id, false).await?;
            format!("{done} (id {id}), disabled")
        }
        _ => format!("{done} (id {id})"),
    };
    Ok((what, Some(id)))
}

/// Ask 3Commas whether the account can fund a spot grid before it starts (`required_balances`;
/// it covers spot only). `Ok` carries what the start will do.
async fn fundable(client: &Client, grid: &WireGridBot) -> Result<String, Failure> {
    if is_futures(grid) {
        return Ok(" (futures: 3Commas' required_balances covers spot grids only)".into());
    }
    let needs: RequiredBalances = client
        .grid_required_balances(grid.id)
        .await
        .map_err(|e| plain(format!("3Commas' required_balances did not answer ({e})")))?;
    if !needs.fundable() {
        return Err(plain(format!(
            "3Commas says the account lacks {} and cannot balance it",
            needs.missing()
        )));
    }
    Ok(if needs.need_balancing {
        format!(
            " (3Commas balances it at market first: {})",
            needs.necessary()
        )
    } else {
        String::new()
    })
}

async fn toggle(client: &Client, change: &Change, id: i64, on: bool) -> Result<(), Failure> {
    write_settled(
        || async {
            if on {
                client.enable_grid_bot(id).await
            } else {
                client.disable_grid_bot(id).await
            }
        },
        || client.grid_bot(id),
        |g| g.is_enabled == on,
        change,
    )
    .await
    .map(|_| ())
}

/// Create the change's grid bot, never twice: after an unclear answer it looks for it by name
/// a few times; when it has not appeared the change is unresolved and the journal holds the
/// name until the create can no longer land.
async fn create_new(
    client: &Client,
    change: &Change,
    journal: &lease::Journal,
) -> Result<WireGridBot, Failure> {
    let (Some(body), Some(account_id)) = (&change.grid_body, change.account_id) else {
        return Err(malformed(change, "a grid create without its body"));
    };
    let name = change.bot_name.clone().unwrap_or_default();
    if let Some(started) = started(change)
        && let Err(e) = journal.stamp_sent(&started)
    {
        return Err(plain(format!(
            "not sent: cannot write the journal of creates ({e}), without which a late answer could make a twin"
        )));
    }
    let unclear = match client.create_grid_bot(&Value::Object(body.clone())).await {
        Ok(grid) => {
            let missed = not_taken(&grid, body);
            if !missed.is_empty() {
                return Err(plain(format!(
                    "created (id {}); {}",
                    grid.id,
                    missed.join("; ")
                )));
            }
            return Ok(grid);
        }
        Err(e) if e.is_ambiguous() => e,
        Err(e) => return Err(failure(change, &e, false)),
    };
    for wait in LOOKS_AFTER_UNCLEAR_CREATE {
        tokio::time::sleep(wait).await;
        if let Ok(grids) = client.grid_bots().await
            && let Some(grid) = grids
                .into_iter()
                .find(|g| g.account_id == account_id && g.name == name)
        {
            return Ok(grid);
        }
    }
    let mut failed = failure(change, &unclear, true);
    failed
        .message
        .push_str("; not created again, since 3Commas may still make it: run plan to see");
    Err(failed)
}

/// Switch a grid bot off, then delete it; gone already is done.
async fn delete_live(client: &Client, change: &Change, id: i64) -> Result<(), Failure> {
    match client.grid_bot(id).await {
        Ok(g) if g.is_enabled => toggle(client, change, id, false).await?,
        Ok(_) => {}
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(failure(change, &e, e.is_ambiguous())),
    }
    let mut last = None;
    for _ in 0..SETTLE_ATTEMPTS {
        match client.delete_grid_bot(id).await {
            Ok(()) => return Ok(()),
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) if e.is_ambiguous() => {
                if let Err(gone) = client.grid_bot(id).await
                    && gone.is_not_found()
                {
                    return Ok(());
                }
                last = Some(e);
            }
            Err(e) => return Err(failure(change, &e, false)),
        }
    }
    Err(failure(change, &last.expect("the loop ran"), true))
}

/// Run an idempotent grid write and return the bot as 3Commas holds it after: its answer, or,
/// when the answer is unclear, a look that shows the write took (`done`).
async fn write_settled<W, WF, R, RF>(
    write: W,
    read: R,
    done: impl Fn(&WireGridBot) -> bool,
    change: &Change,
) -> Result<WireGridBot, Failure>
where
    W: Fn() -> WF,
    WF: std::future::Future<Output = Result<WireGridBot, ApiError>>,
    R: Fn() -> RF,
    RF: std::future::Future<Output = Result<WireGridBot, ApiError>>,
{
    let mut last = None;
    for _ in 0..SETTLE_ATTEMPTS {
        match write().await {
            Ok(grid) => return Ok(grid),
            Err(e) if e.is_ambiguous() => {
                if let Ok(grid) = read().await
                    && done(&grid)
                {
                    return Ok(grid);
                }
                last = Some(e);
            }
            Err(e) => return Err(failure(change, &e, false)),
        }
    }
    Err(failure(change, &last.expect("the loop ran"), true))
}

/// The settings sent that the grid bot 3Commas answered with does not show (write-only fields
/// apart: they never show).
fn not_taken(grid: &WireGridBot, body: &Map<String, Value>) -> Vec<String> {
    let shown = shown_settings(grid);
    let mut missed: Vec<String> = body
        .iter()
        .filter(|(k, _)| is_setting(k))
        .filter(|(k, want)| shown.get(*k) != Some(*want))
        .map(|(k, want)| {
            format!(
                "3Commas did not take `{k}`: sent {}, it has {}",
                super::change::show(want),
                shown
                    .get(k)
                    .filter(|v| !v.is_null())
                    .map(super::change::show)
                    .unwrap_or_else(|| "nothing".into())
            )
        })
        .collect();
    if let Some(name) = body.get("name").and_then(Value::as_str)
        && grid.name != name
    {
        missed.push(format!(
            "3Commas did not take `name`: it has \"{}\"",
            crate::diagnostic::shown(&grid.name)
        ));
    }
    missed
}

/// A failure 3Commas' answer did not cause (nothing to point at a config line).
fn plain(message: String) -> Failure {
    Failure {
        message,
        fields: Vec::new(),
        unresolved: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::desired::SourceRef;

    fn wanted() -> WantedGrid {
        let settings = serde_json::json!({
            "lower_price": "56000", "upper_price": "72000", "grids_quantity": 50,
            "quantity_per_grid": "20", "order_currency_type": "quote",
            "expansion_up_enabled": true, "expansion_up_stop_price": "80000"
        });
        WantedGrid {
            name: "g".into(),
            account: "main".into(),
            pinned_id: None,
            templates: Vec::new(),
            pair: "USDT_BTC".into(),
            enabled: None,
            absent: false,
            settings: settings.as_object().unwrap().clone(),
            numbers: None,
            source: SourceRef {
                file: "g.toml".into(),
                line: 1,
                column: 1,
            },
            origins: BTreeMap::new(),
        }
    }

    fn base() -> Change {
        Change {
            kind: ResourceKind::GridBot,
            bot_name: Some("g".into()),
            account_id: Some(1),
            ..Change::new(Action::Create, "grid bot \"g\" on main".into())
        }
    }

    #[test]
    fn a_plan_that_shows_one_value_and_sends_another_is_refused() {
        let mut change = create(base(), &wanted(), 1);
        assert_eq!(check_consistent(&change), Ok(()));
        change
            .grid_body
            .as_mut()
            .unwrap()
            .insert("quantity_per_grid".into(), "30".into());
        assert!(check_consistent(&change).is_err());
        // An update never sends the pair.
        let mut update = create(base(), &wanted(), 1);
        update.action = Action::Update;
        assert!(check_consistent(&update).is_err());
        update.grid_body.as_mut().unwrap().remove("pair");
        update.grid_body.as_mut().unwrap().remove("account_id");
        update.fields.retain(|f| f.field != "pair");
        assert_eq!(check_consistent(&update), Ok(()));
    }

    #[test]
    fn write_only_fields_compare_with_what_was_last_sent() {
        let grid: WireGridBot = serde_json::from_value(serde_json::json!({
            "id": 7, "account_id": 1, "is_enabled": false, "name": "g", "pair": "USDT_BTC",
            "lower_price": "56000.0", "upper_price": "72000.0", "grids_quantity": "50",
            "quantity_per_grid": "20.0", "order_currency_type": "quote"
        }))
        .unwrap();
        let mut live = LiveState::default();
        // Never sent: unknown, so the plan sends it.
        let first = update(base(), &grid, &wanted(), &live).unwrap();
        let fields: Vec<&str> = first.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["expansion_up_enabled", "expansion_up_stop_price"]);
        assert!(first.fields.iter().all(|f| f.before.is_none()));
        // Sent as the config says: nothing to do.
        live.remembered
            .record_grid(7, 1, "g", first.grid_body.as_ref().unwrap());
        assert!(update(base(), &grid, &wanted(), &live).is_none());
        // The body of an update is the whole core set, never the pair.
        let body = first.grid_body.unwrap();
        assert!(!body.contains_key("pair"));
        for key in [
            "name",
            "lower_price",
            "upper_price",
            "grids_quantity",
            "quantity_per_grid",
        ] {
            assert!(body.contains_key(key), "{key}");
        }
    }
}
