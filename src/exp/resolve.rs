//! Stage 2 of loading: raw experiment → [`Task`], applying the reference's
//! defaults (patch) or only what the user wrote (replace), and checking names,
//! versions, quant modes and parallel lists against the [`Catalog`].
//!
//! # What `mode: replace` means
//! `patch` merges the experiment with every default the reference applies.
//! `replace` switches off the defaults **of the search space and of
//! quantization**, so the search explores exactly what the file lists:
//! - every worker config the serving mode uses must be present
//!   (`worker_config` for agg; `prefill_worker_config` and
//!   `decode_worker_config` for disagg);
//! - in each, `num_gpu_per_worker` and `tp_list` are required, and for MoE
//!   models also `moe_ep_list`; any other parallel list left out is fixed at
//!   `[1]` (that dimension is not searched; context parallelism is never
//!   swept); no per-family default lists, no gb200/gb300 16-GPU lists and no
//!   large-EP ladder are added;
//! - `gemm_quant_mode`, `kvcache_quant_mode`, `fmha_quant_mode` and, for MoE
//!   models, `moe_quant_mode` are required unless a profile supplies them;
//!   nothing is inferred from the checkpoint and there is no bf16 fallback
//!   (`comm_quant_mode` defaults to `half`, its only practical value);
//! - with `nextn > 0`, `nextn_accept_rates` is required (no default rates).
//!
//! Both modes keep: the workload/SLA defaults (isl, osl, prefix, ttft, tpot),
//! backend/version/database defaults, `replica_config` and
//! `advanced_tuning_config` defaults, clamping GPU counts to `total_gpus`, and
//! hardware rules that describe what actually runs (nvfp4 → nvfp4_wo on
//! pre-Blackwell GPUs).

use super::catalog::{Catalog, Family, ModelFacts, SystemFacts};
use super::diag::Diag;
use super::parallel::enumerate;
use super::schema::Mode;
use super::schema::{RawExp, RawWorker, Sp, DP, LIST_KEYS, MOE_EP, MOE_TP, NUM_GPU, TP};
use super::suggest::did_you_mean;
use super::task::{ReplicaConfig, Role, Roles, SearchSpace, Task, Tuning};
use super::yaml::{clip, Pos};
use crate::domain::{
    Backend, CommQuant, DbMode, FmhaQuant, GemmQuant, KvQuant, MoeQuant, Parallel, Quant,
    ServingMode,
};
use std::path::Path;

/// Default MTP accept rates per draft position (reference V1 default).
pub const DEFAULT_ACCEPT_RATES: [f64; 5] = [0.85, 0.3, 0.0, 0.0, 0.0];
const MOE_BACKENDS: &[&str] = &["deepep_moe", "megamoe"];
const ATTENTION_BACKENDS: &[&str] = &[
    "fa3",
    "triton",
    "trtllm_mha",
    "flashinfer",
    "fla",
    "default",
];

/// Expected accepted draft tokens per step: Σ_{i<nextn} Π_{j≤i} p_j (missing positions are 0).
pub fn fold_accept_rates(nextn: u32, rates: &[f64]) -> f64 {
    let mut expectation = 0.0;
    let mut prob = 1.0;
    for i in 0..nextn as usize {
        prob *= rates.get(i).copied().unwrap_or(0.0);
        expectation += prob;
    }
    expectation
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Agg,
    Prefill,
    Decode,
}

impl Kind {
    fn runs_context(self) -> bool {
        self != Kind::Decode
    }
    fn runs_generation(self) -> bool {
        self != Kind::Prefill
    }
    fn config_key(self) -> &'static str {
        match self {
            Kind::Agg => "worker_config",
            Kind::Prefill => "prefill_worker_config",
            Kind::Decode => "decode_worker_config",
        }
    }
}

struct Ctx<'a> {
    raw: &'a RawExp,
    cat: &'a dyn Catalog,
    notes: Vec<String>,
}

impl Ctx<'_> {
    fn exp(&self) -> Option<&str> {
        Some(self.raw.name.as_str())
    }
}

/// Canonical system name for the catalog (`gb200_sxm` is an alias of `gb200`).
pub fn canonical_system(name: &str) -> &str {
    match name {
        "gb200_sxm" => "gb200",
        "gb300_sxm" => "gb300",
        other => other,
    }
}

