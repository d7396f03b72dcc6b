//! Reading the stored history back: the input of the offline feature path
//! (transactions and labels) and of a restarted feature engine
//! (transactions and what it had counted as fraud).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;
use vigil_core::features::{FraudLabel, HistoryEvent};
use vigil_core::{Channel, Label, Transaction};

use super::Store;
use super::entity::{label, raw_event, transaction_feature};

/// Which transactions to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryScope {
    /// Every stored transaction (offline rebuild, training).
    All,
    /// Only transactions that already have a feature row (exactly what the
    /// online engine had processed), without labels: what the engine
    /// counted of them is [`Store::counted_fraud`].
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
        if scope == HistoryScope::All {
            events.extend(self.labels_since(since).await?);
        }
        Ok(events)
    }

    /// Labels labelled after `since` (all when `None`).
    async fn labels_since(&self, since: Option<DateTime<Utc>>) -> Result<Vec<HistoryEvent>, DbErr> {
        let mut labels = label::Entity::find().order_by_asc(label::Column::LabeledAt);
        if let Some(since) = since {
            labels = labels.filter(label::Column::LabeledAt.gt(since));
        }
        Ok(labels
            .all(&self.db)
            .await?
            .into_iter()
            .map(|l| HistoryEvent::Label(self::label(l)))
            .collect())
    }

    /// The fraud the feature engine counted (`fraud_known_at`), of
    /// transactions after `since`, with their users.
    pub async fn counted_fraud(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(String, FraudLabel)>, DbErr> {
        use transaction_feature::Column;
        /// (transaction, user, merchant, event time, fraud known at)
        type Row = (Uuid, String, String, DateTime<Utc>, DateTime<Utc>);
        let rows: Vec<Row> = transaction_feature::Entity::find()
            .select_only()
            .columns([
                Column::TransactionId,
                Column::UserId,
                Column::MerchantId,
                Column::EventTime,
                Column::FraudKnownAt,
            ])
            .filter(Column::FraudKnownAt.is_not_null())
            .filter(Column::EventTime.gt(since))
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(
                |(transaction_id, user, merchant_id, transaction_time, labeled_at)| {
                    let fraud = FraudLabel {
                        transaction_id,
                        merchant_id,
                        transaction_time,
                        labeled_at,
                        replaces: None,
                    };
                    (user, fraud)
                },
            )
            .collect())
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

/// The label a row holds.
pub(super) fn label(l: label::Model) -> Label {
    Label {
        label_id: l.label_id,
        transaction_id: l.transaction_id,
        is_fraud: l.is_fraud,
        source: l.source,
        labeled_at: l.labeled_at,
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
