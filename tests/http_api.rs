//! `/health`, `/health/actors`, `/metrics`, JSON errors, and the OpenAPI
//! document (`/openapi.json`, `/docs`) against what the app serves.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::Method;
use actix_web::{App, test};
use common::openapi::{ROUTES, assert_conforms, schema, validate};
use common::{
    app, new_transaction, runtime_config, sqlite_url, trained_config, trained_runtime, wait_until,
};
use serde_json::{Value, json};
use vigil::http::{AppState, configure};
use vigil_actors::Runtime;

/// The endpoints that take the admin key.
const ADMIN: [(&str, &str); 6] = [
    ("POST", "/models/retrain"),
    ("POST", "/models/{version}/promote"),
    ("POST", "/labels"),
    ("POST", "/drift/run"),
    ("GET", "/drift/run"),
    ("GET", "/audit"),
];

/// Status, content type and body of one request.
async fn call(
    app: &impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
    method: &str,
    uri: &str,
    body: Option<Value>,
    key: Option<&str>,
) -> (u16, String, Vec<u8>) {
    let mut request = test::TestRequest::default()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(uri);
    if let Some(body) = body {
        request = request.set_json(body);
    }
    if let Some(key) = key {
        request = request.insert_header(("Authorization", format!("Bearer {key}")));
    }
    let response = test::call_service(app, request.to_request()).await;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (
        status,
        content_type,
        test::read_body(response).await.to_vec(),
    )
}

async fn document(
    app: &impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
) -> Value {
    let (status, content_type, body) = call(app, "GET", "/openapi.json", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/json");
    serde_json::from_slice(&body).expect("/openapi.json is JSON")
}

/// (METHOD, path) of every operation in `doc`.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let methods = [
        "get", "put", "post", "delete", "patch", "head", "options", "trace",
    ];
    doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            methods
                .iter()
                .filter(|m| item.get(**m).is_some())
                .map(|m| (m.to_uppercase(), path.clone()))
        })
        .collect()
}

fn set(routes: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    routes
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect()
}

#[actix_rt::test]
async fn the_document_lists_exactly_the_served_routes_and_describes_their_answers() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::start(runtime_config(&sqlite_url(&dir)))
        .await
        .unwrap();
    runtime.ready().await.unwrap();
    let app = app(&runtime, None).await;
    let doc = document(&app).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    assert_eq!(operations(&doc), set(&ROUTES));

    // Each is served (not the catch-all 404), and whatever it answers on
    // an empty store without a model is an answer the document describes.
    for (method, path) in ROUTES {
        let uri = path
            .replace("{version}", "1")
            .replace("{name}", "roc_curve.svg");
        let (status, content_type, body) = call(&app, method, &uri, None, None).await;
        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        assert_ne!(json["error"], "no such endpoint", "{method} {uri}");
        assert_conforms(&doc, method, path, status, &content_type, &body);
    }

    // Without a key configured, nothing is documented as protected.
    assert!(
        doc["components"]["securitySchemes"]
            .get("api_key")
            .is_none()
    );
    for (method, path) in &ROUTES {
        let op = common::openapi::operation(&doc, method, path);
        assert!(op.get("security").is_none(), "{method} {path}");
        assert!(op["responses"].get("401").is_none(), "{method} {path}");
    }
}

#[actix_rt::test]
async fn with_a_key_the_admin_endpoints_are_documented_as_bearer_protected() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::start(runtime_config(&sqlite_url(&dir)))
        .await
        .unwrap();
    runtime.ready().await.unwrap();
    let app = app(&runtime, Some("s3cret")).await;
    let doc = document(&app).await;
    let scheme = &doc["components"]["securitySchemes"]["api_key"];
    assert_eq!(scheme["type"], "http", "{scheme}");
    assert_eq!(scheme["scheme"], "bearer", "{scheme}");
    let protected: BTreeSet<_> = operations(&doc)
        .into_iter()
        .filter(|(m, p)| {
            common::openapi::operation(&doc, m, p)
                .get("security")
                .is_some()
        })
        .collect();
    assert_eq!(protected, set(&ADMIN));
    for (method, path) in ADMIN {
        let uri = path.replace("{version}", "1");
        let body = (path == "/labels")
            .then(|| json!({"transaction_id": uuid::Uuid::new_v4(), "is_fraud": true}));
        let (status, content_type, body) = call(&app, method, &uri, body, None).await;
        assert_eq!(status, 401, "{method} {uri}");
        assert_conforms(&doc, method, path, status, &content_type, &body);
    }
}

