//! Parity of the reference-compatible verbs with the reference's own
//! outputs (`tests/fixtures/reference_verbs/<verb>/<case>/`: the exact
//! command in `cmd.txt`, its console output in `stdout.txt`). Each case's
//! command line is parsed by xpyd's own clap definitions, so the flag names
//! and aliases are exercised too. Needs the measured database; skips with a
//! message otherwise.

use clap::Parser;
use std::path::{Path, PathBuf};
use xpyd::run::Session;
use xpyd::verbs;

fn session() -> Option<Session> {
    match Session::open_in_memory(None) {
        Ok(s) if s.database_info().kind == "measured" => Some(s),
        _ => {
            eprintln!("SKIP: no measured database (run `xpyd db fetch` or set XPYD_SYSTEMS_DIR)");
            None
        }
    }
}

fn root(verb: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/reference_verbs")
        .join(verb)
}

/// Cases of `verb` that the reference ran successfully: (name, argv after the verb, stdout).
fn ok_cases(verb: &str) -> Vec<(String, Vec<String>, String)> {
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root(verb))
        .expect("fixtures")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("cmd.txt").is_file())
        .collect();
    dirs.sort();
    for d in dirs {
        let cmd = std::fs::read_to_string(d.join("cmd.txt")).expect("cmd.txt");
        let mut lines = cmd.lines();
        let line = lines.next().unwrap_or_default().replace('\\', "");
        if !lines.next().unwrap_or_default().contains("status=ok") {
            continue;
        }
        let prefix = format!("aiconfigurator cli {verb} ");
        let Some(rest) = line.strip_prefix(&prefix) else {
            continue;
        };
        let tmp = std::env::temp_dir().join(format!("xpyd-verbs-{}-{verb}", std::process::id()));
        let argv: Vec<String> = rest
            .split_whitespace()
            .map(|t| t.replace("SAVE_DIR", &tmp.display().to_string()))
            .collect();
        let stdout = std::fs::read_to_string(d.join("stdout.txt")).expect("stdout.txt");
        let name = d
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        out.push((name, argv, stdout));
    }
    out
}

/// The number after `label` on the reference's console output (commas dropped).
fn value(stdout: &str, label: &str) -> Option<f64> {
    stdout
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.replace(',', "").parse().ok())
}

#[derive(Parser)]
struct EstimateCli {
    #[command(flatten)]
    a: verbs::estimate::EstimateArgs,
}

fn close(ours: f64, theirs: f64, rel: f64) -> bool {
    (ours - theirs).abs() <= rel * theirs.abs().max(1e-9)
}

