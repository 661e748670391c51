//! TEMPORARY (integration branch only): replays op graphs captured from the
//! reference until the real compiler lands. Never merged to main.

use crate::domain::{Backend, DbMode, Parallel, Quant};
use crate::model::ModelArch;
use aiconfigurator_core::engine::spec::EngineSpec;
use std::path::Path;

pub struct CompileRequest<'a> {
    pub model: &'a ModelArch,
    pub system: &'a str,
    pub backend: Backend,
    pub backend_version: &'a str,
    pub parallel: Parallel,
    pub quant: Quant,
    pub nextn: u32,
    pub database_mode: DbMode,
    pub systems_path: Option<&'a Path>,
    pub moe_backend: Option<&'a str>,
    pub attention_backend: Option<&'a str>,
    pub enable_wideep: bool,
    pub is_blackwell: bool,
    pub gpus_per_node: u32,
}

pub struct CompiledGraph {
    pub spec: EngineSpec,
    pub weight_bytes: f64,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CompileError(pub String);

pub fn compile(req: &CompileRequest) -> Result<CompiledGraph, CompileError> {
    let dir =
        std::env::var("XPYD_REPLAY_SPECS").map_err(|_| CompileError("no replay dir".into()))?;
    let p = req.parallel;
    let q = req.quant;
    for entry in std::fs::read_dir(&dir).map_err(|e| CompileError(e.to_string()))? {
        let path = entry.map_err(|e| CompileError(e.to_string()))?.path();
        let text = std::fs::read_to_string(&path).map_err(|e| CompileError(e.to_string()))?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| CompileError(e.to_string()))?;
        let r = &v["request"];
        if v["spec"]["engine"]["model_name"] == "__database_probe__" {
            continue;
        }
        let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
        let n = |k: &str| r[k].as_u64().unwrap_or(0) as u32;
        if s("model") == req.model.id
            && s("system") == req.system
            && s("backend") == req.backend.name()
            && s("backend_version") == req.backend_version
            && (n("tp"), n("pp"), n("dp"), n("moe_tp"), n("moe_ep"), n("cp"))
                == (p.tp, p.pp, p.dp, p.moe_tp, p.moe_ep, p.cp)
            && s("gemm") == q.gemm.name()
            && s("moe") == q.moe.name()
            && s("kvcache") == q.kvcache.name()
            && s("fmha") == q.fmha.name()
            && n("nextn") == req.nextn
            && s("database_mode") == req.database_mode.name()
        {
            let root = req
                .systems_path
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            let spec_text = v["spec"].to_string().replace("$SYSTEMS", &root);
            let spec: EngineSpec =
                serde_json::from_str(&spec_text).map_err(|e| CompileError(e.to_string()))?;
            return Ok(CompiledGraph {
                spec,
                weight_bytes: r["weight_bytes"].as_f64().unwrap_or(0.0),
            });
        }
    }
    Err(CompileError(format!(
        "no captured spec for {} {}",
        req.model.id, p
    )))
}
