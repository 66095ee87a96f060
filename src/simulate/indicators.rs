//! The technical indicators 3Commas' deal start conditions use, over one candle series.
//!
//! Each function returns one value per input candle, `NaN` while the indicator is still warming
//! up. The definitions and warm-up conventions are TA-Lib's (the reference most trading tools
//! agree with): the unit test `every_indicator_matches_ta_lib` compares every value with
//! `tests/fixtures/indicators/reference.json`, which `tests/py/indicator_reference.py` computes
//! with TA-Lib on a seeded candle series, and the integration test re-runs that script under CI
//! to prove the fixture is TA-Lib's and not ours. Heikin Ashi, which TA-Lib lacks, follows its
//! defining formula and is tested on hand-built candles.
//!
//! Conventions worth knowing (all TA-Lib's): moving averages and Wilder averages start from the
//! simple mean of their first `period` inputs; MACD seeds its fast average over the `fast`
//! closes that end where the slow one starts; Bollinger Bands use the population deviation;
//! a ratio whose denominator is 0 (a flat range) is 0.

/// Simple moving average.
pub fn sma(values: &[f64], period: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; values.len()];
    if period == 0 || values.len() < period {
        return out;
    }
    let mut sum: f64 = values[..period - 1].iter().sum();
    for i in period - 1..values.len() {
        sum += values[i];
        out[i] = sum / period as f64;
        sum -= values[i + 1 - period];
    }
    out
}

/// Exponential moving average (k = 2 / (period + 1)), seeded with the simple mean of the
/// `period` values ending at `seed_end`; values before it are NaN.
fn ema_from(values: &[f64], period: usize, seed_end: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; values.len()];
    if period == 0 || seed_end + 1 < period || seed_end >= values.len() {
        return out;
    }
    let k = 2.0 / (period as f64 + 1.0);
    let mut ema = values[seed_end + 1 - period..=seed_end].iter().sum::<f64>() / period as f64;
    out[seed_end] = ema;
    for i in seed_end + 1..values.len() {
        ema = (values[i] - ema) * k + ema;
        out[i] = ema;
    }
    out
}

/// Exponential moving average.
pub fn ema(values: &[f64], period: usize) -> Vec<f64> {
    ema_from(values, period, period.saturating_sub(1))
}

/// Relative Strength Index (Wilder), 0..100.
pub fn rsi(close: &[f64], period: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; close.len()];
    if period == 0 || close.len() <= period {
        return out;
    }
    let (mut gain, mut loss) = (0.0, 0.0);
    for i in 1..=period {
        let change = close[i] - close[i - 1];
        if change > 0.0 {
            gain += change;
        } else {
            loss -= change;
        }
    }
    let n = period as f64;
    gain /= n;
    loss /= n;
    let value = |gain: f64, loss: f64| {
        if gain + loss == 0.0 {
            0.0
        } else {
            100.0 * gain / (gain + loss)
        }
    };
    out[period] = value(gain, loss);
    for i in period + 1..close.len() {
        let change = close[i] - close[i - 1];
        gain = (gain * (n - 1.0) + change.max(0.0)) / n;
        loss = (loss * (n - 1.0) + (-change).max(0.0)) / n;
        out[i] = value(gain, loss);
    }
    out
}

/// Bollinger Bands %B in percent: 0 at the lower band, 100 at the upper (simple mean, population
/// deviation × `deviations` either side).
pub fn bollinger_percent_b(close: &[f64], period: usize, deviations: f64) -> Vec<f64> {
    let mut out = vec![f64::NAN; close.len()];
    if period == 0 || close.len() < period {
        return out;
    }
    let n = period as f64;
    for i in period - 1..close.len() {
        let window = &close[i + 1 - period..=i];
        let mean = window.iter().sum::<f64>() / n;
        let variance = (window.iter().map(|x| x * x).sum::<f64>() / n - mean * mean).max(0.0);
        let width = 2.0 * deviations * variance.sqrt();
        let lower = mean - deviations * variance.sqrt();
        out[i] = if width > 0.0 {
            (close[i] - lower) / width * 100.0
        } else {
            0.0
        };
    }
    out
}

