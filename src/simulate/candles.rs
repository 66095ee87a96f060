//! Candle files: CSV, one file per pair, named by the pair (`USDT_BTC.csv`) or by the exchange
//! symbol (`BTCUSDT.csv`). Columns: Binance's kline CSV with or without its header (open time,
//! open, high, low, close, volume, ...), or any header naming `open_time`, `time` or
//! `timestamp`, and `open`, `high`, `low`, `close` (and optionally `volume`, which only the Money
//! Flow Index start condition needs). Times in epoch seconds, milliseconds or microseconds, or ISO
//! 8601. A bad row is an error with its file and line; unsorted rows are an error; gaps are
//! reported.

use std::path::{Path, PathBuf};

use super::Candle;

/// Candle files may be large (a year of 1-minute candles is ~40 MB) but not unbounded.
pub const MAX_CANDLE_FILE_BYTES: u64 = 512 * 1024 * 1024;

/// The most candles one process holds at once, over every pair it loads (a backtest, a sandbox
/// market): about 1.2 GB in memory, some 47 pair-years of 1-minute candles. A per-file cap alone
/// let many files add up without bound.
pub const MAX_CANDLES_HELD: usize = 25_000_000;

/// What is left of [`MAX_CANDLES_HELD`] for one loader.
#[derive(Debug, Clone)]
pub struct Budget {
    left: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            left: MAX_CANDLES_HELD,
        }
    }
}

impl Budget {
    /// Take `count` candles of `what` from the budget, or say why not (nothing is taken).
    pub fn take(&mut self, count: usize, what: &str) -> Result<(), String> {
        if count > self.left {
            return Err(format!(
                "{what}: {count} more candles would pass the {MAX_CANDLES_HELD} one run may hold; backtest fewer pairs, a shorter range (--from/--to) or a longer interval"
            ));
        }
        self.left -= count;
        Ok(())
    }
}

/// One pair's candles, checked.
#[derive(Debug, Clone)]
pub struct Series {
    pub file: PathBuf,
    pub candles: Vec<Candle>,
    /// One per candle, when every row has a volume.
    pub volumes: Option<Vec<f64>>,
    pub interval_ms: i64,
    /// Gaps and other things worth knowing, each with its line.
    pub warnings: Vec<String>,
}

/// A problem in a candle file, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandleError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for CandleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        }
    }
}

/// The candle file for a pair among files and directories: `USDT_BTC.csv` or `BTCUSDT.csv`
/// (any case).
pub fn find_for_pair(paths: &[PathBuf], pair: &str) -> Option<PathBuf> {
    let (quote, base) = pair.split_once('_')?;
    let wanted = [
        format!("{pair}.csv").to_ascii_lowercase(),
        format!("{base}{quote}.csv").to_ascii_lowercase(),
    ];
    let matches = |p: &Path| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| wanted.contains(&n.to_ascii_lowercase()))
    };
    for path in paths {
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .ok()?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            if let Some(found) = entries.into_iter().find(|p| matches(p)) {
                return Some(found);
            }
        } else if matches(path) {
            return Some(path.clone());
        }
    }
    None
}

/// A time cell as milliseconds.
fn time_ms(cell: &str) -> Option<i64> {
    let cell = cell.trim().trim_matches('"');
    if let Ok(n) = cell.parse::<i64>() {
        return Some(match n {
            n if n >= 100_000_000_000_000 => n / 1000, // microseconds (Binance spot since 2025)
            n if n >= 100_000_000_000 => n,            // milliseconds
            n => n * 1000,                             // seconds
        });
    }
    if let Ok(x) = cell.parse::<f64>() {
        return Some((x * 1000.0) as i64);
    }
    crate::timefmt::parse_iso(cell).map(|s| s * 1000)
}

