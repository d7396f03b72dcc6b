//! The progress watchdog (as quickwit's actors have): an actor with work
//! pending and no progress for `supervisor.stall_timeout` is reported
//! `stalled` (and `/health` answers 503 naming it); after as long again
//! without progress its handler is aborted, so that its supervisor
//! restarts it and retries the message once, as after a panic.
//!
//! It runs on a thread of its own, not on an actor's arbiter: a handler
//! that blocks its thread must not stop the watchdog from reporting it.
//! Aborting only reaches a handler that yields (an await that never
//! returns, an async lock); one that blocks its thread is reported, and
//! restarted once it yields again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::health::{HealthRegistry, StallCheck};

/// The running watchdog; dropping it stops it.
pub struct Watchdog {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Watches every actor of `registry`, a few times per stall timeout.
    pub fn start(registry: Arc<HealthRegistry>) -> Watchdog {
        let stop = Arc::new(AtomicBool::new(false));
        let period =
            (registry.stall_timeout() / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new()
            .name("vigil-watchdog".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::park_timeout(period);
                    check(&registry);
                }
            })
            .ok();
        if thread.is_none() {
            tracing::error!("cannot start the watchdog thread: stalled actors go unnoticed");
        }
        Watchdog { stop, thread }
    }
}

/// One look at every actor.
fn check(registry: &HealthRegistry) {
    for actor in registry.actors() {
        match actor.check_stall() {
            StallCheck::Fine => {}
            StallCheck::Stalled(quiet) => tracing::warn!(
                actor = actor.name(),
                seconds = quiet.as_secs_f64(),
                "actor stalled: work pending and no progress"
            ),
            StallCheck::Restart(quiet, abort) => {
                tracing::error!(
                    actor = actor.name(),
                    seconds = quiet.as_secs_f64(),
                    "restarting a stalled actor"
                );
                abort.abort();
            }
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
        }
    }
}
