//! API keys and the audit trail: admin actions need a key and are recorded
//! under its id, read endpoints can be protected too, and oversized or
//! mistyped bodies are refused with a JSON error.

mod common;

use std::collections::BTreeMap;

use actix_web::dev::{Service, ServiceResponse};
use actix_web::{App, test};
use common::{new_transaction, runtime_config, sqlite_url};
use serde_json::{Value, json};
use vigil::http::{ApiKeys, AppState, configure};
use vigil_actors::Runtime;

async fn started_runtime(dir: &tempfile::TempDir) -> Runtime {
    let runtime = Runtime::start(runtime_config(&sqlite_url(dir)))
        .await
        .unwrap();
    runtime.ready().await.unwrap();
    runtime
}

/// The API with keys `ops` and `lab`.
async fn app_with_keys(
    runtime: &Runtime,
    protect_reads: bool,
    max_body: usize,
) -> impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error> + use<>
{
    let keys = BTreeMap::from([
        ("ops".to_owned(), "ops-key".to_owned()),
        ("lab".to_owned(), "lab-key".to_owned()),
    ]);
    let state = AppState::of(runtime, None).with_api_keys(ApiKeys::new(None, keys, protect_reads));
    test::init_service(App::new().configure(configure(state, max_body))).await
}

async fn call(
    app: &impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
    method: &str,
    uri: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = match method {
        "GET" => test::TestRequest::get(),
        _ => test::TestRequest::post(),
    }
    .uri(uri);
    if let Some(key) = key {
        request = request.insert_header(("Authorization", format!("Bearer {key}")));
    }
    if let Some(body) = body {
        request = request.set_json(body);
    }
    let response = test::call_service(app, request.to_request()).await;
    let status = response.status().as_u16();
    let body = test::read_body(response).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[actix_rt::test]
async fn admin_actions_are_audited_under_the_key_that_authorised_them() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = started_runtime(&dir).await;
    let app = app_with_keys(&runtime, false, 65536).await;

    // A stored transaction to label (no model yet: kept, not decided).
    let transaction = new_transaction("u1", 40.0);
    let id = transaction["transaction_id"].as_str().unwrap().to_owned();
    let (status, _) = call(
        &app,
        "POST",
        "/score",
        None,
        Some(json!({"transaction": transaction})),
    )
    .await;
    assert_eq!(status, 503);

    let label = json!({"transaction_id": id, "is_fraud": true, "source": "analyst"});
    let (status, body) = call(&app, "POST", "/labels", None, Some(label.clone())).await;
    assert_eq!(status, 401, "{body}");
    assert!(body["error"].is_string());
    let (status, _) = call(&app, "POST", "/labels", Some("lab-ke"), Some(label.clone())).await;
    assert_eq!(status, 401);
    let (status, created) = call(&app, "POST", "/labels", Some("lab-key"), Some(label)).await;
    assert_eq!(status, 201, "{created}");

    let (status, _) = call(&app, "POST", "/models/7/promote", Some("ops-key"), None).await;
    assert_eq!(status, 404);
    let (status, _) = call(&app, "POST", "/drift/run", None, None).await;
    assert_eq!(status, 401);
    let (status, body) = call(&app, "POST", "/drift/run", Some("ops-key"), None).await;
    assert_eq!(status, 200, "{body}");

    let (status, _) = call(&app, "GET", "/audit", None, None).await;
    assert_eq!(status, 401);
    let (status, entries) = call(&app, "GET", "/audit", Some("ops-key"), None).await;
    assert_eq!(status, 200, "{entries}");
    let summary: Vec<(String, String, String, String)> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let field = |name: &str| e[name].as_str().unwrap().to_owned();
            (
                field("key_id"),
                field("action"),
                field("target"),
                field("outcome"),
            )
        })
        .collect();
    // Newest first; refused requests left no trace.
    assert_eq!(
        summary,
        vec![
            (
                "ops".into(),
                "drift.run".into(),
                "drift".into(),
                "ok".into()
            ),
            (
                "ops".into(),
                "model.promote".into(),
                "7".into(),
                "failed: no such model version".into()
            ),
            ("lab".into(), "label.create".into(), id.clone(), "ok".into()),
        ]
    );

    let (_, labels) = call(
        &app,
        "GET",
        &format!("/audit?action=label.create&target={id}"),
        Some("lab-key"),
        None,
    )
    .await;
    let entry = &labels[0];
    assert_eq!(entry["detail"]["label_id"], created["label_id"]);
    assert_eq!(entry["detail"]["is_fraud"], true);
    let (status, _) = call(&app, "GET", "/audit?limit=0", Some("ops-key"), None).await;
    assert_eq!(status, 400);
}

