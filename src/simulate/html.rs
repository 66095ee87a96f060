//! `backtest --html`: one self-contained page (no network at view time: the charts are inline
//! SVG drawn here, the one script only checks itself) with, per bot, its figures, equity and
//! capital, drawdown, the deals on each pair's price, the per-pair lines, the safety orders deals
//! filled, how long deals lasted, the monthly returns and what the model left out.

use std::fmt::Write;

use super::report::{BacktestReport, BotTotal, Comparison, DEALS_DRAWN, PairChart};
use crate::model::decimal::Decimal;

pub(crate) const WIDTH: f64 = 900.0;
pub(crate) const HEIGHT: f64 = 220.0;
pub(crate) const PAD: f64 = 40.0;

pub(crate) fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub(crate) fn num(d: &Decimal) -> f64 {
    d.to_string().parse().unwrap_or(0.0)
}

pub(crate) fn ms(iso: &str) -> i64 {
    crate::timefmt::parse_iso(iso).map_or(0, |s| s * 1000)
}

/// Scales from data to the plot area.
pub(crate) struct Frame {
    pub(crate) t0: f64,
    pub(crate) t1: f64,
    pub(crate) y0: f64,
    pub(crate) y1: f64,
}

impl Frame {
    pub(crate) fn new(
        ts: impl Iterator<Item = f64> + Clone,
        ys: impl Iterator<Item = f64> + Clone,
    ) -> Frame {
        let (t0, t1) = ts.fold((f64::MAX, f64::MIN), |(a, b), t| (a.min(t), b.max(t)));
        let (mut y0, mut y1) = ys.fold((f64::MAX, f64::MIN), |(a, b), y| (a.min(y), b.max(y)));
        if y0 > y1 {
            (y0, y1) = (0.0, 1.0);
        }
        if (y1 - y0).abs() < 1e-12 {
            y0 -= 1.0;
            y1 += 1.0;
        }
        Frame {
            t0,
            t1: if t1 > t0 { t1 } else { t0 + 1.0 },
            y0,
            y1,
        }
    }

    pub(crate) fn x(&self, t: f64) -> f64 {
        PAD + (t - self.t0) / (self.t1 - self.t0) * (WIDTH - 2.0 * PAD)
    }

    pub(crate) fn y(&self, v: f64) -> f64 {
        HEIGHT - PAD / 2.0 - (v - self.y0) / (self.y1 - self.y0) * (HEIGHT - PAD)
    }

    pub(crate) fn axes(&self, out: &mut String, unit: &str) {
        let _ = write!(
            out,
            r##"<line x1="{PAD}" y1="{b}" x2="{r}" y2="{b}" stroke="#999"/><text x="2" y="{top}" class="ax">{hi:.2} {u}</text><text x="2" y="{b}" class="ax">{lo:.2} {u}</text><text x="{PAD}" y="{HEIGHT}" class="ax">{from}</text><text x="{r2}" y="{HEIGHT}" class="ax" text-anchor="end">{to}</text>"##,
            b = self.y(self.y0),
            r = WIDTH - PAD,
            top = self.y(self.y1) + 4.0,
            hi = self.y1,
            lo = self.y0,
            u = esc(unit),
            from = &crate::timefmt::iso(self.t0 as i64)[..10],
            to = &crate::timefmt::iso(self.t1 as i64)[..10],
            r2 = WIDTH - PAD,
        );
    }
}

pub(crate) fn polyline(frame: &Frame, points: &[(f64, f64)], colour: &str) -> String {
    let pts: Vec<String> = points
        .iter()
        .map(|(t, v)| format!("{:.1},{:.1}", frame.x(*t), frame.y(*v)))
        .collect();
    format!(
        r#"<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{}"/>"#,
        pts.join(" ")
    )
}

pub(crate) fn svg(title: &str, body: &str) -> String {
    format!(
        r#"<figure><figcaption>{}</figcaption><svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img">{body}</svg></figure>"#,
        esc(title)
    )
}

