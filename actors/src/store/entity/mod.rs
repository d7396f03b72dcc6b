//! sea-orm entities, one module per table. Column names mirror the
//! migrations in the `migration` crate exactly.

pub mod audit_entry;
pub mod dead_letter;
pub mod drift_report;
pub mod fraud_alert;
pub mod label;
pub mod model;
pub mod raw_event;
pub mod score;
pub mod transaction_feature;

#[cfg(test)]
mod tests;
