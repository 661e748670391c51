//! Deploy bundles against the reference's (`aiconfigurator cli exp
//! --save-dir`, tests/fixtures/reference_bundles/): for each case, xpyd runs
//! the same input.yaml, writes the bundles of top1 and top2 and compares them
//! with the reference's, key by key:
//!
//! - TRT-LLM engine configs (`agg_config.yaml`, ...), parsed as maps;
//! - vLLM / SGLang worker flags, parsed from the manifests' worker args;
//! - manifest services, replicas, GPUs per worker and (TRT-LLM) the engine
//!   configs the pods get;
//! - run scripts: the same workers on the same GPUs of the same node;
//! - the benchmark's concurrency sweep.
//!
//! When xpyd's K-th row is not the reference's (a different layout, batch or
//! worker count), the bundle is built from the reference row's layout
//! instead (a row made from its best_config_topn.csv line), and the test
//! says so. Needs the measured database; skips with a message otherwise.
//!
//! Allowed differences (each checked, not ignored):
//! - GPUs of an attention-DP MoE worker (TRT-LLM, SGLang): the reference
//!   counts dp twice (tp is widened to moe_tp·moe_ep, which already covers the
//!   dp ranks, and then multiplied by dp). xpyd's count must be the
//!   reference's divided by dp, and the run-script placement of those cases
//!   is compared by worker counts only (the reference's GPU lists exceed the node);
//! - a worker larger than a node is a multinode service in xpyd
//!   (limit = GPUs per node × nodeCount), one pod with all GPUs in the reference;
//! - TRT-LLM pods read the engine configs from a ConfigMap, not a heredoc:
//!   the configs are compared, not the shell around them.

mod deploy_common;

use deploy_common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use xpyd::deploy::{bundle_files, parse_parallel, DeployOptions};
use xpyd::report::{AggExtra, ExperimentReport, Row, Status, WorkerRow};
use xpyd::run::{CancelToken, RunOptions, Session};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reference_bundles")
}

/// Cases with a Dynamo bundle (the llm-d, fpm and dynamo-python targets are not built).
fn cases() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root())
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| {
        let n = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        p.join("input.yaml").is_file()
            && !n.starts_with("llmd")
            && !n.starts_with("fpm")
            && !n.starts_with("dynpy")
    });
    v.sort();
    v
}

/// The reference's generator flags (first line of input.yaml) as deploy settings.
fn options_of(input: &str) -> DeployOptions {
    let first = input.lines().next().unwrap_or("");
    let words: Vec<&str> = first.split_whitespace().collect();
    let mut o = DeployOptions::default();
    let mut i = 0;
    while i < words.len() {
        let next = words.get(i + 1).map(|w| w.trim_end_matches(['`', ',']));
        let set = |o: &mut DeployOptions, k: &str, v: Option<&str>| {
            o.set(k, v.unwrap_or(""))
                .unwrap_or_else(|e| panic!("{k}: {e}"))
        };
        match words[i] {
            "--dynamo-version" => set(&mut o, "dynamo_version", next),
            "--config-template-version" => set(&mut o, "backend_version", next),
            "--namespace" => set(&mut o, "namespace", next),
            "--model-cache" => set(&mut o, "model_cache", next),
            "--image-pull-secret" => set(&mut o, "image_pull_secret", next),
            "--transport" => set(&mut o, "transport", next),
            "--generator-set" => match next {
                Some("DynConfig.enable_router=true") => set(&mut o, "enable_router", Some("true")),
                Some(s) if s.starts_with("ServiceConfig.served_model_name=") => {
                    set(&mut o, "served_model_name", s.split_once('=').map(|x| x.1))
                }
                other => panic!("generator-set {other:?} has no deploy key"),
            },
            _ => {}
        }
        i += 1;
    }
    o
}

fn csv_rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    lines
        .map(|l| {
            head.iter()
                .map(|h| h.to_string())
                .zip(l.split(',').map(str::to_string))
                .collect()
        })
        .collect()
}

fn num(r: &BTreeMap<String, String>, k: &str) -> u32 {
    r.get(k)
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0, |v| v as u32)
}

