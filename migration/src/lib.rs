//! Vigil's database migrations, one file per migration; portable across
//! SQLite and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261129_000001_create_raw_events;
mod m20261129_000002_create_labels;
mod m20261129_000003_create_transaction_features;
mod m20261129_000004_create_scores;
mod m20261129_000005_create_fraud_alerts;
mod m20261129_000006_create_models;
mod m20261129_000007_create_drift_reports;
mod m20261129_000008_create_dead_letters;
mod m20261130_000009_create_audit_log;
mod m20261207_000010_add_fraud_known_at;
mod m20261208_000011_drop_unused_indexes;

pub use m20261207_000010_add_fraud_known_at::FRAUD_KNOWN_FROM_LABELS;

/// Tables created by the migrations, in creation order.
pub const TABLES: [&str; 9] = [
    "raw_events",
    "labels",
    "transaction_features",
    "scores",
    "fraud_alerts",
    "models",
    "drift_reports",
    "dead_letters",
    "audit_log",
];

/// Applies Vigil's migrations in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261129_000001_create_raw_events::Migration),
            Box::new(m20261129_000002_create_labels::Migration),
            Box::new(m20261129_000003_create_transaction_features::Migration),
            Box::new(m20261129_000004_create_scores::Migration),
            Box::new(m20261129_000005_create_fraud_alerts::Migration),
            Box::new(m20261129_000006_create_models::Migration),
            Box::new(m20261129_000007_create_drift_reports::Migration),
            Box::new(m20261129_000008_create_dead_letters::Migration),
            Box::new(m20261130_000009_create_audit_log::Migration),
            Box::new(m20261207_000010_add_fraud_known_at::Migration),
            Box::new(m20261208_000011_drop_unused_indexes::Migration),
        ]
    }
}
