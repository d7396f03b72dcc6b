//! Cron-scheduled commands (tokio-cron-scheduler): retraining and drift
//! checks send their command to their actor on schedule.

use std::sync::Arc;

use actix::Message;
use futures::future::BoxFuture;
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};

use crate::error::Undelivered;
use crate::supervisor::Link;

/// Why a schedule could not start.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("invalid cron expression {expression:?} for {job}: {source}")]
    Cron {
        job: &'static str,
        expression: String,
        source: JobSchedulerError,
    },
    #[error("cannot start the scheduler: {0}")]
    Scheduler(#[from] JobSchedulerError),
}

/// A command sent on a cron schedule.
pub struct ScheduledJob {
    pub name: &'static str,
    /// Cron expression with seconds, e.g. `0 */5 * * * *`.
    pub cron: String,
    run: Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>,
}

impl ScheduledJob {
    /// Sends `command()` to `link` on every tick of `cron`.
    pub fn send<M, R>(name: &'static str, cron: String, link: Link<M>, command: fn() -> M) -> Self
    where
        M: Message<Result = Result<R, Undelivered>> + Send + 'static,
        R: Send + 'static,
    {
        let run = Arc::new(move || -> BoxFuture<'static, ()> {
            let link = link.clone();
            Box::pin(async move {
                if let Err(undelivered) = link.send(command()).await {
                    tracing::error!(job = name, %undelivered, "scheduled command failed");
                }
            })
        });
        ScheduledJob { name, cron, run }
    }
}

/// The running scheduler; jobs stop when it is dropped.
pub struct Schedule {
    scheduler: Option<JobScheduler>,
}

impl Schedule {
    /// Starts `jobs` (no scheduler at all when there are none).
    pub async fn start(jobs: Vec<ScheduledJob>) -> Result<Schedule, ScheduleError> {
        if jobs.is_empty() {
            return Ok(Schedule { scheduler: None });
        }
        let scheduler = JobScheduler::new().await?;
        for job in jobs {
            let run = job.run.clone();
            let cron_job =
                Job::new_async(job.cron.as_str(), move |_, _| run()).map_err(|source| {
                    ScheduleError::Cron {
                        job: job.name,
                        expression: job.cron.clone(),
                        source,
                    }
                })?;
            scheduler.add(cron_job).await?;
        }
        scheduler.start().await?;
        Ok(Schedule {
            scheduler: Some(scheduler),
        })
    }
}

impl Schedule {
    /// Stops the scheduler: no job starts from now on.
    pub async fn stop(&mut self) {
        if let Some(mut scheduler) = self.scheduler.take()
            && let Err(e) = scheduler.shutdown().await
        {
            tracing::warn!(error = %e, "cannot stop the scheduler");
        }
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
