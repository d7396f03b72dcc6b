//! Helpers shared by the black-box tests.
#![allow(dead_code)]

pub mod openapi;
pub mod postgres_cluster;
pub mod serve;

use std::future::Future;
use std::time::{Duration, Instant};

use actix_web::dev::{Service, ServiceResponse};
use actix_web::{App, test};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use vigil::config::Config;
use vigil::http::{AppState, configure};
use vigil_actors::{Runtime, RuntimeConfig};

/// A runtime configuration for tests: a small population, no backfill,
/// the producer off, short backoffs.
pub fn runtime_config(database_url: &str) -> RuntimeConfig {
    vigil::app::runtime_config(&config(database_url))
}

/// Starts a runtime on `config` and waits for its start-up training to
/// promote a model.
pub async fn trained_runtime(config: &vigil::config::Config) -> Runtime {
    let mut runtime = Runtime::start(vigil::app::runtime_config(config))
        .await
        .unwrap();
    runtime.ready().await.unwrap();
    runtime.backfill_finished().await.unwrap().unwrap();
    let store = runtime.store.clone();
    wait_until("a production model", Duration::from_secs(120), || {
        let store = store.clone();
        async move { store.production_model().await.unwrap().is_some() }
    })
    .await;
    // The registry promotes first; the Decider swaps the model in after.
    let metrics = runtime.metrics.clone();
    wait_until(
        "the scorer to serve the model",
        Duration::from_secs(30),
        || {
            let metrics = metrics.clone();
            async move { metrics.model_version.get() > 0 }
        },
    )
    .await;
    runtime
}

pub async fn app(
    runtime: &Runtime,
    api_key: Option<&str>,
) -> impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error> + use<>
{
    let state = AppState::of(runtime, api_key.map(str::to_owned));
    test::init_service(App::new().configure(configure(state, 65536))).await
}

pub fn new_transaction(user: &str, amount: f64) -> Value {
    json!({
        "transaction_id": uuid::Uuid::new_v4(),
        "user_id": user,
        "merchant_id": "m_000001",
        "amount": amount,
        "currency": "EUR",
        "country": "FR",
        "channel": "online",
        "timestamp": chrono::Utc::now(),
    })
}

pub async fn post(
    app: &impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
    uri: &str,
    body: Value,
) -> (u16, Value) {
    let request = test::TestRequest::post()
        .uri(uri)
        .set_json(body)
        .to_request();
    let response = test::call_service(app, request).await;
    let status = response.status().as_u16();
    let body = test::read_body(response).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

pub async fn get(
    app: &impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
    uri: &str,
) -> (u16, Value) {
    let response = test::call_service(app, test::TestRequest::get().uri(uri).to_request()).await;
    let status = response.status().as_u16();
    let body = test::read_body(response).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// The test configuration [`runtime_config`] derives from: a small
/// population, no live traffic, no backfill, no schedule.
pub fn config(database_url: &str) -> Config {
    let mut config = Config::default();
    config.database.url = Some(database_url.to_owned());
    config.producer.users = 200;
    config.producer.merchants = 50;
    config.producer.rate = Some(0.0);
    config.producer.tick = Duration::from_millis(20);
    config.backfill.days = 0;
    config.model.retrain_schedule = String::new();
    config.drift.schedule = String::new();
    config.supervisor.backoff_initial = Duration::from_millis(5);
    config.supervisor.backoff_max = Duration::from_millis(100);
    config
}

/// A configuration whose start-up backfills two weeks of history with
/// two-day label delays and 2% fraud, and trains a model on it: enough labelled fraud for
/// the default quality gates within a few seconds.
pub fn trained_config(database_url: &str) -> Config {
    let mut config = config(database_url);
    config.producer.users = 600;
    config.producer.fraud_rate = 0.02;
    config.producer.label_delay = Duration::from_secs(2 * 24 * 3600);
    config.features.label_delay = Duration::from_secs(2 * 24 * 3600);
    config.backfill.days = 14;
    // The data depend on the start time; now and then the start-up model
    // misses the default gates and nothing is served. The tests that use
    // this configuration need a served model, not a gate decision.
    config.model.min_pr_auc = 0.0;
    config.model.min_recall = 0.0;
    config
}

/// The value of `variable`, which a test needs (a broker, a server). Such
/// tests are `#[ignore]`d, so that a local run never claims to have tested
/// what it could not; `.ci/run` provides the services, sets the variables
/// and runs them (`--run-ignored all`). Run without the variable, the test
/// fails rather than passing without testing anything.
pub fn required_env(variable: &str, how: &str) -> String {
    match std::env::var(variable) {
        Ok(value) if !value.trim().is_empty() => value.trim().to_owned(),
        _ => panic!("{variable} is not set: {how}"),
    }
}

/// Whether this runs under CI (`CI=true`, as `.ci/run` exports).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// How to get a broker for the tests that need one.
pub const KAFKA_HOW: &str =
    "start a broker with `scripts/kafka-broker start DIR PORT` and set it (as .ci/run does)";

/// How to get an MLflow server for the tests that need one.
pub const MLFLOW_HOW: &str =
    "start one with `scripts/mlflow-server start DIR PORT` and set it (as .ci/run does)";

/// A SQLite URL in `dir`.
pub fn sqlite_url(dir: &tempfile::TempDir) -> String {
    vigil_actors::store::sqlite_url(dir.path())
}

/// The PostgreSQL server tests create their databases on.
fn postgres_admin_url() -> String {
    std::env::var("POSTGRES_TEST_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A fresh PostgreSQL database, dropped by `drop_database`.
pub struct TestDatabase {
    pub url: String,
    name: String,
}

impl TestDatabase {
    /// Creates a database with a unique name. Fails (does not skip) when
    /// PostgreSQL is unreachable: `.ci/run` starts it.
    pub async fn create() -> TestDatabase {
        let admin_url = postgres_admin_url();
        let admin = Database::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {admin_url} is needed for this test: {e}"));
        let name = format!("vigil_t_{}", uuid::Uuid::new_v4().simple());
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(base, _)| base);
        TestDatabase {
            url: format!("{base}/{name}"),
            name,
        }
    }

    /// Drops the database (connections to it must be closed first, so this
    /// forces them).
    pub async fn drop_database(self) {
        if let Ok(admin) = Database::connect(&postgres_admin_url()).await {
            let _ = admin
                .execute_unprepared(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .await;
        }
    }
}

/// Polls `condition` until it holds, or panics after `timeout`.
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while !condition().await {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
