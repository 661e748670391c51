//! Op-graph compiler and the bridge to the vendor engine.
pub mod compile;
