//! The simulated world: cardholders, merchants and who is active when.

use chrono::{DateTime, Datelike, SubsecRound, Timelike, Utc, Weekday};
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Builder;

use super::SynthConfig;
use super::catalog::{CATEGORIES, COUNTRIES};
use super::draw::cents;
use super::merchants::{Merchant, MerchantIndex, build_merchants};
use super::users::{User, build_user};
use crate::transaction::{Channel, Transaction};

/// Weekends see a little more shopping than weekdays; the two factors
/// average to 1 over a week so the daily rates stay true.
const WEEKEND_FACTOR: f64 = 1.1;
const WEEKDAY_FACTOR: f64 = 0.96;

/// Everyone and everything the generator draws from; built once per seed.
pub(crate) struct Population {
    pub users: Vec<User>,
    pub merchants: Vec<Merchant>,
    pub popular: MerchantIndex,
    /// Per hour of day, the users weighted by how much they buy then.
    by_hour: Vec<Option<WeightedIndex<f64>>>,
    /// Per hour of day, the population's purchase rate relative to its
    /// daily mean.
    hour_weight: [f64; 24],
    /// The hours weighted by `hour_weight`.
    hours: Option<WeightedIndex<f64>>,
    /// How many device ids the cardholders hold; fraudsters get later ones.
    pub devices_issued: u64,
}

/// A transaction before it gets an id and its names filled in.
pub(crate) struct Draft {
    pub user: usize,
    pub merchant: usize,
    pub amount: f64,
    pub channel: Channel,
    pub country: usize,
    pub device: Option<String>,
    pub time: DateTime<Utc>,
}

impl Population {
    /// Builds the population for `config`; the same seed gives the same world.
    /// There is always at least one user and one merchant.
    pub fn build(config: &SynthConfig) -> Population {
        let mut rng = StdRng::seed_from_u64(config.seed);
        let merchants = build_merchants(config.merchants.max(1), &mut rng);
        let popular = MerchantIndex::new(&merchants);
        let mut devices_issued = 0;
        let users: Vec<User> = (0..config.users.max(1))
            .map(|i| build_user(i, &merchants, &popular, &mut devices_issued, &mut rng))
            .collect();
        let (by_hour, hour_weight) = hourly_index(&users);
        Population {
            users,
            merchants,
            popular,
            by_hour,
            hours: WeightedIndex::new(hour_weight).ok(),
            hour_weight,
            devices_issued,
        }
    }

    /// Purchases per second of the whole population on an average day.
    pub fn natural_rate_per_sec(&self) -> f64 {
        self.users.iter().map(|u| u.daily_rate).sum::<f64>() / 86_400.0
    }

    /// The purchase rate at `t` relative to the long-run mean.
    pub fn activity_at(&self, t: DateTime<Utc>) -> f64 {
        let day = match t.weekday() {
            Weekday::Sat | Weekday::Sun => WEEKEND_FACTOR,
            _ => WEEKDAY_FACTOR,
        };
        self.hour_weight[t.hour() as usize % 24] * day
    }

    /// The highest value `activity_at` can take, for thinning arrivals.
    pub fn peak_activity(&self) -> f64 {
        self.hour_weight.iter().copied().fold(0.0, f64::max) * WEEKEND_FACTOR.max(WEEKDAY_FACTOR)
    }

    /// A user drawn in proportion to how much they buy at `hour`.
    pub fn user_active_at(&self, hour: u32, rng: &mut impl Rng) -> usize {
        match self.by_hour.get(hour as usize).and_then(Option::as_ref) {
            Some(index) => index.sample(rng),
            None => rng.random_range(0..self.users.len()),
        }
    }

    /// A user drawn in proportion to how much they buy in a whole day: an
    /// hour drawn by the population's activity, then a user active then.
    pub fn user_any_hour(&self, rng: &mut impl Rng) -> usize {
        let hour = self.hours.as_ref().map_or(0, |hours| hours.sample(rng));
        self.user_active_at(hour as u32, rng)
    }

    /// A uniformly chosen user, as fraudsters get cards regardless of habits.
    pub fn any_user(&self, rng: &mut impl Rng) -> usize {
        rng.random_range(0..self.users.len())
    }

