//! `audit_log`: who did what through the admin API (promotions, labels,
//! retraining, drift runs) and how it ended. Rows are only ever added, and
//! an entry's outcome is filled in once.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .if_not_exists()
                    .col(pk_uuid(AuditLog::AuditId))
                    .col(timestamp_with_time_zone(AuditLog::At))
                    .col(string(AuditLog::KeyId))
                    .col(string(AuditLog::Action))
                    .col(string(AuditLog::Target))
                    .col(json_binary(AuditLog::Detail))
                    .col(string(AuditLog::Outcome))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_log_at")
                    .table(AuditLog::Table)
                    .col(AuditLog::At)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditLog::Table).if_exists().to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    AuditId,
    At,
    KeyId,
    Action,
    Target,
    Detail,
    Outcome,
}
