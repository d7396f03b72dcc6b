//! Cutting a time-ordered file into batches, with every chargeback
//! published when it is due.
//!
//! Publishing a label before each transaction it precedes would cut the
//! stream into batches of ~100 transactions at a 1 % fraud rate, and the
//! store round trips would dominate. It is not needed for exactness: the
//! feature state only counts a fraud label for transactions stamped after
//! its `labeled_at`, so a label may reach it early, as long as its own
//! transaction is already there. So each batch is preceded by every label
//! that falls due before the batch's last transaction, provided the
//! label's transaction was in an earlier batch; the span of a batch is
//! kept below the label delay so that this holds for every due label.
//! Features are then the same as with one message per event in time order,
//! and no label is visible to a feature before its time.

use chrono::{DateTime, TimeDelta, Utc};

use super::row::ReplayRow;
use crate::transaction::Label;

/// One publish step: the labels due by the end of the batch, then its
/// transactions.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub labels: Vec<Label>,
    pub rows: Vec<ReplayRow>,
}

/// Splits time-ordered `rows` into batches of at most `max_rows`, whose
/// time span stays below `delay` (when positive); a last batch without
/// rows carries the labels due after the last transaction.
pub fn batches(
    rows: Vec<ReplayRow>,
    delay: TimeDelta,
    max_rows: usize,
) -> impl Iterator<Item = Batch> {
    let max_rows = max_rows.max(1);
    let mut rows = rows.into_iter().peekable();
    let mut pending: std::collections::VecDeque<Label> = Default::default();
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let mut batch = Vec::with_capacity(max_rows.min(rows.len()));
        let mut first: Option<DateTime<Utc>> = None;
        while batch.len() < max_rows {
            let Some(next) = rows.peek() else { break };
            let time = next.transaction.timestamp;
            let start = *first.get_or_insert(time);
            if delay > TimeDelta::zero() && time - start >= delay && !batch.is_empty() {
                break;
            }
            batch.extend(rows.next());
        }
        let labels: Vec<Label> = match batch.last() {
            Some(last) => {
                let end = last.transaction.timestamp;
                let due = pending.iter().take_while(|l| l.labeled_at <= end).count();
                pending.drain(..due).collect()
            }
            None => {
                done = true;
                pending.drain(..).collect()
            }
        };
        pending.extend(batch.iter().filter_map(|r| r.chargeback(delay)));
        (!batch.is_empty() || !labels.is_empty()).then_some(Batch {
            labels,
            rows: batch,
        })
    })
}

/// Whether rows are in time order (equal times in any order).
pub fn in_time_order(rows: &[ReplayRow]) -> bool {
    rows.windows(2)
        .all(|w| w[0].transaction.timestamp <= w[1].transaction.timestamp)
}

/// Sorts rows by time, keeping the file order of equal times.
pub fn sort_by_time(rows: &mut [ReplayRow]) {
    rows.sort_by_key(|r| r.transaction.timestamp);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Transaction;
    use crate::replay::ids::transaction_uuid;

    fn row(minute: i64, fraud: bool) -> ReplayRow {
        let start = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        ReplayRow {
            transaction: Transaction::new(
                transaction_uuid(&minute.to_string()),
                "u",
                "m",
                1.0,
                start + TimeDelta::minutes(minute),
            ),
            original_id: minute.to_string(),
            is_fraud: Some(fraud),
        }
    }

    /// Every 3rd of 100 rows a minute apart is a fraud.
    fn stream() -> Vec<ReplayRow> {
        (0..100).map(|m| row(m, m % 3 == 0)).collect()
    }

    #[test]
    fn labels_come_after_their_transaction_and_before_anything_they_precede() {
        for (delay, max) in [(10, 7), (10, 1000), (1, 50), (30, 4)] {
            let delay = TimeDelta::minutes(delay);
            let out: Vec<Batch> = batches(stream(), delay, max).collect();
            let mut seen_tx = std::collections::HashSet::new();
            let mut published_labels = Vec::new();
            for b in &out {
                assert!(b.rows.len() <= max);
                if let (Some(f), Some(l)) = (b.rows.first(), b.rows.last()) {
                    assert!(l.transaction.timestamp - f.transaction.timestamp < delay);
                }
                for l in &b.labels {
                    assert!(
                        seen_tx.contains(&l.transaction_id),
                        "label before its transaction"
                    );
                    published_labels.push(l.clone());
                }
                for r in &b.rows {
                    // Every label due before this transaction is out.
                    let due = stream()
                        .iter()
                        .filter_map(|x| x.chargeback(delay))
                        .filter(|l| l.labeled_at < r.transaction.timestamp)
                        .count();
                    let out_already = published_labels
                        .iter()
                        .filter(|l| l.labeled_at < r.transaction.timestamp)
                        .count();
                    assert_eq!(due, out_already);
                    seen_tx.insert(r.transaction.transaction_id);
                }
            }
            assert_eq!(seen_tx.len(), 100);
            assert_eq!(published_labels.len(), 34);
            assert!(
                published_labels
                    .windows(2)
                    .all(|w| w[0].labeled_at <= w[1].labeled_at)
            );
        }
    }

    #[test]
    fn big_batches_when_the_delay_allows() {
        let out: Vec<Batch> = batches(stream(), TimeDelta::days(1), 40).collect();
        let sizes: Vec<usize> = out.iter().map(|b| b.rows.len()).collect();
        assert_eq!(sizes, [40, 40, 20, 0]);
        assert_eq!(out[3].labels.len(), 34);
        assert!(batches(Vec::new(), TimeDelta::days(1), 40).next().is_none());
    }

    #[test]
    fn sorting_keeps_the_file_order_of_equal_times() {
        let mut rows = vec![row(5, false), row(1, false), row(5, true), row(0, false)];
        assert!(!in_time_order(&rows));
        sort_by_time(&mut rows);
        assert!(in_time_order(&rows));
        let order: Vec<(&str, Option<bool>)> = rows
            .iter()
            .map(|r| (r.original_id.as_str(), r.is_fraud))
            .collect();
        assert_eq!(
            order,
            [
                ("0", Some(false)),
                ("1", Some(false)),
                ("5", Some(false)),
                ("5", Some(true))
            ]
        );
    }
}
