//! The plan for people, in the form terraform users already read: a legend for the symbols used,
//! one block per object with only what changes (`old -> new`), the count of hidden unchanged
//! fields, DCA figures when they move, and the closing `Plan:` line. Reads well without color.

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};
use serde_json::Value;

use super::change::show;
use super::plan::{Action, Change, DcaFigures, Plan, ResourceKind};

pub struct RenderOptions {
    pub color: bool,
    /// List unmanaged live bots instead of only counting them.
    pub show_unmanaged: bool,
}

struct Painter {
    color: bool,
}

impl Painter {
    fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_string()
        }
    }
}

fn symbol(action: Action) -> (&'static str, Style, &'static str) {
    match action {
        Action::Create => ("+", AnsiColor::Green.on_default(), "create"),
        Action::Update | Action::UpdateBlacklist => {
            ("~", AnsiColor::Yellow.on_default(), "update in-place")
        }
        Action::Delete => ("-", AnsiColor::Red.on_default(), "destroy"),
    }
}

pub fn render(out: &mut dyn Write, plan: &Plan, options: &RenderOptions) -> io::Result<()> {
    let p = Painter {
        color: options.color,
    };
    writeln!(out, "{}", target_line(plan))?;
    if plan.changes.is_empty() {
        writeln!(
            out,
            "{}",
            p.paint(
                AnsiColor::Green.on_default().bold(),
                if plan.target.sandbox {
                    "No changes. The built-in sandbox matches the configuration."
                } else {
                    "No changes. The 3Commas account matches the configuration."
                }
            )
        )?;
        write_unmanaged(out, plan, options)?;
        return Ok(());
    }
    // Where, in which mode: the target line above says it.
    writeln!(out, "botform will make these changes. Symbols:")?;
    let mut seen: Vec<Action> = plan
        .changes
        .iter()
        .map(|c| match c.action {
            Action::UpdateBlacklist => Action::Update,
            a => a,
        })
        .collect();
    seen.sort();
    seen.dedup();
    for action in [Action::Create, Action::Update, Action::Delete] {
        if seen.contains(&action) {
            let (sym, style, word) = symbol(action);
            writeln!(out, "  {} {word}", p.paint(style, sym))?;
        }
    }
    if plan.changes.iter().any(|c| c.replaces_because.is_some()) {
        writeln!(
            out,
            "{} destroy and then create replacement",
            p.paint(AnsiColor::Red.on_default(), "-/+")
        )?;
    }
    writeln!(out)?;
    for change in &plan.changes {
        write_change(out, change, &p)?;
    }
    write_unmanaged(out, plan, options)?;
    write_capital(out, plan)?;
    let s = &plan.summary;
    writeln!(
        out,
        "{} {} to add, {} to change, {} to destroy.",
        p.paint(Style::new().bold(), "Plan:"),
        s.add,
        s.change,
        s.destroy
    )
}

/// Capital at risk per account, where the plan moves it.
fn write_capital(out: &mut dyn Write, plan: &Plan) -> io::Result<()> {
    let moved: Vec<_> = plan
        .capital
        .iter()
        .filter(|c| c.before != c.after || c.short_of_balance())
        .collect();
    if moved.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "Capital at risk ({}):",
        crate::model::dca::CAPITAL_AT_RISK_RULE
    )?;
    for c in moved {
        writeln!(out, "  {}: {}", c.account, capital_move(c))?;
    }
    writeln!(out)
}

