//! What an optimization answers, for people (`human`) and programs (the CLI's JSON, the MCP
//! tool): the walk-forward table of the best candidates in and out of sample beside the current
//! config, the verdict, and the winner as the fields to set.

use serde::Serialize;
use serde_json::{Map, Value};

use super::evaluate::{Evaluator, Score};
use super::search::{Counts, Ranking, Record, objective};
use super::{IN_SAMPLE_PERCENTAGE, Objective, Study};
use crate::model::decimal::Decimal;

/// A candidate's (or the current config's) figures over some parts.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Figures {
    /// The objective's value (profit in quote, profit per capital in percent, or Sortino).
    pub objective: Decimal,
    pub profit_quote: Decimal,
    pub max_drawdown_quote: Decimal,
    pub deals: u32,
    pub ladder_exhausted: u32,
    pub stopped: u32,
}

/// One row of the walk-forward table.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Row {
    /// 1 for the winner; 0 for the current config.
    pub rank: usize,
    /// The candidate's number (`space.draw(seed, candidate)`); absent for the current config.
    pub candidate: Option<u64>,
    /// The varied settings' values.
    pub values: Map<String, Value>,
    pub capital_quote: Option<Decimal>,
    pub coverage_percentage: Decimal,
    pub in_sample: Figures,
    pub out_of_sample: Figures,
    /// The objective out of sample, fold by fold.
    pub out_of_sample_by_fold: Vec<Decimal>,
}

/// An optimization's answer.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Report {
    pub bot: String,
    pub account: String,
    pub pairs: Vec<String>,
    pub candles: usize,
    pub interval_s: i64,
    pub objective: String,
    pub folds: u32,
    /// Of each fold, the share in sample (the rest, at its end, is out of sample).
    pub in_sample_percentage: i64,
    pub seed: u64,
    pub fee_percentage: Decimal,
    pub counts: Counts,
    /// The commonest reasons validate refused candidates, with how many.
    pub refusals: Vec<String>,
    pub current: Row,
    /// The best in sample, ranked out of sample; the first is the winner.
    pub top: Vec<Row>,
    pub winner_beats_current: bool,
    /// The verdict, in a sentence.
    pub verdict: String,
    /// The settings the winner changes (only those that differ from the config), as
    /// `set_fields` takes them.
    pub changes: Map<String, Value>,
    /// Other bots the edit changes too (with --template: those sharing it); at most 20 names.
    pub also_changes: Vec<String>,
    /// How many other bots it changes in all.
    pub also_changes_count: usize,
    /// Stopped before every candidate was run (Ctrl-C, a cancelled call).
    pub interrupted: bool,
}

/// What `botform optimize --format json` (and `optimize merge --format json`) prints:
/// `format_version` 1, schema `botform schema --optimize` (schema/optimize.schema.json).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Output {
    pub format_version: u32,
    pub report: Report,
    /// The winner's edit as a unified diff (empty: none, or a merge, which has no config).
    pub diff: String,
    /// `--write` wrote it.
    pub written: bool,
}

/// The schema of [`Output`] (`botform schema --optimize`).
pub fn schema_json() -> String {
    crate::schema::schema_of::<Output>()
}

fn figures(study: &Study, record: &Record, totals: &Score, in_sample: bool) -> Figures {
    Figures {
        objective: objective(study, record, in_sample),
        profit_quote: totals.profit_quote,
        max_drawdown_quote: totals.max_drawdown_quote,
        deals: totals.deals,
        ladder_exhausted: totals.ladder_exhausted,
        stopped: totals.stopped,
    }
}

fn row(study: &Study, record: &Record, rank: usize, current: bool) -> Row {
    Row {
        rank,
        candidate: (!current).then_some(record.index),
        values: study.space.fields(&record.values),
        capital_quote: record.capital,
        coverage_percentage: record.coverage.round_dp(2),
        in_sample: figures(study, record, &record.in_sample_totals(), true),
        out_of_sample: figures(study, record, &record.out_of_sample_totals(), false),
        out_of_sample_by_fold: record
            .out_of_sample
            .iter()
            .map(|p| Score::total([p]).value(study.objective, record.capital))
            .collect(),
    }
}

