//! xpyd: search LLM serving configurations (aggregated and disaggregated xPyD)
//! over the vendor engine's measured latency tables.
//!
//! Layers: [`exp`] reads and resolves the exp YAML; [`model`] and [`system`]
//! know architectures and GPUs; [`engine`] compiles op graphs and prices them
//! with the vendor engine; [`search`] enumerates, sweeps and picks; [`report`]
//! renders; [`deploy`] turns a row into a pinned exp YAML; [`run`] is the
//! entry point front ends call, [`bench`] times it;
//! [`tui`] is the explorer front end, which only displays reports.

// User input and the filesystem reach most of this crate: no panicking shortcuts outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod bench;
pub mod deploy;
pub mod domain;
pub mod edit;
pub mod engine;
pub mod exp;
pub mod model;
pub mod numeric;
pub mod report;
pub mod run;
pub mod search;
pub mod sweep;
pub mod system;
pub mod tui;
pub mod tune;
pub mod verbs;