/// `1200 USDT -> 1450.5 USDT (budget 5000 USDT)`, with `≈ N USDT` for a currency converted into
/// the budget's and a warning when the account has less free than the worst case: rounded to
/// the currency's precision for people; the JSON plan keeps the exact figures.
pub fn capital_move(c: &super::plan::Capital) -> String {
    let budget_currency = c.budget_currency.as_deref().unwrap_or(&c.currency);
    let converted = c
        .after_in_budget_currency
        .map(|x| {
            format!(
                " ≈ {} {budget_currency} at 3Commas' rate",
                x.display_in(budget_currency)
            )
        })
        .unwrap_or_default();
    let budget = c
        .budget
        .filter(|_| budget_currency == c.currency || c.after_in_budget_currency.is_some())
        .map(|b| format!(" (budget {b} {budget_currency})"))
        .unwrap_or_default();
    let balance = match c.available {
        Some(free) if c.short_of_balance() => format!(
            "; warning: only {} {} free on the account, less than the bots' worst case",
            free.display_in(&c.currency),
            c.currency
        ),
        _ => String::new(),
    };
    format!(
        "{} {cur} -> {} {cur}{converted}{budget}{balance}",
        c.before.display_in(&c.currency),
        c.after.display_in(&c.currency),
        cur = c.currency
    )
}

/// A plan's first line: where it acts, in which mode, and whether `Forced-Mode` is sent, so no
/// reader (a person, a CI log, an assistant) mistakes the sandbox for the account or the
/// other way round.
pub fn target_line(plan: &Plan) -> String {
    let target = if plan.target.sandbox {
        "the built-in sandbox".to_string()
    } else {
        crate::diagnostic::quote_input(&plan.target.api_url)
    };
    let forced = match (plan.target.mode, plan.answered_in) {
        (Some(m), _) => format!(", {m} mode (Forced-Mode: {m} is sent with every request)"),
        (None, Some(m)) => format!(
            ", {m} mode (no Forced-Mode is sent: 3Commas answers in the mode its web app was last left in, {m} now; set settings.mode to be sure)"
        ),
        (None, None) => " (no Forced-Mode is sent)".to_string(),
    };
    format!("Target: {target}{forced}.")
}

/// Which money a plan acts on: the forced mode, or the one 3Commas answered in without it.
pub fn mode_words(plan: &Plan) -> String {
    match (plan.target.mode, plan.answered_in) {
        (Some(m), _) => format!(", {m} mode"),
        (None, Some(m)) => format!(
            ", {m} mode (no Forced-Mode is sent: 3Commas answers in the mode its web app was last left in, {m} now; set settings.mode to be sure)"
        ),
        (None, None) => String::new(),
    }
}

fn write_unmanaged(out: &mut dyn Write, plan: &Plan, options: &RenderOptions) -> io::Result<()> {
    for held in &plan.held {
        writeln!(out, "Warning: {}: {}", held.address, held.reason)?;
    }
    let n = plan.unmanaged.len();
    if n == 0 {
        return Ok(());
    }
    let bots = if n == 1 {
        "live bot is"
    } else {
        "live bots are"
    };
    if options.show_unmanaged {
        writeln!(
            out,
            "{n} {bots} on the config's accounts but not in the config (left alone):"
        )?;
        for b in &plan.unmanaged {
            writeln!(
                out,
                "  bot \"{}\" (id {}, account {})",
                crate::diagnostic::shown(&b.name),
                b.id,
                b.account_id
            )?;
        }
    } else {
        writeln!(
            out,
            "{n} {bots} on the config's accounts but not in the config (left alone; --show-unmanaged lists them)."
        )?;
    }
    writeln!(out)
}

