//! Sizes, durations and refresh windows as ops write them ("64MiB", "6m", "10%").

use serde::{Deserialize, Deserializer};
use std::fmt;

/// A byte count written like "64MiB" or "512KiB".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(u64);

impl ByteSize {
    /// `n` kibibytes.
    pub const fn kib(n: u64) -> Self {
        Self(n * 1024)
    }

    /// `n` mebibytes.
    pub const fn mib(n: u64) -> Self {
        Self(n * 1024 * 1024)
    }

    /// `n` bytes.
    pub const fn bytes_exact(n: u64) -> Self {
        Self(n)
    }

    /// The size in bytes.
    pub const fn bytes(self) -> u64 {
        self.0
    }

    /// The size in bytes as `usize`, saturating.
    pub fn as_usize(self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX)
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", bytesize::ByteSize::b(self.0).display().iec())
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        // A bare number is ambiguous (bytes? megabytes?): ops must write the unit.
        if text.trim().chars().all(|c| c.is_ascii_digit()) {
            return Err(serde::de::Error::custom(format!(
                "expected a size with a unit such as \"64MiB\", found {text:?}"
            )));
        }
        text.trim()
            .parse::<bytesize::ByteSize>()
            .map(|b| Self(b.as_u64()))
            .map_err(|_| {
                serde::de::Error::custom(format!(
                    "expected a size such as \"64MiB\", found {text:?}"
                ))
            })
    }
}

/// A duration written like "500ms", "10s", "6m" or "1h".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(std::time::Duration);

impl Duration {
    /// `n` seconds.
    pub const fn secs(n: u64) -> Self {
        Self(std::time::Duration::from_secs(n))
    }

    /// `n` milliseconds.
    pub const fn millis(n: u64) -> Self {
        Self(std::time::Duration::from_millis(n))
    }

    /// The standard duration.
    pub const fn get(self) -> std::time::Duration {
        self.0
    }

    /// True for zero.
    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }
}

impl From<std::time::Duration> for Duration {
    fn from(d: std::time::Duration) -> Self {
        Self(d)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(text.trim())
            .map(Self)
            .map_err(|_| {
                serde::de::Error::custom(format!(
                    "expected a duration such as \"10s\" or \"6m\", found {text:?}"
                ))
            })
    }
}

/// How close to expiry a token is refreshed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RefreshWindow {
    /// A fixed time before expiry.
    Fixed(Duration),
    /// A share of the token's lifetime (0.1 for "10%").
    Fraction(f64),
}

impl RefreshWindow {
    /// The window for a token living `lifetime`. A fixed window never covers more than half
    /// the lifetime: a token living less than the window would otherwise be due for refresh
    /// from the moment it arrives, and every call would fetch a new one.
    pub fn for_lifetime(self, lifetime: std::time::Duration) -> std::time::Duration {
        match self {
            Self::Fixed(d) => d.get().min(lifetime / 2),
            Self::Fraction(f) => lifetime.mul_f64(f),
        }
    }
}

impl<'de> Deserialize<'de> for RefreshWindow {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let expected = || {
            serde::de::Error::custom(format!(
                "expected a duration such as \"5m\" or a share of the lifetime such as \"10%\", found {text:?}"
            ))
        };
        if let Some(percent) = text.trim().strip_suffix('%') {
            let p: f64 = percent.trim().parse().map_err(|_| expected())?;
            if !(0.0..100.0).contains(&p) {
                return Err(expected());
            }
            return Ok(Self::Fraction(p / 100.0));
        }
        humantime::parse_duration(text.trim())
            .map(|d| Self::Fixed(Duration(d)))
            .map_err(|_| expected())
    }
}

/// Parses `+HH:MM` / `-HH:MM` into seconds east of UTC.
pub fn parse_utc_offset(text: &str) -> Result<i32, String> {
    let expected = || format!("expected an offset such as \"+08:00\", found {text:?}");
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'+') => (1, &text[1..]),
        Some(b'-') => (-1, &text[1..]),
        _ => return Err(expected()),
    };
    let (h, m) = rest.split_once(':').ok_or_else(expected)?;
    let (h, m): (i32, i32) = (
        h.parse().map_err(|_| expected())?,
        m.parse().map_err(|_| expected())?,
    );
    if h > 14 || m > 59 || h < 0 || m < 0 {
        return Err(expected());
    }
    Ok(sign * (h * 3600 + m * 60))
}

/// A rate written like "10/s", "600/m" or "1/h": calls are spaced evenly by its interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Calls allowed per unit.
    pub count: u32,
    /// The unit.
    pub per: std::time::Duration,
}

impl Rate {
    /// Time between two calls.
    pub fn interval(self) -> std::time::Duration {
        self.per / self.count.max(1)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.per.as_secs() {
            1 => "s",
            60 => "m",
            _ => "h",
        };
        write!(f, "{}/{unit}", self.count)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let expected = || {
            serde::de::Error::custom(format!(
                "expected a rate such as \"10/s\", \"600/m\" or \"1/h\", found {text:?}"
            ))
        };
        let (n, unit) = text.trim().split_once('/').ok_or_else(expected)?;
        let count: u32 = n.trim().parse().map_err(|_| expected())?;
        let per = match unit.trim() {
            "s" => std::time::Duration::from_secs(1),
            "m" => std::time::Duration::from_secs(60),
            "h" => std::time::Duration::from_secs(3600),
            _ => return Err(expected()),
        };
        if count == 0 {
            return Err(expected());
        }
        Ok(Self { count, per })
    }
}