/// MACD line (fast EMA − slow EMA) and its signal line (EMA of the MACD line).
pub fn macd(close: &[f64], fast: usize, slow: usize, signal: usize) -> (Vec<f64>, Vec<f64>) {
    let (fast, slow) = (fast.min(slow), fast.max(slow));
    let nan = || vec![f64::NAN; close.len()];
    if fast == 0 || signal == 0 || close.len() < slow {
        return (nan(), nan());
    }
    let start = slow - 1;
    let fast_ema = ema_from(close, fast, start);
    let slow_ema = ema_from(close, slow, start);
    let line: Vec<f64> = fast_ema.iter().zip(&slow_ema).map(|(f, s)| f - s).collect();
    let mut signal_line = nan();
    if close.len() >= start + signal {
        let seeded = ema_from(&line[start..], signal, signal - 1);
        signal_line[start..].copy_from_slice(&seeded);
    }
    let mut line = line;
    for (l, s) in line.iter_mut().zip(&signal_line) {
        if s.is_nan() {
            *l = f64::NAN;
        }
    }
    (line, signal_line)
}

/// Slow stochastic: %K (the fast %K over `fast_k` candles, averaged over `slow_k`) and %D (%K
/// averaged over `slow_d`), 0..100.
pub fn stochastic(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    fast_k: usize,
    slow_k: usize,
    slow_d: usize,
) -> (Vec<f64>, Vec<f64>) {
    let len = close.len();
    let nan = || vec![f64::NAN; len];
    if fast_k == 0 || slow_k == 0 || slow_d == 0 || len < fast_k {
        return (nan(), nan());
    }
    let mut raw = Vec::with_capacity(len + 1 - fast_k);
    for i in fast_k - 1..len {
        let highest = high[i + 1 - fast_k..=i]
            .iter()
            .copied()
            .fold(f64::MIN, f64::max);
        let lowest = low[i + 1 - fast_k..=i]
            .iter()
            .copied()
            .fold(f64::MAX, f64::min);
        let range = highest - lowest;
        raw.push(if range > 0.0 {
            (close[i] - lowest) / range * 100.0
        } else {
            0.0
        });
    }
    let k_short = sma(&raw, slow_k);
    let d_short = sma(
        &k_short[slow_k.min(k_short.len()).saturating_sub(1)..],
        slow_d,
    );
    let (mut k, mut d) = (nan(), nan());
    let offset_k = fast_k - 1;
    let offset_d = offset_k + slow_k - 1;
    for (i, v) in d_short.iter().enumerate() {
        if !v.is_nan() {
            d[offset_d + i] = *v;
            k[offset_d + i] = k_short[slow_k - 1 + i];
        }
    }
    (k, d)
}

fn true_range(high: f64, low: f64, prev_close: f64) -> f64 {
    (high - low)
        .max((high - prev_close).abs())
        .max((low - prev_close).abs())
}

