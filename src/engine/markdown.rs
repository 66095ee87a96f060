//! The plan as Markdown, for a pull-request comment (`botform plan --format markdown`): a summary
//! table per account with capital at risk, then one collapsible block per change with its fields
//! before → after, its DCA figures and the config line it comes from. The first line is a marker
//! (`<!-- botform-plan -->`) a CI job uses to find and update its own comment. The text stays
//! under GitHub's comment limit: blocks past it are counted, not dropped silently.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::Value;

use super::change::show;
use super::plan::{Action, Change, Plan};
use super::render::{capital_move, figures, mode_words};

/// The marker a CI job finds its comment by.
pub const MARKER: &str = "<!-- botform-plan -->";

/// GitHub refuses comments over 65,536 characters; leave room for the CI job's own lines.
const COMMENT_LIMIT: usize = 60_000;

/// A cell's text: pipes escaped, long values cut.
fn cell(value: &Option<Value>) -> String {
    let text = value.as_ref().map(show).unwrap_or_default();
    let text = if text.chars().count() > 80 {
        format!("{}…", text.chars().take(79).collect::<String>())
    } else {
        text
    };
    if text.is_empty() {
        " ".into()
    } else {
        format!("`{}`", text.replace('|', "\\|").replace('`', "'"))
    }
}

fn heading(change: &Change) -> String {
    let (sym, verb) = match change.action {
        Action::Create => ("+", "create"),
        Action::Update | Action::UpdateBlacklist => ("~", "update"),
        Action::Delete => ("-", "destroy"),
    };
    let dca = match (&change.dca_before, &change.dca_after) {
        (Some(b), Some(a)) => format!(" · {} → {}", figures(b), figures(a)),
        (None, Some(a)) => format!(" · {}", figures(a)),
        (Some(b), None) if change.action == Action::Delete => {
            format!(" · frees {}", figures(b))
        }
        _ => String::new(),
    };
    format!(
        "{sym} {verb} <code>{}</code>{dca}",
        change.address.replace('<', "&lt;").replace('>', "&gt;")
    )
}

fn block(change: &Change) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "<details><summary>{}</summary>\n", heading(change));
    if change.action == Action::Delete && change.active_deals > 0 {
        let _ = writeln!(
            out,
            "**{} active deal(s)**: apply refuses to delete it until they close.\n",
            change.active_deals
        );
    }
    if change.action == Action::UpdateBlacklist {
        let _ = writeln!(out, "| Pair | |\n| --- | --- |");
        for f in &change.fields {
            match (&f.before, &f.after) {
                (None, Some(_)) => {
                    let _ = writeln!(out, "| {} | added |", cell(&f.after));
                }
                (Some(_), None) => {
                    let _ = writeln!(out, "| {} | **removed** |", cell(&f.before));
                }
                _ => {}
            }
        }
    } else if !change.fields.is_empty() {
        let _ = writeln!(out, "| Field | Before | After |\n| --- | --- | --- |");
        for f in &change.fields {
            let before = if change.action == Action::Update
                && change.kind.write_only_fields().contains(&f.field.as_str())
            {
                let last = f.before.as_ref().map(|_| cell(&f.before));
                format!(
                    "{} {}",
                    last.unwrap_or_else(|| "unknown".into()),
                    super::render::write_only_note(&f.before)
                )
            } else {
                cell(&f.before)
            };
            let _ = writeln!(out, "| `{}` | {} | {} |", f.field, before, cell(&f.after));
        }
    }
    if change.unchanged > 0 {
        let _ = writeln!(out, "\n{} unchanged, not shown.", change.unchanged);
    }
    if let Some(why) = &change.replaces_because {
        let _ = writeln!(out, "\n**Replaced** (destroyed, then created anew): {why}.");
    }
    for warning in &change.warnings {
        let _ = writeln!(out, "\n> **Warning:** {warning}");
    }
    if let Some(source) = &change.source {
        let _ = writeln!(out, "\nConfig: `{}:{}`", source.file, source.line);
    }
    let _ = writeln!(out, "\n</details>");
    out
}

pub fn render(plan: &Plan) -> String {
    let s = &plan.summary;
    let mut out = String::new();
    let _ = writeln!(out, "{MARKER}");
    // The heading names the target: the first line a reviewer reads.
    let where_ = if plan.target.sandbox {
        "on the built-in sandbox"
    } else {
        "on 3Commas"
    };
    if plan.changes.is_empty() {
        let _ = writeln!(
            out,
            "### botform plan {where_}: no changes\n\n{}\n\n{} matches the configuration{}.",
            super::render::target_line(plan),
            if plan.target.sandbox {
                "The built-in sandbox"
            } else {
                "The 3Commas account"
            },
            mode_words(plan)
        );
        return out;
    }
    let _ = writeln!(
        out,
        "### botform plan {where_}: {} to add, {} to change, {} to destroy\n\n{}\n",
        s.add,
        s.change,
        s.destroy,
        super::render::target_line(plan),
    );
    // Per account: counts, and capital at risk where it moves.
    let mut rows: BTreeMap<String, [usize; 3]> = BTreeMap::new();
    for c in &plan.changes {
        let account = c.account.clone().unwrap_or_else(|| "(all accounts)".into());
        let row = rows.entry(account).or_default();
        match c.action {
            Action::Create => row[0] += 1,
            Action::Update | Action::UpdateBlacklist => row[1] += 1,
            Action::Delete => row[2] += 1,
        }
    }
    let _ = writeln!(
        out,
        "| Account | Add | Change | Destroy | Capital at risk |\n| --- | ---: | ---: | ---: | --- |"
    );
    for (account, [add, change, destroy]) in &rows {
        let capital: Vec<String> = plan
            .capital
            .iter()
            .filter(|c| &c.account == account)
            .map(capital_move)
            .collect();
        let _ = writeln!(
            out,
            "| {account} | {add} | {change} | {destroy} | {} |",
            if capital.is_empty() {
                "—".to_string()
            } else {
                capital.join("<br>").replace("->", "→")
            }
        );
    }
    let _ = writeln!(out);
    let mut left_out = 0;
    for change in &plan.changes {
        let text = block(change);
        if out.len() + text.len() > COMMENT_LIMIT {
            left_out += 1;
            continue;
        }
        out.push_str(&text);
    }
    if left_out > 0 {
        let _ = writeln!(
            out,
            "\n{left_out} more change(s) did not fit in a comment: run `botform plan` to see them all."
        );
    }
    for held in &plan.held {
        let _ = writeln!(out, "\n> **Warning:** {}: {}", held.address, held.reason);
    }
    if !plan.unmanaged.is_empty() {
        let _ = writeln!(
            out,
            "\n{} live bot(s) on these accounts are not in the config (left alone).",
            plan.unmanaged.len()
        );
    }
    out
}