pub fn resolve(raw: &RawExp, cat: &dyn Catalog, d: &mut Diag) -> Option<Task> {
    let before = d.errors.len();
    let mut cx = Ctx {
        raw,
        cat,
        notes: Vec::new(),
    };
    let exp = Some(raw.name.as_str());
    let serving = raw.serving_mode.v;
    let mode = raw.mode.v;
    let total = raw.total_gpus.v;

    if serving == ServingMode::Disagg && total < 2 {
        d.err(
            exp,
            "total_gpus",
            raw.total_gpus.pos,
            format!(
                "disagg needs at least 2 GPUs (one prefill and one decode worker), got {total}"
            ),
            None,
        );
    }

    // Workload and SLA.
    let isl = raw.isl.as_ref().map_or(4000, |s| s.v);
    let osl = raw.osl.as_ref().map_or(1000, |s| s.v);
    let prefix = raw.prefix.as_ref().map_or(0, |s| s.v);
    if let Some(p) = &raw.prefix {
        if prefix >= isl {
            d.err(
                exp,
                "prefix",
                p.pos,
                format!("prefix ({prefix}) must be smaller than isl ({isl})"),
                Some("the prefix is the cached part of the input".into()),
            );
        }
    }
    let ttft = raw.ttft.as_ref().map_or(1000.0, |s| s.v);
    let tpot = raw.tpot.as_ref().map_or(50.0, |s| s.v);
    let backend = raw.backend_name.as_ref().map_or(Backend::Trtllm, |s| s.v);
    let db = raw.database_mode.as_ref().map_or(DbMode::Silicon, |s| s.v);

    // Systems, versions and the model.
    let psys = lookup_system(&cx, d, "system_name", &raw.system_name);
    let dsys = match (&raw.decode_system_name, serving) {
        (Some(ds), ServingMode::Disagg) => lookup_system(&cx, d, "decode_system_name", ds),
        _ => psys.clone(),
    };
    let pver = psys
        .as_ref()
        .and_then(|s| resolve_version(&mut cx, d, s, backend));
    let dver = match (serving, &dsys, &psys) {
        // One system: one answer (and one error, not two).
        (ServingMode::Disagg, Some(ds), Some(ps)) if ds.name != ps.name => {
            resolve_version(&mut cx, d, ds, backend)
        }
        _ => pver.clone(),
    };
    let model = load_model(&cx, d);

    // MTP.
    let nextn = raw.nextn.as_ref().map_or(0, |s| s.v);
    let mut nextn_accepted = 0.0;
    if nextn > 0 {
        let rates: Option<Vec<f64>> = match (&raw.nextn_accept_rates, mode) {
            (Some(r), _) => {
                if r.v.len() < nextn as usize {
                    d.warn(
                        exp,
                        "config.nextn_accept_rates",
                        r.pos,
                        format!(
                            "{} accept rate(s) for nextn={nextn}: the missing draft positions count as never accepted",
                            r.v.len()
                        ),
                        None,
                    );
                }
                Some(r.v.clone())
            }
            (None, Mode::Replace) => {
                let pos = raw.nextn.as_ref().map_or(raw.pos, |s| s.pos);
                d.err(
                    exp,
                    "config.nextn_accept_rates",
                    pos,
                    format!("mode: replace requires nextn_accept_rates when nextn is {nextn}"),
                    Some("e.g. nextn_accept_rates: [0.85, 0.3, 0, 0, 0]".into()),
                );
                None
            }
            (None, Mode::Patch) => {
                cx.notes.push(format!(
                    "nextn={nextn} without nextn_accept_rates: using the default rates {DEFAULT_ACCEPT_RATES:?}"
                ));
                Some(DEFAULT_ACCEPT_RATES.to_vec())
            }
        };
        if let Some(r) = rates {
            nextn_accepted = fold_accept_rates(nextn, &r);
        }
    } else if let Some(r) = &raw.nextn_accept_rates {
        d.warn(
            exp,
            "config.nextn_accept_rates",
            r.pos,
            "has no effect while nextn is 0",
            Some("set config.nextn to model speculative decoding".into()),
        );
    }

    // Backends for MoE communication and attention.
    let mut moe_backend = None;
    if let Some(m) = &raw.moe_backend {
        match m.v.as_str() {
            "deepep_moe" => {
                if backend != Backend::Sglang {
                    d.warn(
                        exp,
                        "config.moe_backend",
                        m.pos,
                        "deepep_moe has an effect only with backend_name: sglang",
                        None,
                    );
                }
                moe_backend = Some(m.v.clone());
            }
            "megamoe" => d.err(
                exp,
                "config.moe_backend",
                m.pos,
                "megamoe is supported only for DeepSeek-V4 models on Blackwell, which xpyd does not model",
                None,
            ),
            other => {
                let hint = match did_you_mean(other, MOE_BACKENDS.iter().copied()) {
                    Some(h) => format!("{h} allowed: {}, or null", MOE_BACKENDS.join(", ")),
                    None => format!("allowed: {}, or null", MOE_BACKENDS.join(", ")),
                };
                d.err(
                    exp,
                    "config.moe_backend",
                    m.pos,
                    format!("unknown moe_backend '{}'", clip(other)),
                    Some(hint),
                )
            }
        }
    }
    let mut attention_backend = None;
    if let Some(a) = &raw.attention_backend {
        if ATTENTION_BACKENDS.contains(&a.v.as_str()) {
            attention_backend = Some(a.v.clone());
        } else {
            let hint = match did_you_mean(&a.v, ATTENTION_BACKENDS.iter().copied()) {
                Some(h) => format!("{h} allowed: {}", ATTENTION_BACKENDS.join(", ")),
                None => format!("allowed: {}", ATTENTION_BACKENDS.join(", ")),
            };
            d.err(
                exp,
                "config.attention_backend",
                a.pos,
                format!("unknown attention_backend '{}'", clip(&a.v)),
                Some(hint),
            );
        }
    }

    // Nothing below can be checked without the system, version and model.
    let (Some(psys), Some(dsys), Some(pver), Some(dver), Some(model)) =
        (psys, dsys, pver, dver, model)
    else {
        return None;
    };

    // enable_wideep: deprecated flag; on sglang it selects the EP-only MoE lists.
    let top_wide = raw.enable_wideep.as_ref();
    let role_wide = |w: &Option<RawWorker>| -> Option<Sp<bool>> {
        w.as_ref()
            .and_then(|w| w.enable_wideep.clone())
            .or_else(|| top_wide.cloned())
    };
    let kinds: Vec<(Kind, &Option<RawWorker>)> = match serving {
        ServingMode::Agg => vec![(Kind::Agg, &raw.worker)],
        ServingMode::Disagg => vec![(Kind::Prefill, &raw.prefill), (Kind::Decode, &raw.decode)],
    };
    let mut any_wide = false;
    for (_, w) in &kinds {
        if let Some(f) = role_wide(w) {
            if f.v && !any_wide {
                any_wide = true;
                d.warn(
                    exp,
                    "enable_wideep",
                    f.pos,
                    "enable_wideep is deprecated: large expert parallelism is explored from data coverage",
                    Some("restrict EP sizes with moe_ep_list instead".into()),
                );
            }
        }
    }
    if any_wide && moe_backend.is_none() {
        moe_backend = Some("deepep_moe".to_string());
    }

    // Roles: quant, search lists, layouts.
    let mut roles: Vec<(Role, Vec<Parallel>, bool)> = Vec::new();
    let role_sys = |kind: Kind| {
        if kind == Kind::Decode {
            (&dsys, &dver)
        } else {
            (&psys, &pver)
        }
    };
    // Quant modes first: large-EP coverage is keyed on the role's MoE quant mode.
    let mut quants: Vec<Option<Quant>> = Vec::new();
    for (kind, w) in kinds.iter() {
        let (sys, ver) = role_sys(*kind);
        quants.push(if mode == Mode::Replace && w.is_none() {
            None
        } else {
            resolve_quant(&mut cx, d, *kind, w.as_ref(), sys, backend, ver, &model, db)
        });
    }
    // Per role: every covered EP size, and the multi-node ladder (wider than a node).
    let coverage: Vec<(Vec<u32>, Vec<u32>)> = kinds
        .iter()
        .zip(&quants)
        .map(|((kind, _), q)| {
            let (sys, ver) = role_sys(*kind);
            let all = match q {
                Some(q) => large_ep(
                    &cx,
                    &model,
                    sys,
                    backend,
                    ver,
                    q.moe,
                    kind.runs_generation(),
                ),
                None => Vec::new(),
            };
            let ladder = all
                .iter()
                .copied()
                .filter(|&ep| sys.gpus_per_node > 0 && ep > sys.gpus_per_node)
                .collect();
            (all, ladder)
        })
        .collect();
    let disagg_defaults = if serving == ServingMode::Disagg && model.is_moe {
        Some([
            coverage.first().map(|c| c.1.clone()).unwrap_or_default(),
            coverage.get(1).map(|c| c.1.clone()).unwrap_or_default(),
        ])
    } else {
        None
    };
    for (i, (kind, w)) in kinds.iter().enumerate() {
        let (sys, ver) = role_sys(*kind);
        if mode == Mode::Replace && w.is_none() {
            d.err(
                exp,
                &format!("config.{}", kind.config_key()),
                raw.pos,
                "mode: replace requires this worker config (only what you define is searched)",
                Some("add it, or use mode: patch to start from the defaults".into()),
            );
            continue;
        }
        let quant = quants.get(i).copied().flatten();
        let (covered, eps) = coverage.get(i).cloned().unwrap_or_default();
        let defaults = match serving {
            ServingMode::Agg => {
                agg_defaults(&model, backend, &sys.name, moe_backend.as_deref(), &eps)
            }
            ServingMode::Disagg => {
                let [pe, de] = disagg_defaults.clone().unwrap_or_default();
                let (p, dd) = disagg_role_defaults(
                    &model,
                    backend,
                    &psys.name,
                    &dsys.name,
                    moe_backend.as_deref(),
                    [&pe, &de],
                );
                if i == 0 {
                    p
                } else {
                    dd
                }
            }
        };
        let Some(search) = resolve_search(
            &cx,
            d,
            *kind,
            w.as_ref(),
            mode,
            &model,
            backend,
            total,
            defaults,
        ) else {
            continue;
        };
        let tuples = enumerate(&search, model.is_moe, backend, moe_backend.as_deref());
        if tuples.is_empty() {
            explain_no_layout(
                &cx,
                d,
                *kind,
                w.as_ref(),
                &search,
                model.is_moe,
                backend,
                moe_backend.as_deref(),
            );
        }
        // The reference widens the replica budget only when the multi-node
        // ladder exists and some enumerated layout actually resolves large EP.
        let large = !eps.is_empty()
            && tuples.iter().any(|t| {
                t.moe_tp == 1
                    && t.moe_ep > 1
                    && (backend != Backend::Trtllm || t.dp > 1)
                    && covered.contains(&t.moe_ep)
            });
        let Some(quant) = quant else { continue };
        roles.push((
            Role {
                model: raw.model_path.v.clone(),
                system: sys.name.clone(),
                backend,
                backend_version: ver.clone(),
                quant,
                search,
                enable_wideep: role_wide(w).is_some_and(|f| f.v),
            },
            tuples,
            large,
        ));
    }

    if d.errors.len() > before || roles.len() != kinds.len() {
        return None;
    }

    let tuning = resolve_tuning(raw);
    let roles = match serving {
        ServingMode::Agg => {
            let (worker, _, _) = roles.pop()?;
            Roles::Agg { worker }
        }
        ServingMode::Disagg => {
            let (decode, dt, dl) = roles.pop()?;
            let (prefill, pt, pl) = roles.pop()?;
            let replica = resolve_replica(&cx, d, total, pl || dl, &pt, &dt)?;
            Roles::Disagg {
                prefill,
                decode,
                replica,
            }
        }
    };
    if d.errors.len() > before {
        return None;
    }
    if pver_is_empty(&roles) {
        cx.notes.push(
            "no measured database for this system and backend: the search uses built-in SOL estimates"
                .to_string(),
        );
    }
    Some(Task {
        name: raw.name.clone(),
        serving_mode: serving,
        isl,
        osl,
        prefix,
        ttft,
        tpot,
        total_gpus: total,
        database_mode: db,
        nextn,
        nextn_accepted,
        moe_backend,
        attention_backend,
        roles,
        tuning,
        notes: cx.notes,
    })
}

