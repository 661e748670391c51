//! Attention quant modes against the tables the searched layouts will read.
//!
//! Which attention tables a role reads depends on its layouts: fused layouts
//! read the model's regular context/generation tables, large-EP layouts of
//! DeepSeek read SGLang's wide-EP MLA tables (or TRT-LLM's granular context
//! MLA table). So the checks run once the layouts are enumerated:
//!
//! - an FMHA mode inferred as fp8 falls back to bfloat16 when the reachable
//!   context tables serve bfloat16 better than fp8 (explicit modes stay);
//! - under SILICON, a mode must have data in the first reachable table that
//!   records any (fused before large EP): that regime must run. A later
//!   regime without data only loses its layouts, which is said in a note.
//!
//! Large-EP layouts of SGLang DeepSeek-V3/R1 run fp8_block attention and an
//! fp8 KV cache unless the user wrote those modes ([`Role::layout_quant`]);
//! they are checked with the modes they will run, so a search over wide-EP
//! layouts only is not refused for the inferred mode it never uses.
//!
//! [`Role::layout_quant`]: crate::exp::Role::layout_quant

use super::quant::{role_label, ResolvedQuant};
use super::{Ctx, Kind};
use crate::domain::{Backend, DbMode, FmhaQuant, KvQuant, Parallel};
use crate::exp::catalog::{Family, ModelFacts, SupportedQuants, SystemFacts};
use crate::exp::diag::Diag;

/// Which attention regimes a role's layouts reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Regimes {
    pub fused: bool,
    pub large_ep: bool,
}

/// Regimes of `tuples` (no layout at all counts as fused, as in the reference).
pub(super) fn regimes(tuples: &[Parallel], is_large_ep: impl Fn(&Parallel) -> bool) -> Regimes {
    let large = tuples.iter().filter(|t| is_large_ep(t)).count();
    Regimes {
        fused: large < tuples.len() || tuples.is_empty(),
        large_ep: large > 0,
    }
}

/// One attention table a regime reads: its name and the modes it records.
struct Table<'a> {
    name: &'static str,
    modes: &'a [String],
    /// The regime is SGLang's wide-EP DeepSeek path (per-layout mode switch).
    wideep: bool,
}

/// One mode to check: what it is, its key, each reachable table with the
/// mode queried there, and where the mode came from.
type Check<'t, 'a> = (
    &'static str,
    &'static str,
    Vec<(&'t Table<'a>, &'static str)>,
    super::quant::Src,
);

/// (context, generation) tables of a regime.
fn tables<'a>(
    s: &'a SupportedQuants,
    model: &ModelFacts,
    backend: Backend,
    large_ep: bool,
) -> (Table<'a>, Table<'a>) {
    let t = |name, modes: &'a Vec<String>, wideep| Table {
        name,
        modes: modes.as_slice(),
        wideep,
    };
    if model.family == Family::Deepseek && backend != Backend::Vllm {
        return match (large_ep, backend) {
            (true, Backend::Sglang) => (
                t("wideep_context_mla", &s.wideep_mla_fmha, true),
                t("wideep_generation_mla", &s.wideep_mla_kv, true),
            ),
            (true, _) => (
                t("context_mla_granular", &s.mla_granular_fmha, false),
                t("generation_mla", &s.mla_kv, false),
            ),
            (false, _) => (
                t("context_mla", &s.mla_fmha, false),
                t("generation_mla", &s.mla_kv, false),
            ),
        };
    }
    (
        t("context_attention", &s.fmha, false),
        t("generation_attention", &s.kvcache, false),
    )
}