fn write_change(out: &mut dyn Write, change: &Change, p: &Painter) -> io::Result<()> {
    let (sym, style, _) = match &change.replaces_because {
        Some(_) => ("-/+", AnsiColor::Red.on_default(), "replace"),
        None => symbol(change.action),
    };
    let id = change
        .bot_id
        .map(|id| format!(" (id {id})"))
        .unwrap_or_default();
    let what = match change.action {
        Action::Delete if change.replaces_because.is_some() => format!(
            "must be replaced ({}){}",
            change.replaces_because.as_deref().unwrap_or_default(),
            if change.enable == Some(true) {
                ", then enabled"
            } else {
                ""
            }
        ),
        Action::Create if change.enable == Some(true) => {
            "will be created, then enabled".to_string()
        }
        Action::Create => "will be created (disabled, as 3Commas creates bots)".to_string(),
        Action::Update | Action::UpdateBlacklist => "will be updated in-place".to_string(),
        Action::Delete if change.active_deals > 0 => format!(
            "will be destroyed; it has {} active deal{}: apply refuses until they close",
            change.active_deals,
            if change.active_deals == 1 { "" } else { "s" }
        ),
        Action::Delete => "will be destroyed".to_string(),
    };
    let source = change
        .source
        .as_ref()
        .map(|s| format!("  ({}:{})", s.file, s.line))
        .unwrap_or_default();
    writeln!(
        out,
        "  {} {}{id} {what}{source}",
        p.paint(Style::new().bold(), "#"),
        change.address
    )?;
    let head = match (change.action, change.kind) {
        (Action::UpdateBlacklist, _) => "blacklist".to_string(),
        (_, ResourceKind::DcaBot) => format!(
            "bot \"{}\"",
            crate::diagnostic::shown(change.bot_name.as_deref().unwrap_or("?"))
        ),
        (_, ResourceKind::GridBot) => format!(
            "grid bot \"{}\"",
            crate::diagnostic::shown(change.bot_name.as_deref().unwrap_or("?"))
        ),
    };
    let write_only = change.kind.write_only_fields();
    writeln!(out, "  {} {head} {{", p.paint(style, sym))?;
    let width = change
        .fields
        .iter()
        .map(|f| f.field.len())
        .max()
        .unwrap_or(0);
    for f in &change.fields {
        let line = match (change.action, &f.before, &f.after) {
            (Action::UpdateBlacklist, None, Some(a)) => format!(
                "{} {}",
                p.paint(AnsiColor::Green.on_default(), "+"),
                show(a)
            ),
            (Action::UpdateBlacklist, Some(b), None) => {
                format!("{} {}", p.paint(AnsiColor::Red.on_default(), "-"), show(b))
            }
            (Action::Update, before, Some(a)) if write_only.contains(&f.field.as_str()) => {
                format!(
                    "{} {:width$} = {} -> {}{}",
                    p.paint(AnsiColor::Yellow.on_default(), "~"),
                    f.field,
                    before
                        .as_ref()
                        .map(show)
                        .unwrap_or_else(|| "unknown".into()),
                    show(a),
                    p.paint(
                        Style::new().dimmed(),
                        &format!("   # {}", write_only_note(before))
                    )
                )
            }
            (_, None, Some(a)) => format!(
                "{} {:width$} = {}",
                p.paint(AnsiColor::Green.on_default(), "+"),
                f.field,
                show(a)
            ),
            (_, Some(b), Some(a)) => format!(
                "{} {:width$} = {} -> {}{}",
                p.paint(AnsiColor::Yellow.on_default(), "~"),
                f.field,
                show(b),
                show(a),
                // Where the new value is written: the bot, or a template it starts from.
                change
                    .origins
                    .get(&f.field)
                    .map(|o| p.paint(
                        Style::new().dimmed(),
                        &format!("   # {}:{}", o.file, o.line)
                    ))
                    .unwrap_or_default()
            ),
            (_, Some(b), None) => format!(
                "{} {:width$} = {}",
                p.paint(AnsiColor::Red.on_default(), "-"),
                f.field,
                show(b)
            ),
            (_, None, None) => continue,
        };
        writeln!(out, "      {line}")?;
    }
    if change.unchanged > 0 {
        let what = if change.action == Action::UpdateBlacklist {
            "pair"
        } else {
            "attribute"
        };
        writeln!(
            out,
            "        # ({} unchanged {what}{} hidden)",
            change.unchanged,
            if change.unchanged == 1 { "" } else { "s" }
        )?;
    }
    writeln!(out, "    }}")?;
    match (&change.dca_before, &change.dca_after) {
        (Some(b), Some(a)) => writeln!(out, "    DCA: {} -> {}", figures(b), figures(a))?,
        (None, Some(a)) => writeln!(out, "    DCA: {}", figures(a))?,
        (Some(b), None) if change.action == Action::Delete => {
            writeln!(out, "    DCA: frees {}", figures(b))?
        }
        _ => {}
    }
    for warning in &change.warnings {
        writeln!(
            out,
            "    {} {warning}",
            p.paint(AnsiColor::Yellow.on_default(), "Warning:")
        )?;
    }
    writeln!(out)
}

