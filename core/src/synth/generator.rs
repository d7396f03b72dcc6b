//! The event stream: ordinary purchases, fraud scenarios and chargebacks
//! merged in time order.

use chrono::{DateTime, SubsecRound, TimeDelta, Timelike, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::draw::{chance, next_arrival};
use super::fraud::Fraudster;
use super::legit;
use super::mix::FraudMix;
use super::population::Population;
use super::scenario::Scenario;
use super::schedule::{Pending, Schedule};
use super::{SynthConfig, SynthEvent};
use crate::transaction::{Label, Transaction};

/// Label ids are UUID v5 of the transaction id in this namespace, so a
/// replayed stream yields the same label ids.
const LABEL_NAMESPACE: Uuid = Uuid::from_u128(0x7c1e_5a52_9d3b_4f0e_8a61_2b7d_c0de_f00d);

/// Separates the event stream's random numbers from the population's, so
/// the stream does not shift when the population draws more numbers.
const STREAM_SALT: u64 = 0x9e37_79b9_7f4a_7c15;

/// Where the next event comes from.
#[derive(Clone, Copy)]
enum Source {
    Pending,
    Attack,
    Purchase,
}

/// How the ordinary purchases spread over the day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    /// They follow the population's hours (few at night) and weekdays:
    /// the rate asked for is the mean over a week.
    #[default]
    Daily,
    /// The rate asked for at every hour, for benchmarks that must be fed
    /// what they ask whenever they start. Each purchase is made by a
    /// cardholder drawn by their whole day's activity, so every card keeps
    /// its own pace; only the hour it shops at is no longer its own.
    Flat,
}

/// A deterministic, time-ordered stream of synthetic transactions and labels.
pub struct Generator {
    config: SynthConfig,
    pop: Population,
    rng: StdRng,
    mix: FraudMix,
    fraudster: Fraudster,
    pending: Schedule,
    /// Total transactions per second asked for.
    rate: f64,
    /// Whether purchases follow the day or come at the same rate always.
    activity: Activity,
    /// Every event up to this time has been delivered.
    clock: DateTime<Utc>,
    /// Next candidate of the ordinary purchase stream. Candidates come at the
    /// peak rate and are thinned by the hour's activity, which turns a
    /// constant-rate Poisson process into one that follows the day.
    next_purchase: Option<DateTime<Utc>>,
    /// Next candidate scenario start, thinned by the scenario's timing.
    next_attack: Option<DateTime<Utc>>,
    /// The highest activity of any hour, the thinning bound.
    peak: f64,
}

impl Generator {
    /// Builds the population (deterministic for the seed) with its clock at
    /// `start`, emitting transactions at `rate_per_sec` on average (Poisson
    /// arrivals). The stream is deterministic for the seed and `start`.
    ///
    /// Every cardholder shops `rate_per_sec / natural rate` times as often
    /// as their habit: at any rate but [`SynthConfig::natural_rate_per_sec`]
    /// velocities leave the range of a natural history (load tests want
    /// that; a realistic stream uses [`SynthConfig::scaled_to_rate`]).
    pub fn new(config: SynthConfig, start: DateTime<Utc>, rate_per_sec: f64) -> Generator {
        let pop = Population::build(&config);
        let mut generator = Generator {
            mix: FraudMix::new(config.fraud_rate),
            // The start time is part of the stream's seed: a producer
            // started again later on the same store must not replay the
            // first stream's transaction ids.
            rng: StdRng::seed_from_u64(config.seed ^ STREAM_SALT ^ start.timestamp_millis() as u64),
            fraudster: Fraudster::new(&pop, start),
            pending: Schedule::default(),
            rate: 0.0,
            activity: Activity::Daily,
            clock: start,
            next_purchase: None,
            next_attack: None,
            peak: pop.peak_activity(),
            pop,
            config,
        };
        generator.set_rate(rate_per_sec);
        generator
    }

