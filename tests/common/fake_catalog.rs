//! A catalog that answers like the real database for the systems the tests use
//! (versions from `systems/query_versions.yaml` of aiconfigurator 0.12.0).

use xpyd::domain::{Backend, DbMode, GemmQuant, MoeQuant};
use xpyd::exp::{Catalog, Family, InferredQuant, ModelFacts, SupportedQuants, SystemFacts};

pub struct FakeCatalog;

fn model(id: &str, arch: &str, family: Family, experts: u32) -> ModelFacts {
    ModelFacts {
        id: id.to_string(),
        architecture: arch.to_string(),
        family,
        is_moe: experts > 0,
        num_experts: experts,
        is_gpt_oss: false,
        inferred: InferredQuant::default(),
        max_position: if id.starts_with("Qwen/Qwen3") {
            40_960
        } else {
            131_072
        },
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

impl Catalog for FakeCatalog {
    fn model(&self, id: &str) -> Result<ModelFacts, String> {
        let dense = |arch: &str| model(id, arch, Family::Llama, 0);
        Ok(match id {
            "Qwen/Qwen3-32B" | "Qwen/Qwen3-8B" => dense("Qwen3ForCausalLM"),
            "meta-llama/Meta-Llama-3.1-70B" => dense("LlamaForCausalLM"),
            "Qwen/Qwen3-30B-A3B" | "Qwen/Qwen3-235B-A22B" => {
                model(id, "Qwen3MoeForCausalLM", Family::Moe, 128)
            }
            "deepseek-ai/DeepSeek-V3" => {
                let mut m = model(id, "DeepseekV3ForCausalLM", Family::Deepseek, 256);
                m.inferred.gemm = Some(GemmQuant::Fp8Block);
                m.inferred.moe = Some(MoeQuant::Fp8Block);
                m
            }
            "openai/gpt-oss-120b" => {
                let mut m = model(id, "GptOssForCausalLM", Family::Moe, 128);
                m.is_gpt_oss = true;
                m.inferred.gemm = Some(GemmQuant::Bfloat16);
                m.inferred.moe = Some(MoeQuant::W4a16Mxfp4);
                m
            }
            "nvidia/Qwen3-32B-FP4" => {
                let mut m = dense("Qwen3ForCausalLM");
                m.inferred.gemm = Some(GemmQuant::Nvfp4);
                m
            }
            _ => {
                return Err(format!(
                "model '{id}' is not in the built-in model list and cannot be downloaded offline"
            ))
            }
        })
    }

    fn system(&self, name: &str) -> Option<SystemFacts> {
        let (blackwell, per_node, mem) = match name {
            "h100_sxm" => (false, 8, 80e9),
            "h200_sxm" => (false, 8, 141e9),
            "a100_sxm" => (false, 8, 80e9),
            "b200_sxm" => (true, 8, 180e9),
            "gb200" => (true, 4, 186e9),
            "gb300" => (true, 4, 279e9),
            "l40s" => (false, 8, 48e9),
            _ => return None,
        };
        Some(SystemFacts {
            name: name.to_string(),
            is_blackwell: blackwell,
            gpus_per_node: per_node,
            mem_capacity_bytes: mem,
        })
    }

    fn system_names(&self) -> Vec<String> {
        strings(&[
            "a100_sxm", "b200_sxm", "gb200", "gb300", "h100_sxm", "h200_sxm", "l40s",
        ])
    }

    fn versions(&self, system: &str, backend: Backend) -> (Vec<String>, Option<String>) {
        // l40s stands for a system without installed data (built-in SOL).
        if system == "l40s" {
            return (Vec::new(), None);
        }
        let (list, cur): (&[&str], &str) = match (system, backend) {
            ("a100_sxm", Backend::Trtllm) => (&["1.0.0"], "1.0.0"),
            ("a100_sxm", Backend::Sglang) => (&["0.5.10"], "0.5.10"),
            ("a100_sxm", Backend::Vllm) => (&["0.14.0"], "0.14.0"),
            (_, Backend::Trtllm) => (&["1.3.0rc20", "1.3.0rc23"], "1.3.0rc20"),
            (_, Backend::Sglang) => (&["0.5.14", "0.5.16"], "0.5.14"),
            (_, Backend::Vllm) => (&["0.24.0"], "0.24.0"),
        };
        (strings(list), Some(cur.to_string()))
    }

    fn supported_quants(
        &self,
        system: &str,
        backend: Backend,
        _version: &str,
    ) -> Option<SupportedQuants> {
        if system == "l40s" {
            return None;
        }
        let blackwell = matches!(system, "b200_sxm" | "gb200" | "gb300");
        let mut gemm = strings(&[
            "bfloat16",
            "fp8",
            "fp8_block",
            "fp8_static",
            "int4_wo",
            "int8_wo",
        ]);
        let mut moe = strings(&[
            "bfloat16",
            "fp8",
            "fp8_block",
            "w4afp8",
            "w4a16_mxfp4",
            "int4_wo",
        ]);
        if blackwell {
            gemm.extend(strings(&["nvfp4"]));
            moe.extend(strings(&["nvfp4", "w4a8_mxfp4_mxfp8"]));
        } else {
            gemm.extend(strings(&["nvfp4_wo"]));
            moe.extend(strings(&["nvfp4_wo"]));
        }
        let mut fmha = strings(&["bfloat16", "fp8"]);
        if backend == Backend::Sglang {
            // sglang collects half-precision attention as float16 too.
            fmha.push("float16".to_string());
        }
        if backend == Backend::Vllm {
            // vLLM tables carry bf16 FMHA only, and fewer GEMM kernels.
            fmha = strings(&["bfloat16"]);
            gemm.retain(|g| g != "int4_wo" && g != "int8_wo");
        }
        Some(SupportedQuants {
            gemm,
            moe,
            kvcache: strings(&["bfloat16", "fp8"]),
            fmha,
            // As in the shipped data: context MLA is collected at bf16 FMHA
            // only, SGLang's wide-EP MLA at fp8_block with an fp8 KV cache.
            mla_fmha: strings(&["bfloat16"]),
            mla_granular_fmha: strings(&["bfloat16"]),
            mla_kv: strings(&["bfloat16", "fp8"]),
            wideep_mla_fmha: if backend == Backend::Sglang {
                strings(&["fp8_block"])
            } else {
                Vec::new()
            },
            wideep_mla_kv: if backend == Backend::Sglang {
                strings(&["fp8"])
            } else {
                Vec::new()
            },
        })
    }

    fn large_ep_sizes(
        &self,
        model: &ModelFacts,
        system: &str,
        backend: Backend,
        _v: &str,
        _moe_quant: MoeQuant,
        _runs_generation: bool,
        _database_mode: DbMode,
    ) -> Vec<u32> {
        match (model.id.as_str(), system, backend) {
            ("deepseek-ai/DeepSeek-V3", "h100_sxm" | "h200_sxm", Backend::Trtllm) => {
                vec![16, 32, 64]
            }
            _ => Vec::new(),
        }
    }
}
