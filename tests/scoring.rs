//! Models end to end: training after the backfill, `POST /score` by id and
//! by transaction, alerts, labels, the registry API, hot swaps under load.

mod common;

use std::time::Duration;

use actix_web::{App, test};
use common::{
    app, config, get, new_transaction, post, sqlite_url, trained_config, trained_runtime,
    wait_until,
};
use serde_json::{Value, json};
use vigil::app::runtime_config;
use vigil_actors::Runtime;

/// Scores the first `n` labelled frauds of the store by id.
async fn score_known_frauds(
    runtime: &Runtime,
    app: &impl actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
    >,
    n: usize,
) {
    let rows = runtime.store.labeled_rows().await.unwrap();
    for fraud in rows.iter().filter(|r| r.is_fraud).take(n) {
        let body = json!({"transaction_id": fraud.transaction_id});
        let (status, answer) = post(app, "/score", body).await;
        assert_eq!(status, 200, "{answer}");
    }
}

#[actix_rt::test]
async fn start_up_trains_a_model_that_scores_stored_and_new_transactions_alike() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = trained_runtime(&trained_config(&sqlite_url(&dir))).await;
    let app = app(&runtime, None).await;

    // The registry shows one production model that passed the gates.
    let (status, models) = get(&app, "/models").await;
    assert_eq!(status, 200);
    let model = &models["models"][0];
    assert_eq!(model["stage"], "production", "{model}");
    assert!(
        model["metrics"]["pr_auc"].as_f64().unwrap() >= 0.15,
        "{model}"
    );
    let (status, svg) = {
        let uri = format!("/models/{}/artifacts/roc_curve.svg", model["version"]);
        let response =
            test::call_service(&app, test::TestRequest::get().uri(&uri).to_request()).await;
        (response.status().as_u16(), test::read_body(response).await)
    };
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&svg).contains("<svg"));

    // A new transaction goes through the stream path and is scored.
    let transaction = new_transaction("u_new_card", 42.0);
    let (status, by_transaction) = post(&app, "/score", json!({"transaction": transaction})).await;
    assert_eq!(status, 200, "{by_transaction}");
    for key in [
        "transaction_id",
        "fraud_probability",
        "anomaly_score",
        "decision",
        "risk_factors",
        "processing_time_ms",
        "model_version",
        "timestamp",
    ] {
        assert!(
            by_transaction.get(key).is_some(),
            "missing {key}: {by_transaction}"
        );
    }
    assert!(
        runtime
            .store
            .has_transaction(
                transaction["transaction_id"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap()
            )
            .await
            .unwrap()
    );

    // Scoring it again by id gives the same probability.
    let (status, by_id) = post(
        &app,
        "/score",
        json!({"transaction_id": transaction["transaction_id"]}),
    )
    .await;
    assert_eq!(status, 200, "{by_id}");
    assert_eq!(
        by_id["fraud_probability"],
        by_transaction["fraud_probability"]
    );
    assert_eq!(by_id["decision"], by_transaction["decision"]);

    // The backfill ran before there was a model; scoring its known frauds
    // now raises alerts with readable reasons.
    score_known_frauds(&runtime, &app, 30).await;
    let (status, alerts) = get(&app, "/alerts?decision=BLOCK&limit=5").await;
    assert_eq!(status, 200);
    let first = &alerts["alerts"][0];
    assert_eq!(first["decision"], "BLOCK", "{alerts}");
    assert!(
        !first["risk_factors"].as_array().unwrap().is_empty(),
        "{first}"
    );
    assert!(first["risk_factors"][0]["code"].is_string());

    let metrics = runtime.metrics.render();
    for name in [
        "fraud_scoring_requests_total",
        "fraud_scoring_latency_seconds_bucket",
        "fraud_alerts_created_total",
        "fraud_model_version 1",
    ] {
        assert!(metrics.contains(name), "{name} missing");
    }
    // The series exists at 0 from the start; the known frauds were blocked.
    let blocked = metrics
        .lines()
        .find_map(|l| l.strip_prefix("fraud_model_predictions{decision=\"BLOCK\"} "))
        .expect("BLOCK series");
    assert!(blocked.parse::<f64>().unwrap() > 0.0, "{metrics}");
}

