//! `vigil serve` killed with SIGKILL in the middle of a stream, seven
//! times, embedded (SQLite, in-process bus) and distributed (Kafka +
//! PostgreSQL): after the last restart every stored event has its features
//! and, once a model serves, its score, each exactly once, and the features
//! equal the offline rebuild (on Kafka, with three partitions consumed
//! unevenly, thanks to the event-time merge of `event_time.rs`).

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::TestDatabase;
use sea_orm::{ColumnTrait, ConnectionTrait, Database, EntityTrait, PaginatorTrait, QueryFilter};
use vigil::config::Config;
use vigil_actors::store::entity::transaction_feature;
use vigil_actors::store::{HistoryScope, Store, sqlite_url};
use vigil_core::features::{FEATURE_NAMES, FeatureVector, compute_history};

/// A small population with frequent fraud and short label delays, so the
/// start-up model trains on six days (enough labelled fraud for the
/// training window every time); gates off so it is promoted.
const CONFIG: &str = r#"
seed = 7
[producer]
users = 300
merchants = 60
fraud_rate = 0.05
label_delay = "1d"
[backfill]
days = 6
[features]
label_delay = "1d"
[model]
min_pr_auc = 0.0
min_recall = 0.0
retrain_schedule = ""
[drift]
schedule = ""
"#;

/// Live transactions per second while the process is killed.
const RATE: f64 = 800.0;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `vigil serve`, killed when dropped, so that a failing test
/// leaves no process behind.
struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(dir: &Path, port: u16, rate: f64) -> Serving {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vigil"));
    command.current_dir(dir);
    for (key, _) in std::env::vars() {
        if key.starts_with("VIGIL_") {
            command.env_remove(key);
        }
    }
    command
        .arg("serve")
        .env("VIGIL_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("VIGIL_PRODUCER_RATE", rate.to_string())
        .env("RUST_LOG", "warn,vigil_actors::bus=info")
        .stdout(Stdio::null())
        .stderr(log_file(dir))
        .spawn()
        .map(Serving)
        .unwrap()
}

/// The body of `GET path`, or None while nothing answers.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
}

fn metric(port: u16, name: &str) -> Option<f64> {
    let body = http_get(port, "/metrics")?;
    body.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// The summed consumer lag of every group and partition, once reported.
fn consumer_lag(metrics: &str) -> Option<f64> {
    let lags: Vec<f64> = metrics
        .lines()
        .filter(|l| l.starts_with("fraud_consumer_lag{"))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse().ok())
        .collect();
    (!lags.is_empty()).then(|| lags.iter().sum())
}

/// Every start's log, appended to `dir/vigil.log`, so that a timeout can
/// show what the last one was doing.
fn log_file(dir: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("vigil.log"))
        .unwrap()
}

