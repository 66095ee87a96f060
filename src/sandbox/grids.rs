//! The sandbox's grid bots (issue 19's sandbox room): `GRID-SIGNALS-DEALS.md` §1.2's endpoints
//! with §1.3's entity, as strict as 3Commas where the sources show it.
//!
//! - The entity has exactly the 48 keys of every docs example, in their order, with strings where
//!   3Commas sends strings: figures (`"56000.0"`), counts (`"grids_quantity": "50"`) and two
//!   booleans (`trailing_up_enabled`, `expansion_down_enabled`: `"true"`/`"false"`).
//! - Write-only fields (`trailing_down_enabled`, `expansion_up_enabled`,
//!   `expansion_up_stop_price`) are kept beside the entity and never shown.
//! - Create (`POST /ver1/grid_bots/manual`) requires what D-GC requires; update (`PATCH
//!   …/manual`) requires `name` and the four numbers every time (I-77: an update without `name`
//!   fails) and refuses a `pair` ("Deprecated": the pair cannot change); both refuse a range with
//!   `upper_price` not above `lower_price`, a line count outside 2..201, a non-positive size, a
//!   name outside 1..40 characters and a note outside 1..300, as `record_invalid` with Grape's
//!   messages. The removed AI endpoints are not routed: 404.
//! - enable/disable answer 201 with the entity, delete 200 with an empty body (D-GX), note 201.

use serde_json::{Map, Value, json};

use super::deals::Refusal;
use super::params::{NOT_VALID_VALUE, Params};
use super::state::{GridRecord, ModeState, State, now_iso};
use crate::model::decimal::Decimal;
use crate::model::enums::{GridCurrency, GridMode, GridStopLossAction, GridType, TradingMode};
use crate::model::grid::Grid;
use crate::threecommas::wire::ruby_decimal;

/// Fields 3Commas never shows back, kept apart.
const WRITE_ONLY: [&str; 3] = [
    "trailing_down_enabled",
    "expansion_up_enabled",
    "expansion_up_stop_price",
];

fn figure(d: Decimal) -> Value {
    Value::String(ruby_decimal::format(&d))
}

fn flag_text(b: bool) -> Value {
    Value::String(if b { "true" } else { "false" }.into())
}

/// `GET /ver1/grid_bots`: `state` enabled|disabled, `limit` 1..1000 (default 10), `offset`,
/// `account_ids` (comma-separated), `sort_by`, `sort_direction` (default newest first).
pub fn list(ms: &ModeState, p: &mut Params) -> Result<Value, Refusal> {
    let state = p.one_of("state", &["enabled", "disabled"]);
    p.one_of(
        "sort_by",
        &[
            "current_profit",
            "profit",
            "bot_id",
            "pair",
            "created_at",
            "updated_at",
            "name",
        ],
    );
    // Both spellings of the direction (D-GL `ASC`/`DESC`, L-SW `asc`/`desc`); ids follow
    // creation, so `bot_id` and `created_at` order alike (the others are ordered by id too here).
    let ascending = match p.string("sort_direction").map(|d| d.to_ascii_lowercase()) {
        Some(d) if d == "asc" => true,
        Some(d) if d == "desc" => false,
        Some(_) => {
            p.error("sort_direction", NOT_VALID_VALUE);
            false
        }
        None => false,
    };
    let limit = p.int_in("limit", 1, 1000).unwrap_or(10) as usize;
    let offset = p.int("offset").unwrap_or(0).max(0) as usize;
    let accounts: Option<Vec<i64>> = p
        .string("account_ids")
        .or_else(|| p.string("account_id"))
        .map(|text| {
            text.split(',')
                .filter_map(|a| a.trim().parse().ok())
                .collect()
        });
    if let Some(refusal) = Refusal::invalid_params(p) {
        return Err(refusal);
    }
    let ordered: Box<dyn Iterator<Item = &GridRecord>> = if ascending {
        Box::new(ms.grid_bots.values())
    } else {
        Box::new(ms.grid_bots.values().rev())
    };
    let bots: Vec<Value> = ordered
        .map(|g| &g.entity)
        .filter(|e| match state.as_deref() {
            Some("enabled") => e["is_enabled"] == true,
            Some("disabled") => e["is_enabled"] == false,
            _ => true,
        })
        .filter(|e| {
            accounts
                .as_ref()
                .is_none_or(|a| a.contains(&e["account_id"].as_i64().unwrap_or(0)))
        })
        .skip(offset)
        .take(limit)
        .cloned()
        .collect();
    Ok(Value::Array(bots))
}

