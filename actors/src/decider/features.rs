//! The feature part of the Decider: the state's updates, the
//! detection of redelivered transactions, fraud labels, and the state's
//! rebuild from the store.
//!
//! A transaction already featurized is skipped (redelivery): the state
//! names the suspects (not newer than their user, or beyond the lateness)
//! and the store says which of them have a feature row. A restarted Decider
//! rebuilds its state from exactly the transactions that have feature rows
//! and the fraud it had counted, so features computed across a restart
//! equal those computed without one.
//!
//! A label finds its transaction's merchant and time in the store
//! (`transaction_features`, a primary-key lookup: labels are about 1 % of
//! events) and whether it is already known as fraud; what it changes is
//! written (`fraud_known_at`) before the state counts it.
//!
//! On Kafka, each process owns some partitions of the transactions topic:
//! after a rebalance the Decider keeps (and rebuilds from the store) the
//! state of the users of its partitions only.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use vigil_core::Transaction;
use vigil_core::features::{
    FeatureConfig, FeatureState, FeatureVector, HistoryEvent, LabelEffect, order_history,
};

use super::Decider;
use crate::bus::kafka::partition_for;
use crate::error::ActorError;
use crate::messages::{LabelBatch, OwnPartitions};
use crate::store::{HistoryScope, OnExisting, Store};
use crate::supervisor::Processes;

/// Measuring the state's size walks every user: not on every batch.
const SIZE_REPORT_EVERY: Duration = Duration::from_secs(1);

impl OwnPartitions {
    /// Whether this process owns `user_id`'s partition.
    fn owns(&self, user_id: &str) -> bool {
        self.partitions
            .contains(&partition_for(user_id.as_bytes(), self.partition_count))
    }
}

/// The feature state a fresh Decider needs: the processed transactions (of the
/// owned users, when `owned` is given) and the fraud counted of them,
/// within the longest look-back of any feature.
pub async fn rebuild_state(
    store: &Store,
    config: FeatureConfig,
    owned: Option<&OwnPartitions>,
) -> Result<FeatureState, ActorError> {
    let mut state = FeatureState::new(config.clone());
    let Some(newest) = store.newest_featurized_time().await? else {
        return Ok(state);
    };
    // Windows look back at most 30 whole days before the day of a
    // transaction, merchant fraud rates a label delay further, and an
    // accepted transaction is at most the lateness older than the newest.
    let look_back = TimeDelta::days(32) + config.label_delay + config.allowed_lateness;
    let since = newest - look_back;
    let mut history = store.history(Some(since), HistoryScope::Featurized).await?;
    let frauds = store.counted_fraud(since).await?;
    let owns = |user: &str| owned.is_none_or(|o| o.owns(user));
    history.retain(|e| match e {
        HistoryEvent::Transaction(t) => owns(&t.user_id),
        _ => true,
    });
    history.extend(
        frauds
            .into_iter()
            .filter(|(user, _)| owns(user))
            .map(|(_, fraud)| HistoryEvent::Fraud(fraud)),
    );
    order_history(&mut history);
    state.replay(&history);
    Ok(state)
}

impl Decider {
    /// Computes the features of the transactions not processed before, in
    /// order, updating the state. Returns them, and the redelivered ones.
    pub(super) async fn compute_features<'a>(
        &mut self,
        transactions: &'a [Transaction],
    ) -> Result<(Vec<(&'a Transaction, FeatureVector)>, Vec<&'a Transaction>), ActorError> {
        let stored = self.already_featurized(transactions).await?;
        let mut rows = Vec::with_capacity(transactions.len());
        let mut redelivered = Vec::new();
        let mut in_batch = HashSet::with_capacity(transactions.len());
        for t in transactions {
            // A redelivered transaction is already in the state (and its
            // row in the store): counting it again would skew its user's
            // and merchant's windows.
            if stored.contains(&t.transaction_id) || !in_batch.insert(t.transaction_id) {
                redelivered.push(t);
                continue;
            }
            let started = Instant::now();
            let features = self.state.process(t);
            self.services
                .metrics
                .feature_latency
                .observe(started.elapsed().as_secs_f64());
            rows.push((t, features));
        }
        Ok((rows, redelivered))
    }

    /// Counts the transactions handled (and, keeping the audit log, stored).
    pub(super) fn count_events(&self, n: usize) {
        let metrics = &self.services.metrics;
        metrics.feature_consumer_messages.inc_by(n as u64);
        if self.settings.keeps_audit_log {
            metrics.stream_consumer_messages.inc_by(n as u64);
        }
    }

    /// Sets `fraud_feature_state_bytes`, unless it was set within
    /// [`SIZE_REPORT_EVERY`].
    pub(super) fn report_size(&mut self) {
        if self
            .size_reported_at
            .is_some_and(|at| at.elapsed() < SIZE_REPORT_EVERY)
        {
            return;
        }
        let memory = self.state.memory();
        let metrics = &self.services.metrics;
        let gauge = |bytes: usize| i64::try_from(bytes).unwrap_or(i64::MAX);
        metrics.feature_state_bytes.set(gauge(memory.total()));
        for (part, bytes) in memory.parts() {
            metrics
                .feature_state_part_bytes
                .with_label_values(&[part])
                .set(gauge(bytes));
        }
        self.size_reported_at = Some(Instant::now());
    }

    /// Those of `transactions` the state may have processed already and the
    /// store has a feature row for. Only suspects are looked up: in an
    /// in-order stream, none but a user's same-millisecond transactions.
    async fn already_featurized(
        &self,
        transactions: &[Transaction],
    ) -> Result<HashSet<uuid::Uuid>, ActorError> {
        let suspects: Vec<uuid::Uuid> = transactions
            .iter()
            .filter(|t| self.state.may_have_processed(t))
            .map(|t| t.transaction_id)
            .collect();
        if suspects.is_empty() {
            return Ok(HashSet::new());
        }
        Ok(self.services.store.featurized_among(&suspects).await?)
    }

    /// Whether this process owns `user_id` (every user when not on Kafka).
    fn owns(&self, user_id: &str) -> bool {
        self.ownership
            .lock()
            .as_ref()
            .is_none_or(|o| o.owns(user_id))
    }

    /// Those redelivered transactions whose stored features were never
    /// scored, with those features (none while no model is served).
    pub(super) async fn still_unscored(
        &self,
        redelivered: &[&Transaction],
    ) -> Result<Vec<(Transaction, FeatureVector)>, ActorError> {
        if redelivered.is_empty() || self.serving.is_none() {
            return Ok(Vec::new());
        }
        let ids: Vec<_> = redelivered.iter().map(|t| t.transaction_id).collect();
        let owed = self.services.store.unscored_features(&ids).await?;
        Ok(redelivered
            .iter()
            .filter_map(|t| owed.get(&t.transaction_id).map(|f| ((*t).clone(), *f)))
            .collect())
    }
}

