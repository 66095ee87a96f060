//! `botform deals` (list deals, or SmartTrades, with their P&L) and `botform deal ...` (show one;
//! cancel, panic-sell, add funds, update: each previewed, confirmed and audited as
//! `engine::deals` runs it).

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use serde::Serialize;

use super::HumanOrJson as Format;
use crate::engine::audit::Who;
use crate::engine::deals::{self, Action, DealUpdate, DealsWanted, SmartTradeLine};
use crate::engine::performance;
use crate::engine::target::ConnectOptions;
use crate::model::decimal::Decimal;
use crate::threecommas::wire::Deal;
use crate::threecommas::{ApiError, BotsFilter, Client};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scope {
    Active,
    Finished,
    All,
}

#[derive(Debug, clap::Args)]
pub struct DealsArgs {
    /// Only this bot's deals: its live name (any case) or id.
    #[arg(long)]
    bot: Option<String>,
    /// Only this account's deals: its name or id.
    #[arg(long)]
    account: Option<String>,
    #[arg(long, value_enum, default_value_t = Scope::All)]
    scope: Scope,
    /// Finished deals that closed at or after this: 30d, 12h, 2026-11-01 or an ISO time
    /// (active deals are always listed).
    #[arg(long)]
    since: Option<String>,
    /// List the account's SmartTrades (read only) instead of bot deals.
    #[arg(long)]
    smart_trades: bool,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

#[derive(Debug, clap::Args)]
pub struct DealArgs {
    #[command(subcommand)]
    command: DealCommand,
}

#[derive(Debug, clap::Args)]
struct Gate {
    /// Do not ask: needed off a terminal (CI, scripts).
    #[arg(long)]
    auto_approve: bool,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

#[derive(Debug, clap::Subcommand)]
enum DealCommand {
    /// One deal: its status, position, P&L now and what can be done to it.
    Show {
        id: i64,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Cancel: 3Commas stops managing the deal and cancels its orders; the coins stay, unsold.
    Cancel {
        id: i64,
        #[command(flatten)]
        gate: Gate,
    },
    /// Close the deal at market now (3Commas' panic sell).
    PanicSell {
        id: i64,
        #[command(flatten)]
        gate: Gate,
    },
    /// Buy more of the base currency into the deal (a manual safety order).
    AddFunds {
        id: i64,
        /// How much of the base currency (0.01 for 0.01 BTC on USDT_BTC).
        #[arg(long)]
        quantity: Decimal,
        /// A limit price; without it, a market order.
        #[arg(long)]
        price: Option<Decimal>,
        #[command(flatten)]
        gate: Gate,
    },
    /// Change a running deal's take profit, safety orders or stop loss (not the bot's).
    Update {
        id: i64,
        /// Take profit, percent.
        #[arg(long)]
        take_profit: Option<Decimal>,
        #[arg(long)]
        max_safety_orders: Option<u32>,
        /// Stop loss, percent below the average price (0 turns it off).
        #[arg(long)]
        stop_loss: Option<Decimal>,
        #[command(flatten)]
        gate: Gate,
    },
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::FAILURE
}

// ---------------------------------------------------------------------------------------------
// botform deals

/// One deal, as `deals` lists it.
#[derive(Debug, Serialize)]
struct DealLine {
    id: i64,
    bot_id: i64,
    bot: String,
    pair: String,
    status: String,
    opened: String,
    closed: Option<String>,
    /// Open to close, or to now for an active deal.
    duration_s: u64,
    safety_orders_used: u32,
    max_safety_orders: Option<u32>,
    /// Quote currency invested so far.
    invested: Decimal,
    quote: String,
    /// Realized (finished deal) or unrealized (active: at the price now).
    profit: Decimal,
    profit_kind: &'static str,
    usd_profit: Option<Decimal>,
}

#[derive(Debug, Serialize)]
struct Totals {
    currency: String,
    realized: Decimal,
    unrealized: Decimal,
}

#[derive(Debug, Serialize)]
struct DealsOutput {
    deals: Vec<DealLine>,
    totals: Vec<Totals>,
    unreadable: Vec<String>,
    /// A scope had more deals than botform reads at once: the oldest are left out.
    capped: bool,
}

/// The most deals of each scope one listing reads (5 pages).
const MAX_LISTED: u32 = 5_000;

fn line_of(deal: &Deal, now: i64) -> DealLine {
    let profit = performance::profit_now(deal);
    let opened = crate::timefmt::parse_iso(&deal.created_at).unwrap_or(now);
    let end = deal
        .closed_at
        .as_deref()
        .and_then(crate::timefmt::parse_iso)
        .unwrap_or(now);
    DealLine {
        id: deal.id,
        bot_id: deal.bot_id,
        bot: deal.bot_name.clone().unwrap_or_default(),
        pair: deal.pair.clone(),
        status: deal.status.clone(),
        opened: deal.created_at.clone(),
        closed: deal.closed_at.clone(),
        duration_s: (end - opened).max(0) as u64,
        safety_orders_used: deal.completed_safety_orders_count.unwrap_or(0),
        max_safety_orders: deal.max_safety_orders,
        invested: deal.bought_volume.unwrap_or_default(),
        quote: performance::quote_of(deal),
        profit: profit.quote,
        profit_kind: if profit.realized {
            "realized"
        } else {
            "unrealized"
        },
        usd_profit: profit.usd,
    }
}

fn human_duration(s: u64) -> String {
    match s {
        0..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// A live bot or account by name (any case) or id, with a clear error when none or several.
fn pick<'a, T>(
    what: &str,
    given: &str,
    items: &'a [T],
    id: impl Fn(&T) -> i64,
    name: impl Fn(&T) -> &str,
) -> Result<&'a T, String> {
    let given = given.trim();
    let found: Vec<&T> = items
        .iter()
        .filter(|t| id(t).to_string() == given || name(t).eq_ignore_ascii_case(given))
        .collect();
    match found.as_slice() {
        [one] => Ok(one),
        [] => Err(format!(
            "no live {what} is named or numbered \"{}\"{}",
            crate::diagnostic::quote_input(given),
            crate::diagnostic::did_you_mean(given, items.iter().map(&name))
                .map_or(String::new(), |hint| format!(" ({hint})"))
        )),
        many => Err(format!(
            "{} live {what}s are named \"{}\": give the id ({})",
            many.len(),
            crate::diagnostic::quote_input(given),
            many.iter()
                .map(|t| id(t).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

pub fn list(args: DealsArgs) -> ExitCode {
    super::runtime().block_on(list_async(args))
}

async fn list_async(args: DealsArgs) -> ExitCode {
    let target = match crate::connect::connect(ConnectOptions::default()).await {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let client = &target.client;
    if args.smart_trades {
        return smart_trades(client, &args).await;
    }
    let result: Result<DealsOutput, String> = async {
        let now = crate::timefmt::now_unix();
        let since = match &args.since {
            Some(s) => performance::parse_moment(s, now)?,
            None => i64::MIN,
        };
        let account_id = match &args.account {
            Some(a) => {
                let accounts = client.accounts().await.map_err(|e| e.to_string())?;
                Some(pick("account", a, &accounts, |a| a.id, |a| a.name.as_str())?.id)
            }
            None => None,
        };
        let bot_id = match &args.bot {
            Some(b) => {
                let bots = client
                    .bots(BotsFilter {
                        account_id,
                        ..BotsFilter::default()
                    })
                    .await
                    .map_err(|e| e.to_string())?
                    .bots;
                Some(
                    pick(
                        "bot",
                        b,
                        &bots,
                        |b| b.id,
                        |b| b.settings.name.as_deref().unwrap_or(""),
                    )?
                    .id,
                )
            }
            None => None,
        };
        let read = deals::read_deals(
            client,
            &DealsWanted {
                bot_id,
                account_id,
                finished: args.scope != Scope::Active,
                active: args.scope != Scope::Finished,
                since,
                cap: MAX_LISTED,
            },
        )
        .await
        .map_err(|e| e.to_string())?;
        let window = performance::Window { since, until: now };
        let mut deals: Vec<&Deal> = read.deals.iter().filter(|d| window.counts(d)).collect();
        deals.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        let lines: Vec<DealLine> = deals.iter().map(|d| line_of(d, now)).collect();
        let mut totals: Vec<Totals> = Vec::new();
        for l in &lines {
            let t = match totals.iter_mut().find(|t| t.currency == l.quote) {
                Some(t) => t,
                None => {
                    totals.push(Totals {
                        currency: l.quote.clone(),
                        realized: Decimal::ZERO,
                        unrealized: Decimal::ZERO,
                    });
                    totals.last_mut().expect("just pushed")
                }
            };
            if l.profit_kind == "realized" {
                t.realized += l.profit;
            } else {
                t.unrealized += l.profit;
            }
        }
        Ok(DealsOutput {
            deals: lines,
            totals,
            unreadable: read.unreadable,
            capped: read.capped,
        })
    }
    .await;
    let output = match result {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    let mut out = std::io::stdout().lock();
    let written = match args.format {
        Format::Json => serde_json::to_writer_pretty(&mut out, &output)
            .map_err(std::io::Error::other)
            .and_then(|()| writeln!(out)),
        Format::Human => write_deals(&mut out, &output),
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn write_deals(out: &mut dyn Write, o: &DealsOutput) -> std::io::Result<()> {
    if o.deals.is_empty() {
        writeln!(out, "No deals.")?;
    }
    for d in &o.deals {
        writeln!(
            out,
            "{:>11}  {:<22} {:<11} {:<18} opened {}  {:>7}  SO {}/{}  invested {} {}  {} {} {}",
            d.id,
            crate::diagnostic::quote_input(&d.bot),
            d.pair,
            d.status,
            d.opened.get(..16).unwrap_or(&d.opened),
            human_duration(d.duration_s),
            d.safety_orders_used,
            d.max_safety_orders.map_or("?".into(), |n| n.to_string()),
            d.invested.round_dp(2),
            d.quote,
            d.profit_kind,
            d.profit.round_dp(4),
            d.quote
        )?;
    }
    for t in &o.totals {
        writeln!(
            out,
            "\n{}: realized {} ({} deals finished), unrealized {} (active deals, at the price now)",
            t.currency,
            t.realized.round_dp(4),
            o.deals
                .iter()
                .filter(|d| d.quote == t.currency && d.profit_kind == "realized")
                .count(),
            t.unrealized.round_dp(4)
        )?;
    }
    for u in &o.unreadable {
        writeln!(out, "warning: a deal botform cannot read: {u}")?;
    }
    if o.capped {
        writeln!(
            out,
            "warning: only the newest {MAX_LISTED} deals of a scope were read: narrow with --bot, --account or --since"
        )?;
    }
    Ok(())
}

async fn smart_trades(client: &Client, args: &DealsArgs) -> ExitCode {
    let status = match args.scope {
        Scope::Active => "active",
        Scope::Finished => "finished",
        Scope::All => "all",
    };
    let trades = match deals::read_smart_trades(client, status).await {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let lines: Vec<SmartTradeLine> = trades.iter().map(deals::smart_trade_line).collect();
    let mut out = std::io::stdout().lock();
    let written = match args.format {
        Format::Json => serde_json::to_writer_pretty(&mut out, &lines)
            .map_err(std::io::Error::other)
            .and_then(|()| writeln!(out)),
        Format::Human => {
            let mut r = Ok(());
            if lines.is_empty() {
                r = writeln!(out, "No SmartTrades.");
            }
            for l in &lines {
                r = r.and_then(|()| {
                    writeln!(
                        out,
                        "{:>10}  {:<11} {:<14} {:<16} {:<20} profit {} ({} %)",
                        l.id,
                        l.pair,
                        l.kind,
                        l.status,
                        crate::diagnostic::quote_input(&l.account),
                        l.profit,
                        l.profit_percent
                    )
                });
            }
            r
        }
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

// ---------------------------------------------------------------------------------------------
// botform deal ...

pub fn deal(args: DealArgs) -> ExitCode {
    super::runtime().block_on(deal_async(args))
}

async fn deal_async(args: DealArgs) -> ExitCode {
    let (id, action, gate) = match args.command {
        DealCommand::Show { id, format } => return show(id, format).await,
        DealCommand::Cancel { id, gate } => (id, Action::Cancel, gate),
        DealCommand::PanicSell { id, gate } => (id, Action::PanicSell, gate),
        DealCommand::AddFunds {
            id,
            quantity,
            price,
            gate,
        } => (id, Action::AddFunds { quantity, price }, gate),
        DealCommand::Update {
            id,
            take_profit,
            max_safety_orders,
            stop_loss,
            gate,
        } => (
            id,
            Action::Update(DealUpdate {
                take_profit,
                max_safety_orders,
                stop_loss_percentage: stop_loss,
            }),
            gate,
        ),
    };
    let target = match crate::connect::connect(ConnectOptions::default()).await {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let preview = match deals::preview(&target.client, id, action).await {
        Ok(p) => p,
        Err(ApiError::Rejected { status: 404, .. }) => {
            return fail(format!("deal {id} does not exist on this account"));
        }
        Err(e) => return fail(e),
    };
    let json = gate.format == Format::Json;
    if !json {
        eprintln!("Deal:   {}", preview.deal);
        if preview.refusal.is_none() {
            eprintln!("Action: {}", preview.effect);
        }
    }
    let refuse = |why: String, preview: &deals::Preview| {
        deals::record_not_run(Who::Cli, preview, &format!("refused: {why}"));
        if json {
            print_json(&serde_json::json!({ "preview": preview, "ran": false, "refused": why }));
        }
        eprintln!("botform: {why}");
        ExitCode::FAILURE
    };
    if let Some(why) = preview.refusal.clone() {
        return refuse(why, &preview);
    }
    if !gate.auto_approve {
        if !std::io::stdin().is_terminal() {
            return refuse(
                "no terminal to confirm on: nothing was sent; review the action above, then run again with --auto-approve".into(),
                &preview,
            );
        }
        eprint!(
            "\nDo you want to {} deal {}?\n  Only 'yes' will be accepted: ",
            preview.action.replace('_', " "),
            preview.deal_id
        );
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if answer.trim() != "yes" {
            deals::record_not_run(Who::Cli, &preview, "declined");
            eprintln!("Nothing was sent.");
            return ExitCode::FAILURE;
        }
    }
    if !json && matches!(preview.request, Action::Cancel | Action::PanicSell) {
        eprintln!(
            "Sent; waiting for 3Commas to finish it (up to {} s)...",
            deals::settle_wait().as_secs()
        );
    }
    let outcome = deals::run(&target.client, &target.identity, &preview, Who::Cli, || {
        eprintln!("botform: another botform process is writing to this account; waiting for it")
    })
    .await;
    match outcome {
        Ok(o) => {
            if json {
                print_json(&serde_json::json!({ "preview": preview, "ran": true, "outcome": o }));
            } else {
                println!("{}", o.message);
                println!("{}", o.deal);
            }
            if o.done {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => fail(e),
    }
}

fn print_json(value: &serde_json::Value) {
    let text = serde_json::to_string_pretty(value).expect("JSON serializes");
    println!("{text}");
}

async fn show(id: i64, format: Format) -> ExitCode {
    let target = match crate::connect::connect(ConnectOptions::default()).await {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let deal = match target.client.deal(id).await {
        Ok(d) => d,
        Err(ApiError::Rejected { status: 404, .. }) => {
            return fail(format!("deal {id} does not exist on this account"));
        }
        Err(e) => return fail(e),
    };
    let now = crate::timefmt::now_unix();
    let line = line_of(&deal, now);
    let can = |flag: Option<bool>| flag.unwrap_or(!performance::is_finished(&deal));
    match format {
        Format::Json => print_json(&serde_json::json!({
            "deal": line,
            "summary": deals::describe(&deal),
            "take_profit": deal.take_profit,
            "take_profit_price": deal.take_profit_price,
            "stop_loss_percentage": deal.stop_loss_percentage,
            "current_price": deal.current_price,
            "can": {
                "cancel": can(deal.cancellable),
                "panic_sell": can(deal.panic_sellable),
                "add_funds": can(deal.add_fundable),
            },
        })),
        Format::Human => {
            println!("{}", deals::describe(&deal));
            println!(
                "opened {}{}; take profit {} % (at {}), stop loss {} %",
                deal.created_at,
                deal.closed_at.as_deref().map_or(
                    format!(", running {}", human_duration(line.duration_s)),
                    |c| { format!(", closed {c} after {}", human_duration(line.duration_s)) }
                ),
                deal.take_profit.map_or("?".into(), |d| d.to_string()),
                deal.take_profit_price.map_or("?".into(), |d| d.to_string()),
                deal.stop_loss_percentage
                    .map_or("none".into(), |d| d.to_string()),
            );
            if !performance::is_finished(&deal) {
                let mut actions = Vec::new();
                if can(deal.cancellable) {
                    actions.push("cancel");
                }
                if can(deal.panic_sellable) {
                    actions.push("panic-sell");
                }
                if can(deal.add_fundable) {
                    actions.push("add-funds");
                }
                actions.push("update");
                println!("can: botform deal {} {id}", actions.join("|"));
            }
        }
    }
    ExitCode::SUCCESS
}
