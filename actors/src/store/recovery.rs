//! What a crash leaves half-done on the in-process bus, found in the store:
//! raw events stored but never featurized, features stored but never
//! scored. Start-up recovery (`crate::recovery`) hands them on again.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;
use vigil_core::Transaction;
use vigil_core::features::FeatureVector;

use super::Store;
use super::entity::{model, raw_event, transaction_feature};

impl Store {
    /// Stored transactions without a feature row, in event-time order.
    pub async fn transactions_without_features(&self) -> Result<Vec<Transaction>, DbErr> {
        let rows = raw_event::Entity::find()
            .filter(Expr::cust(
                "NOT EXISTS (SELECT 1 FROM transaction_features f \
                 WHERE f.transaction_id = raw_events.transaction_id)",
            ))
            .order_by_asc(raw_event::Column::EventTime)
            .order_by_asc(raw_event::Column::TransactionId)
            .all(&self.db)
            .await?;
        rows.into_iter()
            .map(|raw| {
                serde_json::from_value(raw.payload)
                    .map_err(|e| DbErr::Json(format!("raw event {}: {e}", raw.transaction_id)))
            })
            .collect()
    }

    /// When a model was first promoted: from then on every featurized
    /// transaction is scored (the history before it never is).
    pub async fn first_promotion(&self) -> Result<Option<DateTime<Utc>>, DbErr> {
        model::Entity::find()
            .select_only()
            .column(model::Column::PromotedAt)
            .filter(model::Column::PromotedAt.is_not_null())
            .order_by_asc(model::Column::PromotedAt)
            .into_tuple::<Option<DateTime<Utc>>>()
            .one(&self.db)
            .await
            .map(Option::flatten)
    }

    /// Transactions featurized since `since` that have no score, with
    /// their stored features, in event-time order.
    pub async fn unscored_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(Transaction, FeatureVector)>, DbErr> {
        let ids: Vec<Uuid> = transaction_feature::Entity::find()
            .select_only()
            .column(transaction_feature::Column::TransactionId)
            .filter(transaction_feature::Column::ComputedAt.gte(since))
            .filter(Expr::cust(
                "NOT EXISTS (SELECT 1 FROM scores s \
                 WHERE s.transaction_id = transaction_features.transaction_id)",
            ))
            .order_by_asc(transaction_feature::Column::EventTime)
            .into_tuple()
            .all(&self.db)
            .await?;
        let mut owed = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(pair) = self.featurized_transaction(id).await? {
                owed.push(pair);
            }
        }
        Ok(owed)
    }
}
