//! Stage 1 of loading: node tree → typed raw experiments, with a position for
//! every key and value. Checks syntax-level facts only (types, ranges, known
//! keys, known enum names, keys that cannot take effect for the serving mode);
//! everything that needs defaults or the catalog happens in `resolve/`.
//!
//! - `raw.rs`: the typed raw experiment ([`RawExp`] and its blocks);
//! - `keys.rs`: the keys each section accepts, and the value ranges;
//! - `reader.rs`: `Cx`, the reader of one scalar, list or mapping value;
//! - `file.rs`: the whole file — experiments, `exps` and run order;
//! - `experiment.rs`: one experiment's top-level keys, `config:`, profiles;
//! - `blocks.rs`: the worker, replica and tuning blocks under `config:`.

mod blocks;
mod experiment;
mod file;
mod keys;
mod raw;
mod reader;

pub use file::parse_file;
pub use keys::{DP, LIST_KEYS, MAX_GPUS, MOE_EP, MOE_TP, NUM_GPU, TP};
pub use raw::{Mode, RawExp, RawWorker, Sp};
