//! Replaying external labelled transactions: column mapping, row parsing,
//! stable ids, and the order in which rows and their delayed labels are
//! published. The file reading and the publishing live in the binary.

mod batches;
mod ids;
mod mapping;
mod row;
mod time;

pub use batches::{Batch, batches, in_time_order, sort_by_time};
pub use ids::{NAMESPACE, label_uuid, transaction_uuid};
pub use mapping::{ColumnMapping, Columns, Field, MappingError};
pub use row::{ReplayRow, RowError, parse_row};
pub use time::parse_timestamp;