    /// Changes the average number of transactions per second from the time
    /// already delivered on; 0 (or anything not positive and finite) stops
    /// new arrivals while scheduled events and labels still come out.
    pub fn set_rate(&mut self, rate_per_sec: f64) {
        self.rate = if rate_per_sec.is_finite() && rate_per_sec > 0.0 {
            rate_per_sec
        } else {
            0.0
        };
        // Poisson processes are memoryless, so redrawing from the clock is exact.
        self.next_purchase = next_arrival(self.clock, self.candidate_purchases(), &mut self.rng);
        self.next_attack = next_arrival(
            self.clock,
            self.mix.candidate_rate(self.rate),
            &mut self.rng,
        );
    }

    /// Changes how purchases spread over the day, from the time already
    /// delivered on (scheduled events and labels are not affected).
    pub fn set_activity(&mut self, activity: Activity) {
        if self.activity == activity {
            return;
        }
        self.activity = activity;
        self.next_purchase = next_arrival(self.clock, self.candidate_purchases(), &mut self.rng);
    }

    /// Candidate purchases per second: at the peak hour's rate, to be
    /// thinned by the hour's activity, when purchases follow the day.
    fn candidate_purchases(&self) -> f64 {
        let purchases = self.mix.purchase_rate(self.rate);
        match self.activity {
            Activity::Daily => purchases * self.peak,
            Activity::Flat => purchases,
        }
    }

    /// The next event (transaction or label) with time <= until, in non-decreasing time order across calls; None when the next event lies after `until` (a later call with a later `until` continues the same stream; nothing is skipped or repeated).
    pub fn next_before(&mut self, until: DateTime<Utc>) -> Option<SynthEvent> {
        loop {
            // Which event is next never depends on `until`, only whether it
            // is delivered now, so any split of a range gives the same stream.
            let next = self
                .next_source()
                .filter(|(_, time)| time.trunc_subsecs(3) <= until);
            let Some((source, time)) = next else {
                self.clock = self.clock.max(until);
                return None;
            };
            self.clock = self.clock.max(time);
            let event = match source {
                Source::Pending => self.release(),
                Source::Attack => {
                    self.launch(time);
                    None
                }
                Source::Purchase => self.purchase(time),
            };
            if event.is_some() {
                return event;
            }
        }
    }

    /// The earliest source and its time; scheduled events win ties so that a
    /// label with no delay directly follows its transaction.
    fn next_source(&self) -> Option<(Source, DateTime<Utc>)> {
        [
            (Source::Pending, self.pending.next_time()),
            (Source::Attack, self.next_attack),
            (Source::Purchase, self.next_purchase),
        ]
        .into_iter()
        .filter_map(|(source, time)| time.map(|t| (source, t)))
        .min_by_key(|(_, time)| *time)
    }

    fn release(&mut self) -> Option<SynthEvent> {
        let (time, item) = self.pending.pop()?;
        Some(match item {
            Pending::Fraud {
                transaction,
                scenario,
            } => self.emit(transaction, Some(scenario)),
            Pending::Chargeback { transaction_id } => SynthEvent::Label(Label {
                label_id: Uuid::new_v5(&LABEL_NAMESPACE, transaction_id.as_bytes()),
                transaction_id,
                is_fraud: true,
                source: "chargeback".to_string(),
                labeled_at: time,
            }),
        })
    }

    /// A candidate scenario start: schedules its transactions if it survives thinning.
    fn launch(&mut self, time: DateTime<Utc>) {
        self.next_attack = next_arrival(time, self.mix.candidate_rate(self.rate), &mut self.rng);
        let Some(scenario) = self.mix.start_at(time, &mut self.rng) else {
            return;
        };
        for transaction in self
            .fraudster
            .plan(scenario, &self.pop, time, &mut self.rng)
        {
            self.pending.push(
                transaction.timestamp,
                Pending::Fraud {
                    transaction,
                    scenario,
                },
            );
        }
    }

    /// A candidate ordinary purchase. Following the day, it is kept in
    /// proportion to the activity at its hour and made by a user drawn by
    /// who is active then; at a flat rate it is always kept.
    fn purchase(&mut self, time: DateTime<Utc>) -> Option<SynthEvent> {
        self.next_purchase = next_arrival(time, self.candidate_purchases(), &mut self.rng);
        let user = match self.activity {
            Activity::Daily => {
                if !chance(&mut self.rng, self.pop.activity_at(time) / self.peak) {
                    return None;
                }
                self.pop.user_active_at(time.hour(), &mut self.rng)
            }
            Activity::Flat => self.pop.user_any_hour(&mut self.rng),
        };
        let draft = legit::purchase(&self.pop, user, time, &mut self.rng);
        let transaction = self.pop.transaction(draft, &mut self.rng);
        let fraud = self
            .mix
            .disputed(&mut self.rng)
            .then_some(Scenario::FriendlyFraud);
        Some(self.emit(transaction, fraud))
    }

