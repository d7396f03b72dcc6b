//! How each fraud scenario plays out: the transactions it makes, and when.

use chrono::{DateTime, Utc};
use rand::Rng;

use super::catalog::{
    ATM, CATEGORIES, COUNTRIES, DIGITAL_GOODS, ELECTRONICS, ENTERTAINMENT, FASHION, FUEL, GROCERY,
    TRAVEL, foreign_weights,
};
use super::compromise::Compromises;
use super::draw::{after_seconds, between, chance, notes_of_20, pick, pick_weighted};
use super::legit::{choose_channel, usual_amount};
use super::merchants::Merchant;
use super::population::{Draft, Population};
use super::scenario::Scenario;
use super::users::device_id;
use crate::transaction::{Channel, Transaction};

/// The fraudsters' side of the world: the devices they use and the
/// merchants they have compromised.
pub(crate) struct Fraudster {
    /// The next device id to hand out; never one a cardholder holds.
    next_device: u64,
    compromises: Compromises,
}

impl Fraudster {
    /// Fraudsters for `pop`, with the first compromise window opening at `start`.
    pub fn new(pop: &Population, start: DateTime<Utc>) -> Fraudster {
        Fraudster {
            next_device: pop.devices_issued,
            compromises: Compromises::new(pop, start),
        }
    }

    /// The transactions of one occurrence of `kind` starting at `t0`, in
    /// time order, none before `t0`. Friendly fraud is a disputed ordinary
    /// purchase and is never planned here.
    pub fn plan(
        &mut self,
        kind: Scenario,
        pop: &Population,
        t0: DateTime<Utc>,
        rng: &mut impl Rng,
    ) -> Vec<Transaction> {
        let drafts = match kind {
            Scenario::CardTesting => self.card_testing(pop, t0, rng),
            Scenario::AccountTakeover => self.account_takeover(pop, t0, rng),
            Scenario::CompromisedMerchant => vec![self.compromised_charge(pop, t0, rng)],
            Scenario::StolenCard => stolen_card(pop, t0, rng),
            Scenario::AtmCashOut => atm_cash_out(pop, t0, rng),
            Scenario::FriendlyFraud => Vec::new(),
        };
        drafts
            .into_iter()
            .map(|d| pop.transaction(d, rng))
            .collect()
    }

    fn fresh_device(&mut self) -> String {
        self.next_device += 1;
        device_id(self.next_device - 1)
    }

    /// Bots try a stolen number with tiny amounts at merchants with weak
    /// checks (digital goods), seconds apart, to learn whether it works
    /// before spending it; they connect from anywhere.
    fn card_testing(
        &mut self,
        pop: &Population,
        t0: DateTime<Utc>,
        rng: &mut impl Rng,
    ) -> Vec<Draft> {
        let user = pop.any_user(rng);
        let device = self.fresh_device();
        let country = rng.random_range(0..COUNTRIES.len());
        let targets: Vec<usize> = (0..rng.random_range(1..=3))
            .map(|_| {
                let digital = chance(rng, 0.8);
                new_merchant(pop, user, None, rng, |m| {
                    if digital {
                        m.category == DIGITAL_GOODS
                    } else {
                        m.category != ATM && CATEGORIES[m.category].allows(Channel::Online)
                    }
                })
            })
            .collect();
        let mut t = t0;
        let mut drafts = Vec::new();
        for _ in 0..rng.random_range(Scenario::CardTesting.transactions()) {
            let merchant = pick(&targets, rng).unwrap_or(0);
            let amount = between(rng, 0.5, 5.0);
            let channel = Channel::Online;
            drafts.push(Draft {
                user,
                merchant,
                amount,
                channel,
                country,
                device: Some(device.clone()),
                time: t,
            });
            t = after_seconds(t, between(rng, 5.0, 60.0));
        }
        drafts
    }

    /// With the victim's login, the fraudster buys resellable goods from a
    /// foreign IP on a device of their own, quickly, before the victim notices.
    fn account_takeover(
        &mut self,
        pop: &Population,
        t0: DateTime<Utc>,
        rng: &mut impl Rng,
    ) -> Vec<Draft> {
        let user = pop.any_user(rng);
        let u = &pop.users[user];
        let device = self.fresh_device();
        let country = pick_weighted(&foreign_weights(u.home), rng);
        let wanted = [ELECTRONICS, TRAVEL, FASHION, DIGITAL_GOODS];
        let mut t = t0;
        let mut drafts = Vec::new();
        for _ in 0..rng.random_range(Scenario::AccountTakeover.transactions()) {
            let merchant = new_merchant(pop, user, None, rng, |m| wanted.contains(&m.category));
            let category = &CATEGORIES[pop.merchants[merchant].category];
            let channel = if chance(rng, 0.4) && category.allows(Channel::Mobile) {
                Channel::Mobile
            } else {
                Channel::Online
            };
            let amount = u.typical_spend * between(rng, 3.0, 10.0);
            drafts.push(Draft {
                user,
                merchant,
                amount,
                channel,
                country,
                device: Some(device.clone()),
                time: t,
            });
            t = after_seconds(t, 60.0 * between(rng, 2.0, 40.0));
        }
        drafts
    }

