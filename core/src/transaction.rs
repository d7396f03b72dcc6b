//! The transaction and label records that flow through Vigil.

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// How a card was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Online,
    Pos,
    Atm,
    Mobile,
}

impl Channel {
    /// Every channel, in the order of their numeric encoding.
    pub const ALL: [Channel; 4] = [Channel::Online, Channel::Pos, Channel::Atm, Channel::Mobile];

    /// The lowercase name used in JSON and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Online => "online",
            Channel::Pos => "pos",
            Channel::Atm => "atm",
            Channel::Mobile => "mobile",
        }
    }

    /// Parses the lowercase name; `None` for anything else.
    pub fn parse(name: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// One card transaction as received. Only `transaction_id`, `user_id`,
/// `merchant_id`, `amount` and `timestamp` are required so that external
/// data with fewer columns can be replayed.
// The schema carries `validate`'s bounds: lengths in characters, no NUL
// (PostgreSQL text cannot hold it), timestamps in the years validate takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Transaction {
    pub transaction_id: Uuid,
    #[schema(min_length = 1, max_length = 128, pattern = "^[^\\x00]*$")]
    pub user_id: String,
    #[schema(min_length = 1, max_length = 128, pattern = "^[^\\x00]*$")]
    pub merchant_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 128, pattern = "^[^\\x00]*$")]
    pub merchant_category: Option<String>,
    #[schema(minimum = 0.0)]
    pub amount: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 128, pattern = "^[^\\x00]*$")]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 128, pattern = "^[^\\x00]*$")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 128, pattern = "^[^\\x00]*$")]
    pub device_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    /// Event time (stored in UTC). Years 1971 to 9998 as written, so that
    /// any offset stays within the 1970–9999 `validate` takes in UTC.
    #[schema(
        pattern = "^(197[1-9]|19[89][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-"
    )]
    pub timestamp: DateTime<Utc>,
}

/// Longest identifier or free-text field accepted, in characters.
pub const MAX_TEXT_LEN: usize = 128;

