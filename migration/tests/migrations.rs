//! Runs the migrations up, down and up again on SQLite and PostgreSQL and
//! checks the resulting schema: tables, columns (with nullability) and indexes.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use migration::{MigratorTrait, TABLES};
use sea_orm_migration::sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, QueryResult,
    Statement, Value,
};

const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const MIGRATION_TABLE: &str = "seaql_migrations";

/// Nullable feature columns of `transaction_features`, in order.
const FEATURES: [&str; 26] = [
    "amount",
    "amount_zscore",
    "user_avg_amount_30d",
    "user_txn_count_10m",
    "user_txn_count_1h",
    "user_txn_count_24h",
    "user_txn_count_7d",
    "user_amount_sum_1h",
    "user_amount_sum_24h",
    "unique_countries_24h",
    "unique_merchants_24h",
    "country_change_flag",
    "device_change_flag",
    "user_merchant_first_time",
    "hour_of_day",
    "day_of_week",
    "is_weekend",
    "is_night",
    "minutes_since_last_txn",
    "channel_encoded",
    "merchant_txn_count_1d",
    "merchant_txn_count_7d",
    "merchant_txn_count_30d",
    "merchant_fraud_rate_1d",
    "merchant_fraud_rate_7d",
    "merchant_fraud_rate_30d",
];

const NOT_NULL: bool = false;
const NULL: bool = true;

/// The expected columns of a table, in order, with their nullability.
fn expected_columns(table: &str) -> Vec<(String, bool)> {
    let columns: &[(&str, bool)] = match table {
        "raw_events" => &[
            ("transaction_id", NOT_NULL),
            ("user_id", NOT_NULL),
            ("merchant_id", NOT_NULL),
            ("merchant_category", NULL),
            ("amount", NOT_NULL),
            ("currency", NULL),
            ("country", NULL),
            ("device_id", NULL),
            ("channel", NULL),
            ("event_time", NOT_NULL),
            ("payload", NOT_NULL),
            ("source", NOT_NULL),
            ("original_id", NULL),
            ("received_at", NOT_NULL),
        ],
        "labels" => &[
            ("label_id", NOT_NULL),
            ("transaction_id", NOT_NULL),
            ("is_fraud", NOT_NULL),
            ("source", NOT_NULL),
            ("labeled_at", NOT_NULL),
            ("received_at", NOT_NULL),
        ],
        "transaction_features" => &[
            ("transaction_id", NOT_NULL),
            ("user_id", NOT_NULL),
            ("merchant_id", NOT_NULL),
            ("event_time", NOT_NULL),
            ("computed_at", NOT_NULL),
        ],
        "scores" => &[
            ("score_id", NOT_NULL),
            ("transaction_id", NOT_NULL),
            ("fraud_probability", NOT_NULL),
            ("anomaly_score", NOT_NULL),
            ("decision", NOT_NULL),
            ("risk_factors", NOT_NULL),
            ("model_version", NOT_NULL),
            ("latency_ms", NOT_NULL),
            ("scored_at", NOT_NULL),
        ],
        "fraud_alerts" => &[
            ("alert_id", NOT_NULL),
            ("transaction_id", NOT_NULL),
            ("user_id", NOT_NULL),
            ("decision", NOT_NULL),
            ("fraud_probability", NOT_NULL),
            ("risk_factors", NOT_NULL),
            ("model_version", NOT_NULL),
            ("status", NOT_NULL),
            ("created_at", NOT_NULL),
            ("updated_at", NOT_NULL),
        ],
        "models" => &[
            ("version", NOT_NULL),
            ("stage", NOT_NULL),
            ("algorithm", NOT_NULL),
            ("params", NOT_NULL),
            ("metrics", NOT_NULL),
            ("feature_schema", NOT_NULL),
            ("artifact", NOT_NULL),
            ("artifacts", NOT_NULL),
            ("train_start", NOT_NULL),
            ("train_end", NOT_NULL),
            ("test_start", NOT_NULL),
            ("test_end", NOT_NULL),
            ("train_rows", NOT_NULL),
            ("test_rows", NOT_NULL),
            ("stage_reason", NULL),
            ("created_at", NOT_NULL),
            ("promoted_at", NULL),
        ],
        "drift_reports" => &[
            ("report_id", NOT_NULL),
            ("checked_at", NOT_NULL),
            ("status", NOT_NULL),
            ("dataset_drift", NOT_NULL),
            ("drift_share", NOT_NULL),
            ("num_features_checked", NOT_NULL),
            ("num_features_drifted", NOT_NULL),
            ("reference_rows", NOT_NULL),
            ("current_rows", NOT_NULL),
            ("details", NOT_NULL),
        ],
        "dead_letters" => &[
            ("dead_letter_id", NOT_NULL),
            ("actor", NOT_NULL),
            ("message_kind", NOT_NULL),
            ("payload", NOT_NULL),
            ("reason", NOT_NULL),
            ("attempts", NOT_NULL),
            ("created_at", NOT_NULL),
        ],
        "audit_log" => &[
            ("audit_id", NOT_NULL),
            ("at", NOT_NULL),
            ("key_id", NOT_NULL),
            ("action", NOT_NULL),
            ("target", NOT_NULL),
            ("detail", NOT_NULL),
            ("outcome", NOT_NULL),
        ],
        other => panic!("no expected columns for table {other}"),
    };
    let mut columns: Vec<(String, bool)> = columns
        .iter()
        .map(|&(name, nullable)| (name.to_owned(), nullable))
        .collect();
    if table == "transaction_features" {
        columns.extend(FEATURES.iter().map(|&name| (name.to_owned(), NULL)));
        columns.push(("fraud_known_at".to_owned(), NULL));
    }
    columns
}

