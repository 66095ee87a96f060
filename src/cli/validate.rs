//! `botform validate`: check config files offline and print problems and DCA numbers.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anstyle::{AnsiColor, Style};
use clap::ValueEnum;

use super::Output;
use crate::config::{self, Checked};
use crate::diagnostic;
use crate::report::{self, BotReport};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Config files or directories (default: the current directory).
    paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Do not print each bot's DCA numbers (human format).
    #[arg(long)]
    no_numbers: bool,
    /// The fee on each grid order, in percent, that the profit per grid is shown after.
    #[arg(long, value_name = "PERCENT", default_value = crate::config::grid::DEFAULT_FEE_PERCENTAGE)]
    fee: crate::model::decimal::Decimal,
    /// Print every line's price of each grid bot (human format).
    #[arg(long)]
    grid_lines: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Diagnostics with source excerpts, then each bot's DCA numbers.
    Human,
    /// The documented machine form (format_version 1).
    Json,
    /// GitHub Actions annotation lines.
    Github,
}

pub fn run(args: Args, output: Output) -> ExitCode {
    let mut checked = config::check(&super::paths_or_cwd(args.paths));
    // The grid numbers after the fee asked for.
    for (bot, numbers) in checked
        .grid_bots
        .iter()
        .zip(checked.grid_numbers.iter_mut())
    {
        if numbers.is_some() {
            *numbers = config::grid::numbers(&bot.spec, args.fee);
        }
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let written = match args.format {
        Format::Human => write_human(&mut out, &checked, output.color, !args.no_numbers).and_then(
            |()| match args.grid_lines {
                true => write_grid_lines(&mut out, &checked),
                false => Ok(()),
            },
        ),
        Format::Json => serde_json::to_writer_pretty(&mut out, &report::build(&checked))
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out)),
        Format::Github => {
            diagnostic::render_github(&mut out, &checked.diagnostics, &checked.config.sources)
        }
    };
    if let Err(e) = written
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        eprintln!("error: cannot write output: {e}");
        return ExitCode::FAILURE;
    }
    if checked.is_valid() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Diagnostics, each valid bot's DCA numbers, and a summary line.
pub fn write_human(
    out: &mut dyn Write,
    checked: &Checked,
    color: bool,
    numbers: bool,
) -> io::Result<()> {
    diagnostic::render_human(out, &checked.diagnostics, &checked.config.sources, color)?;
    let paint = |style: Style, text: &str| {
        if color {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_string()
        }
    };
    let report = report::build(checked);
    if numbers {
        for bot in report.bots.iter().filter(|b| b.numbers.is_some()) {
            write_bot(out, bot, &paint)?;
        }
        for bot in report.grid_bots.iter().filter(|b| b.numbers.is_some()) {
            write_grid_bot(out, bot, &paint)?;
        }
    }
    let errors = checked.error_count();
    let warnings = checked.warning_count();
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let summary = format!(
        "{}, {}: {}, {}",
        plural(checked.files_checked, "file"),
        match checked.grid_bots.len() {
            0 => plural(checked.bots.len(), "bot"),
            grids => format!(
                "{}, {}",
                plural(checked.bots.len(), "bot"),
                plural(grids, "grid bot")
            ),
        },
        plural(errors, "error"),
        plural(warnings, "warning"),
    );
    let style = if errors > 0 {
        AnsiColor::Red.on_default().bold()
    } else {
        AnsiColor::Green.on_default().bold()
    };
    let verdict = if errors > 0 { "Invalid" } else { "Valid" };
    writeln!(out, "{} {summary}", paint(style, &format!("{verdict}.")))
}

