//! Reading HuggingFace `config.json` (and ModelOpt `hf_quant_config.json`)
//! into [`ModelArch`], with the same field fallbacks the reference applies.

use super::{family_of, CheckpointQuant, MlaDims, ModelArch, ModelError};
use serde_json::Value;
use std::path::Path;

/// Qwen3 (dense and MoE) and MiniMax-M2 normalize Q and K per head.
pub(crate) fn uses_qk_norm(architecture: &str) -> bool {
    matches!(
        architecture,
        "Qwen3ForCausalLM" | "Qwen3MoeForCausalLM" | "MiniMaxM2ForCausalLM"
    )
}

fn read_json(path: &Path) -> Result<Value, ModelError> {
    let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| ModelError::Json {
        path: path.to_path_buf(),
        source,
    })
}

pub(crate) fn load_file(
    id: &str,
    config: &Path,
    hf_quant: Option<&Path>,
) -> Result<ModelArch, ModelError> {
    let cfg = read_json(config)?;
    let quant = match hf_quant {
        Some(p) => Some(read_json(p)?),
        None => None,
    };
    parse_hf_config(id, &cfg, quant.as_ref())
}

fn get_u64(cfg: &Value, key: &str) -> Option<u64> {
    cfg.get(key).and_then(Value::as_u64)
}

/// First positive integer among `keys` (HF configs spell the same fact several ways;
/// 0 and null count as absent, as in the reference's `or` chains).
fn first_u32(cfg: &Value, keys: &[&str]) -> u32 {
    keys.iter()
        .filter_map(|k| get_u64(cfg, k))
        .find(|v| *v > 0)
        .unwrap_or(0) as u32
}

fn require_u32(id: &str, cfg: &Value, key: &str) -> Result<u32, ModelError> {
    get_u64(cfg, key)
        .map(|v| v as u32)
        .ok_or_else(|| ModelError::Invalid {
            id: id.to_string(),
            reason: format!("missing or non-integer '{key}'"),
        })
}

fn lower_str(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
}

/// Module-exclusion patterns from both quant-config formats.
fn exclude_patterns(qcfg: &Value, hf_section: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for (obj, key) in [
        (qcfg, "modules_to_not_convert"),
        (qcfg, "exclude_modules"),
        (qcfg, "ignore"),
        (hf_section, "exclude_modules"),
        (hf_section, "ignore"),
    ] {
        if let Some(list) = obj.get(key).and_then(Value::as_array) {
            out.extend(list.iter().filter_map(Value::as_str).map(str::to_string));
        }
    }
    out
}

/// Attention projection groups a list of exclusion globs keeps unquantized.
fn attention_groups(patterns: &[String]) -> Vec<String> {
    const GROUPS: &[(&str, &[&str])] = &[
        ("q", &["q_a_proj", "q_b_proj", "q_proj"]),
        (
            "kv",
            &["kv_a_proj", "kv_b_proj", "kv_proj", "k_proj", "v_proj"],
        ),
        ("o", &["o_proj"]),
        ("indexer", &["indexer"]),
    ];
    let mut found: Vec<String> = Vec::new();
    for p in patterns {
        let names_projection = GROUPS
            .iter()
            .any(|(_, ms)| ms.iter().any(|m| p.contains(m)));
        if p.contains("self_attn") && !names_projection {
            // A glob over the whole attention block covers every group.
            let mut all: Vec<String> = GROUPS.iter().map(|(g, _)| g.to_string()).collect();
            all.sort();
            return all;
        }
        for (g, ms) in GROUPS {
            if ms.iter().any(|m| p.contains(m)) && !found.iter().any(|f| f == g) {
                found.push(g.to_string());
            }
        }
    }
    found.sort();
    found
}

fn parse_quant(
    id: &str,
    cfg: &Value,
    hf_quant: Option<&Value>,
) -> Result<CheckpointQuant, ModelError> {
    let null = Value::Null;
    let qcfg = cfg.get("quantization_config").unwrap_or(&null);
    let hf_section = hf_quant
        .and_then(|h| h.get("quantization"))
        .unwrap_or(&null);
    let mut algo = lower_str(hf_section.get("quant_algo"))
        .or_else(|| lower_str(qcfg.get("quant_algo")))
        .or_else(|| lower_str(qcfg.get("quant_method")))
        .or_else(|| lower_str(qcfg.get("quantization_method")));
    if algo.as_deref() == Some("w4a16_mxfp4") {
        algo = Some("mxfp4".into());
    }
    let kv = lower_str(hf_section.get("kv_cache_quant_algo"))
        .or_else(|| lower_str(qcfg.get("kv_cache_quant_algo")))
        .or_else(|| lower_str(qcfg.get("kv_cache_quant_method")))
        .or_else(|| lower_str(qcfg.get("kv_cache_dtype")))
        .map(|k| match k.as_str() {
            "e4m3" | "e5m2" => "fp8".to_string(),
            "fp16" | "float16" | "bf16" => "bfloat16".to_string(),
            _ => k,
        });
    let block = qcfg
        .get("weight_block_size")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_u64)
        .map(|v| v as u32);
    if algo.as_deref() == Some("fp8") && block.is_some() {
        algo = Some("fp8_block".into());
    }
    if let Some(a) = algo.as_deref() {
        if !matches!(a, "fp8" | "fp8_block" | "nvfp4" | "mxfp4") {
            return Err(ModelError::UnsupportedQuant {
                id: id.to_string(),
                algo: a.to_string(),
            });
        }
    }
    if let Some(k) = kv.as_deref() {
        if !matches!(k, "fp8" | "bfloat16") {
            return Err(ModelError::UnsupportedQuant {
                id: id.to_string(),
                algo: format!("kv cache {k}"),
            });
        }
    }
    let dynamic = match lower_str(qcfg.get("activation_scheme")).as_deref() {
        Some("dynamic") => Some(true),
        Some("static") => Some(false),
        _ => {
            let mut seen = Vec::new();
            if let Some(groups) = qcfg.get("config_groups").and_then(Value::as_object) {
                for g in groups.values() {
                    for key in ["input_activations", "weights"] {
                        if let Some(d) = g.get(key).and_then(|i| i.get("dynamic")) {
                            seen.push(d.as_bool().unwrap_or(false));
                        }
                    }
                }
            }
            (!seen.is_empty()).then(|| seen.iter().any(|d| *d))
        }
    };
    let patterns = exclude_patterns(qcfg, hf_section);
    Ok(CheckpointQuant {
        quant_algo: algo,
        quant_dynamic: dynamic,
        kv_cache_algo: kv,
        weight_block_size: block,
        attn_unquantized: attention_groups(&patterns),
        shared_expert_unquantized: patterns
            .iter()
            .any(|p| p.to_ascii_lowercase().contains("shared_expert")),
    })
}