/// The expected indexes of a table (primary key and unique constraints
/// included) as sorted `(comma-separated columns, unique)` pairs.
fn expected_indexes(table: &str) -> Vec<(String, bool)> {
    let indexes: &[(&str, bool)] = match table {
        "raw_events" => &[("transaction_id", true), ("event_time", false)],
        "labels" => &[
            ("label_id", true),
            ("transaction_id", false),
            ("labeled_at", false),
        ],
        "transaction_features" => &[("transaction_id", true), ("event_time", false)],
        "scores" => &[
            ("score_id", true),
            ("transaction_id,model_version", true),
            ("scored_at", false),
        ],
        "fraud_alerts" => &[
            ("alert_id", true),
            ("transaction_id", true),
            ("created_at", false),
            ("status", false),
        ],
        "models" => &[("version", true), ("stage", false)],
        "drift_reports" => &[("report_id", true), ("checked_at", false)],
        "dead_letters" => &[("dead_letter_id", true), ("created_at", false)],
        "audit_log" => &[("audit_id", true), ("at", false)],
        other => panic!("no expected indexes for table {other}"),
    };
    let mut indexes: Vec<(String, bool)> = indexes
        .iter()
        .map(|&(columns, unique)| (columns.to_owned(), unique))
        .collect();
    indexes.sort();
    indexes
}

async fn query(db: &DatabaseConnection, sql: &str, values: Vec<Value>) -> Vec<QueryResult> {
    let backend = db.get_database_backend();
    db.query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await
        .unwrap_or_else(|e| panic!("query failed: {sql}: {e}"))
}

fn get<T: sea_orm_migration::sea_orm::TryGetable>(row: &QueryResult, column: &str) -> T {
    row.try_get("", column)
        .unwrap_or_else(|e| panic!("reading column {column}: {e}"))
}