/// A row with the reference row's layout, batch, workers and KV mode.
fn row_from_reference(r: &BTreeMap<String, String>, disagg: bool) -> Row {
    let s = |k: &str| r.get(k).cloned().unwrap_or_default();
    if disagg {
        let worker = |p: &str| WorkerRow {
            parallel: s(&format!("{p}parallel")),
            layout: parse_parallel(&s(&format!("{p}parallel"))).expect("reference layout"),
            workers: num(r, &format!("{p}workers")),
            gpus_per_worker: 0,
            bs: num(r, &format!("{p}bs")),
            global_bs: num(r, &format!("{p}global_bs")),
            memory_gib: 0.0,
            seq_per_s_per_worker: 0.0,
            latency_ms: 0.0,
            gemm: s(&format!("{p}gemm")),
            kvcache: s(&format!("{p}kvcache")),
            fmha: s(&format!("{p}fmha")),
            moe: s(&format!("{p}moe")),
            comm: s(&format!("{p}comm")),
            system: s(&format!("{p}system")),
            backend: s(&format!("{p}backend")),
            version: s(&format!("{p}version")),
        };
        Row {
            prefill: Some(worker("(p)")),
            decode: Some(worker("(d)")),
            ..Default::default()
        }
    } else {
        Row {
            parallel: Some(s("parallel")),
            bs: Some(num(r, "bs")),
            agg: Some(AggExtra {
                layout: parse_parallel(&s("parallel")).expect("reference layout"),
                global_bs: num(r, "global_bs"),
                balance_score: 0.0,
                num_ctx_reqs: 0,
                num_gen_reqs: 0,
                num_tokens: 0,
                gen_tokens: 0,
                gemm: s("gemm"),
                kvcache: s("kvcache"),
                fmha: s("fmha"),
                moe: s("moe"),
                comm: s("comm"),
                system: s("system"),
                backend: s("backend"),
                version: s("version"),
            }),
            ..Default::default()
        }
    }
}

/// The part of a row a bundle depends on.
fn shape(row: &Row) -> String {
    match (&row.prefill, &row.decode) {
        (Some(p), Some(d)) => format!(
            "{} bs{} x{} {} | {} bs{} x{} {}",
            p.layout, p.bs, p.workers, p.kvcache, d.layout, d.bs, d.workers, d.kvcache
        ),
        _ => {
            let a = row.agg.as_ref();
            format!(
                "{} bs{} {}",
                a.map(|a| a.layout.to_string()).unwrap_or_default(),
                row.bs.unwrap_or(0),
                a.map(|a| a.kvcache.clone()).unwrap_or_default()
            )
        }
    }
}

#[derive(Default)]
struct Tally {
    bundles: usize,
    from_reference_row: Vec<String>,
    double_dp: usize,
    failures: Vec<String>,
}

fn compare(
    label: &str,
    refdir: &Path,
    files: &BTreeMap<String, String>,
    exp: &ExperimentReport,
    row: &Row,
    t: &mut Tally,
) {
    let mut fail = |what: String| t.failures.push(format!("{label}: {what}"));
    let moe = exp
        .resolved
        .as_ref()
        .is_some_and(|s| s.roles.iter().any(|r| r.is_moe));
    let layouts: BTreeMap<&str, xpyd::domain::Parallel> =
        match (&row.prefill, &row.decode, &row.agg) {
            (Some(p), Some(d), _) => [("prefill", p.layout), ("decode", d.layout)].into(),
            (_, _, Some(a)) => [("agg", a.layout)].into(),
            _ => BTreeMap::new(),
        };
    // TRT-LLM engine configs, as maps.
    for name in [
        "agg_config.yaml",
        "prefill_config.yaml",
        "decode_config.yaml",
    ] {
        let Ok(r) = std::fs::read_to_string(refdir.join(name)) else {
            continue;
        };
        match files.get(name) {
            None => fail(format!("{name} missing")),
            Some(m) if yaml(m) != yaml(&r) => fail(format!(
                "{name} differs:\n  xpyd {}\n  ref  {}",
                yaml(m),
                yaml(&r)
            )),
            _ => {}
        }
    }
    // Manifest services.
    let refk =
        first_doc(&std::fs::read_to_string(refdir.join("k8s_deploy.yaml")).unwrap_or_default());
    let mine_text = files.get("k8s_deploy.yaml").cloned().unwrap_or_default();
    let mine = first_doc(&mine_text);
    let configmap = mine_text.split("\n---\n").nth(1).map(yaml);
    let (rs, ms) = (services(&refk), services(&mine));
    if rs.keys().collect::<Vec<_>>() != ms.keys().collect::<Vec<_>>() {
        fail(format!(
            "services {:?} vs reference {:?}",
            ms.keys(),
            rs.keys()
        ));
    }
    for (name, r) in &rs {
        let Some(m) = ms.get(name) else { continue };
        if r["replicas"] != m["replicas"] {
            fail(format!(
                "{name} replicas {} vs reference {}",
                m["replicas"], r["replicas"]
            ));
        }
        if name == "Frontend" {
            continue;
        }
        let role = r["subComponentType"].as_str().unwrap_or("agg");
        let l = layouts.get(role).copied();
        // The reference's limit is the worker's whole count, even across nodes.
        let (rg, mg) = (gpu_limit(r), gpu_of(m));
        let dp = l.map_or(1, |l| l.dp);
        if mg != rg {
            if moe && dp > 1 && rg == mg * dp && exp.backend != "vllm" {
                t.double_dp += 1;
            } else {
                fail(format!("{name} GPUs {mg} vs reference {rg}"));
            }
        }
        let (ra, mut ma) = (flag_map(&worker_args(r)), flag_map(&worker_args(m)));
        // xpyd binds SGLang agg workers to all interfaces in the manifest too
        // (the reference does so in its scripts and disagg pods only).
        if exp.backend == "sglang" && role == "agg" && !ra.contains_key("--host") {
            ma.remove("--host");
        }
        if ra != ma {
            fail(format!(
                "{name} worker args differ:\n  xpyd {ma:?}\n  ref  {ra:?}"
            ));
        }
        for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
            let (rp, mp) = (
                &r["extraPodSpec"]["mainContainer"][probe],
                &m["extraPodSpec"]["mainContainer"][probe],
            );
            if rp != mp {
                fail(format!("{name} {probe} {mp} vs reference {rp}"));
            }
        }
        if mounts_of(r) != mounts_of(m) {
            fail(format!(
                "{name} volume mounts {:?} vs reference {:?}",
                mounts_of(m),
                mounts_of(r)
            ));
        }
        if env_of(r) != env_of(m) {
            fail(format!(
                "{name} environment {:?} vs reference {:?}",
                env_of(m),
                env_of(r)
            ));
        }
        if let Some(rc) = heredoc_config(r) {
            let file = format!("{role}_config.yaml");
            let mc = configmap
                .as_ref()
                .map(|c| yaml(c["data"][&file].as_str().unwrap_or("")));
            if mc.as_ref() != Some(&rc) {
                fail(format!(
                    "{name}: ConfigMap {file} is not the reference pod's config"
                ));
            }
        }
    }
    // Run scripts: the same workers on the same GPUs of the same node.
    let (rl, ml) = (reference_launches(refdir), xpyd_launches(files));
    let double_dp = moe && exp.backend != "vllm" && layouts.values().any(|l| l.dp > 1);
    if double_dp {
        let count = |v: &[(usize, String, String)], r: &str| v.iter().filter(|x| x.1 == r).count();
        for r in ["agg", "prefill", "decode"] {
            if count(&rl, r) != count(&ml, r) {
                fail(format!(
                    "run scripts start {} {r} workers, reference {}",
                    count(&ml, r),
                    count(&rl, r)
                ));
            }
        }
    } else if rl != ml {
        fail(format!("run scripts launch {ml:?}\n  reference {rl:?}"));
    }
    for (name, text) in files.iter().filter(|(n, _)| n.ends_with(".sh")) {
        if let Some(err) = bash_syntax_error(text) {
            fail(format!("{name} does not parse as bash: {err}"));
        }
    }
    let rb = concurrency(&std::fs::read_to_string(refdir.join("bench_run.sh")).unwrap_or_default());
    let mb = concurrency(files.get("bench_run.sh").map_or("", String::as_str));
    if rb != mb {
        fail(format!("bench concurrency {mb:?} vs reference {rb:?}"));
    }
}