/// Average Directional Index (Wilder), 0..100.
pub fn adx(high: &[f64], low: &[f64], close: &[f64], period: usize) -> Vec<f64> {
    let len = close.len();
    let mut out = vec![f64::NAN; len];
    if period == 0 || len < 2 * period {
        return out;
    }
    let n = period as f64;
    let moves = |i: usize| {
        let up = high[i] - high[i - 1];
        let down = low[i - 1] - low[i];
        let plus = if up > 0.0 && up > down { up } else { 0.0 };
        let minus = if down > 0.0 && down > up { down } else { 0.0 };
        (plus, minus, true_range(high[i], low[i], close[i - 1]))
    };
    let (mut plus, mut minus, mut range) = (0.0, 0.0, 0.0);
    for i in 1..period {
        let (p, m, r) = moves(i);
        plus += p;
        minus += m;
        range += r;
    }
    let mut dx_at = |i: usize| {
        let (p, m, r) = moves(i);
        plus = plus - plus / n + p;
        minus = minus - minus / n + m;
        range = range - range / n + r;
        if range == 0.0 {
            return 0.0;
        }
        let plus_di = 100.0 * plus / range;
        let minus_di = 100.0 * minus / range;
        let sum = plus_di + minus_di;
        if sum == 0.0 {
            0.0
        } else {
            100.0 * (plus_di - minus_di).abs() / sum
        }
    };
    let mut sum_dx = 0.0;
    for i in period..2 * period {
        sum_dx += dx_at(i);
    }
    let mut value = sum_dx / n;
    out[2 * period - 1] = value;
    for (i, slot) in out.iter_mut().enumerate().skip(2 * period) {
        value = (value * (n - 1.0) + dx_at(i)) / n;
        *slot = value;
    }
    out
}

/// Commodity Channel Index: (typical price − its mean) / (0.015 × mean deviation).
pub fn cci(high: &[f64], low: &[f64], close: &[f64], period: usize) -> Vec<f64> {
    let len = close.len();
    let mut out = vec![f64::NAN; len];
    if period == 0 || len < period {
        return out;
    }
    let typical: Vec<f64> = (0..len)
        .map(|i| (high[i] + low[i] + close[i]) / 3.0)
        .collect();
    let n = period as f64;
    for i in period - 1..len {
        let window = &typical[i + 1 - period..=i];
        let mean = window.iter().sum::<f64>() / n;
        let deviation = window.iter().map(|t| (t - mean).abs()).sum::<f64>() / n;
        out[i] = if deviation == 0.0 {
            0.0
        } else {
            (typical[i] - mean) / (0.015 * deviation)
        };
    }
    out
}

/// Money Flow Index, 0..100 (needs volumes).
pub fn mfi(high: &[f64], low: &[f64], close: &[f64], volume: &[f64], period: usize) -> Vec<f64> {
    let len = close.len();
    let mut out = vec![f64::NAN; len];
    if period == 0 || len <= period {
        return out;
    }
    let typical: Vec<f64> = (0..len)
        .map(|i| (high[i] + low[i] + close[i]) / 3.0)
        .collect();
    // Positive and negative money flow of each candle against the one before it.
    let flow = |i: usize| {
        let money = typical[i] * volume[i];
        if typical[i] > typical[i - 1] {
            (money, 0.0)
        } else if typical[i] < typical[i - 1] {
            (0.0, money)
        } else {
            (0.0, 0.0)
        }
    };
    for (i, slot) in out.iter_mut().enumerate().skip(period) {
        let (mut positive, mut negative) = (0.0, 0.0);
        for j in i + 1 - period..=i {
            let (p, m) = flow(j);
            positive += p;
            negative += m;
        }
        let total = positive + negative;
        *slot = if total < 1.0 {
            0.0
        } else {
            100.0 * positive / total
        };
    }
    out
}

/// Ultimate Oscillator, 0..100: buying pressure over true range on three windows, weighted 4:2:1
/// from the shortest.
pub fn ultimate_oscillator(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    periods: [usize; 3],
) -> Vec<f64> {
    let len = close.len();
    let mut out = vec![f64::NAN; len];
    let mut periods = periods;
    periods.sort_unstable();
    let longest = periods[2];
    if periods[0] == 0 || len <= longest {
        return out;
    }
    let pressure: Vec<(f64, f64)> = (0..len)
        .map(|i| {
            if i == 0 {
                return (0.0, 0.0);
            }
            let true_low = low[i].min(close[i - 1]);
            let true_high = high[i].max(close[i - 1]);
            (close[i] - true_low, true_high - true_low)
        })
        .collect();
    for (i, slot) in out.iter_mut().enumerate().skip(longest) {
        let mut total = 0.0;
        for (period, weight) in periods.iter().zip([4.0, 2.0, 1.0]) {
            let (buying, range) = pressure[i + 1 - period..=i]
                .iter()
                .fold((0.0, 0.0), |(b, r), (pb, pr)| (b + pb, r + pr));
            if range != 0.0 {
                total += weight * buying / range;
            }
        }
        *slot = 100.0 * total / 7.0;
    }
    out
}

