//! Windows of recent and reference data for drift checks, and the
//! `drift_reports` history.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select,
};
use uuid::Uuid;
use vigil_core::features::FeatureVector;

use super::Store;
use super::entity::{drift_report, raw_event, score, transaction_feature};
use super::features::vector;

/// One transaction as a drift check sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftRow {
    pub time: DateTime<Utc>,
    pub features: FeatureVector,
    pub country: Option<String>,
    pub channel: Option<String>,
}

/// Which rows make up a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowSpec {
    /// The oldest `n` rows.
    Oldest(u64),
    /// The newest `n` rows.
    Newest(u64),
    /// The newest `n` rows with event time in `[from, to]`.
    Between {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        n: u64,
    },
}

/// A model output row.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreRow {
    pub fraud_probability: f64,
    pub decision: String,
}

/// A drift check to store.
#[derive(Debug, Clone)]
pub struct NewDriftReport {
    pub checked_at: DateTime<Utc>,
    pub status: String,
    pub dataset_drift: bool,
    pub drift_share: f64,
    pub num_features_checked: i32,
    pub num_features_drifted: i32,
    pub reference_rows: i64,
    pub current_rows: i64,
    pub details: serde_json::Value,
}

impl Store {
    /// The transactions of a window with their features, country and
    /// channel, oldest first.
    pub async fn drift_rows(&self, window: WindowSpec) -> Result<Vec<DriftRow>, DbErr> {
        use transaction_feature::{Column, Entity};
        let query = match window {
            WindowSpec::Oldest(n) => Entity::find()
                .order_by_asc(Column::EventTime)
                .order_by_asc(Column::TransactionId)
                .limit(n),
            WindowSpec::Newest(n) => newest(Entity::find(), n),
            WindowSpec::Between { from, to, n } => newest(
                Entity::find()
                    .filter(Column::EventTime.gte(from))
                    .filter(Column::EventTime.lte(to)),
                n,
            ),
        };
        let mut features = query.all(&self.db).await?;
        features.sort_by_key(|f| (f.event_time, f.transaction_id));
        let ids: Vec<Uuid> = features.iter().map(|f| f.transaction_id).collect();
        let mut categorical = std::collections::HashMap::with_capacity(ids.len());
        // Chunked: SQLite binds at most 32,766 parameters per statement.
        for chunk in ids.chunks(10_000) {
            let rows: Vec<(Uuid, Option<String>, Option<String>)> = raw_event::Entity::find()
                .select_only()
                .column(raw_event::Column::TransactionId)
                .column(raw_event::Column::Country)
                .column(raw_event::Column::Channel)
                .filter(raw_event::Column::TransactionId.is_in(chunk.to_vec()))
                .into_tuple()
                .all(&self.db)
                .await?;
            categorical.extend(
                rows.into_iter()
                    .map(|(id, country, channel)| (id, (country, channel))),
            );
        }
        Ok(features
            .iter()
            .map(|f| {
                let (country, channel) = categorical.remove(&f.transaction_id).unwrap_or_default();
                DriftRow {
                    time: f.event_time,
                    features: vector(f),
                    country,
                    channel,
                }
            })
            .collect())
    }

    /// Scores of one model version: the oldest or newest `n`.
    pub async fn score_rows(
        &self,
        model_version: i32,
        newest_first: bool,
        n: u64,
    ) -> Result<Vec<ScoreRow>, DbErr> {
        let query = score::Entity::find().filter(score::Column::ModelVersion.eq(model_version));
        let query = if newest_first {
            query.order_by_desc(score::Column::ScoredAt)
        } else {
            query.order_by_asc(score::Column::ScoredAt)
        };
        let rows: Vec<(f64, String)> = query
            .select_only()
            .column(score::Column::FraudProbability)
            .column(score::Column::Decision)
            .limit(n)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(fraud_probability, decision)| ScoreRow {
                fraud_probability,
                decision,
            })
            .collect())
    }

    /// Number of transactions with features.
    pub async fn count_feature_rows(&self) -> Result<u64, DbErr> {
        transaction_feature::Entity::find().count(&self.db).await
    }

    /// Stores a drift check under `report_id`.
    pub async fn insert_drift_report(
        &self,
        report_id: Uuid,
        report: NewDriftReport,
    ) -> Result<(), DbErr> {
        let row = drift_report::ActiveModel {
            report_id: Set(report_id),
            checked_at: Set(report.checked_at),
            status: Set(report.status),
            dataset_drift: Set(report.dataset_drift),
            drift_share: Set(report.drift_share),
            num_features_checked: Set(report.num_features_checked),
            num_features_drifted: Set(report.num_features_drifted),
            reference_rows: Set(report.reference_rows),
            current_rows: Set(report.current_rows),
            details: Set(report.details),
        };
        drift_report::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }

    /// The newest drift checks, newest first.
    pub async fn drift_reports(&self, limit: u64) -> Result<Vec<drift_report::Model>, DbErr> {
        drift_report::Entity::find()
            .order_by_desc(drift_report::Column::CheckedAt)
            .limit(limit)
            .all(&self.db)
            .await
    }
}

fn newest(
    query: Select<transaction_feature::Entity>,
    n: u64,
) -> Select<transaction_feature::Entity> {
    use transaction_feature::Column;
    query
        .order_by_desc(Column::EventTime)
        .order_by_desc(Column::TransactionId)
        .limit(n)
}
