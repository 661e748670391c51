//! The data-derived regime choices (large-EP all-to-all backends per phase,
//! attention lane orders) must equal what the reference chose for every
//! golden spec captured from a real `cli exp` run (`origin: cli:...`). Reads
//! `tests/fixtures/specs` and, when set, the folder in `XPYD_EXTRA_SPECS`.
//! Needs the measured database; skips with a message otherwise.

use serde_json::Value;
use std::path::{Path, PathBuf};
use xpyd::domain::{Backend, DbMode, MoeQuant, Parallel};
use xpyd::engine::compile::MoeCommBackends;
use xpyd::engine::factory::DbCatalog;
use xpyd::system::lanes::resolve_lane_orders;
use xpyd::system::large_ep::{resolve_moe_comm, ResolveContext, WorkerRole};
use xpyd::system::{Database, DbKind};

fn spec_files() -> Vec<PathBuf> {
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/specs")];
    if let Some(extra) = std::env::var_os("XPYD_EXTRA_SPECS") {
        dirs.push(PathBuf::from(extra));
    }
    let mut out = Vec::new();
    for d in dirs {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        out.extend(
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json")),
        );
    }
    out.sort();
    out
}

fn u(r: &Value, k: &str) -> u32 {
    r[k].as_u64().unwrap_or(1) as u32
}

fn expected_comm(r: &Value) -> Option<MoeCommBackends> {
    let c = r.get("moe_comm_backend").filter(|v| !v.is_null())?;
    Some(MoeCommBackends {
        context: c["context"].as_str().map(String::from),
        generation: c["generation"].as_str().map(String::from),
    })
}

