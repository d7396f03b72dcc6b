//! The bus carries transactions and labels from their sources (producer,
//! API, replay) to the actors that consume them: in-process actor
//! messages by default, Kafka when brokers are configured.

mod in_process;
pub mod kafka;

pub use in_process::InProcessBus;
pub use kafka::KafkaPublisher;

use crate::error::Undelivered;
use crate::messages::{LabelBatch, TransactionBatch};

/// Where events are published.
#[derive(Clone)]
pub enum Bus {
    InProcess(InProcessBus),
    Kafka(KafkaPublisher),
}

impl Bus {
    /// Publishes transactions. In process, returns once every consumer has
    /// handled them; on Kafka, once the broker has acknowledged them (the
    /// consumer groups process them afterwards).
    pub async fn publish(&self, batch: TransactionBatch) -> Result<(), Undelivered> {
        match self {
            Bus::InProcess(bus) => bus.publish(batch).await,
            Bus::Kafka(kafka) => kafka.publish(&batch).await,
        }
    }

    /// Publishes labels, with the same guarantee as [`Bus::publish`].
    pub async fn publish_labels(&self, batch: LabelBatch) -> Result<(), Undelivered> {
        match self {
            Bus::InProcess(bus) => bus.publish_labels(batch).await,
            Bus::Kafka(kafka) => kafka.publish_labels(&batch).await,
        }
    }

    /// Whether `publish` returns only after the events were processed.
    pub fn processes_before_returning(&self) -> bool {
        matches!(self, Bus::InProcess(_))
    }
}
