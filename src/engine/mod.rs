//! Op-graph compiler and the bridge to the vendor engine.
pub mod bridge;
pub mod cache;
pub mod compile;
pub mod factory;
pub mod memory;
pub mod step_store;