#[actix_rt::test]
async fn protected_reads_need_a_key_but_health_and_metrics_stay_open() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = started_runtime(&dir).await;
    let open = app_with_keys(&runtime, false, 65536).await;
    let protected = app_with_keys(&runtime, true, 65536).await;

    for uri in ["/alerts", "/models", "/drift/history", "/health/actors"] {
        let (status, _) = call(&open, "GET", uri, None, None).await;
        assert_eq!(status, 200, "{uri} open");
        let (status, body) = call(&protected, "GET", uri, None, None).await;
        assert_eq!(status, 401, "{uri} protected");
        assert!(body["error"].is_string(), "{body}");
        let (status, _) = call(&protected, "GET", uri, Some("lab-key"), None).await;
        assert_eq!(status, 200, "{uri} with a key");
    }
    let transaction = json!({"transaction": new_transaction("u2", 5.0)});
    let (status, _) = call(&protected, "POST", "/score", None, Some(transaction)).await;
    assert_eq!(status, 401);
    let (status, _) = call(&protected, "GET", "/health", None, None).await;
    assert_ne!(status, 401);
    let (status, _) = call(&protected, "GET", "/metrics", None, None).await;
    assert_eq!(status, 200);
}

#[actix_rt::test]
async fn oversized_and_mistyped_bodies_get_a_json_4xx_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = started_runtime(&dir).await;
    let app = app_with_keys(&runtime, false, 1024).await;

    let mut big = new_transaction("u3", 1.0);
    big["user_id"] = json!("x".repeat(2000));
    let id: uuid::Uuid = big["transaction_id"].as_str().unwrap().parse().unwrap();
    let (status, body) = call(
        &app,
        "POST",
        "/score",
        None,
        Some(json!({"transaction": big})),
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert!(body["error"].is_string());
    assert!(!runtime.store.has_transaction(id).await.unwrap());

    let request = test::TestRequest::post()
        .uri("/score")
        .insert_header(("Content-Type", "text/plain"))
        .set_payload(r#"{"transaction_id": "00000000-0000-0000-0000-000000000000"}"#)
        .to_request();
    let response = test::call_service(&app, request).await;
    assert_eq!(response.status().as_u16(), 415);
    let body: Value = serde_json::from_slice(&test::read_body(response).await).unwrap();
    assert!(body["error"].is_string(), "{body}");
}

#[actix_rt::test]
async fn every_endpoint_refuses_an_oversized_body_with_a_json_413_and_does_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = started_runtime(&dir).await;
    let app = app_with_keys(&runtime, false, 1024).await;
    // Valid JSON, merely too large: only the size can be the reason.
    let body = json!({"padding": "x".repeat(2048)}).to_string();
    for (method, path) in common::openapi::ROUTES {
        let uri = path
            .replace("{version}", "1")
            .replace("{name}", "model.json");
        let request = match method {
            "GET" => test::TestRequest::get(),
            _ => test::TestRequest::post(),
        }
        .uri(&uri)
        .insert_header(("Authorization", "Bearer ops-key"))
        .insert_header(("Content-Type", "application/json"))
        .set_payload(body.clone())
        .to_request();
        let response = test::call_service(&app, request).await;
        assert_eq!(response.status().as_u16(), 413, "{method} {uri}");
        let answer: Value = serde_json::from_slice(&test::read_body(response).await).unwrap();
        assert!(answer["error"].is_string(), "{method} {uri}: {answer}");
    }
    // Refused before any handler ran: no retrain, no audit entry.
    assert!(runtime.store.models().await.unwrap().is_empty());
    let filter = vigil_actors::store::AuditFilter {
        action: None,
        key_id: None,
        target: None,
        limit: 10,
    };
    assert!(runtime.store.audit_log(&filter).await.unwrap().is_empty());
}

#[actix_rt::test]
async fn the_document_marks_every_protected_read_with_the_key_and_its_401() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = started_runtime(&dir).await;
    let app = app_with_keys(&runtime, true, 65536).await;
    let (status, doc) = call(&app, "GET", "/openapi.json", None, None).await;
    assert_eq!(status, 200);
    for (path, item) in doc["paths"].as_object().unwrap() {
        let open = ["/health", "/metrics", "/openapi.json", "/docs"].contains(&path.as_str());
        for (method, operation) in item.as_object().unwrap() {
            assert_eq!(
                operation.get("security").is_some(),
                !open,
                "{method} {path}"
            );
            assert_eq!(
                operation["responses"].get("401").is_some(),
                !open,
                "{method} {path}"
            );
        }
    }
}

