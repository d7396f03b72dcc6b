//! The offline path: a whole history through the same state as online.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{FeatureConfig, FeatureState, FeatureVector};
use crate::transaction::{Label, Transaction};

/// One event of a history: a transaction or a label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum HistoryEvent {
    Transaction(Transaction),
    Label(Label),
}

impl HistoryEvent {
    /// The transaction's timestamp or the label's `labeled_at`.
    pub fn time(&self) -> DateTime<Utc> {
        match self {
            HistoryEvent::Transaction(t) => t.timestamp,
            HistoryEvent::Label(l) => l.labeled_at,
        }
    }

    /// Transactions before labels at equal times, so that a label given at
    /// the very instant of its transaction finds the transaction.
    fn rank(&self) -> u8 {
        match self {
            HistoryEvent::Transaction(_) => 0,
            HistoryEvent::Label(_) => 1,
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
    let mut out = Vec::with_capacity(events.len());
    for event in &events {
        if let (Some(features), HistoryEvent::Transaction(t)) = (state.apply(event), event) {
            out.push((t.transaction_id, features));
        }
    }
    out
}

impl FeatureState {
    /// Feeds one history event to the state: a transaction's features, or
    /// None for a label. The offline path and every rebuild of the online
    /// state go through here.
    pub fn apply(&mut self, event: &HistoryEvent) -> Option<FeatureVector> {
        match event {
            HistoryEvent::Transaction(t) => Some(self.process(t)),
            HistoryEvent::Label(l) => {
                self.observe_label(l);
                None
            }
        }
    }
}
