//! Typed messages between actors. Data are nouns (`TransactionBatch`,
//! `LabelBatch`, `FeatureBatch`), commands are verbs (`Backfill`, `Tick`), plus the shared
//! liveness probe `Healthz`.
//!
//! Every message's result is `Result<Reply, Undelivered>`: a sender learns
//! whether its message was handled or dead-lettered.

mod control;
mod data;

pub use control::{
    Backfill, BackfillReport, CheckDrift, Healthz, OwnPartitions, Promote, PromoteOutcome,
    PromoteTrained, Retrain, SwapModel, Tick, TrainingOutcome,
};
pub use data::{EventSource, FeatureBatch, LabelBatch, Scored, TransactionBatch};