impl Processes<OwnPartitions> for Decider {
    type Reply = u64;

    async fn handle(&mut self, owned: &OwnPartitions) -> Result<u64, ActorError> {
        let config = self.settings.features.clone();
        self.state = rebuild_state(&self.services.store, config, Some(owned)).await?;
        *self.ownership.lock() = Some(owned.clone());
        Ok(self.state.active_users() as u64)
    }
}

impl Processes<LabelBatch> for Decider {
    type Reply = u64;

    async fn handle(&mut self, batch: &LabelBatch) -> Result<u64, ActorError> {
        let ids: Vec<uuid::Uuid> = batch
            .labels
            .iter()
            .filter(|l| l.is_fraud)
            .map(|l| l.transaction_id)
            .collect();
        if ids.is_empty() {
            return Ok(0);
        }
        // A label whose transaction has no feature row yet changes nothing,
        // as a transaction not seen cannot count as fraud.
        let mut targets = self.services.store.label_targets(&ids).await?;
        let mut counted = Vec::new();
        for label in &batch.labels {
            let Some(target) = targets.get_mut(&label.transaction_id) else {
                continue;
            };
            if !self.owns(&target.user_id) {
                continue;
            }
            let effect = LabelEffect::of(label, target.fraud_known_at);
            if let Some(fraud) = effect.resolve(label, &target.merchant_id, target.event_time) {
                target.fraud_known_at = Some(label.labeled_at);
                counted.push(fraud);
            }
        }
        let known: Vec<_> = counted
            .iter()
            .map(|f| (f.transaction_id, f.labeled_at))
            .collect();
        // Stored first: a crash in between leaves the label to be counted
        // again (recovery, redelivery), never counted twice.
        self.services.store.record_fraud_known(&known).await?;
        for fraud in &counted {
            self.state.observe_fraud(fraud);
        }
        Ok(counted.len() as u64)
    }
}

/// What an offline rebuild did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebuildReport {
    pub transactions: usize,
    pub labels: usize,
}

/// The offline path: recomputes the features of every stored transaction
/// from `raw_events` and `labels` with the online code, and overwrites the
/// stored rows (`vigil features rebuild`).
pub async fn rebuild_all(
    store: &Store,
    config: &FeatureConfig,
) -> Result<RebuildReport, ActorError> {
    let history = store.history(None, HistoryScope::All).await?;
    let labels = history
        .iter()
        .filter(|e| matches!(e, HistoryEvent::Label(_)))
        .count();
    let transactions: std::collections::HashMap<_, _> = history
        .iter()
        .filter_map(|e| match e {
            HistoryEvent::Transaction(t) => Some((t.transaction_id, t.clone())),
            _ => None,
        })
        .collect();
    let computed = vigil_core::features::compute_history(config, history);
    let rows: Vec<(&Transaction, FeatureVector)> = computed
        .iter()
        .filter_map(|(id, f)| transactions.get(id).map(|t| (t, *f)))
        .collect();
    store.insert_features(&rows, OnExisting::Replace).await?;
    // The rebuild counted every stored label: so does the engine from now on.
    store.reset_fraud_known().await?;
    Ok(RebuildReport {
        transactions: rows.len(),
        labels,
    })
}