fn pver_is_empty(roles: &Roles) -> bool {
    match roles {
        Roles::Agg { worker } => worker.backend_version.is_empty(),
        Roles::Disagg {
            prefill, decode, ..
        } => prefill.backend_version.is_empty() || decode.backend_version.is_empty(),
    }
}

fn lookup_system(cx: &Ctx, d: &mut Diag, key: &str, name: &Sp<String>) -> Option<SystemFacts> {
    if let Some(s) = cx.cat.system(canonical_system(&name.v)) {
        return Some(s);
    }
    let names = cx.cat.system_names();
    let hint = match did_you_mean(&name.v, names.iter().map(String::as_str)) {
        Some(h) => format!("{h} known systems: {}", names.join(", ")),
        None => format!("known systems: {}", names.join(", ")),
    };
    d.err(
        cx.exp(),
        key,
        name.pos,
        format!("unknown system '{}'", clip(&name.v)),
        Some(hint),
    );
    None
}

/// The version for (system, backend): the explicit one if available, else the catalog's
/// default. An empty string means "no measured data" (built-in SOL).
fn resolve_version(
    cx: &mut Ctx,
    d: &mut Diag,
    sys: &SystemFacts,
    backend: Backend,
) -> Option<String> {
    let (list, default) = cx.cat.versions(&sys.name, backend);
    // SILICON reads only measured tables: with none for this system and
    // backend nothing could be priced. The other modes estimate without them.
    let mode = cx
        .raw
        .database_mode
        .as_ref()
        .map_or(DbMode::Silicon, |s| s.v);
    if list.is_empty() && mode == DbMode::Silicon && cx.cat.has_measured_data() {
        let with_data: Vec<String> = cx
            .cat
            .system_names()
            .into_iter()
            .filter(|s| !cx.cat.versions(s, backend).0.is_empty())
            .collect();
        let (key, pos) = match &cx.raw.backend_name {
            Some(b) => ("backend_name", b.pos),
            None => ("system_name", cx.raw.system_name.pos),
        };
        d.err(
            cx.exp(),
            key,
            pos,
            format!(
                "system {} has no measured data for backend {backend}, and database_mode SILICON reads nothing else",
                sys.name
            ),
            Some(format!(
                "use database_mode: SOL or EMPIRICAL, or a system with {backend} data: {}",
                with_data.join(", ")
            )),
        );
        return None;
    }
    let fallback = default.clone().or_else(|| list.last().cloned());
    let Some(v) = &cx.raw.backend_version else {
        return Some(fallback.unwrap_or_default());
    };
    if v.v == "current" || v.v == "latest" {
        return Some(fallback.unwrap_or_default());
    }
    if list.is_empty() {
        cx.notes.push(format!(
            "backend_version {} for {}/{} could not be checked: no measured data is installed",
            v.v, sys.name, backend
        ));
        return Some(v.v.clone());
    }
    if list.contains(&v.v) {
        return Some(v.v.clone());
    }
    let hint = match did_you_mean(&v.v, list.iter().map(String::as_str)) {
        Some(h) => format!("{h} available: {}", list.join(", ")),
        None => format!("available: {}", list.join(", ")),
    };
    d.err(
        cx.exp(),
        "backend_version",
        v.pos,
        format!(
            "backend_version '{}' has no perf data for system {}, backend {}",
            clip(&v.v),
            sys.name,
            backend
        ),
        Some(hint),
    );
    None
}

