//! `optimize --html`: one self-contained page (inline SVG and the backtest page's style and
//! self-check script, nothing fetched at view time) to look at a search the way a trader would:
//! every finalist in sample against out of sample (a cloud that does not rise to the right is a
//! search fitted to noise), the winner against the current config fold by fold, both equity
//! curves over the whole span with the out-of-sample stretches shaded, the walk-forward table and
//! the edit.

use std::fmt::Write;

use super::Study;
use super::report::Report;
use super::search::{Records, objective};
use crate::simulate::figures::EquityPoint;
use crate::simulate::html::{
    CHECK, Frame, HEIGHT, PAD, STYLE, WIDTH, esc, ms, num, polyline, svg, table,
};

/// What the page draws beyond the report.
pub struct Page<'a> {
    pub report: &'a Report,
    pub study: &'a Study,
    pub records: &'a Records,
    /// Equity over the whole span: the current config, the winner.
    pub current_equity: &'a [EquityPoint],
    pub winner_equity: &'a [EquityPoint],
    /// The out-of-sample stretches, in milliseconds.
    pub out_of_sample_ms: Vec<(i64, i64)>,
    pub diff: &'a str,
}

fn f(d: &crate::model::decimal::Decimal) -> f64 {
    num(d)
}

/// Every finalist: in sample (x) against out of sample (y); the top 10, the winner and the
/// current config marked.
fn scatter(page: &Page<'_>) -> String {
    let study = page.study;
    let finalists: Vec<(f64, f64, u64)> = page
        .records
        .records
        .iter()
        .filter(|r| r.finalist())
        .map(|r| {
            (
                f(&objective(study, r, true)),
                f(&objective(study, r, false)),
                r.index,
            )
        })
        .collect();
    let current = (
        f(&page.report.current.in_sample.objective),
        f(&page.report.current.out_of_sample.objective),
    );
    let frame = Frame::new(
        finalists.iter().map(|p| p.0).chain([current.0]),
        finalists.iter().map(|p| p.1).chain([current.1, 0.0]),
    );
    let top: Vec<u64> = page.report.top.iter().filter_map(|r| r.candidate).collect();
    let mut body = String::new();
    let zero = frame.y(0.0);
    let _ = write!(
        body,
        r##"<line x1="{PAD}" y1="{zero:.1}" x2="{r}" y2="{zero:.1}" stroke="#ccc"/><text x="2" y="12" class="ax">out of sample {hi:.2}</text><text x="2" y="{b}" class="ax">{lo:.2}</text><text x="{PAD}" y="{HEIGHT}" class="ax">in sample {x0:.2}</text><text x="{r}" y="{HEIGHT}" class="ax" text-anchor="end">{x1:.2}</text>"##,
        r = WIDTH - PAD,
        hi = frame.y1,
        lo = frame.y0,
        b = HEIGHT - PAD / 2.0,
        x0 = frame.t0,
        x1 = frame.t1,
    );
    for (x, y, index) in &finalists {
        let (colour, radius) = match top.iter().position(|t| t == index) {
            Some(0) => ("#1b7f3b", 5.5),
            Some(_) => ("#4a7fb5", 4.0),
            None => ("#bbb", 2.5),
        };
        let _ = write!(
            body,
            r#"<circle cx="{:.1}" cy="{:.1}" r="{radius}" fill="{colour}"><title>candidate {index}: {x:.2} in sample, {y:.2} out of sample</title></circle>"#,
            frame.x(*x),
            frame.y(*y)
        );
    }
    let _ = write!(
        body,
        r##"<rect x="{:.1}" y="{:.1}" width="9" height="9" fill="#222"><title>the current config: {:.2} in sample, {:.2} out of sample</title></rect>"##,
        frame.x(current.0) - 4.5,
        frame.y(current.1) - 4.5,
        current.0,
        current.1
    );
    svg(
        &format!(
            "In sample (across) against out of sample (up), {}: every candidate scored on every fold (grey), the 10 best in sample (blue), the winner (green), the current config (black square)",
            page.report.objective
        ),
        &body,
    )
}

