//! The blocks under `config:`: a worker config (quant modes and parallel
//! lists), `replica_config` and `advanced_tuning_config`.

use super::keys::{
    worker_keys, CONFIG_KEYS, EXP_KEYS, LIST_KEYS, MAX_GPUS, MAX_PARALLEL, NUM_GPU, REPLICA_KEYS,
    TUNING_KEYS,
};
use super::raw::{RawReplica, RawTuning, RawWorker};
use super::reader::{join, Cx};
use crate::domain::{CommQuant, FmhaQuant, GemmQuant, KvQuant, MoeQuant};
use crate::exp::diag::Diag;
use crate::exp::yaml::Entry;
use std::collections::HashMap;

fn gemm_parse(s: &str) -> Option<GemmQuant> {
    // The seed documents `float16`; the engine's half-precision GEMM is bfloat16.
    if s == "float16" {
        return Some(GemmQuant::Bfloat16);
    }
    GemmQuant::parse(s)
}
fn moe_parse(s: &str) -> Option<MoeQuant> {
    if s == "float16" {
        return Some(MoeQuant::Bfloat16);
    }
    MoeQuant::parse(s)
}
fn kv_parse(s: &str) -> Option<KvQuant> {
    if s == "float16" {
        return Some(KvQuant::Bfloat16);
    }
    KvQuant::parse(s)
}

fn with_float16(names: Vec<&'static str>) -> Vec<&'static str> {
    let mut v = names;
    if !v.contains(&"float16") {
        v.push("float16");
    }
    v
}

pub(super) fn parse_worker(
    cx: &Cx,
    d: &mut Diag,
    key: &'static str,
    f: &Entry,
) -> Option<RawWorker> {
    let path = format!("config.{key}");
    let entries = cx.map(d, &path, &f.value)?;
    let mut w = RawWorker {
        pos: f.key_pos,
        ..RawWorker::default()
    };
    let mut seen = HashMap::new();
    let wk = worker_keys();
    let gemm_names = with_float16(GemmQuant::names());
    let moe_names = with_float16(MoeQuant::names());
    let kv_names = with_float16(KvQuant::names());
    for e in entries {
        if !cx.first_time(d, &mut seen, &path, e) {
            continue;
        }
        let p = join(&path, &e.key);
        let n = &e.value;
        match e.key.as_str() {
            "gemm_quant_mode" => {
                w.gemm = cx.choice(d, &p, n, "gemm quant mode", &gemm_names, gemm_parse)
            }
            "moe_quant_mode" => {
                w.moe = cx.choice(d, &p, n, "moe quant mode", &moe_names, moe_parse)
            }
            "kvcache_quant_mode" => {
                w.kvcache = cx.choice(d, &p, n, "kvcache quant mode", &kv_names, kv_parse)
            }
            "fmha_quant_mode" => {
                w.fmha = cx.choice(
                    d,
                    &p,
                    n,
                    "fmha quant mode",
                    &FmhaQuant::names(),
                    FmhaQuant::parse,
                )
            }
            "comm_quant_mode" => {
                w.comm = cx.choice(
                    d,
                    &p,
                    n,
                    "comm quant mode",
                    &CommQuant::names(),
                    CommQuant::parse,
                )
            }
            "enable_wideep" => w.enable_wideep = cx.boolean(d, &p, n),
            k => {
                if let Some(i) = LIST_KEYS.iter().position(|l| *l == k) {
                    let max = if i == NUM_GPU { MAX_GPUS } else { MAX_PARALLEL };
                    w.lists[i] = cx.int_list(d, &p, n, 1, max);
                } else {
                    cx.unknown(
                        d,
                        &path,
                        e,
                        &wk,
                        &[
                            (CONFIG_KEYS, "directly under 'config:'"),
                            (EXP_KEYS, "at the experiment's top level"),
                        ],
                    );
                }
            }
        }
    }
    Some(w)
}

pub(super) fn parse_replica(cx: &Cx, d: &mut Diag, f: &Entry) -> Option<RawReplica> {
    let path = "config.replica_config";
    let entries = cx.map(d, path, &f.value)?;
    let mut r = RawReplica {
        pos: f.key_pos,
        ..RawReplica::default()
    };
    let mut seen = HashMap::new();
    for e in entries {
        if !cx.first_time(d, &mut seen, path, e) {
            continue;
        }
        let p = join(path, &e.key);
        let n = &e.value;
        match e.key.as_str() {
            "num_gpu_per_replica" => r.num_gpu_per_replica = cx.int_list(d, &p, n, 1, MAX_GPUS),
            // 0 means "no cap" (documented in the seed).
            "max_gpu_per_replica" => r.max_gpu_per_replica = cx.int(d, &p, n, 0, MAX_GPUS),
            "max_prefill_worker" => r.max_prefill_worker = cx.int(d, &p, n, 1, 1024),
            "max_decode_worker" => r.max_decode_worker = cx.int(d, &p, n, 1, 1024),
            _ => cx.unknown(
                d,
                path,
                e,
                REPLICA_KEYS,
                &[(TUNING_KEYS, "under 'config.advanced_tuning_config:'")],
            ),
        }
    }
    Some(r)
}

pub(super) fn parse_tuning(cx: &Cx, d: &mut Diag, f: &Entry) -> Option<RawTuning> {
    let path = "config.advanced_tuning_config";
    let entries = cx.map(d, path, &f.value)?;
    let mut t = RawTuning {
        pos: f.key_pos,
        ..RawTuning::default()
    };
    let mut seen = HashMap::new();
    for e in entries {
        if !cx.first_time(d, &mut seen, path, e) {
            continue;
        }
        let p = join(path, &e.key);
        let n = &e.value;
        match e.key.as_str() {
            "prefill_latency_correction_scale" => {
                t.prefill_latency_correction_scale = cx.float(d, &p, n, false, 100.0)
            }
            "decode_latency_correction_scale" => {
                t.decode_latency_correction_scale = cx.float(d, &p, n, false, 100.0)
            }
            "prefill_max_batch_size" => t.prefill_max_batch_size = cx.int(d, &p, n, 1, 65_536),
            "decode_max_batch_size" => t.decode_max_batch_size = cx.int(d, &p, n, 1, 65_536),
            _ => cx.unknown(
                d,
                path,
                e,
                TUNING_KEYS,
                &[(REPLICA_KEYS, "under 'config.replica_config:'")],
            ),
        }
    }
    Some(t)
}
