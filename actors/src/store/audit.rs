//! `audit_log`: the admin API's trail. An entry is written before the
//! action runs (so nothing happens unrecorded, even if the process dies
//! half-way) and its outcome is filled in after.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::Value;
use uuid::Uuid;

use super::Store;
use super::entity::audit_entry;

/// What is about to be done, and on whose key.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    pub key_id: String,
    pub action: String,
    pub target: String,
    pub detail: Value,
}

/// The outcome of an entry whose action has not finished (or whose
/// process died while it ran).
pub const PENDING: &str = "pending";

/// Which entries to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub key_id: Option<String>,
    pub target: Option<String>,
    pub limit: u64,
}

impl Store {
    /// Records an action before it runs; returns the entry's id for
    /// [`Store::finish_audit`].
    pub async fn begin_audit(&self, record: &AuditRecord) -> Result<Uuid, DbErr> {
        let audit_id = Uuid::new_v4();
        let row = audit_entry::ActiveModel {
            audit_id: Set(audit_id),
            at: Set(Utc::now()),
            key_id: Set(record.key_id.clone()),
            action: Set(record.action.clone()),
            target: Set(record.target.clone()),
            detail: Set(record.detail.clone()),
            outcome: Set(PENDING.to_owned()),
        };
        audit_entry::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await?;
        Ok(audit_id)
    }

    /// Sets the outcome (`ok` or `failed: …`) of a pending entry. A
    /// finished entry is never changed again.
    pub async fn finish_audit(&self, audit_id: Uuid, outcome: &str) -> Result<(), DbErr> {
        audit_entry::Entity::update_many()
            .col_expr(audit_entry::Column::Outcome, Expr::value(outcome))
            .filter(audit_entry::Column::AuditId.eq(audit_id))
            .filter(audit_entry::Column::Outcome.eq(PENDING))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Entries matching `filter`, newest first.
    pub async fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<audit_entry::Model>, DbErr> {
        let mut query = audit_entry::Entity::find();
        if let Some(action) = &filter.action {
            query = query.filter(audit_entry::Column::Action.eq(action.as_str()));
        }
        if let Some(key_id) = &filter.key_id {
            query = query.filter(audit_entry::Column::KeyId.eq(key_id.as_str()));
        }
        if let Some(target) = &filter.target {
            query = query.filter(audit_entry::Column::Target.eq(target.as_str()));
        }
        query
            .order_by_desc(audit_entry::Column::At)
            .limit(filter.limit)
            .all(&self.db)
            .await
    }
}
