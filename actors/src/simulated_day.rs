//! A simulated day of the producer's stream on an accelerated clock: the
//! world `producer.rate` asks for, streamed as the producer streams it (a
//! backfill at the world's natural rate, then live), the online feature
//! code, a model trained on the backfill with its decisions, and the drift
//! checker's windows and statistics every five minutes — without waiting
//! for the wall clock.
//!
//! The rate is ten times the natural rate of 300 card holders, so the
//! world has 3,000 (`SynthConfig::scaled_to_rate`, as `vigil::world`
//! builds it). The control is the former design: the same backfill, then
//! the same card holders driven ten times faster. It fails the comparisons
//! the scaled world passes, which shows that they can fail.
//!
//! Run with `--nocapture` to see the measured shares and drift verdicts.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use vigil_core::drift::windows::{TimesOfDay, WARM_UP, current_window, reference_window};
use vigil_core::features::{FeatureConfig, HistoryEvent, compute_history};
use vigil_core::model::dataset::{LabeledRow, SplitConfig, Window, time_split};
use vigil_core::model::training::{TrainingParams, train};
use vigil_core::model::{Decision, FraudModel, Thresholds};
use vigil_core::synth::{Generator, SynthConfig, SynthEvent};
use vigil_core::{Label, Transaction};

use crate::store::{DriftRow, ScoreRow};
use uuid::Uuid;
use vigil_core::drift::check::{DriftCheck, DriftSettings, Windows, check};
use vigil_core::drift::simulated::windows_of;

/// Short label delays, so that ten days of backfill hold enough labelled
/// fraud to train on.
const LABEL_DELAY: TimeDelta = TimeDelta::days(2);
const BACKFILL_DAYS: i64 = 10;
/// The default drift schedule.
const CHECK_EVERY: TimeDelta = TimeDelta::minutes(5);

/// A Monday, 10:00 UTC: live traffic starts on a working morning.
fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap()
}

fn live_from() -> DateTime<Utc> {
    start() + TimeDelta::days(BACKFILL_DAYS)
}

/// The world `producer.rate = 10 × natural` makes of 300 card holders.
fn world() -> SynthConfig {
    let base = SynthConfig {
        users: 300,
        merchants: 75,
        label_delay: LABEL_DELAY,
        ..SynthConfig::default()
    };
    base.scaled_to_rate(10.0 * base.natural_rate_per_sec())
}

/// What happens to live transactions from `Live::change_from` on.
#[derive(Debug, Clone, Copy)]
enum Change {
    None,
    /// Every amount multiplied.
    Amounts(f64),
    /// This share of transactions made in `BR`.
    Brazil(f64),
}

impl Change {
    fn apply(self, t: &mut Transaction) {
        match self {
            Change::None => {}
            Change::Amounts(factor) => t.amount = (t.amount * factor * 100.0).round() / 100.0,
            Change::Brazil(share) => {
                // Transaction ids are random: their low bits pick the share.
                if (t.transaction_id.as_u128() % 10_000) as f64 / 10_000.0 < share {
                    t.country = Some("BR".into());
                }
            }
        }
    }
}

/// How the live stream runs.
#[derive(Debug, Clone, Copy)]
struct Live {
    /// The live rate as a multiple of the world's natural rate: 1 is the
    /// producer's, 10 the former design's (every card ten times faster).
    pace: f64,
    until: DateTime<Utc>,
    change: Change,
    change_from: DateTime<Utc>,
}

impl Live {
    fn stationary(hours: i64) -> Live {
        Live {
            pace: 1.0,
            until: live_from() + TimeDelta::hours(hours),
            change: Change::None,
            change_from: live_from(),
        }
    }
}

/// One transaction as the system sees it.
#[derive(Debug, Clone)]
struct Row {
    drift: DriftRow,
    probability: f64,
    decision: Decision,
}

/// A model trained at the end of the backfill, on what the store knows then.
struct Trained {
    model: FraudModel,
    window: Window,
}

