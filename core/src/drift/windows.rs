//! Which rows a drift check compares, so that it compares like with like.
//!
//! Several monitored features follow the clock: `hour_of_day` by
//! definition, the 1-hour and 24-hour velocities and distinct merchants
//! because people shop by day. A current window of a few night hours
//! against a reference of whole days therefore "drifts" on a stream that
//! never changed. A current window of a whole day would not, but a change
//! in its last hour would weigh 1/24 of it and go unseen for hours. So:
//!
//! - the **current** window is the newest rows (at most `n`, and none
//!   older than [`CURRENT_MAX_AGE`]): it reacts within a check or two;
//! - the **reference** window is the production model's whole training
//!   window (without a model, everything before the current window) less
//!   the store's first [`WARM_UP`] (whose 24-hour windows were not yet
//!   full), restricted to the **same times of the day** as the current
//!   window ([`TimesOfDay::covering`], to the minute; all day once the
//!   current window spans a day), and thinned to its bound by keeping
//!   every `k`-th row in (event time, id) order ([`stride`]): a systematic
//!   sample, in which every row has the same chance, so days and hours
//!   keep their shares.
//!
//! Within those times `hour_of_day` still drifts when the traffic moves
//! between hours (more at 3 h than the history had at 3 h), and a shift of
//! amounts in the last hour is a large part of the current window.
//!
//! The store runs the same sampling in SQL (a row number modulo the
//! stride, the minute of the day from the event time), so a check reads a
//! bounded number of rows however long the training window; the functions
//! here are its in-memory twin.

use chrono::{DateTime, TimeDelta, Timelike, Utc};
use serde::{Deserialize, Serialize};

/// How old the oldest row of the current window may be.
pub const CURRENT_MAX_AGE: TimeDelta = TimeDelta::days(1);

/// The oldest event time (exclusive) of a current window ending at `newest`.
pub fn current_floor(newest: DateTime<Utc>) -> DateTime<Utc> {
    newest - CURRENT_MAX_AGE
}

/// How long after the first stored transaction the features are
/// comparable with later ones: the 24-hour windows (counts, sums, distinct
/// merchants and countries) of the first day of a store see less than a
/// day of history.
pub const WARM_UP: TimeDelta = TimeDelta::days(1);

/// The minute of the day (UTC) of `t`, 0 to 1439.
pub fn minute_of_day(t: DateTime<Utc>) -> u32 {
    t.hour() * 60 + t.minute()
}

/// A span of the clock (UTC) in whole minutes, both ends included,
/// possibly across midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimesOfDay {
    pub first_minute: u32,
    pub last_minute: u32,
}

impl TimesOfDay {
    /// The whole day.
    pub const ALL: TimesOfDay = TimesOfDay {
        first_minute: 0,
        last_minute: 24 * 60 - 1,
    };

    /// The times of the day of rows stamped from `first` to `last`: the
    /// whole day once they are a day apart or more.
    pub fn covering(first: DateTime<Utc>, last: DateTime<Utc>) -> TimesOfDay {
        if last - first >= TimeDelta::days(1) - TimeDelta::minutes(1) {
            return TimesOfDay::ALL;
        }
        TimesOfDay {
            first_minute: minute_of_day(first),
            last_minute: minute_of_day(last),
        }
    }

    /// The same span widened to whole hours (all day when that makes 24):
    /// the fallback when the history holds too few rows at the very
    /// minutes of a short current window (a fast stream over a history at
    /// the natural rate, as in a load test).
    pub fn whole_hours(&self) -> TimesOfDay {
        let first_hour = self.first_minute / 60;
        let last_hour = self.last_minute / 60;
        let hours = (last_hour + 24 - first_hour) % 24 + 1;
        let wraps_into_its_own_hour = self.crosses_midnight() && first_hour == last_hour;
        if self.is_all() || hours == 24 || wraps_into_its_own_hour {
            return TimesOfDay::ALL;
        }
        TimesOfDay {
            first_minute: first_hour * 60,
            last_minute: last_hour * 60 + 59,
        }
    }

    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        let m = minute_of_day(t);
        if self.crosses_midnight() {
            m >= self.first_minute || m <= self.last_minute
        } else {
            self.first_minute <= m && m <= self.last_minute
        }
    }

    /// Whether the span runs from an evening into the next morning.
    pub fn crosses_midnight(&self) -> bool {
        self.first_minute > self.last_minute
    }

    pub fn is_all(&self) -> bool {
        *self == TimesOfDay::ALL
    }
}

/// Keep every `stride`-th row so that at most `n` of `count` rows remain
/// (1 keeps them all). `n = 0` keeps the first row only: a window is never
/// asked for nothing.
pub fn stride(count: u64, n: u64) -> u64 {
    count.div_ceil(n.max(1)).max(1)
}

/// Rows `0, k, 2k, …` of `rows` (already in time order) with `k` the
/// [`stride`] for `n`: at most `n` rows spread evenly over the window.
pub fn sample_evenly<T: Clone>(rows: &[T], n: u64) -> Vec<T> {
    let k = stride(rows.len() as u64, n) as usize;
    rows.iter().step_by(k).cloned().collect()
}

/// The current window of `rows` (in time order, the newest last): its
/// newest `n`, none `CURRENT_MAX_AGE` or more older than the newest. What
/// the store's query returns, in memory.
pub fn current_window<T>(rows: &[T], time: impl Fn(&T) -> DateTime<Utc>, n: u64) -> &[T] {
    let Some(newest) = rows.last() else {
        return rows;
    };
    let floor = current_floor(time(newest));
    let fresh = rows.partition_point(|r| time(r) <= floor);
    let bounded = rows.len().saturating_sub(n as usize);
    &rows[fresh.max(bounded)..]
}

