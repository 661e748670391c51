//! Database discovery, version slots, supported quants, built-in specs and
//! wheel unpacking. Tests that need the real measured database use
//! `XPYD_SYSTEMS_DIR` (set by `.ci/run`) and are skipped with a message
//! otherwise.

use std::fs;
use std::path::{Path, PathBuf};
use xpyd::domain::Backend;
use xpyd::system::fetch::{install_wheel, status_of, unpack_wheel};
use xpyd::system::locate::{builtin_at, locate_with, validate_measured, LocateInputs};
use xpyd::system::spec::{builtin_system_names, SystemSpec, BUILTIN_FILES};
use xpyd::system::{probe_engine, Database, DbError, DbKind, DbLocation, BUILTIN_BANNER};

const QV: &str = "schema_version: 1\n\
defaults:\n  trtllm: {current: \"1.2.0\", previous: null}\n  vllm: {current: \"0.10.0\", previous: \"0.9.0\"}\n\
overrides:\n  oldgpu:\n    trtllm: {current: \"1.0.0\", previous: null}\n";

fn spec_yaml(name: &str) -> String {
    format!(
        "data_dir: data/{name}\ngpu:\n  mem_bw: 1000000000000\n  mem_capacity: 85899345920\n  \
         bfloat16_tc_flops: 100000000000000\n  sm_version: 90\nnode:\n  num_gpus_per_node: 8\n  \
         intra_node_bw: 1.0e11\n  inter_node_bw: 1.0e10\nmisc:\n  nccl_mem: {{1: 0, 2: 100}}\n  other_mem: 1000\n"
    )
}

fn touch(path: &Path) {
    if let Some(p) = path.parent() {
        fs::create_dir_all(p).unwrap();
    }
    fs::write(path, b"x").unwrap();
}

/// A minimal measured-looking systems folder with versions per backend.
fn fake_db(root: &Path, systems: &[(&str, &[(&str, &str)])]) -> PathBuf {
    let dir = root.join("systems");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("query_versions.yaml"), QV).unwrap();
    for (name, versions) in systems {
        fs::write(dir.join(format!("{name}.yaml")), spec_yaml(name)).unwrap();
        fs::create_dir_all(dir.join("data").join(name)).unwrap();
        for (backend, version) in *versions {
            touch(
                &dir.join("data")
                    .join(name)
                    .join("gemm")
                    .join(backend)
                    .join(version)
                    .join("gemm_perf.parquet"),
            );
        }
    }
    dir
}