/// The docs page and every asset it loads are served by Vigil, and the
/// page reads the document from `/openapi.json` (scripts/check-docs renders
/// it in headless Chromium without internet).
#[actix_rt::test]
async fn docs_serve_an_html_page_and_its_assets_for_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::start(runtime_config(&sqlite_url(&dir)))
        .await
        .unwrap();
    let app = app(&runtime, None).await;
    let (status, content_type, body) = call(&app, "GET", "/docs", None, None).await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = String::from_utf8(body).unwrap();
    assert!(html.contains("<base href=\"/docs/\">"), "{html}");
    for asset in [
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-initializer.js",
    ] {
        assert!(html.contains(asset), "{asset} not loaded by {html}");
        let (status, _, body) = call(&app, "GET", &format!("/docs/{asset}"), None, None).await;
        assert_eq!(status, 200, "{asset}");
        let text = String::from_utf8_lossy(&body);
        if asset == "swagger-initializer.js" {
            assert!(text.contains("\"/openapi.json\""), "{text}");
        }
    }
    let (status, _, _) = call(&app, "GET", "/docs/no-such-asset.js", None, None).await;
    assert_eq!(status, 404);
}

#[actix_rt::test]
async fn the_score_request_schema_requires_what_the_handler_requires() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::start(runtime_config(&sqlite_url(&dir)))
        .await
        .unwrap();
    runtime.ready().await.unwrap();
    let app = app(&runtime, None).await;
    let doc = document(&app).await;
    let request = schema(&doc, "ScoreRequest");
    let branches: Vec<&Value> = request["oneOf"].as_array().expect("oneOf").iter().collect();
    let required: BTreeSet<&str> = branches
        .iter()
        .map(|b| {
            let r = b["required"].as_array().expect("required");
            assert_eq!(r.len(), 1, "{b}");
            r[0].as_str().unwrap()
        })
        .collect();
    assert_eq!(required, BTreeSet::from(["transaction", "transaction_id"]));

    // A transaction with every documented property; the handler accepts it
    // (503: it is kept, but there is no model to decide it).
    let mut full = new_transaction("u1", 12.5);
    full["merchant_category"] = json!("grocery");
    full["device_id"] = json!("d_1");
    let transaction = schema(&doc, "Transaction");
    let properties: BTreeSet<&str> = transaction["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let sent: BTreeSet<&str> = full
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(properties, sent);
    let required: BTreeSet<&str> = transaction["required"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        required,
        BTreeSet::from([
            "transaction_id",
            "user_id",
            "merchant_id",
            "amount",
            "timestamp"
        ])
    );

    // Dropping a property fails the schema exactly when it fails the handler.
    let mut cases = vec![("everything".to_owned(), json!({"transaction": full}))];
    for property in &properties {
        let mut t = full.clone();
        t["transaction_id"] = json!(uuid::Uuid::new_v4());
        t.as_object_mut().unwrap().remove(*property);
        cases.push((format!("without {property}"), json!({"transaction": t})));
    }
    cases.push(("neither field".to_owned(), json!({})));
    cases.push((
        "both fields".to_owned(),
        json!({"transaction_id": uuid::Uuid::new_v4(), "transaction": new_transaction("u1", 1.0)}),
    ));
    for (case, body) in cases {
        let schema_ok = validate(&doc, request, &body, "$").is_ok();
        let (status, content_type, answer) = call(&app, "POST", "/score", Some(body), None).await;
        assert_conforms(&doc, "POST", "/score", status, &content_type, &answer);
        let handler_ok = status != 422;
        assert_eq!(
            schema_ok,
            handler_ok,
            "{case}: schema says {schema_ok}, handler answered {status} {}",
            String::from_utf8_lossy(&answer)
        );
    }
}