#[test]
fn estimate_equals_the_reference() {
    let Some(session) = session() else { return };
    let mut compared = Vec::new();
    for (name, argv, stdout) in ok_cases("estimate") {
        let cli = EstimateCli::try_parse_from(std::iter::once("estimate".to_string()).chain(argv))
            .unwrap_or_else(|e| panic!("{name}: flags do not parse: {e}"));
        let res = verbs::estimate::estimate(&session, &cli.a);
        let e = match res {
            Ok(e) => e,
            Err(m) if m.contains("is not supported") => {
                eprintln!("{name}: not compared ({m})");
                continue;
            }
            Err(m) => panic!("{name}: {m}"),
        };
        // Static modes print only the phase they price (no TTFT for a
        // decode-only estimate, no TPOT for a prefill-only one).
        let (ttft, tpot) = (value(&stdout, "TTFT:"), value(&stdout, "TPOT:"));
        assert!(
            ttft.is_some() || tpot.is_some(),
            "{name}: no latency in the reference output"
        );
        let (ttft, tpot) = (ttft.unwrap_or(0.0), tpot.unwrap_or(0.0));
        assert!(
            close(e.row.ttft_ms, ttft, 1e-4),
            "{name}: TTFT {} vs reference {ttft}",
            e.row.ttft_ms
        );
        assert!(
            close(e.row.tpot_ms, tpot, 1e-4),
            "{name}: TPOT {} vs reference {tpot}",
            e.row.tpot_ms
        );
        let tpg = value(&stdout, "tokens/s/gpu:").expect("tokens/s/gpu");
        assert!(
            close(e.row.tokens_per_s_per_gpu, tpg, 1e-3),
            "{name}: tokens/s/gpu {} vs reference {tpg}",
            e.row.tokens_per_s_per_gpu
        );
        if let Some(g) = value(&stdout, "Generation lat.:") {
            assert!(
                close(e.row.request_latency_ms, g, 1e-4),
                "{name}: decode pass {} vs {g}",
                e.row.request_latency_ms
            );
        }
        if let Some(c) = value(&stdout, "Concurrency:") {
            assert_eq!(e.row.concurrency.round(), c, "{name}: concurrency");
        }
        if let Some(m) = value(&stdout, "Memory (GPU):") {
            assert!(
                close(e.row.memory_gib, m, 1e-3),
                "{name}: memory {} vs {m}",
                e.row.memory_gib
            );
        }
        let warned = stdout.contains("exceeds estimated KV cache capacity");
        assert_eq!(
            e.kv_warning.is_some(),
            warned,
            "{name}: KV-capacity warning"
        );
        compared.push(name);
    }
    eprintln!("estimate cases compared: {compared:?}");
    assert!(
        compared.len() >= 8,
        "only {} estimate cases compared",
        compared.len()
    );
}

#[test]
fn estimate_reports_the_reference_ooms() {
    let Some(session) = session() else { return };
    let mut seen = 0;
    for d in std::fs::read_dir(root("estimate"))
        .expect("fixtures")
        .flatten()
    {
        let name = d.file_name().to_string_lossy().into_owned();
        if !name.ends_with("FAILED_oom") {
            continue;
        }
        let cmd = std::fs::read_to_string(d.path().join("cmd.txt")).expect("cmd");
        let line = cmd.lines().next().unwrap_or_default().replace('\\', "");
        let argv = line
            .trim_start_matches("aiconfigurator cli estimate ")
            .split_whitespace();
        let cli =
            EstimateCli::try_parse_from(std::iter::once("estimate").chain(argv)).expect("flags");
        match verbs::estimate::estimate(&session, &cli.a) {
            Err(m) if m.contains("is not supported") => continue,
            Err(m) => assert!(m.starts_with("OOM"), "{name}: {m}"),
            Ok(e) => panic!(
                "{name}: priced ({} ms TTFT) but the reference ran out of memory",
                e.row.ttft_ms
            ),
        }
        seen += 1;
    }
    assert!(seen >= 2, "only {seen} OOM cases checked");
}

/// Rank-1 row of the reference's `<title> Top Configurations` table, as
/// (column header → cell) pairs.
fn top_row(stdout: &str, title: &str) -> Option<Vec<(String, String)>> {
    let lines: Vec<&str> = stdout.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with(&format!("{title} Top Configurations")))?;
    let cells = |l: &str| -> Vec<String> {
        l.trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_string())
            .collect()
    };
    let header = cells(lines.get(at + 2)?);
    let row = lines[at..]
        .iter()
        .find(|l| l.starts_with("|  1 "))
        .map(|l| cells(l))?;
    Some(header.into_iter().zip(row).collect())
}

fn cell<'a>(row: &'a [(String, String)], col: &str) -> &'a str {
    row.iter()
        .find(|(h, _)| h == col)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no column {col}"))
}

fn layout(label: &str) -> xpyd::domain::Parallel {
    xpyd::deploy::parse_parallel(label).expect("parallel label")
}

#[derive(Parser)]
struct DefaultCli {
    #[command(flatten)]
    a: verbs::default::DefaultArgs,
}

