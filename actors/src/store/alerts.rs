//! `fraud_alerts`: one alert per transaction decided REVIEW or BLOCK.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use super::{Store, statement_chunks};

/// Rows per statement at most: 10 columns × 512 rows stays below the
/// backends' limits on bound parameters (PostgreSQL's is 65,535).
const CHUNK: usize = 512;
use super::entity::fraud_alert::{self, Column, Entity};
use crate::messages::Scored;

/// Status of a new alert.
pub const OPEN: &str = "open";

/// Which alerts to list.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    pub decision: Option<String>,
    pub status: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub limit: u64,
}

impl Store {
    /// Alerts matching `filter`, newest first.
    pub async fn alerts(&self, filter: &AlertFilter) -> Result<Vec<fraud_alert::Model>, DbErr> {
        let mut query = Entity::find();
        if let Some(decision) = &filter.decision {
            query = query.filter(Column::Decision.eq(decision.as_str()));
        }
        if let Some(status) = &filter.status {
            query = query.filter(Column::Status.eq(status.as_str()));
        }
        if let Some(since) = filter.since {
            query = query.filter(Column::CreatedAt.gte(since));
        }
        query
            .order_by_desc(Column::CreatedAt)
            .order_by_desc(Column::AlertId)
            .limit(filter.limit)
            .all(&self.db)
            .await
    }
}

/// Opens an alert for each score on `db` (the Decider's database
/// transaction), skipping transactions that already have one. Returns the
/// alerts that are new.
pub(super) async fn insert_alerts(
    db: &impl ConnectionTrait,
    scores: &[&Scored],
) -> Result<Vec<fraud_alert::Model>, DbErr> {
    let now = Utc::now();
    let rows: Vec<fraud_alert::Model> = scores
        .iter()
        .map(|s| fraud_alert::Model {
            alert_id: Uuid::new_v4(),
            transaction_id: s.transaction_id,
            user_id: s.user_id.clone(),
            decision: s.decision.as_str().to_owned(),
            fraud_probability: s.fraud_probability,
            risk_factors: serde_json::to_value(&s.risk_factors)
                .expect("risk factors serialize to JSON"),
            model_version: s.model_version,
            status: OPEN.to_owned(),
            created_at: now,
            updated_at: now,
        })
        .collect();
    if rows.is_empty() {
        return Ok(rows);
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.transaction_id).collect();
    let mut existing = std::collections::HashSet::new();
    for chunk in statement_chunks(&ids, CHUNK) {
        let stored = Entity::find()
            .select_only()
            .column(Column::TransactionId)
            .filter(Column::TransactionId.is_in(chunk.iter().copied()))
            .into_tuple::<Uuid>()
            .all(db)
            .await?;
        existing.extend(stored);
    }
    let new: Vec<fraud_alert::Model> = rows
        .into_iter()
        .filter(|r| !existing.contains(&r.transaction_id))
        .collect();
    for chunk in statement_chunks(&new, CHUNK) {
        let active = chunk.iter().cloned().map(|m| fraud_alert::ActiveModel {
            alert_id: Set(m.alert_id),
            transaction_id: Set(m.transaction_id),
            user_id: Set(m.user_id),
            decision: Set(m.decision),
            fraud_probability: Set(m.fraud_probability),
            risk_factors: Set(m.risk_factors),
            model_version: Set(m.model_version),
            status: Set(m.status),
            created_at: Set(m.created_at),
            updated_at: Set(m.updated_at),
        });
        // A concurrent writer may have raced us to one of them: the unique
        // index keeps one alert per transaction either way.
        Entity::insert_many(active)
            .on_conflict(
                OnConflict::column(Column::TransactionId)
                    .do_nothing()
                    .to_owned(),
            )
            .try_insert()
            .exec_without_returning(db)
            .await?;
    }
    Ok(new)
}
