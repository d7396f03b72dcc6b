//! Ordinary purchases by cardholders.

use chrono::{DateTime, Utc};
use rand::Rng;

use super::catalog::{ATM, CATEGORIES, Category};
use super::draw::{chance, notes_of_20, pick_weighted, spread};
use super::merchants::{Merchant, typical_amount};
use super::population::{Draft, Population};
use super::users::{User, favorite_weight};
use crate::transaction::Channel;

/// Share of purchases at one of the cardholder's regular merchants; the
/// rest go to a merchant that is new to them.
const AT_FAVORITE: f64 = 0.85;
/// Of the purchases at a new merchant, the share in the home country; the
/// rest are anywhere (online shops abroad, trips).
const NEW_AT_HOME: f64 = 0.85;
/// Spread of one person's amounts at one merchant.
const AMOUNT_SIGMA: f64 = 0.45;

/// An ordinary purchase by `user` at `time`, following their habits.
pub(crate) fn purchase(
    pop: &Population,
    user: usize,
    time: DateTime<Utc>,
    rng: &mut impl Rng,
) -> Draft {
    let u = &pop.users[user];
    let merchant = choose_merchant(pop, u, rng);
    let m = &pop.merchants[merchant];
    let channel = choose_channel(&u.channel_mix, &CATEGORIES[m.category], rng);
    Draft {
        user,
        merchant,
        amount: usual_amount(u, m, rng),
        channel,
        country: where_it_happens(u, m, channel),
        device: own_device(u, channel, rng),
        time,
    }
}

/// What `u` would usually pay at `m`: their spending level times the
/// merchant's prices, with cash in whole notes.
pub(crate) fn usual_amount(u: &User, m: &Merchant, rng: &mut impl Rng) -> f64 {
    let amount = typical_amount(u.spend, m) * spread(rng, AMOUNT_SIGMA);
    if m.category == ATM {
        notes_of_20(amount)
    } else {
        amount
    }
}

/// A channel `category` allows, drawn by the cardholder's preferences.
pub(crate) fn choose_channel(mix: &[f64; 4], category: &Category, rng: &mut impl Rng) -> Channel {
    let weights = Channel::ALL.map(|c| {
        if category.allows(c) {
            mix[slot(c)]
        } else {
            0.0
        }
    });
    let preferred = Channel::ALL[pick_weighted(&weights, rng)];
    if category.allows(preferred) {
        preferred
    } else {
        category.channels.first().copied().unwrap_or(Channel::Pos)
    }
}

/// Card-present purchases happen where the merchant is; online and mobile
/// ones where the cardholder is, which is at home for legitimate use.
pub(crate) fn where_it_happens(u: &User, m: &Merchant, channel: Channel) -> usize {
    match channel {
        Channel::Pos | Channel::Atm => m.country,
        Channel::Online | Channel::Mobile => u.home,
    }
}

/// Online and mobile payments come from one of the person's own devices,
/// mostly the main one; card-present payments have no customer device.
fn own_device(u: &User, channel: Channel, rng: &mut impl Rng) -> Option<String> {
    if matches!(channel, Channel::Pos | Channel::Atm) {
        return None;
    }
    let which = if u.devices.len() > 1 && chance(rng, 0.2) {
        1
    } else {
        0
    };
    u.devices.get(which).cloned()
}

/// Mostly a regular merchant; sometimes a new one, chosen by popularity.
fn choose_merchant(pop: &Population, u: &User, rng: &mut impl Rng) -> usize {
    if !u.favorites.is_empty() && chance(rng, AT_FAVORITE) {
        let weights: Vec<f64> = (0..u.favorites.len()).map(favorite_weight).collect();
        return u.favorites[pick_weighted(&weights, rng)];
    }
    let country = if chance(rng, NEW_AT_HOME) {
        Some(u.home)
    } else {
        None
    };
    pop.popular.popular(country, rng)
}

fn slot(channel: Channel) -> usize {
    match channel {
        Channel::Online => 0,
        Channel::Pos => 1,
        Channel::Atm => 2,
        Channel::Mobile => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::SynthConfig;
    use rand::{SeedableRng, rngs::StdRng};

    #[test]
    fn channels_respect_the_category() {
        let mut rng = StdRng::seed_from_u64(11);
        let mix = [1.0, 0.0, 0.0, 0.0];
        for category in &CATEGORIES {
            for _ in 0..20 {
                assert!(category.allows(choose_channel(&mix, category, &mut rng)));
            }
        }
    }

    #[test]
    fn purchases_mostly_go_to_favorites_with_own_devices() {
        let pop = Population::build(&SynthConfig {
            users: 50,
            merchants: 100,
            ..SynthConfig::default()
        });
        let mut rng = StdRng::seed_from_u64(12);
        let t = DateTime::<Utc>::UNIX_EPOCH;
        let mut at_favorite = 0;
        for i in 0..2_000 {
            let d = purchase(&pop, i % 50, t, &mut rng);
            let u = &pop.users[d.user];
            at_favorite += usize::from(u.favorites.contains(&d.merchant));
            match d.channel {
                Channel::Pos | Channel::Atm => assert_eq!(d.device, None),
                _ => assert!(d.device.as_ref().is_some_and(|dev| u.devices.contains(dev))),
            }
            assert!(d.amount > 0.0 && d.amount.is_finite());
        }
        assert!(at_favorite > 1_600, "{at_favorite}");
    }
}
