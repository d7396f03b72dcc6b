//! How often scenarios start so that fraud makes up the configured share.
//!
//! For a total rate R and fraud share f, scenario s must produce f·R·share(s)
//! fraudulent transactions per second, so it starts f·R·share(s)/n(s) times
//! per second (n = its mean number of transactions). Friendly fraud marks
//! ordinary purchases instead, and ordinary purchases fill the rest of R.
//! Every stream scales with R, so the share holds at any rate.

use chrono::{DateTime, Timelike, Utc};
use rand::Rng;

use super::draw::{chance, pick_weighted};
use super::scenario::Scenario;

/// Upper bound on the fraud share, so ordinary purchases never vanish.
const MAX_FRAUD_RATE: f64 = 0.5;

/// Start rates of all scenarios, per unit of the total transaction rate.
pub(crate) struct FraudMix {
    /// Share of the total rate made of ordinary purchases (friendly fraud included).
    purchase_share: f64,
    /// Probability that an ordinary purchase gets disputed as friendly fraud.
    friendly: f64,
    /// The scenarios that start on their own.
    kinds: Vec<Scenario>,
    /// Per kind, candidate starts per unit of total rate (thinned by timing).
    candidates: Vec<f64>,
}

impl FraudMix {
    /// The mix for a target `fraud_rate` (clamped to [0, 0.5]).
    pub fn new(fraud_rate: f64) -> FraudMix {
        let f = if fraud_rate.is_finite() {
            fraud_rate.clamp(0.0, MAX_FRAUD_RATE)
        } else {
            0.0
        };
        let friendly_share = Scenario::FriendlyFraud.share();
        let purchase_share = 1.0 - f * (1.0 - friendly_share);
        let kinds: Vec<Scenario> = Scenario::ALL
            .into_iter()
            .filter(|s| *s != Scenario::FriendlyFraud)
            .collect();
        let candidates = kinds
            .iter()
            .map(|s| f * s.share() / s.mean_transactions() * s.timing().peak())
            .collect();
        FraudMix {
            purchase_share,
            friendly: f * friendly_share / purchase_share,
            kinds,
            candidates,
        }
    }

    /// The rate of ordinary purchases for a total rate of `rate`.
    pub fn purchase_rate(&self, rate: f64) -> f64 {
        rate * self.purchase_share
    }

    /// Whether an ordinary purchase will be disputed as friendly fraud.
    pub fn disputed(&self, rng: &mut impl Rng) -> bool {
        chance(rng, self.friendly)
    }

    /// The rate of candidate scenario starts for a total rate of `rate`.
    pub fn candidate_rate(&self, rate: f64) -> f64 {
        rate * self.candidates.iter().sum::<f64>()
    }

    /// The scenario a candidate start at `t` becomes, or `None` when the
    /// candidate is thinned out because its scenario is unlikely at that hour.
    pub fn start_at(&self, t: DateTime<Utc>, rng: &mut impl Rng) -> Option<Scenario> {
        let kind = *self.kinds.get(pick_weighted(&self.candidates, rng))?;
        let timing = kind.timing();
        chance(rng, timing.activity(t.hour()) / timing.peak()).then_some(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{SeedableRng, rngs::StdRng};

    /// Expected fraud share of transactions implied by the mix.
    fn implied_share(mix: &FraudMix) -> f64 {
        let friendly = mix.purchase_share * mix.friendly;
        let scenarios: f64 = mix
            .kinds
            .iter()
            .zip(&mix.candidates)
            .map(|(s, c)| c / s.timing().peak() * s.mean_transactions())
            .sum();
        (friendly + scenarios) / (mix.purchase_share + scenarios)
    }

    #[test]
    fn the_mix_hits_the_target_share() {
        for target in [0.0, 0.001, 0.01, 0.05, 0.2] {
            let share = implied_share(&FraudMix::new(target));
            assert!((share - target).abs() < 1e-12, "{target}: {share}");
        }
        assert_eq!(implied_share(&FraudMix::new(f64::NAN)), 0.0);
        assert!((implied_share(&FraudMix::new(3.0)) - MAX_FRAUD_RATE).abs() < 1e-12);
    }

    #[test]
    fn night_scenarios_start_mostly_at_night() {
        let mix = FraudMix::new(0.01);
        let mut rng = StdRng::seed_from_u64(13);
        let night = DateTime::from_timestamp(3 * 3600, 0).unwrap();
        let day = DateTime::from_timestamp(14 * 3600, 0).unwrap();
        let count = |t, rng: &mut StdRng| {
            (0..20_000)
                .filter(|_| mix.start_at(t, rng) == Some(Scenario::AccountTakeover))
                .count()
        };
        let (at_night, by_day) = (count(night, &mut rng), count(day, &mut rng));
        assert!(at_night > 6 * by_day, "{at_night} vs {by_day}");
    }
}
