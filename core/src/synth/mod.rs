//! Seeded synthetic card transactions with labelled fraud.
//!
//! A [`Generator`] simulates cardholders with their own habits (home
//! country, spending level, active hours, devices, channels, regular
//! merchants) shopping at merchants of skewed popularity, and mixes in
//! fraud [`Scenario`]s so that fraud makes up the configured share of
//! transactions. Every fraudulent transaction is later followed by its
//! chargeback [`Label`]. The same seed and the same calls give the same
//! stream.
//!
//! A population has a natural rate (the sum of its cardholders' habits).
//! A realistic stream of another rate comes from a population scaled to it
//! ([`SynthConfig::scaled_to_rate`]), not from driving the same cardholders
//! faster: history and live traffic then come from one process.

mod catalog;
mod compromise;
mod draw;
mod fraud;
mod generator;
mod legit;
mod merchants;
mod mix;
mod population;
mod scale;
mod scenario;
mod schedule;
#[cfg(test)]
mod testkit;
mod users;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::transaction::{Label, Transaction};

pub use generator::{Activity, Generator};
pub use scenario::Scenario;

/// What to simulate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SynthConfig {
    /// Seeds the population and the event stream.
    pub seed: u64,
    /// Number of cardholders (at least one is built).
    pub users: usize,
    /// Number of merchants (at least one is built).
    pub merchants: usize,
    /// Target share of fraudulent transactions (clamped to [0, 0.5]).
    pub fraud_rate: f64,
    /// How long after a fraudulent transaction its chargeback arrives (±10%).
    pub label_delay: TimeDelta,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            seed: 42,
            users: 2000,
            merchants: 500,
            fraud_rate: 0.01,
            label_delay: TimeDelta::days(7),
        }
    }
}

impl SynthConfig {
    /// The population's own average number of transactions per second.
    pub fn natural_rate_per_sec(&self) -> f64 {
        population::Population::build(self).natural_rate_per_sec()
    }
}

/// One event of the synthetic stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SynthEvent {
    /// A transaction, with the scenario it belongs to when it is fraud.
    Transaction {
        transaction: Transaction,
        fraud: Option<Scenario>,
    },
    /// A chargeback revealing an earlier fraudulent transaction.
    Label(Label),
}

impl SynthEvent {
    /// When the event happens: the transaction's timestamp or the label's `labeled_at`.
    pub fn time(&self) -> DateTime<Utc> {
        match self {
            SynthEvent::Transaction { transaction, .. } => transaction.timestamp,
            SynthEvent::Label(label) => label.labeled_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_partial_json() {
        let cfg: SynthConfig = serde_json::from_str(r#"{"seed": 7, "users": 10}"#).unwrap();
        assert_eq!(
            cfg,
            SynthConfig {
                seed: 7,
                users: 10,
                ..SynthConfig::default()
            }
        );
        let round: SynthConfig =
            serde_json::from_str(&serde_json::to_string(&SynthConfig::default()).unwrap()).unwrap();
        assert_eq!(round, SynthConfig::default());
    }

    #[test]
    fn natural_rate_gives_a_few_purchases_per_user_per_day() {
        let cfg = SynthConfig::default();
        let per_user_day = cfg.natural_rate_per_sec() * 86_400.0 / cfg.users as f64;
        assert!((2.5..3.3).contains(&per_user_day), "{per_user_day}");
    }
}
