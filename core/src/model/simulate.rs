//! Labelled rows from the synthetic generator, computed with the online
//! feature code: what tests and benchmarks train on without a store.

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};

use super::dataset::LabeledRow;
use crate::features::{FeatureConfig, HistoryEvent, compute_history};
use crate::synth::{Generator, SynthConfig, SynthEvent};

/// `days` of the population's natural traffic from `start`, as labelled
/// feature rows in time order. A row is fraud when a fraud label for it was
/// generated within the window, as in the store.
pub fn simulate(
    synth: &SynthConfig,
    features: &FeatureConfig,
    start: DateTime<Utc>,
    days: i64,
) -> Vec<LabeledRow> {
    let end = start + TimeDelta::days(days);
    let mut generator = Generator::new(synth.clone(), start, synth.natural_rate_per_sec());
    let mut events = Vec::new();
    let mut frauds = HashSet::new();
    while let Some(event) = generator.next_before(end) {
        match event {
            SynthEvent::Transaction { transaction, .. } => {
                events.push(HistoryEvent::Transaction(transaction));
            }
            SynthEvent::Label(label) => {
                if label.is_fraud {
                    frauds.insert(label.transaction_id);
                }
                events.push(HistoryEvent::Label(label));
            }
        }
    }
    let transactions: std::collections::HashMap<_, _> = events
        .iter()
        .filter_map(|e| match e {
            HistoryEvent::Transaction(t) => {
                Some((t.transaction_id, (t.user_id.clone(), t.timestamp)))
            }
            HistoryEvent::Label(_) | HistoryEvent::Fraud(_) => None,
        })
        .collect();
    compute_history(features, events)
        .into_iter()
        .map(|(id, features)| {
            let (user_id, time) = transactions[&id].clone();
            LabeledRow {
                transaction_id: id,
                user_id,
                time,
                features,
                is_fraud: frauds.contains(&id),
            }
        })
        .collect()
}
