//! Features of the transaction alone: when it happened and through which
//! channel. They need no state.

use super::windows::{DAY, HOUR};
use crate::transaction::Channel;

/// Hour of day, weekday and the flags derived from them (all UTC).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Calendar {
    pub hour_of_day: f64,
    pub day_of_week: f64,
    pub is_weekend: f64,
    pub is_night: f64,
}

/// 1970-01-01, day 0 of the epoch, was a Thursday (Monday = 0).
const EPOCH_WEEKDAY: i64 = 3;

impl Calendar {
    /// The calendar features of an instant in ms since the epoch (UTC has
    /// no offsets or leap seconds to apply, so plain arithmetic is exact).
    pub fn of(ms: i64) -> Calendar {
        let hour = ms.rem_euclid(DAY) / HOUR;
        let weekday = (ms.div_euclid(DAY) + EPOCH_WEEKDAY).rem_euclid(7);
        Calendar {
            hour_of_day: hour as f64,
            day_of_week: weekday as f64,
            is_weekend: flag(weekday >= 5),
            is_night: flag(!(6..22).contains(&hour)),
        }
    }
}

/// The numeric code of a channel: online 0, pos 1, atm 2, mobile 3, missing −1.
pub(super) fn channel_code(channel: Option<Channel>) -> f64 {
    match channel {
        Some(Channel::Online) => 0.0,
        Some(Channel::Pos) => 1.0,
        Some(Channel::Atm) => 2.0,
        Some(Channel::Mobile) => 3.0,
        None => -1.0,
    }
}

/// 1.0 for true, 0.0 for false.
pub(super) fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn agrees_with_chrono_before_and_after_the_epoch() {
        for ms in (-3 * 366 * DAY..3 * 366 * DAY).step_by(7_777_777) {
            let t = DateTime::from_timestamp_millis(ms).unwrap();
            let c = Calendar::of(ms);
            assert_eq!(c.hour_of_day, f64::from(t.hour()), "{t}");
            let weekday = t.weekday().num_days_from_monday();
            assert_eq!(c.day_of_week, f64::from(weekday), "{t}");
        }
    }

    #[test]
    fn weekdays_weekends_and_nights() {
        // 2024-03-01 is a Friday.
        let friday_noon = Calendar::of(at(2024, 3, 1, 12, 0));
        assert_eq!(friday_noon.day_of_week, 4.0);
        assert_eq!(friday_noon.is_weekend, 0.0);
        assert_eq!(friday_noon.is_night, 0.0);
        assert_eq!(friday_noon.hour_of_day, 12.0);
        let saturday = Calendar::of(at(2024, 3, 2, 5, 59));
        assert_eq!((saturday.day_of_week, saturday.is_weekend), (5.0, 1.0));
        assert_eq!(saturday.is_night, 1.0);
        let sunday = Calendar::of(at(2024, 3, 3, 22, 0));
        assert_eq!((sunday.day_of_week, sunday.is_weekend), (6.0, 1.0));
        assert_eq!((sunday.hour_of_day, sunday.is_night), (22.0, 1.0));
        let monday = Calendar::of(at(2024, 3, 4, 6, 0));
        assert_eq!((monday.day_of_week, monday.is_weekend), (0.0, 0.0));
        assert_eq!(monday.is_night, 0.0);
        assert_eq!(Calendar::of(at(2024, 3, 4, 21, 59)).is_night, 0.0);
    }

    #[test]
    fn channel_codes() {
        let codes: Vec<f64> = Channel::ALL.map(|c| channel_code(Some(c))).to_vec();
        assert_eq!(codes, [0.0, 1.0, 2.0, 3.0]);
        assert_eq!(channel_code(None), -1.0);
    }
}
