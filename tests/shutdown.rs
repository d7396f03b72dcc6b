//! `vigil serve` stopped with SIGTERM while the producer streams far above
//! what the pipeline takes: it stops taking work, finishes what is in
//! flight, exits 0 without a panic, and leaves every stored event
//! featurized and scored; a restart finds nothing to finish. A stop that
//! cannot finish in time (a webhook that never answers) exits non-zero and
//! says what it left, and the next start still processes every event once.
//! The first start also shows the API answering during the backfill.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::ExitStatus;
use std::time::Duration;

use common::serve::{self, count, free_port, http_get, http_get_status, metric, wait_for};
use vigil_actors::store::{Store, sqlite_url};

/// A small population with frequent fraud and short label delays, so the
/// start-up model trains on six days; gates off so it is promoted (the
/// gates are not what this test is about).
const CONFIG: &str = r#"
seed = 11
[producer]
users = 300
merchants = 60
# A load test: these 300 card holders are driven at the test's rate.
scale_population = false
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
[shutdown]
timeout = "60s"
"#;

/// Far above what a debug build stores, featurizes and scores: the
/// producer always has a backlog.
const FULL_RATE: f64 = 100_000.0;

/// Sends SIGTERM and returns how the process ended.
fn sigterm(serving: serve::Serving, dir: &Path) -> ExitStatus {
    serving
        .terminate(Duration::from_secs(120))
        .unwrap_or_else(|| {
            panic!(
                "no exit after SIGTERM; the log ends with\n{}",
                serve::log_tail(dir)
            )
        })
}

/// The log of the start that began at byte `from` of `dir/vigil.log`.
fn log_since(dir: &Path, from: usize) -> String {
    serve::log(dir)[from..].to_owned()
}

