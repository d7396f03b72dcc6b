//! Reads for training and scoring: labelled feature rows, one stored
//! transaction with its features.

use std::collections::HashMap;

use sea_orm::{DbErr, EntityTrait, QueryOrder};
use uuid::Uuid;
use vigil_core::Transaction;
use vigil_core::features::FeatureVector;
use vigil_core::model::dataset::LabeledRow;

use super::Store;
use super::entity::{label, raw_event, transaction_feature};
use super::features::vector;

impl Store {
    /// Every transaction with features, labelled by its newest label (an
    /// analyst's verdict can overturn a chargeback, and the reverse);
    /// unlabelled transactions count as legitimate.
    pub async fn labeled_rows(&self) -> Result<Vec<LabeledRow>, DbErr> {
        let labels = label::Entity::find()
            .order_by_asc(label::Column::LabeledAt)
            .all(&self.db)
            .await?;
        let verdicts: HashMap<Uuid, bool> = labels
            .into_iter()
            .map(|l| (l.transaction_id, l.is_fraud))
            .collect();
        let rows = transaction_feature::Entity::find()
            .order_by_asc(transaction_feature::Column::EventTime)
            .order_by_asc(transaction_feature::Column::TransactionId)
            .all(&self.db)
            .await?;
        Ok(rows
            .iter()
            .map(|r| LabeledRow {
                transaction_id: r.transaction_id,
                user_id: r.user_id.clone(),
                time: r.event_time,
                features: vector(r),
                is_fraud: verdicts.get(&r.transaction_id).copied().unwrap_or(false),
            })
            .collect())
    }

    /// A stored transaction and its features, when both exist.
    pub async fn featurized_transaction(
        &self,
        id: Uuid,
    ) -> Result<Option<(Transaction, FeatureVector)>, DbErr> {
        let Some(features) = transaction_feature::Entity::find_by_id(id)
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let Some(raw) = raw_event::Entity::find_by_id(id).one(&self.db).await? else {
            return Ok(None);
        };
        let transaction: Transaction = serde_json::from_value(raw.payload)
            .map_err(|e| DbErr::Json(format!("raw event {id}: {e}")))?;
        Ok(Some((transaction, vector(&features))))
    }

    /// Whether a transaction is stored.
    pub async fn has_transaction(&self, id: Uuid) -> Result<bool, DbErr> {
        Ok(raw_event::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .is_some())
    }
}
