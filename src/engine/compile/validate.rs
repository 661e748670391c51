//! Request checks that run before any graph is built: parallel sizes,
//! head and MoE-width divisibility, CP and cross-node EP rules. Each failure
//! is a [`CompileError`] that says why the layout has no graph.

use super::{CompileError, CompileRequest};
use crate::domain::Backend;
use crate::exp::Family;

pub(super) fn validate(req: &CompileRequest) -> Result<(), CompileError> {
    let m = req.model;
    let p = req.parallel;
    if [p.tp, p.pp, p.dp, p.moe_tp, p.moe_ep, p.cp].contains(&0) {
        return Err(CompileError::InvalidParallel(p));
    }
    if p.cp > 1 {
        if req.backend != Backend::Sglang {
            return Err(CompileError::CpBackend {
                cp: p.cp,
                backend: req.backend,
            });
        }
        if p.tp != 1 || p.dp != 1 {
            return Err(CompileError::CpWithTpDp {
                tp: p.tp,
                dp: p.dp,
                cp: p.cp,
            });
        }
    }
    if !m.num_heads.is_multiple_of(p.tp) {
        return Err(CompileError::HeadsNotDivisible {
            heads: m.num_heads,
            tp: p.tp,
        });
    }
    if m.family == Family::Llama {
        return Ok(());
    }
    let attn = p.tp * p.dp * p.cp;
    let moe = p.moe_tp * p.moe_ep;
    if attn != moe {
        return Err(CompileError::MoeWidth { attn, moe });
    }
    if m.num_experts < p.moe_ep {
        return Err(CompileError::EpExceedsExperts {
            ep: p.moe_ep,
            experts: m.num_experts,
        });
    }
    // The reference checks the block alignment for the MOE family only.
    if m.family == Family::Moe && req.quant.moe == crate::domain::MoeQuant::Fp8Block {
        let block = m.weight_block_size();
        let per_gpu = m.moe_intermediate / p.moe_tp;
        if !per_gpu.is_multiple_of(block) {
            return Err(CompileError::Fp8BlockAlignment {
                inter: m.moe_intermediate,
                moe_tp: p.moe_tp,
                per_gpu,
                block,
            });
        }
    }
    let has_comm = req
        .moe_comm
        .is_some_and(|c| c.context.is_some() || c.generation.is_some());
    if p.moe_ep > req.gpus_per_node {
        if p.moe_tp != 1 {
            return Err(CompileError::CrossNodeEpNeedsPureEp {
                ep: p.moe_ep,
                gpn: req.gpus_per_node,
                moe_tp: p.moe_tp,
            });
        }
        if !has_comm {
            return Err(CompileError::CrossNodeEpNeedsA2a {
                ep: p.moe_ep,
                gpn: req.gpus_per_node,
            });
        }
    }
    Ok(())
}
