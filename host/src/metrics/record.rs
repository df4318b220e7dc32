//! Recording into the metrics: what each part of the host calls to count what it did.

use super::*;

impl Metrics {
    /// Counts and times one front-door request.
    pub fn record_front_request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.front_requests
            .get_or_create(&FrontLabels {
                route: route.to_string(),
                method: method.to_string(),
                status: status_class(status),
            })
            .inc();
        self.front_seconds
            .get_or_create(&RouteLabels {
                route: route.to_string(),
            })
            .observe(seconds);
    }

    /// Counts one inbound request.
    pub fn record_inbound(&self, adapter: &str, route: &str, outcome: &str) {
        self.inbound_requests
            .get_or_create(&InboundLabels {
                adapter: adapter.to_string(),
                route: route.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// Refreshes the gauges read at scrape time: process figures and adapter status.
    pub fn refresh<'a>(&self, statuses: impl IntoIterator<Item = (&'a str, &'a str)>) {
        let (rss, cpu, fds) = process::stats();
        self.process_rss.set(rss);
        self.process_cpu.set(cpu);
        self.process_fds.set(fds);
        self.adapter_status.clear();
        for (adapter, status) in statuses {
            self.adapter_status
                .get_or_create(&StatusLabels {
                    adapter: adapter.to_string(),
                    status: status.to_string(),
                })
                .set(1);
        }
    }

    /// Counts one adapter load (`published`) or failed load.
    pub fn record_load(&self, adapter: &str, published: bool) {
        self.adapter_loads
            .get_or_create(&LoadLabels {
                adapter: adapter.to_string(),
                outcome: if published { "published" } else { "failed" }.to_string(),
            })
            .inc();
    }

    /// True at most once per `every`: whether this scrape counts the jobs table again. A count
    /// reads the whole table's index, so scrapes in a burst (several Prometheus servers, a
    /// dashboard polling) share one instead of each scanning a table of millions.
    pub fn job_counts_due(&self, every: std::time::Duration) -> bool {
        let mut at = self.counted_at.lock().unwrap_or_else(|p| p.into_inner());
        let now = std::time::Instant::now();
        if at.is_some_and(|t| now.duration_since(t) < every) {
            return false;
        }
        *at = Some(now);
        true
    }

    /// Sets the job gauges from the store's counts (states without jobs read 0).
    pub fn set_job_counts(&self, counts: &[(String, crate::store::JobState, i64)]) {
        use crate::store::JobState;
        let adapters: std::collections::BTreeSet<&str> =
            counts.iter().map(|(a, _, _)| a.as_str()).collect();
        for adapter in adapters {
            for state in [
                JobState::Queued,
                JobState::Running,
                JobState::Succeeded,
                JobState::Dead,
                JobState::Cancelled,
            ] {
                let n = counts
                    .iter()
                    .find(|(a, s, _)| a == adapter && *s == state)
                    .map_or(0, |(_, _, n)| *n);
                self.jobs
                    .get_or_create(&JobLabels {
                        adapter: adapter.to_string(),
                        state: state.as_str().to_string(),
                    })
                    .set(n);
            }
        }
    }

    /// Brings the store-error counters up to the store's own counts.
    pub fn set_store_errors(&self, counts: &[(crate::store::health::FailureClass, u64)]) {
        for (class, n) in counts {
            let counter = self.store_errors.get_or_create(&StoreErrorLabels {
                class: class.as_str().to_string(),
            });
            counter.inc_by(n.saturating_sub(counter.get()));
        }
    }

    /// Counts one succeeded call's journal shed (the store's writer was behind).
    pub fn record_journal_shed(&self, adapter: &str) {
        self.journal_shed
            .get_or_create(&AdapterLabels {
                adapter: adapter.to_string(),
            })
            .inc();
    }

    /// Counts what became of one call's items (partial success).
    pub fn record_items(&self, adapter: &str, accepted: u64, rejected: u64) {
        for (outcome, n) in [("accepted", accepted), ("rejected", rejected)] {
            if n > 0 {
                self.items
                    .get_or_create(&ItemLabels {
                        adapter: adapter.to_string(),
                        outcome: outcome.to_string(),
                    })
                    .inc_by(n);
            }
        }
    }
}
