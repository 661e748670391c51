//! Model architectures: the facts the op-graph compiler and the memory model
//! need, loaded from a local HF `config.json`, from the measured database's
//! `model_configs` folder, or from the built-in catalog (`assets/models/`).

mod hf;

use crate::domain::{FmhaQuant, GemmQuant, KvQuant, MoeQuant};
use crate::exp::{Family, InferredQuant, ModelFacts};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub use hf::parse_hf_config;

/// Multi-head latent attention geometry (DeepSeek-V3/R1).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct MlaDims {
    #[serde(rename = "q_lora")]
    pub q_lora_rank: u32,
    #[serde(rename = "kv_lora")]
    pub kv_lora_rank: u32,
    #[serde(rename = "rope")]
    pub qk_rope_head_dim: u32,
    #[serde(rename = "nope")]
    pub qk_nope_head_dim: u32,
    #[serde(rename = "v")]
    pub v_head_dim: u32,
}

/// What the checkpoint says about its own quantization.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointQuant {
    /// Normalized algorithm: `fp8`, `fp8_block`, `nvfp4`, `mxfp4`; `None` for bf16 checkpoints.
    #[serde(rename = "algo", default)]
    pub quant_algo: Option<String>,
    /// Dynamic activation scaling (`activation_scheme: dynamic`); `None` when unstated.
    #[serde(rename = "dynamic", default)]
    pub quant_dynamic: Option<bool>,
    /// KV-cache algorithm (`fp8` or `bfloat16`) when the checkpoint states one.
    #[serde(rename = "kv", default)]
    pub kv_cache_algo: Option<String>,
    /// First entry of `weight_block_size` (block-scaled fp8), when present.
    #[serde(rename = "block", default)]
    pub weight_block_size: Option<u32>,
    /// Attention projection groups (`q`, `kv`, `o`, `indexer`) kept unquantized, sorted.
    #[serde(default)]
    pub attn_unquantized: Vec<String>,
    /// Shared experts excluded from quantization.
    #[serde(default)]
    pub shared_expert_unquantized: bool,
}

/// Every architecture fact the op graphs and the memory model read.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelArch {
    /// HF id, or the local path it was loaded from.
    pub id: String,
    /// HF `architectures[0]`.
    pub architecture: String,
    pub family: Family,
    pub num_layers: u32,
    pub hidden: u32,
    pub num_heads: u32,
    pub num_kv_heads: u32,
    /// `head_dim`, else hidden / heads (DeepSeek: 56, as the reference derives it).
    pub head_dim: u32,
    /// Dense FFN intermediate size.
    pub intermediate: u32,
    pub vocab: u32,
    pub max_position: u64,
    /// Routed experts (0 for dense models).
    pub num_experts: u32,
    pub topk: u32,
    /// Per-expert intermediate size (falls back to `intermediate`).
    pub moe_intermediate: u32,
    /// Shared (always active) experts.
    pub num_shared_experts: u32,
    /// Shared-expert intermediate size (num_shared_experts · moe_intermediate).
    pub shared_expert_intermediate: u32,
    /// Leading dense layers (DeepSeek `first_k_dense_replace`).
    pub first_dense_layers: u32,
    pub mla: Option<MlaDims>,
    /// Sliding-window size of the banded layers (gpt-oss: 128 on every other layer).
    pub sliding_window: Option<u32>,
    /// Layers using the sliding window (gpt-oss: half of them).
    pub num_sliding_layers: u32,
    /// Per-head Q/K RMSNorm (Qwen3 family).
    pub use_qk_norm: bool,
    /// Gated (SwiGLU) expert/FFN MLP.
    pub gated_mlp: bool,
    pub quant: CheckpointQuant,
    /// MTP draft layers shipped with the checkpoint (`num_nextn_predict_layers`).
    pub mtp_layers: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(
        "unknown model '{id}'. Built-in models: {known}. For any other model set `model_path` to a \
         local folder holding its HuggingFace config.json (or to the .json file itself)"
    )]
    Unknown { id: String, known: String },
    #[error("cannot read model config {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("model config {path} is not valid JSON: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("model config for '{id}': {reason}")]
    Invalid { id: String, reason: String },
    #[error(
        "model '{id}' has architecture {architecture}, which xpyd does not model. Supported: \
         {supported}"
    )]
    UnsupportedArchitecture {
        id: String,
        architecture: String,
        supported: String,
    },
    #[error("model '{id}': checkpoint quantization '{algo}' is not supported (xpyd reads fp8, fp8_block, nvfp4 and mxfp4 checkpoints)")]
    UnsupportedQuant { id: String, algo: String },
}