fn load_model(cx: &Ctx, d: &mut Diag) -> Option<ModelFacts> {
    let mp = &cx.raw.model_path;
    let p = mp.v.as_str();
    if p.trim().is_empty() {
        d.err(cx.exp(), "model_path", mp.pos, "model_path is empty", None);
        return None;
    }
    // Local paths are checked here so the message does not depend on the catalog.
    let local =
        p.starts_with('/') || p.starts_with("./") || p.starts_with("../") || p.starts_with('~');
    if local {
        let path = Path::new(p);
        if !path.exists() {
            d.err(
                cx.exp(),
                "model_path",
                mp.pos,
                format!("local model path '{}' does not exist", clip(p)),
                Some(
                    "use a HuggingFace id like Qwen/Qwen3-32B or a directory with config.json"
                        .into(),
                ),
            );
            return None;
        }
        let cfg = path.join("config.json");
        if let Err(e) = std::fs::read_to_string(&cfg) {
            d.err(
                cx.exp(),
                "model_path",
                mp.pos,
                format!("cannot read '{}': {e}", clip(&cfg.display().to_string())),
                Some("a local model is a directory holding the HuggingFace config.json".into()),
            );
            return None;
        }
    }
    match cx.cat.model(p) {
        Ok(m) => Some(m),
        Err(msg) => {
            d.err(cx.exp(), "model_path", mp.pos, msg, None);
            None
        }
    }
}

fn large_ep(
    cx: &Ctx,
    model: &ModelFacts,
    sys: &SystemFacts,
    backend: Backend,
    ver: &str,
    moe_quant: MoeQuant,
    runs_generation: bool,
) -> Vec<u32> {
    if !model.is_moe {
        return Vec::new();
    }
    let mode = cx
        .raw
        .database_mode
        .as_ref()
        .map_or(DbMode::Silicon, |s| s.v);
    let mut v = cx.cat.large_ep_sizes(
        model,
        &sys.name,
        backend,
        ver,
        moe_quant,
        runs_generation,
        mode,
    );
    v.sort_unstable();
    v.dedup();
    v
}

/// Quant modes a profile stands for (gemm, moe, kv, fmha, comm).
fn profile_quant(name: &str) -> Option<Quant> {
    use CommQuant::Half;
    let q = |gemm, moe, kvcache, fmha| Quant {
        gemm,
        moe,
        kvcache,
        fmha,
        comm: Half,
    };
    Some(match name {
        "fp8" => q(GemmQuant::Fp8, MoeQuant::Fp8, KvQuant::Fp8, FmhaQuant::Fp8),
        "fp8_static" => q(
            GemmQuant::Fp8Static,
            MoeQuant::Fp8,
            KvQuant::Fp8,
            FmhaQuant::Fp8,
        ),
        "bfloat16" => q(
            GemmQuant::Bfloat16,
            MoeQuant::Bfloat16,
            KvQuant::Bfloat16,
            FmhaQuant::Bfloat16,
        ),
        "nvfp4" => q(
            GemmQuant::Nvfp4,
            MoeQuant::Nvfp4,
            KvQuant::Fp8,
            FmhaQuant::Fp8,
        ),
        "mxfp4" => q(
            GemmQuant::Bfloat16,
            MoeQuant::W4a16Mxfp4,
            KvQuant::Bfloat16,
            FmhaQuant::Bfloat16,
        ),
        _ => return None,
    })
}

/// Where a quant mode came from, for messages and the explicit-wins rules.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Src {
    Worker(Pos),
    Profile(Pos),
    Derived,
}

impl Src {
    fn explicit(self) -> bool {
        self != Src::Derived
    }
}

/// The FMHA modes of the context table this model's prefill reads: MLA for the
/// DeepSeek family, standard context attention otherwise.
fn context_fmha<'a>(model: &ModelFacts, s: &'a super::catalog::SupportedQuants) -> &'a [String] {
    if model.family == Family::Deepseek {
        &s.mla_fmha
    } else {
        &s.fmha
    }
}

