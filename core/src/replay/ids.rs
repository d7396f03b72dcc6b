//! Stable UUIDs for external identifiers.
//!
//! Vigil keys transactions by UUID; external files use whatever they like
//! (`TX_ID` = `1234`). A name-based UUID (v5) in a fixed Vigil namespace
//! maps the same external id to the same UUID on every replay, so a file
//! replayed twice is stored once (every sink is idempotent on the id).

use uuid::Uuid;

/// Vigil's namespace for name-based UUIDs (itself a v5 UUID of
/// `vigil.replay` in the DNS namespace, fixed forever).
pub const NAMESPACE: Uuid = Uuid::from_u128(0xfa0f797a_1ce3_5e1c_a071_98ece5404a6c);

/// The transaction UUID of an external id: the id itself when it already
/// is a UUID, otherwise its v5 UUID in [`NAMESPACE`].
pub fn transaction_uuid(original: &str) -> Uuid {
    Uuid::parse_str(original).unwrap_or_else(|_| Uuid::new_v5(&NAMESPACE, original.as_bytes()))
}

/// The id of the replayed label of a transaction: stable too, so that a
/// second replay does not store the label twice.
pub fn label_uuid(transaction: Uuid) -> Uuid {
    Uuid::new_v5(&transaction, b"replay-label")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        assert_eq!(transaction_uuid("1234"), transaction_uuid("1234"));
        assert_ne!(transaction_uuid("1234"), transaction_uuid("1235"));
        assert_eq!(transaction_uuid("1234").get_version_num(), 5);
        // Pinned (Python: uuid5(uuid5(NAMESPACE_DNS, "vigil.replay"), "0")):
        // changing the namespace would silently duplicate every previously
        // replayed transaction.
        assert_eq!(
            NAMESPACE,
            Uuid::new_v5(&Uuid::NAMESPACE_DNS, b"vigil.replay")
        );
        assert_eq!(
            transaction_uuid("0").to_string(),
            "74e68ee1-9966-513b-886e-2fdf2297a94f"
        );
        let native = "7f8a3c1e-0000-4000-8000-000000000001";
        assert_eq!(transaction_uuid(native).to_string(), native);
        assert_ne!(label_uuid(transaction_uuid("1")), transaction_uuid("1"));
    }
}
