//! The last hour of each adapter, minute by minute: calls, errors, a latency histogram and
//! outbound requests by status, for the ops console's charts and percentiles.
//!
//! Prometheus counters answer "how many since start"; an operator at the console asks "what
//! happened in the last hour", without a Prometheus server to ask. So each adapter keeps 60
//! one-minute slots in a ring, overwritten as time moves on: memory is fixed per adapter
//! (a few KiB) however long the process runs, and every key is an adapter name from the
//! registry or a status class from a bounded set, never anything a caller chose.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// Minutes kept.
pub const MINUTES: usize = 60;

/// Latency buckets: upper bounds in milliseconds, doubling from 1 ms (the last is unbounded).
const BUCKETS: usize = 20;

fn bucket_of(ms: f64) -> usize {
    let mut bound = 1.0;
    for i in 0..BUCKETS - 1 {
        if ms <= bound {
            return i;
        }
        bound *= 2.0;
    }
    BUCKETS - 1
}

fn bucket_bound_ms(i: usize) -> f64 {
    f64::from(1u32 << i.min(30))
}

#[derive(Clone, Default)]
struct Slot {
    /// Minute since the epoch this slot holds; a slot of an older minute counts as empty.
    minute: i64,
    calls: u64,
    errors: u64,
    latency: [u64; BUCKETS],
    outbound: BTreeMap<&'static str, u64>,
}

#[derive(Default)]
struct Window {
    slots: Vec<Slot>,
}

impl Window {
    fn slot(&mut self, minute: i64) -> &mut Slot {
        if self.slots.is_empty() {
            self.slots = vec![Slot::default(); MINUTES];
        }
        let i = usize::try_from(minute.rem_euclid(MINUTES as i64)).unwrap_or(0);
        let slot = &mut self.slots[i];
        if slot.minute != minute {
            *slot = Slot {
                minute,
                ..Slot::default()
            };
        }
        slot
    }
}

/// Per-adapter rings of the last hour.
#[derive(Default)]
pub struct Recent {
    windows: Mutex<HashMap<String, Window>>,
}

/// One adapter's last hour, summed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Calls per minute, oldest first (index 59 is the current minute).
    pub calls: Vec<u64>,
    /// Failed calls per minute, oldest first.
    pub errors: Vec<u64>,
    /// Calls in the hour.
    pub total: u64,
    /// Failed calls in the hour.
    pub failed: u64,
    /// Median call duration in ms (the upper bound of its bucket), if any call ran.
    pub p50_ms: Option<f64>,
    /// 99th percentile call duration in ms (the upper bound of its bucket).
    pub p99_ms: Option<f64>,
    /// Outbound requests in the hour by status class (`2xx`, `4xx`, `timeout`…).
    pub outbound: BTreeMap<String, u64>,
}

fn minute_now() -> i64 {
    crate::clock::now_ms().div_euclid(60_000)
}

/// The status class an outbound request is counted under: `2xx`…`5xx` for an answer, the
/// error's bounded label otherwise.
pub fn status_class(label: &str) -> &'static str {
    match label.as_bytes().first() {
        Some(b'1') if label.len() == 3 => "1xx",
        Some(b'2') if label.len() == 3 => "2xx",
        Some(b'3') if label.len() == 3 => "3xx",
        Some(b'4') if label.len() == 3 => "4xx",
        Some(b'5') if label.len() == 3 => "5xx",
        _ => match label {
            "timeout" => "timeout",
            "denied" => "denied",
            _ => "error",
        },
    }
}

impl Recent {
    fn with(&self, adapter: &str, f: impl FnOnce(&mut Slot)) {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let window = match windows.get_mut(adapter) {
            Some(w) => w,
            None => windows.entry(adapter.to_string()).or_default(),
        };
        f(window.slot(minute_now()));
    }

