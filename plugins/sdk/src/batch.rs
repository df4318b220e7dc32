//! Splitting rows into numbered requests, as platforms with a per-request row limit want.

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
