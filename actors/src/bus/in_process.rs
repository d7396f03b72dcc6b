//! The in-process bus: actor messages to each consumer, awaited, so a slow
//! consumer slows the publisher (backpressure) instead of filling memory.
//!
//! Consumers get a batch one after the other, in the order they
//! subscribed, each only once the previous one has handled it.
//! Transactions go to the Decider alone, which stores their raw events in
//! the same database transaction as their features, scores and alerts, so
//! that nothing is answered before it is in the audit log and a crash
//! cannot split them. Labels go to the audit log (RawStore) first, then
//! to the Decider: after a crash the stored labels are the whole truth and
//! start-up recovery counts those the state had not (see
//! `crate::recovery`), as Kafka's committed offsets do in Kafka mode.

use crate::error::Undelivered;
use crate::messages::{LabelBatch, TransactionBatch};
use crate::supervisor::Link;

/// Hands each batch to every subscribed consumer, in order.
#[derive(Clone, Default)]
pub struct InProcessBus {
    transactions: Vec<Link<TransactionBatch>>,
    labels: Vec<Link<LabelBatch>>,
}

impl InProcessBus {
    /// Adds a consumer of transactions.
    pub fn subscribe_transactions(&mut self, link: Link<TransactionBatch>) {
        self.transactions.push(link);
    }

    /// Adds a consumer of labels.
    pub fn subscribe_labels(&mut self, link: Link<LabelBatch>) {
        self.labels.push(link);
    }

    pub(super) async fn publish(&self, batch: TransactionBatch) -> Result<(), Undelivered> {
        for link in &self.transactions {
            link.send(batch.clone()).await?;
        }
        Ok(())
    }

    pub(super) async fn publish_labels(&self, batch: LabelBatch) -> Result<(), Undelivered> {
        for link in &self.labels {
            link.send(batch.clone()).await?;
        }
        Ok(())
    }
}