#[allow(clippy::too_many_arguments)]
fn resolve_quant(
    cx: &mut Ctx,
    d: &mut Diag,
    kind: Kind,
    w: Option<&RawWorker>,
    sys: &SystemFacts,
    backend: Backend,
    ver: &str,
    model: &ModelFacts,
    db: DbMode,
) -> Option<Quant> {
    let exp = Some(cx.raw.name.clone());
    let exp = exp.as_deref();
    let base = format!("config.{}", kind.config_key());
    let profile = cx
        .raw
        .profile
        .as_ref()
        .and_then(|p| profile_quant(&p.v).map(|q| (q, p.pos)));
    // explicit > profile, with sources.
    fn ex<T: Copy>(worker: Option<&Sp<T>>, profile: Option<(T, Pos)>) -> Option<(T, Src)> {
        worker
            .map(|s| (s.v, Src::Worker(s.pos)))
            .or(profile.map(|(v, p)| (v, Src::Profile(p))))
    }
    let gemm_x = ex(
        w.and_then(|w| w.gemm.as_ref()),
        profile.map(|(q, p)| (q.gemm, p)),
    );
    let moe_x = ex(
        w.and_then(|w| w.moe.as_ref()),
        profile.map(|(q, p)| (q.moe, p)),
    );
    let kv_x = ex(
        w.and_then(|w| w.kvcache.as_ref()),
        profile.map(|(q, p)| (q.kvcache, p)),
    );
    let fmha_x = ex(
        w.and_then(|w| w.fmha.as_ref()),
        profile.map(|(q, p)| (q.fmha, p)),
    );
    let comm_x = ex(
        w.and_then(|w| w.comm.as_ref()),
        profile.map(|(q, p)| (q.comm, p)),
    );

    if !model.is_moe {
        if let Some(m) = w.and_then(|w| w.moe.as_ref()) {
            d.warn(
                exp,
                &format!("{base}.moe_quant_mode"),
                m.pos,
                format!("has no effect: {} is a dense model", clip(&model.id)),
                None,
            );
        }
    }

    let mode = cx.raw.mode.v;
    let (gemm, moe, kvcache, fmha, comm);
    if mode == Mode::Replace {
        let wpos = w.map_or(cx.raw.pos, |w| w.pos);
        let mut missing = Vec::new();
        if gemm_x.is_none() {
            missing.push("gemm_quant_mode");
        }
        if model.is_moe && moe_x.is_none() {
            missing.push("moe_quant_mode");
        }
        if kv_x.is_none() {
            missing.push("kvcache_quant_mode");
        }
        if fmha_x.is_none() {
            missing.push("fmha_quant_mode");
        }
        for m in &missing {
            d.err(
                exp,
                &format!("{base}.{m}"),
                wpos,
                "mode: replace requires this quant mode (nothing is inferred from the checkpoint)",
                Some("set it, add a profile, or use mode: patch".into()),
            );
        }
        if !missing.is_empty() {
            return None;
        }
        gemm = gemm_x?;
        moe = moe_x.unwrap_or((MoeQuant::Bfloat16, Src::Derived));
        kvcache = kv_x?;
        fmha = fmha_x?;
        comm = comm_x.unwrap_or((CommQuant::Half, Src::Derived));
    } else {
        let inf = model.inferred;
        // A quantized checkpoint (fp8 family or nvfp4) implies an fp8 KV cache and fp8 attention.
        let quantized = matches!(
            inf.gemm,
            Some(GemmQuant::Fp8 | GemmQuant::Fp8Static | GemmQuant::Fp8Block | GemmQuant::Nvfp4)
        ) || (inf.kvcache == Some(KvQuant::Fp8)
            && (inf.gemm.is_some() || inf.moe.is_some()));
        let inf_kv = if quantized {
            Some(KvQuant::Fp8)
        } else {
            inf.kvcache
        };
        let inf_fmha = if quantized {
            Some(FmhaQuant::Fp8)
        } else {
            inf.fmha
        };
        let gpt_oss_rule = backend == Backend::Trtllm && model.is_gpt_oss && sys.is_blackwell;
        gemm = gemm_x.unwrap_or((inf.gemm.unwrap_or(GemmQuant::Bfloat16), Src::Derived));
        moe = moe_x.unwrap_or_else(|| {
            let m = if gpt_oss_rule {
                MoeQuant::W4a8Mxfp4Mxfp8
            } else {
                inf.moe.unwrap_or(MoeQuant::Bfloat16)
            };
            (m, Src::Derived)
        });
        kvcache = kv_x.unwrap_or((inf_kv.unwrap_or(KvQuant::Bfloat16), Src::Derived));
        fmha = fmha_x.unwrap_or((inf_fmha.unwrap_or(FmhaQuant::Bfloat16), Src::Derived));
        comm = comm_x.unwrap_or((CommQuant::Half, Src::Derived));
    }

    let mut q = Quant {
        gemm: gemm.0,
        moe: moe.0,
        kvcache: kvcache.0,
        fmha: fmha.0,
        comm: comm.0,
    };
    // No FP4 tensor cores before Blackwell: nvfp4 weights run dequantized.
    if !sys.is_blackwell {
        if q.gemm == GemmQuant::Nvfp4 {
            q.gemm = GemmQuant::Nvfp4Wo;
            cx.notes.push(format!(
                "{}: gemm nvfp4 runs as nvfp4_wo on {} (no FP4 tensor cores)",
                role_label(kind),
                sys.name
            ));
        }
        if q.moe == MoeQuant::Nvfp4 {
            q.moe = MoeQuant::Nvfp4Wo;
            cx.notes.push(format!(
                "{}: moe nvfp4 runs as nvfp4_wo on {} (no FP4 tensor cores)",
                role_label(kind),
                sys.name
            ));
        }
    }
    let supported = cx.cat.supported_quants(&sys.name, backend, ver);
    // Inferred fp8 attention without fp8 context-attention data falls back to bf16.
    if kind.runs_context() && !fmha.1.explicit() && q.fmha == FmhaQuant::Fp8 {
        if let Some(s) = &supported {
            let table = context_fmha(model, s);
            let has = |m: &str| table.iter().any(|x| x == m);
            if !table.is_empty() && !has("fp8") && has("bfloat16") {
                q.fmha = FmhaQuant::Bfloat16;
                cx.notes.push(format!(
                    "{}: fmha fp8 (inferred from the checkpoint) has no context-attention data for {}/{}/{}; using bfloat16 (set {base}.fmha_quant_mode to override)",
                    role_label(kind),
                    sys.name,
                    backend,
                    ver
                ));
            }
        }
    }

    // Only SILICON must have data for the exact mode; the synthetic modes can
    // transfer across quant profiles or need no data at all.
    if db == DbMode::Silicon {
        if let Some(s) = &supported {
            let mp = cx.raw.model_path.pos;
            let mut check = |what: &str, key: &str, name: &str, src: Src, list: &[String]| {
                if list.is_empty() || list.iter().any(|x| x == name) {
                    return;
                }
                if name == "w4a16_mxfp4_cutlass" && list.iter().any(|x| x == "w4a16_mxfp4") {
                    return;
                }
                let (pos, origin) = match src {
                    Src::Worker(p) => (p, String::new()),
                    Src::Profile(p) => (p, " (from the profile)".to_string()),
                    Src::Derived => (mp, " (inferred from the checkpoint)".to_string()),
                };
                let mut sorted: Vec<&str> = list.iter().map(String::as_str).collect();
                sorted.sort_unstable();
                d.err(
                    exp,
                    &format!("{base}.{key}"),
                    pos,
                    format!(
                        "{what} quant mode '{name}'{origin} has no perf data for system {}, backend {}, version {}",
                        sys.name, backend, ver
                    ),
                    Some(format!("supported: {}", sorted.join(", "))),
                );
            };
            check("gemm", "gemm_quant_mode", q.gemm.name(), gemm.1, &s.gemm);
            if model.is_moe {
                check("moe", "moe_quant_mode", q.moe.name(), moe.1, &s.moe);
            }
            if kind.runs_context() {
                check(
                    "fmha",
                    "fmha_quant_mode",
                    q.fmha.name(),
                    fmha.1,
                    context_fmha(model, s),
                );
            }
            if kind.runs_generation() {
                check(
                    "kvcache",
                    "kvcache_quant_mode",
                    q.kvcache.name(),
                    kvcache.1,
                    &s.kvcache,
                );
            }
        }
    }
    Some(q)
}