/// The last lines of the log of `vigil serve` in `dir`.
fn log_tail(dir: &Path) -> String {
    let log = std::fs::read_to_string(dir.join("vigil.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Waits until `done`, or fails with the tail of the log in `dir`.
fn wait_for(dir: &Path, what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; the log ends with\n{}",
            log_tail(dir)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Kills the process with SIGKILL: no shutdown code runs.
fn sigkill(serving: Serving) {
    drop(serving);
}

async fn count(url: &str, sql: &str) -> i64 {
    let db = Database::connect(url).await.unwrap();
    let row = db.query_one_raw(sea_orm::Statement::from_string(
        db.get_database_backend(),
        sql.to_owned(),
    ));
    row.await.unwrap().unwrap().try_get_by_index(0).unwrap()
}

#[actix_rt::test]
async fn sigkill_embedded_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // `vigil serve` runs in `dir`: its store is in the default ./data.
    let url = sqlite_url(&dir.path().join("data"));
    kill_seven_times(&dir, CONFIG, &url, false).await;
}

/// The process restarts under the same `kafka.instance_id` (static group
/// membership), as a supervised deployment would: it takes its partitions
/// back at once instead of waiting out the killed member's session.
#[actix_rt::test]
async fn sigkill_on_kafka_and_postgres_loses_and_duplicates_nothing() {
    let Ok(brokers) = std::env::var("KAFKA_TEST_BROKERS") else {
        eprintln!(
            "KAFKA_TEST_BROKERS is not set: start a broker with scripts/kafka-broker (as .ci/run does) to run this test"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create().await;
    // Topics and groups of their own: the broker is shared with other tests.
    let id = &uuid::Uuid::new_v4().simple().to_string()[..10];
    let config = format!(
        r#"{CONFIG}
[database]
url = "{url}"
[kafka]
brokers = "{brokers}"
partitions = 3
transactions_topic = "crash-tx-{id}"
labels_topic = "crash-labels-{id}"
group_prefix = "crash-{id}"
instance_id = "crash-{id}"
"#,
        url = database.url
    );
    kill_seven_times(&dir, &config, &database.url, true).await;
    database.drop_database().await;
}

/// Starts `vigil serve` in `dir` with `config`, kills it seven times in the
/// middle of the stream, lets a last start finish what was in flight, then
/// checks the store at `url`. `on_kafka`: the events travel through Kafka.
async fn kill_seven_times(dir: &tempfile::TempDir, config: &str, url: &str, on_kafka: bool) {
    std::fs::write(dir.path().join("vigil.toml"), config).unwrap();
    let port = free_port();

    // First start: backfill, start-up model, then the live stream.
    let child = start(dir.path(), port, RATE);
    wait_for(
        dir.path(),
        "the start-up model",
        Duration::from_secs(300),
        || metric(port, "fraud_model_version").is_some_and(|v| v >= 1.0),
    );
    let scored = || metric(port, "fraud_scoring_requests_total").unwrap_or(0.0);
    let at_start = scored();
    wait_for(dir.path(), "live scoring", Duration::from_secs(60), || {
        scored() > at_start + 300.0
    });
    sigkill(child);

    // Killed six more times, each time in the middle of the stream (a kill
    // lands between the audit write and the feature or score write about
    // every other time).
    for round in 0..6 {
        let child = start(dir.path(), port, RATE);
        wait_for(
            dir.path(),
            "the restarted stream",
            Duration::from_secs(120),
            || scored() > 200.0,
        );
        std::thread::sleep(Duration::from_millis(300 + 250 * round));
        sigkill(child);
    }

    // A last start, without live traffic, finishes what the kill left in
    // flight: embedded before it serves, on Kafka by consuming what is
    // left on the topics (until every partition's lag is 0).
    let child = start(dir.path(), port, 0.0);
    wait_for(
        dir.path(),
        "the last start",
        Duration::from_secs(120),
        || http_get(port, "/health").is_some(),
    );
    if on_kafka {
        // The lag is reported per group and may read 0 before a group has
        // fetched: also wait until every stored event has its features.
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let lag = http_get(port, "/metrics").and_then(|m| consumer_lag(&m));
            let raw = count(url, "SELECT COUNT(*) FROM raw_events").await;
            let features = count(url, "SELECT COUNT(*) FROM transaction_features").await;
            if lag == Some(0.0) && raw == features {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "topics not consumed: lag {lag:?}, {raw} raw events, {features} featurized"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    sigkill(child);

    let raw = count(url, "SELECT COUNT(*) FROM raw_events").await;
    let features = count(url, "SELECT COUNT(*) FROM transaction_features").await;
    assert_eq!(raw, features, "every stored event has its features, once");
    let store = Store::open(url).await.unwrap();
    let first = store
        .first_promotion()
        .await
        .unwrap()
        .expect("a promoted model");
    assert!(store.unscored_since(first).await.unwrap().is_empty());
    let db = Database::connect(url).await.unwrap();
    let live = transaction_feature::Entity::find()
        .filter(transaction_feature::Column::ComputedAt.gte(first))
        .count(&db)
        .await
        .unwrap() as i64;
    let scores = count(url, "SELECT COUNT(*) FROM scores").await;
    let distinct = count(url, "SELECT COUNT(DISTINCT transaction_id) FROM scores").await;
    assert_eq!(scores, distinct, "no transaction scored twice");
    assert!(
        scores >= live && live > 1000,
        "scores {scores}, live {live}"
    );

    // Features equal what the offline path computes from the stored events.
    let differing = differing_from_offline(dir, &store).await;
    let first: Vec<String> = differing.iter().take(5).map(|d| d.to_string()).collect();
    assert!(
        differing.is_empty(),
        "{} differ: {first:?}",
        differing.len()
    );
}

/// A transaction whose stored features differ from the offline rebuild:
/// its first differing feature.
#[derive(Debug)]
struct Difference {
    transaction: uuid::Uuid,
    feature: &'static str,
    online: f64,
    offline: f64,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "transaction {}: {} online {} offline {}",
            self.transaction, self.feature, self.online, self.offline
        )
    }
}

async fn differing_from_offline(dir: &tempfile::TempDir, store: &Store) -> Vec<Difference> {
    let config = Config::load(Some(&dir.path().join("vigil.toml")), serde_json::json!({})).unwrap();
    let feature_config = vigil::app::runtime_config(&config).features;
    let history = store.history(None, HistoryScope::All).await.unwrap();
    let offline: HashMap<uuid::Uuid, FeatureVector> = compute_history(&feature_config, history)
        .into_iter()
        .collect();
    let online = store.feature_rows().await.unwrap();
    assert_eq!(online.len(), offline.len());
    online
        .iter()
        .filter_map(|(id, features)| {
            let (got, want) = (features.to_array(), offline[id].to_array());
            let i = got.iter().zip(want).position(|(g, w)| *g != w)?;
            Some(Difference {
                transaction: *id,
                feature: FEATURE_NAMES[i],
                online: got[i],
                offline: want[i],
            })
        })
        .collect()
}