/// User tables in the database (the migration bookkeeping table excluded).
async fn tables(db: &DatabaseConnection) -> Vec<String> {
    let sql = match db.get_database_backend() {
        DbBackend::Sqlite => {
            "SELECT name FROM sqlite_master \
             WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
        DbBackend::Postgres => {
            "SELECT table_name::text AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY name"
        }
        other => panic!("unsupported backend {other:?}"),
    };
    query(db, sql, vec![])
        .await
        .iter()
        .map(|row| get::<String>(row, "name"))
        .filter(|name| name != MIGRATION_TABLE)
        .collect()
}

/// Columns of a table in declaration order, with their nullability.
async fn columns(db: &DatabaseConnection, table: &str) -> Vec<(String, bool)> {
    match db.get_database_backend() {
        DbBackend::Sqlite => query(
            db,
            "SELECT name, \"notnull\" AS not_null FROM pragma_table_info(?) ORDER BY cid",
            vec![table.into()],
        )
        .await
        .iter()
        .map(|row| (get::<String>(row, "name"), get::<i64>(row, "not_null") == 0))
        .collect(),
        DbBackend::Postgres => query(
            db,
            "SELECT column_name::text AS name, is_nullable::text AS nullable \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 \
             ORDER BY ordinal_position",
            vec![table.into()],
        )
        .await
        .iter()
        .map(|row| {
            (
                get::<String>(row, "name"),
                get::<String>(row, "nullable") == "YES",
            )
        })
        .collect(),
        other => panic!("unsupported backend {other:?}"),
    }
}

/// Indexes of a table as sorted `(comma-separated columns, unique)` pairs.
async fn indexes(db: &DatabaseConnection, table: &str) -> Vec<(String, bool)> {
    let mut indexes = Vec::new();
    match db.get_database_backend() {
        DbBackend::Sqlite => {
            let list = query(
                db,
                "SELECT name, \"unique\" AS is_unique, origin FROM pragma_index_list(?)",
                vec![table.into()],
            )
            .await;
            // An INTEGER PRIMARY KEY aliases the rowid and has no index of its own.
            if !list.iter().any(|row| get::<String>(row, "origin") == "pk") {
                let primary_key: Vec<String> = query(
                    db,
                    "SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk",
                    vec![table.into()],
                )
                .await
                .iter()
                .map(|row| get::<String>(row, "name"))
                .collect();
                if !primary_key.is_empty() {
                    indexes.push((primary_key.join(","), true));
                }
            }
            for row in list {
                let name: String = get(&row, "name");
                let columns: Vec<String> = query(
                    db,
                    "SELECT name FROM pragma_index_info(?) ORDER BY seqno",
                    vec![name.into()],
                )
                .await
                .iter()
                .map(|row| get::<String>(row, "name"))
                .collect();
                indexes.push((columns.join(","), get::<i64>(&row, "is_unique") != 0));
            }
        }
        DbBackend::Postgres => {
            let rows = query(
                db,
                "SELECT ix.indisunique AS is_unique, \
                   array_to_string(ARRAY( \
                     SELECT a.attname::text \
                     FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
                     JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum \
                     ORDER BY k.ord), ',') AS columns \
                 FROM pg_index ix \
                 JOIN pg_class t ON t.oid = ix.indrelid \
                 JOIN pg_namespace n ON n.oid = t.relnamespace \
                 WHERE n.nspname = current_schema() AND t.relname = $1",
                vec![table.into()],
            )
            .await;
            for row in rows {
                indexes.push((get(&row, "columns"), get(&row, "is_unique")));
            }
        }
        other => panic!("unsupported backend {other:?}"),
    }
    indexes.sort();
    indexes
}

async fn assert_schema(db: &DatabaseConnection) {
    let mut expected_tables: Vec<String> = TABLES.iter().map(|&t| t.to_owned()).collect();
    expected_tables.sort();
    assert_eq!(tables(db).await, expected_tables);
    for table in TABLES {
        assert_eq!(
            columns(db, table).await,
            expected_columns(table),
            "columns of {table}"
        );
        assert_eq!(
            indexes(db, table).await,
            expected_indexes(table),
            "indexes of {table}"
        );
    }
}

/// Migrations that change existing tables rather than create one.
const ALTERATIONS: usize = 2;

/// Up, up again (a no-op), down, up: the cycle every backend must survive.
async fn up_down_up(db: &DatabaseConnection) {
    let migrations = migration::Migrator::migrations().len();
    assert_eq!(migrations, TABLES.len() + ALTERATIONS);

    migration::Migrator::up(db, None).await.expect("first up");
    assert_schema(db).await;
    let applied = migration::Migrator::get_applied_migrations(db)
        .await
        .expect("applied migrations");
    assert_eq!(applied.len(), migrations);

    migration::Migrator::up(db, None)
        .await
        .expect("repeated up");
    assert!(
        migration::Migrator::get_pending_migrations(db)
            .await
            .expect("pending migrations")
            .is_empty()
    );
    assert_schema(db).await;

    migration::Migrator::down(db, Some(1))
        .await
        .expect("down one step");
    let raw_indexes = indexes(db, "raw_events").await;
    for columns in ["user_id,event_time", "merchant_id,event_time"] {
        assert!(
            raw_indexes.contains(&(columns.to_owned(), false)),
            "{columns} is back: {raw_indexes:?}"
        );
    }
    assert!(
        indexes(db, "transaction_features")
            .await
            .contains(&("user_id,event_time".to_owned(), false))
    );
    migration::Migrator::down(db, Some(1))
        .await
        .expect("down another step");
    assert!(
        !columns(db, "transaction_features")
            .await
            .iter()
            .any(|(name, _)| name == "fraud_known_at")
    );
    migration::Migrator::down(db, Some(1))
        .await
        .expect("down another step");
    let remaining = tables(db).await;
    assert!(!remaining.contains(&"audit_log".to_owned()));
    assert_eq!(remaining.len(), TABLES.len() - 1);

    migration::Migrator::down(db, None).await.expect("down");
    assert_eq!(tables(db).await, Vec::<String>::new());
    assert!(
        migration::Migrator::get_applied_migrations(db)
            .await
            .expect("applied migrations")
            .is_empty()
    );

    migration::Migrator::up(db, None).await.expect("second up");
    assert_schema(db).await;
}

