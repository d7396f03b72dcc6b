//! The runtime's lifecycle: the start-up phases with their progress, and
//! the drain that begins when the process is asked to stop.
//!
//! The HTTP API serves from the first moment; it reads the phase here to
//! answer `/health` with what start-up is doing, to refuse new events
//! (503 with `Retry-After`) until the history is in, and to refuse new
//! work once the process drains.

use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::watch;
use vigil_core::model::training::Stage;

/// Where the runtime is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Finishing what a crash left in flight (raw events without features,
    /// features without a score) before new events flow.
    Recovering,
    /// Generating simulated history into an empty store.
    Backfilling,
    /// The start-up training, when no model is in production.
    Training,
    /// Taking and processing events.
    Running,
    /// Asked to stop: finishing what is in flight, taking nothing new.
    Stopping,
    /// Start-up could not finish (the reason is in `/health`).
    Failed,
}

/// How far the current phase has come.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PhaseProgress {
    /// Share done, 0 to 1, when it can be measured.
    pub fraction: Option<f64>,
    /// What is happening, for people.
    pub detail: String,
}

/// A point-in-time view of the lifecycle.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LifecycleSnapshot {
    pub phase: Phase,
    /// Since when the runtime is in this phase.
    pub since: DateTime<Utc>,
    /// `null` when there is nothing to measure.
    pub progress: Option<PhaseProgress>,
    /// Why start-up failed, in phase `failed`.
    pub failure: Option<String>,
}

#[derive(Debug)]
struct State {
    phase: Phase,
    since: DateTime<Utc>,
    progress: Option<PhaseProgress>,
    failure: Option<String>,
}

/// The lifecycle, shared by the runtime, its actors and the HTTP API.
#[derive(Debug)]
pub struct Lifecycle {
    state: Mutex<State>,
    /// Phase changes, for those who wait for one.
    phases: watch::Sender<Phase>,
    /// True once the process drains.
    draining: watch::Sender<bool>,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self::new()
    }
}

impl Lifecycle {
    /// A lifecycle at its first phase, recovery.
    pub fn new() -> Self {
        Lifecycle {
            state: Mutex::new(State {
                phase: Phase::Recovering,
                since: Utc::now(),
                progress: None,
                failure: None,
            }),
            phases: watch::channel(Phase::Recovering).0,
            draining: watch::channel(false).0,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Enters `phase`, unless the process already drains or failed (those
    /// are final).
    pub fn enter(&self, phase: Phase) {
        let mut state = self.state();
        if matches!(state.phase, Phase::Stopping | Phase::Failed) || state.phase == phase {
            return;
        }
        state.phase = phase;
        state.since = Utc::now();
        state.progress = None;
        drop(state);
        self.phases.send_replace(phase);
        tracing::info!(phase = ?phase, "lifecycle");
    }

    /// Reports the progress of the current phase.
    pub fn report_progress(&self, fraction: Option<f64>, detail: impl Into<String>) {
        self.state().progress = Some(PhaseProgress {
            fraction: fraction.map(|f| f.clamp(0.0, 1.0)),
            detail: detail.into(),
        });
    }

    /// Reports a training stage while the start-up training runs.
    pub fn report_training(&self, stage: Stage) {
        if self.phase() != Phase::Training {
            return;
        }
        let (fraction, detail) = match stage {
            Stage::Detector => (0.1, "training the isolation forest"),
            Stage::Classifier => (0.3, "training the gradient-boosted trees"),
            Stage::Evaluation => (0.9, "evaluating on the test window"),
        };
        self.report_progress(Some(fraction), detail);
    }

    /// Start-up could not finish.
    pub fn fail(&self, reason: String) {
        let mut state = self.state();
        state.phase = Phase::Failed;
        state.since = Utc::now();
        state.failure = Some(reason);
        drop(state);
        self.phases.send_replace(Phase::Failed);
    }

    /// Starts the drain: no new work is taken from now on.
    pub fn drain(&self) {
        {
            let mut state = self.state();
            if state.phase != Phase::Stopping {
                state.phase = Phase::Stopping;
                state.since = Utc::now();
                state.progress = None;
            }
        }
        self.phases.send_replace(Phase::Stopping);
        self.draining.send_replace(true);
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.state().phase
    }

    /// Whether the process drains.
    pub fn is_draining(&self) -> bool {
        *self.draining.borrow()
    }

    /// A receiver that turns true when the drain begins.
    pub fn draining(&self) -> watch::Receiver<bool> {
        self.draining.subscribe()
    }

    /// Whether new events may enter the stream: not before recovery and the
    /// backfill are done (they would reach the feature state before older
    /// events), not while draining.
    pub fn accepts_events(&self) -> bool {
        matches!(self.phase(), Phase::Training | Phase::Running)
    }

    /// Waits until the history is in: recovery and any backfill done (or
    /// the drain, or a failure).
    pub async fn history_ready(&self) {
        let mut phases = self.phases.subscribe();
        let _ = phases
            .wait_for(|p| !matches!(p, Phase::Recovering | Phase::Backfilling))
            .await;
    }

    /// Waits until start-up is over: running, stopping or failed.
    pub async fn started(&self) -> Phase {
        let mut phases = self.phases.subscribe();
        let phase = phases
            .wait_for(|p| matches!(p, Phase::Running | Phase::Stopping | Phase::Failed))
            .await
            .map(|p| *p);
        phase.unwrap_or(Phase::Stopping)
    }

    /// Waits until start-up failed.
    pub async fn failed(&self) -> String {
        let mut phases = self.phases.subscribe();
        let _ = phases.wait_for(|p| *p == Phase::Failed).await;
        self.state().failure.clone().unwrap_or_default()
    }

    /// The current view.
    pub fn snapshot(&self) -> LifecycleSnapshot {
        let state = self.state();
        LifecycleSnapshot {
            phase: state.phase,
            since: state.since,
            progress: state.progress.clone(),
            failure: state.failure.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_accepted_only_between_the_backfill_and_the_drain() {
        let lifecycle = Lifecycle::new();
        assert!(!lifecycle.accepts_events());
        lifecycle.enter(Phase::Backfilling);
        lifecycle.report_progress(Some(1.5), "simulated");
        assert_eq!(lifecycle.snapshot().progress.unwrap().fraction, Some(1.0));
        assert!(!lifecycle.accepts_events());
        lifecycle.enter(Phase::Training);
        assert!(lifecycle.snapshot().progress.is_none());
        assert!(lifecycle.accepts_events());
        lifecycle.enter(Phase::Running);
        assert!(lifecycle.accepts_events());
        lifecycle.drain();
        assert!(lifecycle.is_draining());
        assert!(!lifecycle.accepts_events());
        // The drain is final.
        lifecycle.enter(Phase::Running);
        assert_eq!(lifecycle.phase(), Phase::Stopping);
    }

    #[test]
    fn training_stages_are_reported_during_the_start_up_training_only() {
        let lifecycle = Lifecycle::new();
        lifecycle.report_training(Stage::Classifier);
        assert!(lifecycle.snapshot().progress.is_none());
        lifecycle.enter(Phase::Training);
        lifecycle.report_training(Stage::Classifier);
        let progress = lifecycle.snapshot().progress.unwrap();
        assert!(progress.detail.contains("gradient-boosted"));
    }
}