/// Parse an HF `config.json` value (plus an optional ModelOpt `hf_quant_config.json`).
pub fn parse_hf_config(
    id: &str,
    cfg: &Value,
    hf_quant: Option<&Value>,
) -> Result<ModelArch, ModelError> {
    let architecture = cfg
        .get("architectures")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .ok_or_else(|| ModelError::Invalid {
            id: id.to_string(),
            reason: "no 'architectures' list".into(),
        })?
        .to_string();
    let family = family_of(id, &architecture)?;
    let num_layers = require_u32(id, cfg, "num_hidden_layers")?;
    let hidden = require_u32(id, cfg, "hidden_size")?;
    let num_heads = require_u32(id, cfg, "num_attention_heads")?;
    let vocab = require_u32(id, cfg, "vocab_size")?;
    let max_position =
        get_u64(cfg, "max_position_embeddings").ok_or_else(|| ModelError::Invalid {
            id: id.to_string(),
            reason: "missing 'max_position_embeddings'".into(),
        })?;
    let num_kv_heads = first_u32(cfg, &["num_key_value_heads"]);
    let intermediate = first_u32(cfg, &["intermediate_size"]);
    let head_dim = match first_u32(cfg, &["head_dim", "attention_head_dim"]) {
        0 if num_heads > 0 => hidden / num_heads,
        d => d,
    };
    // An explicit 0 is a dense model; only a missing key falls through to the next spelling.
    let topk = ["num_experts_per_tok", "top_k_experts", "moe_top_k"]
        .iter()
        .find_map(|k| cfg.get(*k).filter(|v| !v.is_null()).and_then(Value::as_u64))
        .unwrap_or(0) as u32;
    let num_experts = first_u32(
        cfg,
        &[
            "num_local_experts",
            "n_routed_experts",
            "moe_num_experts",
            "num_experts",
        ],
    );
    let moe_intermediate = first_u32(cfg, &["moe_intermediate_size", "intermediate_size"]);
    let num_shared_experts = match ["n_shared_experts", "num_shared_experts"]
        .iter()
        .find_map(|k| cfg.get(*k).filter(|v| !v.is_null()).and_then(Value::as_u64))
    {
        Some(n) => n as u32,
        None => {
            let shared = first_u32(
                cfg,
                &[
                    "shared_expert_intermediate_size",
                    "moe_shared_expert_intermediate_size",
                ],
            );
            if shared > 0 && moe_intermediate > 0 {
                (shared / moe_intermediate).max(1)
            } else {
                0
            }
        }
    };
    let mla = if family == super::Family::Deepseek {
        // Defaults are DeepSeek-V3's, as the reference assumes when a field is absent.
        let dim = |k: &str, d: u32| match first_u32(cfg, &[k]) {
            0 => d,
            v => v,
        };
        Some(MlaDims {
            q_lora_rank: dim("q_lora_rank", 1536),
            kv_lora_rank: dim("kv_lora_rank", 512),
            qk_rope_head_dim: dim("qk_rope_head_dim", 64),
            qk_nope_head_dim: dim("qk_nope_head_dim", 128),
            v_head_dim: dim("v_head_dim", 128),
        })
    } else {
        None
    };
    let is_gpt_oss = architecture == "GptOssForCausalLM";
    let sliding_window = if is_gpt_oss {
        // The reference models gpt-oss as window 128 on half the layers.
        Some(match first_u32(cfg, &["sliding_window"]) {
            0 => 128,
            w => w,
        })
    } else {
        None
    };
    let quant = parse_quant(id, cfg, hf_quant)?;
    Ok(ModelArch {
        id: id.to_string(),
        use_qk_norm: uses_qk_norm(&architecture),
        architecture,
        family,
        num_layers,
        hidden,
        num_heads,
        num_kv_heads,
        head_dim,
        intermediate,
        vocab,
        max_position,
        num_experts,
        topk,
        moe_intermediate,
        num_shared_experts,
        shared_expert_intermediate: num_shared_experts * moe_intermediate,
        first_dense_layers: first_u32(cfg, &["first_k_dense_replace"]),
        mla,
        num_sliding_layers: if sliding_window.is_some() {
            num_layers / 2
        } else {
            0
        },
        sliding_window,
        gated_mlp: true,
        quant,
        mtp_layers: first_u32(cfg, &["num_nextn_predict_layers"]),
    })
}
