//! The entities against the schema the migrations create: same columns, and
//! every type round-trips.

use chrono::{DateTime, Utc};
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, EntityTrait,
    IdenStatic, IntoActiveModel, Iterable, Statement,
};
use serde_json::json;
use uuid::Uuid;

use super::*;

fn at(seconds: i64) -> DateTime<Utc> {
    // Whole microseconds: PostgreSQL keeps no more.
    DateTime::from_timestamp(1_764_400_000 + seconds, 123_456_000).expect("valid timestamp")
}

/// Columns of `table` in the database, sorted.
async fn table_columns(db: &DatabaseConnection, table: &str) -> Vec<String> {
    let sql = match db.get_database_backend() {
        DbBackend::Sqlite => "SELECT name FROM pragma_table_info(?)",
        DbBackend::Postgres => {
            "SELECT column_name::text AS name FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1"
        }
        other => panic!("unsupported backend {other:?}"),
    };
    let stmt = Statement::from_sql_and_values(db.get_database_backend(), sql, [table.into()]);
    let mut columns: Vec<String> = db
        .query_all_raw(stmt)
        .await
        .expect("list columns")
        .iter()
        .map(|row| row.try_get::<String>("", "name").expect("column name"))
        .collect();
    columns.sort();
    columns
}

async fn assert_same_columns<E: EntityTrait + Default>(db: &DatabaseConnection) {
    let table = E::default().table_name();
    let mut entity: Vec<String> = E::Column::iter().map(|c| c.as_str().to_owned()).collect();
    entity.sort();
    assert_eq!(entity, table_columns(db, table).await, "columns of {table}");
}

macro_rules! round_trip {
    ($db:expr, $module:ident, $model:expr, $id:ident) => {{
        let model: $module::Model = $model;
        $module::Entity::insert(model.clone().into_active_model())
            .exec_without_returning($db)
            .await
            .expect(concat!("insert ", stringify!($module)));
        let stored = $module::Entity::find_by_id(model.$id)
            .one($db)
            .await
            .expect(concat!("select ", stringify!($module)))
            .expect(concat!(stringify!($module), " stored"));
        assert_eq!(stored, model);
    }};
}

fn features(transaction_id: Uuid, value: Option<f64>) -> transaction_feature::Model {
    transaction_feature::Model {
        transaction_id,
        user_id: "u1".into(),
        merchant_id: "m1".into(),
        event_time: at(0),
        computed_at: at(1),
        amount: value,
        amount_zscore: value.map(|v| -v),
        user_avg_amount_30d: value,
        user_txn_count_10m: value,
        user_txn_count_1h: value,
        user_txn_count_24h: value,
        user_txn_count_7d: value,
        user_amount_sum_1h: value,
        user_amount_sum_24h: value,
        unique_countries_24h: value,
        unique_merchants_24h: value,
        country_change_flag: value,
        device_change_flag: value,
        user_merchant_first_time: value,
        hour_of_day: value,
        day_of_week: value,
        is_weekend: value,
        is_night: value,
        minutes_since_last_txn: value,
        channel_encoded: value,
        merchant_txn_count_1d: value,
        merchant_txn_count_7d: value,
        merchant_txn_count_30d: value,
        merchant_fraud_rate_1d: value,
        merchant_fraud_rate_7d: value,
        merchant_fraud_rate_30d: value,
        fraud_known_at: value.map(|_| at(2)),
    }
}