/// The best row of the experiments of one serving mode (`agg`, or
/// `agg_<backend>` for each backend with --backend auto).
fn best_of<'a>(rep: &'a xpyd::report::RunReport, mode: &str) -> Option<&'a xpyd::report::Row> {
    rep.experiments
        .iter()
        .filter(|e| e.name == mode || e.name.starts_with(&format!("{mode}_")))
        .filter_map(|e| e.best.as_ref())
        .max_by(|a, b| {
            a.tokens_per_s_per_gpu_cluster
                .total_cmp(&b.tokens_per_s_per_gpu_cluster)
        })
}

/// The reference's rank-1 row differs from xpyd's only in its batch: it
/// must tie on tokens/s/gpu (the reference keeps an arbitrary one of tied
/// rows, xpyd the one its documented tie rule prefers). Checked by pricing
/// the reference's row with `xpyd estimate`.
fn assert_tie(
    session: &Session,
    d: &verbs::default::DefaultArgs,
    ours: &xpyd::report::Row,
    extra: &[&str],
    name: &str,
) {
    let t = &d.target;
    let mut argv: Vec<String> = vec![
        "estimate".into(),
        "--model".into(),
        t.model_path.clone(),
        "--system".into(),
        t.system.clone(),
    ];
    for (flag, v) in [
        ("--backend", &t.backend),
        ("--decode-system", &t.decode_system),
    ] {
        if let Some(v) = v.as_ref().filter(|v| v.as_str() != "auto") {
            argv.extend([flag.to_string(), v.clone()]);
        }
    }
    for (flag, v) in [
        ("--isl", d.workload.isl),
        ("--osl", d.workload.osl),
        ("--prefix", d.workload.prefix),
    ] {
        argv.extend([
            flag.to_string(),
            v.unwrap_or(match flag {
                "--isl" => 4000,
                "--osl" => 1000,
                _ => 0,
            })
            .to_string(),
        ]);
    }
    if let Some(n) = &d.workload.nextn {
        argv.extend(["--nextn".to_string(), n.clone()]);
    }
    if let Some(n) = d.workload.nextn_accepted {
        argv.extend(["--nextn-accepted".to_string(), n.to_string()]);
    }
    if extra.first() != Some(&"--estimate-mode") {
        let l = ours.agg.as_ref().expect("agg row").layout;
        for (k, v) in [
            ("--tp", l.tp),
            ("--pp", l.pp),
            ("--dp", l.dp),
            ("--etp", l.moe_tp),
            ("--ep", l.moe_ep),
        ] {
            argv.extend([k.to_string(), v.to_string()]);
        }
    }
    argv.extend(extra.iter().map(|s| s.to_string()));
    let cli =
        EstimateCli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{name}: {argv:?}: {e}"));
    let theirs =
        verbs::estimate::estimate(session, &cli.a).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(
        (theirs.row.tokens_per_s_per_gpu - ours.tokens_per_s_per_gpu).abs() <= 0.006,
        "{name}: the reference's row ({}) is no tie with xpyd's ({}): {} vs {} tokens/s/gpu",
        xpyd::report::table::config_label(&theirs.row),
        xpyd::report::table::config_label(ours),
        theirs.row.tokens_per_s_per_gpu,
        ours.tokens_per_s_per_gpu
    );
}

