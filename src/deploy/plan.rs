//! What a bundle deploys, read off one report row: the backend, the worker
//! roles with their layout, per-rank batch and worker count over the whole
//! GPU budget, and the workload the engine limits are sized for.
//!
//! Every backend file (engine configs, flags, scripts, manifest) is computed
//! from a [`Plan`], never from the row directly, so the rules see one shape.

use crate::domain::Parallel;
use crate::report::{ExperimentReport, Row};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Trtllm,
    Vllm,
    Sglang,
}

impl Backend {
    pub fn parse(name: &str) -> Result<Backend, String> {
        match name {
            "trtllm" => Ok(Backend::Trtllm),
            "vllm" => Ok(Backend::Vllm),
            "sglang" => Ok(Backend::Sglang),
            other => Err(format!(
                "backend '{other}' has no deploy bundle (trtllm, vllm, sglang)"
            )),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Backend::Trtllm => "trtllm",
            Backend::Vllm => "vllm",
            Backend::Sglang => "sglang",
        }
    }
}

/// A worker role of the deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Agg,
    Prefill,
    Decode,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Agg => "agg",
            Role::Prefill => "prefill",
            Role::Decode => "decode",
        }
    }
    /// The engine-config file a TRT-LLM worker of this role reads.
    pub fn config_file(self) -> &'static str {
        match self {
            Role::Agg => "agg_config.yaml",
            Role::Prefill => "prefill_config.yaml",
            Role::Decode => "decode_config.yaml",
        }
    }
    /// Agg workers and decode workers run the generation loop (CUDA graphs, large batches).
    pub fn generates(self) -> bool {
        matches!(self, Role::Agg | Role::Decode)
    }
}

/// One worker role: the row's layout and batch, and how many workers the
/// whole GPU budget holds.
#[derive(Clone, Debug, PartialEq)]
pub struct RolePlan {
    pub role: Role,
    pub layout: Parallel,
    /// Per-rank batch size of the row.
    pub bs: u32,
    /// Workers of this role over the whole deployment.
    pub workers: u32,
    /// The row's KV-cache quant mode (`bfloat16`, `fp8`, ...).
    pub kvcache: String,
}

