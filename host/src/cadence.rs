//! Cadences: when a schedule ticks — every period (aligned to the epoch) or a cron expression
//! read in a time zone — and the tick arithmetic: the latest tick at a moment, the next ones.
//! Pure time math, used by the manifest (a cron that never fires is refused) and the scheduler.

use chrono::{DateTime, TimeZone};

/// When a schedule ticks.
#[derive(Debug, Clone, PartialEq)]
pub enum Cadence {
    /// Every period, aligned to multiples of the period since the Unix epoch.
    Every(std::time::Duration),
    /// A cron expression read in a time zone.
    Cron(Box<croner::Cron>, Zone),
}

/// The time zone a cron expression is read in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zone {
    /// A fixed offset from UTC.
    Fixed(chrono::FixedOffset),
    /// An IANA zone, with its daylight-saving rules.
    Named(chrono_tz::Tz),
}

impl std::fmt::Display for Zone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fixed(o) if o.local_minus_utc() == 0 => f.write_str("UTC"),
            Self::Fixed(o) => write!(f, "{o}"),
            Self::Named(tz) => f.write_str(tz.name()),
        }
    }
}

fn in_zone<T: TimeZone>(tz: &T, ms: i64) -> Option<DateTime<T>> {
    tz.timestamp_millis_opt(ms).single()
}

/// The latest tick at or before `now_ms`: a whole instant of the cadence.
pub fn latest_tick(cadence: &Cadence, now_ms: i64) -> Option<i64> {
    match cadence {
        Cadence::Every(period) => {
            let p = i64::try_from(period.as_millis()).ok().filter(|p| *p > 0)?;
            Some(now_ms - now_ms.rem_euclid(p))
        }
        Cadence::Cron(cron, zone) => {
            // Cron has a resolution of one second: "now" with its milliseconds would itself be
            // taken for a matching instant, a new one at every look within the second.
            let whole = now_ms - now_ms.rem_euclid(1000);
            let found = match zone {
                Zone::Fixed(tz) => cron
                    .find_previous_occurrence(&in_zone(tz, whole)?, true)
                    .ok()
                    .map(|t| t.timestamp_millis()),
                Zone::Named(tz) => cron
                    .find_previous_occurrence(&in_zone(tz, whole)?, true)
                    .ok()
                    .map(|t| t.timestamp_millis()),
            };
            found.map(|t| t - t.rem_euclid(1000))
        }
    }
}

/// The first tick strictly after `after_ms`; `None` if the cadence never fires again.
pub fn next_tick(cadence: &Cadence, after_ms: i64) -> Option<i64> {
    match cadence {
        Cadence::Every(period) => {
            let p = i64::try_from(period.as_millis()).ok().filter(|p| *p > 0)?;
            Some(after_ms - after_ms.rem_euclid(p) + p)
        }
        Cadence::Cron(cron, zone) => {
            let whole = after_ms - after_ms.rem_euclid(1000);
            let found = match zone {
                Zone::Fixed(tz) => cron
                    .find_next_occurrence(&in_zone(tz, whole)?, false)
                    .ok()
                    .map(|t| t.timestamp_millis()),
                Zone::Named(tz) => cron
                    .find_next_occurrence(&in_zone(tz, whole)?, false)
                    .ok()
                    .map(|t| t.timestamp_millis()),
            };
            found.map(|t| t - t.rem_euclid(1000))
        }
    }
}

/// The next `n` ticks after `after_ms`.
pub fn next_ticks(cadence: &Cadence, after_ms: i64, n: usize) -> Vec<i64> {
    let mut out = Vec::with_capacity(n);
    let mut at = after_ms;
    while out.len() < n {
        match next_tick(cadence, at) {
            Some(t) if t > at => {
                out.push(t);
                at = t;
            }
            _ => break,
        }
    }
    out
}
