//! Op-graph compiler and the bridge to the vendor engine.
pub mod bridge;
pub mod compile;
pub mod factory;
pub mod memory;