/// A store written by the schema before `fraud_known_at` is carried over:
/// the column says since when each transaction was known as fraud, from
/// the labels already stored, and nothing else changes.
async fn carries_over_fraud_labels(db: &DatabaseConnection) {
    use sea_orm_migration::prelude::{Alias, Expr, ExprTrait, Query};

    migration::Migrator::up(db, Some(9))
        .await
        .expect("up to the previous schema");
    let at = |s: i64| chrono::DateTime::from_timestamp(1_700_000_000 + s, 0).expect("time");
    let (labelled, unlabelled) = (uuid::Uuid::from_u128(1), uuid::Uuid::from_u128(2));
    let col = |name: &str| Alias::new(name);
    for id in [labelled, unlabelled] {
        let insert = Query::insert()
            .into_table(col("transaction_features"))
            .columns(
                [
                    "transaction_id",
                    "user_id",
                    "merchant_id",
                    "event_time",
                    "computed_at",
                    "amount",
                ]
                .map(col),
            )
            .values_panic([
                id.into(),
                "u".into(),
                "m".into(),
                at(0).into(),
                at(0).into(),
                12.5.into(),
            ])
            .to_owned();
        db.execute(&insert).await.expect("insert a feature row");
    }
    for (label, is_fraud, labeled_at) in [(10u128, true, 300), (11, true, 200), (12, false, 100)] {
        let insert = Query::insert()
            .into_table(col("labels"))
            .columns(
                [
                    "label_id",
                    "transaction_id",
                    "is_fraud",
                    "source",
                    "labeled_at",
                    "received_at",
                ]
                .map(col),
            )
            .values_panic([
                uuid::Uuid::from_u128(label).into(),
                labelled.into(),
                is_fraud.into(),
                "test".into(),
                at(labeled_at).into(),
                at(labeled_at).into(),
            ])
            .to_owned();
        db.execute(&insert).await.expect("insert a label");
    }
    migration::Migrator::up(db, None).await.expect("up");
    assert_schema(db).await;
    for (id, expected) in [(labelled, Some(at(200))), (unlabelled, None)] {
        let select = Query::select()
            .columns(["fraud_known_at", "amount"].map(col))
            .from(col("transaction_features"))
            .and_where(Expr::col(col("transaction_id")).eq(id))
            .to_owned();
        let rows = db.query_all(&select).await.expect("read back");
        let row = rows.first().expect("the row is still there");
        let amount: f64 = row.try_get("", "amount").expect("amount");
        assert_eq!(amount, 12.5);
        let known: Option<chrono::DateTime<chrono::Utc>> =
            row.try_get("", "fraud_known_at").expect("fraud_known_at");
        assert_eq!(known, expected, "the earliest fraud label of {id}");
    }
}

#[tokio::test]
async fn sqlite_up_down_up() {
    let db = Database::connect("sqlite::memory:")
        .await
        .expect("open in-memory sqlite");
    up_down_up(&db).await;
    db.close().await.expect("close sqlite");
}

#[tokio::test]
async fn sqlite_carries_a_previous_store_over() {
    let db = Database::connect("sqlite::memory:")
        .await
        .expect("open in-memory sqlite");
    carries_over_fraud_labels(&db).await;
    db.close().await.expect("close sqlite");
}

/// Replaces the database name in a PostgreSQL URL, keeping any query string.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

fn random_hex() -> String {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    hasher.write_u32(std::process::id());
    format!("{:016x}", hasher.finish())
}

#[test]
fn with_database_replaces_the_path() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h/db?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(
        with_database("postgres://h:5432", "x"),
        "postgres://h:5432/x"
    );
}

#[tokio::test]
async fn postgres_up_down_up() {
    let admin_url = std::env::var("POSTGRES_TEST_URL").unwrap_or_else(|_| POSTGRES_URL.to_owned());
    let mut options = ConnectOptions::new(admin_url.clone());
    options
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10));
    let admin = Database::connect(options)
        .await
        .unwrap_or_else(|e| panic!("postgres unreachable at {admin_url}: {e}"));
    let database = format!("vigil_mig_{}", random_hex());
    admin
        .execute_unprepared(&format!("CREATE DATABASE {database}"))
        .await
        .expect("create test database");

    // Run in a task so that a failed assertion still lets us drop the database.
    let url = with_database(&admin_url, &database);
    let outcome = tokio::spawn(async move {
        let db = Database::connect(&url)
            .await
            .expect("connect test database");
        up_down_up(&db).await;
        migration::Migrator::down(&db, None).await.expect("down");
        carries_over_fraud_labels(&db).await;
        db.close().await.expect("close test database");
    })
    .await;

    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
        .await
        .expect("drop test database");
    admin.close().await.expect("close admin connection");

    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}
