//! The HTTP API (actix-web). One file per resource.

mod error;
mod health;
mod metrics;

use std::sync::Arc;

use actix_web::web;
use vigil_actors::Runtime;
use vigil_actors::health::HealthRegistry;
use vigil_actors::metrics::Metrics;
use vigil_actors::store::Store;

pub use error::ApiError;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub health: Arc<HealthRegistry>,
    pub metrics: Arc<Metrics>,
}

impl AppState {
    /// The state of a running runtime.
    pub fn of(runtime: &Runtime) -> AppState {
        AppState {
            store: runtime.store.clone(),
            health: runtime.health.clone(),
            metrics: runtime.metrics.clone(),
        }
    }
}

/// Registers every route, the shared state and the JSON error handling.
pub fn configure(state: AppState, max_body_bytes: usize) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(web::Data::new(state))
            .app_data(error::json_config(max_body_bytes))
            .app_data(error::query_config())
            .app_data(error::path_config())
            .service(health::summary)
            .service(health::actors)
            .service(metrics::prometheus)
            .default_service(web::to(error::not_found));
    }
}
