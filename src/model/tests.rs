use super::*;
use crate::domain::{FmhaQuant, GemmQuant, KvQuant, MoeQuant};

/// The reference install's shipped HF configs, when present on this machine.
/// The model configs shipped with the measured database, wherever it was found
/// (`XPYD_SYSTEMS_DIR`, a python package or xpyd's cache, as in CI).
pub(crate) fn reference_model_configs() -> Option<PathBuf> {
    let loc = crate::system::locate(None).ok()?;
    if loc.kind != crate::system::DbKind::Measured {
        return None;
    }
    loc.model_configs_dir.filter(|p| p.is_dir())
}

#[test]
fn catalog_has_required_models() {
    let known = known_models();
    for id in [
        "Qwen/Qwen3-8B",
        "Qwen/Qwen3-32B",
        "Qwen/Qwen3-30B-A3B",
        "Qwen/Qwen3-235B-A22B",
        "meta-llama/Meta-Llama-3.1-8B",
        "meta-llama/Meta-Llama-3.1-70B",
        "meta-llama/Meta-Llama-3.1-405B",
        "deepseek-ai/DeepSeek-V3",
        "deepseek-ai/DeepSeek-R1",
        "openai/gpt-oss-120b",
        "openai/gpt-oss-20b",
    ] {
        assert!(
            known.contains(&id),
            "{id} missing from the built-in catalog"
        );
        let m = load_model(id, None).unwrap();
        assert_eq!(m.id, id);
    }
}

#[test]
fn catalog_entries_equal_parsed_reference_configs() {
    let Some(dir) = reference_model_configs() else {
        eprintln!("skipped: reference model_configs folder not present");
        return;
    };
    for id in known_models() {
        let builtin = load_model(id, None).unwrap();
        let from_db = load_model(id, Some(&dir)).unwrap();
        assert_eq!(
            builtin, from_db,
            "catalog entry {id} differs from its HF config"
        );
    }
}

#[test]
fn unknown_model_lists_known_ids_and_model_path_hint() {
    let err = load_model("acme/NoSuchModel", None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("Qwen/Qwen3-32B"), "{err}");
    assert!(err.contains("model_path"), "{err}");
}

#[test]
fn local_config_paths_and_unsupported_architectures() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = serde_json::json!({
        "architectures": ["LlamaForCausalLM"], "num_hidden_layers": 2, "hidden_size": 256,
        "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 512,
        "vocab_size": 1000, "max_position_embeddings": 4096
    });
    std::fs::write(dir.path().join("config.json"), cfg.to_string()).unwrap();
    let m = load_model(dir.path().to_str().unwrap(), None).unwrap();
    assert_eq!(
        (m.head_dim, m.family, m.is_moe()),
        (64, Family::Llama, false)
    );
    let file = dir.path().join("config.json");
    assert_eq!(
        load_model(file.to_str().unwrap(), None).unwrap().num_layers,
        2
    );

    let mamba = serde_json::json!({"architectures": ["MambaForCausalLM"]});
    let p = dir.path().join("mamba.json");
    std::fs::write(&p, mamba.to_string()).unwrap();
    let err = load_model(p.to_str().unwrap(), None).unwrap_err();
    assert!(
        matches!(err, ModelError::UnsupportedArchitecture { .. }),
        "{err}"
    );
}

#[test]
fn facts_carry_checkpoint_quant() {
    let ds = load_model("deepseek-ai/DeepSeek-V3", None).unwrap().facts();
    assert_eq!(ds.family, Family::Deepseek);
    assert_eq!(ds.inferred.gemm, Some(GemmQuant::Fp8Block));
    assert_eq!(ds.inferred.moe, Some(MoeQuant::Fp8Block));
    assert_eq!(ds.inferred.kvcache, Some(KvQuant::Fp8));
    assert_eq!(ds.inferred.fmha, Some(FmhaQuant::Fp8));

    let oss = load_model("openai/gpt-oss-120b", None).unwrap().facts();
    assert!(oss.is_gpt_oss && oss.is_moe);
    assert_eq!(oss.inferred.gemm, Some(GemmQuant::Bfloat16));
    assert_eq!(oss.inferred.moe, Some(MoeQuant::W4a16Mxfp4));
    assert_eq!((oss.inferred.kvcache, oss.inferred.fmha), (None, None));

    let q = load_model("Qwen/Qwen3-32B", None).unwrap().facts();
    assert_eq!(q.inferred, InferredQuant::default());
}

#[test]
fn shipped_quantized_configs_infer_like_the_reference() {
    let Some(dir) = reference_model_configs() else {
        eprintln!("skipped: reference model_configs folder not present");
        return;
    };
    // Per-tensor static FP8 (ModelOpt) and NVFP4 checkpoints.
    let st = load_model("Qwen/Qwen3-32B-FP8-Static-PerTensor", Some(&dir)).unwrap();
    assert_eq!(st.facts().inferred.gemm, Some(GemmQuant::Fp8Static));
    let nv = load_model("nvidia/Qwen3-235B-A22B-NVFP4", Some(&dir)).unwrap();
    assert_eq!(nv.facts().inferred.moe, Some(MoeQuant::Nvfp4));
    assert_eq!(nv.facts().inferred.kvcache, Some(KvQuant::Fp8));
}