/// Requests without a valid key to `path` with `method`, each with a
/// different body: none, `{}`, malformed JSON, the wrong content type, an
/// oversized one. The answer must be 401 whatever the body.
fn unauthenticated_requests(method: &str, uri: &str) -> Vec<(String, test::TestRequest)> {
    let base = || {
        match method {
            "get" => test::TestRequest::get(),
            _ => test::TestRequest::post(),
        }
        .uri(uri)
    };
    let json = |body: &str| {
        base()
            .insert_header(("Content-Type", "application/json"))
            .set_payload(body.to_owned())
    };
    vec![
        ("no body".into(), base()),
        ("{}".into(), json("{}")),
        ("malformed JSON".into(), json("{\"transaction_id\": ")),
        (
            "text/plain".into(),
            base()
                .insert_header(("Content-Type", "text/plain"))
                .set_payload("hello"),
        ),
        (
            "oversized".into(),
            json(&format!("\"{}\"", "x".repeat(100_000))),
        ),
        (
            "a wrong key".into(),
            json("{}").insert_header(("Authorization", "Bearer not-a-key")),
        ),
    ]
}

/// Every operation the document secures answers 401 to a request without
/// a valid key, whatever its body, and nothing runs: admin routes, and
/// with protected reads every route but the open ones.
#[actix_rt::test]
async fn every_protected_route_answers_401_whatever_the_body() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = started_runtime(&dir).await;
    for protect_reads in [false, true] {
        let app = app_with_keys(&runtime, protect_reads, 1024).await;
        let (_, doc) = call(&app, "GET", "/openapi.json", None, None).await;
        let mut secured = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                if operation.get("security").is_none() {
                    continue;
                }
                secured += 1;
                let uri = path
                    .replace("{version}", "1")
                    .replace("{name}", "model.json");
                for (what, request) in unauthenticated_requests(method, &uri) {
                    let response = test::call_service(&app, request.to_request()).await;
                    let status = response.status().as_u16();
                    let body: Value = serde_json::from_slice(&test::read_body(response).await)
                        .unwrap_or_default();
                    assert_eq!(status, 401, "{method} {uri} with {what}: {body}");
                    assert!(
                        body["error"].is_string(),
                        "{method} {uri} with {what}: {body}"
                    );
                }
            }
        }
        // retrain, promote, labels, drift run (GET and POST), audit; with
        // protected reads every other route but the open ones too.
        assert!(secured >= if protect_reads { 15 } else { 6 }, "{secured}");
    }
    // Refused before any handler ran: no retrain, no label, no audit entry.
    assert!(runtime.store.models().await.unwrap().is_empty());
    let filter = vigil_actors::store::AuditFilter {
        action: None,
        key_id: None,
        target: None,
        limit: 10,
    };
    assert!(runtime.store.audit_log(&filter).await.unwrap().is_empty());
}

/// Over a real socket: a request that announces a body and never sends it
/// gets its 401 at once, which it could not if the server read the body
/// first (it would wait for the body until the client gave up).
#[actix_rt::test]
async fn a_protected_route_answers_401_without_waiting_for_the_body() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = started_runtime(&dir).await;
    let keys = BTreeMap::from([("ops".to_owned(), "ops-key".to_owned())]);
    let state = AppState::of(&runtime, None).with_api_keys(ApiKeys::new(None, keys, false));
    let server =
        actix_web::HttpServer::new(move || App::new().configure(configure(state.clone(), 65536)))
            .workers(1)
            .bind("127.0.0.1:0")
            .unwrap();
    let addr = server.addrs()[0];
    actix_rt::spawn(server.run());
    for path in [
        "/labels",
        "/models/1/promote",
        "/models/retrain",
        "/drift/run",
    ] {
        // A blocking client on a thread of its own: this one runs the
        // server's accept loop.
        let answer = tokio::task::spawn_blocking(move || {
            use std::io::{Read, Write};
            let mut stream = std::net::TcpStream::connect(addr).unwrap();
            stream
                .set_read_timeout(Some(std::time::Duration::from_secs(5)))
                .unwrap();
            let head = format!(
                "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
                 Content-Length: 100\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).unwrap();
            let mut answer = vec![0u8; 512];
            let read = stream.read(&mut answer).unwrap_or_else(|e| {
                panic!("{path}: no answer without the body ({e}): the body was waited for")
            });
            String::from_utf8_lossy(&answer[..read]).into_owned()
        })
        .await
        .unwrap();
        assert!(answer.starts_with("HTTP/1.1 401"), "{path}: {answer}");
    }
    assert!(runtime.store.models().await.unwrap().is_empty());
}
