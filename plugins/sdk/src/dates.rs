//! Calendar days in a platform's time zone, as `YYYY-MM-DD`: what "the day's changes" means.

use crate::AdapterError;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;

const DATE: &[BorrowedFormatItem<'static>] = format_description!("[year]-[month]-[day]");
const OFFSET: &[BorrowedFormatItem<'static>] =
    format_description!("[offset_hour sign:mandatory]:[offset_minute]");

/// A fixed UTC offset such as `+08:00`.
pub type Offset = time::UtcOffset;

/// Parses `+HH:MM` / `-HH:MM`; the error names what was expected.
pub fn parse_offset(text: &str) -> Result<Offset, String> {
    time::UtcOffset::parse(text, OFFSET)
        .map_err(|e| format!("expected an offset such as \"+08:00\", found {text:?} ({e})"))
}

/// The date `days` from today at `offset`, as `YYYY-MM-DD`.
pub fn day(offset: Offset, days: i64) -> Result<String, AdapterError> {
    let today = time::OffsetDateTime::now_utc().to_offset(offset).date();
    (today + time::Duration::days(days))
        .format(DATE)
        .map_err(|e| AdapterError::transient(format!("date formatting failed: {e}")))
}

/// The current time at `offset` as `yyyy-MM-dd HH:mm:ss`, the timestamp format of platforms
/// that write local time without a zone.
pub fn timestamp(offset: Offset) -> Result<String, AdapterError> {
    const STAMP: &[BorrowedFormatItem<'static>] =
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::OffsetDateTime::now_utc()
        .to_offset(offset)
        .format(STAMP)
        .map_err(|e| AdapterError::transient(format!("time formatting failed: {e}")))
}

/// The current time in unix milliseconds (0 if the clock is before 1970).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The current UTC time as `yyMMddHHmmss` (12 digits), for identifiers.
pub fn stamp_utc() -> Result<String, AdapterError> {
    const STAMP: &[BorrowedFormatItem<'static>] =
        format_description!("[year repr:last_two][month][day][hour][minute][second]");
    time::OffsetDateTime::now_utc()
        .format(STAMP)
        .map_err(|e| AdapterError::transient(format!("time formatting failed: {e}")))
}

/// An RFC 3339 time (`2026-12-07T08:00:00Z`, `2026-12-07T16:00:00.250+08:00`) as unix
/// milliseconds; the error names what was expected.
pub fn parse_rfc3339(text: &str) -> Result<i64, String> {
    let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| {
            format!(
                "expected an RFC 3339 time such as \"2026-12-07T08:00:00Z\", found {text:?} ({e})"
            )
        })?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| format!("{text:?} is out of range"))
}

/// Unix milliseconds `ms` as RFC 3339 in UTC, to the millisecond (`2026-12-07T08:00:00.250Z`):
/// a form that sorts as text, as a [`crate::watermark::Watermark`] wants.
pub fn format_rfc3339(ms: i64) -> Result<String, AdapterError> {
    const UTC: &[BorrowedFormatItem<'static>] =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|e| AdapterError::invalid_input(format!("time {ms} ms: {e}")))?
        .format(UTC)
        .map_err(|e| AdapterError::transient(format!("time formatting failed: {e}")))
}

/// Checks that `text` is a `YYYY-MM-DD` date.
pub fn check_date(text: &str) -> Result<(), String> {
    time::Date::parse(text, DATE)
        .map(|_| ())
        .map_err(|e| format!("expected a date such as \"2026-11-23\", found {text:?} ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_reads_offsets_and_fractions_and_writes_utc_that_sorts() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01Z"), Ok(1000));
        assert_eq!(
            parse_rfc3339("2026-12-07T16:00:00.250+08:00"),
            parse_rfc3339("2026-12-07T08:00:00.250Z")
        );
        assert!(parse_rfc3339("2026-12-07 08:00").is_err_and(|e| e.contains("RFC 3339")));
        let ms = parse_rfc3339("2026-12-07T08:00:00.250Z").expect("parse");
        assert_eq!(
            format_rfc3339(ms).as_deref().ok(),
            Some("2026-12-07T08:00:00.250Z")
        );
        let (a, b) = (
            format_rfc3339(ms).expect("a"),
            format_rfc3339(ms + 9_000).expect("b"),
        );
        assert!(a < b, "text order is time order");
    }
}