/// DCA figures in a short sentence, rounded for people.
pub fn figures(f: &DcaFigures) -> String {
    let currency = f.currency.as_deref().unwrap_or("");
    let unit = f
        .currency
        .as_deref()
        .map(|c| format!(" {c}"))
        .unwrap_or_default();
    let capital = match (&f.capital_per_deal, &f.capital_all_deals) {
        (Some(d), Some(a)) if d != a => format!(
            "{}{unit} per deal, {}{unit} for all deals",
            d.display_in(currency),
            a.display_in(currency)
        ),
        (Some(d), _) => format!("{}{unit} per deal", d.display_in(currency)),
        _ => "capital depends on the price".to_string(),
    };
    format!(
        "{capital}, covers a price move of {}%",
        f.price_move_covered_percentage.display_percent()
    )
}

/// The plan in a few lines a person confirms: each change with its bot, each field old -> new
/// (long values cut), every blacklist pair added and removed, every deletion spelt out. At most
/// `limit` characters; what does not fit is counted, never silently dropped.
pub fn confirmation_text(plan: &Plan, limit: usize) -> String {
    let cut = |text: String| {
        if text.chars().count() > 60 {
            format!("{}...", text.chars().take(57).collect::<String>())
        } else {
            text
        }
    };
    let mut lines = Vec::new();
    for change in &plan.changes {
        match change.action {
            Action::UpdateBlacklist => {
                let added: Vec<String> = change
                    .fields
                    .iter()
                    .filter(|f| f.before.is_none())
                    .filter_map(|f| f.after.as_ref())
                    .map(show)
                    .collect();
                let removed: Vec<String> = change
                    .fields
                    .iter()
                    .filter(|f| f.after.is_none())
                    .filter_map(|f| f.before.as_ref())
                    .map(show)
                    .collect();
                let mut line = "blacklist:".to_string();
                if !added.is_empty() {
                    line.push_str(&format!(" add {}", added.join(", ")));
                }
                if !removed.is_empty() {
                    line.push_str(&format!(
                        "{} REMOVE {}",
                        if added.is_empty() { "" } else { ";" },
                        removed.join(", ")
                    ));
                }
                lines.push(line);
            }
            Action::Create => lines.push(match &change.dca_after {
                Some(f) => format!("+ create {} ({})", change.address, figures(f)),
                None => format!("+ create {}", change.address),
            }),
            Action::Delete => lines.push(match &change.replaces_because {
                Some(why) => format!("-/+ REPLACE {} ({why})", change.address),
                None => format!("- DELETE {}", change.address),
            }),
            Action::Update => {
                let fields: Vec<String> = change
                    .fields
                    .iter()
                    .map(|f| {
                        let side = |v: &Option<Value>| {
                            v.as_ref().map(show).unwrap_or_else(|| "(none)".into())
                        };
                        cut(format!(
                            "{} {} -> {}",
                            f.field,
                            side(&f.before),
                            side(&f.after)
                        ))
                    })
                    .collect();
                lines.push(format!("~ {}: {}", change.address, fields.join("; ")));
            }
        }
        // What it may spend or leave behind (a grid's balancing order, a deleted grid's coins).
        for warning in &change.warnings {
            let short: String = warning.chars().take(200).collect();
            let more = if short.len() < warning.len() {
                "..."
            } else {
                ""
            };
            lines.push(format!("  ! {short}{more}"));
        }
    }
    let s = &plan.summary;
    let mut text = format!(
        "Apply this botform plan? {} to add, {} to change, {} to destroy.",
        s.add, s.change, s.destroy
    );
    for c in plan
        .capital
        .iter()
        .filter(|c| c.before != c.after || c.short_of_balance())
    {
        text.push_str(&format!(
            "\ncapital at risk on {}: {}",
            c.account,
            capital_move(c)
        ));
    }
    for (shown, line) in lines.iter().enumerate() {
        if text.len() + line.len() + 40 > limit {
            text.push_str(&format!(
                "\n... and {} more changes (see the plan)",
                lines.len() - shown
            ));
            break;
        }
        text.push('\n');
        text.push_str(line);
    }
    text
}