/// The answer for a ranking. `evaluator` (absent for a merge, which has no config) names the
/// candles and gives the winner's changes against the config.
pub fn build(
    study: &Study,
    ranking: &Ranking,
    evaluator: Option<&Evaluator>,
    interrupted: bool,
) -> Report {
    let current = row(study, &ranking.baseline, 0, true);
    let top: Vec<Row> = ranking
        .top
        .iter()
        .enumerate()
        .map(|(i, r)| row(study, r, i + 1, false))
        .collect();
    let beats = ranking.winner_beats_baseline(study);
    let unit = unit(study.objective, evaluator.map_or("", |e| e.quote.as_str()));
    let verdict = match top.first() {
        None => "no candidate was scored on every fold within the constraints: widen --vary, raise --trials or loosen the constraints".to_string(),
        Some(w) if beats => {
            let better = w
                .out_of_sample_by_fold
                .iter()
                .zip(&current.out_of_sample_by_fold)
                .filter(|(a, b)| a > b)
                .count();
            format!(
                "the winner (candidate {}) beats the current config out of sample: {}{unit} against {}{unit}, better in {better} of {} folds",
                w.candidate.unwrap_or_default(),
                w.out_of_sample.objective.round_dp(2),
                current.out_of_sample.objective.round_dp(2),
                w.out_of_sample_by_fold.len()
            )
        }
        Some(w) => format!(
            "the winner (candidate {}) does NOT beat the current config out of sample ({}{unit} against {}{unit}): keep the current config",
            w.candidate.unwrap_or_default(),
            w.out_of_sample.objective.round_dp(2),
            current.out_of_sample.objective.round_dp(2)
        ),
    };
    let changes = match (evaluator, ranking.winner()) {
        (Some(e), Some(w)) => e.changed_fields(&w.values),
        (None, Some(w)) => study.space.fields(&w.values),
        _ => Map::new(),
    };
    let also = match (evaluator, ranking.winner()) {
        (Some(e), Some(w)) => e.also_changed(&w.values),
        _ => Vec::new(),
    };
    Report {
        also_changes_count: also.len(),
        also_changes: also.into_iter().take(20).collect(),
        bot: evaluator.map_or(study.bot.clone(), |e| e.bot_name.clone()),
        account: evaluator.map_or_else(
            || study.account.clone().unwrap_or_default(),
            |e| e.account.clone(),
        ),
        pairs: evaluator.map(|e| e.pairs.clone()).unwrap_or_default(),
        candles: evaluator.map_or(0, |e| e.candles),
        interval_s: evaluator.map_or(0, |e| e.interval_ms / 1000),
        objective: study.objective.name().into(),
        folds: study.folds,
        in_sample_percentage: IN_SAMPLE_PERCENTAGE,
        seed: study.seed,
        fee_percentage: study.fee_percentage,
        counts: ranking.counts.clone(),
        refusals: ranking
            .refusals
            .iter()
            .map(|(why, n)| format!("{n} x {why}"))
            .collect(),
        current,
        top,
        winner_beats_current: beats,
        verdict,
        changes,
        interrupted,
    }
}

/// A single run's (or shard-less) ranking and answer, against the evaluator's config.
pub fn of_run(evaluator: &Evaluator, records: &super::search::Records) -> (Ranking, Report) {
    let ranking = super::search::rank(records);
    let report = build(
        &evaluator.study,
        &ranking,
        Some(evaluator),
        records.interrupted,
    );
    (ranking, report)
}

/// How the objective's values read: ` USDT`, ` %`, or nothing.
pub fn unit(objective: Objective, quote: &str) -> String {
    match objective {
        Objective::Profit | Objective::CappedProfit if !quote.is_empty() => format!(" {quote}"),
        Objective::ProfitPerCapital => " %".into(),
        _ => String::new(),
    }
}

/// The walk-forward table's figure columns, after the rank, the candidate and the settings.
pub const TABLE_FIGURES: [&str; 5] = [
    "capital",
    "in-sample",
    "out-of-sample",
    "OOS by fold",
    "OOS drawdown",
];

