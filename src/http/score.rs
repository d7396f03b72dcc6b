//! `POST /score`: score a stored transaction by id, or ingest a new one
//! through the stream's path (raw event, features, score) and answer with
//! its decision.
//!
//! New transactions go through the decision queue, which publishes those
//! of concurrent requests as one batch (see
//! `vigil_actors::decision_queue`). A stored transaction is answered with
//! its stored decision while the model that made it is served, without
//! writing anything; only under another model is it scored again (and
//! that score stored).

use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::openapi::schema::{AdditionalProperties, OneOfBuilder, Schema, Type};
use utoipa::openapi::{KnownFormat, ObjectBuilder, Ref, RefOr, SchemaFormat};
use utoipa::{PartialSchema, ToSchema};
use uuid::Uuid;
use vigil_actors::decision_queue::{DecideError, Decided};
use vigil_actors::messages::{FeatureBatch, Scored};
use vigil_actors::store::entity::score as score_row;
use vigil_core::Transaction;
use vigil_core::model::decision::Decision;
use vigil_core::model::explain::RiskFactor;

use super::error::ErrorBody;
use super::intake::RETRY_AFTER_SECONDS;
use super::{ApiError, AppState};

/// Either `transaction_id` (stored) or `transaction` (new), not both.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreRequest {
    transaction_id: Option<Uuid>,
    transaction: Option<Transaction>,
}

/// Written by hand: the struct admits any combination of its two optional
/// fields, the handler exactly one (the other absent or `null`), which
/// `oneOf` can say and a derived schema cannot.
impl PartialSchema for ScoreRequest {
    fn schema() -> RefOr<Schema> {
        let null = || ObjectBuilder::new().schema_type(Type::Null);
        let stored = ObjectBuilder::new()
            .description(Some("Score a transaction Vigil has already processed"))
            .property(
                "transaction_id",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))),
            )
            .required("transaction_id")
            .property("transaction", null())
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        let new = ObjectBuilder::new()
            .description(Some("Ingest a new transaction and score it"))
            .property("transaction", Ref::from_schema_name(Transaction::name()))
            .required("transaction")
            .property("transaction_id", null())
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        OneOfBuilder::new().item(stored).item(new).into()
    }
}

impl ToSchema for ScoreRequest {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((Transaction::name().into(), Transaction::schema()));
        <Transaction as ToSchema>::schemas(schemas);
    }
}

/// A decision with its reasons.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScoreResponse {
    transaction_id: Uuid,
    fraud_probability: f64,
    anomaly_score: f64,
    // Stored scores hold `Decision::as_str` names.
    #[schema(value_type = Decision)]
    decision: String,
    // Stored scores hold the scorer's serialized risk factors.
    #[schema(value_type = Vec<RiskFactor>)]
    risk_factors: Value,
    /// Time this request took inside Vigil.
    processing_time_ms: f64,
    model_version: i32,
    /// When the score was computed.
    timestamp: DateTime<Utc>,
}

#[utoipa::path(
    operation_id = "score",
    tag = "scoring",
    request_body = ScoreRequest,
    responses(
        (status = 200, description = "The decision", body = ScoreResponse),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 404, description = "No transaction with this `transaction_id` has been processed", body = ErrorBody),
        (status = 413, description = "The body is larger than `http.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 422, description = "The body does not match the schema, sends both or neither field, or the transaction is invalid", body = ErrorBody),
        (status = 503, description = "Vigil is starting (recovery, backfill) or stopping, no model is in production yet, the pipeline is unavailable, or on Kafka the stream did not process the transaction within 10 s; with `Retry-After`", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds after which to try again"))),
    )
)]
#[post("/score")]
pub async fn score(
    state: web::Data<AppState>,
    body: web::Json<ScoreRequest>,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    refuse_while_starting(&state)?;
    let mut response = match body.into_inner() {
        ScoreRequest {
            transaction_id: Some(id),
            transaction: None,
        } => score_stored(&state, id).await?,
        ScoreRequest {
            transaction_id: None,
            transaction: Some(t),
        } => score_new(&state, t).await?,
        _ => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "send exactly one of `transaction_id` and `transaction`",
            ));
        }
    };
    response.processing_time_ms = started.elapsed().as_secs_f64() * 1e3;
    Ok(HttpResponse::Ok().json(response))
}

/// The decision on a stored transaction: the stored one when the served
/// model made it (from memory when recently answered), else a new one.
async fn score_stored(state: &AppState, id: Uuid) -> Result<ScoreResponse, ApiError> {
    if let Some(row) = state.decisions.get(id) {
        return Ok(from_row(row));
    }
    if state.decisions.served().is_some() {
        if let Some(row) = state.store.latest_score(id).await? {
            if state.decisions.keep_if_current(&row) {
                return Ok(from_row(row));
            }
        }
    }
    rescore(state, id).await
}

