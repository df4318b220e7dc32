//! `[journal]`: which calls' platform exchanges the host keeps, and how much of each; and
//! `[items]`: what a refused item does to its call.

use super::ByteSize;
use serde::Deserialize;

/// Which calls' exchanges are kept.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Keep {
    /// None.
    Off,
    /// Those of calls that did not succeed (the default): what an operator needs to see why,
    /// at no cost to the calls that went well.
    #[default]
    Failures,
    /// Every call's.
    All,
}

/// `[journal]`: the exchange journal of this adapter's calls.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct JournalPolicy {
    /// Which calls' exchanges are kept.
    pub keep: Keep,
    /// Most of each request or answer body kept; the rest is cut, its full size noted.
    pub max_body: ByteSize,
    /// Exchanges kept of one call; those after are counted, not kept.
    pub max_exchanges: u32,
    /// Calls of this adapter whose journals are kept at most: the oldest go first.
    pub max_calls: u32,
}

impl Default for JournalPolicy {
    fn default() -> Self {
        Self {
            keep: Keep::Failures,
            max_body: ByteSize::kib(16),
            max_exchanges: 200,
            max_calls: 10_000,
        }
    }
}

/// `[items]`: what the items a platform refused in a successful answer (partial success) do to
/// the call.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ItemsPolicy {
    /// Any refused item fails the call as `rejected` (a job then ends dead, not retried). By
    /// default the call succeeds, its refused items shown on it.
    pub fail_on_rejected: bool,
}