impl RolePlan {
    /// GPUs one worker occupies: tp·pp·dp·cp of the row's layout.
    ///
    /// The reference multiplies by dp a second time for attention-DP MoE
    /// workers (its rules first widen tp to moe_tp·moe_ep, which already
    /// spans the dp ranks, then multiply by dp again), e.g. 64 GPUs for a
    /// tp1·dp8 worker. A worker's ranks are its GPUs; xpyd counts them once.
    pub fn gpus_per_worker(&self) -> u32 {
        self.layout.gpus()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub backend: Backend,
    pub model: String,
    pub system: String,
    pub isl: u32,
    pub osl: u32,
    pub prefix: u32,
    pub is_moe: bool,
    pub nextn: u32,
    /// `[agg]` or `[prefill, decode]`.
    pub roles: Vec<RolePlan>,
    /// The row's TTFT and TPOT (ms), kept for the header comments.
    pub ttft_ms: f64,
    pub tpot_ms: f64,
    pub tokens_per_s_per_gpu: f64,
}

impl Plan {
    pub fn disagg(&self) -> bool {
        self.roles.iter().any(|r| r.role == Role::Prefill)
    }
    pub fn role(&self, role: Role) -> Option<&RolePlan> {
        self.roles.iter().find(|r| r.role == role)
    }
    /// The benchmark's centre: generating workers × per-rank batch (the
    /// reference's estimate; the sweep brackets it at ±5 %).
    pub fn estimated_concurrency(&self) -> u32 {
        self.roles
            .iter()
            .filter(|r| r.role.generates())
            .map(|r| r.workers * r.bs)
            .sum()
    }
    pub fn total_gpus(&self) -> u32 {
        self.roles
            .iter()
            .map(|r| r.workers * r.gpus_per_worker())
            .sum()
    }
}

/// Workers over the whole budget: agg fills `total_gpus` with copies of the
/// worker; disagg repeats the row's xPyD replica as often as it fits.
fn scaled_workers(total_gpus: u32, per_replica: &[(u32, u32)]) -> Vec<u32> {
    let replica_gpus: u32 = per_replica.iter().map(|(w, g)| w * g).sum();
    let replicas = total_gpus.checked_div(replica_gpus).unwrap_or(1).max(1);
    per_replica.iter().map(|(w, _)| w * replicas).collect()
}

/// The plan of `row`, an agg or disagg row of `exp`.
pub fn plan(exp: &ExperimentReport, row: &Row) -> Result<Plan, String> {
    let backend = Backend::parse(&exp.backend)?;
    let resolved = exp.resolved.as_ref();
    let is_moe = resolved.is_some_and(|s| s.roles.iter().any(|r| r.is_moe));
    let nextn = resolved.map_or(0, |s| s.nextn);
    let roles = match (&row.prefill, &row.decode) {
        (Some(p), Some(d)) => {
            let counts = scaled_workers(
                exp.total_gpus,
                &[(p.workers, p.layout.gpus()), (d.workers, d.layout.gpus())],
            );
            vec![
                RolePlan {
                    role: Role::Prefill,
                    layout: p.layout,
                    bs: p.bs,
                    workers: counts[0],
                    kvcache: p.kvcache.clone(),
                },
                RolePlan {
                    role: Role::Decode,
                    layout: d.layout,
                    bs: d.bs,
                    workers: counts[1],
                    kvcache: d.kvcache.clone(),
                },
            ]
        }
        (None, None) => {
            let a = row
                .agg
                .as_ref()
                .ok_or("the agg row does not record its worker's layout")?;
            let gpus = a.layout.gpus().max(1);
            vec![RolePlan {
                role: Role::Agg,
                layout: a.layout,
                bs: row.bs.unwrap_or(0),
                workers: (exp.total_gpus / gpus).max(1),
                kvcache: a.kvcache.clone(),
            }]
        }
        _ => return Err("disagg row is missing its prefill or decode worker".into()),
    };
    Ok(Plan {
        backend,
        model: exp.model.clone(),
        system: exp.system.clone(),
        isl: exp.isl,
        osl: exp.osl,
        prefix: exp.prefix,
        is_moe,
        nextn,
        roles,
        ttft_ms: row.ttft_ms,
        tpot_ms: row.tpot_ms,
        tokens_per_s_per_gpu: row.tokens_per_s_per_gpu,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn layout(tp: u32, dp: u32, moe_tp: u32, moe_ep: u32) -> Parallel {
        Parallel {
            tp,
            pp: 1,
            dp,
            moe_tp,
            moe_ep,
            cp: 1,
        }
    }

    pub fn role(role: Role, l: Parallel, bs: u32, workers: u32) -> RolePlan {
        RolePlan {
            role,
            layout: l,
            bs,
            workers,
            kvcache: "bfloat16".into(),
        }
    }

    pub fn plan_of(backend: Backend, is_moe: bool, roles: Vec<RolePlan>) -> Plan {
        Plan {
            backend,
            model: "Qwen/Qwen3-32B".into(),
            system: "h200_sxm".into(),
            isl: 4000,
            osl: 1000,
            prefix: 0,
            is_moe,
            nextn: 0,
            roles,
            ttft_ms: 0.0,
            tpot_ms: 0.0,
            tokens_per_s_per_gpu: 0.0,
        }
    }

    #[test]
    fn disagg_replicas_fill_the_gpu_budget() {
        // 4 prefill x1 GPU + 1 decode x4 GPUs = 8 GPUs per replica; 16 GPUs hold two.
        assert_eq!(scaled_workers(16, &[(4, 1), (1, 4)]), vec![8, 2]);
        // A replica larger than the budget still deploys once.
        assert_eq!(scaled_workers(8, &[(1, 16), (1, 16)]), vec![1, 1]);
    }

    #[test]
    fn attention_dp_worker_counts_its_gpus_once() {
        let r = role(Role::Decode, layout(1, 8, 1, 8), 32, 1);
        assert_eq!(r.gpus_per_worker(), 8);
    }

    #[test]
    fn estimated_concurrency_is_generating_workers_times_batch() {
        let p = plan_of(
            Backend::Trtllm,
            false,
            vec![
                role(Role::Prefill, layout(1, 1, 1, 1), 1, 8),
                role(Role::Decode, layout(4, 1, 1, 1), 216, 2),
            ],
        );
        assert_eq!(p.estimated_concurrency(), 432);
        assert_eq!(p.total_gpus(), 16);
    }
}