#[actix_rt::test]
async fn bad_requests_get_clear_json_errors() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::start(runtime_config(&config(&sqlite_url(&dir))))
        .await
        .unwrap();
    runtime.ready().await.unwrap();
    let app = app(&runtime, Some("s3cret")).await;

    let unknown = json!({"transaction_id": uuid::Uuid::new_v4()});
    let (status, body) = post(&app, "/score", unknown).await;
    assert_eq!(status, 404, "{body}");
    assert!(body["error"].is_string());

    let (status, body) = post(&app, "/score", json!({})).await;
    assert_eq!(status, 422, "{body}");
    let mut missing_amount = new_transaction("u1", 1.0);
    missing_amount.as_object_mut().unwrap().remove("amount");
    let (status, body) = post(&app, "/score", json!({"transaction": missing_amount})).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("amount"),
        "{body}"
    );
    let (status, body) = post(
        &app,
        "/score",
        json!({"transaction": new_transaction("u1", -5.0)}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("amount"),
        "{body}"
    );

    // Without a model, a valid transaction is kept but cannot be decided.
    let transaction = new_transaction("u1", 12.5);
    let (status, body) = post(&app, "/score", json!({"transaction": transaction})).await;
    assert_eq!(status, 503, "{body}");
    let id = transaction["transaction_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(runtime.store.has_transaction(id).await.unwrap());

    // Admin endpoints want the key.
    let (status, _) = post(&app, "/models/retrain", json!({})).await;
    assert_eq!(status, 401);
    let request = test::TestRequest::post()
        .uri("/models/retrain")
        .insert_header(("Authorization", "Bearer s3cret"))
        .to_request();
    let body: Value = test::call_and_read_body_json(&app, request).await;
    assert_eq!(body["status"], "skipped", "{body}");

    let (status, body) = get(&app, "/models/99").await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = get(&app, "/alerts?decision=APPROVE").await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = get(&app, "/alerts?limit=0").await;
    assert_eq!(status, 400, "{body}");
}

#[actix_rt::test]
async fn promotion_swaps_the_model_without_failing_concurrent_requests() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = trained_runtime(&trained_config(&sqlite_url(&dir))).await;
    let app = std::rc::Rc::new(app(&runtime, None).await);

    // A second version: same data and seed, so it ties the champion and
    // passes "not worse than production".
    let (status, outcome) = post(&app, "/models/retrain", json!({})).await;
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["version"], 2, "{outcome}");
    assert_eq!(outcome["promoted"], true, "{outcome}");

    let mut clients = Vec::new();
    for client in 0..4 {
        let app = app.clone();
        clients.push(actix_rt::spawn(async move {
            let mut versions = Vec::new();
            for i in 0..40 {
                let transaction = new_transaction(&format!("u_load_{client}"), 10.0 + f64::from(i));
                let (status, body) =
                    post(&*app, "/score", json!({"transaction": transaction})).await;
                assert_eq!(status, 200, "{body}");
                versions.push(body["model_version"].as_i64().unwrap());
                actix_rt::task::yield_now().await;
            }
            versions
        }));
    }
    let mut trained_at = std::collections::BTreeMap::new();
    for version in [1, 2] {
        let (_, model) = get(&app, &format!("/models/{version}")).await;
        let created = model["created_at"].as_str().unwrap();
        let created = chrono::DateTime::parse_from_rfc3339(created).unwrap();
        trained_at.insert(version, created.timestamp_millis() as f64 / 1e3);
    }
    assert_ne!(trained_at[&1], trained_at[&2]);
    for version in [1, 2, 1, 2] {
        let (status, body) = post(
            &app,
            &format!("/models/{version}/promote"),
            json!({"reason": "test swap"}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["stage"], "production");
        // The swap is done when the promotion answers: the served model's
        // age is the promoted version's.
        assert_eq!(
            runtime.metrics.model_trained_timestamp.get(),
            trained_at[&version]
        );
        actix_rt::time::sleep(Duration::from_millis(5)).await;
    }
    let mut seen = std::collections::BTreeSet::new();
    for client in clients {
        seen.extend(client.await.unwrap());
    }
    assert!(seen.iter().all(|v| [1, 2].contains(v)), "{seen:?}");

    let (_, models) = get(&app, "/models").await;
    let stages: Vec<_> = models["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["stage"].clone())
        .collect();
    assert_eq!(stages, [json!("production"), json!("archived")]);
}

/// A local webhook receiver: records every delivery, answers 500 to alerts
/// of `rejected` (always) and to the very first request (once, to exercise
/// retries), 200 otherwise.
struct Receiver {
    url: String,
    deliveries: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
    rejected: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

fn start_receiver() -> Receiver {
    use actix_web::{HttpResponse, web};
    let deliveries = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let rejected = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
    let (d, r) = (deliveries.clone(), rejected.clone());
    let server = actix_web::HttpServer::new(move || {
        let (d, r) = (d.clone(), r.clone());
        App::new().route(
            "/hook",
            web::post().to(move |body: web::Json<Value>| {
                let (d, r) = (d.clone(), r.clone());
                async move {
                    let mut deliveries = d.lock().unwrap();
                    deliveries.push(body.0.clone());
                    let first = deliveries.len() == 1;
                    let rejected = r.lock().unwrap().clone();
                    if first || rejected.as_deref() == body.0["transaction_id"].as_str() {
                        HttpResponse::InternalServerError().finish()
                    } else {
                        HttpResponse::Ok().finish()
                    }
                }
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let url = format!("http://{}/hook", server.addrs()[0]);
    actix_rt::spawn(server.run());
    Receiver {
        url,
        deliveries,
        rejected,
    }
}

#[actix_rt::test]
async fn alerts_reach_the_webhook_with_retries_and_undeliverable_ones_are_dead_lettered() {
    let receiver = start_receiver();
    let dir = tempfile::tempdir().unwrap();
    let mut config = trained_config(&sqlite_url(&dir));
    config.alerts.webhook_url = Some(receiver.url.clone());
    let runtime = trained_runtime(&config).await;
    let app = app(&runtime, None).await;

    let frauds: Vec<_> = runtime
        .store
        .labeled_rows()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.is_fraud)
        .collect();
    let mut alerted = Vec::new();
    for fraud in &frauds {
        let (_, body) = post(
            &app,
            "/score",
            json!({"transaction_id": fraud.transaction_id}),
        )
        .await;
        if body["decision"] != "APPROVE" {
            alerted.push(body["transaction_id"].as_str().unwrap().to_owned());
        }
        if alerted.len() == 1 {
            // Every delivery of the first alert fails.
            *receiver.rejected.lock().unwrap() = alerted.first().cloned();
        }
        if alerted.len() == 5 {
            break;
        }
    }
    assert_eq!(
        alerted.len(),
        5,
        "too few alerts among {} frauds",
        frauds.len()
    );
    let deliveries = receiver.deliveries.clone();
    let expected: std::collections::BTreeSet<String> = alerted[1..].iter().cloned().collect();
    wait_until("accepted deliveries", Duration::from_secs(20), || {
        let (deliveries, expected) = (deliveries.clone(), expected.clone());
        async move {
            let got: std::collections::BTreeSet<String> = deliveries
                .lock()
                .unwrap()
                .iter()
                .filter_map(|d| d["transaction_id"].as_str().map(str::to_owned))
                .collect();
            expected.is_subset(&got)
        }
    })
    .await;
    let store = runtime.store.clone();
    wait_until(
        "the rejected alert's dead letter",
        Duration::from_secs(20),
        || {
            let store = store.clone();
            async move {
                store
                    .dead_letters()
                    .await
                    .unwrap()
                    .iter()
                    .any(|d| d.actor == "webhook")
            }
        },
    )
    .await;
    let letter = runtime
        .store
        .dead_letters()
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.actor == "webhook")
        .unwrap();
    assert!(letter.reason.contains("500"), "{}", letter.reason);
    assert!(String::from_utf8_lossy(&letter.payload).contains(&alerted[0]));
    let attempts = receiver
        .deliveries
        .lock()
        .unwrap()
        .iter()
        .filter(|d| d["transaction_id"] == alerted[0].as_str())
        .count();
    assert_eq!(attempts, 3, "the default webhook_attempts");
    assert_eq!(runtime.metrics.alert_webhook_failures.get(), 1);
    // The alert itself is kept.
    let (_, alerts) = get(&app, "/alerts?limit=1000").await;
    assert!(
        alerts["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["transaction_id"] == alerted[0].as_str())
    );
}

/// A receiver that never answers holds the one webhook sender; the queue
/// takes two more alerts, and every further one is dead-lettered at once
/// with its reason and counted, instead of piling up in memory.
#[actix_rt::test]
async fn a_full_webhook_queue_dead_letters_the_overflow_with_its_reason() {
    let hanging = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", hanging.local_addr().unwrap());
    std::thread::spawn(move || {
        let held: Vec<_> = hanging.incoming().collect();
        drop(held);
    });
    let dir = tempfile::tempdir().unwrap();
    let mut config = trained_config(&sqlite_url(&dir));
    config.alerts.webhook_url = Some(url);
    config.alerts.webhook_timeout = Duration::from_secs(120);
    config.alerts.webhook_queue = 2;
    config.alerts.webhook_concurrency = 1;
    let runtime = trained_runtime(&config).await;
    let app = app(&runtime, None).await;

    let frauds: Vec<_> = runtime
        .store
        .labeled_rows()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.is_fraud)
        .collect();
    let mut alerts = 0;
    for fraud in &frauds {
        let (_, body) = post(
            &app,
            "/score",
            json!({"transaction_id": fraud.transaction_id}),
        )
        .await;
        if body["decision"] != "APPROVE" {
            alerts += 1;
        }
        if alerts == 8 {
            break;
        }
    }
    assert_eq!(alerts, 8, "too few alerts among {} frauds", frauds.len());
    let metrics = runtime.metrics.clone();
    let overflow = move || {
        metrics
            .alert_webhook_dead_letters
            .with_label_values(&["queue_full"])
            .get()
    };
    // One alert in the sender's hands, two queued, five refused.
    let (queued, refused) = (runtime.metrics.clone(), overflow.clone());
    wait_until(
        "the sender to hold one alert",
        Duration::from_secs(10),
        || {
            let (queued, refused) = (queued.clone(), refused.clone());
            async move { queued.alert_webhook_queue.get() == 2 && refused() == 5 }
        },
    )
    .await;
    assert_eq!(runtime.metrics.alert_webhook_failures.get(), 5);
    let letters: Vec<_> = runtime
        .store
        .dead_letters()
        .await
        .unwrap()
        .into_iter()
        .filter(|d| d.message_kind == "webhook")
        .collect();
    assert_eq!(letters.len(), 5);
    assert!(
        letters
            .iter()
            .all(|d| d.reason.contains("webhook queue full")),
        "{letters:?}"
    );
    let text = runtime.metrics.render();
    assert!(
        text.contains("fraud_alert_webhook_dead_letters_total{reason=\"queue_full\"} 5"),
        "{text}"
    );
    // The alerts themselves are all kept.
    let (_, listed) = get(&app, "/alerts?limit=1000").await;
    assert!(listed["alerts"].as_array().unwrap().len() >= 8);
}

#[actix_rt::test]
async fn labels_are_recorded_for_known_transactions_only() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::start(runtime_config(&config(&sqlite_url(&dir))))
        .await
        .unwrap();
    runtime.ready().await.unwrap();
    let app = app(&runtime, None).await;
    let transaction = new_transaction("u_label", 99.0);
    let (status, _) = post(&app, "/score", json!({"transaction": transaction})).await;
    assert_eq!(status, 503, "no model yet, but the transaction is kept");

    let (status, label) = post(
        &app,
        "/labels",
        json!({"transaction_id": transaction["transaction_id"], "is_fraud": true, "source": "analyst"}),
    )
    .await;
    assert_eq!(status, 201, "{label}");
    assert_eq!(label["source"], "analyst");
    let rows = runtime.store.labeled_rows().await.unwrap();
    let row = rows
        .iter()
        .find(|r| r.transaction_id.to_string() == transaction["transaction_id"].as_str().unwrap())
        .unwrap();
    assert!(row.is_fraud);

    let (status, body) = post(
        &app,
        "/labels",
        json!({"transaction_id": uuid::Uuid::new_v4(), "is_fraud": true}),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = post(
        &app,
        "/labels",
        json!({"transaction_id": "nope", "is_fraud": true}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
}

#[actix_rt::test]
async fn postgres_trains_registers_scores_and_alerts() {
    let database = common::TestDatabase::create().await;
    let runtime = trained_runtime(&trained_config(&database.url)).await;
    let app = app(&runtime, None).await;
    let (status, outcome) = post(&app, "/models/retrain", json!({})).await;
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["version"], 2, "{outcome}");
    let (_, models) = get(&app, "/models").await;
    assert_eq!(models["models"].as_array().unwrap().len(), 2, "{models}");
    assert!(
        models["models"][0]["artifacts"]
            .as_array()
            .unwrap()
            .contains(&json!("pr_curve.svg"))
    );

    let transaction = new_transaction("u_pg", 250.0);
    let (status, scored) = post(&app, "/score", json!({"transaction": transaction})).await;
    assert_eq!(status, 200, "{scored}");
    score_known_frauds(&runtime, &app, 20).await;
    let (status, alerts) = get(&app, "/alerts?limit=50").await;
    assert_eq!(status, 200);
    assert!(alerts["count"].as_u64().unwrap() > 0, "{alerts}");
    drop(runtime);
    database.drop_database().await;
}

#[actix_rt::test]
async fn the_cron_schedule_trains_without_being_asked() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = trained_config(&sqlite_url(&dir));
    config.model.train_on_start = false;
    config.model.retrain_schedule = "*/2 * * * * *".into();
    let mut runtime = Runtime::start(runtime_config(&config)).await.unwrap();
    runtime.backfill_finished().await.unwrap().unwrap();
    let store = runtime.store.clone();
    wait_until("a scheduled training", Duration::from_secs(60), || {
        let store = store.clone();
        async move { !store.models().await.unwrap().is_empty() }
    })
    .await;
    let models = runtime.store.models().await.unwrap();
    assert_eq!(models[0].params["trigger"], "schedule");
}

/// Overwrites a registry row's serialized model with bytes that do not
/// decode, as a disk or a bad migration might.
async fn corrupt_model(database_url: &str, version: i32) {
    use sea_orm::ConnectionTrait;
    let db = sea_orm::Database::connect(database_url).await.unwrap();
    let sql = format!("UPDATE models SET artifact = X'00FF00' WHERE version = {version}");
    let result = db.execute_unprepared(&sql).await.unwrap();
    assert_eq!(result.rows_affected(), 1);
}

#[actix_rt::test]
async fn a_corrupt_model_is_refused_and_the_previous_one_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let config = trained_config(&sqlite_url(&dir));
    let runtime = trained_runtime(&config).await;
    let app = app(&runtime, None).await;
    let (status, outcome) = post(&app, "/models/retrain", json!({})).await;
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["promoted"], true, "{outcome}");
    assert_eq!(runtime.metrics.model_version.get(), 2);

    // Promotion refuses a model that cannot be loaded: 409, nothing changes.
    corrupt_model(&sqlite_url(&dir), 1).await;
    let (status, body) = post(&app, "/models/1/promote", json!({})).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["detail"]["reason"].is_string(), "{body}");
    assert_eq!(runtime.metrics.model_version.get(), 2);
    let (_, model) = get(&app, "/models/2").await;
    assert_eq!(model["stage"], "production");
    let (status, _) = get(&app, "/health").await;
    assert_eq!(status, 200);

    // Start-up with a corrupt production row serves the previously
    // promoted version (v1 is corrupt too now, so: a fresh v3 → v2 order).
    let (status, outcome) = post(&app, "/models/retrain", json!({})).await;
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["version"], 3, "{outcome}");
    assert_eq!(outcome["promoted"], true, "{outcome}");
    drop(app);
    drop(runtime);
    corrupt_model(&sqlite_url(&dir), 3).await;
    let mut restarted = config.clone();
    restarted.model.train_on_start = false;
    let runtime = Runtime::start(runtime_config(&restarted)).await.unwrap();
    runtime.ready().await.unwrap();
    let app = common::app(&runtime, None).await;
    let (status, scored) = post(
        &app,
        "/score",
        json!({"transaction": new_transaction("u_after_corruption", 90.0)}),
    )
    .await;
    assert_eq!(status, 200, "{scored}");
    assert_eq!(scored["model_version"], 2, "{scored}");
    let (status, health) = get(&app, "/health").await;
    assert_eq!(status, 200, "{health}");
}

#[actix_rt::test]
async fn concurrent_new_transactions_share_batches_and_stored_decisions_are_not_written_again() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    let runtime = trained_runtime(&trained_config(&url)).await;
    let app = app(&runtime, None).await;
    let count = |sql: String| {
        let url = url.clone();
        async move { common::serve::count(&url, &sql).await }
    };

    // Requests arriving together are published together: fewer batches
    // than requests, every transaction stored and scored once.
    let transactions: Vec<Value> = (0..40)
        .map(|i| new_transaction(&format!("u_batch_{}", i % 8), 10.0 + f64::from(i)))
        .collect();
    let posts = transactions
        .iter()
        .map(|t| post(&app, "/score", json!({"transaction": t})));
    for (status, body) in futures::future::join_all(posts).await {
        assert_eq!(status, 200, "{body}");
    }
    let batches = &runtime.metrics.decision_batch_size;
    assert_eq!(batches.get_sample_sum(), 40.0);
    assert!(
        batches.get_sample_count() < 40,
        "{} batches for 40 requests sent together",
        batches.get_sample_count()
    );
    for table in ["raw_events", "transaction_features", "scores"] {
        let sql = format!(
            "SELECT count(*) FROM {table} WHERE transaction_id IN \
             (SELECT transaction_id FROM raw_events WHERE source = 'api')"
        );
        assert_eq!(count(sql).await, 40, "{table}");
    }

    // By id, the stored decision answers while its model is served:
    // nothing is written, however often it is asked.
    let id = &transactions[0]["transaction_id"];
    let scores = || count("SELECT count(*) FROM scores".to_owned());
    let before = scores().await;
    let (status, first) = post(&app, "/score", json!({"transaction_id": id})).await;
    assert_eq!(status, 200, "{first}");
    for _ in 0..3 {
        let (status, again) = post(&app, "/score", json!({"transaction_id": id})).await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(
            again["timestamp"], first["timestamp"],
            "the stored decision"
        );
    }
    assert_eq!(scores().await, before, "answered without a write");

    // Under a newly promoted model it is scored again, once.
    let (status, outcome) = post(&app, "/models/retrain", json!({})).await;
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["promoted"], true, "{outcome}");
    for _ in 0..2 {
        let (status, rescored) = post(&app, "/score", json!({"transaction_id": id})).await;
        assert_eq!(status, 200, "{rescored}");
        assert_eq!(rescored["model_version"], outcome["version"], "{rescored}");
    }
    assert_eq!(scores().await, before + 1, "one score of the new model");
}

