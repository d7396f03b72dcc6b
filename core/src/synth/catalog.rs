//! Reference data of the synthetic world: countries and merchant categories.

use crate::transaction::Channel;

/// A country where cardholders live and merchants trade.
pub(crate) struct Country {
    pub code: &'static str,
    pub currency: &'static str,
    /// Share of cardholders living here.
    pub weight: f64,
}

/// One dominant market with a long tail, like a typical issuer's portfolio:
/// a foreign country is then rare for most cardholders and so informative.
pub(crate) const COUNTRIES: [Country; 10] = [
    Country {
        code: "US",
        currency: "USD",
        weight: 0.40,
    },
    Country {
        code: "GB",
        currency: "GBP",
        weight: 0.12,
    },
    Country {
        code: "DE",
        currency: "EUR",
        weight: 0.10,
    },
    Country {
        code: "FR",
        currency: "EUR",
        weight: 0.08,
    },
    Country {
        code: "ES",
        currency: "EUR",
        weight: 0.06,
    },
    Country {
        code: "IT",
        currency: "EUR",
        weight: 0.06,
    },
    Country {
        code: "NL",
        currency: "EUR",
        weight: 0.04,
    },
    Country {
        code: "PL",
        currency: "PLN",
        weight: 0.05,
    },
    Country {
        code: "BR",
        currency: "BRL",
        weight: 0.05,
    },
    Country {
        code: "IN",
        currency: "INR",
        weight: 0.04,
    },
];

/// The cardholder share of every country, in `COUNTRIES` order.
pub(crate) fn country_weights() -> [f64; COUNTRIES.len()] {
    COUNTRIES.map(|c| c.weight)
}

/// The country weights with `home` left out, for picking a foreign country.
pub(crate) fn foreign_weights(home: usize) -> [f64; COUNTRIES.len()] {
    let mut weights = country_weights();
    if let Some(w) = weights.get_mut(home) {
        *w = 0.0;
    }
    weights
}

/// What a merchant sells, which sets its prices and how cards are used there.
pub(crate) struct Category {
    pub name: &'static str,
    /// Share of merchants in this category.
    pub share: f64,
    /// Median amount of one purchase at an average merchant of the category.
    pub price: f64,
    /// The channels a purchase in this category can use.
    pub channels: &'static [Channel],
}

impl Category {
    /// Whether a purchase here can go through `channel`.
    pub fn allows(&self, channel: Channel) -> bool {
        self.channels.contains(&channel)
    }
}

pub(crate) const GROCERY: usize = 0;
pub(crate) const FUEL: usize = 2;
pub(crate) const FASHION: usize = 4;
pub(crate) const ELECTRONICS: usize = 5;
pub(crate) const TRAVEL: usize = 6;
pub(crate) const ENTERTAINMENT: usize = 7;
pub(crate) const DIGITAL_GOODS: usize = 8;
pub(crate) const ATM: usize = 9;

use Channel::{Atm, Mobile, Online, Pos};

/// Prices differ by an order of magnitude between categories so that an
/// amount is only unusual relative to where it is spent.
pub(crate) const CATEGORIES: [Category; 10] = [
    Category {
        name: "grocery",
        share: 0.20,
        price: 45.0,
        channels: &[Pos, Online, Mobile],
    },
    Category {
        name: "restaurant",
        share: 0.18,
        price: 28.0,
        channels: &[Pos, Mobile],
    },
    Category {
        name: "fuel",
        share: 0.08,
        price: 55.0,
        channels: &[Pos],
    },
    Category {
        name: "pharmacy",
        share: 0.06,
        price: 22.0,
        channels: &[Pos, Online],
    },
    Category {
        name: "fashion",
        share: 0.10,
        price: 70.0,
        channels: &[Pos, Online, Mobile],
    },
    Category {
        name: "electronics",
        share: 0.06,
        price: 220.0,
        channels: &[Pos, Online],
    },
    Category {
        name: "travel",
        share: 0.05,
        price: 380.0,
        channels: &[Online, Mobile, Pos],
    },
    Category {
        name: "entertainment",
        share: 0.07,
        price: 35.0,
        channels: &[Online, Mobile, Pos],
    },
    Category {
        name: "digital_goods",
        share: 0.12,
        price: 12.0,
        channels: &[Online, Mobile],
    },
    Category {
        name: "atm",
        share: 0.08,
        price: 120.0,
        channels: &[Atm],
    },
];

/// The merchant share of every category, in `CATEGORIES` order.
pub(crate) fn category_weights() -> [f64; CATEGORIES.len()] {
    CATEGORIES.map(|c| c.share)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_constants_name_their_category() {
        let named = [
            (GROCERY, "grocery"),
            (FUEL, "fuel"),
            (FASHION, "fashion"),
            (ELECTRONICS, "electronics"),
            (TRAVEL, "travel"),
            (ENTERTAINMENT, "entertainment"),
            (DIGITAL_GOODS, "digital_goods"),
            (ATM, "atm"),
        ];
        for (index, name) in named {
            assert_eq!(CATEGORIES[index].name, name);
        }
    }

    #[test]
    fn weights_sum_to_one() {
        let countries: f64 = country_weights().iter().sum();
        let categories: f64 = category_weights().iter().sum();
        assert!((countries - 1.0).abs() < 1e-9, "{countries}");
        assert!((categories - 1.0).abs() < 1e-9, "{categories}");
    }

    #[test]
    fn foreign_weights_exclude_home() {
        let w = foreign_weights(0);
        assert_eq!(w[0], 0.0);
        assert!(w[1..].iter().all(|w| *w > 0.0));
    }
}
