//! Producer: synthetic card transactions and their late labels.
//!
//! On an empty store it first backfills simulated history as fast as the
//! store takes it; then it follows the wall clock at the configured rate.
//!
//! The generator is deterministic for a seed and a sequence of calls, so a
//! restarted producer rebuilds the exact generator state it had (pending
//! labels and fraud scenarios included) by replaying the stream up to the
//! last event the bus accepted. Re-published events at that boundary are
//! harmless: every sink is idempotent on the event id.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use vigil_core::synth::{Activity, Generator, SynthConfig, SynthEvent};
use vigil_core::{Label, Transaction};

use crate::bus::Bus;
use crate::error::{ActorError, Undelivered};
use crate::lifecycle::Lifecycle;
use crate::messages::{Backfill, BackfillReport, EventSource, LabelBatch, Tick, TransactionBatch};
use crate::metrics::Metrics;
use crate::supervisor::{Factory, Kept, Processes, Worker};

/// How the producer behaves.
#[derive(Debug, Clone)]
pub struct ProducerSettings {
    /// The simulated world; the backfill runs at its natural rate.
    pub synth: SynthConfig,
    /// Live transactions per second (0 = no new live transactions). The
    /// natural rate of `synth` makes the live stream continue the history's
    /// process; any other rate makes every card shop faster or slower than
    /// it did (load tests).
    pub rate: f64,
    /// How the live stream spreads over the day.
    pub activity: Activity,
    /// Transactions per published batch.
    pub batch_size: usize,
}

/// Where the generated stream started.
#[derive(Debug, Clone, Copy)]
struct Origin {
    start: DateTime<Utc>,
    /// End of the simulated history, when the stream began with a backfill.
    backfill_end: Option<DateTime<Utc>>,
    /// Whether the backfill finished (and the rate switched to live).
    backfill_done: bool,
}

/// What survives a restart of the producer: where its stream started and
/// how far the bus has accepted it.
#[derive(Debug, Default)]
pub struct Position {
    origin: Option<Origin>,
    watermark: Option<Watermark>,
}

/// How far the bus has accepted the stream: every event before `time`, and
/// the first `at_time` events stamped exactly `time` (timestamps have
/// millisecond precision, so several events can share one).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Watermark {
    time: DateTime<Utc>,
    at_time: usize,
}

impl Watermark {
    /// The watermark after accepting `batch`.
    fn advance(previous: Option<Watermark>, batch: &EventBatch) -> Option<Watermark> {
        let time = batch.last_time?;
        let carried = previous.filter(|w| w.time == time).map_or(0, |w| w.at_time);
        Some(Watermark {
            time,
            at_time: carried + batch.at_last_time,
        })
    }
}

/// Generates events and publishes them to the bus.
pub struct Producer {
    settings: ProducerSettings,
    bus: Bus,
    metrics: Arc<Metrics>,
    /// Kept across restarts: where the stream is.
    position: Kept<Position>,
    generator: Option<Generator>,
    /// An event generated but not yet published: it opens the next batch.
    /// Not part of `Position`: a restarted producer regenerates it.
    carry: Option<SynthEvent>,
    /// Once the process drains, no further batch is published.
    lifecycle: Arc<Lifecycle>,
}

impl Producer {
    /// A factory for the supervisor; restarts resume at the last position.
    pub fn factory(
        settings: ProducerSettings,
        bus: Bus,
        metrics: Arc<Metrics>,
        lifecycle: Arc<Lifecycle>,
    ) -> Factory<Producer> {
        Arc::new(move |position| {
            let mut producer = Producer {
                settings: settings.clone(),
                bus: bus.clone(),
                metrics: metrics.clone(),
                position,
                generator: None,
                carry: None,
                lifecycle: lifecycle.clone(),
            };
            Box::pin(async move {
                producer.resume();
                Ok(producer)
            })
        })
    }