/// Read and check a candle file.
pub fn read_csv(path: &Path) -> Result<Series, CandleError> {
    let name = path.display().to_string();
    let err = |line: usize, message: String| CandleError {
        file: name.clone(),
        line,
        message,
    };
    let text = crate::files::read_bounded(path, MAX_CANDLE_FILE_BYTES)
        .map_err(|e| err(0, e.to_string()))?;
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty());
    let Some((first_no, first)) = lines.next() else {
        return Err(err(0, "no candles".into()));
    };
    let cells: Vec<&str> = first.split(',').map(str::trim).collect();
    // Columns: a header names them; else Binance's order (open time, open, high, low, close).
    let header = time_ms(cells[0]).is_none();
    let columns = if header {
        let find = |names: &[&str]| {
            cells.iter().position(|c| {
                let c = c.trim_matches('"').to_ascii_lowercase();
                names.contains(&c.as_str())
            })
        };
        let time = find(&[
            "open_time",
            "time",
            "timestamp",
            "date",
            "datetime",
            "open time",
        ])
        .ok_or_else(|| {
            err(
                first_no,
                "no time column: name one open_time, time or timestamp".into(),
            )
        })?;
        let mut cols = [time, 0, 0, 0, 0];
        for (i, name) in ["open", "high", "low", "close"].iter().enumerate() {
            cols[i + 1] = find(&[name])
                .ok_or_else(|| err(first_no, format!("no `{name}` column in the header")))?;
        }
        (cols, find(&["volume", "vol"]))
    } else {
        ([0, 1, 2, 3, 4], Some(5))
    };
    let (columns, volume_column) = columns;
    let mut candles: Vec<Candle> = Vec::new();
    let mut volumes: Vec<Option<f64>> = Vec::new();
    let mut line_of: Vec<usize> = Vec::new();
    let rows = std::iter::once((first_no, first))
        .filter(|_| !header)
        .chain(lines);
    for (no, line) in rows {
        let cells: Vec<&str> = line.split(',').collect();
        let cell = |i: usize| cells.get(columns[i]).map(|c| c.trim().trim_matches('"'));
        let time = cell(0)
            .and_then(time_ms)
            .ok_or_else(|| err(no, format!("`{}` is not a time", cell(0).unwrap_or(""))))?;
        let mut prices = [0.0f64; 4];
        for (k, what) in ["open", "high", "low", "close"].iter().enumerate() {
            let text = cell(k + 1).unwrap_or("");
            prices[k] = text
                .parse::<f64>()
                .ok()
                .filter(|p| p.is_finite() && *p > 0.0)
                .ok_or_else(|| err(no, format!("{what} `{text}` is not a positive price")))?;
        }
        let [open, high, low, close] = prices;
        if high < open.max(close) || low > open.min(close) || low > high {
            return Err(err(
                no,
                format!("high {high} and low {low} do not hold open {open} and close {close}"),
            ));
        }
        if let Some(prev) = candles.last()
            && time <= prev.open_time_ms
        {
            return Err(err(
                no,
                format!(
                    "time {} is not after the row before ({}): sort the file by time and remove duplicates",
                    crate::timefmt::iso(time),
                    crate::timefmt::iso(prev.open_time_ms)
                ),
            ));
        }
        // Volume is optional (only the Money Flow Index needs it).
        let volume = volume_column
            .and_then(|i| cells.get(i))
            .and_then(|v| v.trim().trim_matches('"').parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0);
        candles.push(Candle {
            open_time_ms: time,
            open,
            high,
            low,
            close,
        });
        volumes.push(volume);
        line_of.push(no);
    }
    if candles.len() < 2 {
        return Err(err(0, "fewer than 2 candles: nothing to replay".into()));
    }
    // The interval: the smallest step between rows (gaps are longer, never shorter).
    let interval_ms = candles
        .windows(2)
        .map(|w| w[1].open_time_ms - w[0].open_time_ms)
        .min()
        .unwrap_or(60_000);
    let mut warnings = Vec::new();
    let gaps: Vec<usize> = candles
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w[1].open_time_ms - w[0].open_time_ms > interval_ms)
        .map(|(i, _)| i + 1)
        .collect();
    if let Some(first_gap) = gaps.first() {
        let before = &candles[first_gap - 1];
        warnings.push(format!(
            "{name}:{}: {} gap{} in the candles (the first after {}); deals run across them",
            line_of[*first_gap],
            gaps.len(),
            if gaps.len() == 1 { "" } else { "s" },
            crate::timefmt::iso(before.open_time_ms)
        ));
    }
    Ok(Series {
        file: path.to_path_buf(),
        candles,
        volumes: volumes.into_iter().collect(),
        interval_ms,
        warnings,
    })
}

#[cfg(test)]
mod budget_tests {
    use super::*;

    #[test]
    fn the_budget_refuses_what_would_pass_it_and_takes_nothing_then() {
        let mut budget = Budget { left: 10 };
        budget.take(6, "a").unwrap();
        let refused = budget.take(5, "b").unwrap_err();
        assert!(refused.starts_with("b: 5 more candles"), "{refused}");
        budget.take(4, "c").unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn binance_klines_with_and_without_header_and_other_headers_read_alike() {
        let dir = tempfile::tempdir().unwrap();
        let plain = write(
            dir.path(),
            "BTCUSDT.csv",
            "1740830400000,100,110,90,105,1,1740830459999,0,0,0,0,0\n1740830460000,105,106,104,105,1,0,0,0,0,0,0\n",
        );
        let micro = write(
            dir.path(),
            "a.csv",
            "1740830400000000,100,110,90,105,1\n1740830460000000,105,106,104,105,1\n",
        );
        let named = write(
            dir.path(),
            "b.csv",
            "timestamp,open,high,low,close,volume\n2025-03-01T12:00:00Z,100,110,90,105,1\n2025-03-01T12:01:00Z,105,106,104,105,1\n",
        );
        let a = read_csv(&plain).unwrap();
        for other in [micro, named] {
            let b = read_csv(&other).unwrap();
            assert_eq!(a.candles, b.candles);
            assert_eq!(b.interval_ms, 60_000);
        }
        assert_eq!(
            find_for_pair(&[dir.path().to_path_buf()], "USDT_BTC"),
            Some(plain)
        );
    }

    #[test]
    fn bad_rows_are_located_and_gaps_reported() {
        let dir = tempfile::tempdir().unwrap();
        let bad = write(
            dir.path(),
            "x.csv",
            "time,open,high,low,close\n60,1,2,0.5,1\n120,1,0.9,0.5,1\n",
        );
        let e = read_csv(&bad).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("do not hold"), "{e}");
        let unsorted = write(dir.path(), "y.csv", "120,1,2,0.5,1\n60,1,2,0.5,1\n");
        assert_eq!(read_csv(&unsorted).unwrap_err().line, 2);
        let text = write(dir.path(), "z.csv", "60,1,2,0.5,1\n120,1,2,oops,1\n");
        assert!(
            read_csv(&text)
                .unwrap_err()
                .to_string()
                .contains("z.csv:2: low `oops`")
        );
        let gap = write(
            dir.path(),
            "g.csv",
            "60,1,2,0.5,1\n120,1,2,0.5,1\n600,1,2,0.5,1\n",
        );
        let series = read_csv(&gap).unwrap();
        assert_eq!(series.interval_ms, 60_000);
        assert!(
            series.warnings[0].contains("g.csv:3: 1 gap"),
            "{:?}",
            series.warnings
        );
    }
}
