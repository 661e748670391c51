//! Which quant modes the measured tables hold. The vendor engine decides which
//! files (and which rows of them) serve a (system, backend, version) — its
//! source resolver follows reuse declarations, older versions and the
//! filtered cross-backend fill — and xpyd reads only the dtype columns of
//! those files.

use super::database::QuantTable;
use super::DbError;
use crate::domain::Backend;
use aiconfigurator_core::engine::spec::EngineSpec;
use aiconfigurator_core::engine::Engine;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// An engine with no ops: enough to open the perf database for an identity
/// and ask its source resolver (tables stay unloaded until asked for).
pub fn probe_engine(
    systems_dir: &Path,
    system: &str,
    backend: Backend,
    version: &str,
    database_mode: &str,
) -> Result<Arc<Engine>, String> {
    probe_engine_with(systems_dir, system, backend, version, database_mode, None)
}

type ProbeKey = (PathBuf, String, Backend, String, String, Option<bool>);

/// Probe engines live for the whole process. Besides saving the build, a
/// live engine keeps the vendor's shared tables of its database identity
/// alive, so tables a probe loaded (attention lanes) are not parsed again by
/// the search's engines.
static PROBES: Mutex<Option<HashMap<ProbeKey, Arc<Engine>>>> = Mutex::new(None);

/// [`probe_engine`] with an explicit shared-layer policy (`None` = the
/// engine's default for the mode).
pub fn probe_engine_with(
    systems_dir: &Path,
    system: &str,
    backend: Backend,
    version: &str,
    database_mode: &str,
    enable_shared_layer: Option<bool>,
) -> Result<Arc<Engine>, String> {
    let key: ProbeKey = (
        systems_dir.to_path_buf(),
        system.to_string(),
        backend,
        version.to_string(),
        database_mode.to_string(),
        enable_shared_layer,
    );
    if let Some(e) = PROBES
        .lock()
        .ok()
        .and_then(|m| m.as_ref().and_then(|m| m.get(&key).cloned()))
    {
        return Ok(e);
    }
    let mut spec = serde_json::json!({
        "schema_version": aiconfigurator_core::ENGINE_SPEC_SCHEMA_VERSION,
        "engine": {
            "schema_version": aiconfigurator_core::ENGINE_CONFIG_SCHEMA_VERSION,
            "model_name": "xpyd-probe",
            "system_name": system,
            "backend": backend.name(),
            "backend_version": version,
            "kv_block_size": null,
            "tp_size": 1,
            "pp_size": 1,
            "weight_dtype": null,
            "activation_dtype": null,
            "kv_cache_dtype": null,
            "database_mode": database_mode,
        },
        "context_ops": [],
        "generation_ops": [],
    });
    if let Some(shared) = enable_shared_layer {
        spec["engine"]["enable_shared_layer"] = serde_json::json!(shared);
    }
    let spec: EngineSpec = serde_json::from_value(spec).map_err(|e| e.to_string())?;
    let bytes = spec.to_bincode().map_err(|e| e.to_string())?;
    let engine = Arc::new(Engine::from_spec_bytes(&bytes, systems_dir).map_err(|e| e.to_string())?);
    if let Ok(mut m) = PROBES.lock() {
        return Ok(m
            .get_or_insert_with(HashMap::new)
            .entry(key)
            .or_insert(engine)
            .clone());
    }
    Ok(engine)
}

/// One resolved source: a parquet path and an optional `kernel_source` allow-list.
pub(super) struct Source {
    pub(super) path: PathBuf,
    pub(super) kernel_sources: Option<Vec<String>>,
}

/// The error of a probe engine of (system, backend, version), from its message.
pub(super) fn engine_error<'a>(
    systems_dir: &'a Path,
    system: &'a str,
    backend: Backend,
    version: &'a str,
) -> impl Fn(String) -> DbError + 'a {
    move |message| DbError::Engine {
        path: systems_dir.to_path_buf(),
        system: system.to_string(),
        backend: backend.name().to_string(),
        version: version.to_string(),
        message,
    }
}

