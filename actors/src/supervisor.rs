//! Supervision: every Vigil actor is a *worker* hosted by a `WorkerHost`.
//!
//! The names are not actix's: a [`Worker`] holds an actor's state and
//! [`Processes`] its messages; the [`WorkerHost`] is the actix actor around
//! it; a [`Spawner`] starts hosts under a [`RestartPolicy`] and hands out a
//! [`WorkerHandle`], from which senders take a typed [`Link`] per message.
//! What a worker keeps across restarts is its [`Worker::Kept`] type.
//!
//! actix's own `Supervisor` restarts an actor that stops but not one that
//! panics (its mailbox just closes). Here the host catches both an error and
//! a panic at the handler boundary, throws the worker away (its state may be
//! half-updated), waits an exponential backoff, builds a fresh worker from
//! its factory and retries the message once. A message that fails twice is
//! written to `dead_letters` with the reason. Transient failures (the store
//! is down) are retried until they pass: the message is not at fault, and
//! holding it blocks the mailbox, which is the backpressure we want.
//!
//! The host keeps its actix mailbox across restarts, so senders holding a
//! `Link` never notice a restart except as latency.
//!
//! Every handler runs under the progress watchdog (`crate::watchdog`): an
//! actor with work pending and no progress for the stall timeout is
//! reported stalled, and its handler is aborted (and the worker restarted)
//! when it makes none for as long again. Progress is recorded when an
//! attempt starts or ends, when an answer comes back from another actor
//! ([`Link::send`]) and by [`record_progress`]; time inside [`protect`]
//! (waiting for another actor, training on a blocking thread) and while a
//! worker is built never counts as a stall.

use std::any::type_name;
use std::cell::Cell;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::dev::ArbiterHandle;
use actix::prelude::*;
use futures::FutureExt;
use futures::future::{AbortHandle, Abortable, LocalBoxFuture};
use serde::Serialize;
use tracing::Instrument;

use crate::error::{ActorError, Undelivered};
use crate::faults::{Fault, FaultInjector};
use crate::health::{ActorHealth, HealthRegistry};
use crate::messages::Healthz;
use crate::store::{DeadLetter, Store};

tokio::task_local! {
    /// The health record of the actor whose handler is running.
    static CURRENT: Arc<ActorHealth>;
}

/// Records progress of the actor whose handler runs this code (nothing
/// outside a handler): for long handlers that make progress in steps the
/// supervisor cannot see.
pub fn record_progress() {
    let _ = CURRENT.try_with(|health| health.progressed());
}

/// Runs `work` without counting its time as a stall of the actor whose
/// handler awaits it: a wait for another actor (which has a watchdog of
/// its own) or a long computation on a blocking thread.
pub async fn protect<F: Future>(work: F) -> F::Output {
    let _zone = ProtectedZone::enter();
    work.await
}

/// An open protected zone of the current actor; closed when dropped.
struct ProtectedZone(Option<Arc<ActorHealth>>);

impl ProtectedZone {
    fn enter() -> Self {
        let health = CURRENT.try_with(Arc::clone).ok();
        if let Some(health) = &health {
            health.protect();
        }
        ProtectedZone(health)
    }
}

impl Drop for ProtectedZone {
    fn drop(&mut self) {
        if let Some(health) = &self.0 {
            health.unprotect();
        }
    }
}

/// The state and logic of one actor, without the supervision around it.
pub trait Worker: Unpin + 'static {
    /// The actor's name in health reports, metrics and logs.
    const NAME: &'static str;
    /// What survives a restart (a position in a stream, say): made once by
    /// the host and handed to every worker its factory builds. `()` for a
    /// worker that starts afresh each time.
    type Kept: Default + Send + 'static;
}

/// A worker's [`Worker::Kept`] state, shared by its host and each of its
/// incarnations (one at a time).
pub struct Kept<T>(Arc<std::sync::Mutex<T>>);

impl<T> Clone for Kept<T> {
    fn clone(&self) -> Self {
        Kept(self.0.clone())
    }
}

impl<T: Default> Default for Kept<T> {
    fn default() -> Self {
        Kept(Arc::default())
    }
}

