//! Golden tests: the specs the reference fed its engine (captured by
//! scripts/capture_specs.py) must come out of xpyd's compiler unchanged.

use serde_json::Value;
use std::path::{Path, PathBuf};
use xpyd::domain::*;
use xpyd::engine::compile::{compile, CompileRequest, LaneOrders, MoeCommBackends};
use xpyd::model::load_model;

/// The measured database wherever it is found (`XPYD_SYSTEMS_DIR`, a python
/// package or xpyd's cache, as in CI).
fn reference_systems() -> Option<PathBuf> {
    let loc = xpyd::system::locate(None).ok()?;
    (loc.kind == xpyd::system::DbKind::Measured).then_some(loc.systems_dir)
}

fn fixture_dir() -> PathBuf {
    std::env::var_os("XPYD_SPEC_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/specs"))
}

/// First path where two JSON values differ.
fn first_diff(path: &str, a: &Value, b: &Value) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                let p = format!("{path}.{k}");
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => {
                        if let Some(d) = first_diff(&p, u, v) {
                            return Some(d);
                        }
                    }
                    (u, v) => return Some(format!("{p}: xpyd={u:?} reference={v:?}")),
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) => {
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                let p = match u
                    .as_object()
                    .and_then(|o| o.values().next())
                    .and_then(|b| b.get("name"))
                {
                    Some(n) => format!("{path}[{i}]({n})"),
                    None => format!("{path}[{i}]"),
                };
                if let Some(d) = first_diff(&p, u, v) {
                    return Some(d);
                }
            }
            (x.len() != y.len())
                .then(|| format!("{path}: length xpyd={} reference={}", x.len(), y.len()))
        }
        _ => (a != b).then(|| format!("{path}: xpyd={a} reference={b}")),
    }
}

struct Fixture {
    name: String,
    req: Value,
    spec: Value,
}

fn fixtures() -> Vec<Fixture> {
    let dir = fixture_dir();
    let mut out = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("fixture dir {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    for p in paths {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        out.push(Fixture {
            name: p.file_name().unwrap().to_string_lossy().into_owned(),
            req: v["request"].clone(),
            spec: v["spec"].clone(),
        });
    }
    out
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str()
        .unwrap_or_else(|| panic!("request field {k} missing"))
}
fn u(v: &Value, k: &str) -> u32 {
    v[k].as_u64()
        .unwrap_or_else(|| panic!("request field {k} missing")) as u32
}
fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Compile one fixture's request; returns (spec JSON, weight bytes).
fn run(f: &Fixture) -> Result<(Value, f64), String> {
    let r = &f.req;
    let model = load_model(s(r, "model"), None).map_err(|e| e.to_string())?;
    let quant = Quant {
        gemm: GemmQuant::parse(s(r, "gemm")).ok_or("gemm quant")?,
        moe: MoeQuant::parse(s(r, "moe")).ok_or("moe quant")?,
        kvcache: KvQuant::parse(s(r, "kvcache")).ok_or("kv quant")?,
        fmha: FmhaQuant::parse(s(r, "fmha")).ok_or("fmha quant")?,
        comm: CommQuant::parse(s(r, "comm")).ok_or("comm quant")?,
    };
    let parallel = Parallel {
        tp: u(r, "tp"),
        pp: u(r, "pp"),
        dp: u(r, "dp"),
        moe_tp: u(r, "moe_tp"),
        moe_ep: u(r, "moe_ep"),
        cp: u(r, "cp"),
    };
    let lanes = LaneOrders {
        context: strs(&r["lane_orders"]["ContextAttention"]),
        generation: strs(&r["lane_orders"]["GenerationAttention"]),
    };
    let comm = r["moe_comm_backend"].as_object().map(|c| MoeCommBackends {
        context: c.get("context").and_then(Value::as_str).map(String::from),
        generation: c
            .get("generation")
            .and_then(Value::as_str)
            .map(String::from),
    });
    let systems = r["systems_path"].as_str().map(PathBuf::from);
    let mut req = CompileRequest::new(
        &model,
        s(r, "system"),
        Backend::parse(s(r, "backend")).ok_or("backend")?,
        s(r, "backend_version"),
        parallel,
        quant,
    );
    req.nextn = u(r, "nextn");
    req.database_mode = DbMode::parse(s(r, "database_mode")).ok_or("db mode")?;
    req.systems_path = systems.as_deref();
    req.attention_backend = r["attention_backend"].as_str();
    req.gpus_per_node = r["num_gpus_per_node"].as_u64().unwrap_or(8) as u32;
    req.moe_comm = comm.as_ref();
    req.lane_orders = Some(&lanes);
    req.enable_shared_layer = r["enable_shared_layer"].as_bool();
    let g = compile(&req).map_err(|e| e.to_string())?;
    Ok((g.spec_json, g.weight_bytes))
}