/// Bars of `counts`, labelled by `labels`.
fn bars(title: &str, labels: &[String], counts: &[u32]) -> String {
    let most = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let n = counts.len().max(1) as f64;
    let w = (WIDTH - 2.0 * PAD) / n;
    let mut body = String::new();
    for (i, (label, c)) in labels.iter().zip(counts).enumerate() {
        let h = f64::from(*c) / most * (HEIGHT - PAD - 10.0);
        let x = PAD + i as f64 * w;
        let _ = write!(
            body,
            r##"<rect x="{x:.1}" y="{y:.1}" width="{bw:.1}" height="{h:.1}" fill="#4a7fb5"><title>{l}: {c}</title></rect><text x="{tx:.1}" y="{HEIGHT}" class="ax" text-anchor="middle">{l}</text><text x="{tx:.1}" y="{ty:.1}" class="ax" text-anchor="middle">{c}</text>"##,
            y = HEIGHT - PAD / 2.0 - h,
            bw = (w - 4.0).max(1.0),
            tx = x + w / 2.0,
            ty = HEIGHT - PAD / 2.0 - h - 3.0,
            l = esc(label),
        );
    }
    svg(title, &body)
}

fn equity_charts(bot: &BotTotal, quote: &str) -> String {
    let points: Vec<(f64, f64, f64)> = bot
        .figures
        .equity
        .iter()
        .map(|p| (ms(&p.at) as f64, num(&p.equity), num(&p.capital)))
        .collect();
    if points.is_empty() {
        return String::new();
    }
    let frame = Frame::new(
        points.iter().map(|p| p.0),
        points.iter().flat_map(|p| [p.1, p.2, 0.0]),
    );
    let mut body = String::new();
    frame.axes(&mut body, quote);
    body.push_str(&polyline(
        &frame,
        &points.iter().map(|p| (p.0, p.2)).collect::<Vec<_>>(),
        "#bbb",
    ));
    body.push_str(&polyline(
        &frame,
        &points.iter().map(|p| (p.0, p.1)).collect::<Vec<_>>(),
        "#1b7f3b",
    ));
    let mut out = svg(
        "Equity (green: realized plus unrealized) and capital in use (grey)",
        &body,
    );
    let mut peak = f64::MIN;
    let drawdown: Vec<(f64, f64)> = points
        .iter()
        .map(|p| {
            peak = peak.max(p.1);
            (p.0, p.1 - peak)
        })
        .collect();
    let frame = Frame::new(
        drawdown.iter().map(|p| p.0),
        drawdown.iter().map(|p| p.1).chain([0.0]),
    );
    let mut body = String::new();
    frame.axes(&mut body, quote);
    body.push_str(&polyline(&frame, &drawdown, "#b3261e"));
    out.push_str(&svg(
        &format!(
            "Drawdown from the previous high: at most {} {quote}, below a high for {} at most",
            bot.figures.equity_drawdown_quote,
            days(bot.figures.drawdown_duration_s)
        ),
        &body,
    ));
    out
}

fn days(seconds: i64) -> String {
    if seconds >= 86_400 {
        format!("{:.1} days", seconds as f64 / 86_400.0)
    } else {
        format!("{:.1} hours", seconds as f64 / 3600.0)
    }
}

