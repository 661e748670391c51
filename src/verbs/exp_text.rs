//! The exp YAML the verbs run: a short request built from flags (what the
//! user asked, nothing more), and the full starter file `xpyd new` writes,
//! rendered from the resolved experiments so every default is visible.
//!
//! Both go through the one loader, so `xpyd default` answers exactly what
//! `xpyd run` answers on the file `xpyd new` wrote.

use crate::deploy::pin::{yaml_f64, yaml_str};
use crate::domain::Parallel;
use crate::exp::{Role, Roles, Task};
use std::fmt::Write as _;

/// Settings shared by every experiment of a request.
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub model: String,
    pub system: String,
    pub decode_system: Option<String>,
    pub backend: String,
    pub backend_version: Option<String>,
    pub database_mode: String,
    pub total_gpus: u32,
    pub isl: u32,
    pub osl: u32,
    pub prefix: u32,
    pub ttft: f64,
    pub tpot: f64,
    pub nextn: u32,
    /// Average accepted draft tokens per step (with `nextn` > 0).
    pub nextn_accepted: f64,
    pub moe_backend: Option<String>,
    pub attention_backend: Option<String>,
    /// Quant modes given on the command line (gemm, moe, kvcache, fmha, comm).
    pub quant: [Option<String>; 5],
    /// The model is a mixture of experts (MoE lists and quant apply).
    pub is_moe: bool,
}

