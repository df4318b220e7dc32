//! What the claimer may take in one round: each adapter's share of the free workers, from its
//! free `limits.concurrency` permits and the slots left in its `limits.rate` budget, and how
//! many workers there are.

use crate::pause::Paused;
use crate::runtime::Runtime;
use std::collections::{BTreeMap, HashMap};

/// How far ahead a rate-limited adapter's budget may be booked for its jobs still to be
/// claimed: a job claimed now sends its first request within this time. Longer than the
/// claimer's idle poll, so that an adapter held back by its budget is claimed again before
/// its next slot comes.
const RATE_HORIZON_MS: i64 = 1_000;

/// The claimer's view of one round.
pub(super) struct Round {
    /// Each adapter that can run a job now, and how many.
    pub shares: Vec<(String, u32)>,
    /// Some adapter got less than the claim's limit because of its own concurrency or rate
    /// budget: an attempt of it ending may let the next claim take more.
    pub held_back: bool,
}

/// The claimer's view of one round: each adapter that can run a job now, and how many, for a
/// claim of at most `limit` jobs.
///
/// A job is claimed only when its adapter can run it now, so a worker never sits on a claimed
/// job: not waiting for one of the adapter's permits (an adapter whose calls hang holds its
/// own share of the workers, not everyone's), nor for a slot of its outbound rate (an adapter
/// whose budget is spent keeps its jobs queued, visible as such, until a slot is near).
pub(super) async fn shares(
    rt: &Runtime,
    paused: &BTreeMap<String, Paused>,
    in_hand: &HashMap<String, u32>,
    now_ms: i64,
    limit: u32,
) -> Round {
    let mut out = Vec::new();
    let mut held_back = false;
    let mut rated = Vec::new();
    for name in rt.registry().names() {
        if paused.contains_key(&name) {
            continue;
        }
        let Some(adapter) = rt.registry().get(&name) else {
            continue;
        };
        let limits = &adapter.manifest.limits;
        let held = in_hand.get(&name).copied().unwrap_or(0);
        let free = u32::try_from(adapter.permits.available_permits())
            .unwrap_or(u32::MAX)
            .min(limits.concurrency.saturating_sub(held));
        held_back |= free < limit;
        if free == 0 {
            continue;
        }
        if let Some(rate) = limits.rate {
            let interval = i64::try_from(rate.interval().as_millis()).unwrap_or(i64::MAX);
            rated.push((out.len(), interval.max(1), held));
        }
        out.push((name, free));
    }
    if rated.is_empty() {
        return Round {
            shares: out,
            held_back,
        };
    }
    let keys: Vec<String> = rated
        .iter()
        .map(|&(i, _, _)| crate::store::budget_key(&out[i].0, "limits.rate"))
        .collect();
    // Unreadable budgets hold nobody back: the calls still wait for their slots.
    let booked: HashMap<String, i64> = match rt.shared().store.rate_booked_until(&keys).await {
        Ok(rows) => rows.into_iter().collect(),
        Err(e) => {
            tracing::debug!("rate budgets unread, claiming by concurrency alone: {e}");
            return Round {
                shares: out,
                held_back,
            };
        }
    };
    for ((i, interval, held), key) in rated.into_iter().zip(&keys) {
        let share = &mut out[i].1;
        *share = (*share).min(budget_share(
            booked.get(key).copied(),
            interval,
            held,
            now_ms,
        ));
        held_back |= *share < limit;
    }
    out.retain(|(_, n)| *n > 0);
    Round {
        shares: out,
        held_back,
    }
}

/// Jobs an adapter may start now under a rate budget of one request per `interval` ms, booked
/// until `booked` (none: never taken), with `held` of its jobs already claimed: the slots that
/// fall within the horizon, less the jobs holding them (each job sends at least one request).
/// One job at a time when no slot falls within it but the budget is free.
fn budget_share(booked: Option<i64>, interval: i64, held: u32, now_ms: i64) -> u32 {
    let ahead = booked.map_or(0, |b| b - now_ms).max(0);
    if ahead > RATE_HORIZON_MS {
        return 0;
    }
    let slots = u32::try_from((RATE_HORIZON_MS - ahead) / interval)
        .unwrap_or(u32::MAX)
        .max(1);
    slots.saturating_sub(held)
}

/// Attempts at once when `--workers` is 0 (auto): every loaded adapter's `limits.concurrency`
/// together, within these bounds. Integration jobs mostly wait on platforms, so a worker is
/// a waiting task, not a busy core.
const AUTO_WORKERS: (usize, usize) = (16, 512);

/// How many attempts may run at once: `--workers`, or (0) what the loaded adapters need.
pub(super) fn worker_slots(rt: &Runtime, configured: usize) -> usize {
    if configured > 0 {
        return configured;
    }
    let wanted: usize = rt
        .registry()
        .names()
        .iter()
        .filter_map(|n| rt.registry().get(n))
        .map(|a| a.manifest.limits.concurrency as usize)
        .sum();
    wanted.clamp(AUTO_WORKERS.0, AUTO_WORKERS.1)
}

#[cfg(test)]
mod tests {
    use super::budget_share;

    #[test]
    fn a_spent_budget_claims_nothing_and_a_free_one_its_slots_less_those_held() {
        let now = 1_000_000;
        // 10 a second, never used: ten slots within the horizon.
        assert_eq!(budget_share(None, 100, 0, now), 10);
        assert_eq!(budget_share(None, 100, 4, now), 6);
        // Booked half a second ahead: five slots left within it.
        assert_eq!(budget_share(Some(now + 500), 100, 0, now), 5);
        // Booked past the horizon: nothing until it comes near.
        assert_eq!(budget_share(Some(now + 1_500), 100, 0, now), 0);
        // One a minute: one job at a time, and none while one is held.
        assert_eq!(budget_share(Some(now - 5), 60_000, 0, now), 1);
        assert_eq!(budget_share(Some(now - 5), 60_000, 1, now), 0);
        assert_eq!(budget_share(Some(now + 60_000), 60_000, 0, now), 0);
    }
}
