//! Windows of recent and reference data for drift checks, and the
//! `drift_reports` history.

use std::ops::Bound;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Asterisk, Expr, Order, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DbBackend, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Select,
};
use uuid::Uuid;
use vigil_core::drift::windows::{TimesOfDay, stride};

pub use vigil_core::drift::check::{DriftRow, ScoreRow};

use super::Store;
use super::entity::{drift_report, raw_event, score, transaction_feature};
use super::features::vector;

/// Which rows make up a window (see `vigil_core::drift::windows`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowSpec {
    /// The newest `n` rows stamped after `after`.
    Newest { after: DateTime<Utc>, n: u64 },
    /// At most `n` rows with event time within the bounds and at `times`
    /// of the day, spread evenly: every `k`-th row in
    /// (event time, id) order, `k` the stride of
    /// `vigil_core::drift::windows` (all rows when they fit). The database
    /// numbers and thins the rows, so only the sample travels.
    Sampled {
        from: Bound<DateTime<Utc>>,
        to: Bound<DateTime<Utc>>,
        times: TimesOfDay,
        n: u64,
    },
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
        let mut features = match window {
            WindowSpec::Newest { after, n } => {
                use transaction_feature::{Column, Entity};
                Entity::find()
                    .filter(Column::EventTime.gt(after))
                    .order_by_desc(Column::EventTime)
                    .order_by_desc(Column::TransactionId)
                    .limit(n)
                    .all(&self.db)
                    .await?
            }
            WindowSpec::Sampled { from, to, times, n } => {
                self.sampled_features(from, to, times, n).await?
            }
        };
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

    /// The event times of the oldest and the newest transaction with features.
    pub async fn feature_time_span(&self) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>, DbErr> {
        use transaction_feature::{Column, Entity};
        let edge = |newest: bool| {
            let query = Entity::find().select_only().column(Column::EventTime);
            let query = if newest {
                query.order_by_desc(Column::EventTime)
            } else {
                query.order_by_asc(Column::EventTime)
            };
            query.limit(1).into_tuple::<DateTime<Utc>>().one(&self.db)
        };
        Ok(edge(false).await?.zip(edge(true).await?))
    }

    /// A systematic sample of the feature rows within the bounds: a count
    /// (on the event-time index) gives the stride, then
    /// `ROW_NUMBER() OVER (ORDER BY event_time, transaction_id)` keeps rows
    /// 1, 1 + k, 1 + 2k, … — standard SQL that SQLite (3.25+) and
    /// PostgreSQL both run.
    async fn sampled_features(
        &self,
        from: Bound<DateTime<Utc>>,
        to: Bound<DateTime<Utc>>,
        times: TimesOfDay,
        n: u64,
    ) -> Result<Vec<transaction_feature::Model>, DbErr> {
        use transaction_feature::{Column, Entity};
        let backend = self.db.get_database_backend();
        let within = || {
            let query = bounded(Entity::find(), from, to);
            if times.is_all() {
                return query;
            }
            query.filter(Expr::cust(at_times(backend, times)))
        };
        let count = within().count(&self.db).await?;
        let k = stride(count, n);
        if k == 1 {
            return within().all(&self.db).await;
        }
        let mut numbered = within().into_query();
        numbered.expr_as(
            Expr::cust("ROW_NUMBER() OVER (ORDER BY event_time, transaction_id)"),
            "sample_row",
        );
        let sample = Query::select()
            .column(Asterisk)
            .from_subquery(numbered, "numbered")
            // k is a number computed here, never user input.
            .and_where(Expr::cust(format!("(sample_row - 1) % {k} = 0")))
            .order_by(Column::EventTime, Order::Asc)
            .order_by(Column::TransactionId, Order::Asc)
            .to_owned();
        let statement = backend.build(&sample);
        Entity::find().from_raw_sql(statement).all(&self.db).await
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

/// The SQL condition "the event time's minute of the day (UTC) is within
/// `times`". SQLite reads the stored RFC 3339 text with `strftime`;
/// PostgreSQL extracts from the timestamp taken at UTC (not the session's
/// zone). The bounds are numbers computed here, never user input.
fn at_times(backend: DbBackend, times: TimesOfDay) -> String {
    let minute = match backend {
        DbBackend::Postgres => {
            "CAST(EXTRACT(HOUR FROM event_time AT TIME ZONE 'UTC') * 60 \
             + EXTRACT(MINUTE FROM event_time AT TIME ZONE 'UTC') AS INTEGER)"
        }
        _ => {
            "(CAST(strftime('%H', event_time) AS INTEGER) * 60 \
             + CAST(strftime('%M', event_time) AS INTEGER))"
        }
    };
    let (first, last) = (times.first_minute, times.last_minute);
    if times.crosses_midnight() {
        format!("({minute} >= {first} OR {minute} <= {last})")
    } else {
        format!("({minute} BETWEEN {first} AND {last})")
    }
}

/// `query` restricted to event times within the bounds.
fn bounded(
    query: Select<transaction_feature::Entity>,
    from: Bound<DateTime<Utc>>,
    to: Bound<DateTime<Utc>>,
) -> Select<transaction_feature::Entity> {
    use transaction_feature::Column;
    let query = match from {
        Bound::Included(t) => query.filter(Column::EventTime.gte(t)),
        Bound::Excluded(t) => query.filter(Column::EventTime.gt(t)),
        Bound::Unbounded => query,
    };
    match to {
        Bound::Included(t) => query.filter(Column::EventTime.lte(t)),
        Bound::Excluded(t) => query.filter(Column::EventTime.lt(t)),
        Bound::Unbounded => query,
    }
}