/// The reference window of `rows` (in time order): those stamped within
/// `[from, to]` at `times` of the day, sampled evenly to at most `n`. What
/// the store's query returns, in memory.
pub fn reference_window<T: Clone>(
    rows: &[T],
    time: impl Fn(&T) -> DateTime<Utc>,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    times: TimesOfDay,
    n: u64,
) -> Vec<T> {
    let within: Vec<T> = rows
        .iter()
        .filter(|r| {
            let t = time(r);
            from <= t && t <= to && times.contains(t)
        })
        .cloned()
        .collect();
    sample_evenly(&within, n)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, day, hour, minute, 0).unwrap()
    }

    #[test]
    fn the_stride_bounds_the_rows_and_keeps_all_when_they_fit() {
        for (count, n, expected) in [
            (0, 10, 1),
            (10, 10, 1),
            (11, 10, 2),
            (20, 10, 2),
            (21, 10, 3),
            (171_000, 5_000, 35),
            (5, 0, 5),
        ] {
            assert_eq!(stride(count, n), expected, "{count} rows, {n} wanted");
        }
        for count in 0..300u64 {
            for n in 1..40u64 {
                let kept = sample_evenly(&(0..count).collect::<Vec<_>>(), n);
                assert!(kept.len() as u64 <= n, "{count} {n}");
                // Never fewer than half the bound when there are enough rows.
                assert!(kept.len() as u64 >= n.min(count).div_ceil(2), "{count} {n}");
            }
        }
    }

    /// A month with a daily rhythm, sampled: day and night keep their
    /// shares, which an evening's newest rows do not.
    #[test]
    fn an_even_sample_keeps_the_hours_of_the_day() {
        let start = at(2, 0, 0);
        // 1 row per hour at night, 9 by day.
        let rows: Vec<DateTime<Utc>> = (0..30 * 24)
            .flat_map(|h| {
                let n = if (7..23).contains(&(h % 24)) { 9 } else { 1 };
                (0..n).map(move |i| start + TimeDelta::hours(h) + TimeDelta::minutes(i * 6))
            })
            .collect();
        let day_share = |rows: &[DateTime<Utc>]| {
            let day = rows.iter().filter(|t| (7..23).contains(&t.hour())).count();
            day as f64 / rows.len() as f64
        };
        let whole = day_share(&rows);
        let sampled = sample_evenly(&rows, 500);
        assert!(sampled.len() <= 500 && sampled.len() > 400);
        assert!((day_share(&sampled) - whole).abs() < 0.02);
        let newest = &rows[rows.len() - 50..];
        assert!((day_share(newest) - whole).abs() > 0.02);
    }

    #[test]
    fn the_current_window_is_the_newest_rows_of_the_last_day() {
        let rows: Vec<DateTime<Utc>> = (0..48).map(|h| at(2, 0, 0) + TimeDelta::hours(h)).collect();
        let id = |t: &DateTime<Utc>| *t;
        assert_eq!(current_window(&rows, id, 5), &rows[43..]);
        // A day back from the newest (day 3, 23:00), the row stamped exactly
        // a day earlier is out.
        assert_eq!(current_window(&rows, id, 100), &rows[24..]);
        assert!(current_window(&[] as &[DateTime<Utc>], id, 5).is_empty());
        let night = TimesOfDay::covering(at(2, 22, 0), at(3, 1, 0));
        let reference = reference_window(&rows, id, (rows[0], rows[47]), night, 100);
        let hours: Vec<u32> = reference.iter().map(|t| t.hour()).collect();
        assert_eq!(hours, [0, 1, 22, 23, 0, 1, 22, 23]);
        let all = reference_window(&rows, id, (rows[0], rows[47]), TimesOfDay::ALL, 12);
        assert_eq!(all.len(), 12);
    }

    #[test]
    fn times_of_day_wrap_midnight_and_a_day_covers_all() {
        let night = TimesOfDay::covering(at(2, 22, 35), at(3, 2, 10));
        assert!(night.crosses_midnight());
        for (t, inside) in [
            (at(5, 22, 34), false),
            (at(5, 22, 35), true),
            (at(5, 0, 0), true),
            (at(5, 2, 10), true),
            (at(5, 2, 11), false),
            (at(5, 12, 0), false),
        ] {
            assert_eq!(night.contains(t), inside, "{t}");
        }
        let morning = TimesOfDay::covering(at(2, 9, 40), at(2, 11, 5));
        assert!(!morning.crosses_midnight());
        assert!(morning.contains(at(7, 10, 0)) && !morning.contains(at(7, 9, 39)));
        assert!(TimesOfDay::covering(at(2, 2, 35), at(3, 2, 34)).is_all());
        assert!(!TimesOfDay::covering(at(2, 2, 35), at(3, 2, 30)).is_all());
        assert_eq!(current_floor(at(3, 2, 35)), at(2, 2, 35));
        let hours = TimesOfDay::covering(at(2, 16, 5), at(2, 16, 7)).whole_hours();
        assert!(hours.contains(at(4, 16, 0)) && hours.contains(at(4, 16, 59)));
        assert!(!hours.contains(at(4, 15, 59)) && !hours.contains(at(4, 17, 0)));
        let night = TimesOfDay::covering(at(2, 22, 35), at(3, 2, 10)).whole_hours();
        assert!(night.contains(at(4, 22, 0)) && night.contains(at(4, 2, 59)));
        assert!(!night.contains(at(4, 3, 0)));
        assert!(
            TimesOfDay::covering(at(2, 2, 35), at(3, 1, 30))
                .whole_hours()
                .is_all()
        );
        assert_eq!(minute_of_day(at(3, 23, 59)), 1439);
    }
}