#[actix_rt::test]
async fn a_trained_runtime_answers_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = trained_runtime(&trained_config(&sqlite_url(&dir))).await;
    let key = Some("s3cret");
    let app = app(&runtime, key).await;
    let doc = document(&app).await;
    let check = |method: &'static str, path: &'static str, uri: String, body: Option<Value>| {
        let (app, doc) = (&app, &doc);
        async move {
            let (status, content_type, answer) = call(app, method, &uri, body, key).await;
            assert_conforms(doc, method, path, status, &content_type, &answer);
            (
                status,
                serde_json::from_slice::<Value>(&answer).unwrap_or(Value::Null),
            )
        }
    };

    let transaction = new_transaction("u_000001", 4200.0);
    let id = transaction["transaction_id"].as_str().unwrap().to_owned();
    let (status, scored) = check(
        "POST",
        "/score",
        "/score".into(),
        Some(json!({"transaction": transaction})),
    )
    .await;
    assert_eq!(status, 200, "{scored}");
    let (status, _) = check(
        "POST",
        "/score",
        "/score".into(),
        Some(json!({"transaction_id": id})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, label) = check(
        "POST",
        "/labels",
        "/labels".into(),
        Some(json!({"transaction_id": id, "is_fraud": true, "source": "analyst"})),
    )
    .await;
    assert_eq!(status, 201, "{label}");

    let (_, models) = check("GET", "/models", "/models".into(), None).await;
    let model = &models["models"][0];
    let version = model["version"].as_i64().unwrap();
    check(
        "GET",
        "/models/{version}",
        format!("/models/{version}"),
        None,
    )
    .await;
    let artifacts = model["artifacts"].as_array().unwrap();
    assert!(!artifacts.is_empty(), "{model}");
    for name in artifacts {
        let name = name.as_str().unwrap();
        let (status, _) = check(
            "GET",
            "/models/{version}/artifacts/{name}",
            format!("/models/{version}/artifacts/{name}"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{name}");
    }
    let (status, _) = check(
        "POST",
        "/models/{version}/promote",
        format!("/models/{version}/promote"),
        Some(json!({"reason": "documented"})),
    )
    .await;
    assert_eq!(status, 200);

    check("GET", "/alerts", "/alerts?limit=50".into(), None).await;
    for (method, path) in [
        ("POST", "/drift/run"),
        ("GET", "/drift/status"),
        ("GET", "/drift/report"),
        ("GET", "/drift/stats"),
        ("GET", "/drift/history"),
        ("GET", "/health"),
        ("GET", "/health/actors"),
        ("GET", "/metrics"),
    ] {
        let (status, body) = check(method, path, path.into(), None).await;
        assert_eq!(status, 200, "{method} {path}: {body}");
    }
}

#[actix_rt::test]
async fn health_actors_and_metrics_describe_the_running_system() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = runtime_config(&sqlite_url(&dir));
    config.producer.rate = 200.0;
    let mut runtime = Runtime::start(config).await.unwrap();
    runtime.ready().await.unwrap();
    let metrics = runtime.metrics.clone();
    wait_until("some traffic", Duration::from_secs(10), || {
        let m = metrics.clone();
        async move { m.stream_consumer_messages.get() >= 50 }
    })
    .await;
    runtime.stop_producer().await;
    let app =
        test::init_service(App::new().configure(configure(AppState::of(&runtime, None), 65536)))
            .await;

    let response =
        test::call_service(&app, test::TestRequest::get().uri("/health").to_request()).await;
    assert_eq!(response.status(), 200);
    let health: Value = test::read_body_json(response).await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["store"], "ok");
    assert_eq!(health["actors"]["raw_store"], "running");

    let actors: Value = test::call_and_read_body_json(
        &app,
        test::TestRequest::get().uri("/health/actors").to_request(),
    )
    .await;
    let raw_store = actors["actors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "raw_store")
        .expect("raw_store reported")
        .clone();
    for key in [
        "state",
        "restarts",
        "last_error",
        "processed",
        "mailbox_depth",
        "last_activity",
    ] {
        assert!(raw_store.get(key).is_some(), "missing {key} in {raw_store}");
    }
    assert!(raw_store["processed"].as_u64().unwrap() > 0);
    assert_eq!(raw_store["mailbox_depth"], 0);
    assert!(raw_store["last_activity"].is_string());

    let response =
        test::call_service(&app, test::TestRequest::get().uri("/metrics").to_request()).await;
    assert_eq!(response.status(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = String::from_utf8(test::read_body(response).await.to_vec()).unwrap();
    let produced = runtime.metrics.transactions_produced.get();
    assert!(
        text.contains(&format!("fraud_transactions_produced_total {produced}")),
        "{text}"
    );
    for name in [
        "fraud_producer_errors_total",
        "fraud_stream_consumer_messages_total",
        "fraud_actor_restarts_total",
        "fraud_actor_mailbox_depth{actor=\"raw_store\"}",
    ] {
        assert!(text.contains(name), "{name} missing from /metrics");
    }
}

#[actix_rt::test]
async fn unknown_paths_get_a_json_404() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::start(runtime_config(&sqlite_url(&dir)))
        .await
        .unwrap();
    let app =
        test::init_service(App::new().configure(configure(AppState::of(&runtime, None), 65536)))
            .await;
    let response =
        test::call_service(&app, test::TestRequest::get().uri("/nope").to_request()).await;
    assert_eq!(response.status(), 404);
    let body: Value = test::read_body_json(response).await;
    assert_eq!(body["error"], "no such endpoint");
    assert_eq!(body["detail"]["path"], "/nope");
}