/// HF architectures xpyd models, and their family.
pub const ARCHITECTURES: &[(&str, Family)] = &[
    ("LlamaForCausalLM", Family::Llama),
    ("Qwen2ForCausalLM", Family::Llama),
    ("Qwen3ForCausalLM", Family::Llama),
    ("MiMoForCausalLM", Family::Llama),
    ("MixtralForCausalLM", Family::Moe),
    ("GptOssForCausalLM", Family::Moe),
    ("Qwen2MoeForCausalLM", Family::Moe),
    ("Qwen3MoeForCausalLM", Family::Moe),
    ("MiniMaxM2ForCausalLM", Family::Moe),
    ("DeepSeekForCausalLM", Family::Deepseek),
    ("DeepseekV3ForCausalLM", Family::Deepseek),
];

pub(crate) fn family_of(id: &str, architecture: &str) -> Result<Family, ModelError> {
    ARCHITECTURES
        .iter()
        .find(|(a, _)| *a == architecture)
        .map(|(_, f)| *f)
        .ok_or_else(|| ModelError::UnsupportedArchitecture {
            id: id.to_string(),
            architecture: architecture.to_string(),
            supported: ARCHITECTURES
                .iter()
                .map(|(a, _)| *a)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// One built-in catalog entry, in xpyd's own compact format.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogEntry {
    arch: String,
    layers: u32,
    hidden: u32,
    heads: u32,
    kv_heads: u32,
    head_dim: u32,
    ffn: u32,
    vocab: u32,
    max_pos: u64,
    #[serde(default)]
    experts: u32,
    #[serde(default)]
    topk: u32,
    #[serde(default)]
    expert_ffn: Option<u32>,
    #[serde(default)]
    shared_experts: u32,
    #[serde(default)]
    dense_layers: u32,
    #[serde(default)]
    mla: Option<MlaDims>,
    #[serde(default)]
    window: Option<u32>,
    #[serde(default)]
    mtp_layers: u32,
    #[serde(default)]
    quant: CheckpointQuant,
}

#[derive(Deserialize)]
struct CatalogFile {
    models: BTreeMap<String, CatalogEntry>,
}

const CATALOG_JSON: &str = include_str!("../../assets/models/catalog.json");

fn catalog() -> Result<&'static BTreeMap<String, CatalogEntry>, ModelError> {
    static CATALOG: OnceLock<Result<BTreeMap<String, CatalogEntry>, String>> = OnceLock::new();
    // The asset is compiled in and covered by tests; a parse failure is a build defect,
    // reported as an error rather than a crash.
    CATALOG
        .get_or_init(|| {
            serde_json::from_str::<CatalogFile>(CATALOG_JSON)
                .map(|f| f.models)
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|reason| ModelError::Invalid {
            id: "built-in catalog".into(),
            reason: reason.clone(),
        })
}

/// Ids of the built-in catalog, sorted.
pub fn known_models() -> Vec<&'static str> {
    catalog()
        .map(|c| c.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

impl CatalogEntry {
    fn to_arch(&self, id: &str) -> Result<ModelArch, ModelError> {
        let family = family_of(id, &self.arch)?;
        let moe_intermediate = self.expert_ffn.unwrap_or(self.ffn);
        let is_gpt_oss = self.arch == "GptOssForCausalLM";
        Ok(ModelArch {
            id: id.to_string(),
            architecture: self.arch.clone(),
            family,
            num_layers: self.layers,
            hidden: self.hidden,
            num_heads: self.heads,
            num_kv_heads: self.kv_heads,
            head_dim: self.head_dim,
            intermediate: self.ffn,
            vocab: self.vocab,
            max_position: self.max_pos,
            num_experts: self.experts,
            topk: self.topk,
            moe_intermediate,
            num_shared_experts: self.shared_experts,
            shared_expert_intermediate: self.shared_experts * moe_intermediate,
            first_dense_layers: self.dense_layers,
            mla: self.mla.clone(),
            sliding_window: self.window,
            num_sliding_layers: if is_gpt_oss && self.window.is_some() {
                self.layers / 2
            } else {
                0
            },
            use_qk_norm: hf::uses_qk_norm(&self.arch),
            gated_mlp: true,
            quant: self.quant.clone(),
            mtp_layers: self.mtp_layers,
        })
    }
}

/// `org/name` → the database's `org--name_config.json` file name.
fn db_config_name(id: &str) -> String {
    format!("{}_config.json", id.replace('/', "--"))
}

/// Resolve a model: a local path (folder with config.json, or a .json file),
/// then `extra_config_dir/<org>--<name>_config.json`, then the built-in catalog.
pub fn load_model(
    id_or_path: &str,
    extra_config_dir: Option<&Path>,
) -> Result<ModelArch, ModelError> {
    let local = Path::new(id_or_path);
    if local.is_dir() {
        let cfg = local.join("config.json");
        let quant = local.join("hf_quant_config.json");
        return hf::load_file(id_or_path, &cfg, quant.is_file().then_some(quant.as_path()));
    }
    if local.is_file() {
        return hf::load_file(id_or_path, local, None);
    }
    if let Some(dir) = extra_config_dir {
        let cfg = dir.join(db_config_name(id_or_path));
        if cfg.is_file() {
            let quant = dir.join(format!(
                "{}_hf_quant_config.json",
                id_or_path.replace('/', "--")
            ));
            return hf::load_file(id_or_path, &cfg, quant.is_file().then_some(quant.as_path()));
        }
    }
    match catalog()?.get(id_or_path) {
        Some(entry) => entry.to_arch(id_or_path),
        None => Err(ModelError::Unknown {
            id: id_or_path.to_string(),
            known: known_models().join(", "),
        }),
    }
}

impl ModelArch {
    pub fn is_moe(&self) -> bool {
        self.num_experts > 0 && self.topk > 0
    }

    pub fn is_gpt_oss(&self) -> bool {
        self.architecture == "GptOssForCausalLM"
    }

    /// MoE weight-block size for the fp8_block alignment rule (reference default 128).
    pub fn weight_block_size(&self) -> u32 {
        self.quant.weight_block_size.unwrap_or(128)
    }

    /// Quant modes the checkpoint implies, before user settings and system rules
    /// (nvfp4 → nvfp4_wo off Blackwell, gpt-oss Blackwell MoE) are applied.
    pub fn inferred_quant(&self) -> InferredQuant {
        let q = &self.quant;
        let algo = q.quant_algo.as_deref();
        let mut out = InferredQuant::default();
        match algo {
            Some("fp8") => {
                out.gemm = Some(if q.quant_dynamic == Some(true) {
                    GemmQuant::Fp8
                } else {
                    GemmQuant::Fp8Static
                });
                out.moe = Some(MoeQuant::Fp8);
            }
            Some("fp8_block") => {
                out.gemm = Some(GemmQuant::Fp8Block);
                out.moe = Some(MoeQuant::Fp8Block);
            }
            Some("nvfp4") => {
                out.gemm = Some(GemmQuant::Nvfp4);
                out.moe = Some(MoeQuant::Nvfp4);
            }
            Some("mxfp4") => {
                out.gemm = Some(GemmQuant::Bfloat16);
                out.moe = Some(MoeQuant::W4a16Mxfp4);
            }
            _ => {}
        }
        match q.kv_cache_algo.as_deref() {
            Some("fp8") => out.kvcache = Some(KvQuant::Fp8),
            Some("bfloat16") => out.kvcache = Some(KvQuant::Bfloat16),
            _ => {}
        }
        // A quantized checkpoint (or an fp8 KV cache) implies fp8 attention and fp8 KV.
        let quantized = matches!(algo, Some("fp8" | "fp8_block" | "nvfp4"));
        if algo.is_some() && (quantized || q.kv_cache_algo.as_deref() == Some("fp8")) {
            out.fmha = Some(FmhaQuant::Fp8);
            out.kvcache = Some(KvQuant::Fp8);
        }
        out
    }

    pub fn facts(&self) -> ModelFacts {
        ModelFacts {
            id: self.id.clone(),
            architecture: self.architecture.clone(),
            family: self.family,
            is_moe: self.is_moe(),
            num_experts: self.num_experts,
            is_gpt_oss: self.is_gpt_oss(),
            inferred: self.inferred_quant(),
            max_position: self.max_position,
        }
    }
}

#[cfg(test)]
mod tests;