/// Parabolic SAR (Wilder). The first trend is short when the second candle's low falls further
/// than its high rises (a positive −DM), else long; the first value is at the second candle.
pub fn parabolic_sar(high: &[f64], low: &[f64], acceleration: f64, maximum: f64) -> Vec<f64> {
    let len = high.len();
    let mut out = vec![f64::NAN; len];
    if len < 2 {
        return out;
    }
    let acceleration = acceleration.min(maximum);
    let mut af = acceleration;
    let up = high[1] - high[0];
    let down = low[0] - low[1];
    let mut long = !(down > 0.0 && up < down);
    let (mut sar, mut extreme) = if long {
        (low[0], high[1])
    } else {
        (high[0], low[1])
    };
    let (mut new_high, mut new_low) = (high[1], low[1]);
    for i in 1..len {
        let (prev_high, prev_low) = (new_high, new_low);
        new_high = high[i];
        new_low = low[i];
        if long {
            if new_low <= sar {
                long = false;
                sar = extreme.max(prev_high).max(new_high);
                out[i] = sar;
                af = acceleration;
                extreme = new_low;
                sar = (sar + af * (extreme - sar)).max(prev_high).max(new_high);
            } else {
                out[i] = sar;
                if new_high > extreme {
                    extreme = new_high;
                    af = (af + acceleration).min(maximum);
                }
                sar = (sar + af * (extreme - sar)).min(prev_low).min(new_low);
            }
        } else if new_high >= sar {
            long = true;
            sar = extreme.min(prev_low).min(new_low);
            out[i] = sar;
            af = acceleration;
            extreme = new_high;
            sar = (sar + af * (extreme - sar)).min(prev_low).min(new_low);
        } else {
            out[i] = sar;
            if new_low < extreme {
                extreme = new_low;
                af = (af + acceleration).min(maximum);
            }
            sar = (sar + af * (extreme - sar)).max(prev_high).max(new_high);
        }
    }
    out
}

