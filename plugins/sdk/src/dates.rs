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

/// Checks that `text` is a `YYYY-MM-DD` date.
pub fn check_date(text: &str) -> Result<(), String> {
    time::Date::parse(text, DATE)
        .map(|_| ())
        .map_err(|e| format!("expected a date such as \"2026-11-23\", found {text:?} ({e})"))
}
