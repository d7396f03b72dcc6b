//! A faster stream is a bigger world, not busier cardholders.
//!
//! Each cardholder has a habit: a few purchases a day, at their hours, at
//! their merchants. That habit is what the features measure and the model
//! learns (velocities over 10 minutes to 7 days, distinct merchants in a
//! day, …). Driving a population faster than its natural rate makes every
//! card's velocity leave the range the history shows, so a stationary
//! stream looks like an attack. A rate is therefore met by scaling the
//! population — cardholders and merchants alike, so that merchant volumes
//! keep their shape too — and letting everyone shop at their own pace.

use super::SynthConfig;

impl SynthConfig {
    /// This configuration with as many cardholders and merchants as make
    /// `rate_per_sec` transactions per second at their natural pace: the
    /// population grows (or shrinks) by `rate / natural rate`, in the
    /// configured ratio of cardholders to merchants, and never below one
    /// of each. Its natural rate is `rate_per_sec` up to the spread of
    /// individual habits in the configured population (the mean pace of
    /// `users` holders stands for everyone's: about ±2 % for 2,000).
    /// A rate that is not positive and finite leaves the configuration as
    /// it is.
    pub fn scaled_to_rate(&self, rate_per_sec: f64) -> SynthConfig {
        let natural = self.natural_rate_per_sec();
        if !(rate_per_sec.is_finite() && rate_per_sec > 0.0 && natural > 0.0) {
            return self.clone();
        }
        let factor = rate_per_sec / natural;
        let scale = |n: usize| ((n.max(1) as f64 * factor).round() as usize).max(1);
        SynthConfig {
            users: scale(self.users),
            merchants: scale(self.merchants),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use crate::synth::testkit::{collect, start, transactions};
    use crate::synth::{Generator, SynthConfig};

    fn base() -> SynthConfig {
        SynthConfig {
            users: 300,
            merchants: 75,
            ..SynthConfig::default()
        }
    }

    #[test]
    fn ten_times_the_rate_is_ten_times_the_world() {
        let base = base();
        let natural = base.natural_rate_per_sec();
        let scaled = base.scaled_to_rate(10.0 * natural);
        assert_eq!((scaled.users, scaled.merchants), (3000, 750));
        let ratio = scaled.natural_rate_per_sec() / natural;
        assert!((ratio / 10.0 - 1.0).abs() < 0.05, "{ratio}");
        assert_eq!(scaled.seed, base.seed);
        assert_eq!(scaled.fraud_rate, base.fraud_rate);
    }

    #[test]
    fn the_natural_rate_keeps_the_world_and_silly_rates_change_nothing() {
        let base = base();
        assert_eq!(base.scaled_to_rate(base.natural_rate_per_sec()), base);
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert_eq!(base.scaled_to_rate(rate), base);
        }
        let tiny = base.scaled_to_rate(1e-9);
        assert_eq!((tiny.users, tiny.merchants), (1, 1));
    }

    /// What a cardholder does in a day is the same in the scaled world: the
    /// stream at ten times the rate has ten times the cardholders, each
    /// shopping as often as before.
    #[test]
    fn a_scaled_stream_keeps_each_cardholders_pace() {
        let per_user_day = |config: &SynthConfig| {
            let rate = config.natural_rate_per_sec();
            let mut generator = Generator::new(config.clone(), start(), rate);
            let events = collect(&mut generator, start() + TimeDelta::days(7));
            let mut users = std::collections::HashMap::<&str, usize>::new();
            for (t, _) in transactions(&events) {
                *users.entry(t.user_id.as_str()).or_default() += 1;
            }
            let total: usize = users.values().sum();
            (total as f64 / config.users as f64 / 7.0, rate)
        };
        let base = base();
        let (pace, rate) = per_user_day(&base);
        let (scaled_pace, scaled_rate) = per_user_day(&base.scaled_to_rate(10.0 * rate));
        assert!((scaled_rate / rate / 10.0 - 1.0).abs() < 0.05);
        assert!(
            (scaled_pace / pace - 1.0).abs() < 0.08,
            "{pace} vs {scaled_pace} purchases per holder and day"
        );
    }
}
