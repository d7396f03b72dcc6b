//! Merchants and how popular they are.

use rand::Rng;
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand::seq::SliceRandom;

use super::catalog::{ATM, CATEGORIES, COUNTRIES, category_weights, country_weights};
use super::draw::{chance, pick_weighted, spread};

/// Popularity falls off as `1 / rank^ZIPF_EXPONENT`: a handful of chains
/// take a large share of all purchases while most shops see few.
const ZIPF_EXPONENT: f64 = 1.0;

/// Share of merchants placed uniformly across countries rather than like
/// the cardholders, so even small markets have some shops of their own.
const SPREAD_OUT_SHARE: f64 = 0.2;

/// A shop, restaurant, web site or cash machine.
pub(crate) struct Merchant {
    pub id: String,
    pub category: usize,
    pub country: usize,
    /// Median amount of a purchase here by an average cardholder.
    pub price: f64,
    /// Relative share of the purchases this merchant attracts.
    pub popularity: f64,
}

/// Builds `count` merchants with random categories, countries and
/// popularity ranks (so popularity does not follow category or id).
pub(crate) fn build_merchants(count: usize, rng: &mut impl Rng) -> Vec<Merchant> {
    let mut ranks: Vec<usize> = (1..=count).collect();
    ranks.shuffle(rng);
    ranks
        .into_iter()
        .enumerate()
        .map(|(i, rank)| build_merchant(i, rank, rng))
        .collect()
}

fn build_merchant(index: usize, rank: usize, rng: &mut impl Rng) -> Merchant {
    let category = pick_weighted(&category_weights(), rng);
    let country = if chance(rng, SPREAD_OUT_SHARE) {
        rng.random_range(0..COUNTRIES.len())
    } else {
        pick_weighted(&country_weights(), rng)
    };
    Merchant {
        id: format!("m{index:05}"),
        category,
        country,
        // Merchants of one category still differ (a corner shop against a
        // hypermarket), so the price level varies around the category's.
        price: CATEGORIES[category].price * spread(rng, 0.3),
        popularity: (rank as f64).powf(-ZIPF_EXPONENT),
    }
}

/// The typical amount `spend` (a cardholder's spending factor) pays at `m`.
pub(crate) fn typical_amount(spend: f64, m: &Merchant) -> f64 {
    if m.category == ATM {
        // Cash needs grow slower than spending on goods.
        m.price * spend.sqrt()
    } else {
        m.price * spend
    }
}

/// Popularity-weighted sampling of merchants, overall or within a country.
pub(crate) struct MerchantIndex {
    anywhere: Option<WeightedIndex<f64>>,
    in_country: Vec<(Vec<usize>, Option<WeightedIndex<f64>>)>,
}

impl MerchantIndex {
    /// Indexes `merchants` by popularity.
    pub fn new(merchants: &[Merchant]) -> MerchantIndex {
        let anywhere = WeightedIndex::new(merchants.iter().map(|m| m.popularity)).ok();
        let in_country = (0..COUNTRIES.len())
            .map(|c| {
                let members: Vec<usize> = (0..merchants.len())
                    .filter(|&i| merchants[i].country == c)
                    .collect();
                let index =
                    WeightedIndex::new(members.iter().map(|&i| merchants[i].popularity)).ok();
                (members, index)
            })
            .collect();
        MerchantIndex {
            anywhere,
            in_country,
        }
    }

    /// A merchant drawn by popularity, in `country` when it has any.
    pub fn popular(&self, country: Option<usize>, rng: &mut impl Rng) -> usize {
        if let Some((members, Some(index))) = country.and_then(|c| self.in_country.get(c)) {
            if let Some(&m) = members.get(index.sample(rng)) {
                return m;
            }
        }
        self.anywhere.as_ref().map_or(0, |index| index.sample(rng))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{SeedableRng, rngs::StdRng};

    #[test]
    fn a_few_merchants_take_most_purchases() {
        let mut rng = StdRng::seed_from_u64(5);
        let merchants = build_merchants(500, &mut rng);
        let index = MerchantIndex::new(&merchants);
        let mut counts = vec![0usize; merchants.len()];
        for _ in 0..50_000 {
            counts[index.popular(None, &mut rng)] += 1;
        }
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let top: usize = counts[..50].iter().sum();
        assert!(top > 30_000, "top 10% of merchants got {top} of 50000");
    }

    #[test]
    fn country_sampling_stays_in_the_country() {
        let mut rng = StdRng::seed_from_u64(6);
        let merchants = build_merchants(300, &mut rng);
        let index = MerchantIndex::new(&merchants);
        for c in 0..COUNTRIES.len() {
            for _ in 0..50 {
                assert_eq!(merchants[index.popular(Some(c), &mut rng)].country, c);
            }
        }
        assert_eq!(merchants[0].id, "m00000");
        assert!(
            merchants
                .iter()
                .all(|m| m.price > 0.0 && m.price.is_finite())
        );
    }

    #[test]
    fn a_single_merchant_serves_everyone() {
        let mut rng = StdRng::seed_from_u64(7);
        let merchants = build_merchants(1, &mut rng);
        let index = MerchantIndex::new(&merchants);
        for c in 0..COUNTRIES.len() {
            assert_eq!(index.popular(Some(c), &mut rng), 0);
        }
        assert_eq!(MerchantIndex::new(&[]).popular(None, &mut rng), 0);
    }
}
