//! Tuning from the explorer: knobs over one experiment's most-tuned fields
//! and the values a sensitivity sweep visits around the current one. Writes
//! go through [`crate::edit`] like `xpyd set`; sweeps through [`crate::sweep`].

pub mod knob;
pub mod sizing;

pub use knob::{knobs, sweep_values, Knob, KnobKind, KnobValue};
