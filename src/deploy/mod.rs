//! From a searched row to something that can be deployed or rerun.
//!
//! - [`pin`]: the pinned exp YAML, an experiment whose search space holds
//!   exactly the selected row, so `xpyd run` (or the reference) finds it again;
//! - bundles ([`write_bundle`]): the backend engine configs (TRT-LLM YAML,
//!   vLLM/SGLang flags), per-node launch scripts, a Dynamo Kubernetes
//!   manifest, an aiperf sweep and the pin, computed by the reference
//!   generator's rules ([`trtllm`], [`vllm`], [`sglang`], [`rules`]) from a
//!   [`plan::Plan`] of the row.
//!
//! Library code: front ends (the CLI's `--save-dir`, the TUI's `d` and `y`)
//! call it; it never touches a terminal and never searches.

pub mod bundle;
pub mod hardware;
pub mod k8s;
pub mod pin;
pub mod plan;
pub mod rules;
pub mod scripts;
pub mod settings;
pub mod sglang;
pub mod trtllm;
pub mod vllm;
pub mod worker;

pub use bundle::{bundle_files, free_folder, save_top_bundles, write_bundle, DeployError};
pub use pin::{file_name, parse_parallel, pinned_exp_yaml, short_parallel};
pub use settings::{keys_help, DeployOptions};