fn role_label(kind: Kind) -> &'static str {
    match kind {
        Kind::Agg => "worker",
        Kind::Prefill => "prefill",
        Kind::Decode => "decode",
    }
}

/// Default lists in `LIST_KEYS` order plus cp.
type Lists = ([Vec<u32>; 6], Vec<u32>);

const X4: [u32; 4] = [1, 2, 4, 8];
const X5: [u32; 5] = [1, 2, 4, 8, 16];

fn is_gb(system: &str) -> bool {
    matches!(system, "gb200" | "gb300")
}

/// Context parallelism is swept only where the model class supports it (sglang).
fn cp_default(model: &ModelFacts, backend: Backend) -> Vec<u32> {
    match (backend, model.family) {
        (Backend::Sglang, Family::Llama | Family::Moe | Family::Deepseek) => X4.to_vec(),
        _ => vec![1],
    }
}

fn union(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut v: Vec<u32> = a.iter().chain(b).copied().collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn agg_defaults(
    model: &ModelFacts,
    backend: Backend,
    system: &str,
    moe_backend: Option<&str>,
    eps: &[u32],
) -> Lists {
    let cp = cp_default(model, backend);
    if !model.is_moe {
        let wide: Vec<u32> = if is_gb(system) {
            X5.to_vec()
        } else {
            X4.to_vec()
        };
        return ([wide.clone(), wide, vec![1], vec![1], vec![1], vec![1]], cp);
    }
    let x = X5.to_vec();
    let moe_tp = if backend == Backend::Sglang && moe_backend == Some("deepep_moe") {
        vec![1]
    } else {
        x.clone()
    };
    let fused = [x.clone(), x.clone(), vec![1], x.clone(), moe_tp, x];
    if eps.is_empty() {
        return (fused, cp);
    }
    let ladder: [Vec<u32>; 6] = match backend {
        Backend::Trtllm => [
            vec![2, 4, 8, 16, 32, 64],
            X4.to_vec(),
            vec![1],
            vec![2, 4, 8, 16, 32, 64],
            vec![1],
            vec![2, 4, 8, 16, 32, 64],
        ],
        Backend::Sglang => [
            vec![8, 16, 32, 64],
            X4.to_vec(),
            vec![1],
            vec![1, 2, 4, 8, 16, 32, 64],
            vec![1],
            vec![8, 16, 32, 64],
        ],
        Backend::Vllm => [
            eps.to_vec(),
            vec![1],
            vec![1],
            eps.to_vec(),
            vec![1],
            eps.to_vec(),
        ],
    };
    let merged = std::array::from_fn(|i| union(&fused[i], &ladder[i]));
    (merged, cp)
}

/// The reference's disagg list builder for (prefill, decode), without cp.
fn disagg_lists(
    backend: Backend,
    is_moe: bool,
    psys: &str,
    dsys: &str,
    wide: bool,
    moe_backend: Option<&str>,
) -> ([Vec<u32>; 6], [Vec<u32>; 6]) {
    let one = || vec![1u32];
    if !is_moe {
        let role = |sys: &str| {
            let x: Vec<u32> = if is_gb(sys) { X5.to_vec() } else { X4.to_vec() };
            [x.clone(), x, one(), one(), one(), one()]
        };
        return (role(psys), role(dsys));
    }
    let x = X5.to_vec();
    let fused = [x.clone(), x.clone(), one(), x.clone(), x.clone(), x.clone()];
    match backend {
        Backend::Trtllm => {
            let p = if wide {
                [
                    vec![4, 8, 16, 32],
                    X4.to_vec(),
                    one(),
                    vec![4, 8, 16, 32],
                    one(),
                    vec![4, 8, 16, 32],
                ]
            } else {
                fused.clone()
            };
            let d = if wide {
                [
                    vec![4, 8, 16, 32, 64],
                    X4.to_vec(),
                    one(),
                    vec![4, 8, 16, 32, 64],
                    one(),
                    vec![4, 8, 16, 32, 64],
                ]
            } else {
                fused
            };
            (p, d)
        }
        Backend::Sglang => {
            if wide {
                (
                    [
                        vec![8, 16, 32],
                        X4.to_vec(),
                        one(),
                        vec![1, 2, 4, 8, 16, 32],
                        one(),
                        vec![8, 16, 32],
                    ],
                    [
                        vec![8, 16, 32, 64],
                        X4.to_vec(),
                        one(),
                        vec![1, 2, 4, 8, 16, 32, 64],
                        one(),
                        vec![8, 16, 32, 64],
                    ],
                )
            } else if moe_backend == Some("deepep_moe") {
                let r = [x.clone(), x.clone(), one(), x.clone(), one(), x];
                (r.clone(), r)
            } else {
                (fused.clone(), fused)
            }
        }
        Backend::Vllm => (fused.clone(), fused),
    }
}

fn disagg_role_defaults(
    model: &ModelFacts,
    backend: Backend,
    psys: &str,
    dsys: &str,
    moe_backend: Option<&str>,
    eps: [&Vec<u32>; 2],
) -> (Lists, Lists) {
    let (mut p, mut d) = disagg_lists(backend, model.is_moe, psys, dsys, false, moe_backend);
    if model.is_moe && (!eps[0].is_empty() || !eps[1].is_empty()) {
        let (wp, wd) = disagg_lists(backend, true, psys, dsys, true, moe_backend);
        for (lists, wide, e) in [(&mut p, wp, eps[0]), (&mut d, wd, eps[1])] {
            if e.is_empty() {
                continue;
            }
            for i in 0..6 {
                lists[i] = union(&lists[i], &wide[i]);
            }
            if backend == Backend::Vllm {
                for i in [NUM_GPU, DP, MOE_EP] {
                    lists[i] = union(&lists[i], e);
                }
            }
        }
    }
    ((p, cp_default(model, backend)), (d, vec![1]))
}

#[allow(clippy::too_many_arguments)]
fn resolve_search(
    cx: &Ctx,
    d: &mut Diag,
    kind: Kind,
    w: Option<&RawWorker>,
    mode: Mode,
    model: &ModelFacts,
    backend: Backend,
    total: u32,
    defaults: Lists,
) -> Option<SearchSpace> {
    let exp = cx.exp();
    let base = format!("config.{}", kind.config_key());
    let user = |i: usize| w.and_then(|w| w.lists[i].as_ref());
    let mut ok = true;

    if !model.is_moe {
        for i in [DP, MOE_TP, MOE_EP] {
            if let Some(l) = user(i) {
                if l.v.iter().any(|&v| v != 1) {
                    d.err(
                        exp,
                        &format!("{base}.{}", LIST_KEYS[i]),
                        l.pos,
                        format!(
                            "has no effect: {} is a dense model (attention DP and MoE parallelism apply to MoE models)",
                            clip(&model.id)
                        ),
                        Some("remove it or use [1]".into()),
                    );
                    ok = false;
                }
            }
        }
    }

    let (defs, cp_def) = defaults;
    let mut lists: [Vec<u32>; 6] = Default::default();
    for i in 0..6 {
        lists[i] = match (user(i), mode) {
            (Some(l), _) => l.v.clone(),
            (None, Mode::Patch) => defs[i].clone(),
            (None, Mode::Replace) => {
                let required = i == NUM_GPU || i == TP || (model.is_moe && i == MOE_EP);
                if required {
                    d.err(
                        exp,
                        &format!("{base}.{}", LIST_KEYS[i]),
                        w.map_or(cx.raw.pos, |w| w.pos),
                        "mode: replace requires this list (only what you define is searched)",
                        Some("add it, or use mode: patch to start from the defaults".into()),
                    );
                    ok = false;
                }
                vec![1]
            }
        };
    }
    let cp = if mode == Mode::Replace {
        vec![1]
    } else {
        cp_def
    };

    // Workers larger than the whole budget can never be placed.
    let num_gpu: Vec<u32> = lists[NUM_GPU]
        .iter()
        .copied()
        .filter(|&n| n <= total)
        .collect();
    if let Some(l) = user(NUM_GPU) {
        let dropped: Vec<String> =
            l.v.iter()
                .filter(|&&n| n > total)
                .map(u32::to_string)
                .collect();
        if num_gpu.is_empty() {
            d.err(
                exp,
                &format!("{base}.num_gpu_per_worker"),
                l.pos,
                format!("every value exceeds total_gpus ({total})"),
                Some("lower num_gpu_per_worker or raise total_gpus".into()),
            );
            ok = false;
        } else if !dropped.is_empty() {
            d.warn(
                exp,
                &format!("{base}.num_gpu_per_worker"),
                l.pos,
                format!(
                    "values above total_gpus ({total}) are not searched: {}",
                    dropped.join(", ")
                ),
                None,
            );
        }
    }
    lists[NUM_GPU] = num_gpu;
    if !ok {
        return None;
    }
    let [num_gpu, tp, pp, dp, moe_tp, moe_ep] = lists;
    let _ = backend;
    Some(SearchSpace {
        num_gpu,
        tp,
        pp,
        dp,
        moe_tp,
        moe_ep,
        cp,
    })
}

/// Say which constraint leaves a role with no parallel layout.
#[allow(clippy::too_many_arguments)]
fn explain_no_layout(
    cx: &Ctx,
    d: &mut Diag,
    kind: Kind,
    w: Option<&RawWorker>,
    s: &SearchSpace,
    is_moe: bool,
    backend: Backend,
    moe_backend: Option<&str>,
) {
    let base = format!("config.{}", kind.config_key());
    let pos = w.map_or(cx.raw.pos, |w| w.pos);
    let fmt = |v: &[u32]| {
        format!(
            "[{}]",
            v.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
        )
    };
    let cp: &[u32] = if backend == Backend::Sglang {
        &s.cp
    } else {
        &[1]
    };
    let prod =
        |a: u32, b: u32, c: u32, e: u32| u64::from(a) * u64::from(b) * u64::from(c) * u64::from(e);
    let in_gpu = |n: u64| s.num_gpu.iter().any(|&g| u64::from(g) == n);
    let msg = if !is_moe {
        format!(
            "no parallel layout: no tp×pp product is in num_gpu_per_worker {} (tp_list {}, pp_list {})",
            fmt(&s.num_gpu),
            fmt(&s.tp),
            fmt(&s.pp)
        )
    } else {
        let mut gpu_ok = false;
        let mut width_ok = false;
        for &tp in &s.tp {
            for &pp in &s.pp {
                for &dp in &s.dp {
                    for &c in cp {
                        if in_gpu(prod(tp, pp, dp, c)) {
                            gpu_ok = true;
                            let w = prod(tp, dp, c, 1);
                            if s.moe_tp.iter().any(|&a| {
                                s.moe_ep.iter().any(|&b| u64::from(a) * u64::from(b) == w)
                            }) {
                                width_ok = true;
                            }
                        }
                    }
                }
            }
        }
        if !gpu_ok {
            format!(
                "no parallel layout: no tp×pp×dp product is in num_gpu_per_worker {} (tp_list {}, pp_list {}, dp_list {})",
                fmt(&s.num_gpu),
                fmt(&s.tp),
                fmt(&s.pp),
                fmt(&s.dp)
            )
        } else if !width_ok {
            format!(
                "no parallel layout: tp×dp never equals moe_tp×moe_ep for a worker size in num_gpu_per_worker (tp_list {}, dp_list {}, moe_tp_list {}, moe_ep_list {})",
                fmt(&s.tp),
                fmt(&s.dp),
                fmt(&s.moe_tp),
                fmt(&s.moe_ep)
            )
        } else {
            let rule = match backend {
                Backend::Trtllm => "trtllm cannot combine attention tp > 1 with dp > 1",
                Backend::Vllm => "vllm cannot combine moe_tp > 1 with moe_ep > 1",
                Backend::Sglang if moe_backend == Some("megamoe") => "megamoe needs moe_tp 1",
                Backend::Sglang => "the sglang layout rules reject every combination",
            };
            format!("no parallel layout: every combination is rejected because {rule}")
        }
    };
    d.err(cx.exp(), &base, pos, msg, None);
}

fn resolve_tuning(raw: &RawExp) -> Tuning {
    let mut t = Tuning::default();
    if let Some(r) = &raw.tuning {
        if let Some(v) = &r.prefill_latency_correction_scale {
            t.prefill_latency_correction = v.v;
        }
        if let Some(v) = &r.decode_latency_correction_scale {
            t.decode_latency_correction = v.v;
        }
        if let Some(v) = &r.prefill_max_batch_size {
            t.prefill_max_batch_size = v.v;
        }
        if let Some(v) = &r.decode_max_batch_size {
            t.decode_max_batch_size = v.v;
        }
    }
    t
}

/// Bitset of GPU counts `x·p + y·d` (≤ `cap`) reachable with 1 ≤ x ≤ `max_p` prefill
/// workers of one size in `psz` and 1 ≤ y ≤ `max_d` decode workers of one size in `dsz`.
fn replica_sums(psz: &[u32], max_p: u32, dsz: &[u32], max_d: u32, cap: u32) -> Vec<u64> {
    let words = cap as usize / 64 + 1;
    let multiples = |sizes: &[u32], most: u32| {
        let mut bits = vec![0u64; words];
        for &g in sizes {
            for k in 1..=u64::from(most) {
                let s = k * u64::from(g);
                if s > u64::from(cap) {
                    break;
                }
                bits[s as usize / 64] |= 1 << (s % 64);
            }
        }
        bits
    };
    let pbits = multiples(psz, max_p);
    let dbits = multiples(dsz, max_d);
    let mut reach = vec![0u64; words];
    // Shift-or the decode sums by every prefill sum: O(#prefill sums × cap/64).
    for a in 1..=cap as usize {
        if pbits[a / 64] >> (a % 64) & 1 == 0 {
            continue;
        }
        let (ws, bs) = (a / 64, (a % 64) as u32);
        for i in (ws..words).rev() {
            let lo = dbits[i - ws] << bs;
            let hi = if bs > 0 && i > ws {
                dbits[i - ws - 1] >> (64 - bs)
            } else {
                0
            };
            reach[i] |= lo | hi;
        }
    }
    reach
}

/// Default allowed replica sizes: 1, 2, 4, 8, then 16..=128 in steps of 8.
pub fn default_replica_sizes() -> Vec<u32> {
    let mut v = vec![1, 2, 4, 8];
    v.extend((16..=128).step_by(8));
    v
}

fn resolve_replica(
    cx: &Ctx,
    d: &mut Diag,
    total: u32,
    large_ep: bool,
    prefill: &[Parallel],
    decode: &[Parallel],
) -> Option<ReplicaConfig> {
    let exp = cx.exp();
    let r = cx.raw.replica.as_ref();
    let user_list = r.and_then(|r| r.num_gpu_per_replica.as_ref());
    let user_max = r.and_then(|r| r.max_gpu_per_replica.as_ref());
    // With large-EP layouts the reference widens the cap to 512 and allows every size.
    let default_max = if large_ep { 512 } else { 128 };
    let max = match user_max.map(|m| m.v) {
        // 0 = no cap (documented in the seed); the budget still applies.
        Some(0) => total,
        Some(m) => m.min(total),
        None => default_max.min(total),
    };
    let sizes: Vec<u32> = match user_list {
        Some(l) => l.v.iter().copied().filter(|&n| n <= max).collect(),
        None if large_ep => (1..=max).collect(),
        None => default_replica_sizes()
            .into_iter()
            .filter(|&n| n <= max)
            .collect(),
    };
    let max_p = r
        .and_then(|r| r.max_prefill_worker.as_ref())
        .map_or(32, |v| v.v);
    let max_d = r
        .and_then(|r| r.max_decode_worker.as_ref())
        .map_or(32, |v| v.v);
    let pos = r.map_or(cx.raw.pos, |r| r.pos);

    if sizes.is_empty() {
        let at = user_list.map_or(pos, |l| l.pos);
        d.err(
            exp,
            "config.replica_config.num_gpu_per_replica",
            at,
            format!("no replica size is within the cap of {max} GPUs (max_gpu_per_replica and total_gpus)"),
            None,
        );
        return None;
    }

    // Is there any xPyD (x ≤ max_p prefill workers, y ≤ max_d decode workers,
    // each pool homogeneous) whose GPU count is an allowed replica size?
    let mut psz: Vec<u32> = prefill.iter().map(Parallel::gpus).collect();
    let mut dsz: Vec<u32> = decode.iter().map(Parallel::gpus).collect();
    psz.sort_unstable();
    psz.dedup();
    dsz.sort_unstable();
    dsz.dedup();
    if psz.is_empty() || dsz.is_empty() {
        // Already reported as "no parallel layout".
        return None;
    }
    let reach = replica_sums(&psz, max_p, &dsz, max_d, max);
    let feasible = sizes.iter().any(|&n| {
        reach
            .get(n as usize / 64)
            .is_some_and(|w| w >> (n % 64) & 1 == 1)
    });
    if !feasible {
        let smallest = u64::from(psz[0]) + u64::from(dsz[0]);
        let list = sizes
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        d.err(
            exp,
            "config.replica_config",
            pos,
            format!(
                "no xPyD replica fits: the smallest prefill+decode pair needs {smallest} GPUs, allowed replica sizes are [{list}] (cap {max}, at most {max_p} prefill and {max_d} decode workers)"
            ),
            Some("raise max_gpu_per_replica or num_gpu_per_replica, or allow smaller workers".into()),
        );
        return None;
    }
    Some(ReplicaConfig {
        num_gpu_per_replica: sizes,
        max_gpu_per_replica: max,
        max_prefill_workers: max_p,
        max_decode_workers: max_d,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_matches_reference_examples() {
        assert!((fold_accept_rates(2, &DEFAULT_ACCEPT_RATES) - 1.105).abs() < 1e-12);
        assert!((fold_accept_rates(1, &[0.85, 0.0]) - 0.85).abs() < 1e-12);
        assert_eq!(fold_accept_rates(3, &[1.0]), 1.0);
        assert_eq!(fold_accept_rates(0, &[0.9]), 0.0);
    }

    #[test]
    fn replica_sum_bitset() {
        let r = replica_sums(&[2], 2, &[3], 1, 200);
        let has = |n: usize| r[n / 64] >> (n % 64) & 1 == 1;
        assert!(has(5) && has(7));
        assert!(!has(4) && !has(6) && !has(8));
        let r = replica_sums(&[64], 1, &[64], 1, 200);
        assert!(r[2] & 1 == 1); // 128
    }

    #[test]
    fn replica_defaults() {
        let v = default_replica_sizes();
        assert_eq!(v.len(), 19);
        assert_eq!(v[4], 16);
        assert_eq!(v.last(), Some(&128));
    }
}
