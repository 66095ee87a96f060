//! Timestamps as 3Commas, exchanges and candle files write them: ISO 8601 (UTC or with an
//! offset, with or without fractions) to seconds since 1970, and back. No time-zone database:
//! every input carries its offset or is UTC.

/// `2025-03-01T12:00:00.000Z`, `2025-03-01 14:00:00+02:00` or `2025-03-01` as seconds since 1970.
pub fn parse_iso(iso: &str) -> Option<i64> {
    let iso = iso.trim();
    let (date, rest) = match iso.find(['T', ' ']) {
        Some(i) => (&iso[..i], &iso[i + 1..]),
        None => (iso, "00:00:00Z"),
    };
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let time: String = rest.chars().take(8).collect();
    let mut t = time.splitn(3, ':').map(|p| p.parse::<i64>());
    let (h, min) = (t.next()?.ok()?, t.next()?.ok()?);
    let s = t.next().and_then(|r| r.ok()).unwrap_or(0);
    let offset = rest
        .get(5..)
        .and_then(|tail| {
            let tail =
                tail.trim_start_matches(|c: char| c == ':' || c == '.' || c.is_ascii_digit());
            let sign = match tail.chars().next()? {
                '+' => 1,
                '-' => -1,
                _ => return None,
            };
            let mut hm = tail[1..].split(':').map(|p| p.parse::<i64>());
            Some(
                sign * (hm.next()?.ok()? * 3600 + hm.next().and_then(|r| r.ok()).unwrap_or(0) * 60),
            )
        })
        .unwrap_or(0);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + min * 60 + s - offset)
}

/// Now, as ISO 8601, UTC, to the second.
pub fn now_iso() -> String {
    iso(now_unix() * 1000)
}

/// Now, in seconds since 1970.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Milliseconds since 1970 as ISO 8601, UTC, to the second.
pub fn iso(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_with_fractions_and_offsets_and_print_back() {
        assert_eq!(parse_iso("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(parse_iso("2025-03-01T12:00:00Z"), Some(1_740_830_400));
        assert_eq!(
            parse_iso("2025-03-01T14:00:00.123+02:00"),
            Some(1_740_830_400)
        );
        assert_eq!(parse_iso("2025-03-01 12:00:00"), Some(1_740_830_400));
        assert_eq!(parse_iso("2025-03-01"), Some(1_740_787_200));
        assert_eq!(parse_iso("yesterday"), None);
        assert_eq!(iso(1_740_830_400_000), "2025-03-01T12:00:00Z");
        for s in [0, 951_782_400, 1_740_830_400, 4_102_444_800] {
            assert_eq!(parse_iso(&iso(s * 1000)), Some(s));
        }
    }
}