/// Settle a role's FMHA (fallback) and check FMHA / KV modes against the
/// tables its layouts reach (SILICON only).
#[allow(clippy::too_many_arguments)]
pub(super) fn settle_attention(
    cx: &mut Ctx,
    d: &mut Diag,
    kind: Kind,
    rq: &mut ResolvedQuant,
    model: &ModelFacts,
    sys: &SystemFacts,
    backend: Backend,
    ver: &str,
    db: DbMode,
    reach: Regimes,
) {
    let Some(s) = cx.cat.supported_quants(&sys.name, backend, ver) else {
        return;
    };
    let mut regimes = Vec::new();
    if reach.fused {
        regimes.push(tables(&s, model, backend, false));
    }
    if reach.large_ep {
        regimes.push(tables(&s, model, backend, true));
    }
    let base = format!("config.{}", kind.config_key());
    let per_layout = backend == Backend::Sglang && model.architecture == "DeepseekV3ForCausalLM";

    // Inferred fp8 FMHA without fp8 data in the reachable context tables: keep
    // fp8 unless bfloat16 is served by strictly more of them.
    if kind.runs_context() && !rq.explicit.fmha && rq.quant.fmha == FmhaQuant::Fp8 {
        let informative: Vec<&Table> = regimes
            .iter()
            .map(|(c, _)| c)
            .filter(|c| !c.modes.is_empty())
            .collect();
        let hits = |m: &str| {
            informative
                .iter()
                .filter(|t| t.modes.iter().any(|x| x == m))
                .count()
        };
        let (fp8, bf16) = (hits("fp8"), hits("bfloat16"));
        if !informative.is_empty() && fp8 < bf16 && bf16 > 0 {
            rq.quant.fmha = FmhaQuant::Bfloat16;
            cx.notes.push(format!(
                "{}: fmha fp8 (inferred from the checkpoint) has no context-attention data for {}/{}/{}; using bfloat16 (set {base}.fmha_quant_mode to override)",
                role_label(kind),
                sys.name,
                backend,
                ver
            ));
        }
    }

    if db != DbMode::Silicon {
        return;
    }
    let exp = Some(cx.raw.name.clone());
    let mp = cx.raw.model_path.pos;
    // The mode a table is queried with: wide-EP layouts switch inferred modes.
    let fmha_on = |t: &Table| {
        if t.wideep && per_layout && !rq.explicit.fmha {
            FmhaQuant::Fp8Block
        } else {
            rq.quant.fmha
        }
    };
    let kv_on = |t: &Table| {
        if t.wideep && per_layout && !rq.explicit.kvcache {
            KvQuant::Fp8
        } else {
            rq.quant.kvcache
        }
    };
    let mut checks: Vec<Check> = Vec::new();
    if kind.runs_context() {
        let ctx = regimes
            .iter()
            .map(|(c, _)| (c, fmha_on(c).name()))
            .collect();
        checks.push(("fmha", "fmha_quant_mode", ctx, rq.fmha_src));
    }
    if kind.runs_generation() {
        let gen = regimes.iter().map(|(_, g)| (g, kv_on(g).name())).collect();
        checks.push(("kvcache", "kvcache_quant_mode", gen, rq.kv_src));
    }
    for (what, key, tables, src) in checks {
        let informative: Vec<&(&Table, &str)> =
            tables.iter().filter(|(t, _)| !t.modes.is_empty()).collect();
        let Some(((first, mode), rest)) = informative.split_first() else {
            continue;
        };
        let has = |t: &Table, m: &str| t.modes.iter().any(|x| x == m);
        if !has(first, mode) {
            let (pos, origin) = src.locate(mp);
            let mut sorted: Vec<&str> = first.modes.iter().map(String::as_str).collect();
            sorted.sort_unstable();
            d.err(
                exp.as_deref(),
                &format!("{base}.{key}"),
                pos,
                format!(
                    "{what} quant mode '{mode}'{origin} has no perf data ({} table) for system {}, backend {}, version {}",
                    first.name, sys.name, backend, ver
                ),
                Some(format!("supported: {}", sorted.join(", "))),
            );
            continue;
        }
        for (t, m) in rest {
            if !has(t, m) {
                cx.notes.push(format!(
                    "{}: {} has no {what} {m} data for {}/{}/{}; the layouts that need it are skipped",
                    role_label(kind),
                    t.name,
                    sys.name,
                    backend,
                    ver
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regimes_of_layouts() {
        let fused = Parallel::dense(8, 1);
        let mut wide = Parallel::dense(1, 1);
        wide.dp = 16;
        wide.moe_ep = 16;
        let large = |p: &Parallel| p.moe_ep > 1;
        let r = |t: &[Parallel]| regimes(t, large);
        assert_eq!(
            r(&[]),
            Regimes {
                fused: true,
                large_ep: false
            }
        );
        assert_eq!(
            r(&[fused]),
            Regimes {
                fused: true,
                large_ep: false
            }
        );
        assert_eq!(
            r(&[wide]),
            Regimes {
                fused: false,
                large_ep: true
            }
        );
        assert_eq!(
            r(&[fused, wide]),
            Regimes {
                fused: true,
                large_ep: true
            }
        );
    }
}
