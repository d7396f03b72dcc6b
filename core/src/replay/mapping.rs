//! Which column of an external file holds which transaction field.
//!
//! External data sets name their columns their own way (`TX_ID`,
//! `CUSTOMER_ID`, …). A mapping says, per Vigil field, which header to read;
//! a field that is not mapped is looked up under its own name, so a file
//! whose header already uses Vigil's names needs no mapping at all.

use std::collections::BTreeMap;

/// A field of a replayed row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    TransactionId,
    UserId,
    MerchantId,
    Amount,
    Timestamp,
    Label,
    MerchantCategory,
    Currency,
    Country,
    DeviceId,
    Channel,
}

impl Field {
    /// Every field, required ones first.
    pub const ALL: [Field; 11] = [
        Field::TransactionId,
        Field::UserId,
        Field::MerchantId,
        Field::Amount,
        Field::Timestamp,
        Field::Label,
        Field::MerchantCategory,
        Field::Currency,
        Field::Country,
        Field::DeviceId,
        Field::Channel,
    ];

    /// Vigil's name of the field (also the default column name).
    pub fn name(self) -> &'static str {
        match self {
            Field::TransactionId => "transaction_id",
            Field::UserId => "user_id",
            Field::MerchantId => "merchant_id",
            Field::Amount => "amount",
            Field::Timestamp => "timestamp",
            Field::Label => "label",
            Field::MerchantCategory => "merchant_category",
            Field::Currency => "currency",
            Field::Country => "country",
            Field::DeviceId => "device_id",
            Field::Channel => "channel",
        }
    }

    /// Whether a file without this column cannot be replayed. The label is
    /// optional: an unlabelled file still builds history and features.
    pub fn required(self) -> bool {
        matches!(
            self,
            Field::TransactionId
                | Field::UserId
                | Field::MerchantId
                | Field::Amount
                | Field::Timestamp
        )
    }

    fn parse(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// Why a mapping or a header is unusable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MappingError {
    #[error("unknown field `{0}` in the column mapping (known: {known})", known = known_fields())]
    UnknownField(String),
    #[error("mapping entry `{0}` is not of the form field=COLUMN")]
    Malformed(String),
    #[error("field `{0}` is mapped twice")]
    Duplicate(&'static str),
    #[error("required field `{field}` has no column `{column}` in the header")]
    MissingColumn { field: &'static str, column: String },
}

fn known_fields() -> String {
    Field::ALL.map(Field::name).join(", ")
}

/// Field → column name, for the fields that are not read under their own
/// name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColumnMapping {
    columns: BTreeMap<Field, String>,
}

impl ColumnMapping {
    /// Parses `field=COLUMN,field=COLUMN` (the `--map` flag).
    pub fn parse(spec: &str) -> Result<ColumnMapping, MappingError> {
        let mut mapping = ColumnMapping::default();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (field, column) = entry
                .split_once('=')
                .map(|(f, c)| (f.trim(), c.trim()))
                .filter(|(f, c)| !f.is_empty() && !c.is_empty())
                .ok_or_else(|| MappingError::Malformed(entry.to_owned()))?;
            mapping.set(field, column)?;
        }
        Ok(mapping)
    }

    /// Builds a mapping from `(field, column)` pairs, e.g. the entries of
    /// a TOML mapping file.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<ColumnMapping, MappingError> {
        let mut mapping = ColumnMapping::default();
        for (field, column) in pairs {
            mapping.set(field, column)?;
        }
        Ok(mapping)
    }

    fn set(&mut self, field: &str, column: &str) -> Result<(), MappingError> {
        let field = Field::parse(field).ok_or_else(|| MappingError::UnknownField(field.into()))?;
        if self.columns.insert(field, column.to_owned()).is_some() {
            return Err(MappingError::Duplicate(field.name()));
        }
        Ok(())
    }

    /// The column a field is read from.
    pub fn column(&self, field: Field) -> &str {
        self.columns
            .get(&field)
            .map_or(field.name(), String::as_str)
    }

    /// Finds every field's column in `header`. Required fields must be
    /// there; optional ones are read when present.
    pub fn resolve<'a>(
        &self,
        header: impl IntoIterator<Item = &'a str> + Clone,
    ) -> Result<Columns, MappingError> {
        let mut index = [None; Field::ALL.len()];
        for (slot, field) in index.iter_mut().zip(Field::ALL) {
            let column = self.column(field);
            *slot = header.clone().into_iter().position(|h| h.trim() == column);
            if slot.is_none() && field.required() {
                return Err(MappingError::MissingColumn {
                    field: field.name(),
                    column: column.to_owned(),
                });
            }
        }
        Ok(Columns { index })
    }
}

/// Where each field is in a file's rows (resolved against its header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns {
    index: [Option<usize>; Field::ALL.len()],
}

impl Columns {
    /// The position of `field` in a row, if the file has it.
    pub fn of(&self, field: Field) -> Option<usize> {
        let slot = Field::ALL.iter().position(|f| *f == field)?;
        self.index[slot]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HANDBOOK: &str = "transaction_id=TX_ID,user_id=CUSTOMER_ID,merchant_id=TERMINAL_ID,\
                            amount=TX_AMOUNT,timestamp=TX_DATETIME,label=TX_FRAUD";

    #[test]
    fn flag_and_toml_give_the_same_mapping() {
        let flag = ColumnMapping::parse(HANDBOOK).unwrap();
        let file = ColumnMapping::from_pairs([
            ("label", "TX_FRAUD"),
            ("transaction_id", "TX_ID"),
            ("user_id", "CUSTOMER_ID"),
            ("merchant_id", "TERMINAL_ID"),
            ("amount", "TX_AMOUNT"),
            ("timestamp", "TX_DATETIME"),
        ])
        .unwrap();
        assert_eq!(flag, file);
        assert_eq!(flag.column(Field::UserId), "CUSTOMER_ID");
        assert_eq!(flag.column(Field::Country), "country");
    }

    #[test]
    fn columns_are_found_in_the_header() {
        let mapping = ColumnMapping::parse(HANDBOOK).unwrap();
        let header = [
            "",
            "TX_DATETIME",
            "TX_ID",
            "CUSTOMER_ID",
            "TERMINAL_ID",
            "TX_AMOUNT",
            "TX_FRAUD",
        ];
        let columns = mapping.resolve(header).unwrap();
        assert_eq!(columns.of(Field::TransactionId), Some(2));
        assert_eq!(columns.of(Field::Timestamp), Some(1));
        assert_eq!(columns.of(Field::Label), Some(6));
        assert_eq!(columns.of(Field::Channel), None);
    }

    #[test]
    fn bad_mappings_and_headers_are_named() {
        assert_eq!(
            ColumnMapping::parse("user=CUSTOMER_ID"),
            Err(MappingError::UnknownField("user".into()))
        );
        assert_eq!(
            ColumnMapping::parse("user_id"),
            Err(MappingError::Malformed("user_id".into()))
        );
        assert_eq!(
            ColumnMapping::parse("user_id=A,user_id=B"),
            Err(MappingError::Duplicate("user_id"))
        );
        let err = ColumnMapping::default()
            .resolve(["transaction_id", "user_id", "amount", "timestamp"])
            .unwrap_err();
        assert_eq!(
            err,
            MappingError::MissingColumn {
                field: "merchant_id",
                column: "merchant_id".into()
            }
        );
    }
}