fn price_chart(chart: &PairChart) -> String {
    if chart.prices.is_empty() {
        return String::new();
    }
    let frame = Frame::new(
        chart.prices.iter().map(|p| p.0 as f64),
        chart.prices.iter().flat_map(|p| [p.1, p.2]),
    );
    let mut body = String::new();
    let quote = chart.pair.split('_').next().unwrap_or("");
    frame.axes(&mut body, quote);
    for p in &chart.prices {
        let x = frame.x(p.0 as f64);
        let _ = write!(
            body,
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#ccc"/>"##,
            frame.y(p.1),
            frame.y(p.2)
        );
    }
    body.push_str(&polyline(
        &frame,
        &chart
            .prices
            .iter()
            .map(|p| (p.0 as f64, p.3))
            .collect::<Vec<_>>(),
        "#555",
    ));
    for d in &chart.deals {
        let (x0, y0) = (frame.x(ms(&d.opened) as f64), frame.y(num(&d.entry_price)));
        let _ = write!(
            body,
            r##"<path d="M{x0:.1},{a:.1} l-4,7 h8 z" fill="#1b7f3b"><title>entry {e} ({o})</title></path>"##,
            a = y0 - 3.0,
            e = d.entry_price,
            o = esc(&d.opened),
        );
        // The safety orders the deal filled, at the average its buys came to.
        if d.safety_orders_filled > 0 {
            let average = num(&d.quote) / num(&d.base).max(1e-18);
            let x1 = d
                .closed
                .as_deref()
                .map_or(WIDTH - PAD, |c| frame.x(ms(c) as f64));
            let _ = write!(
                body,
                r##"<line x1="{x0:.1}" y1="{y:.1}" x2="{x1:.1}" y2="{y:.1}" stroke="#e08a00" stroke-dasharray="3,2"><title>{n} safety orders, average {average:.6}</title></line>"##,
                y = frame.y(average),
                n = d.safety_orders_filled,
            );
        }
        if let (Some(closed), Some(exit)) = (&d.closed, &d.exit_price) {
            let colour = match d.outcome.as_str() {
                "stop_loss" => "#b3261e",
                "timeout" => "#7a4fb5",
                _ => "#1f5fbf",
            };
            let _ = write!(
                body,
                r##"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{colour}"><title>{} at {exit}, profit {}</title></circle>"##,
                frame.x(ms(closed) as f64),
                frame.y(num(exit)),
                esc(&d.outcome),
                d.profit_quote,
            );
        }
    }
    let more = if chart.deals_left_out > 0 {
        format!(
            " (the first {DEALS_DRAWN} deals drawn, {} more in --deals)",
            chart.deals_left_out
        )
    } else {
        String::new()
    };
    svg(
        &format!(
            "{}: deals on the price (triangles: entries; dashes: average after safety orders; dots: exits, blue take profit, red stop loss, violet timeout){more}",
            chart.pair
        ),
        &body,
    )
}

pub(crate) fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::from("<table><tr>");
    for h in head {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", esc(cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    out
}

pub(crate) const STYLE: &str = "body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:960px}h1{font-size:22px}h2{font-size:18px;margin-top:36px;border-bottom:1px solid #ddd}table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#f4f4f4}figure{margin:12px 0}figcaption{font-size:13px;color:#444}.ax{font-size:10px;fill:#666}.warn{color:#8a4b00}.left{color:#8a4b00}";

/// The page's one script: it reports what it finds (charts drawn, script errors) on `<body>`,
/// for the test that opens the page in a browser, and does nothing else.
pub(crate) const CHECK: &str = "window.__errors=0;window.addEventListener('error',function(){window.__errors++;document.body.dataset.errors=window.__errors;});document.addEventListener('DOMContentLoaded',function(){var drawn=0;document.querySelectorAll('svg.chart').forEach(function(s){var b=s.getBBox();if(b.width>0&&b.height>0&&s.querySelectorAll('polyline,rect,path,circle').length>0)drawn++;});document.body.dataset.charts=drawn;document.body.dataset.errors=window.__errors;});";

