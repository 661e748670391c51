//! The latency questions a sweep asks about one compiled worker. The real
//! implementation prices them with the vendor engine; tests use closed forms.

/// A step the engine could not price (missing data for a shape, ...).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct PriceError(pub String);

/// Step latencies (ms) of one worker at a fixed (isl, osl, prefix).
pub trait Pricer: Sync {
    /// One mixed step: `ctx` prefill tokens plus `gen` decode requests.
    fn mixed_step(&self, ctx: u32, gen: u32) -> Result<f64, PriceError>;
    /// One generation-only step at batch `batch`.
    fn genonly_step(&self, batch: u32) -> Result<f64, PriceError>;
    /// The whole prefill of `batch` requests (uncorrected).
    fn static_ctx(&self, batch: u32) -> Result<f64, PriceError>;
    /// The whole decode of `batch` requests over osl − 1 tokens (uncorrected).
    fn static_gen(&self, batch: u32) -> Result<f64, PriceError>;
}
