//! Errors of the actor runtime.

use sea_orm::DbErr;
use serde::Serialize;

/// Why a worker could not handle a message.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ActorError {
    /// The store could not be reached; the message itself is fine, so it is
    /// retried until the store is back instead of being dead-lettered.
    #[error("store unavailable: {0}")]
    StoreUnavailable(String),
    /// The message bus (the Kafka broker) did not take a message in time;
    /// the message is fine, so it is retried until the bus is back.
    #[error("bus unavailable: {0}")]
    BusUnavailable(String),
    /// The store refused the operation.
    #[error("store error: {0}")]
    Store(String),
    /// The worker could not do its job for another reason.
    #[error("{0}")]
    Failed(String),
    /// A fault armed through the `FaultInjector`.
    #[error("injected error")]
    Injected,
    /// The worker panicked; the text is the panic message.
    #[error("panicked: {0}")]
    Panicked(String),
    /// The watchdog aborted a handler that made no progress this long.
    #[error("stalled: no progress for {0:?} with work pending")]
    Stalled(std::time::Duration),
}

impl ActorError {
    /// Transient failures are retried without limit (with backoff); the
    /// others are retried once and then dead-lettered.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ActorError::StoreUnavailable(_) | ActorError::BusUnavailable(_)
        )
    }
}

impl From<DbErr> for ActorError {
    fn from(err: DbErr) -> Self {
        if crate::store::is_unavailable(&err) {
            ActorError::StoreUnavailable(err.to_string())
        } else {
            ActorError::Store(err.to_string())
        }
    }
}

/// The answer a sender gets when its message could not be processed: it was
/// written to `dead_letters` (or the actor is gone), never silently dropped.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[error("{actor} could not process the message: {reason}")]
pub struct Undelivered {
    pub actor: &'static str,
    pub reason: String,
    /// The bus could not take the message for now (a broker out of
    /// reach): sending it again later may succeed. False when a consumer
    /// dead-lettered it.
    #[serde(skip)]
    pub transient: bool,
}
