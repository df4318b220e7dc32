//! Times, durations and cadences as an operator reads them: "in 4m", "3h ago", "every day at
//! 00:10". The console shows the exact value beside the words (a `title`), so nothing is lost
//! by rounding here.

use chrono::{DateTime, Utc};

/// `ms` (Unix ms) as `2026-11-30 09:41:19 UTC`.
pub fn timestamp(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// A span of `ms` milliseconds in its largest two units: `45s`, `4m 10s`, `3h 5m`, `2d 1h`.
pub fn span(ms: i64) -> String {
    let s = ms.unsigned_abs() / 1000;
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) if ms.unsigned_abs() < 1000 => format!("{}ms", ms.unsigned_abs()),
        (0, 0, 0) => format!("{sec}s"),
        (0, 0, _) if sec == 0 => format!("{m}m"),
        (0, 0, _) => format!("{m}m {sec}s"),
        (0, _, _) if m == 0 => format!("{h}h"),
        (0, _, _) => format!("{h}h {m}m"),
        _ if h == 0 => format!("{d}d"),
        _ => format!("{d}d {h}h"),
    }
}

/// `at` relative to `now`: `in 4m`, `3h ago`, `now`.
pub fn relative(at: i64, now: i64) -> String {
    let d = at - now;
    if d.abs() < 1000 {
        "now".into()
    } else if d > 0 {
        format!("in {}", span(d))
    } else {
        format!("{} ago", span(d))
    }
}

/// A schedule's cadence as `weft` writes it (`every 6m`, `cron 10 0 * * *`) in words, where
/// the cron expression has a common shape; other expressions are shown as they are.
pub fn cadence(text: &str) -> String {
    if let Some(every) = text.strip_prefix("every ") {
        return match humantime::parse_duration(every) {
            Ok(d) => format!("every {}", span(i64::try_from(d.as_millis()).unwrap_or(0))),
            Err(_) => text.to_string(),
        };
    }
    let Some(expr) = text.strip_prefix("cron ") else {
        return text.to_string();
    };
    cron_words(expr).unwrap_or_else(|| format!("cron {expr}"))
}

fn two_digits(field: &str, max: u32) -> Option<u32> {
    field.parse::<u32>().ok().filter(|v| *v <= max)
}

const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

fn cron_words(expr: &str) -> Option<String> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    // Five fields, or six with seconds first (croner reads both): seconds other than 0 are
    // not a shape worth wording.
    let f: &[&str] = match fields.len() {
        5 => &fields,
        6 if fields[0] == "0" => &fields[1..],
        _ => return None,
    };
    let (minute, hour, dom, month, dow) = (f[0], f[1], f[2], f[3], f[4]);
    if month != "*" {
        return None;
    }
    if let Some(n) = minute.strip_prefix("*/")
        && hour == "*"
        && dom == "*"
        && dow == "*"
    {
        return Some(format!("every {n} minutes"));
    }
    let m = two_digits(minute, 59)?;
    if hour == "*" && dom == "*" && dow == "*" {
        return Some(format!("every hour at :{m:02}"));
    }
    let h = two_digits(hour, 23)?;
    let at = format!("{h:02}:{m:02}");
    match (dom, dow) {
        ("*", "*") => Some(format!("every day at {at}")),
        ("*", "1-5" | "MON-FRI" | "mon-fri") => Some(format!("every weekday at {at}")),
        ("*", d) => {
            let day = two_digits(d, 7)?;
            Some(format!("every {} at {at}", DAYS[(day % 7) as usize]))
        }
        (d, "*") => {
            let day = two_digits(d, 31).filter(|d| *d > 0)?;
            Some(format!("on day {day} of every month at {at}"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cadences_in_words() {
        assert_eq!(cadence("every 6m"), "every 6m");
        assert_eq!(cadence("every 90s"), "every 1m 30s");
        assert_eq!(cadence("cron 10 0 * * *"), "every day at 00:10");
        assert_eq!(cadence("cron 0 50 23 * * *"), "every day at 23:50");
        assert_eq!(cadence("cron */5 * * * *"), "every 5 minutes");
        assert_eq!(cadence("cron 15 * * * *"), "every hour at :15");
        assert_eq!(cadence("cron 0 9 * * 1-5"), "every weekday at 09:00");
        assert_eq!(cadence("cron 0 9 * * 0"), "every Sunday at 09:00");
        assert_eq!(
            cadence("cron 30 2 1 * *"),
            "on day 1 of every month at 02:30"
        );
        assert_eq!(
            cadence("cron 0 9 * 1 *"),
            "cron 0 9 * 1 *",
            "other shapes as written"
        );
        assert_eq!(cadence("cron 5,35 * * * *"), "cron 5,35 * * * *");
    }

    #[test]
    fn spans_and_relative_times() {
        assert_eq!(span(250), "250ms");
        assert_eq!(span(45_000), "45s");
        assert_eq!(span(250_000), "4m 10s");
        assert_eq!(span(3 * 3_600_000 + 300_000), "3h 5m");
        assert_eq!(span(2 * 86_400_000 + 3_600_000), "2d 1h");
        assert_eq!(relative(10_000, 0), "in 10s");
        assert_eq!(relative(0, 120_000), "2m ago");
        assert_eq!(relative(500, 0), "now");
        assert_eq!(timestamp(0), "1970-01-01 00:00:00 UTC");
    }
}