    /// A breached shop (or its payment page) charges cards that never
    /// shopped there, a bit above its usual amounts, card-not-present.
    fn compromised_charge(
        &mut self,
        pop: &Population,
        t0: DateTime<Utc>,
        rng: &mut impl Rng,
    ) -> Draft {
        let user = pop.any_user(rng);
        let merchant = self.compromises.merchant_at(t0, rng);
        let m = &pop.merchants[merchant];
        let channel = choose_channel(&[1.0, 0.0, 0.0, 0.0], &CATEGORIES[m.category], rng);
        let amount = usual_amount(&pop.users[user], m, rng) * between(rng, 1.2, 2.0);
        Draft {
            user,
            merchant,
            amount,
            channel,
            country: m.country,
            device: None,
            time: t0,
        }
    }
}

/// A thief with the physical card shops and withdraws cash for a few hours,
/// at home or after taking the card abroad, far above the owner's habits.
fn stolen_card(pop: &Population, t0: DateTime<Utc>, rng: &mut impl Rng) -> Vec<Draft> {
    let user = pop.any_user(rng);
    let u = &pop.users[user];
    let country = if chance(rng, 0.75) {
        u.home
    } else {
        pick_weighted(&foreign_weights(u.home), rng)
    };
    let wanted = [ELECTRONICS, FASHION, FUEL, GROCERY, ENTERTAINMENT, ATM];
    let shops = pop.merchants_where(Some(country), |m| {
        wanted.contains(&m.category)
            && (m.category == ATM || CATEGORIES[m.category].allows(Channel::Pos))
    });
    let mut t = t0;
    let mut drafts = Vec::new();
    for _ in 0..rng.random_range(Scenario::StolenCard.transactions()) {
        let merchant = pick(&shops, rng).unwrap_or(0);
        let m = &pop.merchants[merchant];
        let at_atm = m.category == ATM;
        let amount = u.typical_spend * between(rng, 3.0, 10.0);
        let (amount, channel) = if at_atm {
            (notes_of_20(amount), Channel::Atm)
        } else {
            (amount, Channel::Pos)
        };
        drafts.push(Draft {
            user,
            merchant,
            amount,
            channel,
            country: m.country,
            device: None,
            time: t,
        });
        t = after_seconds(t, 60.0 * between(rng, 5.0, 60.0));
    }
    drafts
}

/// A card cloned from a skimmer is emptied abroad at night, machine after
/// machine, in round notes up to the withdrawal limit.
fn atm_cash_out(pop: &Population, t0: DateTime<Utc>, rng: &mut impl Rng) -> Vec<Draft> {
    let user = pop.any_user(rng);
    let home = pop.users[user].home;
    let country = pick_weighted(&foreign_weights(home), rng);
    // Falls back to any foreign machine when that country has none.
    let machines = pop.merchants_where(Some(country), |m| m.category == ATM && m.country != home);
    let mut t = t0;
    let mut drafts = Vec::new();
    for _ in 0..rng.random_range(Scenario::AtmCashOut.transactions()) {
        let merchant = pick(&machines, rng).unwrap_or(0);
        let amount = notes_of_20(between(rng, 200.0, 800.0));
        let country = pop.merchants[merchant].country;
        drafts.push(Draft {
            user,
            merchant,
            amount,
            channel: Channel::Atm,
            country,
            device: None,
            time: t,
        });
        t = after_seconds(t, 60.0 * between(rng, 2.0, 15.0));
    }
    drafts
}

