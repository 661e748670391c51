//! `y`: the selected candidate as a pinned exp YAML. The file is built by the
//! library ([`crate::deploy`]); the explorer only asks for it and writes it.
//! The label helpers stay reachable here for the panes.

pub use crate::deploy::{parse_parallel, short_parallel};