impl<T> Kept<T> {
    /// The state. A worker that panicked while holding it leaves it as it
    /// was: the next incarnation decides what to make of it.
    pub fn lock(&self) -> std::sync::MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A worker that handles messages of type `M`.
pub trait Processes<M>: Worker {
    /// What the sender gets back on success.
    type Reply: 'static;
    /// Handles one message. An error (or a panic) restarts the worker.
    fn handle(&mut self, msg: &M) -> impl Future<Output = Result<Self::Reply, ActorError>>;
}

/// Every worker answers the liveness probe, through the same supervised
/// path as its real messages (so faults can be injected into idle actors).
impl<W: Worker> Processes<Healthz> for W {
    type Reply = ();
    async fn handle(&mut self, _: &Healthz) -> Result<(), ActorError> {
        Ok(())
    }
}

/// Builds a fresh worker, from what the previous one kept: at start-up and
/// after every failure.
pub type Factory<W> = Arc<
    dyn Fn(Kept<<W as Worker>::Kept>) -> LocalBoxFuture<'static, Result<W, ActorError>>
        + Send
        + Sync,
>;

/// Backoff and mailbox settings shared by all supervised actors.
#[derive(Debug, Clone, Copy)]
pub struct RestartPolicy {
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    pub mailbox_capacity: usize,
}

impl RestartPolicy {
    /// The delay before the `n`-th consecutive restart (n ≥ 1).
    pub fn backoff(&self, n: u32) -> Duration {
        let factor = 2u32.saturating_pow(n.saturating_sub(1).min(16));
        self.backoff_initial
            .saturating_mul(factor)
            .min(self.backoff_max)
    }
}

/// What every supervisor needs besides its worker's factory.
#[derive(Clone)]
pub struct Spawner {
    pub policy: RestartPolicy,
    pub registry: Arc<HealthRegistry>,
    pub faults: FaultInjector,
    pub store: Store,
}

impl Spawner {
    /// Starts a supervised actor for workers built by `factory`, on the
    /// current arbiter.
    pub fn spawn<W: Worker>(&self, factory: Factory<W>) -> WorkerHandle<W> {
        let (health, build) = self.prepare(factory);
        let addr = WorkerHost::create(build);
        WorkerHandle { addr, health }
    }

    /// Starts a supervised actor on another arbiter (its own thread): for
    /// workers whose async work — decoding a large query, serializing a
    /// model — must not hold up the actors on the scoring path.
    pub fn spawn_on<W: Worker>(
        &self,
        arbiter: &ArbiterHandle,
        factory: Factory<W>,
    ) -> WorkerHandle<W> {
        let (health, build) = self.prepare(factory);
        let addr = WorkerHost::start_in_arbiter(arbiter, build);
        WorkerHandle { addr, health }
    }

    /// Registers the actor's health and returns how to build its
    /// supervisor where it will run.
    fn prepare<W: Worker>(&self, factory: Factory<W>) -> (Arc<ActorHealth>, BuildSupervisor<W>) {
        let health = self.registry.register(W::NAME);
        let (policy, faults, store) = (self.policy, self.faults.clone(), self.store.clone());
        let care_health = health.clone();
        let build: BuildSupervisor<W> = Box::new(move |ctx: &mut Context<WorkerHost<W>>| {
            ctx.set_mailbox_capacity(policy.mailbox_capacity);
            let care = Rc::new(Care {
                factory,
                kept: Kept::default(),
                health: care_health,
                policy,
                faults,
                store,
                consecutive_failures: Cell::new(0),
            });
            WorkerHost { worker: None, care }
        });
        (health, build)
    }
}

/// Builds a supervisor inside its actor context, on whichever thread it
/// will run.
type BuildSupervisor<W> = Box<dyn FnOnce(&mut Context<WorkerHost<W>>) -> WorkerHost<W> + Send>;

/// A running supervised actor: its address and its health record.
pub struct WorkerHandle<W: Worker> {
    addr: Addr<WorkerHost<W>>,
    health: Arc<ActorHealth>,
}

impl<W: Worker> Clone for WorkerHandle<W> {
    fn clone(&self) -> Self {
        WorkerHandle {
            addr: self.addr.clone(),
            health: self.health.clone(),
        }
    }
}

impl<W: Worker> WorkerHandle<W> {
    /// A typed sending end for messages of type `M`.
    pub fn link<M, R>(&self) -> Link<M>
    where
        W: Processes<M, Reply = R>,
        M: Message<Result = Result<R, Undelivered>> + Serialize + Send + 'static,
        R: Send + 'static,
    {
        Link {
            recipient: self.addr.clone().recipient(),
            health: self.health.clone(),
        }
    }