#[test]
fn regime_choices_match_the_reference() {
    let db = match Database::locate(None) {
        Ok(db) if db.kind() == DbKind::Measured => db,
        _ => {
            eprintln!("skipping: no measured database (set XPYD_SYSTEMS_DIR)");
            return;
        }
    };
    let cat = DbCatalog::new(db.clone());
    let mut checked = 0;
    let mut failures = Vec::new();
    for path in spec_files() {
        let text = std::fs::read_to_string(&path).expect("fixture readable");
        let doc: Value = serde_json::from_str(&text).expect("fixture is JSON");
        if !doc["origin"].as_str().unwrap_or("").starts_with("cli:") {
            continue;
        }
        let r = &doc["request"];
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let backend = Backend::parse(r["backend"].as_str().unwrap_or("")).expect("backend");
        let system = r["system"].as_str().unwrap_or("");
        let version = r["backend_version"].as_str().unwrap_or("");
        let moe_quant = MoeQuant::parse(r["moe"].as_str().unwrap_or("")).expect("moe quant");
        let mode = DbMode::parse(r["database_mode"].as_str().unwrap_or("")).expect("db mode");
        let model = cat.arch(r["model"].as_str().unwrap_or("")).expect("model");
        let spec = db.system_spec(system).expect("system");
        let p = Parallel {
            tp: u(r, "tp"),
            pp: u(r, "pp"),
            dp: u(r, "dp"),
            moe_tp: u(r, "moe_tp"),
            moe_ep: u(r, "moe_ep"),
            cp: u(r, "cp"),
        };
        let coverage = cat.phase_coverage(&model, system, backend, version, moe_quant, mode);
        let cx = ResolveContext {
            model: &model.id,
            system: &spec.name,
            backend,
            version,
            gpus_per_node: spec.gpus_per_node,
        };
        let want = expected_comm(r);
        // The request does not name the role; one of the roles must reproduce it.
        let got: Vec<_> = [WorkerRole::Agg, WorkerRole::Prefill, WorkerRole::Decode]
            .into_iter()
            .map(|role| {
                if model.is_moe() {
                    resolve_moe_comm(&coverage, role, &p, &cx)
                } else {
                    Ok(None)
                }
            })
            .collect();
        if !got.iter().any(|g| g.as_ref().ok() == Some(&want)) {
            failures.push(format!("{name}: moe_comm want {want:?}, got {got:?}"));
        }
        if let Some(lanes) = r["lane_orders"].as_object().filter(|m| !m.is_empty()) {
            let list = |k: &str| -> Vec<String> {
                lanes
                    .get(k)
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            match resolve_lane_orders(
                db.systems_dir(),
                &spec.name,
                spec.sm_version,
                backend,
                version,
                r["attention_backend"].as_str(),
                mode,
            ) {
                Ok(o) => {
                    for (k, ours) in [
                        ("ContextAttention", &o.context),
                        ("GenerationAttention", &o.generation),
                    ] {
                        if lanes.contains_key(k) && &list(k) != ours {
                            failures.push(format!("{name}: {k} want {:?}, got {ours:?}", list(k)));
                        }
                    }
                }
                Err(e) => failures.push(format!("{name}: lane orders failed: {e}")),
            }
        }
        checked += 1;
    }
    eprintln!("checked {checked} cli fixtures");
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The search lists and replica sizes the loader resolves must equal the
/// `resolved` block the reference wrote for each shared parity case
/// (`tests/fixtures/parity_cases`).
#[test]
fn resolved_lists_match_the_reference() {
    use xpyd::exp::{load_file, Roles, SearchSpace};
    let db = match Database::locate(None) {
        Ok(db) if db.kind() == DbKind::Measured => db,
        _ => {
            eprintln!("skipping: no measured database (set XPYD_SYSTEMS_DIR)");
            return;
        }
    };
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parity_cases");
    let entries = std::fs::read_dir(&cases).expect("tests/fixtures/parity_cases");
    let cat = DbCatalog::new(db);
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut dirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    dirs.sort();
    for dir in dirs {
        let (Ok(exp), Ok(file)) = (
            std::fs::read_to_string(dir.join("expected.json")),
            load_file(&dir.join("input.yaml"), &cat),
        ) else {
            failures.push(format!("{}: cannot load", dir.display()));
            continue;
        };
        let exp: Value = serde_json::from_str(&exp).expect("expected.json is JSON");
        for task in &file.tasks {
            let r = &exp["experiments"][&task.name]["resolved"];
            let mut cmp = |prefix: &str, s: &SearchSpace| {
                for (dim, ours) in [
                    ("num_gpu", &s.num_gpu),
                    ("tp", &s.tp),
                    ("pp", &s.pp),
                    ("dp", &s.dp),
                    ("moe_tp", &s.moe_tp),
                    ("moe_ep", &s.moe_ep),
                    ("cp", &s.cp),
                ] {
                    let key = format!("{prefix}_{dim}_candidates");
                    let want: Vec<u32> = r[&key]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|v| v.as_u64().map(|n| n as u32))
                                .collect()
                        })
                        .unwrap_or_default();
                    if &want != ours {
                        failures.push(format!("{}: {key} want {want:?}, got {ours:?}", task.name));
                    }
                }
            };
            match &task.roles {
                Roles::Agg { worker } => cmp("agg", &worker.search),
                Roles::Disagg {
                    prefill,
                    decode,
                    replica,
                } => {
                    cmp("prefill", &prefill.search);
                    cmp("decode", &decode.search);
                    let max = r["max_gpu_per_replica"].as_u64().unwrap_or(0) as u32;
                    let want: Vec<u32> = match r["num_gpu_per_replica"].as_array() {
                        Some(a) => a
                            .iter()
                            .filter_map(|v| v.as_u64().map(|n| n as u32))
                            .filter(|&n| n <= max)
                            .collect(),
                        None => (1..=max).collect(),
                    };
                    if replica.max_gpu_per_replica != max || replica.num_gpu_per_replica != want {
                        failures.push(format!(
                            "{}: replica want max {max} sizes {want:?}, got max {} sizes {:?}",
                            task.name, replica.max_gpu_per_replica, replica.num_gpu_per_replica
                        ));
                    }
                }
            }
            checked += 1;
        }
    }
    eprintln!("checked {checked} experiments");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
