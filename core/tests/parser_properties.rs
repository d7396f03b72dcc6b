//! Property tests of the two parsers that read untrusted input: the JSON
//! transaction (HTTP, Kafka) and a row of a replayed CSV file. Whatever the
//! bytes, they return a value or a reason — never panic — and whatever they
//! accept is a transaction the rest of Vigil can process.

use chrono::{DateTime, TimeDelta, Utc};
use csv::StringRecord;
use proptest::prelude::*;
use uuid::Uuid;
use vigil_core::replay::{ColumnMapping, Field, parse_row, parse_timestamp, transaction_uuid};
use vigil_core::transaction::MAX_TEXT_LEN;
use vigil_core::{Channel, Transaction};

/// Cell text as files and clients write it, and as they should not: digits,
/// signs, separators, words, unicode, whitespace.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9.eE+-]{0,12}",
        "[ -~]{0,20}",
        "\\PC{0,8}",
        Just(String::new()),
        Just("NaN".to_owned()),
        Just("inf".to_owned()),
        Just("-0".to_owned()),
        Just("262143-12-31".to_owned()),
        Just("-262143-01-01T00:00:00Z".to_owned()),
        Just("99999999999999999999".to_owned()),
        // chrono's last second as Unix seconds, and its first.
        Just("8210266876799".to_owned()),
        Just("-8210266876799".to_owned()),
        "[a-z]{129,140}",
    ]
}

/// The columns of the generated CSV rows, each under its field's name.
const HEADER: [&str; 8] = [
    "transaction_id",
    "user_id",
    "merchant_id",
    "amount",
    "timestamp",
    "label",
    "channel",
    "country",
];

/// A row of [`HEADER`] whose cells are each either valid or odd, so that
/// rows that parse are as common as rows that do not; and how many of its
/// cells the record keeps (short rows happen).
fn csv_row() -> impl Strategy<Value = (Vec<String>, usize)> {
    let id = || prop_oneof![3 => "[a-zA-Z0-9_]{1,20}", 1 => cell()];
    let amount = prop_oneof![3 => (0.0..1e6f64).prop_map(|a| format!("{a:.2}")), 1 => cell()];
    let time = prop_oneof![
        2 => timestamp().prop_map(|t| t.to_rfc3339()),
        2 => timestamp().prop_map(|t| t.timestamp().to_string()),
        1 => cell(),
    ];
    let label = prop_oneof![
        Just("1".to_owned()),
        Just("0".to_owned()),
        Just(String::new()),
        cell()
    ];
    let channel = prop_oneof![
        3 => proptest::sample::select(vec!["online", "POS", "atm", ""]).prop_map(str::to_owned),
        1 => cell(),
    ];
    let cells = (id(), id(), id(), amount, time, label, channel, cell())
        .prop_map(|(a, b, c, d, e, f, g, h)| vec![a, b, c, d, e, f, g, h]);
    (
        cells,
        prop_oneof![4 => Just(HEADER.len()), 1 => 0..HEADER.len()],
    )
}

/// A timestamp anywhere in the range a transaction may carry.
fn timestamp() -> impl Strategy<Value = DateTime<Utc>> {
    let first = DateTime::parse_from_rfc3339("1970-01-01T00:00:00Z").unwrap();
    let last = DateTime::parse_from_rfc3339("9999-12-31T23:59:59.999Z").unwrap();
    (first.timestamp_millis()..=last.timestamp_millis())
        .prop_map(|ms| DateTime::from_timestamp_millis(ms).unwrap())
}

fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[a-zA-Z0-9_-]{{1,{max}}}")).unwrap()
}

fn valid_transaction() -> impl Strategy<Value = Transaction> {
    (
        any::<u128>(),
        text(MAX_TEXT_LEN),
        text(MAX_TEXT_LEN),
        proptest::option::of(text(16)),
        0.0..1e9f64,
        proptest::option::of(proptest::sample::select(Channel::ALL.to_vec())),
        timestamp(),
    )
        .prop_map(
            |(id, user, merchant, country, amount, channel, timestamp)| Transaction {
                country,
                channel,
                ..Transaction::new(Uuid::from_u128(id), user, merchant, amount, timestamp)
            },
        )
}