    /// The actor's health record.
    pub fn health(&self) -> &Arc<ActorHealth> {
        &self.health
    }
}

/// The sending end of an actor for one message type. `send` waits for the
/// mailbox to have room (bounded mailboxes give backpressure) and for the
/// message to be handled, and counts the mailbox depth.
pub struct Link<M>
where
    M: Message + Send,
    M::Result: Send,
{
    recipient: Recipient<M>,
    health: Arc<ActorHealth>,
}

impl<M> Clone for Link<M>
where
    M: Message + Send,
    M::Result: Send,
{
    fn clone(&self) -> Self {
        Link {
            recipient: self.recipient.clone(),
            health: self.health.clone(),
        }
    }
}

impl<M, R> Link<M>
where
    M: Message<Result = Result<R, Undelivered>> + Send,
    R: Send,
{
    /// Sends `msg` and waits until it has been handled (or dead-lettered).
    /// Inside another actor's handler the wait is protected: the receiver
    /// is watched for stalls, not the sender.
    pub async fn send(&self, msg: M) -> Result<R, Undelivered> {
        self.health.enqueued();
        match protect(self.recipient.send(msg)).await {
            Ok(reply) => reply,
            Err(err) => {
                // The message never reached the handler, so it was not dequeued.
                self.health.dequeued();
                Err(Undelivered {
                    actor: self.health.name(),
                    reason: format!("mailbox unavailable: {err}"),
                    transient: false,
                })
            }
        }
    }
}

/// The actix actor hosting a worker.
pub struct WorkerHost<W: Worker> {
    /// `None` while a handler future owns the worker or it is being rebuilt.
    worker: Option<W>,
    care: Rc<Care<W>>,
}

impl<W: Worker> Actor for WorkerHost<W> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let care = self.care.clone();
        // `wait` holds the mailbox until the first worker exists.
        ctx.wait(
            async move { care.build_worker().await }
                .into_actor(self)
                .map(|worker, act, _| act.worker = Some(worker)),
        );
    }
}

impl<W, M, R> Handler<M> for WorkerHost<W>
where
    W: Processes<M, Reply = R>,
    M: Message<Result = Result<R, Undelivered>> + Serialize + 'static,
    R: 'static,
{
    // Atomic: the next message waits until this one (with its retries) is
    // done, which keeps per-actor processing in order.
    type Result = AtomicResponse<Self, Result<R, Undelivered>>;

    fn handle(&mut self, msg: M, _: &mut Context<Self>) -> Self::Result {
        self.care.health.dequeued();
        let care = self.care.clone();
        let worker = self.worker.take();
        AtomicResponse::new(Box::pin(
            async move { care.deliver(worker, msg).await }
                .into_actor(self)
                .map(|(worker, reply), act, _| {
                    act.worker = Some(worker);
                    reply
                }),
        ))
    }
}

/// What a supervisor's futures share: how to rebuild, where to report.
struct Care<W: Worker> {
    factory: Factory<W>,
    kept: Kept<W::Kept>,
    health: Arc<ActorHealth>,
    policy: RestartPolicy,
    faults: FaultInjector,
    store: Store,
    consecutive_failures: Cell<u32>,
}

impl<W: Worker> Care<W> {
    /// Handles `msg`, restarting the worker and retrying as the module
    /// documentation describes. Returns the (possibly new) worker.
    async fn deliver<M>(&self, worker: Option<W>, msg: M) -> (W, Result<W::Reply, Undelivered>)
    where
        W: Processes<M>,
        M: Serialize,
    {
        let mut worker = match worker {
            Some(worker) => worker,
            None => self.build_worker().await,
        };
        let mut failures = 0;
        loop {
            let error = match self.attempt(&mut worker, &msg).await {
                Ok(reply) => {
                    self.consecutive_failures.set(0);
                    self.health.processed();
                    self.health.idle();
                    return (worker, Ok(reply));
                }
                Err(error) => error,
            };
            if !error.is_transient() {
                failures += 1;
            }
            drop(worker);
            if failures >= 2 {
                self.dead_letter(&msg, &error, failures).await;
                let worker = self.restart(&error).await;
                self.health.idle();
                let undelivered = Undelivered {
                    actor: W::NAME,
                    reason: error.to_string(),
                    transient: false,
                };
                return (worker, Err(undelivered));
            }
            worker = self.restart(&error).await;
        }
    }

    /// One try of the handler, with any armed fault, panics caught, under
    /// the watchdog (which may abort it).
    async fn attempt<M>(&self, worker: &mut W, msg: &M) -> Result<W::Reply, ActorError>
    where
        W: Processes<M>,
    {
        let fault = self.faults.take(W::NAME);
        let run = async move {
            match fault {
                Some(Fault::Panic) => panic!("injected panic in {}", W::NAME),
                Some(Fault::Error) => Err(ActorError::Injected),
                Some(Fault::Hang) => std::future::pending().await,
                None => worker.handle(msg).await,
            }
        };
        let (abort, registration) = AbortHandle::new_pair();
        self.health.attempt_started(abort);
        let watched = Abortable::new(AssertUnwindSafe(run).catch_unwind(), registration);
        // Every line a handler logs carries its actor (a span field in
        // JSON logs, a prefix in text logs).
        let span = tracing::info_span!("actor", actor = W::NAME);
        let outcome = CURRENT
            .scope(self.health.clone(), watched.instrument(span))
            .await;
        self.health.attempt_finished();
        match outcome {
            Ok(Ok(result)) => result,
            Ok(Err(payload)) => Err(ActorError::Panicked(panic_text(payload.as_ref()))),
            Err(_aborted) => Err(ActorError::Stalled(self.health.stall_timeout() * 2)),
        }
    }

