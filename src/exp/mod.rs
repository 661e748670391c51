//! The exp YAML file: schema, defaults, validation, resolution into [`Task`]s.
pub mod catalog;
pub mod error;
pub mod task;

pub use catalog::{Catalog, Family, InferredQuant, ModelFacts, SupportedQuants, SystemFacts};
pub use error::{ExpError, LoadError};
pub use task::{ReplicaConfig, Role, Roles, SearchSpace, Task, Tuning};

/// A loaded file: the experiments to run, in order, and non-fatal warnings.
#[derive(Clone, Debug)]
pub struct ExpFile {
    pub tasks: Vec<Task>,
    pub warnings: Vec<ExpError>,
}