#[test]
fn default_equals_the_reference() {
    let Some(session) = session() else { return };
    let mut compared = Vec::new();
    for (name, argv, stdout) in ok_cases("default") {
        let cli = DefaultCli::try_parse_from(std::iter::once("default".to_string()).chain(argv))
            .unwrap_or_else(|e| panic!("{name}: flags do not parse: {e}"));
        let Some(total) = cli.a.total_gpus else {
            continue;
        };
        let out = verbs::default::search(&session, &cli.a, total)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        // `xpyd default` is `xpyd run` on the file `xpyd new` writes.
        let again = session
            .run_text(
                &out.exp_text,
                "new.yaml",
                None,
                &xpyd::run::RunOptions {
                    top_n: cli.a.top_n,
                    ..Default::default()
                },
                &xpyd::run::CancelToken::new(),
                &|_| {},
            )
            .expect("run of the starter file");
        for (a, b) in out.report.experiments.iter().zip(&again.experiments) {
            assert_eq!(
                a.top, b.top,
                "{name}/{}: default and run of the new file differ",
                a.name
            );
        }
        for mode in ["agg", "disagg"] {
            let Some(theirs) = top_row(&stdout, mode) else {
                assert!(
                    best_of(&out.report, mode).is_none(),
                    "{name}/{mode}: the reference found nothing"
                );
                continue;
            };
            let ours = best_of(&out.report, mode)
                .unwrap_or_else(|| panic!("{name}/{mode}: xpyd found nothing"));
            // The reference's column is the cluster figure (idle GPUs charged).
            let tpg: f64 = cell(&theirs, "tokens/s/gpu").parse().expect("number");
            assert!(
                (ours.tokens_per_s_per_gpu_cluster - tpg).abs() <= 0.006,
                "{name}/{mode}: tokens/s/gpu {} ({}) vs reference {tpg}",
                ours.tokens_per_s_per_gpu_cluster,
                xpyd::report::table::config_label(ours)
            );
            if mode == "agg" {
                assert_eq!(
                    ours.agg.as_ref().map(|a| a.layout),
                    Some(layout(cell(&theirs, "parallel"))),
                    "{name}: agg layout"
                );
                let bs = cell(&theirs, "bs");
                if ours.bs.map(|b| b.to_string()).as_deref() != Some(bs) {
                    assert_tie(
                        &session,
                        &cli.a,
                        ours,
                        &[
                            "--bs",
                            bs,
                            "--ctx-tokens",
                            &ours.ctx_tokens.unwrap_or(0).to_string(),
                        ],
                        &name,
                    );
                }
            } else {
                let (p, d) = (
                    ours.prefill.as_ref().expect("prefill"),
                    ours.decode.as_ref().expect("decode"),
                );
                assert_eq!(
                    p.layout,
                    layout(cell(&theirs, "(p)parallel")),
                    "{name}: prefill layout"
                );
                assert_eq!(
                    d.layout,
                    layout(cell(&theirs, "(d)parallel")),
                    "{name}: decode layout"
                );
                assert_eq!(
                    p.workers.to_string(),
                    cell(&theirs, "(p)workers"),
                    "{name}: prefill workers"
                );
                assert_eq!(
                    d.workers.to_string(),
                    cell(&theirs, "(d)workers"),
                    "{name}: decode workers"
                );
                let dbs = cell(&theirs, "(d)bs");
                if d.bs.to_string() != dbs {
                    let (pw, dw) = (p.workers.to_string(), d.workers.to_string());
                    let mut extra: Vec<String> = vec![
                        "--estimate-mode".into(),
                        "disagg".into(),
                        "--p-bs".into(),
                        p.bs.to_string(),
                        "--p-workers".into(),
                        pw,
                        "--d-bs".into(),
                        dbs.into(),
                        "--d-workers".into(),
                        dw,
                    ];
                    for (flag, l) in [("p", p.layout), ("d", d.layout)] {
                        for (k, v) in [
                            ("tp", l.tp),
                            ("pp", l.pp),
                            ("dp", l.dp),
                            ("etp", l.moe_tp),
                            ("ep", l.moe_ep),
                        ] {
                            extra.push(format!("--{flag}-{k}"));
                            extra.push(v.to_string());
                        }
                    }
                    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
                    assert_tie(&session, &cli.a, ours, &extra, &name);
                }
            }
        }
        compared.push(name);
    }
    eprintln!("default cases compared: {compared:?}");
    assert!(
        compared.len() >= 4,
        "only {} default cases compared",
        compared.len()
    );
}

#[derive(Parser)]
struct RecommendCli {
    #[command(flatten)]
    a: verbs::recommend::RecommendArgs,
}

