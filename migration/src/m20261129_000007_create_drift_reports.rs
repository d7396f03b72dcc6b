//! `drift_reports`: one row per drift check, per-feature details as JSON.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DriftReports::Table)
                    .if_not_exists()
                    .col(pk_uuid(DriftReports::ReportId))
                    .col(timestamp_with_time_zone(DriftReports::CheckedAt))
                    .col(string(DriftReports::Status))
                    .col(boolean(DriftReports::DatasetDrift))
                    .col(double(DriftReports::DriftShare))
                    .col(integer(DriftReports::NumFeaturesChecked))
                    .col(integer(DriftReports::NumFeaturesDrifted))
                    .col(big_integer(DriftReports::ReferenceRows))
                    .col(big_integer(DriftReports::CurrentRows))
                    .col(json_binary(DriftReports::Details))
                    .to_owned(),
            )
            .await?;

        manager
            .create_index(
                Index::create()
                    .name("idx_drift_reports_checked_at")
                    .table(DriftReports::Table)
                    .col(DriftReports::CheckedAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(DriftReports::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum DriftReports {
    Table,
    ReportId,
    CheckedAt,
    Status,
    DatasetDrift,
    DriftShare,
    NumFeaturesChecked,
    NumFeaturesDrifted,
    ReferenceRows,
    CurrentRows,
    Details,
}