pub fn show(ms: &ModeState, id: i64) -> Result<Value, Refusal> {
    ms.grid_bots
        .get(&id)
        .map(|g| g.entity.clone())
        .ok_or_else(Refusal::not_found)
}

/// `POST /ver1/grid_bots/manual`.
pub fn create(state: &mut State, mode: TradingMode, p: &mut Params) -> Result<Value, Refusal> {
    p.require(&[
        "account_id",
        "pair",
        "upper_price",
        "lower_price",
        "quantity_per_grid",
        "grids_quantity",
    ]);
    let account_id = p.int("account_id");
    let pair = p.string("pair");
    let settings = read_settings(p, None);
    if let Some(refusal) = Refusal::invalid_params(p) {
        return Err(refusal);
    }
    let (Some(account_id), Some(pair)) = (account_id, pair) else {
        return Err(Refusal::not_found());
    };
    let ms = state.mode(mode);
    let Some(account) = ms.account(account_id) else {
        return Err(Refusal::not_found());
    };
    let account_name = account["name"].clone();
    let market = account["market_code"].as_str().unwrap_or("").to_string();
    let Some(price) = super::state::price(&market, &pair) else {
        let mut p = Params::default();
        p.error("pair", format!("No market data for this pair: {pair}"));
        return Err(Refusal::invalid_params(&mut p).expect("an error was added"));
    };
    let id = state.next_bot_id;
    state.next_bot_id += 1;
    let now = now_iso();
    let mut entity = Map::new();
    for key in crate::threecommas::grid_wire::ENTITY_KEYS {
        entity.insert(key.to_string(), Value::Null);
    }
    entity["id"] = id.into();
    entity["account_id"] = account_id.into();
    entity["account_name"] = account_name;
    entity["is_enabled"] = false.into();
    entity["created_at"] = now.clone().into();
    entity["strategy_type"] = "manual".into();
    entity["editable"] = true.into();
    entity["pair"] = pair.clone().into();
    // D-GC: "a default name is generated" when none is given; its form is undocumented.
    entity["name"] = format!("{pair} grid bot").into();
    entity["current_price"] = figure(price);
    entity["orderbook_price_currency"] = pair.split('_').next().unwrap_or("").into();
    for key in [
        "current_profit",
        "current_profit_usd",
        "bought_volume",
        "sold_volume",
        "profit_percentage",
        "investment_base_currency",
        "investment_quote_currency",
    ] {
        entity[key] = "0.0".into();
    }
    entity["total_profits_count"] = "0".into();
    entity["unrealized_profit_loss"] = "0".into();
    entity["grid_lines"] = json!([]);
    // Defaults as the docs' examples show them.
    entity["upper_stop_loss_enabled"] = false.into();
    entity["lower_stop_loss_enabled"] = false.into();
    entity["upper_stop_loss_action"] = "stop_bot".into();
    entity["lower_stop_loss_action"] = "stop_bot".into();
    entity["leverage_type"] = "not_specified".into();
    entity["order_currency_type"] = "base".into();
    entity["profit_currency_type"] = "quote".into();
    entity["trailing_up_enabled"] = flag_text(false);
    entity["expansion_down_enabled"] = flag_text(false);
    entity["grid_type"] = "arithmetic".into();
    let mut record = GridRecord::new(Value::Object(entity));
    apply_settings(&mut record, settings, &now);
    let ms = state.mode_mut(mode);
    ms.grid_bots.insert(id, record.clone());
    Ok(record.entity)
}

/// `PATCH /ver1/grid_bots/{id}/manual`: the name and the four numbers every time, never the pair.
pub fn update(ms: &mut ModeState, id: i64, p: &mut Params) -> Result<Value, Refusal> {
    let Some(existing) = ms.grid_bots.get(&id) else {
        return Err(Refusal::not_found());
    };
    p.require(&[
        "name",
        "upper_price",
        "lower_price",
        "grids_quantity",
        "quantity_per_grid",
    ]);
    if p.has("pair") {
        p.error(
            "pair",
            "is deprecated: the pair of a grid bot cannot be changed",
        );
    }
    let settings = read_settings(p, Some(&existing.entity));
    if let Some(refusal) = Refusal::invalid_params(p) {
        return Err(refusal);
    }
    let mut record = existing.clone();
    apply_settings(&mut record, settings, &now_iso());
    ms.grid_bots.insert(id, record.clone());
    Ok(record.entity)
}