fn simple_db(root: &Path) -> PathBuf {
    fake_db(root, &[("gpu", &[("trtllm", "1.2.0")])])
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn discovery_order_flag_env_package_cache() {
    let t = tmp();
    let flag = simple_db(&t.path().join("flag"));
    let env = simple_db(&t.path().join("env"));
    let site = t.path().join("site");
    simple_db(&site.join("aiconfigurator_core"));
    let cache_root = t.path().join("cache");
    simple_db(&cache_root.join("aiconfigurator-core-0.12.0"));
    fs::create_dir_all(cache_root.join("aiconfigurator-core-0.12.0/model_configs")).unwrap();

    let mut inputs = LocateInputs {
        flag: Some(flag.clone()),
        env: Some(env.clone()),
        site_packages: vec![t.path().join("no-such-site"), site.clone()],
        cache_root: Some(cache_root.clone()),
    };
    let loc = locate_with(&inputs).unwrap();
    assert_eq!(
        (loc.source.as_str(), loc.systems_dir.as_path()),
        ("--systems-dir", flag.as_path())
    );
    assert_eq!(loc.kind, DbKind::Measured);

    inputs.flag = None;
    let loc = locate_with(&inputs).unwrap();
    assert_eq!(
        (loc.source.as_str(), loc.systems_dir.as_path()),
        ("XPYD_SYSTEMS_DIR", env.as_path())
    );

    inputs.env = None;
    let loc = locate_with(&inputs).unwrap();
    assert_eq!(loc.source, "python package");
    assert_eq!(loc.systems_dir, site.join("aiconfigurator_core/systems"));

    inputs.site_packages.clear();
    let loc = locate_with(&inputs).unwrap();
    assert_eq!(loc.source, "cache");
    assert_eq!(
        loc.systems_dir,
        cache_root.join("aiconfigurator-core-0.12.0/systems")
    );
    assert_eq!(
        loc.model_configs_dir,
        Some(cache_root.join("aiconfigurator-core-0.12.0/model_configs"))
    );
    assert_eq!(loc.banner(), None);
    assert_eq!(loc.info().kind, "measured");
}

#[test]
fn flag_may_name_the_parent_of_systems() {
    let t = tmp();
    let systems = simple_db(t.path());
    let loc = locate_with(&LocateInputs {
        flag: Some(t.path().to_path_buf()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(loc.systems_dir, systems);
}

#[test]
fn nothing_found_writes_builtin_specs() {
    let t = tmp();
    let loc = locate_with(&LocateInputs {
        cache_root: Some(t.path().join("cache")),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(loc.kind, DbKind::Builtin);
    assert_eq!(loc.source, "built-in");
    assert_eq!(loc.banner(), Some(BUILTIN_BANNER));
    for (name, text) in BUILTIN_FILES {
        assert_eq!(
            &fs::read_to_string(loc.systems_dir.join(name)).unwrap(),
            text
        );
    }
    // Second call rewrites nothing and still succeeds.
    let again = locate_with(&LocateInputs {
        cache_root: Some(t.path().join("cache")),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(again, loc);
}

fn expect_incomplete(dir: &Path, needle: &str) {
    let err = locate_with(&LocateInputs {
        flag: Some(dir.to_path_buf()),
        ..Default::default()
    })
    .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, DbError::Incomplete { .. }), "{msg}");
    assert!(
        msg.contains(&dir.display().to_string()),
        "path missing: {msg}"
    );
    assert!(msg.contains(needle), "expected '{needle}' in: {msg}");
}

#[test]
fn corrupt_folders_name_path_and_missing_piece() {
    let t = tmp();
    let d = simple_db(&t.path().join("a"));
    fs::remove_file(d.join("query_versions.yaml")).unwrap();
    expect_incomplete(&d, "query_versions.yaml");

    let d = simple_db(&t.path().join("b"));
    fs::remove_file(d.join("gpu.yaml")).unwrap();
    expect_incomplete(&d, "<system>.yaml");

    let d = simple_db(&t.path().join("c"));
    fs::remove_dir_all(d.join("data")).unwrap();
    expect_incomplete(&d, "data/");

    let d = simple_db(&t.path().join("d"));
    fs::remove_file(d.join("data/gpu/gemm/trtllm/1.2.0/gemm_perf.parquet")).unwrap();
    expect_incomplete(&d, "*.parquet");

    let missing = t.path().join("nope");
    let err = locate_with(&LocateInputs {
        env: Some(missing.clone()),
        ..Default::default()
    })
    .unwrap_err();
    assert!(matches!(err, DbError::NotADirectory { .. }));
    assert!(err.to_string().contains("XPYD_SYSTEMS_DIR"), "{err}");

    let d = simple_db(&t.path().join("e"));
    fs::write(d.join("query_versions.yaml"), "defaults: [unclosed").unwrap();
    let err = validate_measured(&d, "test").unwrap_err();
    assert!(matches!(err, DbError::Parse { .. }), "{err}");
    assert!(err.to_string().contains("query_versions.yaml"), "{err}");
}

fn open(dir: &Path) -> Database {
    Database::open(DbLocation {
        kind: DbKind::Measured,
        source: "test".into(),
        systems_dir: dir.to_path_buf(),
        model_configs_dir: None,
    })
    .unwrap()
}

fn v(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|s| s.to_string()).collect()
}

#[test]
fn version_slots_follow_reference_rules() {
    let t = tmp();
    let dir = fake_db(
        t.path(),
        &[
            (
                "gpu",
                &[
                    ("trtllm", "1.1.0"),
                    ("trtllm", "1.2.0"),
                    ("vllm", "0.9.0"),
                    ("vllm", "0.10.0"),
                ],
            ),
            // A newer version on another fleet system becomes everyone's next.
            ("gpu2", &[("trtllm", "1.3.0rc2"), ("trtllm", "1.3.0rc10")]),
            // Override systems are frozen: no next, and excluded from the fleet.
            ("oldgpu", &[("trtllm", "1.0.0"), ("trtllm", "9.0.0")]),
            // No slots entry for sglang: every declared folder is listed.
            ("sg", &[("sglang", "0.5.9"), ("sglang", "0.5.10")]),
        ],
    );
    // A version folder holding only sidecars is not measured data.
    touch(&dir.join("data/gpu2/gemm/trtllm/2.0.0/collection_meta.yaml"));
    let db = open(&dir);
    assert_eq!(db.system_names(), v(&["gpu", "gpu2", "oldgpu", "sg"]));
    assert_eq!(
        db.versions("gpu", Backend::Trtllm),
        (v(&["1.2.0", "1.3.0rc10"]), Some("1.2.0".into()))
    );
    assert_eq!(
        db.versions("gpu", Backend::Vllm),
        (v(&["0.9.0", "0.10.0"]), Some("0.10.0".into()))
    );
    assert_eq!(
        db.versions("oldgpu", Backend::Trtllm),
        (v(&["1.0.0"]), Some("1.0.0".into()))
    );
    assert_eq!(
        db.versions("sg", Backend::Sglang),
        (v(&["0.5.10", "0.5.9"]), Some("0.5.10".into()))
    );
    assert_eq!(db.versions("gpu", Backend::Sglang), (vec![], None));
    assert_eq!(
        db.resolve_version("gpu", Backend::Trtllm, "next").unwrap(),
        "1.3.0rc10"
    );
    assert_eq!(
        db.resolve_version("gpu", Backend::Vllm, "previous")
            .unwrap(),
        "0.9.0"
    );
    let err = db
        .resolve_version("gpu", Backend::Trtllm, "1.1.0")
        .unwrap_err();
    assert!(err.contains("1.2.0") && err.contains("1.3.0rc10"), "{err}");
    assert_eq!(
        db.resolve_version("sg", Backend::Sglang, "0.5.9").unwrap(),
        "0.5.9"
    );
    assert!(db.system_facts("nope").is_none());
    let err = db.system_spec("nope").unwrap_err().to_string();
    assert!(err.contains("gpu2"), "{err}");
}

#[test]
fn builtin_database_answers_from_embedded_specs() {
    let t = tmp();
    let db = Database::open(builtin_at(t.path()).unwrap()).unwrap();
    assert_eq!(
        db.system_names(),
        v(&["a100_sxm", "b200_sxm", "gb200", "h100_sxm", "h200_sxm"])
    );
    assert_eq!(
        db.versions("h100_sxm", Backend::Trtllm),
        (v(&["1.3.0rc20"]), Some("1.3.0rc20".into()))
    );
    assert_eq!(
        db.versions("a100_sxm", Backend::Trtllm),
        (v(&["1.0.0"]), Some("1.0.0".into()))
    );
    assert_eq!(
        db.versions("gb200_sxm", Backend::Sglang).1.as_deref(),
        Some("0.5.14")
    );
    assert!(db
        .supported_quants("h100_sxm", Backend::Trtllm, "1.3.0rc20")
        .is_none());
    let gb = db.system_facts("gb200_sxm").unwrap();
    assert_eq!(gb.name, "gb200");
    assert!(gb.is_blackwell);
    assert_eq!(gb.gpus_per_node, 4);
    let h = db.system_spec("h100_sxm").unwrap();
    assert_eq!(h.nccl_mem_bytes(4), 411041792.0);
    assert_eq!(h.mem_capacity_bytes, 80.0 * 1024.0 * 1024.0 * 1024.0);
    let report = status_of(db.location().clone()).to_string();
    assert!(
        report.contains("builtin") && report.contains("1.3.0rc20*"),
        "{report}"
    );
    assert!(report.contains(BUILTIN_BANNER), "{report}");
}

/// Context GEMM through the vendor engine in SOL mode.
fn sol_gemm_ms(systems_dir: &Path, system: &str, tokens: u32) -> f64 {
    let spec = serde_json::json!({
        "schema_version": aiconfigurator_core::ENGINE_SPEC_SCHEMA_VERSION,
        "engine": {
            "schema_version": aiconfigurator_core::ENGINE_CONFIG_SCHEMA_VERSION,
            "model_name": "sol-test", "system_name": system, "backend": "trtllm",
            "backend_version": "1.3.0rc20", "kv_block_size": null, "tp_size": 1, "pp_size": 1,
            "weight_dtype": null, "activation_dtype": null, "kv_cache_dtype": null,
            "database_mode": "SOL",
        },
        "context_ops": [{"Gemm": {"name": "g", "scale_factor": 1.0, "n": 8192, "k": 8192,
            "quant_mode": "bfloat16", "scale_num_tokens": 0, "low_precision_input": false}}],
        "generation_ops": [],
    });
    let spec: aiconfigurator_core::engine::spec::EngineSpec = serde_json::from_value(spec).unwrap();
    let engine = aiconfigurator_core::engine::Engine::from_spec_bytes(
        &spec.to_bincode().unwrap(),
        systems_dir,
    )
    .unwrap_or_else(|e| panic!("{system}: {e}"));
    let ops = engine
        .evaluate_context_ops(&[0], 1, tokens, 0, 1.0, None)
        .unwrap();
    assert_eq!(ops[0].3.to_lowercase(), "sol");
    ops[0].1
}

#[test]
fn builtin_specs_drive_the_engine_in_sol_mode() {
    let t = tmp();
    let loc = builtin_at(t.path()).unwrap();
    for name in builtin_system_names() {
        probe_engine(&loc.systems_dir, &name, Backend::Trtllm, "1.3.0rc20", "SOL")
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let spec = SystemSpec::load(&loc.systems_dir, &name).unwrap();
        let (m, n, k) = (4096.0, 8192.0, 8192.0);
        let flops = spec.bfloat16_tc_flops.unwrap();
        let expected = f64::max(
            2.0 * m * n * k / flops,
            2.0 * (m * n + m * k + n * k) / spec.mem_bw,
        ) * 1000.0;
        let got = sol_gemm_ms(&loc.systems_dir, &name, 4096);
        assert!(
            (got - expected).abs() < 1e-9 * expected,
            "{name}: {got} vs {expected}"
        );
    }
}

/// The real database, when configured.
fn real_db() -> Option<Database> {
    let Some(dir) = std::env::var_os("XPYD_SYSTEMS_DIR") else {
        eprintln!("skipped: XPYD_SYSTEMS_DIR is not set (no measured database)");
        return None;
    };
    let loc = locate_with(&LocateInputs {
        env: Some(PathBuf::from(dir)),
        ..Default::default()
    })
    .expect("XPYD_SYSTEMS_DIR must name a usable database");
    Some(Database::open(loc).unwrap())
}

#[test]
fn real_database_versions_and_defaults() {
    let Some(db) = real_db() else { return };
    for sys in ["h100_sxm", "h200_sxm", "b200_sxm", "gb200"] {
        assert_eq!(
            db.versions(sys, Backend::Trtllm),
            (v(&["1.3.0rc20", "1.3.0rc23"]), Some("1.3.0rc20".into())),
            "{sys}"
        );
        assert_eq!(
            db.versions(sys, Backend::Sglang),
            (v(&["0.5.14", "0.5.16"]), Some("0.5.14".into()))
        );
        assert_eq!(
            db.versions(sys, Backend::Vllm),
            (v(&["0.24.0", "0.27.0"]), Some("0.24.0".into()))
        );
    }
    for (b, ver) in [
        (Backend::Trtllm, "1.0.0"),
        (Backend::Sglang, "0.5.10"),
        (Backend::Vllm, "0.14.0"),
    ] {
        assert_eq!(db.versions("a100_sxm", b), (v(&[ver]), Some(ver.into())));
    }
    // Estimate-only systems have specs but no versions.
    if db.system_names().iter().any(|s| s == "l4") {
        assert_eq!(db.versions("l4", Backend::Trtllm), (vec![], None));
    }
    assert_eq!(db.system_facts("gb200_sxm").unwrap().name, "gb200");
}

#[test]
fn real_database_supported_quants_match_reference() {
    let Some(db) = real_db() else { return };
    let t = db
        .quant_table("h100_sxm", Backend::Trtllm, "1.3.0rc20")
        .unwrap()
        .unwrap();
    let q = t.summary();
    assert_eq!(q.gemm, v(&["bfloat16", "fp8", "fp8_block", "fp8_static"]));
    assert_eq!(q.moe, v(&["bfloat16", "fp8", "fp8_block", "w4a16_mxfp4"]));
    assert_eq!(q.fmha, v(&["bfloat16", "fp8"]));
    assert_eq!(q.kvcache, v(&["bfloat16", "fp8"]));
    assert_eq!(t.ops["context_mla"], v(&["bfloat16"]));
    assert_eq!(t.ops["generation_mla"], v(&["bfloat16", "fp8"]));
    assert_eq!(
        t.fmha_modes_for("context_attention", "bfloat16"),
        v(&["bfloat16"])
    );
    assert_eq!(
        t.fmha_modes_for("context_attention", "fp8"),
        v(&["bfloat16", "fp8"])
    );
    assert_eq!(t.fmha_modes_for("context_mla", "fp8"), v(&["bfloat16"]));

    let q = db
        .supported_quants("a100_sxm", Backend::Trtllm, "1.0.0")
        .unwrap();
    assert_eq!(q.gemm, v(&["bfloat16", "int4_wo", "int8_wo", "sq"]));
    assert_eq!(
        (q.moe, q.fmha, q.kvcache),
        (v(&["bfloat16"]), v(&["bfloat16"]), v(&["bfloat16"]))
    );

    let q = db
        .supported_quants("b200_sxm", Backend::Sglang, "0.5.14")
        .unwrap();
    assert_eq!(
        q.gemm,
        v(&["bfloat16", "fp8", "fp8_block", "fp8_static", "nvfp4"])
    );
    assert_eq!(
        q.moe,
        v(&[
            "bfloat16",
            "fp8_block",
            "int4_wo",
            "nvfp4",
            "w4a16_mxfp4",
            "w4a8_mxfp4_mxfp8",
            "w4a8_mxfp4_mxfp8_trtllm"
        ])
    );

    let q = db
        .supported_quants("h200_sxm", Backend::Vllm, "0.24.0")
        .unwrap();
    assert_eq!(q.fmha, v(&["bfloat16"]));
    assert_eq!(
        q.moe,
        v(&["bfloat16", "fp8", "fp8_block", "int4_wo", "w4a16_mxfp4"])
    );

    let q = db
        .supported_quants("gb200", Backend::Trtllm, "1.3.0rc20")
        .unwrap();
    assert_eq!(
        q.moe,
        v(&[
            "bfloat16",
            "fp8",
            "fp8_block",
            "nvfp4",
            "w4a16_mxfp4",
            "w4a8_mxfp4_mxfp8"
        ])
    );
    // A version that does not exist cannot be opened.
    assert!(db
        .quant_table("h100_sxm", Backend::Trtllm, "0.0.1")
        .is_err());
}

#[test]
fn builtin_specs_agree_with_measured_yaml() {
    let Some(db) = real_db() else { return };
    let mut diffs = Vec::new();
    for name in builtin_system_names() {
        let ours = SystemSpec::builtin(&name).unwrap();
        let Ok(theirs) = db.system_spec(&name) else {
            eprintln!("{name}: not in the measured database; nothing to compare");
            continue;
        };
        let pairs: [(&str, f64, f64); 12] = [
            (
                "mem_capacity",
                ours.mem_capacity_bytes,
                theirs.mem_capacity_bytes,
            ),
            ("mem_bw", ours.mem_bw, theirs.mem_bw),
            (
                "bf16_flops",
                ours.bfloat16_tc_flops.unwrap_or(0.0),
                theirs.bfloat16_tc_flops.unwrap_or(0.0),
            ),
            (
                "fp8_flops",
                ours.fp8_tc_flops.unwrap_or(0.0),
                theirs.fp8_tc_flops.unwrap_or(0.0),
            ),
            (
                "fp4_flops",
                ours.fp4_tc_flops.unwrap_or(0.0),
                theirs.fp4_tc_flops.unwrap_or(0.0),
            ),
            (
                "int8_flops",
                ours.int8_tc_flops.unwrap_or(0.0),
                theirs.int8_tc_flops.unwrap_or(0.0),
            ),
            (
                "gpus_per_node",
                ours.gpus_per_node as f64,
                theirs.gpus_per_node as f64,
            ),
            ("intra_node_bw", ours.intra_node_bw, theirs.intra_node_bw),
            ("inter_node_bw", ours.inter_node_bw, theirs.inter_node_bw),
            ("p2p_latency", ours.p2p_latency, theirs.p2p_latency),
            ("other_mem", ours.other_mem_bytes, theirs.other_mem_bytes),
            (
                "mem_bw_factor",
                ours.mem_bw_empirical_scaling_factor,
                theirs.mem_bw_empirical_scaling_factor,
            ),
        ];
        for (field, a, b) in pairs {
            if a != b {
                diffs.push(format!("{name}.{field}: built-in {a} vs measured {b}"));
            }
        }
        if ours.nccl_mem != theirs.nccl_mem || ours.sm_version != theirs.sm_version {
            diffs.push(format!("{name}: nccl_mem or sm_version differ"));
        }
        if ours.gpus_per_rack != theirs.gpus_per_rack || ours.inter_rack_bw != theirs.inter_rack_bw
        {
            diffs.push(format!("{name}: rack topology differs"));
        }
        if ours.nccl_version != theirs.nccl_version {
            diffs.push(format!("{name}: nccl_version differs"));
        }
        // Same numbers must give the same SOL answers.
        let builtin_dir = tempfile::tempdir().unwrap();
        let loc = builtin_at(builtin_dir.path()).unwrap();
        assert_eq!(
            sol_gemm_ms(&loc.systems_dir, &name, 2048),
            sol_gemm_ms(db.systems_dir(), &name, 2048),
            "{name}"
        );
    }
    assert!(
        diffs.is_empty(),
        "built-in specs differ:\n{}",
        diffs.join("\n")
    );
}

#[test]
fn real_database_status_lists_systems() {
    let Some(db) = real_db() else { return };
    let report = status_of(db.location().clone());
    assert!(report.size_bytes > 10_000_000);
    let text = report.to_string();
    assert!(text.contains("measured (from XPYD_SYSTEMS_DIR)"), "{text}");
    assert!(text.contains("trtllm 1.3.0rc20* 1.3.0rc23"), "{text}");
}

fn python3_available() -> bool {
    std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Build a zip with Python's zipfile from (member name, contents).
fn make_zip(path: &Path, members: &[(&str, &str)]) {
    let script = "import sys, json, zipfile\n\
        with zipfile.ZipFile(sys.argv[1], 'w') as z:\n    \
            for n, c in json.loads(sys.argv[2]): z.writestr(n, c)\n";
    let members = serde_json::to_string(members).unwrap();
    let st = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .arg(members)
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn wheel_unpacks_only_database_folders_atomically() {
    if !python3_available() {
        eprintln!("skipped: python3 is not available");
        return;
    }
    let t = tmp();
    let wheel = t
        .path()
        .join("aiconfigurator_core-0.12.0-cp39-abi3-linux_x86_64.whl");
    let spec = spec_yaml("gpu");
    make_zip(
        &wheel,
        &[
            ("aiconfigurator_core/__init__.py", ""),
            ("aiconfigurator_core/systems/query_versions.yaml", QV),
            ("aiconfigurator_core/systems/gpu.yaml", &spec),
            (
                "aiconfigurator_core/systems/data/gpu/gemm/trtllm/1.2.0/gemm_perf.parquet",
                "pq",
            ),
            ("aiconfigurator_core/model_configs/Org--M_config.json", "{}"),
            ("aiconfigurator_core/systems/../../escape.txt", "bad"),
            ("aiconfigurator_core-0.12.0.dist-info/METADATA", "m"),
        ],
    );
    let cache = t.path().join("cache");
    let mut log = Vec::new();
    let loc = install_wheel(&wheel, &cache, &mut |m| log.push(m.to_string())).unwrap();
    let root = cache.join("aiconfigurator-core-0.12.0");
    assert_eq!(loc.systems_dir, root.join("systems"));
    assert_eq!(loc.model_configs_dir, Some(root.join("model_configs")));
    assert_eq!(loc.source, "cache");
    assert!(root
        .join("systems/data/gpu/gemm/trtllm/1.2.0/gemm_perf.parquet")
        .is_file());
    assert!(root.join("model_configs/Org--M_config.json").is_file());
    assert!(
        !root.join("__init__.py").exists()
            && !root.join("aiconfigurator_core-0.12.0.dist-info").exists()
    );
    assert!(!t.path().join("escape.txt").exists() && !cache.join("escape.txt").exists());
    // No staging folders left behind.
    let leftovers: Vec<_> = fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Idempotent: fetch sees the copy and downloads nothing.
    let mut log2 = Vec::new();
    let again = xpyd::system::fetch(Some(&cache), &mut |m| log2.push(m.to_string())).unwrap();
    assert_eq!(again, loc);
    assert!(
        log2.iter().any(|m| m.contains("already present")),
        "{log2:?}"
    );

    // And discovery finds it in the cache.
    let found = locate_with(&LocateInputs {
        cache_root: Some(cache.clone()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(found, loc);
}

#[test]
fn wheel_without_database_is_rejected() {
    if !python3_available() {
        eprintln!("skipped: python3 is not available");
        return;
    }
    let t = tmp();
    let wheel = t.path().join("w.whl");
    make_zip(&wheel, &[("aiconfigurator_core/__init__.py", "")]);
    let err = unpack_wheel(&wheel, &t.path().join("out")).unwrap_err();
    assert!(
        err.to_string().contains("no aiconfigurator_core/systems/"),
        "{err}"
    );

    // Systems folder without data: unpacks, but installation refuses it and
    // leaves no cache behind.
    let wheel = t.path().join("w2.whl");
    make_zip(
        &wheel,
        &[("aiconfigurator_core/systems/query_versions.yaml", QV)],
    );
    let cache = t.path().join("cache");
    let err = install_wheel(&wheel, &cache, &mut |_| {}).unwrap_err();
    assert!(
        err.to_string()
            .contains("does not contain a usable database"),
        "{err}"
    );
    assert!(!cache.join("aiconfigurator-core-0.12.0").exists());

    let err = unpack_wheel(&t.path().join("missing.whl"), &t.path().join("o")).unwrap_err();
    assert!(err.to_string().contains("missing.whl"), "{err}");
}

/// Downloads the real wheel from PyPI: ignored by default (tests do not touch
/// the network). `.ci/run` uses it to fill the cache when the binary lacks
/// `xpyd db fetch`; `XPYD_FETCH_ROOT` names the cache root to fill.
#[test]
#[ignore]
fn fetch_real_wheel() {
    let scratch = tempfile::tempdir().unwrap();
    let root = std::env::var_os("XPYD_FETCH_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| scratch.path().to_path_buf());
    let loc = xpyd::system::fetch(Some(&root), &mut |m| eprintln!("{m}")).unwrap();
    assert_eq!(loc.kind, DbKind::Measured);
    assert!(loc.model_configs_dir.is_some());
    let db = Database::open(loc).unwrap();
    assert_eq!(
        db.versions("h100_sxm", Backend::Trtllm).1.as_deref(),
        Some("1.3.0rc20")
    );
}

#[test]
fn real_database_large_ep_coverage_matches_reference() {
    use std::collections::{BTreeMap, BTreeSet};
    use xpyd::domain::MoeQuant;
    use xpyd::system::large_ep::{covered_eps, large_ep_eps, LargeEpKey, Phase, WorkerRole};
    use xpyd::system::MoeShape;
    let Some(db) = real_db() else { return };
    let dsv3 = MoeShape {
        hidden_size: 7168,
        moe_inter_size: 2048,
        topk: 8,
        num_experts: 256,
    };
    let set = |xs: &[u32]| xs.iter().copied().collect::<BTreeSet<u32>>();
    let map = |v: Vec<(&str, BTreeSet<u32>)>| {
        v.into_iter()
            .map(|(k, e)| (k.to_string(), e))
            .collect::<BTreeMap<_, _>>()
    };
    let full = set(&[8, 16, 32, 64, 128, 256]);
    let fp8b = MoeQuant::Fp8Block;
    let key = |system, backend, version| LargeEpKey {
        system,
        backend,
        version,
        shared_layer: true,
    };
    let nvlink = set(&[2, 4, 8, 16, 32, 64]);
    let deepep = set(&[4, 8, 16, 32, 64, 128, 256]);
    let h100_trt = key("h100_sxm", Backend::Trtllm, "1.3.0rc20");
    let gb200_trt = key("gb200", Backend::Trtllm, "1.3.0rc20");
    // (tables, phase) → comm backend → explorable EP sizes, for DeepSeek-V3 fp8_block.
    let cases = [
        (
            h100_trt,
            Phase::Context,
            vec![("trtllm_deepep_ht", full.clone())],
        ),
        (
            h100_trt,
            Phase::Generation,
            vec![("trtllm_deepep_ll", full.clone())],
        ),
        (
            gb200_trt,
            Phase::Context,
            vec![
                ("trtllm_deepep_ht", deepep.clone()),
                ("nvlink_two_sided", nvlink.clone()),
            ],
        ),
        (
            gb200_trt,
            Phase::Generation,
            vec![("trtllm_deepep_ll", deepep), ("nvlink_two_sided", nvlink)],
        ),
        (
            key("h100_sxm", Backend::Sglang, "0.5.14"),
            Phase::Context,
            vec![("deepep_ht", full.clone())],
        ),
        (
            key("h100_sxm", Backend::Sglang, "0.5.14"),
            Phase::Generation,
            vec![("deepep_ll", full.clone())],
        ),
        (
            key("b200_sxm", Backend::Vllm, "0.24.0"),
            Phase::Context,
            vec![("deepep_ht", full.clone())],
        ),
        (
            key("b200_sxm", Backend::Vllm, "0.24.0"),
            Phase::Generation,
            vec![("deepep_ll", full.clone())],
        ),
    ];
    for (k, phase, want) in cases {
        assert_eq!(
            db.large_ep_coverage(k, &dsv3, fp8b, phase),
            map(want),
            "{k:?} {phase:?}"
        );
    }
    let cov = db.phase_coverage(h100_trt, &dsv3, fp8b);
    assert_eq!(covered_eps(&cov, WorkerRole::Agg), full);
    // The multi-node ladder of an 8-GPU node.
    assert_eq!(
        large_ep_eps(&cov, WorkerRole::Decode, 8),
        [16, 32, 64, 128, 256]
    );

    // MoE shapes without all-to-all data stay on the fused graph.
    let qwen235 = MoeShape {
        hidden_size: 4096,
        moe_inter_size: 1536,
        topk: 8,
        num_experts: 128,
    };
    let cov = db.phase_coverage(
        key("b200_sxm", Backend::Trtllm, "1.3.0rc20"),
        &qwen235,
        MoeQuant::Bfloat16,
    );
    assert!(cov.is_empty(), "{cov:?}");
    let qwen30 = MoeShape {
        hidden_size: 2048,
        moe_inter_size: 768,
        topk: 8,
        num_experts: 128,
    };
    let cov = db.phase_coverage(
        key("h200_sxm", Backend::Vllm, "0.24.0"),
        &qwen30,
        MoeQuant::Bfloat16,
    );
    assert!(large_ep_eps(&cov, WorkerRole::Decode, 8).is_empty());
}

/// SILICON on a system without measured data for the backend is a located
/// error naming the key and the way out; SOL on the same system runs.
#[test]
fn silicon_without_measured_data_is_a_located_error() {
    let db = match xpyd::system::Database::locate(None) {
        Ok(db) if db.kind() == xpyd::system::DbKind::Measured => db,
        _ => {
            eprintln!("skipping: no measured database (set XPYD_SYSTEMS_DIR)");
            return;
        }
    };
    // h100_pcie ships a spec but no tables.
    if !db.versions("h100_pcie", Backend::Trtllm).0.is_empty() {
        eprintln!("skipping: this database has h100_pcie trtllm data");
        return;
    }
    let cat = xpyd::engine::factory::DbCatalog::new(db);
    let yaml = |mode: &str| {
        format!(
            "exps: [pcie]\npcie:\n  mode: patch\n  serving_mode: disagg\n  model_path: Qwen/Qwen3-8B\n  total_gpus: 8\n  system_name: h100_pcie\n  backend_name: trtllm\n  database_mode: {mode}\n"
        )
    };
    let err = match xpyd::exp::load_str(&yaml("SILICON"), "pcie.yaml", &cat) {
        Ok(_) => panic!("SILICON without data must not load"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("pcie.yaml:8:17"), "{err}");
    assert!(err.contains("key 'backend_name'"), "{err}");
    assert!(
        err.contains("system h100_pcie has no measured data for backend trtllm"),
        "{err}"
    );
    assert!(
        err.contains("database_mode: SOL") && err.contains("h100_sxm"),
        "{err}"
    );
    assert_eq!(err.matches("has no measured data").count(), 1, "{err}");
    assert!(xpyd::exp::load_str(&yaml("SOL"), "pcie.yaml", &cat).is_ok());
}
