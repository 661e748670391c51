//! Vocabulary shared by every layer: backends, database modes, quantization
//! modes and parallel layouts. Names match the strings the vendor engine and
//! the reference's CSVs use, so they round-trip without translation tables.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Declares a string-named enum with `name()`, `parse()` and `ALL`.
macro_rules! named_enum {
    ($(#[$m:meta])* $vis:vis enum $name:ident { $($var:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        $vis enum $name { $(#[serde(rename = $s)] $var),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$var),+];
            pub fn name(self) -> &'static str { match self { $($name::$var => $s),+ } }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some($name::$var),)+ _ => None }
            }
            pub fn names() -> Vec<&'static str> { Self::ALL.iter().map(|v| v.name()).collect() }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.name()) }
        }
    };
}

named_enum! {
    /// Serving backend (inference framework).
    pub enum Backend { Trtllm => "trtllm", Vllm => "vllm", Sglang => "sglang" }
}

named_enum! {
    /// Aggregated (one pool) or disaggregated (prefill + decode pools).
    pub enum ServingMode { Agg => "agg", Disagg => "disagg" }
}

named_enum! {
    /// Where per-op latencies come from. `SOL_FULL` is a per-config view, not an experiment mode.
    pub enum DbMode { Silicon => "SILICON", Hybrid => "HYBRID", Empirical => "EMPIRICAL", Sol => "SOL" }
}

named_enum! {
    pub enum GemmQuant {
        Bfloat16 => "bfloat16", Int8Wo => "int8_wo", Int4Wo => "int4_wo", Fp8 => "fp8",
        Fp8Static => "fp8_static", Sq => "sq", Fp8Block => "fp8_block", Fp8Ootb => "fp8_ootb",
        Nvfp4 => "nvfp4", Nvfp4Wo => "nvfp4_wo", W4a16Nvfp4 => "w4a16_nvfp4",
    }
}

named_enum! {
    pub enum MoeQuant {
        Bfloat16 => "bfloat16", Fp8 => "fp8", Int4Wo => "int4_wo", Fp8Block => "fp8_block",
        W4afp8 => "w4afp8", Nvfp4 => "nvfp4", Nvfp4Wo => "nvfp4_wo", W4a16Mxfp4 => "w4a16_mxfp4",
        W4a8Mxfp4Mxfp8 => "w4a8_mxfp4_mxfp8", W4a8Mxfp4Mxfp8Trtllm => "w4a8_mxfp4_mxfp8_trtllm",
        W4a16Mxfp4Cutlass => "w4a16_mxfp4_cutlass", W4a16Nvfp4 => "w4a16_nvfp4",
    }
}

named_enum! {
    pub enum KvQuant { Bfloat16 => "bfloat16", Int8 => "int8", Fp8 => "fp8" }
}

named_enum! {
    pub enum FmhaQuant { Bfloat16 => "bfloat16", Float16 => "float16", Fp8 => "fp8", Fp8Block => "fp8_block" }
}

named_enum! {
    pub enum CommQuant { Half => "half", Int8 => "int8", Fp8 => "fp8" }
}

impl GemmQuant {
    /// Bytes per weight element (scales included for the fp4 formats).
    pub fn bytes(self) -> f64 {
        match self {
            GemmQuant::Bfloat16 => 2.0,
            GemmQuant::Int4Wo => 0.5,
            GemmQuant::Nvfp4 | GemmQuant::Nvfp4Wo | GemmQuant::W4a16Nvfp4 => 9.0 / 16.0,
            _ => 1.0,
        }
    }
}

impl MoeQuant {
    pub fn bytes(self) -> f64 {
        match self {
            MoeQuant::Bfloat16 => 2.0,
            MoeQuant::Fp8 | MoeQuant::Fp8Block => 1.0,
            MoeQuant::Nvfp4 | MoeQuant::Nvfp4Wo | MoeQuant::W4a16Nvfp4 => 9.0 / 16.0,
            _ => 0.5,
        }
    }
}

impl KvQuant {
    pub fn bytes(self) -> f64 {
        match self {
            KvQuant::Bfloat16 => 2.0,
            _ => 1.0,
        }
    }
}

impl FmhaQuant {
    pub fn bytes(self) -> f64 {
        match self {
            FmhaQuant::Bfloat16 | FmhaQuant::Float16 => 2.0,
            _ => 1.0,
        }
    }
}

impl CommQuant {
    pub fn bytes(self) -> f64 {
        match self {
            CommQuant::Half => 2.0,
            _ => 1.0,
        }
    }
}

/// The five per-layer-kind quantization choices of one worker role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Quant {
    pub gemm: GemmQuant,
    pub moe: MoeQuant,
    pub kvcache: KvQuant,
    pub fmha: FmhaQuant,
    pub comm: CommQuant,
}

impl Default for Quant {
    fn default() -> Self {
        Quant {
            gemm: GemmQuant::Bfloat16,
            moe: MoeQuant::Bfloat16,
            kvcache: KvQuant::Bfloat16,
            fmha: FmhaQuant::Bfloat16,
            comm: CommQuant::Half,
        }
    }
}

/// One parallel layout of a worker. `dp` is attention data parallelism inside
/// the worker; GPUs per worker = tp·pp·dp·cp.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Parallel {
    pub tp: u32,
    pub pp: u32,
    pub dp: u32,
    pub moe_tp: u32,
    pub moe_ep: u32,
    pub cp: u32,
}

impl Parallel {
    pub fn gpus(&self) -> u32 {
        self.tp * self.pp * self.dp * self.cp
    }
    pub fn dense(tp: u32, pp: u32) -> Self {
        Parallel {
            tp,
            pp,
            dp: 1,
            moe_tp: 1,
            moe_ep: 1,
            cp: 1,
        }
    }
}

impl fmt::Display for Parallel {
    /// The reference's `parallel` column: `tp4pp1dp1etp1ep1`, with `cpN` only when cp > 1.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tp{}pp{}dp{}etp{}ep{}",
            self.tp, self.pp, self.dp, self.moe_tp, self.moe_ep
        )?;
        if self.cp > 1 {
            write!(f, "cp{}", self.cp)?;
        }
        Ok(())
    }
}

impl DbMode {
    /// Whether the vendor loads its shared data layer (rows inherited from
    /// sibling versions) in this mode: only the modes that read measured tables.
    /// Which large-EP all-to-all data exists depends on it.
    pub fn shared_layer(self) -> bool {
        matches!(self, DbMode::Silicon | DbMode::Hybrid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_label_matches_reference_column() {
        let p = Parallel {
            tp: 1,
            pp: 1,
            dp: 1,
            moe_tp: 2,
            moe_ep: 1,
            cp: 2,
        };
        assert_eq!(p.to_string(), "tp1pp1dp1etp2ep1cp2");
        assert_eq!(Parallel::dense(4, 1).to_string(), "tp4pp1dp1etp1ep1");
        assert_eq!(p.gpus(), 2);
    }

    #[test]
    fn quant_names_round_trip() {
        for q in GemmQuant::ALL {
            assert_eq!(GemmQuant::parse(q.name()), Some(*q));
        }
        assert_eq!(MoeQuant::parse("w4afp8"), Some(MoeQuant::W4afp8));
        assert_eq!(KvQuant::parse("fp9"), None);
    }
}
