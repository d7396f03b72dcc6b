//! What the feature engine counted as fraud, kept in
//! `transaction_features.fraud_known_at`: a label finds its transaction's
//! merchant and time there (the online state keeps no book of
//! transactions), and learns whether its transaction is already known as
//! fraud, so that repeated and redelivered labels count once.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};
use uuid::Uuid;
use vigil_core::Label;

use super::Store;
use super::entity::{label, transaction_feature::Column, transaction_feature::Entity};

/// Ids per query: well below both backends' bound-parameter limits.
const CHUNK: usize = 500;

/// A featurized transaction as a label needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelTarget {
    pub user_id: String,
    pub merchant_id: String,
    pub event_time: DateTime<Utc>,
    /// Since when it is counted as fraud, if it is.
    pub fraud_known_at: Option<DateTime<Utc>>,
}

impl Store {
    /// The featurized transactions among `ids`, by id (a primary-key lookup).
    pub async fn label_targets(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, LabelTarget>, DbErr> {
        let mut out = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            type Row = (Uuid, String, String, DateTime<Utc>, Option<DateTime<Utc>>);
            let rows: Vec<Row> = Entity::find()
                .select_only()
                .columns([
                    Column::TransactionId,
                    Column::UserId,
                    Column::MerchantId,
                    Column::EventTime,
                    Column::FraudKnownAt,
                ])
                .filter(Column::TransactionId.is_in(chunk.iter().copied()))
                .into_tuple()
                .all(&self.db)
                .await?;
            out.extend(rows.into_iter().map(
                |(id, user_id, merchant_id, event_time, fraud_known_at)| {
                    (
                        id,
                        LabelTarget {
                            user_id,
                            merchant_id,
                            event_time,
                            fraud_known_at,
                        },
                    )
                },
            ));
        }
        Ok(out)
    }

    /// Records that the feature engine counts these transactions as fraud
    /// since the given times, in one database transaction. A transaction
    /// known earlier keeps its earlier time.
    pub async fn record_fraud_known(&self, known: &[(Uuid, DateTime<Utc>)]) -> Result<(), DbErr> {
        if known.is_empty() {
            return Ok(());
        }
        let txn = self.db.begin().await?;
        for (id, at) in known {
            Entity::update_many()
                .col_expr(Column::FraudKnownAt, Expr::value(*at))
                .filter(Column::TransactionId.eq(*id))
                .filter(
                    Column::FraudKnownAt
                        .is_null()
                        .or(Column::FraudKnownAt.gt(*at)),
                )
                .exec(&txn)
                .await?;
        }
        txn.commit().await
    }

    /// Which of `ids` already have a feature row.
    pub async fn featurized_among(&self, ids: &[Uuid]) -> Result<HashSet<Uuid>, DbErr> {
        let mut out = HashSet::new();
        for chunk in ids.chunks(CHUNK) {
            let found: Vec<Uuid> = Entity::find()
                .select_only()
                .column(Column::TransactionId)
                .filter(Column::TransactionId.is_in(chunk.iter().copied()))
                .into_tuple()
                .all(&self.db)
                .await?;
            out.extend(found);
        }
        Ok(out)
    }

    /// Fraud labels stored but not counted by the feature engine yet (a
    /// crash between the label's store write and its count), oldest first:
    /// their transaction is featurized and not known as fraud that early.
    pub async fn uncounted_fraud_labels(&self) -> Result<Vec<Label>, DbErr> {
        let rows = label::Entity::find()
            .filter(label::Column::IsFraud.eq(true))
            .filter(Expr::cust(
                "EXISTS (SELECT 1 FROM transaction_features f \
                 WHERE f.transaction_id = labels.transaction_id \
                 AND (f.fraud_known_at IS NULL OR f.fraud_known_at > labels.labeled_at))",
            ))
            .order_by_asc(label::Column::LabeledAt)
            .order_by_asc(label::Column::LabelId)
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(super::history::label).collect())
    }

    /// Sets every transaction's `fraud_known_at` from the stored labels (the
    /// offline rebuild, which counts every label, does the same).
    pub async fn reset_fraud_known(&self) -> Result<(), DbErr> {
        let db = &self.db;
        db.execute_unprepared("UPDATE transaction_features SET fraud_known_at = NULL")
            .await?;
        db.execute_unprepared(migration::FRAUD_KNOWN_FROM_LABELS)
            .await?;
        Ok(())
    }
}