    /// Counts one finished call of `adapter`.
    pub fn record_call(&self, adapter: &str, ok: bool, seconds: f64) {
        self.with(adapter, |slot| {
            slot.calls += 1;
            if !ok {
                slot.errors += 1;
            }
            slot.latency[bucket_of(seconds * 1000.0)] += 1;
        });
    }

    /// Counts one outbound request of `adapter` that ended with `label` (a status code or an
    /// error label).
    pub fn record_outbound(&self, adapter: &str, label: &str) {
        let class = status_class(label);
        self.with(adapter, |slot| {
            *slot.outbound.entry(class).or_default() += 1;
        });
    }

    /// Forgets adapters not in `keep` (removed from the registry), so the map does not grow
    /// with every name an adapter ever had.
    pub fn retain(&self, keep: &[String]) {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        windows.retain(|name, _| keep.contains(name));
    }

    /// The last hour of `adapter`.
    pub fn summary(&self, adapter: &str) -> Summary {
        let now = minute_now();
        let windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Summary {
            calls: vec![0; MINUTES],
            errors: vec![0; MINUTES],
            ..Summary::default()
        };
        let Some(window) = windows.get(adapter) else {
            return out;
        };
        let mut latency = [0u64; BUCKETS];
        for slot in &window.slots {
            let age = now - slot.minute;
            if !(0..MINUTES as i64).contains(&age) {
                continue;
            }
            let i = MINUTES - 1 - usize::try_from(age).unwrap_or(0);
            out.calls[i] = slot.calls;
            out.errors[i] = slot.errors;
            out.total += slot.calls;
            out.failed += slot.errors;
            for (b, n) in slot.latency.iter().enumerate() {
                latency[b] += n;
            }
            for (class, n) in &slot.outbound {
                *out.outbound.entry((*class).to_string()).or_default() += n;
            }
        }
        out.p50_ms = quantile(&latency, 0.50);
        out.p99_ms = quantile(&latency, 0.99);
        out
    }
}

fn quantile(buckets: &[u64; BUCKETS], q: f64) -> Option<f64> {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    // The rank of the q-quantile, 1-based: the bucket holding it bounds the answer.
    let rank = ((total as f64) * q).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, n) in buckets.iter().enumerate() {
        seen += n;
        if seen >= rank {
            return Some(bucket_bound_ms(i));
        }
    }
    Some(bucket_bound_ms(BUCKETS - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hour_is_summed_with_percentiles_by_bucket() {
        let r = Recent::default();
        for _ in 0..98 {
            r.record_call("a", true, 0.003);
        }
        r.record_call("a", false, 0.003);
        r.record_call("a", false, 2.0);
        r.record_outbound("a", "200");
        r.record_outbound("a", "503");
        r.record_outbound("a", "timeout");
        r.record_outbound("a", "something-else");
        let s = r.summary("a");
        assert_eq!((s.total, s.failed), (100, 2));
        assert_eq!(s.calls[MINUTES - 1], 100);
        assert_eq!(s.p50_ms, Some(4.0), "3 ms falls in the (2, 4] bucket");
        assert_eq!(s.p99_ms, Some(4.0), "the 99th of 100 is still 3 ms");
        assert_eq!(s.outbound.get("2xx"), Some(&1));
        assert_eq!(s.outbound.get("5xx"), Some(&1));
        assert_eq!(s.outbound.get("timeout"), Some(&1));
        assert_eq!(s.outbound.get("error"), Some(&1));
        assert_eq!(
            r.summary("b"),
            Summary {
                calls: vec![0; MINUTES],
                errors: vec![0; MINUTES],
                ..Summary::default()
            }
        );
        r.retain(&[]);
        assert_eq!(r.summary("a").total, 0);
    }

    #[test]
    fn a_slot_of_an_older_minute_is_empty() {
        let mut w = Window::default();
        w.slot(100).calls = 7;
        assert_eq!(w.slot(100).calls, 7);
        assert_eq!(
            w.slot(100 + MINUTES as i64).calls,
            0,
            "same slot, new minute"
        );
    }
}
