//! `GET /health` and `GET /health/actors`.

use actix_web::{HttpResponse, get, web};
use serde_json::json;

use super::AppState;

/// 200 when the store answers and no actor has failed, 503 with the
/// reasons otherwise.
#[get("/health")]
pub async fn summary(state: web::Data<AppState>) -> HttpResponse {
    let report = vigil_actors::health::report(&state.store, &state.health).await;
    let body = json!({
        "status": if report.healthy { "ok" } else { "unhealthy" },
        "reasons": report.reasons,
        "store": report.store,
        "actors": report.actors.iter().map(|a| (a.name, a.state)).collect::<std::collections::BTreeMap<_, _>>(),
        "kafka": report.kafka.as_ref().map(|k| if k.reachable { "ok" } else { "unreachable" }),
    });
    if report.healthy {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// The health registry: state, restarts, last error, processed messages,
/// mailbox depth and last activity of every actor; in Kafka mode also the
/// broker's reachability and the lag of each consumer group and partition.
#[get("/health/actors")]
pub async fn actors(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "actors": state.health.snapshot(),
        "kafka": state.health.kafka(),
    }))
}