pub fn render(report: &BacktestReport, charts: &[PairChart]) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>botform backtest</title><style>{STYLE}</style><script>{CHECK}</script></head><body><h1>botform backtest</h1><p>Fee {} % a trade ({}). Inside each candle: {} path.</p>",
        report.fee_percentage,
        esc(&report.fee_source),
        report
            .results
            .first()
            .map_or("worst", |r| r.intrabar.name())
    );
    for w in &report.warnings {
        let _ = write!(out, "<p class=\"warn\">{}</p>", esc(w));
    }
    for bot in &report.bots {
        let quote = bot
            .pairs
            .first()
            .and_then(|p| p.split('_').next())
            .unwrap_or("")
            .to_string();
        let _ = write!(out, "<h2>{} ({})</h2>", esc(&bot.name), esc(&bot.account));
        let f = &bot.figures;
        let ratio = |r: &Option<Decimal>| r.map_or("-".into(), |r| r.to_string());
        out.push_str(&table(
            &[
                "profit",
                "open deals",
                "deals",
                "stopped",
                "most capital at once",
                "worst drawdown at once",
                "Sharpe",
                "Sortino",
            ],
            &[vec![
                format!("{} {quote}", bot.profit_quote),
                format!("{} {quote}", bot.unrealized_quote),
                (bot.deals_closed + bot.deals_stopped + bot.deals_timed_out).to_string(),
                bot.deals_stopped.to_string(),
                format!("{} {quote}", bot.max_capital_used),
                format!("{} {quote}", bot.max_drawdown_quote),
                ratio(&f.sharpe),
                ratio(&f.sortino),
            ]],
        ));
        out.push_str(&equity_charts(bot, &quote));
        let results: Vec<_> = report
            .results
            .iter()
            .filter(|r| r.name == bot.name && r.account == bot.account)
            .collect();
        out.push_str("<h3>Per pair</h3>");
        out.push_str(&table(
            &[
                "pair",
                "at take profit",
                "stopped",
                "open",
                "profit",
                "open deal",
                "most capital",
                "worst drawdown",
                "average deal",
                "longest deal",
            ],
            &results
                .iter()
                .map(|r| {
                    vec![
                        r.pair.clone(),
                        r.deals_closed.to_string(),
                        r.deals_stopped.to_string(),
                        r.deals_open_at_end.to_string(),
                        r.profit_quote.to_string(),
                        r.unrealized_quote.to_string(),
                        r.max_capital_used.to_string(),
                        r.max_drawdown_quote.to_string(),
                        days(r.avg_deal_duration_s),
                        days(r.max_deal_duration_s),
                    ]
                })
                .collect::<Vec<_>>(),
        ));
        for chart in charts
            .iter()
            .filter(|c| c.bot == bot.name && c.account == bot.account)
        {
            out.push_str(&price_chart(chart));
        }
        let mut histogram: Vec<u32> = Vec::new();
        for r in &results {
            if histogram.len() < r.so_filled_histogram.len() {
                histogram.resize(r.so_filled_histogram.len(), 0);
            }
            for (i, n) in r.so_filled_histogram.iter().enumerate() {
                histogram[i] += n;
            }
        }
        let labels: Vec<String> = (0..histogram.len()).map(|i| i.to_string()).collect();
        out.push_str(&bars("Deals by safety orders filled", &labels, &histogram));
        let durations = duration_counts(charts, bot);
        out.push_str(&bars(
            "How long deals lasted (closed and open, among the deals drawn)",
            &DURATION_LABELS.map(String::from),
            &durations,
        ));
        out.push_str("<h3>Monthly returns</h3>");
        out.push_str(&table(
            &["month", "profit", "of the capital at work"],
            &f.monthly
                .iter()
                .map(|m| {
                    vec![
                        m.month.clone(),
                        format!("{} {quote}", m.profit_quote),
                        format!("{} %", m.return_percentage),
                    ]
                })
                .collect::<Vec<_>>(),
        ));
        let left = results
            .first()
            .map(|r| r.not_simulated.clone())
            .unwrap_or_default();
        out.push_str("<h3>Not simulated</h3>");
        if left.is_empty() {
            out.push_str("<p>Every setting of this bot is simulated.</p>");
        } else {
            out.push_str("<ul class=\"left\">");
            for l in &left {
                let _ = write!(out, "<li>{}</li>", esc(l));
            }
            out.push_str("</ul>");
        }
    }
    for s in &report.not_backtestable {
        let _ = write!(
            out,
            "<p class=\"warn\">Not backtestable: {}: {}</p>",
            esc(&s.name),
            esc(&s.reason)
        );
    }
    out.push_str("</body></html>\n");
    out
}

const DURATION_LABELS: [&str; 6] = ["< 1 h", "1-6 h", "6-24 h", "1-3 d", "3-7 d", "> 7 d"];

