//! The `vigil` binary's library: configuration, CLI, HTTP API and wiring,
//! exposed so black-box tests can drive them.

pub mod app;
pub mod cli;
pub mod config;
pub mod evaluate;
pub mod http;
pub mod logging;
pub mod replay;
pub mod world;
