//! Timestamps as external files write them.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// Parses ISO 8601 / RFC 3339 (`2018-04-01T00:00:31Z`, with an offset or
/// fractional seconds), the same without a zone or with a space instead of
/// `T` (read as UTC, as data sets like the fraud handbook's write them), a
/// bare date (midnight UTC), or Unix seconds (integer or fractional).
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return unix_seconds(text);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.to_utc());
    }
    let naive = text.replacen(' ', "T", 1);
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(&naive, format) {
            return Some(t.and_utc());
        }
    }
    if let Ok(t) = DateTime::parse_from_str(&naive, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Some(t.to_utc());
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

fn unix_seconds(text: &str) -> Option<DateTime<Utc>> {
    let seconds: f64 = text.parse().ok()?;
    if !seconds.is_finite() {
        return None;
    }
    // Millisecond precision, like every timestamp in Vigil.
    DateTime::from_timestamp_millis((seconds * 1000.0).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn the_usual_forms_parse_to_the_same_instant() {
        let t = utc("2018-04-01T00:00:31Z");
        for text in [
            "2018-04-01T00:00:31Z",
            "2018-04-01T02:00:31+02:00",
            "2018-04-01 00:00:31",
            "2018-04-01T00:00:31",
            "2018-04-01 00:00:31.000",
            "2018-04-01T00:00:31+0000",
            " 1522540831 ",
            "1522540831.0",
        ] {
            assert_eq!(parse_timestamp(text), Some(t), "{text}");
        }
        assert_eq!(
            parse_timestamp("2018-04-01"),
            Some(utc("2018-04-01T00:00:00Z"))
        );
        assert_eq!(
            parse_timestamp("1522540831.25"),
            Some(utc("2018-04-01T00:00:31.250Z"))
        );
        assert_eq!(parse_timestamp("-86400"), Some(utc("1969-12-31T00:00:00Z")));
    }

    #[test]
    fn garbage_is_rejected() {
        for text in [
            "",
            "yesterday",
            "2018-13-01",
            "1e400",
            "12:00",
            "2018-04-01T25:00:00Z",
        ] {
            assert_eq!(parse_timestamp(text), None, "{text}");
        }
    }
}
