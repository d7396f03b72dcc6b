//! `models`: the model registry. Versions only grow; a version's stage
//! moves candidate → production → archived, and exactly one version is in
//! production once any has been promoted.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, Iterable, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use serde::Serialize;

use super::Store;
use super::entity::model::{self, Column, Entity};

/// Where a version stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Candidate,
    Production,
    Archived,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Candidate => "candidate",
            Stage::Production => "production",
            Stage::Archived => "archived",
        }
    }
}

/// A model version as the registry lists it: everything but the
/// serialized model and the artifact bodies.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ModelSummary {
    pub version: i32,
    // Written only from `Stage::as_str`.
    #[schema(value_type = Stage)]
    pub stage: String,
    pub algorithm: String,
    /// Training parameters, quality gates and trigger.
    pub params: serde_json::Value,
    /// Test-window metrics.
    pub metrics: serde_json::Value,
    /// The model's input names, in order.
    pub feature_schema: serde_json::Value,
    pub train_start: DateTime<Utc>,
    pub train_end: DateTime<Utc>,
    pub test_start: DateTime<Utc>,
    pub test_end: DateTime<Utc>,
    pub train_rows: i64,
    pub test_rows: i64,
    pub stage_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub promoted_at: Option<DateTime<Utc>>,
    /// Names of the stored artifacts (`GET /models/{version}/artifacts/{name}`).
    pub artifacts: Vec<String>,
}

/// A new version to register.
#[derive(Debug, Clone)]
pub struct NewModel {
    pub algorithm: String,
    pub params: serde_json::Value,
    pub metrics: serde_json::Value,
    pub feature_schema: serde_json::Value,
    pub model: Vec<u8>,
    /// Artifact name → body (SVG text, JSON…).
    pub artifacts: serde_json::Map<String, serde_json::Value>,
    pub train_start: DateTime<Utc>,
    pub train_end: DateTime<Utc>,
    pub test_start: DateTime<Utc>,
    pub test_end: DateTime<Utc>,
    pub train_rows: i64,
    pub test_rows: i64,
    pub stage_reason: String,
}

impl Store {
    /// Registers a candidate under the next version number; returns the
    /// version and its registration (training) time.
    pub async fn register_model(&self, new: NewModel) -> Result<(i32, DateTime<Utc>), DbErr> {
        let txn = self.db.begin().await?;
        take_write_lock(&txn).await?;
        let newest: Option<i32> = Entity::find()
            .select_only()
            .column_as(Column::Version.max(), "max")
            .into_tuple::<Option<i32>>()
            .one(&txn)
            .await?
            .flatten();
        let version = newest.unwrap_or(0) + 1;
        let created_at = Utc::now();
        let row = model::ActiveModel {
            version: Set(version),
            stage: Set(Stage::Candidate.as_str().to_owned()),
            algorithm: Set(new.algorithm),
            params: Set(new.params),
            metrics: Set(new.metrics),
            feature_schema: Set(new.feature_schema),
            artifact: Set(new.model),
            artifacts: Set(serde_json::Value::Object(new.artifacts)),
            train_start: Set(new.train_start),
            train_end: Set(new.train_end),
            test_start: Set(new.test_start),
            test_end: Set(new.test_end),
            train_rows: Set(new.train_rows),
            test_rows: Set(new.test_rows),
            stage_reason: Set(Some(new.stage_reason)),
            created_at: Set(created_at),
            promoted_at: Set(None),
        };
        Entity::insert(row).exec_without_returning(&txn).await?;
        txn.commit().await?;
        Ok((version, created_at))
    }