/// One experiment of a request.
#[derive(Clone, Debug)]
pub struct ExpSpec {
    pub name: String,
    /// `agg` or `disagg`.
    pub serving_mode: &'static str,
    pub backend: String,
    /// Worker lists to write instead of the defaults: (role key, lists in
    /// `num_gpu_per_worker, tp, pp, dp, moe_tp, moe_ep` order).
    pub lists: Vec<(&'static str, [Vec<u32>; 6])>,
    /// `num_gpu_per_worker` for every role whose lists are not pinned
    /// (the other lists keep their defaults).
    pub num_gpu: Option<Vec<u32>>,
    /// `replica_config` values (sizes, max size, max prefill, max decode workers).
    pub replica: Option<(Vec<u32>, u32, u32, u32)>,
    /// `advanced_tuning_config` batch caps (prefill, decode).
    pub max_batches: Option<(u32, u32)>,
}

impl ExpSpec {
    pub fn new(name: &str, serving_mode: &'static str, backend: &str) -> Self {
        ExpSpec {
            name: name.into(),
            serving_mode,
            backend: backend.into(),
            lists: Vec::new(),
            num_gpu: None,
            replica: None,
            max_batches: None,
        }
    }
}

const QUANT_KEYS: [&str; 5] = [
    "gemm_quant_mode",
    "moe_quant_mode",
    "kvcache_quant_mode",
    "fmha_quant_mode",
    "comm_quant_mode",
];
const LIST_KEYS: [&str; 6] = [
    "num_gpu_per_worker",
    "tp_list",
    "pp_list",
    "dp_list",
    "moe_tp_list",
    "moe_ep_list",
];

fn list(v: &[u32]) -> String {
    let items: Vec<String> = v.iter().map(u32::to_string).collect();
    format!("[{}]", items.join(", "))
}

/// One-element lists of a layout, in `LIST_KEYS` order.
pub fn layout_lists(p: Parallel) -> [Vec<u32>; 6] {
    [
        vec![p.tp * p.pp * p.dp],
        vec![p.tp],
        vec![p.pp],
        vec![p.dp],
        vec![p.moe_tp],
        vec![p.moe_ep],
    ]
}

fn workload(out: &mut String, r: &Request) {
    let _ = writeln!(
        out,
        "  isl: {}\n  osl: {}\n  prefix: {}",
        r.isl, r.osl, r.prefix
    );
    let _ = writeln!(
        out,
        "  ttft: {}\n  tpot: {}",
        yaml_f64(r.ttft),
        yaml_f64(r.tpot)
    );
}

fn mtp_and_kernels(out: &mut String, r: &Request) {
    let _ = writeln!(out, "    nextn: {}", r.nextn);
    if r.nextn > 0 {
        let rates: Vec<String> = super::flags::accept_rates(r.nextn, r.nextn_accepted)
            .into_iter()
            .map(yaml_f64)
            .collect();
        let _ = writeln!(out, "    nextn_accept_rates: [{}]", rates.join(", "));
    }
    if let Some(m) = &r.moe_backend {
        let _ = writeln!(out, "    moe_backend: {}", yaml_str(m));
    }
    if let Some(a) = &r.attention_backend {
        let _ = writeln!(out, "    attention_backend: {}", yaml_str(a));
    }
}

/// The short exp text of a request: the flags, and only the lists and caps
/// the verb pins; everything else is left to the loader's defaults.
pub fn request_yaml(r: &Request, exps: &[ExpSpec]) -> String {
    let mut out = String::new();
    let names: Vec<String> = exps.iter().map(|e| format!("  - {}", e.name)).collect();
    let _ = writeln!(out, "exps:\n{}", names.join("\n"));
    for e in exps {
        let _ = writeln!(out, "{}:", e.name);
        let _ = writeln!(out, "  mode: patch");
        let _ = writeln!(out, "  serving_mode: {}", e.serving_mode);
        let _ = writeln!(out, "  model_path: {}", yaml_str(&r.model));
        let _ = writeln!(out, "  system_name: {}", yaml_str(&r.system));
        if let (Some(d), "disagg") = (&r.decode_system, e.serving_mode) {
            let _ = writeln!(out, "  decode_system_name: {}", yaml_str(d));
        }
        let _ = writeln!(out, "  backend_name: {}", yaml_str(&e.backend));
        if let Some(v) = &r.backend_version {
            let _ = writeln!(out, "  backend_version: {}", yaml_str(v));
        }
        let _ = writeln!(out, "  database_mode: {}", r.database_mode);
        let _ = writeln!(out, "  total_gpus: {}", r.total_gpus);
        workload(&mut out, r);
        let _ = writeln!(out, "  config:");
        mtp_and_kernels(&mut out, r);
        let roles: &[&str] = if e.serving_mode == "agg" {
            &["worker_config"]
        } else {
            &["prefill_worker_config", "decode_worker_config"]
        };
        for role in roles {
            let lists = e.lists.iter().find(|(k, _)| k == role).map(|(_, l)| l);
            let quants: Vec<(&str, &String)> = QUANT_KEYS
                .iter()
                .zip(&r.quant)
                .filter_map(|(k, q)| q.as_ref().map(|q| (*k, q)))
                .collect();
            let num_gpu = e.num_gpu.as_ref().filter(|_| lists.is_none());
            if lists.is_none() && quants.is_empty() && num_gpu.is_none() {
                continue;
            }
            let _ = writeln!(out, "    {role}:");
            for (k, q) in quants {
                let _ = writeln!(out, "      {k}: {}", yaml_str(q));
            }
            for (k, v) in LIST_KEYS.iter().zip(lists.into_iter().flatten()) {
                let _ = writeln!(out, "      {k}: {}", list(v));
            }
            if let Some(n) = num_gpu {
                let _ = writeln!(out, "      num_gpu_per_worker: {}", list(n));
            }
        }
        if let Some((sizes, max, p, d)) = &e.replica {
            let _ = writeln!(out, "    replica_config:");
            let _ = writeln!(out, "      num_gpu_per_replica: {}", list(sizes));
            let _ = writeln!(out, "      max_gpu_per_replica: {max}");
            let _ = writeln!(
                out,
                "      max_prefill_worker: {p}\n      max_decode_worker: {d}"
            );
        }
        if let Some((p, d)) = e.max_batches {
            let _ = writeln!(out, "    advanced_tuning_config:");
            let _ = writeln!(
                out,
                "      prefill_max_batch_size: {p}\n      decode_max_batch_size: {d}"
            );
        }
    }
    out
}

fn role_block(out: &mut String, key: &str, role: &Role, is_moe: bool) {
    let _ = writeln!(out, "    {key}:");
    let q = role.quant;
    let modes = [
        ("gemm_quant_mode", q.gemm.name(), role.explicit.gemm, true),
        ("moe_quant_mode", q.moe.name(), false, is_moe),
        (
            "kvcache_quant_mode",
            q.kvcache.name(),
            role.explicit.kvcache,
            true,
        ),
        ("fmha_quant_mode", q.fmha.name(), role.explicit.fmha, true),
        ("comm_quant_mode", q.comm.name(), false, true),
    ];
    for (k, v, explicit, shown) in modes {
        if !shown {
            continue;
        }
        if explicit {
            let _ = writeln!(out, "      {k}: {}", yaml_str(v));
        } else {
            // Left commented: a written mode is applied to every layer,
            // while an inferred one keeps the layers a checkpoint leaves in
            // bf16 (and per-layout kernel rules) as they are.
            let _ = writeln!(
                out,
                "      # {k}: {v}   (inferred from the checkpoint and the data)"
            );
        }
    }
    let s = &role.search;
    for (k, v) in LIST_KEYS
        .iter()
        .zip([&s.num_gpu, &s.tp, &s.pp, &s.dp, &s.moe_tp, &s.moe_ep])
    {
        let _ = writeln!(out, "      {k}: {}", list(v));
    }
}

/// The commented starter file: the resolved experiments with every search
/// list, cap and correction written out (quant modes as comments, see
/// [`role_block`]).
pub fn starter_yaml(r: &Request, tasks: &[Task], header: &str) -> String {
    let mut out = String::new();
    for line in header.lines() {
        let _ = writeln!(out, "# {line}");
    }
    let _ = writeln!(
        out,
        "#\n# Every value below is what the search uses; edit any of them and rerun\n# `xpyd run FILE` (or open it live with `xpyd FILE`). `xpyd check FILE` validates."
    );
    let names: Vec<String> = tasks.iter().map(|t| format!("  - {}", t.name)).collect();
    let _ = writeln!(out, "exps:\n{}\n", names.join("\n"));
    for t in tasks {
        let first = t.first_role();
        let is_moe = r.is_moe;
        let _ = writeln!(
            out,
            "# {}: {} serving of {} on {} ({} GPUs in all)",
            t.name,
            t.serving_mode.name(),
            first.model,
            first.system,
            t.total_gpus
        );
        let _ = writeln!(out, "{}:", t.name);
        let _ = writeln!(
            out,
            "  # patch: lists not written here would take the defaults"
        );
        let _ = writeln!(out, "  mode: patch");
        let _ = writeln!(out, "  serving_mode: {}", t.serving_mode.name());
        let _ = writeln!(out, "  model_path: {}", yaml_str(&first.model));
        let _ = writeln!(out, "  system_name: {}", yaml_str(&first.system));
        if let Roles::Disagg { decode, .. } = &t.roles {
            if decode.system != first.system {
                let _ = writeln!(out, "  decode_system_name: {}", yaml_str(&decode.system));
            }
        }
        let _ = writeln!(out, "  backend_name: {}", first.backend.name());
        let _ = writeln!(
            out,
            "  backend_version: {}   # the database version priced against",
            yaml_str(&first.backend_version)
        );
        let _ = writeln!(
            out,
            "  database_mode: {}   # SILICON | HYBRID | EMPIRICAL | SOL",
            t.database_mode.name()
        );
        let _ = writeln!(out, "  total_gpus: {}", t.total_gpus);
        let _ = writeln!(out, "  # workload (tokens) and SLA targets (ms)");
        workload(
            &mut out,
            &Request {
                isl: t.isl,
                osl: t.osl,
                prefix: t.prefix,
                ttft: t.ttft,
                tpot: t.tpot,
                ..r.clone()
            },
        );
        let _ = writeln!(out, "  config:");
        let _ = writeln!(
            out,
            "    # speculative decoding: draft tokens and per-position accept rates"
        );
        let _ = writeln!(out, "    nextn: {}", t.nextn);
        if t.nextn > 0 {
            let rates: Vec<String> = t.nextn_accept_rates.iter().map(|&x| yaml_f64(x)).collect();
            let _ = writeln!(out, "    nextn_accept_rates: [{}]", rates.join(", "));
        }
        match &t.moe_backend {
            Some(m) => {
                let _ = writeln!(out, "    moe_backend: {}", yaml_str(m));
            }
            None => {
                let _ = writeln!(out, "    # moe_backend: deepep_moe | megamoe   (sglang only; unset = default kernels)");
            }
        }
        match &t.attention_backend {
            Some(a) => {
                let _ = writeln!(out, "    attention_backend: {}", yaml_str(a));
            }
            None => {
                let _ = writeln!(out, "    # attention_backend: fa3 | triton | trtllm_mha | flashinfer | fla | default");
            }
        }
        match &t.roles {
            Roles::Agg { worker } => {
                let _ = writeln!(
                    out,
                    "    # one pool runs prefill and decode; every layout below is searched"
                );
                role_block(&mut out, "worker_config", worker, is_moe);
            }
            Roles::Disagg {
                prefill,
                decode,
                replica,
            } => {
                let _ = writeln!(
                    out,
                    "    # prefill and decode pools, combined into xPyD replicas"
                );
                role_block(&mut out, "prefill_worker_config", prefill, is_moe);
                role_block(&mut out, "decode_worker_config", decode, is_moe);
                let _ = writeln!(out, "    replica_config:");
                let _ = writeln!(
                    out,
                    "      num_gpu_per_replica: {}",
                    list(&replica.num_gpu_per_replica)
                );
                let _ = writeln!(
                    out,
                    "      max_gpu_per_replica: {}",
                    replica.max_gpu_per_replica
                );
                let _ = writeln!(
                    out,
                    "      max_prefill_worker: {}",
                    replica.max_prefill_workers
                );
                let _ = writeln!(
                    out,
                    "      max_decode_worker: {}",
                    replica.max_decode_workers
                );
                let tu = &t.tuning;
                let _ = writeln!(out, "    advanced_tuning_config:");
                let _ = writeln!(
                    out,
                    "      prefill_latency_correction_scale: {}",
                    yaml_f64(tu.prefill_latency_correction)
                );
                let _ = writeln!(
                    out,
                    "      decode_latency_correction_scale: {}",
                    yaml_f64(tu.decode_latency_correction)
                );
                let _ = writeln!(
                    out,
                    "      prefill_max_batch_size: {}",
                    tu.prefill_max_batch_size
                );
                let _ = writeln!(
                    out,
                    "      decode_max_batch_size: {}",
                    tu.decode_max_batch_size
                );
            }
        }
        out.push('\n');
    }
    out
}