/// Everything `validate` promises to the features, the model and the store.
fn assert_usable(t: &Transaction) {
    assert!(t.amount.is_finite() && t.amount >= 0.0, "{t:?}");
    for id in [&t.user_id, &t.merchant_id] {
        assert!(!id.is_empty() && id.chars().count() <= MAX_TEXT_LEN && !id.contains('\0'));
    }
    // Labels arrive up to years later: the arithmetic must not overflow.
    let _ = t.timestamp + TimeDelta::days(3650);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        // A failure prints its minimal case; nothing is written to the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes_never_panic_the_transaction_parser(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(t) = serde_json::from_slice::<Transaction>(&bytes)
            && t.validate().is_ok()
        {
            assert_usable(&t);
        }
    }

    #[test]
    fn json_objects_with_odd_values_are_accepted_only_when_usable(
        amount in cell(), user in cell(), time in cell(), channel in cell(),
    ) {
        // Numbers go in as JSON numbers when they parse as one, else as strings.
        let amount = serde_json::from_str::<serde_json::Value>(&amount)
            .unwrap_or(serde_json::Value::String(amount));
        let body = serde_json::json!({
            "transaction_id": Uuid::nil(),
            "user_id": user,
            "merchant_id": "m1",
            "amount": amount,
            "timestamp": time,
            "channel": channel,
        });
        if let Ok(t) = serde_json::from_value::<Transaction>(body)
            && t.validate().is_ok()
        {
            assert_usable(&t);
        }
    }

    #[test]
    fn valid_transactions_survive_a_json_round_trip(t in valid_transaction()) {
        prop_assert_eq!(t.validate(), Ok(()));
        let bytes = serde_json::to_vec(&t).unwrap();
        let back: Transaction = serde_json::from_slice(&bytes).unwrap();
        prop_assert_eq!(back, t);
    }

    #[test]
    fn amounts_that_are_not_finite_and_non_negative_are_rejected(
        amount in prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY), -1e12..-1e-9f64],
        t in valid_transaction(),
    ) {
        let t = Transaction { amount, ..t };
        prop_assert!(t.validate().is_err());
    }

    #[test]
    fn arbitrary_csv_rows_parse_or_give_a_reason((cells, len) in csv_row()) {
        let mapping = ColumnMapping::parse("").unwrap();
        let columns = mapping.resolve(HEADER).unwrap();
        let record = StringRecord::from(cells[..len].to_vec());
        match parse_row(&record, &columns) {
            Ok(row) => {
                assert_usable(&row.transaction);
                prop_assert_eq!(row.original_id.as_str(), cells[0].trim());
                prop_assert_eq!(row.transaction.transaction_id, transaction_uuid(&row.original_id));
                let _ = row.chargeback(TimeDelta::days(365));
            }
            Err(reason) => prop_assert!(!reason.to_string().is_empty()),
        }
    }

    #[test]
    fn timestamps_read_back_as_written(t in timestamp()) {
        prop_assert_eq!(parse_timestamp(&t.to_rfc3339()), Some(t));
        let seconds = format!("{}.{:03}", t.timestamp(), t.timestamp_subsec_millis());
        prop_assert_eq!(parse_timestamp(&seconds), Some(t));
        prop_assert_eq!(parse_timestamp(&t.format("%Y-%m-%d %H:%M:%S%.3f").to_string()), Some(t));
    }

    #[test]
    fn arbitrary_timestamp_text_never_panics(text in cell()) {
        // Far dates may parse; `validate` is what bounds them.
        let _ = parse_timestamp(&text);
    }
}

#[test]
fn the_mapping_names_every_field_it_resolves() {
    // Guards the header used above: every field with a cell parser is in
    // it under its own name, so the properties exercise them all.
    let columns = ColumnMapping::parse("").unwrap().resolve(HEADER).unwrap();
    for field in [
        Field::TransactionId,
        Field::Amount,
        Field::Timestamp,
        Field::Label,
        Field::Channel,
    ] {
        assert!(columns.of(field).is_some(), "{field:?}");
    }
}