    /// Hands out a transaction, scheduling the chargeback of a fraudulent one.
    fn emit(&mut self, transaction: Transaction, fraud: Option<Scenario>) -> SynthEvent {
        if fraud.is_some() {
            let labeled_at = transaction
                .timestamp
                .checked_add_signed(self.label_delay())
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
                .trunc_subsecs(3);
            self.pending.push(
                labeled_at,
                Pending::Chargeback {
                    transaction_id: transaction.transaction_id,
                },
            );
        }
        SynthEvent::Transaction { transaction, fraud }
    }

    /// The configured delay with up to ±10% jitter: chargebacks do not all
    /// take exactly the same time. Never negative.
    fn label_delay(&mut self) -> TimeDelta {
        let ms = self.config.label_delay.num_milliseconds().max(0);
        if ms == 0 {
            return TimeDelta::zero();
        }
        let jitter: f64 = self.rng.random_range(-0.1..=0.1);
        TimeDelta::milliseconds((ms as f64 * (1.0 + jitter)) as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::testkit::{collect, month, start, transactions};
    use std::collections::HashMap;

    fn small() -> SynthConfig {
        SynthConfig {
            users: 300,
            merchants: 80,
            ..SynthConfig::default()
        }
    }

    fn first_events(config: SynthConfig, n: usize) -> Vec<SynthEvent> {
        let rate = config.natural_rate_per_sec();
        let mut g = Generator::new(config, start(), rate);
        let until = start() + TimeDelta::days(365);
        std::iter::from_fn(|| g.next_before(until))
            .take(n)
            .collect()
    }

    #[test]
    fn same_seed_same_stream_other_seed_other_stream() {
        let a = first_events(SynthConfig::default(), 10_000);
        let b = first_events(SynthConfig::default(), 10_000);
        assert_eq!(a.len(), 10_000);
        assert!(a == b, "same seed gave different events");
        let c = first_events(
            SynthConfig {
                seed: 43,
                ..SynthConfig::default()
            },
            10_000,
        );
        assert!(a != c, "different seeds gave the same events");
    }

    #[test]
    fn events_are_time_ordered_and_never_after_until() {
        let mut g = Generator::new(small(), start(), 0.5);
        let mut last = start();
        let mut until = start();
        let mut seen = 0;
        for step in 0..2_000 {
            // Irregular steps, some of them going backwards.
            until += TimeDelta::seconds((step % 7) * 97 - 150);
            while let Some(e) = g.next_before(until) {
                assert!(e.time() <= until, "{} after {until}", e.time());
                assert!(e.time() >= last, "{} before {last}", e.time());
                last = e.time();
                seen += 1;
            }
        }
        assert!(seen > 10_000, "{seen}");
    }

    #[test]
    fn splitting_a_range_gives_the_same_stream() {
        let end = start() + TimeDelta::days(3);
        let mut whole = Generator::new(SynthConfig::default(), start(), 0.2);
        let once = collect(&mut whole, end);
        let mut split = Generator::new(SynthConfig::default(), start(), 0.2);
        let mut pieces = Vec::new();
        let mut until = start();
        while until < end {
            until = (until + TimeDelta::milliseconds(61_337)).min(end);
            pieces.extend(collect(&mut split, until));
        }
        assert!(once.len() > 40_000, "{}", once.len());
        assert!(once == pieces, "split calls changed the stream");
    }

    #[test]
    fn a_month_at_the_natural_rate_has_the_expected_volume_and_fraud_share() {
        let m = month();
        let (mut total, mut fraud) = (0usize, 0usize);
        for (_, f) in transactions(&m.events).filter(|(t, _)| t.timestamp <= m.end) {
            total += 1;
            fraud += usize::from(f.is_some());
        }
        let share = fraud as f64 / total as f64;
        assert!((150_000..=200_000).contains(&total), "{total} transactions");
        assert!((0.006..=0.015).contains(&share), "fraud share {share}");
        let expected = SynthConfig::default().natural_rate_per_sec() * 30.0 * 86_400.0;
        assert!(
            (total as f64 / expected - 1.0).abs() < 0.03,
            "{total} vs {expected}"
        );
    }

    #[test]
    fn transactions_are_well_formed() {
        for (t, _) in transactions(&month().events) {
            assert!(t.amount.is_finite() && t.amount > 0.0, "{t:?}");
            assert!(
                ((t.amount * 100.0).round() - t.amount * 100.0).abs() < 1e-6,
                "{t:?}"
            );
            assert_eq!(t.timestamp.timestamp_subsec_nanos() % 1_000_000, 0);
            assert!(t.validate().is_ok());
            assert!(t.merchant_category.is_some() && t.currency.is_some() && t.channel.is_some());
        }
        let ids: std::collections::HashSet<_> = transactions(&month().events)
            .map(|(t, _)| t.transaction_id)
            .collect();
        assert_eq!(ids.len(), transactions(&month().events).count());
    }

    #[test]
    fn most_legit_purchases_happen_between_7_and_23() {
        let (mut day, mut all) = (0usize, 0usize);
        for (t, _) in transactions(&month().events).filter(|(_, f)| f.is_none()) {
            all += 1;
            day += usize::from((7..23).contains(&t.timestamp.hour()));
        }
        let share = day as f64 / all as f64;
        assert!(share > 0.8, "{share}");
        // Yet nights are not empty, so hour of day is a signal and not a rule.
        assert!(share < 0.97, "{share}");
    }

    #[test]
    fn every_fraud_gets_exactly_one_chargeback_within_the_delay() {
        let m = month();
        let fraud: HashMap<Uuid, DateTime<Utc>> = transactions(&m.events)
            .filter(|(_, f)| f.is_some())
            .map(|(t, _)| (t.transaction_id, t.timestamp))
            .collect();
        let mut labelled: HashMap<Uuid, usize> = HashMap::new();
        let delay = SynthConfig::default().label_delay;
        let (low, high) = (
            delay * 9 / 10 - TimeDelta::milliseconds(1),
            delay * 11 / 10 + TimeDelta::milliseconds(1),
        );
        for e in &m.events {
            let SynthEvent::Label(label) = e else {
                continue;
            };
            let Some(at) = fraud.get(&label.transaction_id) else {
                panic!("label for a legit or unknown transaction: {label:?}");
            };
            assert!(label.is_fraud && label.source == "chargeback");
            assert_eq!(
                label.label_id,
                Uuid::new_v5(&LABEL_NAMESPACE, label.transaction_id.as_bytes())
            );
            let waited = label.labeled_at - *at;
            assert!(low <= waited && waited <= high, "{waited}");
            *labelled.entry(label.transaction_id).or_default() += 1;
        }
        assert_eq!(labelled.len(), fraud.len());
        assert!(labelled.values().all(|n| *n == 1));
    }

    #[test]
    fn without_delay_the_chargeback_directly_follows() {
        let config = SynthConfig {
            label_delay: TimeDelta::zero(),
            fraud_rate: 0.05,
            ..small()
        };
        let mut g = Generator::new(config, start(), 0.2);
        let events = collect(&mut g, start() + TimeDelta::days(2));
        let mut frauds = 0;
        for (i, e) in events.iter().enumerate() {
            if let SynthEvent::Transaction {
                transaction,
                fraud: Some(_),
            } = e
            {
                frauds += 1;
                match events.get(i + 1) {
                    Some(SynthEvent::Label(l)) => {
                        assert_eq!(l.transaction_id, transaction.transaction_id);
                        assert_eq!(l.labeled_at, transaction.timestamp);
                    }
                    other => panic!("expected the label, got {other:?}"),
                }
            }
        }
        assert!(frauds > 500, "{frauds}");
    }

    #[test]
    fn the_rate_can_change_and_stop() {
        let mut g = Generator::new(small(), start(), 0.0);
        let live_from = start() + TimeDelta::days(10);
        assert_eq!(g.next_before(live_from), None);
        // The rate is an average over the hours and days, so measure a whole week.
        g.set_rate(0.25);
        let live_to = live_from + TimeDelta::days(7);
        let events = collect(&mut g, live_to);
        let live: Vec<_> = transactions(&events).collect();
        assert!(live.iter().all(|(t, _)| t.timestamp > live_from));
        let per_sec = live.len() as f64 / (7.0 * 86_400.0);
        assert!((per_sec / 0.25 - 1.0).abs() < 0.02, "{per_sec}");
        let share = live.iter().filter(|(_, f)| f.is_some()).count() as f64 / live.len() as f64;
        assert!((0.006..=0.015).contains(&share), "fraud share {share}");
        g.set_rate(0.0);
        let rest = collect(&mut g, live_to + TimeDelta::days(9));
        assert!(rest.iter().all(|e| match e {
            SynthEvent::Label(_) => true,
            // Only scenario transactions already under way may follow.
            SynthEvent::Transaction { fraud, .. } =>
                fraud.is_some() && e.time() < live_to + TimeDelta::hours(8),
        }));
        let frauds = transactions(&events)
            .chain(transactions(&rest))
            .filter(|(_, f)| f.is_some())
            .count();
        let labels = events
            .iter()
            .chain(&rest)
            .filter(|e| matches!(e, SynthEvent::Label(_)))
            .count();
        assert_eq!(frauds, labels);
        assert_eq!(g.next_before(live_to + TimeDelta::days(400)), None);
    }

    /// Transactions per hour of day over `days` from `start()` at `rate`.
    fn per_hour(activity: Activity, rate: f64, days: i64) -> [usize; 24] {
        let mut g = Generator::new(small(), start(), rate);
        g.set_activity(activity);
        let events = collect(&mut g, start() + TimeDelta::days(days));
        let mut hours = [0; 24];
        for (t, _) in transactions(&events) {
            hours[t.timestamp.hour() as usize] += 1;
        }
        hours
    }

    /// A flat stream delivers the rate asked for at every hour; one that
    /// follows the day delivers it on average, little of it at night.
    #[test]
    fn a_flat_stream_has_the_rate_at_every_hour() {
        // A whole week, as the daily rate is a mean over weekdays and weekends.
        let (rate, days) = (0.2, 7);
        let expected = rate * 3_600.0 * days as f64;
        let flat = per_hour(Activity::Flat, rate, days);
        for (hour, n) in flat.iter().enumerate() {
            assert!(
                (*n as f64 / expected - 1.0).abs() < 0.1,
                "{hour}h: {n} vs {expected}"
            );
        }
        let daily = per_hour(Activity::Daily, rate, days);
        let (quietest, busiest) = (daily.iter().min().unwrap(), daily.iter().max().unwrap());
        assert!((*quietest as f64) < 0.5 * expected, "{daily:?}");
        assert!((*busiest as f64) > 1.3 * expected, "{daily:?}");
        let total = |hours: [usize; 24]| hours.iter().sum::<usize>() as f64;
        assert!((total(flat) / total(daily) - 1.0).abs() < 0.05);
    }

    #[test]
    fn silly_inputs_do_not_panic() {
        let config = SynthConfig {
            users: 0,
            merchants: 0,
            fraud_rate: f64::NAN,
            label_delay: TimeDelta::days(-3),
            ..SynthConfig::default()
        };
        let mut g = Generator::new(config, start(), f64::INFINITY);
        assert_eq!(g.next_before(start() + TimeDelta::days(1)), None);
        // Nothing arrived up to there at rate 0, so the new rate starts from there.
        g.set_rate(1.0);
        let events = collect(&mut g, start() + TimeDelta::days(2));
        assert!(events.len() > 80_000 && transactions(&events).all(|(_, f)| f.is_none()));
        let config = SynthConfig {
            users: 3,
            merchants: 2,
            fraud_rate: 0.5,
            label_delay: TimeDelta::zero(),
            ..SynthConfig::default()
        };
        let mut g = Generator::new(config, start(), 1.0);
        let events = collect(&mut g, start() + TimeDelta::hours(6));
        assert!(transactions(&events).any(|(_, f)| f.is_some()));
    }
}