/// Why a transaction was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvalidTransaction {
    #[error("field `{field}` must not be empty")]
    Empty { field: &'static str },
    #[error("field `{field}` is longer than {MAX_TEXT_LEN} characters")]
    TooLong { field: &'static str },
    #[error("field `{field}` must not contain a NUL character")]
    Nul { field: &'static str },
    #[error("field `amount` must be a finite number ≥ 0, got {0}")]
    Amount(f64),
    #[error("field `timestamp` must be in the years 1970 to 9999, got {0}")]
    Timestamp(DateTime<Utc>),
}

/// The years a transaction's timestamp may fall in (the error message
/// names them too). Wider than any card
/// data set, narrow enough that label delays and window arithmetic cannot
/// overflow chrono's range and every store can hold the value.
pub const TIMESTAMP_YEARS: std::ops::RangeInclusive<i32> = 1970..=9999;

impl Transaction {
    /// A transaction with only the required fields; the optional ones are
    /// unset (set them with struct update syntax).
    pub fn new(
        transaction_id: Uuid,
        user_id: impl Into<String>,
        merchant_id: impl Into<String>,
        amount: f64,
        timestamp: DateTime<Utc>,
    ) -> Transaction {
        Transaction {
            transaction_id,
            user_id: user_id.into(),
            merchant_id: merchant_id.into(),
            merchant_category: None,
            amount,
            currency: None,
            country: None,
            device_id: None,
            channel: None,
            timestamp,
        }
    }

    /// Checks the values that serde's types cannot: finite non-negative
    /// amounts and bounded, non-empty identifiers.
    pub fn validate(&self) -> Result<(), InvalidTransaction> {
        if !self.amount.is_finite() || self.amount < 0.0 {
            return Err(InvalidTransaction::Amount(self.amount));
        }
        if !TIMESTAMP_YEARS.contains(&self.timestamp.year()) {
            return Err(InvalidTransaction::Timestamp(self.timestamp));
        }
        check_text("user_id", Some(&self.user_id), true)?;
        check_text("merchant_id", Some(&self.merchant_id), true)?;
        check_text(
            "merchant_category",
            self.merchant_category.as_deref(),
            false,
        )?;
        check_text("currency", self.currency.as_deref(), false)?;
        check_text("country", self.country.as_deref(), false)?;
        check_text("device_id", self.device_id.as_deref(), false)?;
        Ok(())
    }
}

fn check_text(
    field: &'static str,
    value: Option<&str>,
    required: bool,
) -> Result<(), InvalidTransaction> {
    match value {
        Some(v) if v.chars().count() > MAX_TEXT_LEN => Err(InvalidTransaction::TooLong { field }),
        Some(v) if v.contains('\0') => Err(InvalidTransaction::Nul { field }),
        Some("") if required => Err(InvalidTransaction::Empty { field }),
        _ => Ok(()),
    }
}

/// Feedback on a transaction: a chargeback, an analyst's verdict. Labels
/// arrive late, so `labeled_at` (when the label became known) matters as
/// much as the verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Label {
    /// Identifies this label event, so that a redelivered label is stored once.
    pub label_id: Uuid,
    pub transaction_id: Uuid,
    pub is_fraud: bool,
    /// Where the label came from, e.g. `chargeback`, `analyst`, `replay`.
    pub source: String,
    pub labeled_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Transaction {
        Transaction::new(
            Uuid::nil(),
            "u1",
            "m1",
            12.5,
            DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        )
    }

    #[test]
    fn minimal_json_parses_and_round_trips() {
        let json = r#"{"transaction_id":"00000000-0000-0000-0000-000000000000",
            "user_id":"u1","merchant_id":"m1","amount":12.5,
            "timestamp":"2023-11-14T22:13:20Z"}"#;
        let parsed: Transaction = serde_json::from_str(json).unwrap();
        assert_eq!(parsed, sample());
        let again: Transaction =
            serde_json::from_str(&serde_json::to_string(&parsed).unwrap()).unwrap();
        assert_eq!(again, parsed);
    }

    #[test]
    fn unknown_channel_and_missing_fields_are_rejected() {
        let bad_channel = r#"{"transaction_id":"00000000-0000-0000-0000-000000000000",
            "user_id":"u1","merchant_id":"m1","amount":1,"channel":"fax",
            "timestamp":"2023-11-14T22:13:20Z"}"#;
        assert!(serde_json::from_str::<Transaction>(bad_channel).is_err());
        let missing = r#"{"user_id":"u1","merchant_id":"m1","amount":1,
            "timestamp":"2023-11-14T22:13:20Z"}"#;
        let err = serde_json::from_str::<Transaction>(missing).unwrap_err();
        assert!(err.to_string().contains("transaction_id"), "{err}");
    }

    #[test]
    fn validation_rejects_bad_amounts_and_ids() {
        let mut t = sample();
        t.amount = -1.0;
        assert_eq!(t.validate(), Err(InvalidTransaction::Amount(-1.0)));
        t.amount = f64::NAN;
        assert!(t.validate().is_err());
        t.amount = 1.0;
        t.user_id = String::new();
        assert_eq!(
            t.validate(),
            Err(InvalidTransaction::Empty { field: "user_id" })
        );
        t.user_id = "x".repeat(MAX_TEXT_LEN + 1);
        assert_eq!(
            t.validate(),
            Err(InvalidTransaction::TooLong { field: "user_id" })
        );
    }

    #[test]
    fn validation_rejects_timestamps_outside_the_supported_years() {
        let mut t = sample();
        // chrono's last representable date: a label delay would overflow it.
        t.timestamp = DateTime::<Utc>::MAX_UTC;
        assert_eq!(
            t.validate(),
            Err(InvalidTransaction::Timestamp(t.timestamp))
        );
        t.timestamp = DateTime::from_timestamp(-1, 0).unwrap();
        assert!(t.validate().is_err());
        t.timestamp = DateTime::parse_from_rfc3339("9999-12-31T23:59:59Z")
            .unwrap()
            .to_utc();
        assert_eq!(t.validate(), Ok(()));
    }

    #[test]
    fn the_schema_carries_the_validation_bounds() {
        let schema =
            serde_json::to_value(<Transaction as utoipa::PartialSchema>::schema()).unwrap();
        let properties = &schema["properties"];
        for field in [
            "user_id",
            "merchant_id",
            "merchant_category",
            "currency",
            "country",
            "device_id",
        ] {
            assert_eq!(properties[field]["maxLength"], MAX_TEXT_LEN, "{field}");
        }
        assert_eq!(properties["user_id"]["minLength"], 1);
        assert_eq!(properties["merchant_id"]["minLength"], 1);
        assert_eq!(properties["amount"]["minimum"], 0.0);
    }

    #[test]
    fn channel_names_round_trip() {
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()), Some(c));
        }
        assert_eq!(Channel::parse("fax"), None);
    }
}
