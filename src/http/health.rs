//! `GET /health` and `GET /health/actors`.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;
use vigil_actors::bus::kafka::KafkaSnapshot;
use vigil_actors::health::{ActorSnapshot, ActorState};

use super::AppState;

/// The overall verdict of `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthSummary {
    status: Verdict,
    /// Why it is unhealthy; empty when healthy.
    reasons: Vec<String>,
    store: StoreState,
    /// Each actor's state, by name.
    actors: BTreeMap<String, ActorState>,
    /// Broker reachability; `null` unless running on Kafka.
    kafka: Option<KafkaState>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum Verdict {
    Ok,
    Unhealthy,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum StoreState {
    Ok,
    Unavailable,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum KafkaState {
    Ok,
    Unreachable,
}

/// 200 when the store answers and no actor has failed, 503 with the
/// reasons otherwise.
#[utoipa::path(
    operation_id = "health",
    tag = "health",
    responses(
        (status = 200, description = "Healthy", body = HealthSummary),
        (status = 503, description = "The store is unavailable, an actor has failed or no broker is reachable", body = HealthSummary),
    )
)]
#[get("/health")]
pub async fn summary(state: web::Data<AppState>) -> HttpResponse {
    let report = vigil_actors::health::report(&state.store, &state.health).await;
    let body = HealthSummary {
        status: if report.healthy {
            Verdict::Ok
        } else {
            Verdict::Unhealthy
        },
        store: if report.store == "ok" {
            StoreState::Ok
        } else {
            StoreState::Unavailable
        },
        actors: report
            .actors
            .iter()
            .map(|a| (a.name.to_owned(), a.state))
            .collect(),
        kafka: report.kafka.as_ref().map(|k| {
            if k.reachable {
                KafkaState::Ok
            } else {
                KafkaState::Unreachable
            }
        }),
        reasons: report.reasons,
    };
    if report.healthy {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Every actor's health record and, in Kafka mode, the clients' status.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActorsReport {
    actors: Vec<ActorSnapshot>,
    /// `null` unless running on Kafka.
    kafka: Option<KafkaSnapshot>,
}

/// The health registry: state, restarts, last error, processed messages,
/// mailbox depth and last activity of every actor; in Kafka mode also the
/// broker's reachability and the lag of each consumer group and partition.
#[utoipa::path(
    operation_id = "actor_health",
    tag = "health",
    responses((status = 200, description = "The health registry", body = ActorsReport))
)]
#[get("/health/actors")]
pub async fn actors(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(ActorsReport {
        actors: state.health.snapshot(),
        kafka: state.health.kafka(),
    })
}