/// Scores a stored transaction with the served model, which stores the
/// score.
async fn rescore(state: &AppState, id: Uuid) -> Result<ScoreResponse, ApiError> {
    let Some((transaction, features)) = state.store.featurized_transaction(id).await? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no transaction with this id has been processed",
        )
        .with_detail(json!({"transaction_id": id})));
    };
    let scores = state
        .decider
        .send(FeatureBatch {
            rows: vec![(transaction, features)],
        })
        .await
        .map_err(unavailable)?;
    scores
        .into_iter()
        .next()
        .map(from_scored)
        .ok_or_else(no_model)
}

async fn score_new(state: &AppState, transaction: Transaction) -> Result<ScoreResponse, ApiError> {
    transaction.validate().map_err(|e| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid transaction")
            .with_detail(json!(e.to_string()))
    })?;
    let id = transaction.transaction_id;
    // A known id (a retried request) is not processed twice: its stored
    // score answers; without one (no model yet), the stored features do.
    let stored = match state.decision_queue.decide(transaction).await {
        Ok(Decided::Processed(stored)) => stored,
        Ok(Decided::Published) => {
            // On Kafka the consumer groups (of this or another process)
            // process it after the broker's acknowledgement: wait for its
            // score.
            await_processed(state, id).await?;
            state.store.latest_score(id).await?
        }
        Err(e) => return Err(not_decided(e)),
    };
    match stored {
        Some(row) => {
            state.decisions.keep_if_current(&row);
            Ok(from_row(row))
        }
        None => score_stored(state, id).await,
    }
}

fn not_decided(e: DecideError) -> ApiError {
    match e {
        DecideError::Undelivered(e) => unavailable(e),
        DecideError::Store(reason) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the store is unavailable")
                .with_detail(json!(reason))
                .with_retry_after(RETRY_AFTER_SECONDS)
        }
        DecideError::Stopped => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "vigil is stopping: the decision queue takes no new transactions",
        )
        .with_retry_after(RETRY_AFTER_SECONDS),
    }
}

/// How long `POST /score` waits for the stream to process a transaction
/// published on Kafka.
const STREAM_WAIT: Duration = Duration::from_secs(10);

/// Polls the store until the transaction has a score, or features while
/// no model is in production (the caller then answers 503).
async fn await_processed(state: &AppState, id: Uuid) -> Result<(), ApiError> {
    let deadline = Instant::now() + STREAM_WAIT;
    let mut pause = Duration::from_millis(2);
    while Instant::now() < deadline {
        if state.store.latest_score(id).await?.is_some() {
            return Ok(());
        }
        if state.metrics.model_version.get() == 0
            && state.store.featurized_transaction(id).await?.is_some()
        {
            return Ok(());
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(50));
    }
    Err(ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "the transaction was published but not processed in time; it will still be scored",
    )
    .with_detail(json!({"transaction_id": id, "waited_seconds": STREAM_WAIT.as_secs()}))
    .with_retry_after(RETRY_AFTER_SECONDS))
}

fn from_scored(s: Scored) -> ScoreResponse {
    ScoreResponse {
        transaction_id: s.transaction_id,
        fraud_probability: s.fraud_probability,
        anomaly_score: s.anomaly_score,
        decision: s.decision.as_str().to_owned(),
        risk_factors: json!(s.risk_factors),
        processing_time_ms: 0.0,
        model_version: s.model_version,
        timestamp: s.scored_at,
    }
}

fn from_row(row: score_row::Model) -> ScoreResponse {
    ScoreResponse {
        transaction_id: row.transaction_id,
        fraud_probability: row.fraud_probability,
        anomaly_score: row.anomaly_score,
        decision: row.decision,
        risk_factors: row.risk_factors,
        processing_time_ms: 0.0,
        model_version: row.model_version,
        timestamp: row.scored_at,
    }
}

fn no_model() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "no model is in production yet: train one with POST /models/retrain",
    )
    .with_retry_after(RETRY_AFTER_SECONDS)
}

/// New events wait until recovery and the backfill are done: they would
/// reach the feature state before older ones.
pub(super) fn refuse_while_starting(state: &AppState) -> Result<(), ApiError> {
    if state.lifecycle.accepts_events() {
        return Ok(());
    }
    let lifecycle = state.lifecycle.snapshot();
    Err(ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "vigil is not taking events yet (or any more): see GET /health",
    )
    .with_detail(json!({"phase": lifecycle.phase, "progress": lifecycle.progress}))
    .with_retry_after(RETRY_AFTER_SECONDS))
}

fn unavailable(e: vigil_actors::Undelivered) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "the pipeline could not process the request",
    )
    .with_detail(json!(e))
    .with_retry_after(RETRY_AFTER_SECONDS)
}
