//! Per-GPU memory model of one worker: weights, activations, KV cache, NCCL
//! buffers and runtime overhead, plus the two fit checks (capacity and the
//! backend's KV-cache budget). Mirrors the reference's accounting, quirks
//! included (KV not divided by pp, nccl keyed by min(tp, 8), ...), because
//! the fit verdict decides which batch sizes the search may use.

use crate::domain::Backend;
use crate::exp::Family;
use crate::numeric::{round_half_even, GIB};

/// How a model's KV cache grows with sequence length, per GPU.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum KvLayout {
    /// GQA/MHA: ⌈n_kv/tp⌉·head_dim·2 elements per layer per token.
    Gqa {
        kv_heads: u32,
        head_dim: u32,
        layers: u32,
    },
    /// MLA latent cache, shared across heads and not sharded by tp.
    Mla { layers: u32, width: u32 },
    /// gpt-oss: half the layers use a sliding window capped at `window` tokens.
    SlidingHalf {
        kv_heads: u32,
        head_dim: u32,
        layers: u32,
        window: u32,
        swa_every: u32,
    },
}

/// Everything about one worker that its memory depends on, except the step shape.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkerMemory {
    pub backend: Backend,
    pub family: Family,
    pub tp: u32,
    pub pp: u32,
    pub dp: u32,
    pub moe_ep: u32,
    pub nextn: u32,
    /// Weight bytes per GPU (already divided by pp).
    pub weight_bytes: f64,
    /// num_heads · head_dim (the reference's activation width, not hidden size).
    pub act_width: f64,
    /// Hidden size, for sglang's MoE workspace width.
    pub hidden: f64,
    pub num_experts: u32,
    pub topk: u32,
    pub kv: KvLayout,
    pub kv_bytes_per_elem: f64,
    /// `misc.nccl_mem` of the system, keyed 1/2/4/8.
    pub nccl_mem: [f64; 4],
    pub other_mem: f64,
    pub capacity_bytes: f64,
    pub backend_version: String,
    /// The KV memory fraction given by the user (`--free-gpu-memory-fraction`),
    /// with the backend's meaning (of free memory for TRT-LLM, of total for
    /// vLLM/SGLang); `None` keeps the backend's default.
    pub kv_fraction: Option<f64>,
}

/// One footprint in GiB.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Footprint {
    pub weights: f64,
    pub activations: f64,
    pub kvcache: f64,
    pub nccl: f64,
    pub others: f64,
    pub total: f64,
}

/// How the decode share of activations scales under MTP.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MtpScaling {
    /// Only `decode_tokens` of the step verify nextn+1 tokens (agg mixed step).
    Share { decode_tokens: u64 },
    /// Every token is a verification token (decode-only steps).
    Full,
}

/// Shape of the step whose footprint is wanted.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepShape {
    pub batch: u32,
    /// Tokens in flight; 0 means (isl − prefix)·batch.
    pub num_tokens: u64,
    pub isl: u32,
    pub osl: u32,
    pub prefix: u32,
    /// KV slots per sequence; `None` means isl + osl.
    pub max_seq_len: Option<u32>,
    pub mtp: MtpScaling,
}

/// The verdict of the two fit checks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fit {
    Fits,
    /// Total ≥ capacity; carries GiB over.
    Oom {
        over_gib: f64,
    },
    /// KV exceeds the backend's KV budget; carries GiB over.
    KvOom {
        over_gib: f64,
    },
}

fn tp_index(tp: u32) -> usize {
    match tp.min(8) {
        0 | 1 => 0,
        2 | 3 => 1,
        4..=7 => 2,
        _ => 3,
    }
}

fn activation_coeff(backend: Backend, family: Family, tp: u32) -> f64 {
    let i = tp_index(tp);
    let (llama, moe) = match backend {
        Backend::Sglang => ([14.0, 8.5, 6.5, 6.5], [28.0, 17.0, 13.0, 13.0]),
        _ => ([11.0, 6.5, 5.0, 5.0], [22.0, 13.0, 10.0, 10.0]),
    };
    match family {
        Family::Llama => llama[i],
        Family::Moe | Family::Deepseek => moe[i],
    }
}

