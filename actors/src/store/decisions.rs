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

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, Utc};
    use uuid::Uuid;

    use super::*;
    use crate::store::sqlite_url;

    /// More alerts than one statement may bind (10 columns each: SQLite
    /// takes 32,766 parameters, PostgreSQL 65,535), as a Kafka backlog
    /// scored at once can make.
    #[actix_rt::test]
    async fn a_batch_larger_than_one_statement_is_stored_whole() {
        const N: usize = 7_000;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&sqlite_url(dir.path())).await.unwrap();
        let start = Utc::now();
        let transactions: Vec<Transaction> = (0..N)
            .map(|i| {
                let at = start + TimeDelta::milliseconds(i as i64);
                Transaction::new(Uuid::new_v4(), format!("u{}", i % 97), "m1", 10.0, at)
            })
            .collect();
        let scores: Vec<Scored> = transactions
            .iter()
            .map(|t| Scored {
                transaction_id: t.transaction_id,
                user_id: t.user_id.clone(),
                fraud_probability: 0.5,
                anomaly_score: 0.5,
                decision: Decision::Review,
                risk_factors: Vec::new(),
                model_version: 1,
                latency_ms: 0.01,
                scored_at: Utc::now(),
            })
            .collect();
        let features: Vec<(&Transaction, FeatureVector)> = transactions
            .iter()
            .map(|t| (t, FeatureVector::default()))
            .collect();
        let record = DecisionRecord {
            raw: Some(RawEvents {
                transactions: &transactions,
                source: "api",
                original_ids: &[],
            }),
            features: &features,
            scores: &scores,
        };
        let alerts = store.record_decisions(record).await.unwrap();
        assert_eq!(alerts.len(), N);
        assert_eq!(store.count_raw_events().await.unwrap(), N as u64);
        assert_eq!(store.count_feature_rows().await.unwrap(), N as u64);
        // Stored again (a redelivery): nothing new.
        assert!(store.record_decisions(record).await.unwrap().is_empty());
        assert_eq!(store.count_raw_events().await.unwrap(), N as u64);
    }
}
