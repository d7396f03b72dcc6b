//! Reads for the offline evaluation (`vigil evaluate`): every featurized
//! transaction keyed by the evaluated entity, every label with the time it
//! became known, and the ids transactions had in a replayed file.

use std::collections::HashMap;

use futures::TryStreamExt;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;
use vigil_core::model::prequential::{EvalRow, KnownLabel};

use super::Store;
use super::entity::{label, raw_event, transaction_feature};
use super::features::vector;

/// Whose Card Precision is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    User,
    Merchant,
}

impl Store {
    /// Every transaction with features, oldest first. Streamed and
    /// converted row by row: collecting millions of full entity models
    /// first took 9 GB for 2 million rows.
    pub async fn evaluation_rows(&self, entity: Entity) -> Result<Vec<EvalRow>, DbErr> {
        let mut stream = transaction_feature::Entity::find()
            .order_by_asc(transaction_feature::Column::EventTime)
            .order_by_asc(transaction_feature::Column::TransactionId)
            .stream(&self.db)
            .await?;
        let mut rows = Vec::new();
        while let Some(r) = stream.try_next().await? {
            rows.push(EvalRow {
                transaction_id: r.transaction_id,
                features: vector(&r),
                time: r.event_time,
                entity: match entity {
                    Entity::User => r.user_id,
                    Entity::Merchant => r.merchant_id,
                },
            });
        }
        Ok(rows)
    }

    /// Every stored label.
    pub async fn known_labels(&self) -> Result<Vec<KnownLabel>, DbErr> {
        let labels = label::Entity::find()
            .select_only()
            .columns([
                label::Column::TransactionId,
                label::Column::IsFraud,
                label::Column::LabeledAt,
            ])
            .into_tuple::<(Uuid, bool, chrono::DateTime<chrono::Utc>)>()
            .all(&self.db)
            .await?;
        Ok(labels
            .into_iter()
            .map(|(transaction_id, is_fraud, labeled_at)| KnownLabel {
                transaction_id,
                is_fraud,
                labeled_at,
            })
            .collect())
    }

    /// The original ids of replayed transactions.
    pub async fn original_ids(&self) -> Result<HashMap<Uuid, String>, DbErr> {
        let ids = raw_event::Entity::find()
            .select_only()
            .columns([
                raw_event::Column::TransactionId,
                raw_event::Column::OriginalId,
            ])
            .filter(raw_event::Column::OriginalId.is_not_null())
            .into_tuple::<(Uuid, String)>()
            .all(&self.db)
            .await?;
        Ok(ids.into_iter().collect())
    }
}
