//! MLflow logging off the training path: the Retrainer hands each run to
//! this queue and moves on, so a slow or unreachable tracking server (a
//! run is retried for minutes) holds up neither the next training nor a
//! promotion. Runs are logged one at a time, in order.

use tokio::sync::mpsc;

use crate::training::{MlflowLog, log_to_mlflow};

/// Runs waiting to be logged at most; a training beyond that is not
/// mirrored to MLflow (Vigil's registry keeps it, and says so in the log).
const CAPACITY: usize = 8;

/// The sending end of the queue.
#[derive(Clone)]
pub struct MlflowQueue {
    sender: mpsc::Sender<MlflowLog>,
}

impl MlflowQueue {
    /// Starts the logging task on `arbiter`.
    pub fn start(arbiter: &actix::dev::ArbiterHandle) -> MlflowQueue {
        let (sender, mut receiver) = mpsc::channel::<MlflowLog>(CAPACITY);
        arbiter.spawn(async move {
            while let Some(log) = receiver.recv().await {
                log_to_mlflow(&log).await;
            }
        });
        MlflowQueue { sender }
    }

    /// Queues a run for logging.
    pub fn submit(&self, log: MlflowLog) {
        let version = log.version;
        if self.sender.try_send(log).is_err() {
            tracing::warn!(
                version,
                waiting = CAPACITY,
                "mlflow logging is behind: this training is not mirrored to mlflow"
            );
        }
    }
}
