//! The exact caches in front of the vendor engine: a static decode pass priced
//! step by step equals the engine's own pass bit for bit, and a search read
//! back from the step store equals the searched one without building an
//! engine. Needs the measured database; skips with a message otherwise.

use aiconfigurator_core::engine::spec::EngineSpec;
use aiconfigurator_core::engine::{Engine, RuntimeConfig, StaticMode, DEFAULT_STATIC_STRIDE};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use xpyd::engine::bridge::EnginePricer;
use xpyd::engine::cache::EngineCache;
use xpyd::engine::factory::DbCatalog;
use xpyd::run::{CancelToken, RunOptions, Session};
use xpyd::search::pricer::Pricer;
use xpyd::system::{Database, DbKind};

fn measured() -> Option<Database> {
    match Database::locate(None) {
        Ok(db) if db.kind() == DbKind::Measured => Some(db),
        _ => {
            eprintln!("skipping: no measured database (set XPYD_SYSTEMS_DIR)");
            None
        }
    }
}

fn fixture(name: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/specs")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&p).expect("fixture")).expect("fixture json")
}

#[test]
fn static_decode_priced_step_by_step_equals_the_engine_pass() {
    let Some(db) = measured() else { return };
    let root: PathBuf = db.systems_dir().to_path_buf();
    // A dense model, a speculative (nextn 1) MLA model and a MoE model.
    let specs = [
        "built_Qwen3-32B_h200_sxm_sglangtp1pp1dp1etp1ep1cp4_bfloat16_n0_7825b8.json",
        "built_DeepSeek-V3_h200_sxm_sglangtp2pp1dp4etp1ep8cp1_fp8_block_n1_5e5327.json",
        "built_Qwen3-30B-A3B_b200_sxm_trtllmtp1pp1dp8etp1ep8cp1_nvfp4_n0_7cc48b.json",
    ];
    let mut compared = 0;
    for name in specs {
        let v = fixture(name);
        let spec: EngineSpec = serde_json::from_value(v["spec"].clone()).expect("EngineSpec");
        let bytes = spec.to_bincode().expect("bincode");
        let engine = Engine::from_spec_bytes(&bytes, &root).expect("engine");
        let cache = Arc::new(EngineCache::new());
        // osl: long, not a multiple of the stride, one step, none at all.
        for (isl, osl) in [(4000, 1000), (1000, 1001), (128, 33), (512, 2), (512, 1)] {
            let (spec_id, handle) = cache.engine(&spec, &root).expect("engine handle");
            let pricer = EnginePricer {
                cache: cache.clone(),
                spec_json: Arc::new(v["spec"].clone()),
                nextn: 0,
                engine: handle,
                spec_id,
                isl,
                osl,
                prefix: 0,
            };
            for batch in [1, 7, 64, 300] {
                let rt = RuntimeConfig {
                    batch_size: batch,
                    isl,
                    osl,
                    ..Default::default()
                };
                let want = engine
                    .run_static(&rt, StaticMode::Generation, DEFAULT_STATIC_STRIDE)
                    .map(|r| r.generation_ms.to_bits())
                    .map_err(|e| e.to_string());
                let got = pricer.static_gen(batch).map(f64::to_bits).map_err(|e| e.0);
                assert_eq!(got, want, "{name} isl {isl} osl {osl} batch {batch}");
                compared += 1;
            }
        }
    }
    assert_eq!(compared, 60);
}

/// Both examples: the DeepSeek-V3 one also has layouts where no batch fits
/// (nothing priced, yet their graph must not be rebuilt on a rerun).
fn search(session: &Session) -> String {
    let opts = RunOptions {
        top_n: 5,
        keep_feasible: true,
        ..Default::default()
    };
    let mut all = String::new();
    for name in ["qwen3_32b.yaml", "deepseek_v3_compare.yaml"] {
        let file = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(name);
        let mut rep = session
            .run_file(&file, &opts, &CancelToken::new(), &|_| {})
            .expect("search");
        for e in &mut rep.experiments {
            e.elapsed_ms = 0.0;
        }
        all.push_str(&serde_json::to_string(&rep).expect("report json"));
    }
    all
}

fn session(db: &Database, store: &Path) -> Session {
    Session {
        catalog: DbCatalog::new(db.clone()),
        cache: Arc::new(EngineCache::with_store(Some(store.to_path_buf()))),
    }
}

#[test]
fn a_search_read_back_from_the_step_store_is_the_same_search() {
    let Some(db) = measured() else { return };
    let store = tempfile::tempdir().expect("tempdir");

    let first = session(&db, store.path());
    let searched = search(&first);
    assert!(first.cache.evaluations() > 0);
    first.cache.persist();

    // A new process: every step and breakdown comes from disk, no engine is built.
    let second = session(&db, store.path());
    assert_eq!(search(&second), searched);
    assert_eq!(second.cache.evaluations(), 0);
    assert_eq!(second.cache.engines_built(), 0);

    // Damaged files are misses, never wrong numbers.
    for dir in std::fs::read_dir(store.path()).expect("store").flatten() {
        for f in std::fs::read_dir(dir.path()).expect("store dir").flatten() {
            let bytes = std::fs::read(f.path()).expect("read");
            std::fs::write(f.path(), &bytes[..bytes.len() / 2]).expect("truncate");
        }
    }
    let third = session(&db, store.path());
    assert_eq!(search(&third), searched);
    assert!(third.cache.evaluations() > 0);
}

#[test]
fn the_explorer_searches_every_edit_in_one_session() {
    use xpyd::tui::{EngineSearcher, Searcher};
    let Some(_) = measured() else { return };
    let session = Session::open_in_memory(None).expect("session");
    let searcher = EngineSearcher::with_session(RunOptions::default(), session);
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/qwen3_32b.yaml");
    let run = || {
        searcher
            .run(&file, &CancelToken::new(), &|_| {})
            .expect("search")
    };
    let first = run();
    let priced = searcher.evaluations();
    assert!(priced > 0);
    // A save that changes nothing the engine sees is answered from the memo.
    let again = run();
    assert_eq!(searcher.evaluations(), priced);
    assert_eq!(again.experiments.len(), first.experiments.len());
}