    /// Waits `delay`; the wait is no stall.
    async fn pause(&self, delay: Duration) {
        self.health.protect();
        tokio::time::sleep(delay).await;
        self.health.unprotect();
    }

    /// Records the failure, waits the backoff and builds a new worker.
    async fn restart(&self, error: &ActorError) -> W {
        let n = self.consecutive_failures.get() + 1;
        self.consecutive_failures.set(n);
        let delay = self.policy.backoff(n);
        tracing::warn!(actor = W::NAME, %error, restart_in_ms = delay.as_millis() as u64, "actor failed");
        self.health.restarting(&error.to_string());
        self.pause(delay).await;
        self.build_worker().await
    }

    /// Calls the factory until it succeeds (it may need the store). A
    /// factory may rebuild large state: building is no stall.
    async fn build_worker(&self) -> W {
        loop {
            self.health.protect();
            let built = AssertUnwindSafe((self.factory)(self.kept.clone()))
                .catch_unwind()
                .await
                .unwrap_or_else(|payload| Err(ActorError::Panicked(panic_text(payload.as_ref()))));
            self.health.unprotect();
            match built {
                Ok(worker) => {
                    self.health.running();
                    return worker;
                }
                Err(error) => {
                    let n = self.consecutive_failures.get() + 1;
                    self.consecutive_failures.set(n);
                    tracing::error!(actor = W::NAME, %error, "could not build actor");
                    self.health.restarting(&format!("start-up failed: {error}"));
                    self.pause(self.policy.backoff(n)).await;
                }
            }
        }
    }

    /// Writes the message to `dead_letters`. The store may be the reason
    /// the message failed, so a failed write is retried a few times and
    /// finally logged with the whole payload: never dropped silently.
    async fn dead_letter<M: Serialize>(&self, msg: &M, error: &ActorError, attempts: u32) {
        self.health.message_failed();
        let letter = DeadLetter {
            actor: W::NAME.to_owned(),
            message_kind: short_type_name::<M>().to_owned(),
            payload: serde_json::to_vec(msg)
                .unwrap_or_else(|e| format!("unserializable: {e}").into_bytes()),
            reason: error.to_string(),
            attempts: attempts as i32,
        };
        for attempt in 1..=3u32 {
            match self.store.insert_dead_letter(&letter).await {
                Ok(()) => {
                    tracing::error!(actor = W::NAME, reason = %letter.reason, kind = letter.message_kind, "message dead-lettered");
                    return;
                }
                Err(store_error) if attempt < 3 => {
                    tracing::warn!(actor = W::NAME, %store_error, "dead letter write failed, retrying");
                    tokio::time::sleep(self.policy.backoff(attempt)).await;
                }
                Err(store_error) => {
                    tracing::error!(
                        actor = W::NAME,
                        %store_error,
                        reason = %letter.reason,
                        payload = %String::from_utf8_lossy(&letter.payload),
                        "dead letter could not be stored"
                    );
                }
            }
        }
    }
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

fn short_type_name<T>() -> &'static str {
    let full = type_name::<T>();
    full.rsplit("::").next().unwrap_or(full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RestartPolicy {
            backoff_initial: Duration::from_millis(50),
            backoff_max: Duration::from_millis(300),
            mailbox_capacity: 8,
        };
        assert_eq!(policy.backoff(1), Duration::from_millis(50));
        assert_eq!(policy.backoff(2), Duration::from_millis(100));
        assert_eq!(policy.backoff(3), Duration::from_millis(200));
        assert_eq!(policy.backoff(4), Duration::from_millis(300));
        assert_eq!(policy.backoff(100), Duration::from_millis(300));
    }

    #[test]
    fn panic_text_reads_both_payload_kinds() {
        let owned: Box<dyn std::any::Any + Send> = Box::new(String::from("owned"));
        assert_eq!(panic_text(owned.as_ref()), "owned");
        let borrowed: Box<dyn std::any::Any + Send> = Box::new("static");
        assert_eq!(panic_text(borrowed.as_ref()), "static");
        assert_eq!(short_type_name::<crate::messages::Healthz>(), "Healthz");
    }
}
