//! One row of an external file → a transaction, its original id and its
//! label.

use chrono::{DateTime, TimeDelta, Utc};
use csv::StringRecord;

use super::ids::{label_uuid, transaction_uuid};
use super::mapping::{Columns, Field};
use super::time::parse_timestamp;
use crate::transaction::{Channel, Label, Transaction};

/// A parsed row.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayRow {
    pub transaction: Transaction,
    /// The id as it appeared in the file.
    pub original_id: String,
    /// The row's label, when the file has one and the cell is not empty.
    pub is_fraud: Option<bool>,
}

impl ReplayRow {
    /// The chargeback of a fraudulent row, known `delay` after the
    /// transaction. Legitimate rows get no label: as in production, only
    /// frauds are reported, and an unlabelled transaction counts as
    /// legitimate everywhere in Vigil.
    pub fn chargeback(&self, delay: TimeDelta) -> Option<Label> {
        (self.is_fraud == Some(true)).then(|| Label {
            label_id: label_uuid(self.transaction.transaction_id),
            transaction_id: self.transaction.transaction_id,
            is_fraud: true,
            source: "replay".into(),
            labeled_at: self.transaction.timestamp + delay,
        })
    }
}

/// Why a row was skipped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RowError {
    #[error("missing `{0}`")]
    Missing(&'static str),
    #[error("`{field}` is not a {expected}: {value:?}")]
    Invalid {
        field: &'static str,
        expected: &'static str,
        value: String,
    },
    #[error("{0}")]
    Rejected(#[from] crate::transaction::InvalidTransaction),
}

/// Parses one record with the columns resolved from the file's header.
pub fn parse_row(record: &StringRecord, columns: &Columns) -> Result<ReplayRow, RowError> {
    let cell = |field: Field| -> Option<&str> {
        columns
            .of(field)
            .and_then(|i| record.get(i))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let required = |field: Field| cell(field).ok_or(RowError::Missing(field.name()));
    let invalid = |field: Field, expected: &'static str, value: &str| RowError::Invalid {
        field: field.name(),
        expected,
        value: value.chars().take(64).collect(),
    };

    let original_id = required(Field::TransactionId)?;
    let amount_text = required(Field::Amount)?;
    let amount: f64 = amount_text
        .parse()
        .map_err(|_| invalid(Field::Amount, "number", amount_text))?;
    let time_text = required(Field::Timestamp)?;
    let timestamp: DateTime<Utc> = parse_timestamp(time_text)
        .ok_or_else(|| invalid(Field::Timestamp, "timestamp", time_text))?;
    let channel = match cell(Field::Channel) {
        None => None,
        Some(text) => Some(
            Channel::parse(&text.to_ascii_lowercase())
                .ok_or_else(|| invalid(Field::Channel, "channel", text))?,
        ),
    };
    let is_fraud = match cell(Field::Label) {
        None => None,
        Some(text) => Some(parse_label(text).ok_or_else(|| invalid(Field::Label, "label", text))?),
    };
    let transaction = Transaction {
        transaction_id: transaction_uuid(original_id),
        user_id: required(Field::UserId)?.to_owned(),
        merchant_id: required(Field::MerchantId)?.to_owned(),
        merchant_category: cell(Field::MerchantCategory).map(str::to_owned),
        amount,
        currency: cell(Field::Currency).map(str::to_owned),
        country: cell(Field::Country).map(str::to_owned),
        device_id: cell(Field::DeviceId).map(str::to_owned),
        channel,
        timestamp,
    };
    transaction.validate()?;
    Ok(ReplayRow {
        transaction,
        original_id: original_id.to_owned(),
        is_fraud,
    })
}

/// `1`/`0`, `true`/`false`, `yes`/`no`, `fraud`/`legit` (any case).
fn parse_label(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "1" | "1.0" | "true" | "yes" | "y" | "fraud" => Some(true),
        "0" | "0.0" | "false" | "no" | "n" | "legit" | "genuine" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::mapping::ColumnMapping;

    fn columns() -> Columns {
        ColumnMapping::parse("transaction_id=TX_ID,user_id=CUSTOMER_ID,merchant_id=TERMINAL_ID,amount=TX_AMOUNT,timestamp=TX_DATETIME,label=TX_FRAUD")
            .unwrap()
            .resolve(["TX_ID", "TX_DATETIME", "CUSTOMER_ID", "TERMINAL_ID", "TX_AMOUNT", "TX_FRAUD", "channel"])
            .unwrap()
    }

    fn record(cells: &[&str]) -> StringRecord {
        StringRecord::from(cells.to_vec())
    }

    #[test]
    fn a_handbook_row_becomes_a_transaction_with_a_delayed_chargeback() {
        let row = parse_row(
            &record(&[
                "17",
                "2018-04-01 00:02:10",
                "4961",
                "3412",
                "46.42",
                "1",
                "POS",
            ]),
            &columns(),
        )
        .unwrap();
        assert_eq!(row.original_id, "17");
        assert_eq!(row.transaction.transaction_id, transaction_uuid("17"));
        assert_eq!(row.transaction.user_id, "4961");
        assert_eq!(row.transaction.merchant_id, "3412");
        assert_eq!(row.transaction.amount, 46.42);
        assert_eq!(row.transaction.channel, Some(Channel::Pos));
        assert_eq!(row.is_fraud, Some(true));
        let label = row.chargeback(TimeDelta::days(7)).unwrap();
        assert_eq!(label.transaction_id, row.transaction.transaction_id);
        assert_eq!(
            label.labeled_at,
            parse_timestamp("2018-04-08 00:02:10").unwrap()
        );
        assert_eq!(label.label_id, label_uuid(row.transaction.transaction_id));
    }

    #[test]
    fn legitimate_and_unlabelled_rows_have_no_chargeback() {
        for flag in ["0", ""] {
            let row = parse_row(
                &record(&["18", "1522540930", "1", "2", "3", flag, ""]),
                &columns(),
            )
            .unwrap();
            assert_eq!(row.is_fraud, (flag == "0").then_some(false));
            assert_eq!(row.chargeback(TimeDelta::days(7)), None);
            assert_eq!(row.transaction.channel, None);
        }
    }

    #[test]
    fn bad_cells_say_what_is_wrong() {
        let cases: [(&[&str], &str); 7] = [
            (
                &["", "1522540930", "1", "2", "3", "0", ""],
                "missing `transaction_id`",
            ),
            (
                &["1", "1522540930", "", "2", "3", "0", ""],
                "missing `user_id`",
            ),
            (
                &["1", "1522540930", "1", "2", "abc", "0", ""],
                "`amount` is not a number: \"abc\"",
            ),
            (
                &["1", "1522540930", "1", "2", "-5", "0", ""],
                "finite number ≥ 0",
            ),
            (
                &["1", "soon", "1", "2", "3", "0", ""],
                "`timestamp` is not a timestamp",
            ),
            (
                &["1", "1522540930", "1", "2", "3", "maybe", ""],
                "`label` is not a label",
            ),
            (
                &["1", "1522540930", "1", "2", "3", "0", "fax"],
                "`channel` is not a channel",
            ),
        ];
        for (cells, message) in cases {
            let err = parse_row(&record(cells), &columns()).unwrap_err();
            assert!(err.to_string().contains(message), "{err} vs {message}");
        }
        // A short row (fewer cells than the header) misses its fields.
        let err = parse_row(&record(&["1", "1522540930"]), &columns()).unwrap_err();
        assert_eq!(err, RowError::Missing("amount"));
    }
}
