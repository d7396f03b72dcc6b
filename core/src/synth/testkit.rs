//! A shared 30-day run and helpers for the tests.

use std::collections::HashMap;
use std::sync::OnceLock;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use super::population::Population;
use super::{Generator, Scenario, SynthConfig, SynthEvent};
use crate::transaction::Transaction;

/// A fixed start, a Friday at midnight UTC.
pub(crate) fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0)
        .single()
        .expect("valid date")
}

/// Every event up to `until`, in one call sequence.
pub(crate) fn collect(generator: &mut Generator, until: DateTime<Utc>) -> Vec<SynthEvent> {
    std::iter::from_fn(|| generator.next_before(until)).collect()
}

/// The transactions among `events`, with their ground truth.
pub(crate) fn transactions(
    events: &[SynthEvent],
) -> impl Iterator<Item = (&Transaction, Option<Scenario>)> {
    events.iter().filter_map(|e| match e {
        SynthEvent::Transaction { transaction, fraud } => Some((transaction, *fraud)),
        SynthEvent::Label(_) => None,
    })
}

/// A default 30-day backfill at the natural rate, followed by nine quiet
/// days (rate 0) so that every chargeback has come out.
pub(crate) struct Month {
    pub pop: Population,
    pub end: DateTime<Utc>,
    pub events: Vec<SynthEvent>,
    /// Per user, the legitimate amounts, sorted.
    pub legit_amounts: HashMap<String, Vec<f64>>,
    /// Per user, the devices seen on legitimate transactions.
    pub legit_devices: HashMap<String, Vec<String>>,
}

impl Month {
    /// The median legitimate amount of `user`.
    pub fn median(&self, user: &str) -> f64 {
        let amounts = &self.legit_amounts[user];
        amounts[amounts.len() / 2]
    }

    /// The fraudulent transactions of `scenario`.
    pub fn of(&self, scenario: Scenario) -> Vec<&Transaction> {
        transactions(&self.events)
            .filter(|(_, f)| *f == Some(scenario))
            .map(|(t, _)| t)
            .collect()
    }

    /// The home country code of `user`.
    pub fn home(&self, user: &str) -> &'static str {
        let index: usize = user[1..].parse().expect("user id");
        super::catalog::COUNTRIES[self.pop.users[index].home].code
    }
}

/// The shared month, generated once for all tests.
pub(crate) fn month() -> &'static Month {
    static MONTH: OnceLock<Month> = OnceLock::new();
    MONTH.get_or_init(|| {
        let config = SynthConfig::default();
        let mut generator = Generator::new(config.clone(), start(), config.natural_rate_per_sec());
        let end = start() + TimeDelta::days(30);
        let mut events = collect(&mut generator, end);
        generator.set_rate(0.0);
        events.extend(collect(&mut generator, end + TimeDelta::days(9)));
        let mut legit_amounts: HashMap<String, Vec<f64>> = HashMap::new();
        let mut legit_devices: HashMap<String, Vec<String>> = HashMap::new();
        for (t, _) in transactions(&events).filter(|(_, f)| f.is_none()) {
            legit_amounts
                .entry(t.user_id.clone())
                .or_default()
                .push(t.amount);
            if let Some(d) = &t.device_id {
                legit_devices
                    .entry(t.user_id.clone())
                    .or_default()
                    .push(d.clone());
            }
        }
        legit_amounts
            .values_mut()
            .for_each(|a| a.sort_by(f64::total_cmp));
        Month {
            pop: Population::build(&config),
            end,
            events,
            legit_amounts,
            legit_devices,
        }
    })
}
