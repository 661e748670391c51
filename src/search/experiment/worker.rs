//! What the search asks of an engine: a [`WorkerFactory`] builds a
//! [`BuiltWorker`] (step pricer + memory model) for one layout of one role.

use super::super::pricer::Pricer;
use crate::domain::Parallel;
use crate::engine::memory::WorkerMemory;
use crate::exp::Task;

/// A compiled worker ready to price: its step oracle and memory model.
pub struct BuiltWorker {
    pub pricer: Box<dyn Pricer>,
    pub memory: WorkerMemory,
    pub num_layers: u32,
}

/// Which pool a layout is built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleKind {
    Agg,
    Prefill,
    Decode,
}

impl RoleKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            RoleKind::Agg => "agg",
            RoleKind::Prefill => "prefill",
            RoleKind::Decode => "decode",
        }
    }
}

/// Builds workers for layouts of a task's roles; the reason string explains a refusal.
pub trait WorkerFactory: Sync {
    fn build(&self, task: &Task, role: RoleKind, p: Parallel) -> Result<BuiltWorker, String>;
    /// Whether the role's model is a mixture of experts (drives enumeration).
    fn is_moe(&self, task: &Task, role: RoleKind) -> bool;
}