/// The generated stream: transactions (changed as asked) and labels.
fn events(live: Live) -> Vec<HistoryEvent> {
    let world = world();
    let natural = world.natural_rate_per_sec();
    // As the producer: the backfill at the world's natural rate, then the
    // live rate from the same generator.
    let mut generator = Generator::new(world, start(), natural);
    let mut events = Vec::new();
    let push = |event: SynthEvent, events: &mut Vec<HistoryEvent>| match event {
        SynthEvent::Transaction {
            mut transaction, ..
        } => {
            if transaction.timestamp >= live.change_from {
                live.change.apply(&mut transaction);
            }
            events.push(HistoryEvent::Transaction(transaction));
        }
        SynthEvent::Label(label) => events.push(HistoryEvent::Label(label)),
    };
    while let Some(event) = generator.next_before(live_from()) {
        push(event, &mut events);
    }
    generator.set_rate(live.pace * natural);
    while let Some(event) = generator.next_before(live.until) {
        push(event, &mut events);
    }
    events
}

/// Every transaction with its features, in time order.
fn featured(events: Vec<HistoryEvent>) -> Vec<(Transaction, DriftRow)> {
    let transactions: HashMap<_, _> = events
        .iter()
        .filter_map(|e| match e {
            HistoryEvent::Transaction(t) => Some((t.transaction_id, t.clone())),
            _ => None,
        })
        .collect();
    let config = FeatureConfig {
        label_delay: LABEL_DELAY,
        ..FeatureConfig::default()
    };
    compute_history(&config, events)
        .into_iter()
        .map(|(id, features)| {
            let t = transactions[&id].clone();
            let drift = DriftRow {
                time: t.timestamp,
                features,
                country: t.country.clone(),
                channel: t.channel.map(|c| c.as_str().to_owned()),
            };
            (t, drift)
        })
        .collect()
}

/// The start-up model: trained on the backfill (identical in every run),
/// with the labels that had arrived by its end.
fn trained() -> &'static Trained {
    static TRAINED: OnceLock<Trained> = OnceLock::new();
    TRAINED.get_or_init(|| {
        let events = events(Live::stationary(0));
        let known: HashSet<_> = events
            .iter()
            .filter_map(|e| match e {
                HistoryEvent::Label(Label {
                    transaction_id,
                    is_fraud: true,
                    ..
                }) => Some(*transaction_id),
                _ => None,
            })
            .collect();
        let rows = featured(events)
            .into_iter()
            .map(|(t, drift)| LabeledRow {
                transaction_id: t.transaction_id,
                is_fraud: known.contains(&t.transaction_id),
                user_id: t.user_id,
                time: t.timestamp,
                features: drift.features,
            })
            .collect();
        let split = SplitConfig {
            label_delay: LABEL_DELAY,
            ..SplitConfig::default()
        };
        let split = time_split(rows, live_from(), &split).expect("enough labelled history");
        let params = TrainingParams::default();
        let trained = train(&split, &params, &mut |_| {}).expect("the model trains");
        Trained {
            model: trained.model,
            window: trained.report.train_window,
        }
    })
}

/// The stream of `live`, every transaction with its decision.
fn run(live: Live) -> Vec<Row> {
    let model = &trained().model;
    let thresholds = Thresholds::default();
    featured(events(live))
        .into_iter()
        .map(|(_, drift)| {
            let probability = model.probability(&drift.features);
            Row {
                decision: thresholds.decide(probability),
                probability,
                drift,
            }
        })
        .collect()
}

fn between(rows: &[Row], from: DateTime<Utc>, to: DateTime<Utc>) -> &[Row] {
    let a = rows.partition_point(|r| r.drift.time <= from);
    let b = rows.partition_point(|r| r.drift.time <= to);
    &rows[a..b]
}

/// The share of REVIEW and BLOCK decisions.
fn flagged_share(rows: &[Row]) -> f64 {
    let flagged = rows
        .iter()
        .filter(|r| r.decision != Decision::Approve)
        .count();
    flagged as f64 / rows.len().max(1) as f64
}

/// The backfill the model did not learn from: after its training window.
fn unseen_backfill(rows: &[Row]) -> &[Row] {
    between(rows, trained().window.end, live_from())
}

/// How far a share of `n` decisions may stray from `p` by chance: three
/// standard errors, plus half a point.
fn tolerance(p: f64, n: usize) -> f64 {
    3.0 * (p * (1.0 - p) / n.max(1) as f64).sqrt() + 0.005
}

