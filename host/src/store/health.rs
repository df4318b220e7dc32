//! What the store has lately said about its own condition, and the watch kept on every call:
//! a bound on each call's time (a store that stops answering without closing its sockets
//! otherwise holds every request for as long as it hangs), a WARN line and a count for each
//! failure class, and what `/readyz` needs to tell a store that cannot write from one that is
//! merely idle.
//!
//! [`super::Monitored`] wraps any [`super::Store`] with this watch; [`super::open`] hands
//! out stores wrapped.

use super::StoreError;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Default bound on one store call (`--store-timeout`).
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// A call slower than this is logged even when it succeeds.
const SLOW_CALL: Duration = Duration::from_secs(5);

/// How long a failed write keeps the store "cannot write" for `/readyz` unless a later write
/// succeeds: the probe's own small write may fit where the callers' writes do not.
const FAILURE_MEMORY: Duration = Duration::from_secs(30);

/// At most one WARN line per failure class this often (a full disk fails every write).
const WARN_EVERY: Duration = Duration::from_secs(10);

/// How a store call failed, as far as an operator needs to tell causes apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureClass {
    /// The disk or database is out of space.
    Full,
    /// The database file or a page of it is corrupt: sticky until a restart.
    Corrupt,
    /// The operating system failed a read or write, or the store is read-only.
    Io,
    /// The store could not be reached (connection refused, closed, pool exhausted).
    Unreachable,
    /// The call did not finish within its bound.
    Stalled,
    /// Anything else the database answered.
    Other,
}

impl FailureClass {
    /// Every class, in the order of [`Health::counts`].
    pub const ALL: [FailureClass; 6] = [
        Self::Full,
        Self::Corrupt,
        Self::Io,
        Self::Unreachable,
        Self::Stalled,
        Self::Other,
    ];

    /// The label used in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Corrupt => "corrupt",
            Self::Io => "io",
            Self::Unreachable => "unreachable",
            Self::Stalled => "stalled",
            Self::Other => "other",
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|c| *c == self).unwrap_or(5)
    }

    /// The class of `error`.
    pub fn of(error: &StoreError) -> Self {
        match error {
            StoreError::Stalled { .. } => Self::Stalled,
            StoreError::Io(_) => Self::Io,
            StoreError::Config(_) | StoreError::Migrate(_) => Self::Other,
            StoreError::Database(e) => match e {
                sqlx::Error::Database(db) => classify_code(db.code().as_deref().unwrap_or("")),
                sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_) => Self::Unreachable,
                _ => Self::Other,
            },
        }
    }
}

/// Classifies a database's error code: SQLite's (extended) result codes are numbers,
/// PostgreSQL's SQLSTATEs five characters.
fn classify_code(code: &str) -> FailureClass {
    // A SQLSTATE is always five characters; SQLite's extended codes have at most four digits.
    if code.len() != 5
        && let Ok(n) = code.parse::<i64>()
    {
        // SQLite: the primary code is the low byte of the extended one.
        return match n & 0xff {
            13 => FailureClass::Full,
            11 | 26 => FailureClass::Corrupt,
            10 | 8 | 14 => FailureClass::Io,
            _ => FailureClass::Other,
        };
    }
    match code {
        "53100" => FailureClass::Full,
        "XX001" | "XX002" => FailureClass::Corrupt,
        c if c.starts_with("58") || c.starts_with("53") => FailureClass::Io,
        c if c.starts_with("08") || c.starts_with("57P") => FailureClass::Unreachable,
        _ => FailureClass::Other,
    }
}

#[derive(Debug, Clone)]
struct Failure {
    class: FailureClass,
    message: String,
    at: Instant,
}

/// The store's condition as its calls have shown it; shared by every holder of the store.
#[derive(Debug)]
pub struct Health {
    pub(super) call_timeout: Duration,
    /// The last failed write, until a later write succeeds.
    failed_write: Mutex<Option<Failure>>,
    /// Corruption seen once is not forgotten: only a restore fixes it.
    corrupt: Mutex<Option<String>>,
    counts: [AtomicU64; 6],
    warned: Mutex<[Option<Instant>; 6]>,
}

impl Health {
    /// A healthy store whose calls are bounded by `call_timeout`.
    pub fn new(call_timeout: Duration) -> Self {
        Self {
            call_timeout,
            failed_write: Mutex::new(None),
            corrupt: Mutex::new(None),
            counts: Default::default(),
            warned: Mutex::new([None; 6]),
        }
    }