#[actix_rt::test]
async fn a_batch_the_pipeline_refuses_is_published_again_one_transaction_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    let runtime = trained_runtime(&trained_config(&url)).await;
    let app = app(&runtime, None).await;

    // The Decider fails the next message and its retry: the batch the
    // concurrent requests share is dead-lettered.
    for _ in 0..2 {
        runtime
            .faults
            .inject("decider", vigil_actors::faults::Fault::Error);
    }
    let transactions: Vec<Value> = (0..12)
        .map(|i| new_transaction(&format!("u_refused_{i}"), 20.0 + f64::from(i)))
        .collect();
    let posts = transactions
        .iter()
        .map(|t| post(&app, "/score", json!({"transaction": t})));
    let answers = futures::future::join_all(posts).await;

    // Published again one by one, each transaction went through: no
    // request failed for a fault that hit the batch.
    assert_eq!(runtime.faults.pending("decider"), 0, "both faults fired");
    for (status, body) in answers {
        assert_eq!(status, 200, "{body}");
    }
    let count = |sql: &'static str| common::serve::count(&url, sql);
    assert_eq!(count("SELECT count(*) FROM dead_letters").await, 1);
    assert_eq!(
        count("SELECT count(*) FROM raw_events WHERE source = 'api'").await,
        12
    );
    let scored = "SELECT count(*) FROM scores WHERE transaction_id IN \
                  (SELECT transaction_id FROM raw_events WHERE source = 'api')";
    assert_eq!(count(scored).await, 12);
}
