//! Which merchants are compromised when.
//!
//! Compromise windows of 1–5 days form a chain: each next window opens
//! before the current one closes, so some merchant is always compromised
//! and compromised-merchant fraud can flow at a steady rate. A merchant is
//! compromised at most once until every candidate has been (after a breach
//! gets fixed, the same shop is rarely hit again soon).

use chrono::{DateTime, Utc};
use rand::Rng;

use super::catalog::{ATM, CATEGORIES};
use super::draw::{after_seconds, between, pick};
use super::population::Population;
use crate::transaction::Channel;

const MIN_DAYS: f64 = 1.0;
const MAX_DAYS: f64 = 5.0;
const DAY: f64 = 86_400.0;

struct Window {
    merchant: usize,
    end: DateTime<Utc>,
}

/// The open compromise windows and when the next one opens.
pub(crate) struct Compromises {
    open: Vec<Window>,
    next_opening: DateTime<Utc>,
    /// Merchants that can be compromised: online-capable shops, not cash machines.
    candidates: Vec<usize>,
    /// Which merchants have been compromised in the current round.
    burnt: Vec<bool>,
}

impl Compromises {
    /// The first window opens at `start`.
    pub fn new(pop: &Population, start: DateTime<Utc>) -> Compromises {
        let candidates = pop.merchants_where(None, |m| {
            m.category != ATM && CATEGORIES[m.category].allows(Channel::Online)
        });
        Compromises {
            open: Vec::new(),
            next_opening: start,
            burnt: vec![false; pop.merchants.len()],
            candidates,
        }
    }

    /// A merchant compromised at `t`, opening and closing windows up to `t`.
    /// Calls must come in non-decreasing `t`.
    pub fn merchant_at(&mut self, t: DateTime<Utc>, rng: &mut impl Rng) -> usize {
        while self.next_opening <= t {
            self.open_window(rng);
        }
        self.open.retain(|w| w.end > t);
        let open: Vec<usize> = self.open.iter().map(|w| w.merchant).collect();
        pick(&open, rng)
            .or_else(|| pick(&self.candidates, rng))
            .unwrap_or(0)
    }

    fn open_window(&mut self, rng: &mut impl Rng) {
        let opening = self.next_opening;
        let length = DAY * between(rng, MIN_DAYS, MAX_DAYS);
        let merchant = self.fresh_merchant(rng);
        self.open.push(Window {
            merchant,
            end: after_seconds(opening, length),
        });
        // Opening the next window before this one closes keeps the chain unbroken.
        self.next_opening = after_seconds(opening, length * between(rng, 0.5, 0.95));
        if self.next_opening <= opening {
            self.next_opening = after_seconds(opening, DAY);
        }
    }

    fn fresh_merchant(&mut self, rng: &mut impl Rng) -> usize {
        let fresh: Vec<usize> = self
            .candidates
            .iter()
            .copied()
            .filter(|&m| !self.is_burnt(m))
            .collect();
        let merchant = match pick(&fresh, rng) {
            Some(m) => m,
            None => {
                self.burnt.iter_mut().for_each(|b| *b = false);
                pick(&self.candidates, rng).unwrap_or(0)
            }
        };
        if let Some(b) = self.burnt.get_mut(merchant) {
            *b = true;
        }
        merchant
    }

    fn is_burnt(&self, merchant: usize) -> bool {
        self.burnt.get(merchant).copied().unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::SynthConfig;
    use rand::{SeedableRng, rngs::StdRng};

    #[test]
    fn some_online_merchant_is_always_compromised_for_at_most_five_days() {
        let pop = Population::build(&SynthConfig {
            users: 20,
            merchants: 200,
            ..SynthConfig::default()
        });
        let start = DateTime::<Utc>::UNIX_EPOCH;
        let mut c = Compromises::new(&pop, start);
        let mut rng = StdRng::seed_from_u64(17);
        let mut seen: Vec<(usize, DateTime<Utc>, DateTime<Utc>)> = Vec::new();
        for minute in 0..60 * 24 * 60 {
            let t = after_seconds(start, minute as f64 * 60.0);
            let m = c.merchant_at(t, &mut rng);
            assert!(CATEGORIES[pop.merchants[m].category].allows(Channel::Online));
            match seen.iter_mut().find(|s| s.0 == m) {
                Some(s) => s.2 = t,
                None => seen.push((m, t, t)),
            }
        }
        assert!(seen.len() >= 12, "{} windows in 60 days", seen.len());
        for (m, first, last) in seen {
            assert!(
                (last - first).as_seconds_f64() <= MAX_DAYS * DAY,
                "merchant {m}"
            );
        }
    }
}
