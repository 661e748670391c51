//! Enumeration, agg and disagg sweeps, Pareto and picking.
pub mod agg;
pub mod control;
pub mod disagg;
pub mod enumerate;
pub mod experiment;
pub mod front;
pub mod grid;
pub mod pick;
pub mod pricer;