/// A valid grid bot's numbers: its lines and step, the profit per grid after the fee, what it
/// holds at the middle of its range, and the most it can hold.
fn write_grid_bot(
    out: &mut dyn Write,
    bot: &report::GridBotReport,
    paint: &dyn Fn(Style, &str) -> String,
) -> io::Result<()> {
    let Some(n) = &bot.numbers else { return Ok(()) };
    let pair = bot.pair.clone().unwrap_or_default();
    let (quote, base) = pair.split_once('_').unwrap_or((pair.as_str(), ""));
    writeln!(
        out,
        "{} {} (grid, {}, {pair})  {}:{}",
        paint(AnsiColor::Green.on_default(), "✓"),
        paint(Style::new().bold(), bot.name.as_deref().unwrap_or("?")),
        bot.account.as_deref().unwrap_or("?"),
        bot.file,
        bot.line
    )?;
    let step = match n.grid_type {
        crate::model::enums::GridType::Arithmetic => format!("step {} {quote}", n.step),
        crate::model::enums::GridType::Geometric => format!("ratio {} between lines", n.step),
    };
    writeln!(out, "    {} lines, {} ({step})", n.lines, n.grid_type)?;
    let profit = if n.profit_per_grid_min_percentage == n.profit_per_grid_max_percentage {
        format!("{} %", n.profit_per_grid_min_percentage.display_percent())
    } else {
        format!(
            "{} % to {} %",
            n.profit_per_grid_min_percentage.display_percent(),
            n.profit_per_grid_max_percentage.display_percent()
        )
    };
    writeln!(
        out,
        "    profit per grid {profit} after a {} % fee on each order",
        n.fee_percentage
    )?;
    writeln!(
        out,
        "    at {} {quote} (mid-range): {} buy lines hold {} {quote}, {} sell lines hold {} {base}",
        n.at_price,
        n.buy_lines,
        n.investment_quote.display_in(quote),
        n.sell_lines,
        n.investment_base
    )?;
    writeln!(
        out,
        "    at most {} {quote} (every line a buy; counted in max_capital)",
        n.capital_quote.display_in(quote)
    )
}

/// `--grid-lines`: each valid grid bot's line prices, lowest first (unrounded: 3Commas rounds
/// each to the pair's price step).
fn write_grid_lines(out: &mut dyn Write, checked: &Checked) -> io::Result<()> {
    for (bot, numbers) in checked.grid_bots.iter().zip(&checked.grid_numbers) {
        let (Some(_), Some(grid)) = (numbers, config::grid::grid_of(&bot.spec)) else {
            continue;
        };
        let Ok(prices) = grid.line_prices() else {
            continue;
        };
        writeln!(out, "{} lines (lowest first):", bot.name())?;
        for (i, price) in prices.iter().enumerate() {
            writeln!(out, "  {:>3}  {}", i + 1, price.round_dp(12))?;
        }
    }
    Ok(())
}

fn write_bot(
    out: &mut dyn Write,
    bot: &BotReport,
    paint: &dyn Fn(Style, &str) -> String,
) -> io::Result<()> {
    let Some(n) = &bot.numbers else { return Ok(()) };
    let unit = bot.capital_currency.clone().unwrap_or_default();
    writeln!(
        out,
        "{} {} ({}, {})  {}:{}",
        paint(AnsiColor::Green.on_default(), "✓"),
        paint(Style::new().bold(), bot.name.as_deref().unwrap_or("?")),
        bot.account.as_deref().unwrap_or("?"),
        bot.pairs.join(", "),
        bot.file,
        bot.line
    )?;
    if bot.starts.contains("signals") || bot.starts.contains("assume-start") {
        writeln!(out, "    {}", bot.starts)?;
    }
    if !n.ladder.is_empty() {
        writeln!(
            out,
            "    {:>4}  {:>10}  {:>14}",
            "SO", "deviation", "volume"
        )?;
        for so in &n.ladder {
            writeln!(
                out,
                "    {:>4}  {:>9}%  {:>14}",
                so.number,
                so.deviation_percentage.display_percent().to_string(),
                so.volume.display_in(&unit).to_string()
            )?;
        }
    }
    match (&n.capital_per_deal, &n.capital_all_deals) {
        (Some(deal), Some(all)) => writeln!(
            out,
            "    capital per deal {} {unit} · {} concurrent deal{}: {} {unit} · covers a price move of {}%",
            deal.display_in(&unit),
            n.max_active_deals,
            if n.max_active_deals == 1 { "" } else { "s" },
            all.display_in(&unit),
            n.price_move_covered_percentage.display_percent()
        )?,
        _ => writeln!(
            out,
            "    {} · covers a price move of {}%",
            n.volume_note.as_deref().unwrap_or("capital unknown"),
            n.price_move_covered_percentage.display_percent()
        )?,
    }
    Ok(())
}
