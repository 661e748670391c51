//! Loader tests: the invalid-input corpus (exact messages), the shipped
//! examples, and the reference's resolved tasks from the parity cases.

mod common;

use common::fake_catalog::FakeCatalog;
use std::path::{Path, PathBuf};
use xpyd::domain::{Backend, DbMode, FmhaQuant, GemmQuant, KvQuant, MoeQuant, ServingMode};
use xpyd::exp::{load_file, load_str, ExpFile, LoadError, Role, Roles, Task, MAX_FILE_BYTES};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load(text: &str) -> Result<ExpFile, LoadError> {
    load_str(text, "test.yaml", &FakeCatalog)
}

fn ok(text: &str) -> ExpFile {
    match load(text) {
        Ok(f) => f,
        Err(e) => panic!("expected to load, got:\n{e}"),
    }
}

fn messages(e: &LoadError) -> String {
    e.errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn agg(t: &Task) -> &Role {
    match &t.roles {
        Roles::Agg { worker } => worker,
        other => panic!("not agg: {other:?}"),
    }
}

fn disagg(t: &Task) -> (&Role, &Role, &xpyd::exp::ReplicaConfig) {
    match &t.roles {
        Roles::Disagg {
            prefill,
            decode,
            replica,
        } => (prefill, decode, replica),
        other => panic!("not disagg: {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Invalid-input corpus
// ---------------------------------------------------------------------------

#[test]
fn invalid_corpus_messages_match_exactly() {
    let dir = root().join("tests/invalid");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/invalid exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 25, "only {} corpus files", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let expected_path = case.with_extension("expected");
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
        let got = match load_file(case, &FakeCatalog) {
            Ok(_) => "<loaded without errors>".to_string(),
            Err(e) => {
                for err in &e.errors {
                    if err.line > 0 {
                        assert!(
                            err.source_line.is_some(),
                            "{}: error without source line: {err}",
                            case.display()
                        );
                    }
                }
                messages(&e)
            }
        };
        if got.trim_end() != expected.trim_end() {
            failures.push(format!(
                "== {}\n-- expected:\n{}\n-- got:\n{}",
                case.display(),
                expected.trim_end(),
                got
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `tests/warnings/<case>/input.yaml`: keys that are valid but have no effect
/// where they stand (and workloads beyond the context window) load without
/// errors, each with its exact located warning (`expected.txt`). The same
/// files are reference runs: `tests/reference_runs.rs` checks their results.
#[test]
fn warnings_corpus_loads_with_exact_warnings() {
    let dir = root().join("tests/warnings");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/warnings exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("input.yaml").is_file())
        .collect();
    cases.sort();
    assert!(cases.len() >= 7, "only {} warning cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let expected = std::fs::read_to_string(case.join("expected.txt"))
            .unwrap_or_else(|e| panic!("{}: {e}", case.display()));
        let got = match load_file(&case.join("input.yaml"), &FakeCatalog) {
            Ok(f) if f.tasks.is_empty() => "<no experiment to run>".to_string(),
            Ok(f) => f
                .warnings
                .iter()
                .map(|w| w.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
            Err(e) => format!("<errors>\n{}", messages(&e)),
        };
        if got.trim_end() != expected.trim_end() {
            failures.push(format!(
                "== {}\n-- expected:\n{}\n-- got:\n{}",
                case.display(),
                expected.trim_end(),
                got
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn oversized_file_is_refused_before_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("huge.yaml");
    let f = std::fs::File::create(&p).unwrap();
    // Sparse 100 MB file: the loader must refuse it from its size alone.
    f.set_len(100 * 1024 * 1024).unwrap();
    let e = load_file(&p, &FakeCatalog).unwrap_err();
    assert_eq!(
        messages(&e),
        format!("file is 104857600 bytes; exp files are limited to {MAX_FILE_BYTES} bytes (1 MiB)")
    );
    let big = "#".repeat(MAX_FILE_BYTES as usize + 1);
    assert!(messages(&load(&big).unwrap_err()).contains("limited to"));
}

#[test]
fn unreadable_file_and_directory() {
    let e = load_file(Path::new("/nonexistent/dir/x.yaml"), &FakeCatalog).unwrap_err();
    assert!(messages(&e).starts_with("cannot read file:"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let e = load_file(dir.path(), &FakeCatalog).unwrap_err();
    assert!(
        messages(&e).contains("directory") || messages(&e).contains("cannot read"),
        "{e}"
    );
}

#[test]
fn load_error_display_quotes_line_and_caret() {
    let e = load("e:\n  mode: patch\n  serving_mode: agg\n  model_path: Qwen/Qwen3-32B\n  total_gpus: 8\n  system_name: h100_sxm\n  tpot: fast\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "test.yaml:7:9: experiment 'e': key 'tpot': expected a number, found the string 'fast'\n    |   tpot: fast\n    |         ^"
    );
}

// ---------------------------------------------------------------------------
// Examples
// ---------------------------------------------------------------------------

fn example(name: &str) -> ExpFile {
    match load_file(&root().join("examples").join(name), &FakeCatalog) {
        Ok(f) => f,
        Err(e) => panic!("{name}:\n{e}"),
    }
}

#[test]
fn quickstart_uses_every_default() {
    let f = example("quickstart.yaml");
    assert_eq!(f.tasks.len(), 1);
    assert!(f.warnings.is_empty(), "{:?}", f.warnings);
    let t = &f.tasks[0];
    assert_eq!(t.database_mode, DbMode::Silicon);
    assert_eq!(
        (t.isl, t.osl, t.prefix, t.ttft, t.tpot),
        (4000, 1000, 0, 1000.0, 50.0)
    );
    let w = agg(t);
    assert_eq!(w.backend, Backend::Trtllm);
    assert_eq!(w.backend_version, "1.3.0rc20");
    assert_eq!(w.search.num_gpu, [1, 2, 4, 8]);
    assert_eq!(w.search.tp, [1, 2, 4, 8]);
    assert_eq!(w.search.dp, [1]);
    assert_eq!(w.quant, xpyd::domain::Quant::default());
}

#[test]
fn quickstart_without_database_falls_back_to_sol() {
    let text = std::fs::read_to_string(root().join("examples/quickstart.yaml"))
        .unwrap()
        .replace("h200_sxm", "l40s");
    let f = ok(&text);
    let t = &f.tasks[0];
    assert_eq!(agg(t).backend_version, "");
    assert!(
        t.notes.iter().any(|n| n.contains("built-in SOL")),
        "{:?}",
        t.notes
    );
}

#[test]
fn qwen3_32b_agg_and_disagg() {
    let f = example("qwen3_32b.yaml");
    assert_eq!(
        f.tasks.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["qwen_agg", "qwen_disagg"]
    );
    let a = agg(&f.tasks[0]);
    assert_eq!(a.system, "h100_sxm");
    assert_eq!(a.quant.gemm, GemmQuant::Fp8Block);
    assert_eq!(a.quant.kvcache, KvQuant::Fp8);
    assert_eq!(a.quant.fmha, FmhaQuant::Bfloat16);
    assert_eq!(f.tasks[0].tpot, 40.0);
    let (p, d, r) = disagg(&f.tasks[1]);
    assert_eq!(p.search.num_gpu, [1, 2, 4]);
    assert_eq!(d.search.tp, [2, 4, 8]);
    assert_eq!(r.num_gpu_per_replica, [8, 16]);
    assert_eq!(r.max_gpu_per_replica, 16);
    assert_eq!((r.max_prefill_workers, r.max_decode_workers), (8, 8));
    assert_eq!(f.tasks[1].tuning.decode_max_batch_size, 512);
}

#[test]
fn deepseek_v3_comparison() {
    let f = example("deepseek_v3_compare.yaml");
    assert_eq!(f.tasks.len(), 3);
    let a = agg(&f.tasks[0]);
    // fp8_block checkpoint: fp8 KV and fp8 attention are implied, but the
    // context MLA table has bf16 FMHA only, so attention falls back to bf16.
    assert_eq!(a.quant.gemm, GemmQuant::Fp8Block);
    assert_eq!(a.quant.moe, MoeQuant::Fp8Block);
    assert_eq!(a.quant.kvcache, KvQuant::Fp8);
    assert_eq!(a.quant.fmha, FmhaQuant::Bfloat16);
    assert!(
        f.tasks[0].notes.iter().any(|n| n.contains("fmha fp8")),
        "{:?}",
        f.tasks[0].notes
    );
    // Large-EP ladder unioned in (the catalog covers EP 16..64 for DSv3 on h100/trtllm).
    assert_eq!(a.search.num_gpu, [1, 2, 4, 8, 16, 32, 64]);
    assert_eq!(a.search.dp, [1, 2, 4, 8, 16, 32, 64]);
    assert_eq!(a.search.tp, [1, 2, 4, 8, 16]);
    assert_eq!(a.search.moe_ep, [1, 2, 4, 8, 16, 32, 64]);
    let (p, d, r) = disagg(&f.tasks[1]);
    assert_eq!(p.search.num_gpu, [1, 2, 4, 8, 16, 32]);
    assert_eq!(d.search.num_gpu, [1, 2, 4, 8, 16, 32, 64]);
    // A large-EP layout exists, so every replica size up to the budget is allowed.
    assert_eq!(r.max_gpu_per_replica, 64);
    assert_eq!(r.num_gpu_per_replica, (1..=64).collect::<Vec<_>>());
    let (p, d, _) = disagg(&f.tasks[2]);
    assert_eq!(p.quant.moe, MoeQuant::W4afp8);
    assert_eq!(d.quant.moe, MoeQuant::W4afp8);
    assert_eq!(p.quant.gemm, GemmQuant::Fp8Block);
}

#[test]
fn hetero_and_mtp_examples() {
    let f = example("hetero.yaml");
    let (p, d, _) = disagg(&f.tasks[0]);
    assert_eq!(
        (p.system.as_str(), d.system.as_str()),
        ("h200_sxm", "h100_sxm")
    );
    let f = example("mtp.yaml");
    let t = &f.tasks[0];
    assert_eq!(t.nextn, 2);
    assert!((t.nextn_accepted - 1.105).abs() < 1e-12);
}

// ---------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------

const HEAD: &str = "e:\n  mode: patch\n  serving_mode: agg\n  total_gpus: 8\n";

#[test]
fn default_accept_rates_and_folding() {
    let f = ok(&format!(
        "{HEAD}  model_path: deepseek-ai/DeepSeek-V3\n  system_name: h200_sxm\n  config:\n    nextn: 2\n"
    ));
    let t = &f.tasks[0];
    assert!((t.nextn_accepted - 1.105).abs() < 1e-12);
    assert!(t.notes.iter().any(|n| n.contains("default rates")));
}

#[test]
fn fmha_fp8_inferred_falls_back_without_data() {
    // vLLM has bf16 attention data only: inferred fp8 falls back, explicit fp8 is an error.
    let f = ok(&format!(
        "{HEAD}  model_path: deepseek-ai/DeepSeek-V3\n  system_name: h200_sxm\n  backend_name: vllm\n"
    ));
    let w = agg(&f.tasks[0]);
    assert_eq!(w.quant.fmha, FmhaQuant::Bfloat16);
    assert_eq!(w.quant.kvcache, KvQuant::Fp8);
    assert!(f.tasks[0].notes.iter().any(|n| n.contains("fmha fp8")));
    let e = load(&format!(
        "{HEAD}  model_path: deepseek-ai/DeepSeek-V3\n  system_name: h200_sxm\n  backend_name: vllm\n  config:\n    worker_config:\n      fmha_quant_mode: fp8\n"
    ))
    .unwrap_err();
    assert!(
        messages(&e).contains("fmha quant mode 'fp8' has no perf data"),
        "{e}"
    );
}

#[test]
fn nvfp4_and_gpt_oss_rules() {
    let f = ok(&format!(
        "{HEAD}  model_path: nvidia/Qwen3-32B-FP4\n  system_name: h200_sxm\n"
    ));
    let w = agg(&f.tasks[0]);
    assert_eq!(w.quant.gemm, GemmQuant::Nvfp4Wo);
    assert_eq!(
        (w.quant.kvcache, w.quant.fmha),
        (KvQuant::Fp8, FmhaQuant::Fp8)
    );
    let f = ok(&format!(
        "{HEAD}  model_path: nvidia/Qwen3-32B-FP4\n  system_name: b200_sxm\n"
    ));
    assert_eq!(agg(&f.tasks[0]).quant.gemm, GemmQuant::Nvfp4);
    let f = ok(&format!(
        "{HEAD}  model_path: openai/gpt-oss-120b\n  system_name: b200_sxm\n"
    ));
    assert_eq!(agg(&f.tasks[0]).quant.moe, MoeQuant::W4a8Mxfp4Mxfp8);
    let f = ok(&format!(
        "{HEAD}  model_path: openai/gpt-oss-120b\n  system_name: h200_sxm\n"
    ));
    assert_eq!(agg(&f.tasks[0]).quant.moe, MoeQuant::W4a16Mxfp4);
    // A profile counts as explicit: the Blackwell promotion does not override it.
    let f = ok(&format!(
        "{HEAD}  model_path: openai/gpt-oss-120b\n  system_name: b200_sxm\n  profiles: [mxfp4]\n"
    ));
    assert_eq!(agg(&f.tasks[0]).quant.moe, MoeQuant::W4a16Mxfp4);
}

#[test]
fn profile_then_explicit_priority() {
    let f = ok(&format!(
        "{HEAD}  model_path: Qwen/Qwen3-32B\n  system_name: h200_sxm\n  profiles: [fp8]\n  config:\n    worker_config:\n      kvcache_quant_mode: bfloat16\n"
    ));
    let q = agg(&f.tasks[0]).quant;
    assert_eq!(q.gemm, GemmQuant::Fp8);
    assert_eq!(q.kvcache, KvQuant::Bfloat16);
    assert_eq!(q.fmha, FmhaQuant::Fp8);
}

#[test]
fn float16_and_gb200_alias() {
    let f = ok(&format!(
        "{HEAD}  model_path: Qwen/Qwen3-32B\n  system_name: gb200_sxm\n  backend_name: sglang\n  config:\n    worker_config:\n      gemm_quant_mode: float16\n      kvcache_quant_mode: float16\n      fmha_quant_mode: float16\n"
    ));
    let w = agg(&f.tasks[0]);
    assert_eq!(w.system, "gb200");
    assert_eq!(w.quant.gemm, GemmQuant::Bfloat16);
    assert_eq!(w.quant.kvcache, KvQuant::Bfloat16);
    assert_eq!(w.quant.fmha, FmhaQuant::Float16);
    assert_eq!(w.backend_version, "0.5.14");
    // gb200: 16-GPU dense lists, clamped to total_gpus 8; sglang sweeps cp.
    assert_eq!(w.search.num_gpu, [1, 2, 4, 8]);
    assert_eq!(w.search.tp, [1, 2, 4, 8, 16]);
    assert_eq!(w.search.cp, [1, 2, 4, 8]);
}

#[test]
fn replace_uses_only_what_is_defined() {
    let text = "e:\n  mode: replace\n  serving_mode: agg\n  model_path: Qwen/Qwen3-30B-A3B\n  total_gpus: 8\n  system_name: h200_sxm\n  config:\n    worker_config:\n      gemm_quant_mode: fp8_block\n      moe_quant_mode: fp8_block\n      kvcache_quant_mode: fp8\n      fmha_quant_mode: bfloat16\n      num_gpu_per_worker: [4]\n      tp_list: [1]\n      dp_list: [4]\n      moe_ep_list: [4]\n";
    let f = ok(text);
    let w = agg(&f.tasks[0]);
    assert_eq!(w.search.num_gpu, [4]);
    assert_eq!(w.search.pp, [1]);
    assert_eq!(w.search.moe_tp, [1]);
    assert_eq!(w.search.cp, [1]);
    assert_eq!(w.quant.comm, xpyd::domain::CommQuant::Half);
    // The same experiment as patch fills the MoE defaults in.
    let f = ok(&text.replace("mode: replace", "mode: patch"));
    assert_eq!(agg(&f.tasks[0]).search.moe_tp, [1, 2, 4, 8, 16]);
}

#[test]
fn warnings_for_ineffective_settings() {
    let f = ok(&format!(
        "{HEAD}  model_path: Qwen/Qwen3-32B\n  system_name: h200_sxm\n  config:\n    nextn_accept_rates: [0.5]\n    worker_config:\n      num_gpu_per_worker: [4, 8, 16]\n      tp_list: [4, 8, 8]\n"
    ));
    let w: Vec<String> = f.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(
        w,
        [
            "8:25: experiment 'e': key 'config.nextn_accept_rates': has no effect while nextn is 0 (set config.nextn to model speculative decoding)",
            "10:27: experiment 'e': key 'config.worker_config.num_gpu_per_worker': values above total_gpus (8) are not searched: 16",
            "11:23: experiment 'e': key 'config.worker_config.tp_list[2]': value 8 is listed twice; it is used once",
        ]
    );
    assert_eq!(agg(&f.tasks[0]).search.num_gpu, [4, 8]);
}

#[test]
fn exps_order_and_unlisted_experiments() {
    let body = |n: &str| {
        format!("{n}:\n  mode: patch\n  serving_mode: agg\n  model_path: Qwen/Qwen3-8B\n  total_gpus: 4\n  system_name: h100_sxm\n")
    };
    let text = format!("exps: [b, a]\n{}{}{}", body("a"), body("b"), body("c"));
    let f = ok(&text);
    let names: Vec<&str> = f.tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["b", "a"]);
    assert_eq!(f.warnings.len(), 1);
    assert!(f.warnings[0]
        .to_string()
        .contains("'c' is not listed in exps"));
    // Without exps: file order.
    let f = ok(&format!("{}{}", body("z"), body("y")));
    let names: Vec<&str> = f.tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["z", "y"]);
}

// ---------------------------------------------------------------------------
// Parity with the reference's resolved tasks
// ---------------------------------------------------------------------------

fn parity_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parity_cases")
}

fn u32s(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|x| x.as_u64().expect("integer") as u32)
        .collect()
}

fn check_role(
    case: &str,
    r: &serde_json::Value,
    pre: &str,
    role: &Role,
    model_key: &str,
    sys_key: &str,
    ver_key: &str,
) {
    let ctx = format!("{case} {pre}");
    assert_eq!(
        r[model_key].as_str(),
        Some(role.model.as_str()),
        "{ctx} model"
    );
    assert_eq!(
        r[sys_key].as_str(),
        Some(role.system.as_str()),
        "{ctx} system"
    );
    assert_eq!(
        r[ver_key].as_str(),
        Some(role.backend_version.as_str()),
        "{ctx} version"
    );
    let q = |k: &str| {
        r[format!("{}{k}", pre.replace("agg_", ""))]
            .as_str()
            .map(str::to_string)
    };
    assert_eq!(
        q("gemm_quant_mode").as_deref(),
        Some(role.quant.gemm.name()),
        "{ctx} gemm"
    );
    assert_eq!(
        q("moe_quant_mode").as_deref(),
        Some(role.quant.moe.name()),
        "{ctx} moe"
    );
    assert_eq!(
        q("kvcache_quant_mode").as_deref(),
        Some(role.quant.kvcache.name()),
        "{ctx} kv"
    );
    assert_eq!(
        q("fmha_quant_mode").as_deref(),
        Some(role.quant.fmha.name()),
        "{ctx} fmha"
    );
    assert_eq!(
        q("comm_quant_mode").as_deref(),
        Some(role.quant.comm.name()),
        "{ctx} comm"
    );
    let s = &role.search;
    for (dim, ours) in [
        ("num_gpu", &s.num_gpu),
        ("tp", &s.tp),
        ("pp", &s.pp),
        ("dp", &s.dp),
        ("moe_tp", &s.moe_tp),
        ("moe_ep", &s.moe_ep),
        ("cp", &s.cp),
    ] {
        assert_eq!(
            &u32s(&r[format!("{pre}{dim}_candidates")]),
            ours,
            "{ctx} {dim}"
        );
    }
}

#[test]
fn parity_resolved_blocks_are_reproduced() {
    let dir = parity_dir();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("parity cases at {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("expected.json").exists())
        .collect();
    cases.sort();
    let mut checked = 0;
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let expected: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(case.join("expected.json")).unwrap())
                .unwrap();
        let file = load_file(&case.join("input.yaml"), &FakeCatalog)
            .unwrap_or_else(|e| panic!("{name}:\n{e}"));
        let exps = expected["experiments"].as_object().expect("experiments");
        for (exp, v) in exps {
            let Some(r) = v.get("resolved") else { continue };
            let t = file
                .tasks
                .iter()
                .find(|t| &t.name == exp)
                .unwrap_or_else(|| panic!("{name}: no task {exp}"));
            let ctx = format!("{name}/{exp}");
            assert_eq!(
                r["serving_mode"].as_str(),
                Some(t.serving_mode.name()),
                "{ctx}"
            );
            assert_eq!(r["isl"].as_u64(), Some(u64::from(t.isl)), "{ctx} isl");
            assert_eq!(r["osl"].as_u64(), Some(u64::from(t.osl)), "{ctx} osl");
            assert_eq!(
                r["prefix"].as_u64(),
                Some(u64::from(t.prefix)),
                "{ctx} prefix"
            );
            assert_eq!(r["ttft"].as_f64(), Some(t.ttft), "{ctx} ttft");
            assert_eq!(r["tpot"].as_f64(), Some(t.tpot), "{ctx} tpot");
            assert_eq!(
                r["total_gpus"].as_u64(),
                Some(u64::from(t.total_gpus)),
                "{ctx}"
            );
            assert_eq!(
                r["database_mode"].as_str(),
                Some(t.database_mode.name()),
                "{ctx}"
            );
            assert_eq!(r["nextn"].as_u64(), Some(u64::from(t.nextn)), "{ctx} nextn");
            assert_eq!(
                r["nextn_accepted"].as_f64().unwrap_or(0.0),
                t.nextn_accepted,
                "{ctx}"
            );
            assert_eq!(
                r["prefill_max_batch_size"].as_u64(),
                Some(u64::from(t.tuning.prefill_max_batch_size))
            );
            assert_eq!(
                r["decode_max_batch_size"].as_u64(),
                Some(u64::from(t.tuning.decode_max_batch_size))
            );
            assert_eq!(
                r["prefill_latency_correction"].as_f64(),
                Some(t.tuning.prefill_latency_correction)
            );
            assert_eq!(
                r["decode_latency_correction"].as_f64(),
                Some(t.tuning.decode_latency_correction)
            );
            match t.serving_mode {
                ServingMode::Agg => {
                    check_role(
                        &ctx,
                        r,
                        "agg_",
                        agg(t),
                        "model_path",
                        "system_name",
                        "backend_version",
                    );
                    assert_eq!(r["backend_name"].as_str(), Some(agg(t).backend.name()));
                }
                ServingMode::Disagg => {
                    let (p, d, rep) = disagg(t);
                    check_role(
                        &ctx,
                        r,
                        "prefill_",
                        p,
                        "prefill_model_path",
                        "prefill_system_name",
                        "prefill_backend_version",
                    );
                    check_role(
                        &ctx,
                        r,
                        "decode_",
                        d,
                        "decode_model_path",
                        "decode_system_name",
                        "decode_backend_version",
                    );
                    assert_eq!(r["prefill_backend_name"].as_str(), Some(p.backend.name()));
                    let max = r["max_gpu_per_replica"].as_u64().expect("max") as u32;
                    assert_eq!(rep.max_gpu_per_replica, max, "{ctx} max_gpu_per_replica");
                    let allowed: Vec<u32> = u32s(&r["num_gpu_per_replica"])
                        .into_iter()
                        .filter(|&n| n <= max)
                        .collect();
                    assert_eq!(rep.num_gpu_per_replica, allowed, "{ctx} replica sizes");
                    assert_eq!(
                        r["max_prefill_workers"].as_u64(),
                        Some(u64::from(rep.max_prefill_workers))
                    );
                    assert_eq!(
                        r["max_decode_workers"].as_u64(),
                        Some(u64::from(rep.max_decode_workers))
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} resolved experiments checked");
}
