//! The Decider's group commit: the raw events, features, scores and
//! alerts of a batch in one database transaction, so that a batch is
//! stored whole or not at all and costs one commit instead of four.

use sea_orm::{DbErr, TransactionTrait};
use vigil_core::Transaction;
use vigil_core::features::FeatureVector;
use vigil_core::model::Decision;

use super::entity::fraud_alert;
use super::features::OnExisting;
use super::{Store, alerts, features, raw_events, scores};
use crate::messages::Scored;

/// The transactions of a batch as received, for the audit log.
#[derive(Debug, Clone, Copy)]
pub struct RawEvents<'a> {
    pub transactions: &'a [Transaction],
    /// Where they came from (`EventSource::as_str`).
    pub source: &'a str,
    /// Their ids in a replayed file, in the same order, or empty.
    pub original_ids: &'a [String],
}

/// Everything the Decider stores of one batch.
#[derive(Debug, Clone, Copy)]
pub struct DecisionRecord<'a> {
    /// None when another consumer keeps the audit log (Kafka's raw group).
    pub raw: Option<RawEvents<'a>>,
    /// The features computed for the batch (kept if already stored).
    pub features: &'a [(&'a Transaction, FeatureVector)],
    /// The scores made, REVIEW and BLOCK ones opening alerts.
    pub scores: &'a [Scored],
}

impl Store {
    /// Stores a decided batch in one database transaction; every write is
    /// idempotent, so a batch stored again adds nothing. Returns the
    /// alerts that are new.
    pub async fn record_decisions(
        &self,
        record: DecisionRecord<'_>,
    ) -> Result<Vec<fraud_alert::Model>, DbErr> {
        let txn = self.writer.begin().await?;
        if let Some(raw) = record.raw {
            raw_events::insert_raw_events(&txn, raw.transactions, raw.source, raw.original_ids)
                .await?;
        }
        features::insert_features(&txn, record.features, OnExisting::Keep).await?;
        scores::insert_scores(&txn, record.scores).await?;
        let alerting: Vec<&Scored> = record
            .scores
            .iter()
            .filter(|s| s.decision != Decision::Approve)
            .collect();
        let new = alerts::insert_alerts(&txn, &alerting).await?;
        txn.commit().await?;
        Ok(new)
    }
}