#[test]
fn recommend_equals_the_reference() {
    let Some(session) = session() else { return };
    let mut compared = Vec::new();
    for (name, argv, stdout) in ok_cases("recommend") {
        let cli =
            RecommendCli::try_parse_from(std::iter::once("recommend".to_string()).chain(argv))
                .unwrap_or_else(|e| panic!("{name}: flags do not parse: {e}"));
        let rec =
            verbs::recommend::recommend(&session, &cli.a).unwrap_or_else(|e| panic!("{name}: {e}"));
        for mode in ["agg", "disagg"] {
            let ours = rec.modes.iter().find(|m| m.mode == mode);
            let Some(theirs) = top_row(&stdout, mode) else {
                assert!(
                    ours.is_none_or(|m| m.rows.is_empty()),
                    "{name}/{mode}: the reference found nothing"
                );
                continue;
            };
            let ours = ours.unwrap_or_else(|| panic!("{name}/{mode}: no answer"));
            let best = ours
                .rows
                .first()
                .unwrap_or_else(|| panic!("{name}/{mode}: no row"));
            let gpus: u32 = cell(&theirs, "total_gpus (used)")
                .split_whitespace()
                .next()
                .and_then(|g| g.parse().ok())
                .expect("total_gpus");
            assert_eq!(ours.gpus_needed, Some(gpus), "{name}/{mode}: GPUs needed");
            assert_eq!(
                best.replicas.to_string(),
                cell(&theirs, "replicas"),
                "{name}/{mode}: replicas"
            );
            if mode == "agg" {
                assert_eq!(
                    best.agg.as_ref().map(|a| a.layout),
                    Some(layout(cell(&theirs, "parallel"))),
                    "{name}: agg layout"
                );
            } else {
                let (p, d) = (
                    best.prefill.as_ref().expect("prefill"),
                    best.decode.as_ref().expect("decode"),
                );
                assert_eq!(
                    d.layout,
                    layout(cell(&theirs, "(d)parallel")),
                    "{name}: decode layout"
                );
                assert_eq!(
                    p.layout,
                    layout(cell(&theirs, "(p)parallel")),
                    "{name}: prefill layout"
                );
                assert_eq!(
                    (p.workers.to_string(), d.workers.to_string()),
                    (
                        cell(&theirs, "(p)workers").to_string(),
                        cell(&theirs, "(d)workers").to_string()
                    ),
                    "{name}: worker counts"
                );
            }
        }
        compared.push(name);
    }
    eprintln!("recommend cases compared: {compared:?}");
    assert!(
        compared.len() >= 4,
        "only {} recommend cases compared",
        compared.len()
    );
}

#[derive(Parser)]
struct SupportCli {
    #[command(flatten)]
    a: verbs::support::SupportArgs,
}

/// The reference's verdicts: (system, backend) → (agg, disagg) as YES/NO/-,
/// from its single check or its matrix.
fn reference_support(stdout: &str, argv: &[String]) -> Vec<((String, String), (String, String))> {
    let lines: Vec<&str> = stdout.lines().collect();
    let flag = |f: &str| {
        argv.iter()
            .position(|a| a == f)
            .and_then(|i| argv.get(i + 1))
            .cloned()
    };
    if let Some(at) = lines.iter().position(|l| l.contains("Aggregated Support:")) {
        let v = |l: &str| l.split(':').nth(1).unwrap_or_default().trim().to_string();
        let system = flag("--system").unwrap_or_default();
        let backend = flag("--backend").unwrap_or_else(|| "trtllm".into());
        return vec![((system, backend), (v(lines[at]), v(lines[at + 1])))];
    }
    let Some(h) = lines
        .iter()
        .position(|l| l.trim_start().starts_with("System "))
    else {
        return Vec::new();
    };
    let backends: Vec<String> = lines[h - 1]
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let mut out = Vec::new();
    for l in &lines[h + 2..] {
        if l.starts_with('=') {
            break;
        }
        let cells: Vec<&str> = l.split_whitespace().collect();
        for (i, b) in backends.iter().enumerate() {
            let (a, d) = (cells[1 + 2 * i], cells[2 + 2 * i]);
            out.push((
                (cells[0].to_string(), b.clone()),
                (a.to_string(), d.to_string()),
            ));
        }
    }
    out
}

