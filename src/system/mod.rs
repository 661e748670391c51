//! GPU systems and the measured database: where the database lives
//! ([`locate`]), how to fetch and describe it ([`fetch`]), the hardware specs
//! ([`spec`]), backend version slots ([`versions`]) and the look-ups the rest
//! of xpyd asks of it ([`Database`]).

pub mod database;
pub mod fetch;
pub mod lanes;
pub mod large_ep;
pub mod locate;
mod meta_cache;
mod quants;
pub mod spec;
pub mod versions;

pub use database::QuantTable;
pub use database::{Database, MoeShape};
pub use fetch::{fetch, status, StatusReport, SystemStatus};
pub use locate::{locate, DbKind, DbLocation, BUILTIN_BANNER};
pub use quants::probe_engine;
pub use spec::SystemSpec;
pub use versions::Slots;

use std::path::PathBuf;

/// The aiconfigurator-core release whose database layout xpyd reads.
pub const AIC_CORE_VERSION: &str = "0.12.0";

/// Everything that can go wrong finding, reading or fetching the database.
/// Every variant names the path or command involved.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{source_label} points at {path}, which is not a directory")]
    NotADirectory { source_label: String, path: PathBuf },
    #[error("systems folder {path} (from {source_label}) is incomplete: {what}")]
    Incomplete {
        source_label: String,
        path: PathBuf,
        what: String,
    },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot parse {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("unknown system '{name}'; known systems: {}", known.join(", "))]
    UnknownSystem { name: String, known: Vec<String> },
    #[error("{0}")]
    Fetch(String),
    #[error("engine could not open {system}/{backend}/{version} under {path}: {message}")]
    Engine {
        path: PathBuf,
        system: String,
        backend: String,
        version: String,
        message: String,
    },
}

impl DbError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DbError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Canonical system name: `gb200_sxm` is accepted as an alias of `gb200`.
pub fn canonical_system_name(name: &str) -> &str {
    match name {
        "gb200_sxm" => "gb200",
        other => other,
    }
}