/// Why a write-only field's "before" is what botform last sent, or unknown (review M-1).
pub fn write_only_note(last_sent: &Option<Value>) -> String {
    match last_sent {
        Some(v) => format!("(3Commas does not show this field; last sent: {})", show(v)),
        None => "(3Commas does not show this field, and botform has not sent it to this bot: unknown, so it is sent)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::plan::{Change, FieldChange, Limits, PlanTarget, Summary};

    fn update(i: usize) -> Change {
        let mut change: Change = serde_json::from_value(serde_json::json!({
            "action": "update", "address": format!("bot \"b{i}\" on main"), "bot_name": null,
            "account": "main", "account_id": 1, "bot_id": i, "fields": [], "unchanged": 0,
            "settings": null, "enable": null, "blacklist": null, "active_deals": 0,
            "dca_before": null, "dca_after": null, "source": null, "origins": {}
        }))
        .unwrap();
        change.fields.push(FieldChange {
            field: "name".into(),
            before: Some(Value::String("x".repeat(200))),
            after: Some(Value::String("y".into())),
        });
        change
    }

    /// A plan of these changes on the built-in sandbox.
    fn plan_of(changes: Vec<Change>, summary: Summary) -> Plan {
        Plan {
            format_version: 1,
            target: PlanTarget {
                api_url: "built-in sandbox".into(),
                mode: None,
                sandbox: true,
            },
            changes,
            summary,
            limits: Limits {
                max_change_percentage: crate::model::decimal::Decimal::from_int(30),
                max_delete: None,
            },
            answered_in: None,
            unmanaged: Vec::new(),
            held: Vec::new(),
            capital: Vec::new(),
            fingerprints: Default::default(),
        }
    }

    #[test]
    fn a_confirmation_stays_within_its_size_and_counts_what_it_leaves_out() {
        let plan = plan_of(
            (0..500).map(update).collect(),
            Summary {
                change: 500,
                ..Summary::default()
            },
        );
        let text = confirmation_text(&plan, 2_000);
        assert!(text.len() <= 2_000, "{}", text.len());
        assert!(text.contains("~ bot \"b0\" on main: name"));
        assert!(text.contains("more changes (see the plan)"));
        assert!(!text.contains(&"x".repeat(100)), "long values are cut");
    }

    #[test]
    fn a_confirmation_names_a_replacement_and_what_it_may_spend() {
        let change = Change {
            kind: crate::engine::kinds::ResourceKind::GridBot,
            replaces_because: Some("3Commas cannot change a grid bot's pair".into()),
            warnings: vec!["enabling may place a market balancing order".into()],
            ..Change::new(Action::Delete, "grid bot \"g\" on main".into())
        };
        let plan = plan_of(vec![change], Summary::default());
        let text = confirmation_text(&plan, 2_000);
        assert!(
            text.contains("-/+ REPLACE grid bot \"g\" on main (3Commas cannot change"),
            "{text}"
        );
        assert!(
            text.contains("  ! enabling may place a market balancing order"),
            "{text}"
        );
    }
}
