//! The bus carries transactions and labels from their sources (producer,
//! API, replay) to the actors that consume them.

mod in_process;

pub use in_process::InProcessBus;

use crate::error::Undelivered;
use crate::messages::{LabelBatch, TransactionBatch};

/// Where events are published. In-process actor messages by default.
#[derive(Clone)]
pub enum Bus {
    InProcess(InProcessBus),
}

impl Bus {
    /// Publishes transactions and waits until every consumer has them.
    pub async fn publish(&self, batch: TransactionBatch) -> Result<(), Undelivered> {
        match self {
            Bus::InProcess(bus) => bus.publish(batch).await,
        }
    }

    /// Publishes labels and waits until every consumer has them.
    pub async fn publish_labels(&self, batch: LabelBatch) -> Result<(), Undelivered> {
        match self {
            Bus::InProcess(bus) => bus.publish_labels(batch).await,
        }
    }
}
