//! The HTTP API (actix-web). One file per resource.

mod access;
mod alerts;
mod audit;
mod auth;
mod body_limit;
mod drift;
mod drift_report;
mod error;
mod health;
mod intake;
mod labels;
mod metrics;
mod models;
mod openapi;
mod route_table;
mod score;

use std::sync::Arc;

use actix_web::web;
use utoipa_actix_web::service_config::ServiceConfig;
use vigil_actors::Runtime;
use vigil_actors::bus::Bus;
use vigil_actors::decision_queue::DecisionQueue;
use vigil_actors::decisions::Decisions;
use vigil_actors::drift_checker::DriftSettings;
use vigil_actors::health::HealthRegistry;
use vigil_actors::lifecycle::Lifecycle;
use vigil_actors::messages::{CheckDrift, FeatureBatch, Promote, Retrain};
use vigil_actors::metrics::Metrics;
use vigil_actors::store::Store;
use vigil_actors::supervisor::Link;

pub use auth::ApiKeys;
pub use error::ApiError;
pub use intake::Requests;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub health: Arc<HealthRegistry>,
    pub metrics: Arc<Metrics>,
    pub bus: Bus,
    pub decider: Link<FeatureBatch>,
    /// The served model and recently answered stored decisions.
    pub decisions: Arc<Decisions>,
    /// Batches new transactions of `POST /score`.
    pub decision_queue: DecisionQueue,
    pub retrainer: Link<Retrain>,
    pub promoter: Link<Promote>,
    pub drift_checker: Link<CheckDrift>,
    pub drift_settings: DriftSettings,
    /// The API keys, when set: required by admin endpoints (and by read
    /// endpoints when configured so).
    pub api_keys: Arc<ApiKeys>,
    /// Start-up phase and drain.
    pub lifecycle: Arc<Lifecycle>,
    /// Requests being served (a graceful stop waits for them).
    pub requests: Arc<Requests>,
}

impl AppState {
    /// The state of a running runtime, with at most one (unnamed) API key
    /// for the admin endpoints.
    pub fn of(runtime: &Runtime, api_key: Option<String>) -> AppState {
        AppState {
            store: runtime.store.clone(),
            health: runtime.health.clone(),
            metrics: runtime.metrics.clone(),
            bus: runtime.bus.clone(),
            decider: runtime.decider.clone(),
            decisions: runtime.decisions.clone(),
            decision_queue: runtime.decision_queue.clone(),
            retrainer: runtime.retrainer.clone(),
            promoter: runtime.promoter.clone(),
            drift_checker: runtime.drift_checker.clone(),
            drift_settings: runtime.drift_settings.clone(),
            api_keys: Arc::new(ApiKeys::new(api_key, Default::default(), false)),
            lifecycle: runtime.lifecycle.clone(),
            requests: Arc::new(Requests::default()),
        }
    }

    /// The same state with `keys` instead.
    pub fn with_api_keys(self, keys: ApiKeys) -> AppState {
        AppState {
            api_keys: Arc::new(keys),
            ..self
        }
    }
}

/// Registers every route, the shared state, the JSON error handling and
/// the OpenAPI document of those routes.
pub fn configure(state: AppState, max_body_bytes: usize) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        let document = openapi::document(routes, &state.api_keys);
        let route_table = route_table::RouteTable::of(&document);
        cfg.app_data(web::Data::new(state))
            .app_data(web::Data::new(openapi::Docs::new(&document)))
            .app_data(web::Data::new(route_table))
            .app_data(error::json_config(max_body_bytes))
            .app_data(web::Data::new(body_limit::BodyLimit(max_body_bytes)))
            .app_data(error::query_config())
            .app_data(error::path_config())
            .service(
                // The last wrapped runs first: the drain, then the key
                // (before anything reads the body), then the body's size.
                web::scope("")
                    .wrap(actix_web::middleware::from_fn(body_limit::refuse_oversized))
                    .wrap(actix_web::middleware::from_fn(access::require_key))
                    .wrap(actix_web::middleware::from_fn(intake::gate))
                    .configure(|scope| {
                        scope.route("/docs/{file:.*}", web::get().to(openapi::asset));
                        routes(&mut ServiceConfig::new(scope));
                    }),
            )
            .default_service(web::to(error::not_found));
    }
}

/// Every route. Both the server and the OpenAPI document are built from
/// this list, and it only takes handlers annotated with
/// `#[utoipa::path]`: an undocumented route does not compile.
fn routes(cfg: &mut ServiceConfig) {
    cfg.service(health::summary)
        .service(health::actors)
        .service(metrics::prometheus)
        .service(score::score)
        .service(models::list)
        .service(models::retrain)
        .service(models::show)
        .service(models::artifact)
        .service(models::promote)
        .service(alerts::list)
        .service(labels::create)
        .service(drift::status)
        .service(drift::run_post)
        .service(drift::run_get)
        .service(drift::report)
        .service(drift::stats)
        .service(drift::history)
        .service(audit::list)
        .service(openapi::json)
        .service(openapi::page);
}