    /// Failed store calls so far, by class (in [`FailureClass::ALL`]'s order).
    pub fn counts(&self) -> Vec<(FailureClass, u64)> {
        FailureClass::ALL
            .iter()
            .map(|c| (*c, self.counts[c.index()].load(Ordering::Relaxed)))
            .collect()
    }

    /// Records that the store is corrupt (a failed integrity check).
    pub fn set_corrupt(&self, detail: String) {
        tracing::error!("the store is corrupt: {detail}; restore it from a backup");
        if let Ok(mut c) = self.corrupt.lock() {
            *c = Some(detail);
        }
    }

    /// Why the store should not be called ready, if it should not: corruption, or a write
    /// that failed lately with none succeeding since.
    pub fn problem(&self) -> Option<String> {
        if let Some(c) = self.corrupt.lock().ok().and_then(|c| c.clone()) {
            return Some(format!("the store is corrupt: {c}"));
        }
        let failed = self.failed_write.lock().ok().and_then(|f| f.clone())?;
        (failed.at.elapsed() < FAILURE_MEMORY).then(|| {
            format!(
                "the store cannot write ({}): {}",
                failed.class.as_str(),
                failed.message
            )
        })
    }

    pub(super) fn observe<T>(
        &self,
        what: &'static str,
        write: bool,
        took: Duration,
        result: &Result<T, StoreError>,
    ) {
        match result {
            Ok(_) => {
                if write
                    && let Ok(mut f) = self.failed_write.lock()
                    && f.take().is_some()
                {
                    tracing::info!(call = what, "the store writes again");
                }
                if took >= SLOW_CALL {
                    tracing::warn!(call = what, took = ?took, "slow store call");
                }
            }
            Err(e) => {
                let class = FailureClass::of(e);
                self.counts[class.index()].fetch_add(1, Ordering::Relaxed);
                let message = e.to_string();
                if class == FailureClass::Corrupt
                    && let Ok(mut c) = self.corrupt.lock()
                {
                    c.get_or_insert_with(|| message.clone());
                }
                if write && let Ok(mut f) = self.failed_write.lock() {
                    *f = Some(Failure {
                        class,
                        message: message.clone(),
                        at: Instant::now(),
                    });
                }
                let due = self.warned.lock().is_ok_and(|mut w| {
                    let last = &mut w[class.index()];
                    let due = last.is_none_or(|t| t.elapsed() >= WARN_EVERY);
                    if due {
                        *last = Some(Instant::now());
                    }
                    due
                });
                if due {
                    tracing::warn!(call = what, class = class.as_str(), took = ?took, "store call failed: {message}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_classified() {
        assert_eq!(classify_code("13"), FailureClass::Full);
        // SQLITE_IOERR_WRITE (778) and SQLITE_CORRUPT_INDEX (779) by their low byte.
        assert_eq!(classify_code("778"), FailureClass::Io);
        assert_eq!(classify_code("779"), FailureClass::Corrupt);
        assert_eq!(classify_code("26"), FailureClass::Corrupt);
        assert_eq!(classify_code("53100"), FailureClass::Full);
        assert_eq!(classify_code("57P01"), FailureClass::Unreachable);
        assert_eq!(classify_code("23505"), FailureClass::Other);
    }

    #[test]
    fn a_failed_write_is_remembered_until_a_write_succeeds() {
        let h = Health::new(Duration::from_secs(1));
        let full: Result<(), StoreError> = Err(StoreError::Stalled {
            call: "kv_set",
            bound: Duration::from_secs(1),
        });
        h.observe("kv_get", false, Duration::ZERO, &full);
        assert_eq!(h.problem(), None, "a failed read is not a failed write");
        h.observe("kv_set", true, Duration::ZERO, &full);
        assert!(h.problem().is_some_and(|p| p.contains("stalled")));
        h.observe("kv_get", false, Duration::ZERO, &Ok(()));
        assert!(
            h.problem().is_some(),
            "a read does not show the store writes"
        );
        h.observe("kv_set", true, Duration::ZERO, &Ok(()));
        assert_eq!(h.problem(), None);
        assert_eq!(h.counts()[FailureClass::Stalled.index()].1, 2);
        h.set_corrupt("page 7".into());
        h.observe("kv_set", true, Duration::ZERO, &Ok(()));
        assert!(h.problem().is_some_and(|p| p.contains("corrupt")));
    }
}