#[test]
fn compiled_specs_equal_reference_goldens() {
    let all = fixtures();
    assert!(
        !all.is_empty(),
        "no fixtures in {}",
        fixture_dir().display()
    );
    let mut failures = Vec::new();
    for f in &all {
        match run(f) {
            Err(e) => failures.push(format!("{}: compile error: {e}", f.name)),
            Ok((spec, weights)) => {
                // Compare through text: both sides then go through the same float parser,
                // and shortest-repr float text is equal iff the f64 values are equal.
                let spec: Value = serde_json::from_str(&spec.to_string()).unwrap();
                if let Some(d) = first_diff("spec", &spec, &f.spec) {
                    failures.push(format!("{}: {d}", f.name));
                }
                let want = f.req["weight_bytes"].as_f64().unwrap_or(f64::NAN);
                if weights != want {
                    failures.push(format!(
                        "{}: weight_bytes xpyd={weights} reference={want}",
                        f.name
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} goldens differ:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
    eprintln!("{} goldens equal", all.len());
}

fn qwen32b_request_parts() -> (xpyd::model::ModelArch, Quant) {
    (
        load_model("Qwen/Qwen3-32B", None).unwrap(),
        Quant::default(),
    )
}

/// §2.4 worked check: Qwen3-32B tp4 h100 trtllm weights = 15.256 GiB.
#[test]
fn qwen32b_tp4_weights_match_memory_model() {
    let (m, q) = qwen32b_request_parts();
    let req = CompileRequest::new(
        &m,
        "h100_sxm",
        Backend::Trtllm,
        "1.3.0rc20",
        Parallel::dense(4, 1),
        q,
    );
    let g = compile(&req).unwrap();
    let gib = g.weight_bytes / (1u64 << 30) as f64;
    assert!((gib - 15.256).abs() < 5e-4, "{gib}");
}

#[test]
fn rejected_tuples_explain_why() {
    let (m, q) = qwen32b_request_parts();
    let req = CompileRequest::new(
        &m,
        "h100_sxm",
        Backend::Trtllm,
        "1.3.0rc20",
        Parallel::dense(3, 1),
        q,
    );
    let err = compile(&req)
        .err()
        .expect("tp3 must be rejected")
        .to_string();
    assert!(
        err.contains("64 attention heads") && err.contains("tp=3"),
        "{err}"
    );

    let moe = load_model("Qwen/Qwen3-30B-A3B", None).unwrap();
    let fp8b = Quant {
        gemm: GemmQuant::Fp8Block,
        moe: MoeQuant::Fp8Block,
        ..Quant::default()
    };
    // 768 / 8 = 96 is not a multiple of the 128-wide fp8 block.
    let p = Parallel {
        tp: 8,
        pp: 1,
        dp: 1,
        moe_tp: 8,
        moe_ep: 1,
        cp: 1,
    };
    let req = CompileRequest::new(&moe, "h200_sxm", Backend::Trtllm, "1.3.0rc20", p, fp8b);
    let err = compile(&req)
        .err()
        .expect("fp8_block misalignment")
        .to_string();
    assert!(err.contains("128"), "{err}");

    let p = Parallel {
        tp: 1,
        pp: 1,
        dp: 16,
        moe_tp: 1,
        moe_ep: 16,
        cp: 1,
    };
    let req = CompileRequest::new(
        &moe,
        "h200_sxm",
        Backend::Trtllm,
        "1.3.0rc20",
        p,
        Quant::default(),
    );
    let err = compile(&req)
        .err()
        .expect("cross-node EP without A2A")
        .to_string();
    assert!(err.contains("cross-node"), "{err}");

    let p = Parallel {
        cp: 2,
        ..Parallel::dense(1, 1)
    };
    let req = CompileRequest::new(
        &m,
        "h100_sxm",
        Backend::Trtllm,
        "1.3.0rc20",
        p,
        Quant::default(),
    );
    assert!(compile(&req)
        .err()
        .expect("cp on trtllm")
        .to_string()
        .contains("sglang"));
}

/// The compiled spec loads in the vendor engine and prices the §4.3 worked example.
#[test]
fn compiled_spec_runs_in_engine() {
    use aiconfigurator_core::engine::Engine;
    let Some(root) = reference_systems().filter(|r| r.join("h100_sxm.yaml").is_file()) else {
        eprintln!("skipped: no measured database (run `xpyd db fetch` or set XPYD_SYSTEMS_DIR)");
        return;
    };
    let root = root.as_path();
    let (m, q) = qwen32b_request_parts();
    let mut req = CompileRequest::new(
        &m,
        "h100_sxm",
        Backend::Trtllm,
        "1.3.0rc20",
        Parallel::dense(4, 1),
        q,
    );
    req.database_mode = DbMode::Sol;
    let sol = compile(&req).unwrap();
    let engine = Engine::from_spec_bytes(&sol.spec.to_bincode().unwrap(), root).unwrap();
    let step = engine
        .mixed_step_latency(4000, 159, 4000, 1000, 0, 1.0, 1.0)
        .unwrap();
    assert!(step > 0.0 && step.is_finite(), "{step}");

    req.database_mode = DbMode::Silicon;
    let silicon = compile(&req).unwrap();
    let engine = Engine::from_spec_bytes(&silicon.spec.to_bincode().unwrap(), root).unwrap();
    let mixed = engine
        .mixed_step_latency(4000, 159, 4000, 1000, 0, 1.0, 1.0)
        .unwrap();
    let decode = engine.decode_step_latency(160, 4000, 1000, 1.0).unwrap();
    assert!((mixed - 158.660).abs() <= 1e-3, "mixed step {mixed}");
    assert!((decode - 28.172).abs() <= 1e-3, "decode step {decode}");
}
