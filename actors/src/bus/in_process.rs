//! The in-process bus: actor messages to each consumer, awaited, so a slow
//! consumer slows the publisher (backpressure) instead of filling memory.

use futures::future::try_join_all;

use crate::error::Undelivered;
use crate::messages::{LabelBatch, TransactionBatch};
use crate::supervisor::Link;

/// Fans each batch out to every subscribed consumer.
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
        try_join_all(
            self.transactions
                .iter()
                .map(|link| link.send(batch.clone())),
        )
        .await?;
        Ok(())
    }

    pub(super) async fn publish_labels(&self, batch: LabelBatch) -> Result<(), Undelivered> {
        try_join_all(self.labels.iter().map(|link| link.send(batch.clone()))).await?;
        Ok(())
    }
}