fn mean(rows: &[Row], feature: &str) -> f64 {
    let sum: f64 = rows
        .iter()
        .map(|r| r.drift.features.get(feature).unwrap_or(0.0))
        .sum();
    sum / rows.len().max(1) as f64
}

/// The per-card features of the live hour against the backfill's same
/// hour of the day over its last week: relative differences of the means.
fn per_card_drift(rows: &[Row], hour: (DateTime<Utc>, DateTime<Utc>)) -> Vec<(&'static str, f64)> {
    let live = between(rows, hour.0, hour.1);
    let same_hours: Vec<Row> = (1..=7)
        .flat_map(|d| {
            let back = TimeDelta::days(d);
            between(rows, hour.0 - back, hour.1 - back).to_vec()
        })
        .collect();
    [
        "user_txn_count_1h",
        "user_txn_count_24h",
        "unique_merchants_24h",
    ]
    .into_iter()
    .map(|f| (f, mean(live, f) / mean(&same_hours, f) - 1.0))
    .collect()
}

/// The drift check at `now`, on the windows the store would give
/// (`read_windows`' in-memory twin) with the default settings.
fn check_at(rows: &[Row], now: DateTime<Utc>) -> DriftCheck {
    let settings = DriftSettings::default();
    let upto = between(rows, DateTime::<Utc>::MIN_UTC, now);
    let time = |r: &Row| r.drift.time;
    let current = current_window(upto, time, settings.current_rows);
    let times = match (current.first(), current.last()) {
        (Some(a), Some(b)) => TimesOfDay::covering(a.drift.time, b.drift.time),
        _ => TimesOfDay::ALL,
    };
    let window = trained().window;
    let reference = reference_window(
        upto,
        time,
        (window.start.max(rows[0].drift.time + WARM_UP), window.end),
        times,
        settings.reference_rows,
    );
    check(&windows(&reference, current), &settings, now, Uuid::nil())
}

/// The windows of a check, the model's output included (as the store's
/// `scores` would give it).
fn windows(reference: &[Row], current: &[Row]) -> Windows {
    let drift = |rows: &[Row]| rows.iter().map(|r| r.drift.clone()).collect();
    let scores = |rows: &[Row]| {
        rows.iter()
            .map(|r| ScoreRow {
                fraud_probability: r.probability,
                decision: r.decision.as_str().to_owned(),
            })
            .collect()
    };
    Windows {
        reference_scores: scores(reference),
        current_scores: scores(current),
        ..windows_of(drift(reference), drift(current))
    }
}

/// The check the former windows made at `now`: the newest 5,000 rows of
/// the training window against the newest 1,000 rows.
fn former_check_at(rows: &[Row], now: DateTime<Utc>) -> DriftCheck {
    let upto = between(rows, DateTime::<Utc>::MIN_UTC, now);
    let current = &upto[upto.len().saturating_sub(1_000)..];
    let window = trained().window;
    let training = between(rows, window.start - TimeDelta::milliseconds(1), window.end);
    let reference = &training[training.len().saturating_sub(5_000)..];
    check(
        &windows(reference, current),
        &DriftSettings::default(),
        now,
        Uuid::nil(),
    )
}

/// The checks every five minutes from `from` to `to`.
fn checks(rows: &[Row], from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DriftCheck> {
    checks_with(rows, from, to, check_at)
}

fn checks_with(
    rows: &[Row],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    check: fn(&[Row], DateTime<Utc>) -> DriftCheck,
) -> Vec<DriftCheck> {
    let mut now = from;
    let mut all = Vec::new();
    while now <= to {
        all.push(check(rows, now));
        now += CHECK_EVERY;
    }
    all
}

/// Features that follow the clock: compared with other hours of the day
/// they differ on any stream.
const CLOCK_FEATURES: [&str; 4] = [
    "hour_of_day",
    "user_txn_count_24h",
    "user_amount_sum_24h",
    "unique_merchants_24h",
];

/// How many of `checks` flagged `feature`.
fn flagged_by(checks: &[DriftCheck], feature: &str) -> usize {
    checks
        .iter()
        .filter(|c| c.drifted_features.iter().any(|f| f == feature))
        .count()
}

/// Whether the model's output was found to drift, and how.
fn prediction_drift(check: &DriftCheck) -> Vec<String> {
    check
        .prediction_details
        .iter()
        .filter(|f| f.drift_detected)
        .map(|f| f.feature.clone())
        .collect()
}

/// How many checks flagged each feature.
fn flag_counts(checks: &[DriftCheck]) -> Vec<(String, usize)> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for c in checks {
        for f in &c.drifted_features {
            *counts.entry(f.clone()).or_default() += 1;
        }
    }
    let mut counts: Vec<_> = counts.into_iter().collect();
    counts.sort();
    counts
}