/// Heikin Ashi candle colours: +1 where the Heikin Ashi close is above its open (green), −1
/// below (red), 0 equal. HA close = (open + high + low + close) / 4; HA open = the mean of the
/// previous HA open and close, starting from (open + close) / 2 of the first candle.
pub fn heikin_ashi_colours(open: &[f64], high: &[f64], low: &[f64], close: &[f64]) -> Vec<i8> {
    let mut out = Vec::with_capacity(close.len());
    let mut previous: Option<(f64, f64)> = None;
    for i in 0..close.len() {
        let ha_close = (open[i] + high[i] + low[i] + close[i]) / 4.0;
        let ha_open = match previous {
            Some((o, c)) => (o + c) / 2.0,
            None => (open[i] + close[i]) / 2.0,
        };
        out.push(if ha_close > ha_open {
            1
        } else if ha_close < ha_open {
            -1
        } else {
            0
        });
        previous = Some((ha_open, ha_close));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANDLES: &str = include_str!("../../tests/fixtures/indicators/candles.csv");
    const REFERENCE: &str = include_str!("../../tests/fixtures/indicators/reference.json");

    struct Columns {
        open: Vec<f64>,
        high: Vec<f64>,
        low: Vec<f64>,
        close: Vec<f64>,
        volume: Vec<f64>,
    }

    fn columns() -> Columns {
        let mut c = Columns {
            open: vec![],
            high: vec![],
            low: vec![],
            close: vec![],
            volume: vec![],
        };
        for line in CANDLES.lines().skip(1) {
            let v: Vec<f64> = line.split(',').map(|x| x.parse().unwrap()).collect();
            c.open.push(v[1]);
            c.high.push(v[2]);
            c.low.push(v[3]);
            c.close.push(v[4]);
            c.volume.push(v[5]);
        }
        c
    }

    fn check(name: &str, ours: &[f64]) {
        let reference: serde_json::Value = serde_json::from_str(REFERENCE).unwrap();
        let expected = reference["values"][name].as_array().unwrap();
        assert_eq!(expected.len(), ours.len(), "{name}: length");
        for (i, (e, o)) in expected.iter().zip(ours).enumerate() {
            match e.as_f64() {
                None => assert!(
                    o.is_nan(),
                    "{name}[{i}]: TA-Lib has no value yet, we have {o}"
                ),
                Some(e) => assert!(
                    (e - o).abs() <= 1e-9 * e.abs().max(1.0),
                    "{name}[{i}]: TA-Lib {e}, ours {o}"
                ),
            }
        }
    }

    #[test]
    fn every_indicator_matches_ta_lib() {
        let c = columns();
        for period in [7, 14] {
            check(&format!("rsi_{period}"), &rsi(&c.close, period));
        }
        for period in [9, 20] {
            check(&format!("sma_{period}"), &sma(&c.close, period));
            check(&format!("ema_{period}"), &ema(&c.close, period));
        }
        check("bb_percent_20_2.0", &bollinger_percent_b(&c.close, 20, 2.0));
        check("bb_percent_14_1.5", &bollinger_percent_b(&c.close, 14, 1.5));
        let (line, signal) = macd(&c.close, 12, 26, 9);
        check("macd_12_26_9", &line);
        check("macd_signal_12_26_9", &signal);
        let (k, d) = stochastic(&c.high, &c.low, &c.close, 14, 3, 3);
        check("stoch_k_14_3_3", &k);
        check("stoch_d_14_3_3", &d);
        check("adx_14", &adx(&c.high, &c.low, &c.close, 14));
        check("cci_20", &cci(&c.high, &c.low, &c.close, 20));
        check("mfi_14", &mfi(&c.high, &c.low, &c.close, &c.volume, 14));
        check(
            "ult_7_14_28",
            &ultimate_oscillator(&c.high, &c.low, &c.close, [7, 14, 28]),
        );
        check("sar_0.02_0.2", &parabolic_sar(&c.high, &c.low, 0.02, 0.2));
    }

    #[test]
    fn heikin_ashi_colours_follow_the_formula() {
        // HA close = mean of OHLC; HA open = mean of the previous HA open and close.
        let open = [10.0, 11.0, 12.0, 11.0];
        let high = [11.0, 12.5, 12.2, 11.2];
        let low = [9.5, 10.8, 10.0, 9.0];
        let close = [11.0, 12.0, 10.5, 9.2];
        // 1: HA o 10.5, c 10.375 -> red. 2: o 10.4375, c 11.575 -> green.
        // 3: o 11.00625, c 11.175 -> green. 4: o 11.090625, c 10.1 -> red.
        assert_eq!(
            heikin_ashi_colours(&open, &high, &low, &close),
            vec![-1, 1, 1, -1]
        );
    }

    #[test]
    fn short_series_are_all_warm_up() {
        let x = [1.0, 2.0, 3.0];
        assert!(rsi(&x, 14).iter().all(|v| v.is_nan()));
        assert!(adx(&x, &x, &x, 14).iter().all(|v| v.is_nan()));
        assert!(macd(&x, 12, 26, 9).0.iter().all(|v| v.is_nan()));
        assert!(parabolic_sar(&x[..1], &x[..1], 0.02, 0.2)[0].is_nan());
    }
}
