//! Cardholders and their habits.

use rand::Rng;

use super::catalog::country_weights;
use super::draw::{chance, pick_weighted, spread};
use super::merchants::{Merchant, MerchantIndex, typical_amount};

/// Median number of purchases a cardholder makes per day. With the spread
/// below the mean is about 2.9, so 2,000 cardholders make about 175,000
/// purchases in 30 days.
const MEDIAN_DAILY_RATE: f64 = 2.44;
/// Spread of the daily rate between cardholders: some barely use the card.
const DAILY_RATE_SIGMA: f64 = 0.6;
/// Spread of spending levels between cardholders.
const SPEND_SIGMA: f64 = 0.5;

/// Relative activity by hour of day (UTC) of an average cardholder: quiet
/// nights, a lunch bump and an evening peak. The synthetic world lives in
/// one time zone so that hour of day stays informative.
const DAY_SHAPE: [f64; 24] = [
    0.25, 0.15, 0.10, 0.08, 0.08, 0.15, 0.35, 0.60, 0.85, 1.00, 1.05, 1.15, //
    1.30, 1.20, 1.05, 1.00, 1.05, 1.20, 1.35, 1.40, 1.30, 1.05, 0.75, 0.45,
];

/// A cardholder.
pub(crate) struct User {
    pub id: String,
    pub home: usize,
    /// Multiplies merchant prices: how much this person spends.
    pub spend: f64,
    /// About the median of this person's ordinary purchases.
    pub typical_spend: f64,
    /// Purchases per day on average.
    pub daily_rate: f64,
    /// Relative activity by hour of day, mean 1.
    pub hours: [f64; 24],
    /// Phones and browsers this person uses for online and mobile payments.
    pub devices: Vec<String>,
    /// Preference for online, pos, atm, mobile (in `Channel::ALL` order).
    pub channel_mix: [f64; 4],
    /// Merchants this person goes back to, most frequented first.
    pub favorites: Vec<usize>,
}

/// The name of the `n`-th device handed out, to cardholders or fraudsters.
pub(crate) fn device_id(n: u64) -> String {
    format!("d{n:07}")
}

/// Builds one cardholder; `devices` counts the device ids handed out.
pub(crate) fn build_user(
    index: usize,
    merchants: &[Merchant],
    popular: &MerchantIndex,
    devices: &mut u64,
    rng: &mut impl Rng,
) -> User {
    let home = pick_weighted(&country_weights(), rng);
    let spend = spread(rng, SPEND_SIGMA);
    // Most people use one phone or computer, many a second one.
    let device_count = if chance(rng, 0.4) { 2 } else { 1 };
    let devices = (0..device_count)
        .map(|_| {
            *devices += 1;
            device_id(*devices - 1)
        })
        .collect();
    let favorites = pick_favorites(home, popular, rng);
    User {
        id: format!("u{index:06}"),
        home,
        spend,
        typical_spend: weighted_median_amount(spend, &favorites, merchants),
        daily_rate: MEDIAN_DAILY_RATE * spread(rng, DAILY_RATE_SIGMA),
        hours: hour_profile(rng),
        devices,
        channel_mix: channel_mix(rng),
        favorites,
    }
}

/// How much weight the `rank`-th favorite merchant gets: people shop most
/// at their first choice, less at each next one.
pub(crate) fn favorite_weight(rank: usize) -> f64 {
    1.0 / (rank as f64 + 1.0)
}

/// A chronotype shift of up to two hours and per-hour noise make each
/// person's day a little different while keeping nights quiet.
fn hour_profile(rng: &mut impl Rng) -> [f64; 24] {
    let shift = pick_weighted(&[0.1, 0.2, 0.4, 0.2, 0.1], rng);
    let mut hours = [0.0; 24];
    for (h, slot) in hours.iter_mut().enumerate() {
        *slot = DAY_SHAPE[(h + 24 + 2 - shift) % 24] * spread(rng, 0.25);
    }
    let mean = hours.iter().sum::<f64>() / 24.0;
    hours.map(|w| w / mean)
}