#[test]
fn a_stationary_day_at_ten_times_the_natural_rate_keeps_the_decision_mix_and_raises_no_drift() {
    let rows = run(Live::stationary(24));
    let backfill = unseen_backfill(&rows);
    let base = flagged_share(backfill);
    let first_hour = between(&rows, live_from(), live_from() + TimeDelta::hours(1));
    let day = between(&rows, live_from(), live_from() + TimeDelta::days(1));
    let (hour_share, day_share) = (flagged_share(first_hour), flagged_share(day));
    println!(
        "REVIEW/BLOCK share: backfill {base:.4} ({} rows), first live hour {hour_share:.4} ({} rows), live day {day_share:.4} ({} rows)",
        backfill.len(),
        first_hour.len(),
        day.len()
    );
    assert!(first_hour.len() > 300, "{} live rows", first_hour.len());
    assert!(
        (hour_share - base).abs() <= tolerance(base, first_hour.len()),
        "first hour {hour_share} vs backfill {base}"
    );
    assert!(
        (day_share - base).abs() <= tolerance(base, day.len()),
        "day {day_share} vs backfill {base}"
    );
    let per_card = per_card_drift(&rows, (live_from(), live_from() + TimeDelta::hours(1)));
    println!("per-card means, first live hour vs the backfill's same hour: {per_card:?}");
    for (feature, change) in per_card {
        assert!(change.abs() < 0.15, "{feature} moved by {change}");
    }

    let checks = checks(
        &rows,
        live_from() + CHECK_EVERY,
        live_from() + TimeDelta::days(1),
    );
    let counts = flag_counts(&checks);
    let worst = checks
        .iter()
        .map(|c| c.num_features_drifted)
        .max()
        .unwrap_or(0);
    println!(
        "{} checks over the day: dataset drift in {}, most features flagged at once {worst}, flags per feature {counts:?}",
        checks.len(),
        checks.iter().filter(|c| c.dataset_drift_detected).count()
    );
    assert_eq!(checks.len(), 288);
    for c in &checks {
        assert_eq!(c.status.as_str(), "ok", "{}: {:?}", c.timestamp, c.message);
        assert!(
            !c.dataset_drift_detected,
            "{}: {:?}",
            c.timestamp, c.drifted_features
        );
    }
    // What follows the clock is compared with the same times of the day:
    // flagged by chance at most (one check in twenty). The former windows
    // flag it by construction.
    let former = checks_with(
        &rows,
        live_from() + CHECK_EVERY,
        live_from() + TimeDelta::days(1),
        former_check_at,
    );
    let former_counts = flag_counts(&former);
    println!(
        "former windows over the same day: dataset drift in {}, flags per feature {former_counts:?}",
        former.iter().filter(|c| c.dataset_drift_detected).count()
    );
    for feature in CLOCK_FEATURES {
        let n = flagged_by(&checks, feature);
        assert!(n * 20 <= checks.len(), "{feature} flagged by {n} checks");
    }
    assert!(
        CLOCK_FEATURES
            .iter()
            .any(|f| flagged_by(&former, f) * 20 > former.len()),
        "the former windows did not flag the clock: {former_counts:?}"
    );
}

