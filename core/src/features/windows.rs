//! Time on the feature path: millisecond instants, the buckets windows are
//! made of, and the horizons before which state can no longer matter.

use chrono::{DateTime, TimeDelta, Utc};

/// One minute in milliseconds.
pub(super) const MINUTE: i64 = 60_000;
/// One hour in milliseconds.
pub(super) const HOUR: i64 = 60 * MINUTE;
/// One day in milliseconds.
pub(super) const DAY: i64 = 24 * HOUR;
/// The user's amount profile is kept in periods of this many days.
pub(super) const PERIOD_DAYS: u32 = 5;
/// The longest look-back of any window, 30 days (the amount profile, the
/// first-time check, the previous transaction, merchant counts).
pub(super) const LONGEST: i64 = 30 * DAY;

/// Largest allowed lateness honoured; more is clamped.
pub(super) const MAX_LATENESS: i64 = 7 * DAY;
/// Largest label delay honoured; more is clamped to keep the merchants'
/// day buckets bounded.
pub(super) const MAX_LABEL_DELAY: i64 = 365 * DAY;

/// An instant in whole milliseconds since the Unix epoch. Sub-millisecond
/// digits are dropped (floor), so windows are exact at millisecond
/// resolution and online and offline paths see the same integers.
pub(super) fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// A configured duration in milliseconds, clamped to `[0, max]`.
pub(super) fn span(d: TimeDelta, max: i64) -> i64 {
    d.num_milliseconds().clamp(0, max)
}

/// An amount in whole cents as kept in the state: rounded, negative and NaN
/// become 0, beyond u32 (≈ 42.9 million) saturates. Integer cents make every
/// sum exact, so the order of additions can never change a feature.
pub(super) fn cents(amount: f64) -> u32 {
    // `as` saturates and maps NaN to 0, which is the documented clamp.
    (amount * 100.0).round() as u32
}

/// The bucket sizes windows are counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Grain {
    Minute,
    Hour,
    Day,
    /// [`PERIOD_DAYS`] days.
    Period,
}

impl Grain {
    /// Length in milliseconds.
    pub const fn millis(self) -> i64 {
        match self {
            Grain::Minute => MINUTE,
            Grain::Hour => HOUR,
            Grain::Day => DAY,
            Grain::Period => PERIOD_DAYS as i64 * DAY,
        }
    }

    /// The bucket an instant falls in: whole grains since the epoch. Instants
    /// before the epoch share bucket 0 (transactions are validated to be
    /// from 1971 on; this only keeps the arithmetic total).
    pub fn of(self, ms: i64) -> u32 {
        u32::try_from(ms.max(0) / self.millis()).unwrap_or(u32::MAX)
    }

    /// The first instant of bucket `index`.
    pub fn start(self, index: u32) -> i64 {
        i64::from(index) * self.millis()
    }
}

/// A window of `buckets` buckets of `grain` that ends with the bucket of the
/// transaction: "the last 24 hours" is the current hour up to the
/// transaction and the 23 hours before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Window {
    pub grain: Grain,
    pub buckets: u32,
}

impl Window {
    pub const TEN_MINUTES: Window = Window::new(Grain::Minute, 10);
    pub const ONE_HOUR: Window = Window::new(Grain::Minute, 60);
    pub const ONE_DAY: Window = Window::new(Grain::Hour, 24);
    pub const SEVEN_DAYS: Window = Window::new(Grain::Day, 7);
    pub const THIRTY_DAYS: Window = Window::new(Grain::Day, 30);
    /// The amount profile: six periods of five days.
    pub const PROFILE: Window = Window::new(Grain::Period, 30 / PERIOD_DAYS);

    pub const fn new(grain: Grain, buckets: u32) -> Window {
        Window { grain, buckets }
    }

    /// The oldest bucket of the window that ends with the bucket of `t`.
    pub fn first(self, t: i64) -> u32 {
        (self.grain.of(t) + 1).saturating_sub(self.buckets)
    }

    /// The bucket of `t`, the last of the window.
    pub fn last(self, t: i64) -> u32 {
        self.grain.of(t)
    }

    /// Whether an event at `ms` is in the window of a transaction at `t`
    /// (by bucket; the caller excludes what is at or after `t`).
    pub fn covers(self, t: i64, ms: i64) -> bool {
        let b = self.grain.of(ms);
        b >= self.first(t) && b <= self.last(t)
    }
}

