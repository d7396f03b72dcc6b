//! `migration` binary: the sea-orm-migration CLI over Vigil's migrations.

use sea_orm_migration::prelude::*;

#[tokio::main]
async fn main() {
    cli::run_cli(migration::Migrator).await;
}