fn assert_no_panic(log: &str) {
    assert!(
        !log.contains("panicked"),
        "a panic in the log:\n{}",
        log.lines()
            .filter(|l| l.contains("panicked"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

struct Counts {
    raw: i64,
    features: i64,
    scores: i64,
    distinct_scores: i64,
}

async fn counts(url: &str) -> Counts {
    Counts {
        raw: count(url, "SELECT COUNT(*) FROM raw_events").await,
        features: count(url, "SELECT COUNT(*) FROM transaction_features").await,
        scores: count(url, "SELECT COUNT(*) FROM scores").await,
        distinct_scores: count(url, "SELECT COUNT(DISTINCT transaction_id) FROM scores").await,
    }
}

/// Every stored event has its features, and every one featurized since the
/// first promotion its score, each once.
async fn assert_complete(url: &str, when: &str) -> Counts {
    let c = counts(url).await;
    assert_eq!(c.raw, c.features, "{when}: every stored event featurized");
    assert_eq!(c.scores, c.distinct_scores, "{when}: nothing scored twice");
    let store = Store::open(url).await.unwrap();
    let first = store.first_promotion().await.unwrap().expect("a promotion");
    let unscored = store.unscored_since(first).await.unwrap();
    assert!(
        unscored.is_empty(),
        "{when}: {} featurized since the first promotion without a score",
        unscored.len()
    );
    c
}

/// Streams at full rate until `more` further transactions are scored.
fn stream(dir: &Path, port: u16, more: f64) {
    let scored = || metric(port, "fraud_scoring_requests_total").unwrap_or(0.0);
    let before = scored();
    wait_for(dir, "scoring under load", Duration::from_secs(120), || {
        scored() > before + more
    });
}

#[actix_rt::test]
async fn sigterm_under_full_load_exits_zero_and_leaves_every_event_processed() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::write(dir.join("vigil.toml"), CONFIG).unwrap();
    let url = sqlite_url(&dir.join("data"));
    let port = free_port();

    // First start: the API answers during the backfill, with its progress.
    let child = serve::start(dir, port, FULL_RATE, &[]);
    let mut backfilling = None;
    wait_for(
        dir,
        "/health during the backfill",
        Duration::from_secs(60),
        || {
            backfilling = http_get_status(port, "/health")
                .filter(|(_, body)| body.contains("\"phase\":\"backfilling\""));
            backfilling.is_some()
        },
    );
    let (status, body) = backfilling.unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("\"progress\""), "{body}");
    let (status, _) = http_get_status(port, "/health/actors").unwrap();
    assert_eq!(status, 200);
    assert!(
        http_get(port, "/metrics")
            .unwrap()
            .contains("fraud_actor_restarts_total")
    );
    wait_for(dir, "the start-up model", Duration::from_secs(300), || {
        metric(port, "fraud_model_version").is_some_and(|v| v >= 1.0)
    });
    stream(dir, port, 2_000.0);
    let status = sigterm(child, dir);
    let log = serve::log(dir);
    assert_eq!(
        status.code(),
        Some(0),
        "the log ends with\n{}",
        serve::log_tail(dir)
    );
    assert_no_panic(&log);
    assert!(
        log.contains("stopped: everything in flight was finished"),
        "{log}"
    );
    let c = counts(&url).await;
    assert_eq!(c.raw, c.features, "every stored event featurized at exit");

    // Second start, at full rate from the first moment, with the model
    // served: raw events = features = scores at exit.
    let from = serve::log(dir).len();
    let child = serve::start(dir, port, FULL_RATE, &[]);
    wait_for(dir, "the second start", Duration::from_secs(120), || {
        serve::phase(port).as_deref() == Some("running")
    });
    stream(dir, port, 3_000.0);
    let status = sigterm(child, dir);
    assert_eq!(
        status.code(),
        Some(0),
        "the log ends with\n{}",
        serve::log_tail(dir)
    );
    assert_no_panic(&log_since(dir, from));
    let at_exit = assert_complete(&url, "at exit").await;
    assert!(at_exit.raw > c.raw + 3_000);

    // A restart finds nothing to finish: every event was stored,
    // featurized and scored exactly once.
    let from = serve::log(dir).len();
    let child = serve::start(dir, port, 0.0, &[]);
    wait_for(dir, "the restart", Duration::from_secs(120), || {
        serve::phase(port).as_deref() == Some("running")
    });
    let status = sigterm(child, dir);
    assert_eq!(status.code(), Some(0));
    let restart_log = log_since(dir, from);
    assert_no_panic(&restart_log);
    assert!(
        !restart_log.contains("finished the events a crash left in flight"),
        "{restart_log}"
    );
    let after = assert_complete(&url, "after the restart").await;
    assert_eq!(
        (after.raw, after.features, after.scores),
        (at_exit.raw, at_exit.features, at_exit.scores)
    );

    // A stop that cannot finish in time: the webhook never answers, so the
    // alerts it holds are still undelivered when the time is up.
    let hanging = TcpListener::bind("127.0.0.1:0").unwrap();
    let webhook = format!("http://{}/hook", hanging.local_addr().unwrap());
    std::thread::spawn(move || {
        // Accepted and never answered, kept open.
        let held: Vec<_> = hanging.incoming().collect();
        drop(held);
    });
    let from = serve::log(dir).len();
    let child = serve::start(
        dir,
        port,
        FULL_RATE,
        &[
            ("VIGIL_ALERTS_WEBHOOK_URL", webhook.as_str()),
            ("VIGIL_ALERTS_WEBHOOK_TIMEOUT", "60s"),
            ("VIGIL_SHUTDOWN_TIMEOUT", "2s"),
            // Every transaction is sent for review, so alerts come whatever
            // the start-up model (trained on a history that depends on the
            // clock) makes of this stream: the alerts are what is tested.
            ("VIGIL_MODEL_REVIEW_THRESHOLD", "0"),
        ],
    );
    wait_for(
        dir,
        "alerts for the webhook",
        Duration::from_secs(120),
        || metric(port, "fraud_alert_webhook_queue_depth").is_some_and(|d| d >= 1.0),
    );
    let status = sigterm(child, dir);
    let stopped_log = log_since(dir, from);
    assert_eq!(status.code(), Some(3), "{stopped_log}");
    assert_no_panic(&stopped_log);
    assert!(stopped_log.contains("shutdown timed out"), "{stopped_log}");
    assert!(
        stopped_log.contains("alerts not delivered to the webhook"),
        "{stopped_log}"
    );
    let dead = count(
        &url,
        "SELECT COUNT(*) FROM dead_letters WHERE message_kind = 'webhook' \
         AND reason LIKE '%stopped before the alert was delivered%'",
    )
    .await;
    assert!(dead >= 1, "undelivered alerts are dead-lettered");

    // The next start finishes whatever that stop left: once each.
    let child = serve::start(dir, port, 0.0, &[]);
    wait_for(
        dir,
        "the start after the timed-out stop",
        Duration::from_secs(120),
        || serve::phase(port).as_deref() == Some("running"),
    );
    let status = sigterm(child, dir);
    assert_eq!(status.code(), Some(0));
    assert_complete(&url, "after the timed-out stop and a restart").await;
}