impl KvLayout {
    /// KV bytes of one sequence of `seq` tokens on one GPU.
    pub fn bytes_per_sequence(&self, seq: u64, tp: u32, bytes_per_elem: f64) -> f64 {
        let tp = tp.max(1);
        match *self {
            KvLayout::Gqa {
                kv_heads,
                head_dim,
                layers,
            } => {
                let per_gpu = kv_heads.div_ceil(tp) as f64;
                seq as f64 * bytes_per_elem * (per_gpu * head_dim as f64 * layers as f64 * 2.0)
            }
            KvLayout::Mla { layers, width } => {
                seq as f64 * bytes_per_elem * (layers as f64 * width as f64)
            }
            KvLayout::SlidingHalf {
                kv_heads,
                head_dim,
                layers,
                window,
                swa_every,
            } => {
                let per_layer =
                    kv_heads.div_ceil(tp) as f64 * head_dim as f64 * 2.0 * bytes_per_elem;
                let swa = (layers / swa_every.max(1)) as f64;
                let global = layers as f64 - swa;
                let swa_seq = seq.min(window as u64) as f64;
                per_layer * (swa * swa_seq + global * seq as f64)
            }
        }
    }
}

impl WorkerMemory {
    /// The footprint of one step shape.
    pub fn footprint(&self, s: &StepShape) -> Footprint {
        let weights = self.weight_bytes;
        let num_tokens = if s.num_tokens == 0 {
            (s.isl.saturating_sub(s.prefix) as u64) * s.batch as u64
        } else {
            s.num_tokens
        } as f64;
        let mut act = 2.0
            * num_tokens
            * self.act_width
            * activation_coeff(self.backend, self.family, self.tp);
        if self.family == Family::Deepseek && self.num_experts > 0 {
            let width = match self.backend {
                Backend::Sglang => self.hidden,
                _ => self.act_width,
            };
            act += num_tokens * width * self.dp as f64 * self.num_experts as f64 * self.topk as f64
                / self.moe_ep.max(1) as f64
                / 128.0
                * 4.0;
        }
        let floor = match self.backend {
            Backend::Sglang => 90.0 * 1024.0 * 1024.0,
            _ => 70.0 * 1024.0 * 1024.0,
        };
        act = act.max(floor);
        if self.nextn > 0 {
            match s.mtp {
                MtpScaling::Share { decode_tokens } if num_tokens > 0.0 => {
                    let share = (decode_tokens as f64).min(num_tokens);
                    act = act * (num_tokens - share + share * (self.nextn + 1) as f64) / num_tokens;
                }
                _ => act *= (self.nextn + 1) as f64,
            }
        }
        let mut others = self.other_mem;
        if self.backend == Backend::Sglang {
            act *= 1.15;
            others *= 1.2;
        }
        let seq = s
            .max_seq_len
            .map(|v| v as u64)
            .unwrap_or(s.isl as u64 + s.osl as u64);
        let kv = s.batch as f64
            * self
                .kv
                .bytes_per_sequence(seq, self.tp, self.kv_bytes_per_elem);
        let nccl = self.nccl_mem[tp_index(self.tp)];
        Footprint {
            weights: weights / GIB,
            activations: act / GIB,
            kvcache: kv / GIB,
            nccl: nccl / GIB,
            others: others / GIB,
            total: (weights + act + kv + nccl + others) / GIB,
        }
    }

    /// KV-cache fraction parameters: (fraction, reserved, tolerance, of_free).
    fn kv_budget_params(&self, static_path: bool) -> (f64, f64, f64, bool) {
        let (f, reserved, tol, of_free) = self.default_kv_budget_params(static_path);
        (self.kv_fraction.unwrap_or(f), reserved, tol, of_free)
    }

    fn default_kv_budget_params(&self, static_path: bool) -> (f64, f64, f64, bool) {
        match self.backend {
            Backend::Trtllm => (0.9, 0.015, 0.02, true),
            Backend::Vllm => {
                let v = &self.backend_version;
                let f = if v.starts_with("0.14") || v.starts_with("0.19") {
                    0.9
                } else {
                    0.92
                };
                (f, 0.0, 0.02, false)
            }
            Backend::Sglang => {
                let f = if static_path {
                    sglang_static_fraction(self.capacity_bytes, self.tp, self.pp, self.dp)
                } else {
                    0.88
                };
                (f, 0.0, 0.02, false)
            }
        }
    }

    /// Capacity check (`total ≥ capacity` is OOM), then the KV budget check.
    /// `static_path` selects the disagg (static) KV fraction rules.
    pub fn check(&self, fp: &Footprint, static_path: bool) -> Fit {
        let cap = self.capacity_bytes / GIB;
        if fp.total >= cap {
            return Fit::Oom {
                over_gib: fp.total - cap,
            };
        }
        let (f, reserved, tol, of_free) = self.kv_budget_params(static_path);
        let scale = (1.0 - reserved) * (1.0 - tol);
        let non_kv = fp.total - fp.kvcache;
        let budget = if of_free {
            (cap - non_kv) * f * scale
        } else {
            cap * f * scale - non_kv
        };
        if fp.kvcache > budget {
            return Fit::KvOom {
                over_gib: fp.kvcache - budget,
            };
        }
        Fit::Fits
    }
}

