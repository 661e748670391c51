//! The latency questions a sweep asks about one compiled worker. The real
//! implementation prices them with the vendor engine; tests use closed forms.

/// A step the engine could not price (missing data for a shape, ...).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct PriceError(pub String);

/// Step latencies (ms) of one worker at a fixed (isl, osl, prefix).
pub trait Pricer: Send + Sync {
    /// One mixed step: `ctx` prefill tokens plus `gen` decode requests.
    fn mixed_step(&self, ctx: u32, gen: u32) -> Result<f64, PriceError>;
    /// One generation-only step at batch `batch`.
    fn genonly_step(&self, batch: u32) -> Result<f64, PriceError>;
    /// The whole prefill of `batch` requests (uncorrected).
    fn static_ctx(&self, batch: u32) -> Result<f64, PriceError>;
    /// The whole decode of `batch` requests over osl − 1 tokens (uncorrected).
    fn static_gen(&self, batch: u32) -> Result<f64, PriceError>;

    /// Per-op costs (name, ms, source) of a mixed step and of a gen-only step, for display.
    fn agg_ops(&self, _ctx: u32, _gen: u32, _genonly_batch: u32) -> Option<(OpList, OpList)> {
        None
    }
    /// Per-op costs of a static prefill (`prefill`) or decode pass, uncorrected.
    fn static_ops(&self, _batch: u32, _prefill: bool) -> Option<OpList> {
        None
    }
    /// SOL_FULL of one prefill pass (`prefill`) or one decode step at `batch`:
    /// (name, sol ms, compute-bound ms, memory-bound ms) per op.
    fn sol_full(&self, _batch: u32, _prefill: bool) -> Option<SolList> {
        None
    }
}

/// Per-op speed-of-light costs: (name, sol ms, math ms, memory ms).
pub type SolList = Vec<(String, f64, f64, f64)>;

/// Per-op costs: (name, ms, data source).
pub type OpList = Vec<(String, f64, String)>;
