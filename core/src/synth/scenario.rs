//! The kinds of fraud the generator plays out, and how often each occurs.

use serde::{Deserialize, Serialize};
use std::ops::RangeInclusive;

/// A fraud pattern; every fraudulent transaction carries the one it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    /// Stolen card numbers checked by a bot: a burst of 5–20 tiny online
    /// charges (0.50–5.00) within minutes, at merchants new to the
    /// cardholder (mostly digital goods), from a device never seen before.
    CardTesting,
    /// Someone else logged into the cardholder's account: a new device in a
    /// foreign country, usually at night, making 2–5 online or mobile
    /// purchases of several times the person's usual spend within an hour or two.
    AccountTakeover,
    /// A merchant whose payments are compromised for 1–5 days: charges to
    /// arbitrary cards, online and without the cardholder's device, at a
    /// bit above the usual amounts, make up a share of its transactions.
    CompromisedMerchant,
    /// A lost or stolen physical card: 3–8 in-store purchases or cash
    /// withdrawals within hours, far above the person's habits, at home or
    /// in another country.
    StolenCard,
    /// A skimmed card cloned abroad: 3–6 cash withdrawals of 200–800 in round
    /// notes at foreign cash machines, minutes apart, usually at night.
    AtmCashOut,
    /// The cardholder disputes a purchase they made: it looks like any other
    /// (own device, usual merchant and amount), so no detector can catch it;
    /// it keeps the labelled data as noisy as real chargebacks are.
    FriendlyFraud,
}

/// When in the day a scenario is likely to start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Timing {
    /// Around the clock: bots and thieves do not keep office hours.
    Anytime,
    /// Mostly between 00:00 and 06:00, when the victim is asleep and
    /// nobody answers a fraud alert.
    Night,
}

/// Under `Timing::Night`, how much likelier an hour before 06:00 is than
/// average; the other hours get the rest so that the mean stays 1.
const NIGHT_PEAK: f64 = 3.0;

impl Scenario {
    /// Every scenario.
    pub const ALL: [Scenario; 6] = [
        Scenario::CardTesting,
        Scenario::AccountTakeover,
        Scenario::CompromisedMerchant,
        Scenario::StolenCard,
        Scenario::AtmCashOut,
        Scenario::FriendlyFraud,
    ];

    /// The snake_case name used in JSON and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::CardTesting => "card_testing",
            Scenario::AccountTakeover => "account_takeover",
            Scenario::CompromisedMerchant => "compromised_merchant",
            Scenario::StolenCard => "stolen_card",
            Scenario::AtmCashOut => "atm_cash_out",
            Scenario::FriendlyFraud => "friendly_fraud",
        }
    }

    /// The share of all fraudulent transactions that belong to this scenario.
    /// Card testing leads because bots are cheap; friendly fraud is kept
    /// small so the labels stay mostly learnable.
    pub(crate) fn share(self) -> f64 {
        match self {
            Scenario::CardTesting => 0.25,
            Scenario::AccountTakeover => 0.20,
            Scenario::CompromisedMerchant => 0.15,
            Scenario::StolenCard => 0.20,
            Scenario::AtmCashOut => 0.12,
            Scenario::FriendlyFraud => 0.08,
        }
    }

    /// How many transactions one occurrence makes (uniform in the range).
    pub(crate) fn transactions(self) -> RangeInclusive<usize> {
        match self {
            Scenario::CardTesting => 5..=20,
            Scenario::AccountTakeover => 2..=5,
            Scenario::StolenCard => 3..=8,
            Scenario::AtmCashOut => 3..=6,
            // One charge per occurrence; the compromise window itself lasts days.
            Scenario::CompromisedMerchant | Scenario::FriendlyFraud => 1..=1,
        }
    }

    /// The mean number of transactions of one occurrence.
    pub(crate) fn mean_transactions(self) -> f64 {
        let range = self.transactions();
        (*range.start() + *range.end()) as f64 / 2.0
    }

    /// When in the day this scenario tends to start.
    pub(crate) fn timing(self) -> Timing {
        match self {
            Scenario::AccountTakeover | Scenario::AtmCashOut => Timing::Night,
            _ => Timing::Anytime,
        }
    }
}

impl Timing {
    /// The relative start rate at `hour` (UTC); averages 1 over a day.
    pub(crate) fn activity(self, hour: u32) -> f64 {
        match self {
            Timing::Anytime => 1.0,
            Timing::Night if hour < 6 => NIGHT_PEAK,
            Timing::Night => (24.0 - 6.0 * NIGHT_PEAK) / 18.0,
        }
    }

    /// The highest value `activity` takes.
    pub(crate) fn peak(self) -> f64 {
        match self {
            Timing::Anytime => 1.0,
            Timing::Night => NIGHT_PEAK,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_sum_to_one_and_names_round_trip() {
        let total: f64 = Scenario::ALL.iter().map(|s| s.share()).sum();
        assert!((total - 1.0).abs() < 1e-9);
        for s in Scenario::ALL {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<Scenario>(&json).unwrap(), s);
        }
    }

    #[test]
    fn timings_average_to_one() {
        for timing in [Timing::Anytime, Timing::Night] {
            let mean = (0..24).map(|h| timing.activity(h)).sum::<f64>() / 24.0;
            assert!((mean - 1.0).abs() < 1e-9);
            assert!((0..24).all(|h| timing.activity(h) <= timing.peak()));
        }
    }
}
