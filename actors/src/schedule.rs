//! Cron-scheduled commands (tokio-cron-scheduler): retraining now, drift
//! checks later.

use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};

use crate::messages::Retrain;
use crate::supervisor::Link;

/// Why a schedule could not start.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("invalid cron expression {expression:?}: {source}")]
    Cron {
        expression: String,
        source: JobSchedulerError,
    },
    #[error("cannot start the scheduler: {0}")]
    Scheduler(#[from] JobSchedulerError),
}

/// The running scheduler; jobs stop when it is dropped.
pub struct Schedule {
    scheduler: Option<JobScheduler>,
}

impl Schedule {
    /// Schedules retraining on `retrain` (a cron expression with seconds,
    /// e.g. `0 0 3 * * *`), or nothing when it is None.
    pub async fn start(
        retrain: Option<&str>,
        retrainer: Link<Retrain>,
    ) -> Result<Schedule, ScheduleError> {
        let Some(expression) = retrain else {
            return Ok(Schedule { scheduler: None });
        };
        let scheduler = JobScheduler::new().await?;
        let job = Job::new_async(expression, move |_, _| {
            let retrainer = retrainer.clone();
            Box::pin(async move {
                let retrain = Retrain {
                    trigger: "schedule".into(),
                };
                if let Err(undelivered) = retrainer.send(retrain).await {
                    tracing::error!(%undelivered, "scheduled training failed");
                }
            })
        })
        .map_err(|source| ScheduleError::Cron {
            expression: expression.to_owned(),
            source,
        })?;
        scheduler.add(job).await?;
        scheduler.start().await?;
        Ok(Schedule {
            scheduler: Some(scheduler),
        })
    }
}

impl Drop for Schedule {
    fn drop(&mut self) {
        // shutdown is async; a detached task finishes it while a runtime
        // is still around to run it.
        if let (Some(mut scheduler), Ok(runtime)) =
            (self.scheduler.take(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn(async move {
                let _ = scheduler.shutdown().await;
            });
        }
    }
}

/// Checks a cron expression without scheduling anything (config validation).
pub fn validate_cron(expression: &str) -> Result<(), String> {
    Job::new(expression, |_, _| {})
        .map(|_| ())
        .map_err(|e| format!("invalid cron expression {expression:?}: {e}"))
}