fn duration_counts(charts: &[PairChart], bot: &BotTotal) -> Vec<u32> {
    let mut counts = vec![0u32; DURATION_LABELS.len()];
    let end = charts
        .iter()
        .flat_map(|c| c.prices.last())
        .map(|p| p.0)
        .max()
        .unwrap_or(0);
    for d in charts
        .iter()
        .filter(|c| c.bot == bot.name && c.account == bot.account)
        .flat_map(|c| &c.deals)
    {
        let until = d.closed.as_deref().map_or(end, ms);
        let hours = (until - ms(&d.opened)) as f64 / 3_600_000.0;
        let slot = [1.0, 6.0, 24.0, 72.0, 168.0]
            .iter()
            .position(|h| hours < *h)
            .unwrap_or(5);
        counts[slot] += 1;
    }
    counts
}

/// `plan --backtest-html`: each changed bot before and after the change, on the same candles,
/// with the two equity curves overlaid and the figures side by side.
pub fn render_comparison(comparisons: &[Comparison], notes: &[String]) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>botform plan backtest</title><style>{STYLE}</style><script>{CHECK}</script></head><body><h1>botform plan: before and after</h1><p>Each bot the plan creates or changes, run before and after the change on the same candles.</p>"
    );
    for note in notes {
        let _ = write!(out, "<p class=\"warn\">{}</p>", esc(note));
    }
    for c in comparisons {
        let _ = write!(
            out,
            "<h2>{}</h2><p>On {}, fee {} % a trade ({}).</p>",
            esc(&c.address),
            esc(&c.on),
            c.fee_percentage,
            esc(&c.fee_source)
        );
        let figures = |s: &Option<super::report::Summary>| -> Vec<String> {
            match s {
                Some(s) => vec![
                    s.profit.round_dp(2).to_string(),
                    format!(
                        "{} to {}",
                        s.profit_p5.round_dp(2),
                        s.profit_p95.round_dp(2)
                    ),
                    s.stopped.round_dp(2).to_string(),
                    s.ladder_exhausted.round_dp(2).to_string(),
                    s.max_capital.round_dp(2).to_string(),
                    s.drawdown.round_dp(2).to_string(),
                ],
                None => vec!["–".into(); 6],
            }
        };
        let rows = [
            ("before", &c.before),
            ("after", &c.after),
            ("change", &c.delta),
        ]
        .into_iter()
        .map(|(label, s)| {
            let mut row = vec![label.to_string()];
            row.extend(figures(s));
            row
        })
        .collect::<Vec<_>>();
        out.push_str(&table(
            &[
                "",
                "profit",
                "profit p5 to p95",
                "stopped",
                "ladder exhausted",
                "most capital",
                "worst drawdown",
            ],
            &rows,
        ));
        let curve = |s: &Option<super::report::Summary>| -> Vec<(f64, f64)> {
            s.as_ref().map_or(Vec::new(), |s| {
                s.equity
                    .iter()
                    .map(|p| (ms(&p.at) as f64, num(&p.equity)))
                    .collect()
            })
        };
        let (before, after) = (curve(&c.before), curve(&c.after));
        if !before.is_empty() || !after.is_empty() {
            let frame = Frame::new(
                before.iter().chain(&after).map(|p| p.0),
                before.iter().chain(&after).map(|p| p.1).chain([0.0]),
            );
            let mut body = String::new();
            let quote = c.on.split('_').next().unwrap_or("");
            frame.axes(&mut body, quote);
            if !before.is_empty() {
                body.push_str(&polyline(&frame, &before, "#8a8a8a"));
            }
            body.push_str(&polyline(&frame, &after, "#1b7f3b"));
            out.push_str(&svg(
                "Equity, realized plus unrealized: before the change (grey) and after (green)",
                &body,
            ));
        }
        if !c.not_simulated.is_empty() {
            out.push_str("<h3>Not simulated</h3><ul>");
            for n in &c.not_simulated {
                let _ = write!(out, "<li class=\"left\">{}</li>", esc(n));
            }
            out.push_str("</ul>");
        }
    }
    out.push_str("</body></html>");
    out
}
