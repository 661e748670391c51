//! The loader fuzz property and its catalog, shared by the cargo-fuzz target
//! and by `tests/loader_props.rs` (which also keeps this file compiling).

use xpyd::domain::{Backend, DbMode, MoeQuant};
use xpyd::exp::{
    load_str, Catalog, Family, InferredQuant, ModelFacts, SupportedQuants, SystemFacts,
};

/// A minimal catalog: two systems, one dense and one MoE model, data for both.
pub struct Fuzz;

impl Catalog for Fuzz {
    fn model(&self, id: &str) -> Result<ModelFacts, String> {
        let moe = id.contains("MoE") || id.contains("A3B");
        if id.is_empty() || id.len() > 64 {
            return Err(format!("unknown model '{id}'"));
        }
        Ok(ModelFacts {
            id: id.to_string(),
            architecture: "Qwen3ForCausalLM".into(),
            family: if moe { Family::Moe } else { Family::Llama },
            is_moe: moe,
            num_experts: if moe { 128 } else { 0 },
            is_gpt_oss: false,
            inferred: InferredQuant::default(),
            max_position: 131_072,
        })
    }
    fn system(&self, name: &str) -> Option<SystemFacts> {
        matches!(name, "h100_sxm" | "gb200").then(|| SystemFacts {
            name: name.to_string(),
            is_blackwell: name == "gb200",
            gpus_per_node: 8,
            mem_capacity_bytes: 80e9,
        })
    }
    fn system_names(&self) -> Vec<String> {
        vec!["gb200".into(), "h100_sxm".into()]
    }
    fn versions(&self, _s: &str, _b: Backend) -> (Vec<String>, Option<String>) {
        (vec!["1.0".into(), "2.0".into()], Some("2.0".into()))
    }
    fn supported_quants(&self, _s: &str, _b: Backend, _v: &str) -> Option<SupportedQuants> {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
        Some(SupportedQuants {
            gemm: v(&["bfloat16", "fp8", "fp8_block"]),
            moe: v(&["bfloat16", "fp8_block"]),
            kvcache: v(&["bfloat16", "fp8"]),
            fmha: v(&["bfloat16"]),
            mla_fmha: v(&["bfloat16"]),
            ..Default::default()
        })
    }
    fn large_ep_sizes(
        &self,
        m: &ModelFacts,
        _s: &str,
        _b: Backend,
        _v: &str,
        _q: MoeQuant,
        _runs_generation: bool,
        _database_mode: DbMode,
    ) -> Vec<u32> {
        if m.is_moe {
            vec![16, 32]
        } else {
            Vec::new()
        }
    }
}

/// The property: any input gives Ok or errors positioned inside the text.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = load_str(text, "fuzz.yaml", &Fuzz) {
        assert!(!e.errors.is_empty());
        let norm = text
            .strip_prefix('\u{feff}')
            .unwrap_or(text)
            .replace("\r\n", "\n")
            .replace('\r', "\n");
        let lines: Vec<&str> = norm.split('\n').collect();
        for err in &e.errors {
            if err.line == 0 {
                continue;
            }
            let line = lines.get(err.line - 1).expect("error line inside the file");
            assert!(err.col >= 1 && err.col <= line.chars().count() + 1, "{err}");
        }
    }
}
