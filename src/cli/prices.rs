//! Where a backtest's or an optimization's prices come from (candle files, an exchange's public
//! candles through the cache, or seeded random paths), the window of time, and the fee: one set
//! of arguments, shared by `botform backtest` and `botform optimize`.

use std::io;
use std::path::PathBuf;

use crate::model::decimal::Decimal;
use crate::simulate::download::{self, Exchange};
use crate::simulate::report::Prices;
use crate::simulate::{FeeSource, synthetic};

#[derive(Debug, Clone, clap::Args)]
pub struct PriceArgs {
    /// Candle CSV files or directories of them, one file per pair (`USDT_BTC.csv` or `BTCUSDT.csv`).
    #[arg(long, num_args = 1.., value_name = "PATH")]
    pub candles: Vec<PathBuf>,
    /// Download the candles (public market data, no key) into the cache first, from `--from` to
    /// `--to` (default: now), resuming what is cached.
    #[arg(long, value_enum, value_name = "EXCHANGE", conflicts_with_all = ["candles", "synthetic"])]
    pub candles_from: Option<Exchange>,
    /// The candle interval for --candles-from: 1m, 5m, 15m, 1h, 4h, 1d, ...
    #[arg(long, default_value = "5m")]
    pub interval: String,
    /// Seeded random paths instead of candle files: `paths=200,vol=80,days=365,interval=5m,seed=1`
    /// (also drift, jumps a year and jump size, in percent; df=4 for fat tails; crash=30 and
    /// crash_hours=6 for a crash at a random time).
    #[arg(long, value_name = "SPEC", conflicts_with = "candles")]
    pub synthetic: Option<String>,
    /// First candle time (ISO 8601 or a date).
    #[arg(long)]
    pub from: Option<String>,
    /// Last candle time (ISO 8601 or a date), exclusive.
    #[arg(long)]
    pub to: Option<String>,
    /// Fee in percent of every fill's and sale's quote amount. Default: with --candles-from,
    /// that exchange's base-tier spot taker fee (0.1 on Binance and Bybit); else 0, with a
    /// warning.
    #[arg(long)]
    pub fee: Option<Decimal>,
}

fn time_arg(text: &Option<String>, what: &str) -> Result<Option<i64>, String> {
    text.as_ref()
        .map(|t| {
            crate::timefmt::parse_iso(t)
                .map(|s| s * 1000)
                .ok_or_else(|| format!("--{what} `{t}`: give a date (2025-01-31) or ISO 8601 time"))
        })
        .transpose()
}

impl PriceArgs {
    pub fn start_ms(&self) -> Result<Option<i64>, String> {
        time_arg(&self.from, "from")
    }

    pub fn end_ms(&self) -> Result<Option<i64>, String> {
        time_arg(&self.to, "to")
    }

    /// The prices (downloading with --candles-from), the fee and where it came from, for the
    /// config at `paths` and its bots named `bots` (empty: all).
    pub fn read(
        &self,
        paths: &[PathBuf],
        bots: &[String],
    ) -> Result<(Prices, Decimal, FeeSource), String> {
        let prices = match (&self.synthetic, self.candles.is_empty(), self.candles_from) {
            (Some(spec), _, _) => Prices::Synthetic(synthetic::parse(spec)?),
            (None, false, _) => {
                // A path that is not there is one error, not one "no candles" line per pair.
                if let Some(missing) = self.candles.iter().find(|p| !p.exists()) {
                    return Err(format!(
                        "--candles {}: no such file or directory (give candle CSVs or a directory of them, or --candles-from binance|bybit, or --synthetic)",
                        missing.display()
                    ));
                }
                Prices::Files(self.candles.clone())
            }
            (None, true, Some(exchange)) => {
                Prices::Files(vec![self.download(paths, bots, exchange)?])
            }
            (None, true, None) => {
                return Err(
                    "give --candles (files or directories of CSV), --candles-from EXCHANGE or --synthetic SPEC"
                        .into(),
                );
            }
        };
        let (fee, source) = match (self.fee, self.candles_from) {
            (Some(fee), _) => (fee, FeeSource::Given),
            (None, Some(exchange)) => exchange.usual_fee(),
            (None, None) => (Decimal::ZERO, FeeSource::NotGiven),
        };
        Ok((prices, fee, source))
    }

    /// `--candles-from`: every pair of the chosen bots into the cache; the cache folder to read.
    fn download(
        &self,
        paths: &[PathBuf],
        bots: &[String],
        exchange: Exchange,
    ) -> Result<PathBuf, String> {
        let interval_ms = synthetic::interval_ms(&self.interval)
            .ok_or_else(|| format!("--interval `{}`: like 5m, 1h or 1d", self.interval))?;
        let from = self
            .start_ms()?
            .ok_or("--candles-from needs --from (a date)")?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let to = self.end_ms()?.unwrap_or(now).min(now);
        // The config is valid before anything is fetched: its pairs name the cache files.
        let checked = crate::config::check(&super::paths_or_cwd(paths.to_vec()));
        if !checked.is_valid() {
            let mut err = io::stderr();
            let _ = super::validate::write_human(&mut err, &checked, false, false);
            return Err("the config has errors: nothing was downloaded".into());
        }
        let pairs = download::pairs_of(&checked, bots);
        let bar = if std::io::IsTerminal::is_terminal(&io::stderr()) {
            indicatif::ProgressBar::new_spinner()
        } else {
            indicatif::ProgressBar::hidden()
        };
        let shown = bar.clone();
        let progress = move |pair: &str, n: usize| {
            shown.set_message(format!("{pair} from {}", exchange.name()));
            shown.set_position(n as u64);
        };
        let cache = super::runtime().block_on(download::fetch_pairs(
            exchange,
            &pairs,
            interval_ms,
            from,
            to,
            &progress,
        ))?;
        bar.finish_and_clear();
        Ok(cache)
    }
}