    fn position(&self) -> std::sync::MutexGuard<'_, Position> {
        self.position.lock()
    }

    /// Rebuilds the generator where the previous incarnation stopped by
    /// replaying the calls it made, discarding the events the bus accepted.
    fn resume(&mut self) {
        let (origin, watermark) = {
            let position = self.position();
            (position.origin, position.watermark)
        };
        let Some(origin) = origin else {
            return;
        };
        let mut generator = self.new_generator(&origin);
        if let (Some(end), true) = (origin.backfill_end, origin.backfill_done) {
            drain(&mut generator, end, usize::MAX);
            self.go_live(&mut generator);
        }
        if let Some(watermark) = watermark {
            drain(
                &mut generator,
                watermark.time - TimeDelta::milliseconds(1),
                usize::MAX,
            );
            drain(&mut generator, watermark.time, watermark.at_time);
        }
        self.generator = Some(generator);
    }

    fn new_generator(&self, origin: &Origin) -> Generator {
        let synth = &self.settings.synth;
        match origin.backfill_end {
            Some(_) => Generator::new(synth.clone(), origin.start, synth.natural_rate_per_sec()),
            None => {
                let mut generator = Generator::new(synth.clone(), origin.start, self.settings.rate);
                generator.set_activity(self.settings.activity);
                generator
            }
        }
    }

    /// Switches a generator that made the history to the live stream.
    fn go_live(&self, generator: &mut Generator) {
        generator.set_rate(self.settings.rate);
        generator.set_activity(self.settings.activity);
    }

    /// The generator, started at `start` if this is the very first event.
    fn generator_from(&mut self, start: DateTime<Utc>, backfill_end: Option<DateTime<Utc>>) {
        if self.generator.is_none() {
            let origin = Origin {
                start,
                backfill_end,
                backfill_done: false,
            };
            self.position().origin = Some(origin);
            self.generator = Some(self.new_generator(&origin));
        }
    }

    /// Publishes every event up to `until`, in batches. Returns the number
    /// of transactions and labels published.
    async fn run_until(
        &mut self,
        until: DateTime<Utc>,
        progress: Option<&ProgressBar>,
    ) -> Result<(u64, u64), ActorError> {
        let mut produced = (0, 0);
        loop {
            if self.lifecycle.is_draining() {
                return Ok(produced);
            }
            let batch_size = self.settings.batch_size;
            let generator = self
                .generator
                .as_mut()
                .expect("run_until needs a generator");
            let mut batch = EventBatch::default();
            if let Some(event) = self.carry.take() {
                batch.push(event);
            }
            while batch.transactions.len() < batch_size {
                match generator.next_before(until) {
                    // Transactions and labels of a batch travel as two
                    // messages, transactions first; a transaction after a
                    // label starts the next batch so that consumers see
                    // every event in generation (time) order.
                    Some(event @ SynthEvent::Transaction { .. }) if !batch.labels.is_empty() => {
                        self.carry = Some(event);
                        break;
                    }
                    Some(event) => batch.push(event),
                    None => break,
                }
            }
            if batch.is_empty() {
                return Ok(produced);
            }
            let watermark = Watermark::advance(self.position().watermark, &batch);
            // On a transient failure the watermark stays: the restarted
            // producer regenerates and republishes this batch.
            let counts = self.publish(batch).await?;
            produced.0 += counts.0;
            produced.1 += counts.1;
            let mut position = self.position();
            position.watermark = watermark;
            if let (Some(bar), Some(w)) = (progress, watermark) {
                bar.set_position(progress_secs(position.origin, w.time));
            }
        }
    }

    /// Publishes one batch. A batch the bus rejects was dead-lettered by
    /// its consumer (not lost); it is counted as a producer error. A bus
    /// out of reach (a Kafka broker down) is an error, so the supervisor
    /// restarts the producer from its watermark and the batch is sent
    /// again until the bus takes it: generation pauses meanwhile, and
    /// nothing is dropped. The counters move only once the whole batch is
    /// taken, so a batch sent twice is counted once.
    async fn publish(&self, batch: EventBatch) -> Result<(u64, u64), ActorError> {
        let n_tx = batch.transactions.len() as u64;
        let n_labels = batch.labels.len() as u64;
        let mut tx_delivered = true;
        if n_tx > 0 {
            let message = TransactionBatch {
                source: EventSource::Producer,
                transactions: batch.transactions,
                original_ids: Vec::new(),
            };
            tx_delivered = delivered(self.bus.publish(message).await, "transaction batch")?;
        }
        let mut labels_delivered = true;
        if n_labels > 0 {
            let message = LabelBatch {
                labels: batch.labels,
            };
            labels_delivered = delivered(self.bus.publish_labels(message).await, "label batch")?;
        }
        if tx_delivered {
            self.metrics.transactions_produced.inc_by(n_tx);
        } else {
            self.metrics.producer_errors.inc_by(n_tx);
        }
        if labels_delivered {
            self.metrics.labels_produced.inc_by(n_labels);
        }
        Ok((n_tx, n_labels))
    }
}

/// Whether the bus took a message: an error when it could not for now
/// (retried), false when a consumer dead-lettered it (logged).
fn delivered(sent: Result<(), Undelivered>, what: &str) -> Result<bool, ActorError> {
    match sent {
        Ok(()) => Ok(true),
        Err(undelivered) if undelivered.transient => {
            Err(ActorError::BusUnavailable(undelivered.reason))
        }
        Err(undelivered) => {
            tracing::error!(%undelivered, "{what} not delivered");
            Ok(false)
        }
    }
}

/// Discards at most `limit` events up to `until`.
fn drain(generator: &mut Generator, until: DateTime<Utc>, limit: usize) {
    let mut discarded = 0;
    while discarded < limit && generator.next_before(until).is_some() {
        discarded += 1;
    }
}

fn progress_secs(origin: Option<Origin>, at: DateTime<Utc>) -> u64 {
    origin.map_or(0, |o| (at - o.start).num_seconds().max(0) as u64)
}

/// Events collected for one publish.
#[derive(Default)]
struct EventBatch {
    transactions: Vec<Transaction>,
    labels: Vec<Label>,
    last_time: Option<DateTime<Utc>>,
    /// How many events of this batch are stamped `last_time`.
    at_last_time: usize,
}