/// The former design: after the same backfill the same card holders shop
/// ten times faster. The comparisons above catch it.
#[test]
fn the_same_cards_ten_times_faster_fail_the_same_comparisons() {
    let rows = run(Live {
        pace: 10.0,
        ..Live::stationary(4)
    });
    let base = flagged_share(unseen_backfill(&rows));
    let per_card = per_card_drift(&rows, (live_from(), live_from() + TimeDelta::hours(1)));
    let hourly: Vec<(usize, f64)> = (0..4)
        .map(|h| {
            let from = live_from() + TimeDelta::hours(h);
            let hour = between(&rows, from, from + TimeDelta::hours(1));
            (hour.len(), flagged_share(hour))
        })
        .collect();
    let check = check_at(&rows, live_from() + TimeDelta::hours(1));
    println!(
        "ten times faster: per-card means of the first hour {per_card:?}; REVIEW/BLOCK share per hour (rows, share) {hourly:?} vs backfill {base:.4}; the check an hour in names {:?}",
        check.drifted_features
    );
    let (_, count_1h) = per_card[0];
    assert!(count_1h > 0.15, "user_txn_count_1h moved by {count_1h}");
    assert!(
        check
            .drifted_features
            .iter()
            .any(|f| f == "user_txn_count_1h"),
        "{:?}",
        check.drifted_features
    );
}

/// The first check of the five-minutely schedule after `from` that names
/// `feature`, within two hours.
fn first_flagging(rows: &[Row], from: DateTime<Utc>, feature: &str) -> Option<DriftCheck> {
    checks(rows, from + CHECK_EVERY, from + TimeDelta::hours(2))
        .into_iter()
        .find(|c| c.drifted_features.iter().any(|f| f == feature))
}

/// A stream changed from the second live hour on, its checks before the
/// change, the first check naming `feature` and the check an hour after
/// the change (the next one on an hourly schedule).
struct Changed {
    rows: Vec<Row>,
    before: Vec<DriftCheck>,
    first: DriftCheck,
    hourly: DriftCheck,
}

fn changed(change: Change, feature: &str) -> Changed {
    let change_from = live_from() + TimeDelta::hours(1);
    let rows = run(Live {
        change,
        change_from,
        ..Live::stationary(3)
    });
    let before = checks(&rows, live_from() + CHECK_EVERY, change_from);
    let first = first_flagging(&rows, change_from, feature).expect("the change is caught");
    let hourly = check_at(&rows, change_from + TimeDelta::hours(1));
    let base = flagged_share(unseen_backfill(&rows));
    let changed_hour = between(&rows, change_from, change_from + TimeDelta::hours(1));
    println!(
        "{change:?} from {change_from}: first named by the check at {} ({} min after) with {:?}; the check an hour after names {:?}, model output {:?}; REVIEW/BLOCK share in the changed hour {:.4} vs backfill {base:.4}",
        first.timestamp,
        (first.timestamp - change_from).num_minutes(),
        first.drifted_features,
        hourly.drifted_features,
        prediction_drift(&hourly),
        flagged_share(changed_hour),
    );
    Changed {
        rows,
        before,
        first,
        hourly,
    }
}

fn names(check: &DriftCheck, feature: &str) -> bool {
    check.drifted_features.iter().any(|f| f == feature)
}

#[test]
fn amounts_three_times_higher_from_one_hour_on_are_caught_and_named() {
    let c = changed(Change::Amounts(3.0), "amount");
    assert!(c.before.iter().all(|c| !names(c, "amount")));
    assert!(c.first.timestamp - (live_from() + TimeDelta::hours(1)) <= TimeDelta::minutes(30));
    for feature in [
        "amount",
        "amount_zscore",
        "user_amount_sum_1h",
        "user_amount_sum_24h",
    ] {
        assert!(
            names(&c.hourly, feature),
            "{feature}: {:?}",
            c.hourly.drifted_features
        );
    }
    for untouched in ["hour_of_day", "user_txn_count_24h", "channel", "country"] {
        assert!(
            !names(&c.hourly, untouched),
            "{untouched}: {:?}",
            c.hourly.drifted_features
        );
    }
    assert!(!c.rows.is_empty());
}

#[test]
fn a_quarter_of_payments_moving_to_brazil_is_caught_and_named() {
    let c = changed(Change::Brazil(0.25), "country");
    assert!(c.before.iter().all(|c| !names(c, "country")));
    assert!(c.first.timestamp - (live_from() + TimeDelta::hours(1)) <= TimeDelta::hours(1));
    for feature in ["country", "unique_countries_24h"] {
        assert!(
            names(&c.hourly, feature),
            "{feature}: {:?}",
            c.hourly.drifted_features
        );
    }
    for untouched in ["amount", "hour_of_day", "channel"] {
        assert!(
            !names(&c.hourly, untouched),
            "{untouched}: {:?}",
            c.hourly.drifted_features
        );
    }
}