pub fn compute(
    systems_dir: &Path,
    system: &str,
    backend: Backend,
    version: &str,
) -> Result<Option<QuantTable>, DbError> {
    let engine_err = engine_error(systems_dir, system, backend, version);
    let engine =
        probe_engine(systems_dir, system, backend, version, "SILICON").map_err(&engine_err)?;
    let sources = |basename: &str| resolved_sources(&engine, basename).map_err(&engine_err);

    let mut table = QuantTable::default();

    // GEMM: fp8_static is never a stored key; it is offered when dynamic fp8
    // GEMM data exists together with both fp8 scaling-overhead tables.
    let mut gemm = first_column(&sources("gemm_perf.parquet")?, "gemm_dtype")?;
    gemm.remove("fp8_static");
    if gemm.contains("fp8")
        && first_column(&sources("computescale_perf.parquet")?, "quant_dtype")?.contains("fp8")
        && first_column(&sources("scale_matrix_perf.parquet")?, "quant_dtype")?.contains("fp8")
    {
        gemm.insert("fp8_static".to_string());
    }
    table.ops.insert("gemm".into(), gemm.into_iter().collect());

    // MoE: two kernel-routed mxfp4 renames; min-latency rows form a separate
    // table that does not count toward the supported list.
    let mut moe = BTreeSet::new();
    for row in distinct(
        &sources("moe_perf.parquet")?,
        &["moe_dtype"],
        &["kernel_source"],
    )? {
        let (dtype, ks) = (row[0].as_str(), row[1].as_str());
        if ks == "moe_torch_flow_min_latency" {
            continue;
        }
        let name = match (dtype, ks) {
            ("w4a8_mxfp4_mxfp8", "sglang_mxfp4_flashinfer_trtllm_moe") => "w4a8_mxfp4_mxfp8_trtllm",
            ("w4a16_mxfp4", "sglang_flashinfer_cutlass_moe") => "w4a16_mxfp4_cutlass",
            (d, _) => d,
        };
        moe.insert(name.to_string());
    }
    table.ops.insert("moe".into(), moe.into_iter().collect());

    let ctx_attn = pairs(
        &sources("context_attention_perf.parquet")?,
        "attn_dtype",
        "kv_cache_dtype",
    )?;
    let mut ctx_mla = pairs(
        &sources("context_mla_perf.parquet")?,
        "mla_dtype",
        "kv_cache_dtype",
    )?;
    // TRT-LLM's large-EP context path reads the granular table alone.
    let granular: BTreeSet<String> = ctx_mla.iter().map(|(f, _)| f.clone()).collect();
    table.ops.insert(
        "context_mla_granular".into(),
        granular.into_iter().collect(),
    );
    // SGLang's wide-EP MLA kernels (large-EP DeepSeek) have tables of their own.
    let wideep_ctx = first_column(&sources("wideep_context_mla_perf.parquet")?, "mla_dtype")?;
    table.ops.insert(
        "wideep_context_mla".into(),
        wideep_ctx.into_iter().collect(),
    );
    let wideep_gen = first_column(
        &sources("wideep_generation_mla_perf.parquet")?,
        "kv_cache_dtype",
    )?;
    table.ops.insert(
        "wideep_generation_mla".into(),
        wideep_gen.into_iter().collect(),
    );
    ctx_mla.extend(pairs(
        &sources("mla_context_module_perf.parquet")?,
        "mla_dtype",
        "kv_cache_dtype",
    )?);
    for (op, set) in [("context_attention", ctx_attn), ("context_mla", ctx_mla)] {
        let fmha: BTreeSet<String> = set.iter().map(|(f, _)| f.clone()).collect();
        table.ops.insert(op.into(), fmha.into_iter().collect());
        table.context_pairs.insert(op.into(), set);
    }

    let gen_attn = first_column(
        &sources("generation_attention_perf.parquet")?,
        "kv_cache_dtype",
    )?;
    table.ops.insert(
        "generation_attention".into(),
        gen_attn.into_iter().collect(),
    );
    let mut gen_mla = first_column(&sources("generation_mla_perf.parquet")?, "kv_cache_dtype")?;
    gen_mla.extend(first_column(
        &sources("mla_generation_module_perf.parquet")?,
        "kv_cache_dtype",
    )?);
    table
        .ops
        .insert("generation_mla".into(), gen_mla.into_iter().collect());

    Ok(Some(table))
}

fn first_column(sources: &[Source], col: &str) -> Result<BTreeSet<String>, DbError> {
    Ok(distinct(sources, &[col], &[])?
        .into_iter()
        .map(|mut r| r.swap_remove(0))
        .collect())
}

fn pairs(sources: &[Source], a: &str, b: &str) -> Result<BTreeSet<(String, String)>, DbError> {
    Ok(distinct(sources, &[a, b], &[])?
        .into_iter()
        .map(|mut r| {
            let second = r.swap_remove(1);
            (r.swap_remove(0), second)
        })
        .collect())
}