    /// Makes `version` the production model and archives the previous one,
    /// atomically. Returns false when there is no such version.
    pub async fn promote_model(&self, version: i32, reason: &str) -> Result<bool, DbErr> {
        let txn = self.db.begin().await?;
        let promoted = Entity::update_many()
            .col_expr(Column::Stage, Expr::value(Stage::Production.as_str()))
            .col_expr(Column::StageReason, Expr::value(reason))
            .col_expr(Column::PromotedAt, Expr::value(Utc::now()))
            .filter(Column::Version.eq(version))
            .exec(&txn)
            .await?;
        if promoted.rows_affected == 0 {
            txn.rollback().await?;
            return Ok(false);
        }
        Entity::update_many()
            .col_expr(Column::Stage, Expr::value(Stage::Archived.as_str()))
            .filter(Column::Stage.eq(Stage::Production.as_str()))
            .filter(Column::Version.ne(version))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Every version, newest first. The serialized models (megabytes
    /// each) are not read.
    pub async fn models(&self) -> Result<Vec<ModelSummary>, DbErr> {
        let rows = Entity::find()
            .select_only()
            .columns(Column::iter().filter(|c| !matches!(c, Column::Artifact)))
            .order_by_desc(Column::Version)
            .into_model::<Listed>()
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(Listed::into_summary).collect())
    }

    /// One version, with its serialized model and artifacts.
    pub async fn model(&self, version: i32) -> Result<Option<model::Model>, DbErr> {
        Entity::find_by_id(version).one(&self.db).await
    }

    /// The production version, if one has been promoted.
    pub async fn production_model(&self) -> Result<Option<model::Model>, DbErr> {
        Entity::find()
            .filter(Column::Stage.eq(Stage::Production.as_str()))
            .one(&self.db)
            .await
    }
}

/// Starts the transaction with a write. In SQLite's WAL mode a transaction
/// that reads first and writes later fails with SQLITE_BUSY_SNAPSHOT when
/// another connection wrote in between (busy_timeout cannot help); an
/// UPDATE, even of no row, takes the write lock up front instead.
async fn take_write_lock(txn: &sea_orm::DatabaseTransaction) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::Stage, Expr::col(Column::Stage))
        .filter(Column::Version.lt(0))
        .exec(txn)
        .await?;
    Ok(())
}

/// A registry row without its serialized model.
#[derive(Debug, sea_orm::FromQueryResult)]
struct Listed {
    version: i32,
    stage: String,
    algorithm: String,
    params: serde_json::Value,
    metrics: serde_json::Value,
    feature_schema: serde_json::Value,
    artifacts: serde_json::Value,
    train_start: DateTime<Utc>,
    train_end: DateTime<Utc>,
    test_start: DateTime<Utc>,
    test_end: DateTime<Utc>,
    train_rows: i64,
    test_rows: i64,
    stage_reason: Option<String>,
    created_at: DateTime<Utc>,
    promoted_at: Option<DateTime<Utc>>,
}

impl Listed {
    fn into_summary(self) -> ModelSummary {
        summary(model::Model {
            version: self.version,
            stage: self.stage,
            algorithm: self.algorithm,
            params: self.params,
            metrics: self.metrics,
            feature_schema: self.feature_schema,
            artifact: Vec::new(),
            artifacts: self.artifacts,
            train_start: self.train_start,
            train_end: self.train_end,
            test_start: self.test_start,
            test_end: self.test_end,
            train_rows: self.train_rows,
            test_rows: self.test_rows,
            stage_reason: self.stage_reason,
            created_at: self.created_at,
            promoted_at: self.promoted_at,
        })
    }
}

/// The listing form of a stored version.
pub fn summary(m: model::Model) -> ModelSummary {
    let artifacts = m
        .artifacts
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    ModelSummary {
        version: m.version,
        stage: m.stage,
        algorithm: m.algorithm,
        params: m.params,
        metrics: m.metrics,
        feature_schema: m.feature_schema,
        train_start: m.train_start,
        train_end: m.train_end,
        test_start: m.test_start,
        test_end: m.test_end,
        train_rows: m.train_rows,
        test_rows: m.test_rows,
        stage_reason: m.stage_reason,
        created_at: m.created_at,
        promoted_at: m.promoted_at,
        artifacts,
    }
}
