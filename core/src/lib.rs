//! vigil-core: the fraud-detection domain with no I/O and no actors.
//!
//! Everything here is pure and deterministic so it can be tested and
//! benchmarked without a runtime.

pub mod drift;
pub mod features;
pub mod model;
pub mod replay;
pub mod synth;
pub mod transaction;

pub use transaction::{Channel, Label, Transaction};
