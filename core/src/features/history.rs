//! The offline path: a whole history through the same state as online.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::labels::{FraudLabel, LabelResolver};
use super::{FeatureConfig, FeatureState, FeatureVector};
use crate::transaction::{Label, Transaction};

/// One event of a history: a transaction, a label as received, or a fraud
/// label already resolved against its transaction (as a store that keeps
/// what the feature path counted gives it back).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum HistoryEvent {
    Transaction(Transaction),
    Label(Label),
    Fraud(FraudLabel),
}

impl HistoryEvent {
    /// The transaction's timestamp or the label's `labeled_at`.
    pub fn time(&self) -> DateTime<Utc> {
        match self {
            HistoryEvent::Transaction(t) => t.timestamp,
            HistoryEvent::Label(l) => l.labeled_at,
            HistoryEvent::Fraud(f) => f.labeled_at,
        }
    }

    /// Transactions before labels at equal times, so that a label given at
    /// the very instant of its transaction finds the transaction.
    fn rank(&self) -> u8 {
        match self {
            HistoryEvent::Transaction(_) => 0,
            HistoryEvent::Label(_) | HistoryEvent::Fraud(_) => 1,
        }
    }
}

/// Sorts events into the order [`compute_history`] processes them:
/// non-decreasing time, transactions before labels at equal times,
/// otherwise stable. Feeding this order to [`FeatureState`] online gives
/// the same vectors.
pub fn order_history(events: &mut [HistoryEvent]) {
    events.sort_by_key(|e| (e.time(), e.rank()));
}

/// Computes the features of a whole history with the same code as the
/// online path: one entry per transaction, in processing order.
pub fn compute_history(
    config: &FeatureConfig,
    events: impl IntoIterator<Item = HistoryEvent>,
) -> Vec<(Uuid, FeatureVector)> {
    let mut events: Vec<HistoryEvent> = events.into_iter().collect();
    order_history(&mut events);
    let mut state = FeatureState::new(config.clone());
    state.replay(&events)
}

impl FeatureState {
    /// Feeds a history, in the order given, to the state: the features of
    /// its transactions, in that order. Labels are resolved against the
    /// history's own transactions (a label whose transaction is not in it
    /// changes nothing). The offline path and every rebuild of the online
    /// state go through here.
    pub fn replay(&mut self, events: &[HistoryEvent]) -> Vec<(Uuid, FeatureVector)> {
        let mut resolver = LabelResolver::for_history(events);
        let mut out = Vec::with_capacity(events.len());
        for event in events {
            match event {
                HistoryEvent::Transaction(t) => out.push((t.transaction_id, self.process(t))),
                HistoryEvent::Label(l) => {
                    if let Some(fraud) = resolver.resolve(l) {
                        self.observe_fraud(&fraud);
                    }
                }
                HistoryEvent::Fraud(f) => self.observe_fraud(f),
            }
        }
        out
    }
}