#[test]
fn bundles_match_the_reference_key_by_key() {
    let Some(session) = Session::open_in_memory(None)
        .ok()
        .filter(|s| s.database_info().kind == "measured")
    else {
        eprintln!("skipped: no measured database (set XPYD_SYSTEMS_DIR)");
        return;
    };
    let mut t = Tally::default();
    for case in cases() {
        let name = case
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let input = std::fs::read_to_string(case.join("input.yaml")).expect("input.yaml");
        let opts = options_of(&input);
        let rep = session
            .run_file(
                &case.join("input.yaml"),
                &RunOptions {
                    top_n: 5,
                    ..Default::default()
                },
                &CancelToken::new(),
                &|_| {},
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        for exp in rep.experiments.iter().filter(|e| e.status == Status::Ok) {
            let expdir = case.join("run_dir").join(&exp.name);
            let refrows = csv_rows(&expdir.join("best_config_topn.csv"));
            for k in 1..=2 {
                let refdir = expdir.join(format!("top{k}"));
                let Some(refrow) = refrows.get(k - 1).filter(|_| refdir.is_dir()) else {
                    continue;
                };
                let label = format!("{name}/{}/top{k}", exp.name);
                let theirs = row_from_reference(refrow, exp.serving_mode == "disagg");
                let row = match exp.top.get(k - 1) {
                    Some(r) if shape(r) == shape(&theirs) => r.clone(),
                    other => {
                        t.from_reference_row.push(format!(
                            "{label}: xpyd {} | reference {}",
                            other.map(shape).unwrap_or_default(),
                            shape(&theirs)
                        ));
                        theirs
                    }
                };
                let files: BTreeMap<String, String> = match bundle_files(exp, &row, &opts) {
                    Ok(f) => f.into_iter().collect(),
                    Err(e) => {
                        t.failures.push(format!("{label}: no bundle: {e}"));
                        continue;
                    }
                };
                t.bundles += 1;
                compare(&label, &refdir, &files, exp, &row, &mut t);
            }
        }
    }
    eprintln!(
        "bundles compared: {}; built from the reference row (xpyd's K-th row differs): {}; double-dp GPU counts corrected: {}",
        t.bundles,
        t.from_reference_row.len(),
        t.double_dp
    );
    for l in &t.from_reference_row {
        eprintln!("  reference row used: {l}");
    }
    assert!(t.bundles >= 20, "only {} bundles compared", t.bundles);
    assert!(
        t.failures.is_empty(),
        "{} differences:\n{}",
        t.failures.len(),
        t.failures.join("\n")
    );
}
