//! `GET /health` and `GET /health/actors`.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;
use vigil_actors::bus::kafka::KafkaSnapshot;
use vigil_actors::health::{ActorSnapshot, ActorState, StoreState};
use vigil_actors::lifecycle::{LifecycleSnapshot, Phase, PhaseProgress};

use super::AppState;

/// The overall verdict of `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthSummary {
    status: Verdict,
    /// Where the runtime is: `recovering`, `backfilling`, `training` (the
    /// start-up sequence), `running`, `stopping` or `failed`.
    phase: Phase,
    /// How far the start-up phase has come; `null` when not measured.
    progress: Option<PhaseProgress>,
    /// Why it is not `ok`; empty when it is.
    reasons: Vec<String>,
    store: StoreState,
    /// Each actor's state, by name.
    actors: BTreeMap<String, ActorState>,
    /// Broker reachability; `null` unless running on Kafka.
    kafka: Option<KafkaState>,
}

#[derive(Debug, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum Verdict {
    Ok,
    /// Start-up is not over (the phase says which step).
    Starting,
    /// A graceful stop is under way.
    Stopping,
    Unhealthy,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum KafkaState {
    Ok,
    Unreachable,
}

/// 200 when start-up is over, the store answers and no actor has failed
/// or stalled; 503 with the phase and the reasons otherwise. Answers from
/// the first moment, also during the backfill and the start-up training.
#[utoipa::path(
    operation_id = "health",
    tag = "health",
    responses(
        (status = 200, description = "Healthy", body = HealthSummary),
        (status = 503, description = "Starting (with the phase and its progress), stopping, or unhealthy: the store is unavailable, an actor has failed or stalled, or no broker is reachable", body = HealthSummary),
    )
)]
#[get("/health")]
pub async fn summary(state: web::Data<AppState>) -> HttpResponse {
    let mut report = vigil_actors::health::report(&state.store, &state.health).await;
    let lifecycle = state.lifecycle.snapshot();
    let status = match lifecycle.phase {
        Phase::Failed => {
            let failure = lifecycle.failure.clone().unwrap_or_default();
            report
                .reasons
                .insert(0, format!("start-up failed: {failure}"));
            Verdict::Unhealthy
        }
        Phase::Stopping => Verdict::Stopping,
        _ if !report.healthy => Verdict::Unhealthy,
        Phase::Running => Verdict::Ok,
        Phase::Recovering | Phase::Backfilling | Phase::Training => Verdict::Starting,
    };
    if matches!(status, Verdict::Starting | Verdict::Stopping) {
        report.reasons.insert(0, phase_reason(&lifecycle));
    }
    let body = HealthSummary {
        status,
        phase: lifecycle.phase,
        progress: lifecycle.progress,
        store: report.store,
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
    if body.status == Verdict::Ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Why a starting or stopping runtime is not (yet, any more) healthy.
fn phase_reason(lifecycle: &LifecycleSnapshot) -> String {
    let since = (chrono::Utc::now() - lifecycle.since).num_milliseconds() as f64 / 1e3;
    let what = match lifecycle.phase {
        Phase::Recovering => "finishing the events a crash left in flight",
        Phase::Backfilling => "generating simulated history",
        Phase::Training => "training the first model",
        Phase::Stopping => "stopping: finishing what is in flight, taking no new work",
        Phase::Running | Phase::Failed => "",
    };
    match &lifecycle.progress {
        Some(progress) => format!("{what} for {since:.1} s: {}", progress.detail),
        None => format!("{what} for {since:.1} s"),
    }
}

/// Every actor's health record and, in Kafka mode, the clients' status.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActorsReport {
    /// The start-up phase (or the drain) and its progress.
    lifecycle: LifecycleSnapshot,
    actors: Vec<ActorSnapshot>,
    /// `null` unless running on Kafka.
    kafka: Option<KafkaSnapshot>,
}

/// The health registry: state (`stalled` when an actor has work and made
/// no progress for `supervisor.stall_timeout`), restarts, last error,
/// processed messages, mailbox depth, last activity and progress of every
/// actor (the Kafka consumers included); the start-up phase; in Kafka mode
/// also the broker's reachability and the lag of each consumer group and
/// partition.
#[utoipa::path(
    operation_id = "actor_health",
    tag = "health",
    responses((status = 200, description = "The health registry", body = ActorsReport))
)]
#[get("/health/actors")]
pub async fn actors(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(ActorsReport {
        lifecycle: state.lifecycle.snapshot(),
        actors: state.health.snapshot(),
        kafka: state.health.kafka(),
    })
}