    /// The merchants satisfying `keep`, in `country` if any there do, else
    /// anywhere; all merchants if none at all do. Never empty.
    pub fn merchants_where(
        &self,
        country: Option<usize>,
        keep: impl Fn(&Merchant) -> bool,
    ) -> Vec<usize> {
        let matching = |c: Option<usize>| -> Vec<usize> {
            (0..self.merchants.len())
                .filter(|&i| {
                    keep(&self.merchants[i]) && c.is_none_or(|c| self.merchants[i].country == c)
                })
                .collect()
        };
        let mut found = matching(country);
        if found.is_empty() && country.is_some() {
            found = matching(None);
        }
        if found.is_empty() {
            found = (0..self.merchants.len()).collect();
        }
        found
    }

    /// Turns a draft into a transaction with a fresh deterministic id,
    /// a millisecond timestamp and an amount in cents.
    pub fn transaction(&self, draft: Draft, rng: &mut impl Rng) -> Transaction {
        let merchant = &self.merchants[draft.merchant];
        Transaction {
            transaction_id: Builder::from_random_bytes(rng.random()).into_uuid(),
            user_id: self.users[draft.user].id.clone(),
            merchant_id: merchant.id.clone(),
            merchant_category: Some(CATEGORIES[merchant.category].name.to_string()),
            amount: cents(draft.amount),
            // Transactions are in the merchant's currency; amounts are kept on
            // one scale (as if converted to the card's billing currency) so
            // that amount features compare across countries.
            currency: Some(COUNTRIES[merchant.country].currency.to_string()),
            country: Some(COUNTRIES[draft.country].code.to_string()),
            device_id: draft.device,
            channel: Some(draft.channel),
            timestamp: draft.time.trunc_subsecs(3),
        }
    }
}

/// Per hour, a weighted index of users by their rate at that hour, and the
/// population's rate at that hour relative to its daily mean.
fn hourly_index(users: &[User]) -> (Vec<Option<WeightedIndex<f64>>>, [f64; 24]) {
    let daily: f64 = users.iter().map(|u| u.daily_rate).sum();
    let mut weights = [0.0; 24];
    let mut by_hour = Vec::with_capacity(24);
    for (h, weight) in weights.iter_mut().enumerate() {
        let rates: Vec<f64> = users.iter().map(|u| u.daily_rate * u.hours[h]).collect();
        *weight = rates.iter().sum::<f64>() / daily;
        by_hour.push(WeightedIndex::new(rates).ok());
    }
    (by_hour, weights)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn same_seed_same_world() {
        let a = Population::build(&SynthConfig::default());
        let b = Population::build(&SynthConfig::default());
        let c = Population::build(&SynthConfig {
            seed: 7,
            ..SynthConfig::default()
        });
        let describe = |p: &Population| -> Vec<(String, usize, Vec<usize>)> {
            p.users
                .iter()
                .map(|u| (u.id.clone(), u.home, u.favorites.clone()))
                .collect()
        };
        assert_eq!(describe(&a), describe(&b));
        assert_ne!(describe(&a), describe(&c));
        assert_eq!(a.users.len(), 2000);
        assert_eq!(a.merchants.len(), 500);
    }

    #[test]
    fn activity_averages_to_one_over_a_week() {
        let p = Population::build(&SynthConfig {
            users: 300,
            merchants: 50,
            ..SynthConfig::default()
        });
        let monday = Utc.with_ymd_and_hms(2024, 3, 4, 0, 0, 0).unwrap();
        let hours: Vec<f64> = (0..24 * 7)
            .map(|h| p.activity_at(monday + chrono::TimeDelta::hours(h)))
            .collect();
        let mean = hours.iter().sum::<f64>() / hours.len() as f64;
        assert!((mean - 1.0).abs() < 1e-9, "{mean}");
        assert!(hours.iter().all(|a| *a <= p.peak_activity() + 1e-12));
        assert!(
            p.activity_at(monday + chrono::TimeDelta::hours(19))
                > 4.0 * p.activity_at(monday + chrono::TimeDelta::hours(3))
        );
    }

    #[test]
    fn tiny_configs_still_build() {
        let p = Population::build(&SynthConfig {
            users: 0,
            merchants: 0,
            ..SynthConfig::default()
        });
        assert_eq!((p.users.len(), p.merchants.len()), (1, 1));
        assert_eq!(p.merchants_where(Some(3), |_| false), vec![0]);
        assert!(p.natural_rate_per_sec() > 0.0);
    }
}
