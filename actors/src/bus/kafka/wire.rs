//! The messages' wire format: one JSON object per Kafka message, the same
//! JSON as `POST /score` takes. Decoding says exactly what is wrong, since
//! the reason is stored with the dead letter.

use vigil_core::{Label, Transaction};

/// Parses and validates a transaction.
pub fn decode_transaction(bytes: &[u8]) -> Result<Transaction, String> {
    let transaction: Transaction =
        serde_json::from_slice(bytes).map_err(|e| format!("invalid transaction JSON: {e}"))?;
    transaction
        .validate()
        .map_err(|e| format!("invalid transaction: {e}"))?;
    Ok(transaction)
}

/// Parses a label.
pub fn decode_label(bytes: &[u8]) -> Result<Label, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("invalid label JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_messages_say_what_is_wrong() {
        let not_json = decode_transaction(b"{not json").unwrap_err();
        assert!(
            not_json.starts_with("invalid transaction JSON"),
            "{not_json}"
        );
        let missing = decode_transaction(br#"{"user_id": "u1"}"#).unwrap_err();
        assert!(missing.contains("missing field"), "{missing}");
        let negative = decode_transaction(
            br#"{"transaction_id": "8d6f2b4c-9a43-4b7e-8f5e-2f7f4f7f0a11", "user_id": "u1",
                "merchant_id": "m1", "amount": -5, "timestamp": "2026-01-01T00:00:00Z"}"#,
        )
        .unwrap_err();
        assert!(negative.starts_with("invalid transaction:"), "{negative}");
        assert!(decode_label(b"[]").is_err());
    }

    #[test]
    fn a_transaction_round_trips() {
        let json = br#"{"transaction_id": "8d6f2b4c-9a43-4b7e-8f5e-2f7f4f7f0a11", "user_id": "u1",
            "merchant_id": "m1", "amount": 12.5, "timestamp": "2026-01-01T00:00:00Z"}"#;
        let t = decode_transaction(json).unwrap();
        assert_eq!(t.user_id, "u1");
        assert_eq!(
            decode_transaction(&serde_json::to_vec(&t).unwrap()).unwrap(),
            t
        );
    }
}
