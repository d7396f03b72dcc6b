//! vigil-actors: Vigil's supervised actor runtime.
//!
//! Each actor is a [`supervisor::Worker`] hosted by a
//! [`supervisor::WorkerHost`] that restarts it after an error or a panic,
//! retries the failing message once and dead-letters it after that. The
//! [`runtime::Runtime`] spawns them all and wires them through the bus.

pub mod bus;
pub mod decider;
pub mod decision_queue;
pub mod decisions;
pub mod drift_checker;
pub mod error;
pub mod faults;
pub mod health;
pub mod lifecycle;
pub mod messages;
pub mod metrics;
pub mod mlflow;
pub mod producer;
pub mod promoter;
pub mod raw_store;
pub mod recovery;
pub mod retrainer;
pub mod runtime;
pub mod schedule;
pub mod store;
pub mod supervisor;
pub mod training;
pub mod watchdog;
pub mod webhook;

#[cfg(test)]
mod simulated_day;

pub use error::{ActorError, Undelivered};
pub use health::HealthReport;
pub use runtime::{Runtime, RuntimeConfig, ShutdownReport};