/// Resolved sources of one basename for an opened engine, keeping only files
/// that exist.
pub(super) fn resolved_sources(engine: &Engine, basename: &str) -> Result<Vec<Source>, String> {
    let db = engine.database();
    let list = db
        .source_resolver
        .sources_for(basename, &db.data_root)
        .map_err(|e| e.to_string())?;
    Ok(list
        .iter()
        .filter(|s| s.path().is_file())
        .map(|s| Source {
            path: s.path().to_path_buf(),
            kernel_sources: s.kernel_sources().map(<[String]>::to_vec),
        })
        .collect())
}

/// Whether a parquet file's schema has a top-level column.
pub(super) fn has_column(path: &Path, col: &str) -> Result<bool, DbError> {
    let file = std::fs::File::open(path).map_err(|e| DbError::io(path, e))?;
    let reader = SerializedFileReader::new(file).map_err(|e| DbError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let schema = reader.metadata().file_metadata().schema();
    Ok(schema.get_fields().iter().any(|f| f.name() == col))
}

/// Distinct value tuples of string columns over all sources, keeping only
/// rows the source's kernel_source allow-list admits. `required` columns
/// must exist; `optional` ones read as "" when absent.
pub(super) fn distinct(
    sources: &[Source],
    required: &[&str],
    optional: &[&str],
) -> Result<BTreeSet<Vec<String>>, DbError> {
    let mut out = BTreeSet::new();
    for src in sources {
        read_distinct(src, required, optional, &mut out)?;
    }
    Ok(out)
}

fn read_distinct(
    src: &Source,
    required: &[&str],
    optional: &[&str],
    out: &mut BTreeSet<Vec<String>>,
) -> Result<(), DbError> {
    let parse_err = |message: String| DbError::Parse {
        path: src.path.clone(),
        message,
    };
    let file = std::fs::File::open(&src.path).map_err(|e| DbError::io(&src.path, e))?;
    let reader = SerializedFileReader::new(file).map_err(|e| parse_err(e.to_string()))?;
    let schema = reader.metadata().file_metadata().schema();
    let fields = schema.get_fields();
    let has = |name: &str| fields.iter().any(|f| f.name() == name);
    for col in required {
        if !has(col) {
            return Err(parse_err(format!("column '{col}' is missing")));
        }
    }
    let filter = src.kernel_sources.as_deref();
    let mut wanted: Vec<&str> = required.to_vec();
    wanted.extend(optional.iter().copied().filter(|c| has(c)));
    if filter.is_some() && has("kernel_source") && !wanted.contains(&"kernel_source") {
        wanted.push("kernel_source");
    }
    let projected: Vec<_> = fields
        .iter()
        .filter(|f| wanted.contains(&f.name()))
        .cloned()
        .collect();
    let projection = parquet::schema::types::Type::group_type_builder(schema.name())
        .with_fields(projected)
        .build()
        .map_err(|e| parse_err(e.to_string()))?;
    let rows = reader
        .get_row_iter(Some(projection))
        .map_err(|e| parse_err(e.to_string()))?;
    // Output order: required, then optional (absent ones stay empty); the
    // kernel-source filter reads its own slot. Positions are resolved once,
    // from the projected schema, not per row.
    let order: Vec<&str> = required.iter().chain(optional.iter()).copied().collect();
    let slot_of: HashMap<&str, usize> = order.iter().enumerate().map(|(i, c)| (*c, i)).collect();
    let ks_slot = order.len();
    let mut seen: HashSet<Vec<String>> = HashSet::new();
    let mut positions: Option<Vec<Option<usize>>> = None;
    for row in rows {
        let row = row.map_err(|e| parse_err(e.to_string()))?;
        let pos = positions.get_or_insert_with(|| {
            row.get_column_iter()
                .map(|(name, _)| match name.as_str() {
                    "kernel_source" if !slot_of.contains_key("kernel_source") => Some(ks_slot),
                    n => slot_of.get(n).copied(),
                })
                .collect()
        });
        let mut key = vec![String::new(); order.len() + 1];
        for ((_, field), slot) in row.get_column_iter().zip(pos.iter()) {
            let Some(slot) = *slot else { continue };
            key[slot] = match field {
                Field::Str(s) => s.clone(),
                Field::Null => String::new(),
                other => other.to_string(),
            };
        }
        if let Some(allow) = filter {
            // Rows without a kernel_source never pass an allow-list.
            let ks = slot_of.get("kernel_source").copied().unwrap_or(ks_slot);
            if !(has("kernel_source") && allow.iter().any(|a| *a == key[ks])) {
                continue;
            }
        }
        key.truncate(order.len());
        seen.insert(key);
    }
    out.extend(seen);
    Ok(())
}