#[test]
fn support_equals_the_reference() {
    let Some(session) = session() else { return };
    let mut cells = 0;
    for (name, argv, stdout) in ok_cases("support") {
        let cli =
            SupportCli::try_parse_from(std::iter::once("support".to_string()).chain(argv.clone()))
                .unwrap_or_else(|e| panic!("{name}: flags do not parse: {e}"));
        let ours =
            verbs::support::support(&session, &cli.a).unwrap_or_else(|e| panic!("{name}: {e}"));
        let theirs = reference_support(&stdout, &argv);
        if theirs.is_empty() {
            // The reference found no version for the combination at all.
            assert!(
                ours.rows.iter().all(|r| r.version.is_none()),
                "{name}: {:?}",
                ours.rows
            );
            continue;
        }
        for ((system, backend), (agg, disagg)) in theirs {
            let r = ours
                .rows
                .iter()
                .find(|r| r.system == system && r.backend == backend)
                .unwrap_or_else(|| panic!("{name}: no row for {system}/{backend}"));
            let show = |c: &Option<String>| match c.as_deref() {
                Some("yes") => "YES",
                Some("no") => "NO",
                _ => "-",
            };
            assert_eq!(
                (show(&r.agg), show(&r.disagg)),
                (agg.as_str(), disagg.as_str()),
                "{name}: {system}/{backend}: {}",
                r.reason
            );
            cells += 1;
        }
    }
    assert!(cells >= 40, "only {cells} support cells compared");
}

/// `xpyd new` writes a file the loader accepts, without errors, for every
/// model of the built-in catalog on every system with measured data.
#[test]
fn new_loads_for_every_catalog_model_and_system() {
    let Some(session) = session() else { return };
    let systems: Vec<String> = session
        .catalog
        .db
        .system_names()
        .into_iter()
        .filter(|s| {
            xpyd::domain::Backend::ALL
                .iter()
                .any(|b| !session.catalog.db.versions(s, *b).0.is_empty())
        })
        .collect();
    assert!(systems.len() >= 5, "systems with data: {systems:?}");
    let mut failures = Vec::new();
    let mut checked = 0;
    for model in xpyd::model::known_models() {
        for system in &systems {
            // A backend with data on this system (trtllm when it has some).
            let Some(backend) = xpyd::domain::Backend::ALL
                .iter()
                .find(|b| !session.catalog.db.versions(system, **b).0.is_empty())
            else {
                continue;
            };
            let a = verbs::new::NewArgs {
                target: verbs::flags::Target {
                    model_path: model.to_string(),
                    system: system.clone(),
                    backend: Some(backend.name().into()),
                    ..Default::default()
                },
                total_gpus: 8,
                workload: Default::default(),
                sla: Default::default(),
                kernels: Default::default(),
                serving_mode: "auto".into(),
                output: None,
                open: false,
                inert: Default::default(),
                unsupported: Default::default(),
                unsupported_fraction: Default::default(),
            };
            let text = match verbs::new::starter_or_hybrid(&session, &a) {
                Ok(t) => t,
                Err(e) => {
                    failures.push(format!("{model} on {system}: new: {e}"));
                    continue;
                }
            };
            match xpyd::exp::load_str(&text, "new.yaml", &session.catalog) {
                Ok(f) => assert_eq!(f.tasks.len(), 2, "{model} on {system}"),
                Err(e) => failures.push(format!("{model} on {system}: check: {e}")),
            }
            checked += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
