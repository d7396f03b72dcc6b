//! `scores`: every score Vigil computed, one per transaction and model
//! version (a redelivered transaction scored again adds nothing).

use std::collections::HashMap;

use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    TryInsertResult,
};
use uuid::Uuid;

use super::Store;
use super::entity::score::{self, Column, Entity};
use crate::messages::Scored;

/// Rows per statement at most (see `statement_chunks`).
const CHUNK: usize = 512;

impl Store {
    /// The newest score (by model version) of each of `transaction_ids`
    /// that has one.
    pub async fn latest_scores(
        &self,
        transaction_ids: &[Uuid],
    ) -> Result<HashMap<Uuid, score::Model>, DbErr> {
        let mut newest: HashMap<Uuid, score::Model> = HashMap::with_capacity(transaction_ids.len());
        for chunk in transaction_ids.chunks(CHUNK) {
            let rows = Entity::find()
                .filter(Column::TransactionId.is_in(chunk.iter().copied()))
                .all(&self.db)
                .await?;
            for row in rows {
                match newest.get(&row.transaction_id) {
                    Some(kept) if kept.model_version >= row.model_version => {}
                    _ => {
                        newest.insert(row.transaction_id, row);
                    }
                }
            }
        }
        Ok(newest)
    }

    /// The newest score of a transaction (by model version).
    pub async fn latest_score(&self, transaction_id: Uuid) -> Result<Option<score::Model>, DbErr> {
        Entity::find()
            .filter(Column::TransactionId.eq(transaction_id))
            .order_by_desc(Column::ModelVersion)
            .one(&self.db)
            .await
    }
}

/// Stores scores on `db` (the Decider's database transaction), skipping
/// (transaction, model version) pairs already stored. Returns how many
/// were new.
pub(super) async fn insert_scores(
    db: &impl ConnectionTrait,
    scores: &[Scored],
) -> Result<u64, DbErr> {
    let mut inserted = 0;
    for chunk in super::statement_chunks(scores, CHUNK) {
        let rows = chunk.iter().map(|s| score::ActiveModel {
            score_id: Set(Uuid::new_v4()),
            transaction_id: Set(s.transaction_id),
            fraud_probability: Set(s.fraud_probability),
            anomaly_score: Set(s.anomaly_score),
            decision: Set(s.decision.as_str().to_owned()),
            risk_factors: Set(
                serde_json::to_value(&s.risk_factors).expect("risk factors serialize to JSON")
            ),
            model_version: Set(s.model_version),
            latency_ms: Set(s.latency_ms),
            scored_at: Set(s.scored_at),
        });
        // Idempotent on (transaction, model version), not on the
        // generated score_id.
        let result = Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([Column::TransactionId, Column::ModelVersion])
                    .do_nothing()
                    .to_owned(),
            )
            .try_insert()
            .exec_without_returning(db)
            .await?;
        if let TryInsertResult::Inserted(n) = result {
            inserted += n;
        }
    }
    Ok(inserted)
}