/// The instants before which state no longer matters for any transaction
/// the state still accepts, given the newest transaction time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Horizons {
    /// Oldest time an accepted transaction can have: newest − lateness.
    /// Events before it are *settled*: before every accepted transaction.
    pub accept: i64,
    /// The label delay in ms.
    pub delay: i64,
}

impl Horizons {
    /// The horizons for the newest transaction time seen, the allowed
    /// lateness and the label delay (both in ms, already clamped).
    pub fn new(newest: i64, lateness: i64, label_delay: i64) -> Horizons {
        Horizons {
            accept: newest.saturating_sub(lateness),
            delay: label_delay,
        }
    }

    /// A user whose newest transaction is at or before this is outside
    /// every user window of every accepted transaction.
    pub fn user(&self) -> i64 {
        self.accept.saturating_sub(LONGEST)
    }

    /// The oldest bucket of `window` any accepted transaction can still
    /// look at: older buckets can be dropped.
    pub fn keep_from(&self, window: Window) -> u32 {
        window.first(self.accept)
    }

    /// The oldest day any accepted transaction's merchant windows (counts,
    /// and fraud rates a label delay back) can look at.
    pub fn merchant_day(&self) -> u32 {
        Grain::Day
            .of(self.accept.saturating_sub(self.delay))
            .saturating_sub(30)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_floor_sub_millisecond_digits() {
        let t = DateTime::from_timestamp(10, 1_999_999).unwrap();
        assert_eq!(millis(t), 10_001);
        let before_epoch = DateTime::from_timestamp(-1, 999_500_000).unwrap();
        assert_eq!(millis(before_epoch), -1);
    }

    #[test]
    fn cents_round_and_clamp() {
        assert_eq!(cents(12.345), 1235);
        assert_eq!(cents(0.004), 0);
        assert_eq!(cents(-3.0), 0);
        assert_eq!(cents(f64::NAN), 0);
        assert_eq!(cents(1e12), u32::MAX);
    }

    #[test]
    fn spans_are_clamped() {
        assert_eq!(span(TimeDelta::minutes(-5), MAX_LATENESS), 0);
        assert_eq!(span(TimeDelta::days(30), MAX_LATENESS), MAX_LATENESS);
        assert_eq!(span(TimeDelta::seconds(2), MAX_LATENESS), 2_000);
    }

    #[test]
    fn windows_end_with_the_bucket_of_the_transaction() {
        // 10:30 on day 100: the last 24 hours start at 11:00 on day 99.
        let t = 100 * DAY + 10 * HOUR + 30 * MINUTE;
        let w = Window::ONE_DAY;
        assert_eq!(w.last(t), 100 * 24 + 10);
        assert_eq!(w.first(t), 99 * 24 + 11);
        assert!(w.covers(t, 99 * DAY + 11 * HOUR));
        assert!(!w.covers(t, 99 * DAY + 11 * HOUR - 1));
        assert!(w.covers(t, t + 29 * MINUTE), "same bucket, later");
        assert!(!w.covers(t, 100 * DAY + 11 * HOUR));
        // Six periods of five days: 25 to 30 days back.
        let p = Window::PROFILE;
        assert_eq!(p.buckets, 6);
        assert!(p.covers(t, t - 25 * DAY));
        assert!(!p.covers(t, t - 31 * DAY));
        // Near the epoch nothing underflows.
        assert_eq!(Window::THIRTY_DAYS.first(5 * DAY), 0);
    }

    #[test]
    fn horizons_follow_the_newest_time() {
        let h = Horizons::new(100 * DAY, 10 * MINUTE, 7 * DAY);
        assert_eq!(h.accept, 100 * DAY - 10 * MINUTE);
        assert_eq!(h.user(), 70 * DAY - 10 * MINUTE);
        // day(100 d − 10 min − 7 d) = 92; 30 days before it.
        assert_eq!(h.merchant_day(), 62);
        assert_eq!(h.keep_from(Window::ONE_DAY), 99 * 24);
        let empty = Horizons::new(i64::MIN, 10 * MINUTE, 7 * DAY);
        assert_eq!(empty.merchant_day(), 0);
    }
}
