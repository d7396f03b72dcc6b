//! Time on the feature path: millisecond instants, the window lengths and
//! the horizons before which state can no longer matter.

use chrono::{DateTime, TimeDelta, Utc};

/// One minute in milliseconds.
pub(super) const MINUTE: i64 = 60_000;
/// One hour in milliseconds.
pub(super) const HOUR: i64 = 60 * MINUTE;
/// One day in milliseconds.
pub(super) const DAY: i64 = 24 * HOUR;

/// The user windows, shortest first.
pub(super) const TEN_MINUTES: i64 = 10 * MINUTE;
pub(super) const WEEK: i64 = 7 * DAY;
/// The longest window of all (users and merchants), 30 days.
pub(super) const LONGEST: i64 = 30 * DAY;

/// Largest allowed lateness honoured; more is clamped so that a user's
/// retained history (30 days + lateness, plus one lateness when a late event
/// re-anchors it) always fits the u32 millisecond offsets (49.7 days).
pub(super) const MAX_LATENESS: i64 = 7 * DAY;
/// Largest label delay honoured; more is clamped to keep the arithmetic and
/// the merchants' retained history bounded.
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

/// The instants before which (inclusive) state no longer matters for any
/// transaction the state still accepts, given the newest transaction time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Horizons {
    /// Oldest time an accepted transaction can have: newest − lateness.
    pub accept: i64,
    /// Per-event details (merchant, country, device) older than this are
    /// folded into summaries: only the 24 h distinct counts need them.
    pub detail: i64,
    /// User events at or before this are outside every user window.
    pub user: i64,
    /// Merchant events at or before this are outside every merchant window
    /// including the label-delayed fraud-rate windows.
    pub merchant: i64,
}

impl Horizons {
    /// The horizons for the newest transaction time seen, the allowed
    /// lateness and the label delay (both in ms, already clamped).
    pub fn new(newest: i64, lateness: i64, label_delay: i64) -> Horizons {
        let accept = newest.saturating_sub(lateness);
        Horizons {
            accept,
            detail: accept.saturating_sub(DAY),
            user: accept.saturating_sub(LONGEST),
            merchant: accept.saturating_sub(LONGEST).saturating_sub(label_delay),
        }
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
    fn horizons_follow_the_newest_time() {
        let h = Horizons::new(100 * DAY, TEN_MINUTES, WEEK);
        assert_eq!(h.accept, 100 * DAY - TEN_MINUTES);
        assert_eq!(h.detail, 99 * DAY - TEN_MINUTES);
        assert_eq!(h.user, 70 * DAY - TEN_MINUTES);
        assert_eq!(h.merchant, 63 * DAY - TEN_MINUTES);
        let empty = Horizons::new(i64::MIN, TEN_MINUTES, WEEK);
        assert_eq!(empty.merchant, i64::MIN);
    }
}
