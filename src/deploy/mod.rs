//! From a searched row to something that can be deployed or rerun. The first
//! artefact is the pinned exp YAML: an experiment whose search space holds
//! exactly the selected row, so `xpyd run` (or the reference) finds it again.
//!
//! Library code: front ends (the TUI's `y`) call it; it never touches a
//! terminal and never searches.

pub mod pin;

pub use pin::{file_name, parse_parallel, pinned_exp_yaml, short_parallel};