impl EventBatch {
    fn push(&mut self, event: SynthEvent) {
        let time = event.time();
        if self.last_time == Some(time) {
            self.at_last_time += 1;
        } else {
            self.last_time = Some(time);
            self.at_last_time = 1;
        }
        match event {
            SynthEvent::Transaction { transaction, .. } => self.transactions.push(transaction),
            SynthEvent::Label(label) => self.labels.push(label),
        }
    }

    fn is_empty(&self) -> bool {
        self.transactions.is_empty() && self.labels.is_empty()
    }
}

impl Worker for Producer {
    const NAME: &'static str = "producer";
    type Kept = Position;
}

impl Processes<Backfill> for Producer {
    type Reply = BackfillReport;

    async fn handle(&mut self, backfill: &Backfill) -> Result<BackfillReport, ActorError> {
        let started = Instant::now();
        self.generator_from(backfill.from, Some(backfill.to));
        let bar = backfill_progress_bar(backfill);
        let world = &self.settings.synth;
        tracing::info!(
            from = %backfill.from,
            to = %backfill.to,
            card_holders = world.users,
            merchants = world.merchants,
            live_rate = self.settings.rate,
            "backfill started"
        );
        let (transactions, labels) = self.run_until(backfill.to, Some(&bar)).await?;
        bar.finish_and_clear();
        if let Some(mut generator) = self.generator.take() {
            self.go_live(&mut generator);
            self.generator = Some(generator);
        }
        if let Some(origin) = self.position().origin.as_mut() {
            origin.backfill_done = true;
        }
        let report = BackfillReport {
            transactions,
            labels,
            elapsed: started.elapsed(),
        };
        tracing::info!(
            transactions,
            labels,
            seconds = report.elapsed.as_secs_f64(),
            events_per_sec = (transactions as f64 / report.elapsed.as_secs_f64().max(1e-9)) as u64,
            "backfill done"
        );
        Ok(report)
    }
}

impl Processes<Tick> for Producer {
    type Reply = u64;

    async fn handle(&mut self, _: &Tick) -> Result<u64, ActorError> {
        let now = Utc::now();
        self.generator_from(now, None);
        let (transactions, _) = self.run_until(now, None).await?;
        Ok(transactions)
    }
}

fn backfill_progress_bar(backfill: &Backfill) -> ProgressBar {
    let total = (backfill.to - backfill.from).num_seconds().max(0) as u64;
    // Hidden automatically when stderr is not a terminal (CI, logs).
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("backfill {wide_bar} {percent}% simulated, {elapsed} elapsed")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::InProcessBus;

    fn producer(position: Kept<Position>, batch_size: usize) -> Producer {
        let synth = SynthConfig {
            users: 50,
            merchants: 20,
            fraud_rate: 0.1,
            label_delay: TimeDelta::minutes(30),
            ..SynthConfig::default()
        };
        Producer {
            settings: ProducerSettings {
                synth,
                rate: 5.0,
                activity: Activity::Daily,
                batch_size,
            },
            bus: Bus::InProcess(InProcessBus::default()),
            metrics: Arc::new(Metrics::new()),
            position,
            generator: None,
            carry: None,
            lifecycle: Arc::new(Lifecycle::new()),
        }
    }

    fn rest_of_stream(producer: &mut Producer, until: DateTime<Utc>) -> Vec<SynthEvent> {
        let generator = producer.generator.as_mut().unwrap();
        std::iter::from_fn(|| generator.next_before(until)).collect()
    }

    /// A producer rebuilt from the shared position continues exactly where
    /// the bus stopped accepting: nothing skipped, nothing repeated, pending
    /// labels included, across the switch from backfill to live.
    #[actix_rt::test]
    async fn a_resumed_producer_continues_the_exact_stream() {
        let start = DateTime::parse_from_rfc3339("2026-01-05T00:00:00Z")
            .unwrap()
            .to_utc();
        let backfill_end = start + TimeDelta::days(2);
        for (live_until, batch_size) in [(None, 7), (Some(TimeDelta::hours(3)), 3)] {
            let position = Kept::default();
            let mut first = producer(position.clone(), batch_size);
            first.generator_from(start, Some(backfill_end));
            let stop = match live_until {
                None => start + TimeDelta::hours(20),
                Some(extra) => {
                    first.run_until(backfill_end, None).await.unwrap();
                    first.generator.as_mut().unwrap().set_rate(5.0);
                    first.position().origin.as_mut().unwrap().backfill_done = true;
                    backfill_end + extra
                }
            };
            first.run_until(stop, None).await.unwrap();
            let watermark = first.position().watermark.unwrap();
            assert!(watermark.at_time >= 1);

            let mut resumed = producer(position, batch_size);
            resumed.resume();
            let horizon = backfill_end + TimeDelta::days(1);
            // The resumed producer regenerates the carried, unpublished event.
            let mut expected: Vec<SynthEvent> = first.carry.take().into_iter().collect();
            expected.extend(rest_of_stream(&mut first, horizon));
            assert!(!expected.is_empty());
            assert_eq!(rest_of_stream(&mut resumed, horizon), expected);
        }
    }
}