/// SGLang's `mem_fraction_static` as its launcher derives it from GPU memory.
pub fn sglang_static_fraction(capacity_bytes: f64, tp: u32, pp: u32, dp: u32) -> f64 {
    let cap_mb = capacity_bytes / (1u64 << 20) as f64;
    let (chunked, graph_bs) = if cap_mb < 20.0 * 1024.0 {
        (2048.0, 8.0)
    } else if cap_mb < 35.0 * 1024.0 {
        (2048.0, if tp < 4 { 24.0 } else { 80.0 })
    } else if cap_mb < 60.0 * 1024.0 {
        (4096.0, if tp < 4 { 32.0 } else { 160.0 })
    } else if cap_mb < 160.0 * 1024.0 {
        (8192.0, if tp < 4 { 256.0 } else { 512.0 })
    } else {
        (16384.0, 512.0)
    };
    let mut reserved = 512.0 + 1.5 * chunked + (tp * pp) as f64 / 8.0 * 1024.0 + graph_bs * 2.0;
    if dp > 1 {
        reserved += graph_bs * dp as f64 * 3.0;
        if graph_bs > 300.0 {
            reserved += graph_bs * dp as f64 * 1.5;
        }
    }
    if cap_mb > 60.0 * 1024.0 {
        reserved = reserved.max(10.0 * 1024.0);
    }
    round_half_even((cap_mb - reserved) / cap_mb, 3)
}

/// Worked-example workers shared by the unit tests of several modules.
#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// Qwen3-32B tp4 on h100, trtllm (the reference's worked memory check).
    pub(crate) fn qwen32b_tp4() -> WorkerMemory {
        WorkerMemory {
            backend: Backend::Trtllm,
            family: Family::Llama,
            tp: 4,
            pp: 1,
            dp: 1,
            moe_ep: 1,
            nextn: 0,
            weight_bytes: 15.256 * GIB,
            act_width: 64.0 * 128.0,
            hidden: 5120.0,
            num_experts: 0,
            topk: 0,
            kv: KvLayout::Gqa {
                kv_heads: 8,
                head_dim: 128,
                layers: 64,
            },
            kv_bytes_per_elem: 2.0,
            nccl_mem: [
                0.0,
                342.0 * 1024.0 * 1024.0,
                392.0 * 1024.0 * 1024.0,
                392.0 * 1024.0 * 1024.0,
            ],
            other_mem: 3.5 * GIB,
            capacity_bytes: 80.0 * GIB,
            backend_version: "1.3.0rc20".into(),
            kv_fraction: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::qwen32b_tp4;
    use super::*;

    #[test]
    fn agg_footprint_matches_worked_check() {
        let m = qwen32b_tp4();
        let fp = m.footprint(&StepShape {
            batch: 160,
            num_tokens: 8192,
            isl: 4000,
            osl: 1000,
            prefix: 0,
            max_seq_len: Some(5000),
            mtp: MtpScaling::Share { decode_tokens: 0 },
        });
        assert!((fp.activations - 0.625).abs() < 1e-9, "{fp:?}");
        assert!((fp.kvcache - 48.828125).abs() < 1e-6, "{fp:?}");
        assert!((fp.total - 68.59).abs() < 0.01, "{fp:?}");
        assert_eq!(m.check(&fp, false), Fit::Fits);
    }

    #[test]
    fn kv_budget_rejects_oversized_batch() {
        let m = qwen32b_tp4();
        let fp = m.footprint(&StepShape {
            batch: 176,
            num_tokens: 8192,
            isl: 4000,
            osl: 1000,
            prefix: 0,
            max_seq_len: Some(5000),
            mtp: MtpScaling::Full,
        });
        // 53.7 GiB of KV exceeds the ~52 GiB trtllm budget although the total fits in 80 GiB.
        assert!(matches!(m.check(&fp, false), Fit::KvOom { .. }), "{fp:?}");
    }

    #[test]
    fn gpt_oss_window_caps_half_the_layers() {
        let kv = KvLayout::SlidingHalf {
            kv_heads: 8,
            head_dim: 64,
            layers: 36,
            window: 128,
            swa_every: 2,
        };
        let full = KvLayout::Gqa {
            kv_heads: 8,
            head_dim: 64,
            layers: 36,
        };
        let a = kv.bytes_per_sequence(4000, 1, 2.0);
        let b = full.bytes_per_sequence(4000, 1, 2.0);
        assert!(a < b * 0.52 && a > b * 0.5);
    }
}
