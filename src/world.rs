//! The simulated world the producer streams, history and live alike: the
//! configured population, scaled to the configured rate.
//!
//! `producer.users` and `producer.merchants` describe a world at its
//! natural rate (each cardholder shops at their own pace, about three
//! purchases a day). `producer.rate` asks for a number of transactions per
//! second; the world grows by `rate / natural rate` so that it makes them
//! at that same pace, and the backfill and the live stream both draw from
//! it. So velocities, distinct merchants and amounts per card stay where
//! the history put them, whatever the rate.

use chrono::TimeDelta;
use vigil_core::synth::SynthConfig;

use crate::config::ProducerConfig;

/// What the producer simulates.
#[derive(Debug, Clone, PartialEq)]
pub struct World {
    pub synth: SynthConfig,
    /// Live transactions per second (0 = none).
    pub live_rate: f64,
}

/// The configured population at its natural rate, before scaling.
pub fn base(producer: &ProducerConfig, seed: u64) -> SynthConfig {
    SynthConfig {
        seed,
        users: producer.users,
        merchants: producer.merchants,
        fraud_rate: producer.fraud_rate,
        label_delay: TimeDelta::from_std(producer.label_delay).unwrap_or(TimeDelta::MAX),
    }
}

/// The population the configured rate asks for (without building it).
pub fn scaled(producer: &ProducerConfig, seed: u64) -> SynthConfig {
    let base = base(producer, seed);
    match producer.rate {
        Some(rate) if producer.scale_population => base.scaled_to_rate(rate),
        _ => base,
    }
}

/// The world for `producer`: a scaled population streams live at its own
/// natural rate, which is the rate of its backfill, so that the two are
/// one process (the configured rate is met to within the spread of
/// individual habits).
pub fn world(producer: &ProducerConfig, seed: u64) -> World {
    let synth = scaled(producer, seed);
    let live_rate = match producer.rate {
        Some(0.0) => 0.0,
        Some(rate) if !producer.scale_population => rate,
        _ => synth.natural_rate_per_sec(),
    };
    World { synth, live_rate }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn producer(rate: Option<f64>, scale_population: bool) -> ProducerConfig {
        ProducerConfig {
            rate,
            users: 400,
            merchants: 100,
            scale_population,
            ..ProducerConfig::default()
        }
    }

    #[test]
    fn unset_rate_is_the_configured_world_at_its_natural_rate() {
        let w = world(&producer(None, true), 7);
        assert_eq!((w.synth.users, w.synth.merchants), (400, 100));
        assert_eq!(w.live_rate, w.synth.natural_rate_per_sec());
    }

    #[test]
    fn a_rate_scales_the_world_and_the_live_stream_runs_at_its_natural_rate() {
        let natural = base(&producer(None, true), 7).natural_rate_per_sec();
        let w = world(&producer(Some(5.0 * natural), true), 7);
        assert_eq!((w.synth.users, w.synth.merchants), (2000, 500));
        assert_eq!(w.live_rate, w.synth.natural_rate_per_sec());
        // The configured rate is met up to the spread of 400 holders' habits.
        let off = w.live_rate / (5.0 * natural) - 1.0;
        assert!(off.abs() < 0.1, "{off}");
    }

    #[test]
    fn zero_is_no_live_stream_and_a_fixed_population_runs_at_the_rate() {
        let off = world(&producer(Some(0.0), true), 7);
        assert_eq!((off.synth.users, off.live_rate), (400, 0.0));
        let load = world(&producer(Some(300.0), false), 7);
        assert_eq!((load.synth.users, load.live_rate), (400, 300.0));
    }
}
