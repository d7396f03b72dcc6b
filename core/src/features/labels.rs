//! Fraud labels on the feature path. A label names only its transaction;
//! the state needs the transaction's merchant and time to count it, and
//! keeps no book of transactions for that (it would grow with traffic).
//! So a label reaches the state *resolved*, as a [`FraudLabel`]: online the
//! feature engine looks the transaction up in the store, offline
//! [`LabelResolver`] finds it in the history being replayed.
//!
//! A transaction counts as fraud from its earliest fraud label on. Both
//! paths decide what a label changes with [`LabelEffect::of`], from the
//! label and what was known of its transaction before it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::HistoryEvent;
use crate::transaction::Label;

/// A fraud label with what the feature state needs to count it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FraudLabel {
    pub transaction_id: Uuid,
    /// The merchant of the labelled transaction.
    pub merchant_id: String,
    /// The event time of the labelled transaction.
    pub transaction_time: DateTime<Utc>,
    /// When the label became known.
    pub labeled_at: DateTime<Utc>,
    /// The labeled_at of this transaction's fraud label counted before,
    /// when this one is earlier and replaces it.
    pub replaces: Option<DateTime<Utc>>,
}

/// What a label changes for its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelEffect {
    /// Nothing: not a fraud label, or the transaction is known as fraud
    /// since this label's time or earlier (a repeat, a redelivery).
    Nothing,
    /// The transaction's first fraud label.
    First,
    /// An earlier fraud label than the one counted: the transaction counts
    /// from this one's time on.
    Earlier { replaces: DateTime<Utc> },
}

impl LabelEffect {
    /// The effect of `label` on a transaction known as fraud since
    /// `known_since` (`None`: not known as fraud).
    pub fn of(label: &Label, known_since: Option<DateTime<Utc>>) -> LabelEffect {
        match known_since {
            _ if !label.is_fraud => LabelEffect::Nothing,
            None => LabelEffect::First,
            Some(k) if label.labeled_at < k => LabelEffect::Earlier { replaces: k },
            Some(_) => LabelEffect::Nothing,
        }
    }

    /// The resolved label to give the state, if any.
    pub fn resolve(
        self,
        label: &Label,
        merchant_id: &str,
        transaction_time: DateTime<Utc>,
    ) -> Option<FraudLabel> {
        let replaces = match self {
            LabelEffect::Nothing => return None,
            LabelEffect::First => None,
            LabelEffect::Earlier { replaces } => Some(replaces),
        };
        Some(FraudLabel {
            transaction_id: label.transaction_id,
            merchant_id: merchant_id.to_owned(),
            transaction_time,
            labeled_at: label.labeled_at,
            replaces,
        })
    }
}

/// Resolves labels against the transactions of an in-memory history
/// (offline rebuild, tests). It holds the labelled transactions only, so
/// its size follows the labels, not the traffic.
#[derive(Debug, Default)]
pub struct LabelResolver {
    transactions: HashMap<Uuid, (String, DateTime<Utc>)>,
    known_since: HashMap<Uuid, DateTime<Utc>>,
}

impl LabelResolver {
    /// A resolver for the labels of `events`.
    pub fn for_history(events: &[HistoryEvent]) -> LabelResolver {
        let labelled: std::collections::HashSet<Uuid> = events
            .iter()
            .filter_map(|e| match e {
                HistoryEvent::Label(l) if l.is_fraud => Some(l.transaction_id),
                _ => None,
            })
            .collect();
        let transactions = events
            .iter()
            .filter_map(|e| match e {
                HistoryEvent::Transaction(t) if labelled.contains(&t.transaction_id) => {
                    Some((t.transaction_id, (t.merchant_id.clone(), t.timestamp)))
                }
                _ => None,
            })
            .collect();
        LabelResolver {
            transactions,
            known_since: HashMap::new(),
        }
    }

    /// The resolved fraud label to count, if `label` changes anything and
    /// its transaction is in the history.
    pub fn resolve(&mut self, label: &Label) -> Option<FraudLabel> {
        let (merchant, time) = self.transactions.get(&label.transaction_id)?;
        let known = self.known_since.get(&label.transaction_id).copied();
        let resolved = LabelEffect::of(label, known).resolve(label, merchant, *time)?;
        self.known_since
            .insert(label.transaction_id, label.labeled_at);
        Some(resolved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn label(is_fraud: bool, at: i64) -> Label {
        Label {
            label_id: Uuid::new_v4(),
            transaction_id: Uuid::from_u128(1),
            is_fraud,
            source: "test".into(),
            labeled_at: Utc.timestamp_opt(at, 0).unwrap(),
        }
    }

    #[test]
    fn the_earliest_fraud_label_counts() {
        let at = |s| Utc.timestamp_opt(s, 0).unwrap();
        assert_eq!(LabelEffect::of(&label(true, 10), None), LabelEffect::First);
        assert_eq!(
            LabelEffect::of(&label(false, 10), None),
            LabelEffect::Nothing
        );
        assert_eq!(
            LabelEffect::of(&label(true, 10), Some(at(10))),
            LabelEffect::Nothing
        );
        assert_eq!(
            LabelEffect::of(&label(true, 20), Some(at(10))),
            LabelEffect::Nothing
        );
        assert_eq!(
            LabelEffect::of(&label(true, 5), Some(at(10))),
            LabelEffect::Earlier { replaces: at(10) }
        );
    }

    #[test]
    fn the_resolver_finds_labelled_transactions_only() {
        let t = crate::transaction::Transaction::new(
            Uuid::from_u128(1),
            "u",
            "m",
            1.0,
            Utc.timestamp_opt(1, 0).unwrap(),
        );
        let other = crate::transaction::Transaction {
            transaction_id: Uuid::from_u128(2),
            ..t.clone()
        };
        let events = [
            HistoryEvent::Transaction(t),
            HistoryEvent::Transaction(other),
            HistoryEvent::Label(label(true, 10)),
        ];
        let mut r = LabelResolver::for_history(&events);
        assert_eq!(r.transactions.len(), 1);
        let first = r.resolve(&label(true, 10)).unwrap();
        assert_eq!((first.merchant_id.as_str(), first.replaces), ("m", None));
        assert!(r.resolve(&label(true, 10)).is_none(), "a repeat");
        let earlier = r.resolve(&label(true, 3)).unwrap();
        assert_eq!(earlier.replaces, Some(Utc.timestamp_opt(10, 0).unwrap()));
        let mut unknown = label(true, 1);
        unknown.transaction_id = Uuid::from_u128(9);
        assert!(r.resolve(&unknown).is_none());
    }
}