/// A merchant satisfying `keep` that is not among the user's regulars
/// (fraudsters do not know them), when there is one.
fn new_merchant(
    pop: &Population,
    user: usize,
    country: Option<usize>,
    rng: &mut impl Rng,
    keep: impl Fn(&Merchant) -> bool,
) -> usize {
    let favorites = &pop.users[user].favorites;
    let fresh = pop.merchants_where(country, |m| keep(m));
    let unknown: Vec<usize> = fresh
        .iter()
        .copied()
        .filter(|m| !favorites.contains(m))
        .collect();
    pick(&unknown, rng)
        .or_else(|| pick(&fresh, rng))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::testkit::{Month, month, transactions};
    use chrono::Timelike;
    use std::collections::HashMap;

    /// `txns` grouped by `key`, split where consecutive ones are more than `gap` apart.
    fn bursts<'a>(
        txns: &[&'a Transaction],
        key: impl Fn(&Transaction) -> String,
        gap: chrono::TimeDelta,
    ) -> Vec<Vec<&'a Transaction>> {
        let mut sorted = txns.to_vec();
        sorted.sort_by_key(|t| (key(t), t.timestamp));
        let mut groups: Vec<Vec<&Transaction>> = Vec::new();
        for t in sorted {
            match groups.last_mut() {
                Some(g)
                    if key(g[g.len() - 1]) == key(t)
                        && t.timestamp - g[g.len() - 1].timestamp <= gap =>
                {
                    g.push(t)
                }
                _ => groups.push(vec![t]),
            }
        }
        groups
    }

    fn span(group: &[&Transaction]) -> chrono::TimeDelta {
        group[group.len() - 1].timestamp - group[0].timestamp
    }

    fn share(count: usize, of: usize) -> f64 {
        count as f64 / of.max(1) as f64
    }

    fn never_seen_device(m: &Month, t: &Transaction) -> bool {
        let device = t.device_id.as_deref().unwrap_or_default();
        !device.is_empty()
            && !m
                .legit_devices
                .get(&t.user_id)
                .is_some_and(|d| d.iter().any(|d| d == device))
            && !m
                .pop
                .users
                .iter()
                .any(|u| u.devices.iter().any(|d| d == device))
    }

    fn at_night(t: &Transaction) -> bool {
        t.timestamp.hour() < 6
    }

    #[test]
    fn every_scenario_occurs_in_a_month() {
        let m = month();
        for s in Scenario::ALL {
            assert!(m.of(s).len() >= 30, "{}: {}", s.as_str(), m.of(s).len());
        }
    }

    #[test]
    fn card_testing_is_bursts_of_small_online_charges_within_minutes() {
        let m = month();
        let txns = m.of(Scenario::CardTesting);
        assert!(
            txns.iter()
                .all(|t| (0.5..=5.0).contains(&t.amount) && t.channel == Some(Channel::Online))
        );
        assert!(txns.iter().all(|t| never_seen_device(m, t)));
        let groups = bursts(
            &txns,
            |t| t.device_id.clone().unwrap_or_default(),
            chrono::TimeDelta::days(1),
        );
        for g in &groups {
            assert!((5..=20).contains(&g.len()), "burst of {}", g.len());
            assert!(
                span(g) <= chrono::TimeDelta::minutes(20),
                "burst over {}",
                span(g)
            );
            assert!(g.iter().all(|t| t.user_id == g[0].user_id));
        }
        let digital = txns
            .iter()
            .filter(|t| t.merchant_category.as_deref() == Some("digital_goods"))
            .count();
        assert!(
            share(digital, txns.len()) > 0.6,
            "{digital} of {}",
            txns.len()
        );
        let regular = txns.iter().filter(|t| {
            let user = &m.pop.users[t.user_id[1..].parse::<usize>().unwrap()];
            user.favorites
                .iter()
                .any(|&f| m.pop.merchants[f].id == t.merchant_id)
        });
        assert_eq!(regular.count(), 0);
    }

    #[test]
    fn account_takeover_is_a_new_device_abroad_mostly_at_night_spending_big() {
        let m = month();
        let txns = m.of(Scenario::AccountTakeover);
        for t in &txns {
            assert!(never_seen_device(m, t), "{t:?}");
            assert_ne!(t.country.as_deref(), Some(m.home(&t.user_id)));
            assert!(matches!(t.channel, Some(Channel::Online | Channel::Mobile)));
        }
        let big = txns
            .iter()
            .filter(|t| t.amount > 2.0 * m.median(&t.user_id))
            .count();
        assert!(share(big, txns.len()) > 0.9, "{big} of {}", txns.len());
        let night = txns.iter().filter(|t| at_night(t)).count();
        assert!(share(night, txns.len()) > 0.5, "{night} of {}", txns.len());
        for g in bursts(
            &txns,
            |t| t.device_id.clone().unwrap_or_default(),
            chrono::TimeDelta::days(1),
        ) {
            assert!((2..=5).contains(&g.len()) && span(&g) <= chrono::TimeDelta::hours(3));
        }
    }

    #[test]
    fn compromised_merchants_turn_partly_fraudulent_for_days() {
        let m = month();
        let txns = m.of(Scenario::CompromisedMerchant);
        assert!(
            txns.iter()
                .all(|t| t.device_id.is_none() && t.channel == Some(Channel::Online))
        );
        let groups = bursts(
            &txns,
            |t| t.merchant_id.clone(),
            chrono::TimeDelta::days(30),
        );
        assert!(groups.len() >= 8, "{} compromised merchants", groups.len());
        let (mut fraud, mut all) = (0, 0);
        let mut ratios = Vec::new();
        for g in &groups {
            assert!(
                span(g) <= chrono::TimeDelta::days(5),
                "{} compromised for {}",
                g[0].merchant_id,
                span(g)
            );
            let (from, to) = (g[0].timestamp, g[g.len() - 1].timestamp);
            let window: Vec<_> = transactions(&m.events)
                .filter(|(t, _)| {
                    t.merchant_id == g[0].merchant_id && t.timestamp >= from && t.timestamp <= to
                })
                .collect();
            all += window.len();
            fraud += window
                .iter()
                .filter(|(_, f)| *f == Some(Scenario::CompromisedMerchant))
                .count();
            for t in g {
                ratios.push(t.amount / m.median(&t.user_id));
            }
        }
        assert!(
            share(fraud, all) > 0.1,
            "{fraud} of {all} at compromised merchants"
        );
        ratios.sort_by(f64::total_cmp);
        // Around or above the victims' usual amounts, but not wildly: the
        // exact median varies with the stream (a few hundred transactions).
        let median = ratios[ratios.len() / 2];
        assert!((0.8..5.0).contains(&median), "{median}");
    }

    #[test]
    fn stolen_cards_are_used_in_person_far_above_habits_within_hours() {
        let m = month();
        let txns = m.of(Scenario::StolenCard);
        assert!(txns.iter().all(
            |t| t.device_id.is_none() && matches!(t.channel, Some(Channel::Pos | Channel::Atm))
        ));
        let big = txns
            .iter()
            .filter(|t| t.amount > 2.0 * m.median(&t.user_id))
            .count();
        assert!(share(big, txns.len()) > 0.9, "{big} of {}", txns.len());
        let abroad = txns
            .iter()
            .filter(|t| t.country.as_deref() != Some(m.home(&t.user_id)))
            .count();
        assert!(
            (0.05..0.6).contains(&share(abroad, txns.len())),
            "{abroad} of {}",
            txns.len()
        );
        for g in bursts(&txns, |t| t.user_id.clone(), chrono::TimeDelta::hours(12)) {
            assert!(
                (3..=8).contains(&g.len()) && span(&g) <= chrono::TimeDelta::hours(8),
                "{g:?}"
            );
        }
    }

    #[test]
    fn atm_cash_outs_are_round_foreign_withdrawals_mostly_at_night() {
        let m = month();
        let txns = m.of(Scenario::AtmCashOut);
        for t in &txns {
            assert_eq!(t.channel, Some(Channel::Atm));
            assert!(
                (200.0..=800.0).contains(&t.amount) && t.amount % 20.0 == 0.0,
                "{}",
                t.amount
            );
            assert_ne!(t.country.as_deref(), Some(m.home(&t.user_id)));
        }
        let night = txns.iter().filter(|t| at_night(t)).count();
        assert!(share(night, txns.len()) > 0.5, "{night} of {}", txns.len());
        for g in bursts(&txns, |t| t.user_id.clone(), chrono::TimeDelta::hours(6)) {
            assert!(
                (3..=6).contains(&g.len()) && span(&g) <= chrono::TimeDelta::hours(2),
                "{g:?}"
            );
        }
    }

    #[test]
    fn friendly_fraud_looks_like_the_cardholders_own_purchases() {
        let m = month();
        let txns = m.of(Scenario::FriendlyFraud);
        for t in &txns {
            let user = &m.pop.users[t.user_id[1..].parse::<usize>().unwrap()];
            assert!(
                t.device_id
                    .as_ref()
                    .is_none_or(|d| user.devices.contains(d))
            );
            // Within the cardholder's own range (log-normal spend has a
            // long tail, so allow a wide multiple of the median).
            assert!(t.amount < 50.0 * m.median(&t.user_id), "{t:?}");
        }
        let home = txns
            .iter()
            .filter(|t| t.country.as_deref() == Some(m.home(&t.user_id)))
            .count();
        assert!(share(home, txns.len()) > 0.85, "{home} of {}", txns.len());
        // Legitimate and friendly-fraud hours look alike: daytime.
        let night = txns.iter().filter(|t| at_night(t)).count();
        assert!(share(night, txns.len()) < 0.2, "{night} of {}", txns.len());
    }

    #[test]
    fn fraud_shares_follow_the_scenario_mix() {
        let m = month();
        let counts: HashMap<Scenario, usize> =
            Scenario::ALL.iter().map(|&s| (s, m.of(s).len())).collect();
        let total: usize = counts.values().sum();
        for s in Scenario::ALL {
            let got = share(counts[&s], total);
            assert!(
                (got - s.share()).abs() < 0.5 * s.share(),
                "{}: {got}",
                s.as_str()
            );
        }
    }
}