/// `GET /ver1/grid_bots/{id}/required_balances` (spot only; a futures grid is `not_found`).
/// 3Commas documents the answer's shape, not its arithmetic (§1.8), so this is the sandbox's
/// model, kept simple and stated: at the pair's current price the grid's buy lines hold quote
/// and its sell lines base (`model::grid::Grid::investment`, the line nearest the price
/// waiting). The sandbox's accounts hold only their quote currency (`free_quote`: USDT less
/// what open deals spent), so all the base is missing and a start buys it at market
/// (`need_balancing`), which 3Commas covers "about 2% more" for fees (HELP-GSET): balancing is
/// available when the free quote pays the buy lines and that purchase.
/// `necessary_quantities` is the quote the balancing order spends.
pub fn required_balances(
    ms: &ModeState,
    id: i64,
    free_quote: Decimal,
    price: Option<Decimal>,
) -> Result<Value, Refusal> {
    let record = ms.grid_bots.get(&id).ok_or_else(Refusal::not_found)?;
    let e = &record.entity;
    let futures = !e["mode"].is_null()
        || e["leverage_type"]
            .as_str()
            .is_some_and(|l| l != "not_specified");
    if futures {
        return Err(Refusal::not_found());
    }
    let number = |key: &str| -> Option<Decimal> { e[key].as_str()?.parse().ok() };
    let lines: u32 = e["grids_quantity"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let grid = Grid {
        lower: number("lower_price").unwrap_or_default(),
        upper: number("upper_price").unwrap_or_default(),
        lines,
        grid_type: if e["grid_type"] == "geometric" {
            GridType::Geometric
        } else {
            GridType::Arithmetic
        },
    };
    let order_currency = if e["order_currency_type"] == "base" {
        GridCurrency::Base
    } else {
        GridCurrency::Quote
    };
    let price = price.unwrap_or((grid.lower + grid.upper) / Decimal::from_int(2));
    let invested = grid
        .investment(
            price,
            number("quantity_per_grid").unwrap_or_default(),
            order_currency,
        )
        .map_err(|_| Refusal::not_found())?;
    let pair = e["pair"].as_str().unwrap_or("");
    let (quote, base) = pair.split_once('_').unwrap_or((pair, ""));
    let free_quote = if quote == "USDT" {
        free_quote
    } else {
        Decimal::ZERO
    };
    let cover = Decimal::from_int(102) / Decimal::from_int(100);
    let balancing = (invested.base * price * cover).round_dp(8);
    let short_quote = invested.quote + balancing - free_quote;
    let amount = |quantity: Decimal, currency: &str| json!({"quantity": figure(quantity.max(Decimal::ZERO)), "currency": currency});
    Ok(json!({
        "missing_balance": {
            "base": amount(invested.base, base),
            "quote": amount(invested.quote - free_quote, quote),
        },
        "required_balance": {
            "base": amount(invested.base, base),
            "quote": amount(invested.quote, quote),
        },
        "need_balancing": invested.base > Decimal::ZERO,
        "balancing_available": short_quote <= Decimal::ZERO,
        "necessary_quantities": amount(balancing, quote),
    }))
}

/// `GET /ver1/grid_bots/{id}/profits` (`from`, `to`: ISO times): each completed grid, newest
/// first (D-GP: "ordered in descending order by ID").
pub fn profits(ms: &ModeState, id: i64, p: &mut Params) -> Result<Value, Refusal> {
    let record = ms.grid_bots.get(&id).ok_or_else(Refusal::not_found)?;
    let mut bound = |field: &str| -> Option<i64> {
        let text = p.string(field)?;
        let parsed = crate::timefmt::parse_iso(&text);
        if parsed.is_none() {
            p.error(field, NOT_VALID_VALUE);
        }
        parsed
    };
    let (from, to) = (bound("from"), bound("to"));
    if let Some(refusal) = Refusal::invalid_params(p) {
        return Err(refusal);
    }
    let within = |entry: &&Value| {
        let at = entry["created_at"]
            .as_str()
            .and_then(crate::timefmt::parse_iso);
        from.is_none_or(|f| at.is_some_and(|a| a >= f))
            && to.is_none_or(|t| at.is_some_and(|a| a <= t))
    };
    Ok(Value::Array(
        record
            .profits
            .iter()
            .rev()
            .filter(within)
            .cloned()
            .collect(),
    ))
}

/// `GET /ver1/grid_bots/{id}/market_orders` (`limit` 1..1000, default 100; `offset`): an object
/// of the filled line orders and the balancing orders (D-GMO), newest first.
pub fn market_orders(ms: &ModeState, id: i64, p: &mut Params) -> Result<Value, Refusal> {
    let record = ms.grid_bots.get(&id).ok_or_else(Refusal::not_found)?;
    let limit = p.int_in("limit", 1, 1000).unwrap_or(100) as usize;
    let offset = p.int("offset").unwrap_or(0).max(0) as usize;
    if let Some(refusal) = Refusal::invalid_params(p) {
        return Err(refusal);
    }
    let page = |orders: &[Value]| -> Value {
        Value::Array(
            orders
                .iter()
                .rev()
                .skip(offset)
                .take(limit)
                .cloned()
                .collect(),
        )
    };
    Ok(json!({
        "grid_lines_orders": page(&record.market_orders),
        "balancing_orders": page(&record.balancing_orders),
    }))
}

/// `GET /ver1/grid_bots/{id}/events`: `page` and `per_page` (1..100) are required (D-GEV),
/// newest first.
pub fn events(ms: &ModeState, id: i64, p: &mut Params) -> Result<Value, Refusal> {
    p.require(&["page", "per_page"]);
    let page = p.int_in("page", 1, i64::MAX).unwrap_or(1) as usize;
    let per_page = p.int_in("per_page", 1, 100).unwrap_or(100) as usize;
    if let Some(refusal) = Refusal::invalid_params(p) {
        return Err(refusal);
    }
    let record = ms.grid_bots.get(&id).ok_or_else(Refusal::not_found)?;
    Ok(Value::Array(
        record
            .events
            .iter()
            .rev()
            .skip((page - 1).saturating_mul(per_page))
            .take(per_page)
            .cloned()
            .collect(),
    ))
}

pub fn set_enabled(ms: &mut ModeState, id: i64, enabled: bool) -> Result<Value, Refusal> {
    let record = ms.grid_bots.get_mut(&id).ok_or_else(Refusal::not_found)?;
    record.entity["is_enabled"] = enabled.into();
    record.entity["updated_at"] = now_iso().into();
    Ok(record.entity.clone())
}

pub fn delete(ms: &mut ModeState, id: i64) -> Result<Value, Refusal> {
    ms.grid_bots.remove(&id).ok_or_else(Refusal::not_found)?;
    Ok(Value::Null)
}

/// `POST /ver1/grid_bots/{id}/note`: `note`, 1..300 characters.
pub fn note(ms: &mut ModeState, id: i64, p: &mut Params) -> Result<Value, Refusal> {
    p.require(&["note"]);
    let note = p.string("note");
    if let Some(n) = &note
        && !(1..=300).contains(&n.chars().count())
    {
        p.error("note", NOT_VALID_VALUE);
    }
    if let Some(refusal) = Refusal::invalid_params(p) {
        return Err(refusal);
    }
    let record = ms.grid_bots.get_mut(&id).ok_or_else(Refusal::not_found)?;
    record.entity["note"] = note.into();
    record.entity["updated_at"] = now_iso().into();
    Ok(record.entity.clone())
}

/// What a create or update sets: each field given, checked; `None` where not given.
#[derive(Default)]
struct Settings {
    values: Vec<(&'static str, Value)>,
    write_only: Vec<(&'static str, Value)>,
}

/// Read and check the settings a create or update gives, against `existing` for what it omits.
fn read_settings(p: &mut Params, existing: Option<&Value>) -> Settings {
    let mut s = Settings::default();
    let existing_figure = |key: &str| -> Option<Decimal> {
        existing
            .and_then(|e| e[key].as_str())
            .and_then(|t| t.parse().ok())
    };
    if let Some(name) = p.string("name") {
        let n = name.chars().count();
        if n == 0 {
            p.error("name", "can't be blank");
        } else if n > 40 {
            p.error("name", "is too long (maximum is 40 characters)");
        }
        s.values.push(("name", name.into()));
    }
    let lower = p
        .decimal("lower_price")
        .or_else(|| existing_figure("lower_price"));
    let upper = p
        .decimal("upper_price")
        .or_else(|| existing_figure("upper_price"));
    let lines = p
        .int("grids_quantity")
        .or_else(|| existing.and_then(|e| e["grids_quantity"].as_str()?.parse().ok()));
    if let (Some(lower), Some(upper)) = (lower, upper) {
        if lower <= Decimal::ZERO {
            p.error("lower_price", NOT_VALID_VALUE);
        } else if upper <= lower {
            p.error(
                "upper_price",
                format!("Upper price should be at least {lower}"),
            );
        }
        s.values.push(("lower_price", figure(lower)));
        s.values.push(("upper_price", figure(upper)));
    }
    if let Some(n) = lines {
        if !(2..=201).contains(&n) {
            p.error("grids_quantity", NOT_VALID_VALUE);
        }
        s.values
            .push(("grids_quantity", Value::String(n.to_string())));
        for key in ["max_active_buy_lines", "max_active_sell_lines"] {
            match p.int(key) {
                Some(m) if m < 1 || m > n => p.error(key, NOT_VALID_VALUE),
                Some(m) => s.values.push((key, Value::String(m.to_string()))),
                None if existing.is_none() => s.values.push((key, Value::String(n.to_string()))),
                None => {}
            }
        }
    }
    match p.decimal("quantity_per_grid") {
        Some(q) if q <= Decimal::ZERO => p.error("quantity_per_grid", "is empty"),
        Some(q) => s.values.push(("quantity_per_grid", figure(q))),
        None => {}
    }
    let grid_types: Vec<&str> = GridType::ALL.iter().map(|v| v.as_str()).collect();
    let currencies: Vec<&str> = GridCurrency::ALL.iter().map(|v| v.as_str()).collect();
    let actions: Vec<&str> = GridStopLossAction::ALL.iter().map(|v| v.as_str()).collect();
    let modes: Vec<&str> = GridMode::ALL.iter().map(|v| v.as_str()).collect();
    let enums: [(&'static str, &[&str]); 7] = [
        ("grid_type", &grid_types),
        ("order_currency_type", &currencies),
        ("profit_currency_type", &currencies),
        ("upper_stop_loss_action", &actions),
        ("lower_stop_loss_action", &actions),
        ("leverage_type", &["cross", "isolated", "not_specified"]),
        ("mode", &modes),
    ];
    let mut leverage_type = None;
    for (key, allowed) in enums {
        if let Some(v) = p.one_of(key, allowed) {
            if key == "leverage_type" {
                leverage_type = Some(v.clone());
            }
            s.values.push((key, v.into()));
        }
    }
    for key in ["upper_stop_loss_enabled", "lower_stop_loss_enabled"] {
        if let Some(b) = p.bool(key) {
            s.values.push((key, b.into()));
        }
    }
    for key in ["trailing_up_enabled", "expansion_down_enabled"] {
        if let Some(b) = p.bool(key) {
            s.values.push((key, flag_text(b)));
        }
    }
    for key in [
        "upper_stop_loss_price",
        "lower_stop_loss_price",
        "expansion_down_stop_price",
        "leverage_custom_value",
    ] {
        if let Some(d) = p.decimal(key) {
            s.values.push((key, figure(d)));
        }
    }
    if p.bool("expansion_down_enabled") == Some(true)
        && !p.has("expansion_down_stop_price")
        && existing_figure("expansion_down_stop_price").is_none()
    {
        p.error("expansion_down_stop_price", super::params::MISSING);
    }
    if p.bool("expansion_up_enabled") == Some(true) && !p.has("expansion_up_stop_price") {
        p.error("expansion_up_stop_price", super::params::MISSING);
    }
    if leverage_type.as_deref() == Some("isolated") && !p.has("leverage_custom_value") {
        p.error("leverage_custom_value", super::params::MISSING);
    }
    for key in ["trailing_down_enabled", "expansion_up_enabled"] {
        if let Some(b) = p.bool(key) {
            s.write_only.push((key, b.into()));
        }
    }
    if let Some(d) = p.decimal("expansion_up_stop_price") {
        s.write_only.push(("expansion_up_stop_price", figure(d)));
    }
    if let Some(note) = p.string("note") {
        if !(1..=300).contains(&note.chars().count()) {
            p.error("note", NOT_VALID_VALUE);
        }
        s.values.push(("note", note.into()));
    }
    s
}

/// Write checked settings into a grid bot, with the step 3Commas computes.
fn apply_settings(record: &mut GridRecord, settings: Settings, now: &str) {
    for (key, value) in settings.values {
        record.entity[key] = value;
    }
    for (key, value) in settings.write_only {
        debug_assert!(WRITE_ONLY.contains(&key));
        record.write_only.insert(key.to_string(), value);
    }
    let number = |key: &str| -> Option<Decimal> { record.entity[key].as_str()?.parse().ok() };
    let grid = Grid {
        lower: number("lower_price").unwrap_or_default(),
        upper: number("upper_price").unwrap_or_default(),
        lines: record.entity["grids_quantity"]
            .as_str()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
        grid_type: record.entity["grid_type"]
            .as_str()
            .and_then(GridType::parse)
            .unwrap_or(GridType::Arithmetic),
    };
    if let Ok(step) = grid.step() {
        record.entity["grid_price_step"] = Value::String(step.to_string());
    }
    record.entity["updated_at"] = now.into();
}
