//! What the resolver needs to know about models, systems and the measured
//! database, behind one trait so the loader stays testable without data.

use crate::domain::{Backend, DbMode, FmhaQuant, GemmQuant, KvQuant, MoeQuant};

/// Model family as the op-graph compiler understands it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Family {
    /// Dense decoder (Llama, Qwen2/3, MiMo).
    Llama,
    /// Mixture of experts without MLA (Qwen3-MoE, Mixtral, gpt-oss).
    Moe,
    /// MLA attention + MoE with shared expert (DeepSeek-V3/R1).
    Deepseek,
}

/// Quant modes implied by the checkpoint itself (its `quantization_config`).
/// `None` means the checkpoint says nothing and the bf16/half fallback applies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InferredQuant {
    pub gemm: Option<GemmQuant>,
    pub moe: Option<MoeQuant>,
    pub kvcache: Option<KvQuant>,
    pub fmha: Option<FmhaQuant>,
}

/// Facts about a model the resolver uses for defaults and checks.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelFacts {
    /// Canonical id (HF id, or the local path given).
    pub id: String,
    /// HF `architectures[0]`, e.g. `Qwen3ForCausalLM`.
    pub architecture: String,
    pub family: Family,
    pub is_moe: bool,
    pub num_experts: u32,
    /// True for gpt-oss (special Blackwell MoE quant rule).
    pub is_gpt_oss: bool,
    pub inferred: InferredQuant,
    /// `max_position_embeddings`: the context window (isl + osl beyond it is warned about).
    pub max_position: u64,
}

/// Facts about one GPU system.
#[derive(Clone, Debug, PartialEq)]
pub struct SystemFacts {
    /// Canonical name (`gb200`, `h100_sxm`, ...).
    pub name: String,
    /// Blackwell or newer (nvfp4 native, SM100 communication paths).
    pub is_blackwell: bool,
    pub gpus_per_node: u32,
    pub mem_capacity_bytes: f64,
}

/// Which quant modes the database has data for (one backend version).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SupportedQuants {
    pub gemm: Vec<String>,
    pub moe: Vec<String>,
    pub kvcache: Vec<String>,
    /// FMHA modes for which the context-attention table has rows.
    pub fmha: Vec<String>,
    /// FMHA modes of the context MLA tables, granular and module (what
    /// DeepSeek-family prefill reads in fused layouts).
    #[doc(alias = "context_mla")]
    pub mla_fmha: Vec<String>,
    /// FMHA modes of the granular context MLA table alone (TRT-LLM large EP).
    pub mla_granular_fmha: Vec<String>,
    /// KV modes of the generation MLA tables.
    pub mla_kv: Vec<String>,
    /// FMHA modes of SGLang's wide-EP context MLA table (large-EP DeepSeek).
    pub wideep_mla_fmha: Vec<String>,
    /// KV modes of SGLang's wide-EP generation MLA table.
    pub wideep_mla_kv: Vec<String>,
}

/// Look-ups the resolver needs; implemented over the real database and built-in assets.
pub trait Catalog {
    /// Load model facts by HF id or local path. The error is a full user-facing message.
    fn model(&self, id_or_path: &str) -> Result<ModelFacts, String>;
    /// Canonical system facts; `None` if the name is unknown.
    fn system(&self, name: &str) -> Option<SystemFacts>;
    /// Every system name known (for suggestions).
    fn system_names(&self) -> Vec<String>;
    /// Versions available for (system, backend), and the default ("current") one.
    fn versions(&self, system: &str, backend: Backend) -> (Vec<String>, Option<String>);
    /// Whether measured tables are installed at all (false on the built-in
    /// specs, where every run is priced at speed of light).
    fn has_measured_data(&self) -> bool {
        false
    }
    /// Supported quant modes; `None` when there is no measured data (SOL/built-in mode),
    /// in which case every mode is accepted.
    fn supported_quants(
        &self,
        system: &str,
        backend: Backend,
        version: &str,
    ) -> Option<SupportedQuants>;
    /// Expert-parallel sizes the all-to-all data covers for this model shape and
    /// MoE quant mode in every phase the role needs (context always, generation
    /// when the role runs it), intra- and cross-node; empty when not covered.
    // The arguments are the look-up key of the measured data; a struct would only wrap them.
    #[allow(clippy::too_many_arguments)]
    fn large_ep_sizes(
        &self,
        model: &ModelFacts,
        system: &str,
        backend: Backend,
        version: &str,
        moe_quant: MoeQuant,
        runs_generation: bool,
        database_mode: DbMode,
    ) -> Vec<u32>;
}