/// The current config (grey) and the winner (green), out of sample, fold by fold.
fn folds(page: &Page<'_>) -> String {
    let Some(winner) = page.report.top.first() else {
        return String::new();
    };
    let current: Vec<f64> = page
        .report
        .current
        .out_of_sample_by_fold
        .iter()
        .map(f)
        .collect();
    let best: Vec<f64> = winner.out_of_sample_by_fold.iter().map(f).collect();
    let frame = Frame::new(
        (0..=current.len()).map(|i| i as f64),
        current.iter().chain(&best).copied().chain([0.0]),
    );
    let mut body = String::new();
    let zero = frame.y(0.0);
    let w = (WIDTH - 2.0 * PAD) / current.len().max(1) as f64;
    let _ = write!(
        body,
        r##"<line x1="{PAD}" y1="{zero:.1}" x2="{r}" y2="{zero:.1}" stroke="#999"/>"##,
        r = WIDTH - PAD
    );
    for (k, (c, b)) in current.iter().zip(&best).enumerate() {
        let x = PAD + k as f64 * w;
        for (i, (v, colour, who)) in [(c, "#bbb", "current"), (b, "#1b7f3b", "winner")]
            .into_iter()
            .enumerate()
        {
            let y = frame.y(*v);
            let _ = write!(
                body,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{colour}"><title>fold {}: {who} {v:.2}</title></rect>"#,
                x + 8.0 + i as f64 * (w / 2.0 - 8.0),
                y.min(zero),
                (w / 2.0 - 12.0).max(1.0),
                (y - zero).abs().max(0.5),
                k + 1
            );
        }
        let _ = write!(
            body,
            r#"<text x="{:.1}" y="{HEIGHT}" class="ax" text-anchor="middle">fold {}</text>"#,
            x + w / 2.0,
            k + 1
        );
    }
    svg(
        &format!(
            "Out of sample, fold by fold ({}): the current config (grey) and the winner (green)",
            page.report.objective
        ),
        &body,
    )
}

/// Both equity curves over the whole span, the out-of-sample stretches shaded.
fn equity(page: &Page<'_>, quote: &str) -> String {
    let line = |points: &[EquityPoint]| -> Vec<(f64, f64)> {
        points
            .iter()
            .map(|p| (ms(&p.at) as f64, num(&p.equity)))
            .collect()
    };
    let (current, winner) = (line(page.current_equity), line(page.winner_equity));
    if current.is_empty() {
        return String::new();
    }
    let frame = Frame::new(
        current.iter().chain(&winner).map(|p| p.0),
        current.iter().chain(&winner).map(|p| p.1).chain([0.0]),
    );
    let mut body = String::new();
    for (a, b) in &page.out_of_sample_ms {
        let _ = write!(
            body,
            r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#f3ead2"><title>out of sample</title></rect>"##,
            frame.x(*a as f64),
            PAD / 2.0,
            (frame.x(*b as f64) - frame.x(*a as f64)).max(1.0),
            HEIGHT - PAD
        );
    }
    frame.axes(&mut body, quote);
    body.push_str(&polyline(&frame, &current, "#999"));
    if !winner.is_empty() {
        body.push_str(&polyline(&frame, &winner, "#1b7f3b"));
    }
    svg(
        "Equity over the whole span (realized plus unrealized): the current config (grey) and the winner (green); out-of-sample stretches shaded",
        &body,
    )
}

pub fn render(page: &Page<'_>) -> String {
    let report = page.report;
    let quote = report
        .pairs
        .first()
        .and_then(|p| p.split('_').next())
        .unwrap_or("");
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>botform optimize</title><style>{STYLE}</style><script>{CHECK}</script></head><body><h1>botform optimize: {} ({})</h1><p>{} on {}: {} candles, {} s apart; fee {} %. Objective {}; {} folds, each {} % in sample then {} % out of sample; seed {}.</p>",
        esc(&report.bot),
        esc(&report.account),
        esc(&report.bot),
        esc(&report.pairs.join(", ")),
        report.candles,
        report.interval_s,
        report.fee_percentage,
        esc(&report.objective),
        report.folds,
        report.in_sample_percentage,
        100 - report.in_sample_percentage,
        report.seed
    );
    let class = if report.winner_beats_current {
        ""
    } else {
        " class=\"warn\""
    };
    let _ = write!(
        out,
        "<p{class}><b>Verdict:</b> {}.</p>",
        esc(&report.verdict)
    );
    if report.interrupted {
        out.push_str(
            "<p class=\"warn\">Interrupted: the ranking is of the candidates run so far.</p>",
        );
    }
    out.push_str(&scatter(page));
    out.push_str(&folds(page));
    out.push_str(&equity(page, quote));
    out.push_str("<h2>The best in sample, ranked out of sample</h2>");
    let mut head: Vec<&str> = vec!["rank", "candidate"];
    head.extend(
        report
            .current
            .values
            .keys()
            .map(|f| super::report::short(f)),
    );
    head.extend(super::report::TABLE_FIGURES);
    let rows = super::report::table_rows(report);
    out.push_str(&table(&head, &rows));
    let c = &report.counts;
    let _ = write!(
        out,
        "<p>Candidates: {} drawn, {} refused by validate, {} under --min-coverage, {} over --max-drawdown, {} stopped after one fold, {} scored on every fold.</p>",
        c.drawn, c.invalid, c.infeasible, c.over_drawdown, c.halved, c.finalists
    );
    for r in &report.refusals {
        let _ = write!(out, "<p class=\"left\">refused: {}</p>", esc(r));
    }
    if !page.diff.is_empty() {
        let _ = write!(
            out,
            "<h2>The winner as an edit of your file</h2><pre>{}</pre>",
            esc(page.diff)
        );
    }
    out.push_str("<p>Every figure is the backtest's model (see the README, \"The model\"): in-sample figures are what the search was fitted to; only the out-of-sample ones are evidence.</p></body></html>\n");
    out
}