/// Online, pos, atm, mobile preferences: some people pay everything by
/// phone, others mostly with the plastic card.
fn channel_mix(rng: &mut impl Rng) -> [f64; 4] {
    [0.30, 0.45, 0.05, 0.20].map(|w| w * spread(rng, 0.5))
}

/// 3 to 10 regular merchants, mostly at home, drawn by popularity so that
/// the popular chains are everybody's regulars.
fn pick_favorites(home: usize, popular: &MerchantIndex, rng: &mut impl Rng) -> Vec<usize> {
    let wanted = rng.random_range(3..=10);
    let mut favorites = Vec::with_capacity(wanted);
    for _ in 0..wanted * 4 {
        if favorites.len() == wanted {
            break;
        }
        let country = if chance(rng, 0.9) { Some(home) } else { None };
        let m = popular.popular(country, rng);
        if !favorites.contains(&m) {
            favorites.push(m);
        }
    }
    favorites
}

/// The median of the typical amounts at the favorites, weighted by how
/// often each is visited: close to the median of the person's purchases.
fn weighted_median_amount(spend: f64, favorites: &[usize], merchants: &[Merchant]) -> f64 {
    let mut amounts: Vec<(f64, f64)> = favorites
        .iter()
        .enumerate()
        .filter_map(|(rank, &m)| {
            merchants
                .get(m)
                .map(|m| (typical_amount(spend, m), favorite_weight(rank)))
        })
        .collect();
    amounts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let half = amounts.iter().map(|a| a.1).sum::<f64>() / 2.0;
    let mut seen = 0.0;
    for (amount, weight) in &amounts {
        seen += weight;
        if seen >= half {
            return *amount;
        }
    }
    spend * 40.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::merchants::build_merchants;
    use rand::{SeedableRng, rngs::StdRng};

    fn users(n: usize) -> Vec<User> {
        let mut rng = StdRng::seed_from_u64(9);
        let merchants = build_merchants(200, &mut rng);
        let index = MerchantIndex::new(&merchants);
        let mut devices = 0;
        (0..n)
            .map(|i| build_user(i, &merchants, &index, &mut devices, &mut rng))
            .collect()
    }

    #[test]
    fn users_have_ids_devices_and_favorites() {
        let users = users(300);
        assert_eq!(users[123].id, "u000123");
        assert_eq!(users[0].devices[0], "d0000000");
        let mut all_devices: Vec<&String> = users.iter().flat_map(|u| &u.devices).collect();
        let total = all_devices.len();
        all_devices.dedup();
        assert_eq!(all_devices.len(), total, "device ids are unique");
        for u in &users {
            assert!((1..=2).contains(&u.devices.len()));
            assert!(!u.favorites.is_empty() && u.favorites.len() <= 10);
            assert!(u.typical_spend > 0.0 && u.typical_spend.is_finite());
            let mean = u.hours.iter().sum::<f64>() / 24.0;
            assert!((mean - 1.0).abs() < 1e-9);
        }
    }

    #[test]
    fn cardholders_differ_in_spending_and_rate() {
        let users = users(500);
        let mut spend: Vec<f64> = users.iter().map(|u| u.typical_spend).collect();
        spend.sort_by(f64::total_cmp);
        assert!(
            spend[450] > 3.0 * spend[50],
            "{} vs {}",
            spend[450],
            spend[50]
        );
        let mean_rate = users.iter().map(|u| u.daily_rate).sum::<f64>() / 500.0;
        assert!((2.5..3.3).contains(&mean_rate), "{mean_rate}");
    }

    #[test]
    fn nights_are_quiet() {
        for u in users(100) {
            let night: f64 = u.hours[1..5].iter().sum();
            let evening: f64 = u.hours[17..21].iter().sum();
            assert!(night < evening / 3.0, "{:?}", u.hours);
        }
    }
}