async fn check_entities(db: &DatabaseConnection) {
    Migrator::up(db, None).await.expect("migrate");

    assert_same_columns::<raw_event::Entity>(db).await;
    assert_same_columns::<label::Entity>(db).await;
    assert_same_columns::<transaction_feature::Entity>(db).await;
    assert_same_columns::<score::Entity>(db).await;
    assert_same_columns::<fraud_alert::Entity>(db).await;
    assert_same_columns::<model::Entity>(db).await;
    assert_same_columns::<drift_report::Entity>(db).await;
    assert_same_columns::<dead_letter::Entity>(db).await;
    assert_same_columns::<audit_entry::Entity>(db).await;

    let tx = Uuid::new_v4();
    let full = raw_event::Model {
        transaction_id: tx,
        user_id: "u1".into(),
        merchant_id: "m1".into(),
        merchant_category: Some("grocery".into()),
        amount: 12.5,
        currency: Some("EUR".into()),
        country: Some("DE".into()),
        device_id: Some("d1".into()),
        channel: Some("online".into()),
        event_time: at(0),
        payload: json!({"transaction_id": tx, "amount": 12.5, "nested": [1, "two", null]}),
        source: "api".into(),
        original_id: Some("row-7".into()),
        received_at: at(2),
    };
    round_trip!(db, raw_event, full.clone(), transaction_id);
    round_trip!(
        db,
        raw_event,
        raw_event::Model {
            transaction_id: Uuid::new_v4(),
            merchant_category: None,
            currency: None,
            country: None,
            device_id: None,
            channel: None,
            original_id: None,
            ..full
        },
        transaction_id
    );

    round_trip!(
        db,
        label,
        label::Model {
            label_id: Uuid::new_v4(),
            transaction_id: tx,
            is_fraud: true,
            source: "feedback".into(),
            labeled_at: at(60),
            received_at: at(61),
        },
        label_id
    );

    round_trip!(
        db,
        transaction_feature,
        features(tx, Some(0.25)),
        transaction_id
    );
    round_trip!(
        db,
        transaction_feature,
        features(Uuid::new_v4(), None),
        transaction_id
    );

    let score = score::Model {
        score_id: Uuid::new_v4(),
        transaction_id: tx,
        fraud_probability: 0.81,
        anomaly_score: 0.66,
        decision: "BLOCK".into(),
        risk_factors: json!(["amount 12x the user's average"]),
        model_version: 3,
        latency_ms: 1.75,
        scored_at: at(3),
    };
    round_trip!(db, score, score.clone(), score_id);
    let same_pair = score::Model {
        score_id: Uuid::new_v4(),
        ..score
    };
    assert!(
        score::Entity::insert(same_pair.into_active_model())
            .exec_without_returning(db)
            .await
            .is_err(),
        "(transaction_id, model_version) is unique"
    );

    let alert = fraud_alert::Model {
        alert_id: Uuid::new_v4(),
        transaction_id: tx,
        user_id: "u1".into(),
        decision: "BLOCK".into(),
        fraud_probability: 0.81,
        risk_factors: json!(["new device"]),
        model_version: 3,
        status: "open".into(),
        created_at: at(4),
        updated_at: at(4),
    };
    round_trip!(db, fraud_alert, alert.clone(), alert_id);
    let same_transaction = fraud_alert::Model {
        alert_id: Uuid::new_v4(),
        ..alert
    };
    assert!(
        fraud_alert::Entity::insert(same_transaction.into_active_model())
            .exec_without_returning(db)
            .await
            .is_err(),
        "one alert per transaction"
    );

    let registered = model::Model {
        version: 7,
        stage: "production".into(),
        algorithm: "gbdt+iforest".into(),
        params: json!({"trees": 100, "depth": 6}),
        metrics: json!({"pr_auc": 0.44}),
        feature_schema: json!(["amount", "amount_zscore"]),
        artifact: vec![0, 1, 2, 255, 0],
        artifacts: json!({"roc.svg": "<svg/>"}),
        train_start: at(-1000),
        train_end: at(-500),
        test_start: at(-400),
        test_end: at(-1),
        train_rows: 5_000_000_000,
        test_rows: 1,
        stage_reason: Some("passed the gates".into()),
        created_at: at(5),
        promoted_at: Some(at(6)),
    };
    round_trip!(db, model, registered.clone(), version);
    round_trip!(
        db,
        model,
        model::Model {
            version: 8,
            stage_reason: None,
            promoted_at: None,
            ..registered
        },
        version
    );

    round_trip!(
        db,
        drift_report,
        drift_report::Model {
            report_id: Uuid::new_v4(),
            checked_at: at(7),
            status: "ok".into(),
            dataset_drift: false,
            drift_share: 0.125,
            num_features_checked: 24,
            num_features_drifted: 3,
            reference_rows: 10_000,
            current_rows: 2_000,
            details: json!({"amount": {"wasserstein": 0.02, "drifted": false}}),
        },
        report_id
    );

    round_trip!(
        db,
        dead_letter,
        dead_letter::Model {
            dead_letter_id: Uuid::new_v4(),
            actor: "raw_store".into(),
            message_kind: "Transaction".into(),
            payload: b"\xff{not json".to_vec(),
            reason: "expected value at line 1 column 1".into(),
            attempts: 2,
            created_at: at(8),
        },
        dead_letter_id
    );

    round_trip!(
        db,
        audit_entry,
        audit_entry::Model {
            audit_id: Uuid::new_v4(),
            at: at(9),
            key_id: "ops".into(),
            action: "model.promote".into(),
            target: "3".into(),
            detail: json!({"previous": 2}),
            outcome: "ok".into(),
        },
        audit_id
    );
}

#[tokio::test]
async fn entities_match_the_migrated_sqlite_schema() {
    let db = Database::connect("sqlite::memory:")
        .await
        .expect("open sqlite");
    check_entities(&db).await;
}

/// Same on PostgreSQL, in a throwaway schema of the database at
/// `POSTGRES_TEST_URL` (default: the local `postgres` database).
#[tokio::test]
async fn entities_match_the_migrated_postgres_schema() {
    let url = std::env::var("POSTGRES_TEST_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let admin = Database::connect(&url).await.expect("connect postgres");
    let schema = format!("vigil_entities_{}", Uuid::new_v4().simple());
    admin
        .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
        .await
        .expect("create schema");

    let mut options = ConnectOptions::new(url);
    options.set_schema_search_path(schema.clone());
    let outcome = tokio::spawn(async move {
        let db = Database::connect(options).await.expect("connect to schema");
        check_entities(&db).await;
        db.close().await.expect("close");
    })
    .await;

    admin
        .execute_unprepared(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .expect("drop schema");
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}
