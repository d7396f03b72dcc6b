//! Commands and probes.

use std::time::Duration;

use actix::Message;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::Undelivered;

/// Liveness probe: answered once the actor's worker exists and its mailbox
/// is moving.
#[derive(Debug, Clone, Copy, Serialize, Message)]
#[rtype(result = "Result<(), Undelivered>")]
pub struct Healthz;

/// Generate simulated history from `from` to `to` as fast as the store
/// takes it, then continue live from `to`.
#[derive(Debug, Clone, Copy, Serialize, Message)]
#[rtype(result = "Result<BackfillReport, Undelivered>")]
pub struct Backfill {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// What a backfill produced.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BackfillReport {
    pub transactions: u64,
    pub labels: u64,
    pub elapsed: Duration,
}

/// Produce the live events that are due by now.
#[derive(Debug, Clone, Copy, Serialize, Message)]
#[rtype(result = "Result<u64, Undelivered>")]
pub struct Tick;
