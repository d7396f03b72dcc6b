//! Reading the stored history back as transactions and labels: the input
//! of the offline feature path and of a restarted feature engine.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;
use vigil_core::features::HistoryEvent;
use vigil_core::{Channel, Label, Transaction};

use super::Store;
use super::entity::{label, raw_event, transaction_feature};

/// Which transactions to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryScope {
    /// Every stored transaction (offline rebuild, training).
    All,
    /// Only transactions that already have a feature row: exactly what the
    /// online feature engine had processed.
    Featurized,
}

impl Store {
    /// Transactions with event time after `since` (all when `None`) and
    /// labels labelled after it, as one list of history events.
    pub async fn history(
        &self,
        since: Option<DateTime<Utc>>,
        scope: HistoryScope,
    ) -> Result<Vec<HistoryEvent>, DbErr> {
        let mut query = raw_event::Entity::find()
            .order_by_asc(raw_event::Column::EventTime)
            .order_by_asc(raw_event::Column::TransactionId);
        if let Some(since) = since {
            query = query.filter(raw_event::Column::EventTime.gt(since));
        }
        let raw = query.all(&self.db).await?;
        let keep = match scope {
            HistoryScope::All => None,
            HistoryScope::Featurized => Some(self.featurized_since(since).await?),
        };
        let mut events: Vec<HistoryEvent> = raw
            .into_iter()
            .filter(|r| keep.as_ref().is_none_or(|k| k.contains(&r.transaction_id)))
            .map(|r| HistoryEvent::Transaction(transaction(r)))
            .collect();
        let mut labels = label::Entity::find().order_by_asc(label::Column::LabeledAt);
        if let Some(since) = since {
            labels = labels.filter(label::Column::LabeledAt.gt(since));
        }
        events.extend(labels.all(&self.db).await?.into_iter().map(|l| {
            HistoryEvent::Label(Label {
                label_id: l.label_id,
                transaction_id: l.transaction_id,
                is_fraud: l.is_fraud,
                source: l.source,
                labeled_at: l.labeled_at,
            })
        }));
        Ok(events)
    }

    /// Event time of the newest transaction with a feature row.
    pub async fn newest_featurized_time(&self) -> Result<Option<DateTime<Utc>>, DbErr> {
        transaction_feature::Entity::find()
            .select_only()
            .column(transaction_feature::Column::EventTime)
            .order_by_desc(transaction_feature::Column::EventTime)
            .into_tuple()
            .one(&self.db)
            .await
    }

    async fn featurized_since(&self, since: Option<DateTime<Utc>>) -> Result<HashSet<Uuid>, DbErr> {
        let mut query = transaction_feature::Entity::find()
            .select_only()
            .column(transaction_feature::Column::TransactionId);
        if let Some(since) = since {
            query = query.filter(transaction_feature::Column::EventTime.gt(since));
        }
        Ok(query
            .into_tuple()
            .all(&self.db)
            .await?
            .into_iter()
            .collect())
    }
}

/// The transaction a raw event row holds.
fn transaction(r: raw_event::Model) -> Transaction {
    Transaction {
        transaction_id: r.transaction_id,
        user_id: r.user_id,
        merchant_id: r.merchant_id,
        merchant_category: r.merchant_category,
        amount: r.amount,
        currency: r.currency,
        country: r.country,
        device_id: r.device_id,
        channel: r.channel.as_deref().and_then(Channel::parse),
        timestamp: r.event_time,
    }
}
