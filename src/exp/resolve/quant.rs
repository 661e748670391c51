//! Quant-mode resolution per role: explicit settings over the profile over
//! what the checkpoint implies, the pre-Blackwell nvfp4 rule, the fp8
//! attention fallback, and the SILICON check that data exists for each mode.

use super::{Ctx, Kind};
use crate::domain::{Backend, CommQuant, DbMode, FmhaQuant, GemmQuant, KvQuant, MoeQuant, Quant};
use crate::exp::catalog::{ModelFacts, SystemFacts};
use crate::exp::diag::Diag;
use crate::exp::schema::{Mode, RawWorker, Sp};
use crate::exp::task::QuantExplicit;
use crate::exp::yaml::{clip, Pos};

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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Src {
    Worker(Pos),
    Profile(Pos),
    Derived,
}

impl Src {
    pub(super) fn explicit(self) -> bool {
        self != Src::Derived
    }

    /// Where to point a message about a mode from this source, and how to say
    /// where it came from.
    pub(super) fn locate(self, model_path: Pos) -> (Pos, &'static str) {
        match self {
            Src::Worker(p) => (p, ""),
            Src::Profile(p) => (p, " (from the profile)"),
            Src::Derived => (model_path, " (inferred from the checkpoint)"),
        }
    }
}

/// A role's quant modes with where the attention-related ones came from: the
/// attention tables they are checked against depend on the layouts searched
/// (see `attention.rs`).
#[derive(Clone, Copy, Debug)]
pub(super) struct ResolvedQuant {
    pub quant: Quant,
    pub explicit: QuantExplicit,
    pub fmha_src: Src,
    pub kv_src: Src,
}

#[allow(clippy::too_many_arguments)]
pub(super) fn resolve_quant(
    cx: &mut Ctx,
    d: &mut Diag,
    kind: Kind,
    w: Option<&RawWorker>,
    sys: &SystemFacts,
    backend: Backend,
    ver: &str,
    model: &ModelFacts,
    db: DbMode,
) -> Option<ResolvedQuant> {
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
                let (pos, origin) = src.locate(mp);
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
        }
    }
    Some(ResolvedQuant {
        quant: q,
        explicit: QuantExplicit {
            gemm: gemm.1.explicit(),
            kvcache: kvcache.1.explicit(),
            fmha: fmha.1.explicit(),
        },
        fmha_src: fmha.1,
        kv_src: kvcache.1,
    })
}

pub(super) fn role_label(kind: Kind) -> &'static str {
    match kind {
        Kind::Agg => "worker",
        Kind::Prefill => "prefill",
        Kind::Decode => "decode",
    }
}
