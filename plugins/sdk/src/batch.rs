//! Splitting rows into numbered requests, as platforms with a per-request row limit want, and
//! sending them as durable steps, so that a call run again sends only what the platform has not
//! answered yet.

use crate::Result;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::ops::Range;

/// One request's share of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequence {
    /// 1-based sequence number.
    pub seq_id: usize,
    /// Number of sequences in the batch.
    pub seq_count: usize,
    /// The rows of the caller's input this sequence carries.
    pub rows: Range<usize>,
}

/// Splits `total` rows into sequences of at most `max` rows (`max` of 0 is taken as 1).
pub fn sequences(total: usize, max: usize) -> Vec<Sequence> {
    let max = max.max(1);
    let seq_count = total.div_ceil(max);
    (0..seq_count)
        .map(|i| Sequence {
            seq_id: i + 1,
            seq_count,
            rows: i * max..total.min((i + 1) * max),
        })
        .collect()
}

/// Whether a batch may be sent again when it got no answer (see [`crate::steps`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resend {
    /// Sending it twice does no harm (a snapshot, an upsert by key): [`crate::steps::run`].
    Safe,
    /// Sending it twice would do the work twice (create, adjust): [`crate::steps::run_once`].
    Once,
}

/// Sends `total` rows in sequences of at most `max` with `send`, each sequence as the durable
/// step `{name}/{seq_id}`: when the call runs again (after a 429, a refused token, a crash),
/// the sequences the platform already took are not sent again, and their recorded answers are
/// returned in their place. Answers every sequence's answer, in order.
pub fn in_steps<T: Serialize + DeserializeOwned>(
    name: &str,
    total: usize,
    max: usize,
    resend: Resend,
    mut send: impl FnMut(&Sequence) -> Result<T>,
) -> Result<Vec<T>> {
    let mut answers = Vec::new();
    for seq in sequences(total, max) {
        let step = format!("{name}/{}", seq.seq_id);
        let answer = match resend {
            Resend::Safe => crate::steps::run(&step, || send(&seq))?,
            Resend::Once => crate::steps::run_once(&step, || send(&seq))?,
        };
        answers.push(answer);
    }
    Ok(answers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fourteen_hundred_rows_are_500_500_400() {
        let seqs = sequences(1400, 500);
        let sizes: Vec<usize> = seqs.iter().map(|s| s.rows.len()).collect();
        assert_eq!(sizes, vec![500, 500, 400]);
        assert_eq!(seqs[2].seq_id, 3);
        assert!(seqs.iter().all(|s| s.seq_count == 3));
    }

    #[test]
    fn empty_input_is_no_sequence() {
        assert!(sequences(0, 500).is_empty());
    }
}