/// The walk-forward table's rows, as text: the current config, then the ranked candidates.
pub fn table_rows(report: &Report) -> Vec<Vec<String>> {
    let fields: Vec<&String> = report.current.values.keys().collect();
    std::iter::once(&report.current)
        .chain(&report.top)
        .map(|r| {
            let mut cells = vec![
                if r.rank == 0 {
                    "now".to_string()
                } else {
                    r.rank.to_string()
                },
                r.candidate.map_or("-".into(), |c| c.to_string()),
            ];
            cells.extend(fields.iter().map(|f| match r.values.get(*f) {
                Some(Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
                None => "-".into(),
            }));
            cells.push(
                r.capital_quote
                    .map_or("-".into(), |c| c.round_dp(2).to_string()),
            );
            cells.push(r.in_sample.objective.round_dp(2).to_string());
            cells.push(r.out_of_sample.objective.round_dp(2).to_string());
            cells.push(
                r.out_of_sample_by_fold
                    .iter()
                    .map(|v| v.round_dp(2).to_string())
                    .collect::<Vec<_>>()
                    .join(" / "),
            );
            cells.push(r.out_of_sample.max_drawdown_quote.round_dp(2).to_string());
            cells
        })
        .collect()
}

/// Short column names for the varied settings.
pub fn short(field: &str) -> &str {
    match field {
        "safety_order_step_percentage" => "step%",
        "martingale_volume_coefficient" => "vol_x",
        "martingale_step_coefficient" => "step_x",
        "max_safety_orders" => "SOs",
        "active_safety_orders_count" => "active",
        "take_profit" => "TP%",
        "stop_loss_percentage" => "SL%",
        "trailing_deviation" => "trail%",
        "max_active_deals" => "deals",
        "base_order_volume" => "BO",
        "safety_order_volume" => "SO",
        other => other,
    }
}

/// The report as a person reads it: what ran, the table, the verdict.
pub fn human(report: &Report, study: &Study) -> String {
    let mut out = String::new();
    let fields: Vec<&String> = report.current.values.keys().collect();
    if !report.pairs.is_empty() {
        out.push_str(&format!(
            "Optimizing \"{}\"{} on {}: {} candles, {} s apart; fee {} %.\n",
            report.bot,
            if report.account.is_empty() {
                String::new()
            } else {
                format!(" (account {})", report.account)
            },
            report.pairs.join(", "),
            report.candles,
            report.interval_s,
            report.fee_percentage
        ));
    }
    out.push_str(&format!(
        "Objective {}; {} folds, each {} % in sample then {} % out of sample; seed {}; varying {}.\n",
        report.objective,
        report.folds,
        report.in_sample_percentage,
        100 - report.in_sample_percentage,
        report.seed,
        study
            .space
            .0
            .iter()
            .map(|d| format!("{} {}..{}", d.field, d.low, d.high))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let c = &report.counts;
    out.push_str(&format!(
        "Candidates: {} drawn, {} refused by validate, {} under --min-coverage, {} over --max-drawdown, {} stopped after one fold, {} scored on every fold.\n",
        c.drawn, c.invalid, c.infeasible, c.over_drawdown, c.halved, c.finalists
    ));
    for r in &report.refusals {
        out.push_str(&format!("  refused: {r}\n"));
    }
    if report.interrupted {
        out.push_str("Interrupted: the ranking is of the candidates run so far.\n");
    }
    out.push_str(&format!(
        "\nThe {} best in sample, ranked out of sample ({}):\n",
        report.top.len(),
        report.objective
    ));
    let mut header = vec!["rank".to_string(), "cand".to_string()];
    header.extend(fields.iter().map(|f| short(f).to_string()));
    header.extend(TABLE_FIGURES.map(String::from));
    let mut rows = vec![header];
    rows.extend(table_rows(report));
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for r in &rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (cell, w))| {
                if i < 2 {
                    format!("{cell:<w$}")
                } else {
                    format!("{cell:>w$}")
                }
            })
            .collect();
        out.push_str(&format!("  {}\n", line.join("  ").trim_end()));
    }
    out.push_str(&format!("\nVerdict: {}.\n", report.verdict));
    if let Some(w) = report.top.first() {
        let (a, b) = (&report.current.out_of_sample, &w.out_of_sample);
        out.push_str(&format!(
            "Out of sample, current -> winner: profit {} -> {}, deals {} -> {}, max drawdown {} -> {}, ladders exhausted {} -> {}, stop losses {} -> {}.\n",
            a.profit_quote.round_dp(2),
            b.profit_quote.round_dp(2),
            a.deals,
            b.deals,
            a.max_drawdown_quote.round_dp(2),
            b.max_drawdown_quote.round_dp(2),
            a.ladder_exhausted,
            b.ladder_exhausted,
            a.stopped,
            b.stopped
        ));
        let capital = |c: Option<Decimal>| c.map_or("-".into(), |c| c.round_dp(2).to_string());
        out.push_str(&format!(
            "Capital the bot can lock: {} -> {}.\n",
            capital(report.current.capital_quote),
            capital(w.capital_quote)
        ));
        if report.also_changes_count > 0 {
            let more = report.also_changes_count - report.also_changes.len();
            out.push_str(&format!(
                "The edit also changes {} other bot{} sharing what it edits: {}{}.\n",
                report.also_changes_count,
                if report.also_changes_count == 1 {
                    ""
                } else {
                    "s"
                },
                report.also_changes.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ));
        }
    }
    out
}
