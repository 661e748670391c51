//! Flags the reference-compatible verbs share, spelled as the reference
//! spells them (aliases included), so `aiconfigurator cli VERB …` scripts
//! keep working with `xpyd VERB …`. Each verb applies its own defaults
//! (they differ between verbs), so shared values are `Option`s here.

use clap::{Args, ValueEnum};

/// Output format of the verbs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[default]
    Table,
    Json,
}

/// Model, systems, backend and database: what every verb is about.
#[derive(Args, Clone, Debug, Default)]
pub struct Target {
    /// HF model id (built-in catalog) or a local folder with config.json.
    #[arg(long = "model-path", visible_alias = "model", value_name = "MODEL")]
    pub model_path: String,
    /// GPU system, e.g. h200_sxm, b200_sxm, gb200.
    #[arg(long)]
    pub system: String,
    /// System of the disagg decode workers (default: --system).
    #[arg(long)]
    pub decode_system: Option<String>,
    /// trtllm, vllm or sglang (default trtllm; `default` also takes auto).
    #[arg(long)]
    pub backend: Option<String>,
    /// Database version of the backend, or current/previous/next.
    #[arg(long = "perf-db-version", visible_alias = "backend-version")]
    pub backend_version: Option<String>,
    /// SILICON, HYBRID, EMPIRICAL or SOL (the verb's default otherwise).
    #[arg(long)]
    pub database_mode: Option<String>,
}

/// Workload, SLA and speculative decoding.
#[derive(Args, Clone, Debug, Default)]
pub struct Workload {
    /// Input sequence length (tokens).
    #[arg(long)]
    pub isl: Option<u32>,
    /// Output sequence length (tokens).
    #[arg(long)]
    pub osl: Option<u32>,
    /// Prefix-cached part of the input (tokens).
    #[arg(long)]
    pub prefix: Option<u32>,
    /// MTP draft length (0 = off).
    #[arg(long)]
    pub nextn: Option<String>,
    /// Average accepted draft tokens per decode step (required with --nextn > 0).
    #[arg(long)]
    pub nextn_accepted: Option<f64>,
}

/// The SLA targets of the searching verbs.
#[derive(Args, Clone, Debug, Default)]
pub struct Sla {
    /// Time-to-first-token target (ms).
    #[arg(long)]
    pub ttft: Option<f64>,
    /// Time-per-output-token target (ms).
    #[arg(long)]
    pub tpot: Option<f64>,
}

/// Kernel choices the exp file also knows.
#[derive(Args, Clone, Debug, Default)]
pub struct Kernels {
    /// SGLang MoE backend (deepep_moe, megamoe).
    #[arg(long)]
    pub moe_backend: Option<String>,
    /// Attention kernel backend (fa3, triton, trtllm_mha, flashinfer, fla, default).
    #[arg(long)]
    pub attention_backend: Option<String>,
}

/// Flags kept only so reference command lines parse: they change nothing
/// (logging and colours, deprecated switches) and are hidden from --help.
#[derive(Args, Clone, Debug, Default)]
pub struct Inert {
    #[arg(long, hide = true)]
    pub log_level: Option<String>,
    #[arg(long, hide = true)]
    pub debug: bool,
    #[arg(long, hide = true)]
    pub no_color: bool,
    /// Deprecated in the reference too: large EP is explored from data coverage.
    #[arg(long, hide = true)]
    pub enable_wideep: bool,
}

/// Declares hidden flags xpyd does not model: giving one is a one-line error
/// naming it, instead of a silently different answer.
macro_rules! unsupported_flags {
    ($(#[$meta:meta])* $name:ident { $($field:ident : $flag:literal => $why:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Args, Clone, Debug, Default)]
        pub struct $name {
            $(
                #[arg(long = $flag, hide = true, num_args = 0..=1, default_missing_value = "", value_name = "VALUE")]
                pub $field: Option<String>,
            )*
        }
        impl $name {
            /// The first unsupported flag given, as an error for `verb`.
            pub fn check(&self, verb: &str) -> Result<(), String> {
                $(
                    if self.$field.is_some() {
                        return Err(format!("xpyd {verb}: --{} is not supported ({})", $flag, $why));
                    }
                )*
                Ok(())
            }
            /// Every flag of the list, for help texts.
            pub fn names() -> Vec<&'static str> {
                vec![$($flag),*]
            }
        }
    };
}

unsupported_flags! {
    /// Reference flags with no xpyd model behind them (all verbs).
    Unsupported {
        systems_paths: "systems-paths" => "use --systems-dir or XPYD_SYSTEMS_DIR",
        deployment_target: "deployment-target" => "xpyd writes no deployment bundles",
        engine_step_backend: "engine-step-backend" => "xpyd always prices with the compiled engine",
        forward_model: "forward-model" => "only op-level modelling is implemented",
        transfer_policy: "transfer-policy" => "HYBRID/EMPIRICAL always use every transfer kind",
        image_height: "image-height" => "vision inputs are not modelled",
        image_width: "image-width" => "vision inputs are not modelled",
        num_images: "num-images" => "vision inputs are not modelled",
        disable_encoder_dp: "disable-encoder-dp" => "vision encoders are not modelled",
        enable_epd: "enable-epd" => "encode workers are not modelled",
        encoder_tp: "encoder-tp" => "encode workers are not modelled",
        encoder_system: "encoder-system" => "encode workers are not modelled",
        encoder_latency_correction: "encoder-latency-correction" => "encode workers are not modelled",
        encoder_batch_size: "encoder-batch-size" => "encode workers are not modelled",
        encoder_num_workers: "encoder-num-workers" => "encode workers are not modelled",
        max_seq_len: "max-seq-len" => "the backend's default (isl + osl) is used",
        prefill_max_seq_len: "prefill-max-seq-len" => "the backend's default is used",
        decode_max_seq_len: "decode-max-seq-len" => "the backend's default is used",
        request_latency: "request-latency" => "only TTFT/TPOT targets are searched",
        strict_sla: "strict-sla" => "the Pareto front keeps every candidate",
        inclusive_tpot: "inclusive-tpot" => "TPOT is reported as inter-token latency",
        enable_chunked_prefill: "enable-chunked-prefill" => "the context-token sweep is aligned to the ISL",
        afd_max_a_batch_size: "afd-max-a-batch-size" => "AFD is not modelled",
        afd_max_candidates: "afd-max-candidates" => "AFD is not modelled",
        afd_candidate_overflow: "afd-candidate-overflow" => "AFD is not modelled",
        n_a_nodes: "n-a-nodes" => "AFD is not modelled",
        n_f_nodes: "n-f-nodes" => "AFD is not modelled",
        a_tp_size: "a-tp-size" => "AFD is not modelled",
        a_batch_size: "a-batch-size" => "AFD is not modelled",
        f_moe_ep_size: "f-moe-ep-size" => "AFD is not modelled",
        num_microbatches: "num-microbatches" => "AFD is not modelled",
        pipeline_model: "pipeline-model" => "AFD is not modelled",
        comm_overhead_factor: "comm-overhead-factor" => "AFD is not modelled",
        afd_phase: "afd-phase" => "AFD is not modelled",
        afd_combined_with_pd: "afd-combined-with-pd" => "AFD is not modelled",
        no_afd_combined_with_pd: "no-afd-combined-with-pd" => "AFD is not modelled",
        boundary_on_ffn: "boundary-on-ffn" => "AFD is not modelled",
        generator_config: "generator-config" => "xpyd writes no deployment bundles",
        generator_set: "generator-set" => "xpyd writes no deployment bundles",
        generator_help: "generator-help" => "xpyd writes no deployment bundles",
        generator_help_backend: "generator-help-backend" => "xpyd writes no deployment bundles",
        generated_config_version: "generated-config-version" => "xpyd writes no deployment bundles",
        config_template_version: "config-template-version" => "xpyd writes no deployment bundles",
        generator_dynamo_version: "generator-dynamo-version" => "xpyd writes no deployment bundles",
        dynamo_version: "dynamo-version" => "xpyd writes no deployment bundles",
        namespace: "namespace" => "xpyd writes no deployment bundles",
        model_cache: "model-cache" => "xpyd writes no deployment bundles",
        transport: "transport" => "xpyd writes no deployment bundles",
        image_pull_secret: "image-pull-secret" => "xpyd writes no deployment bundles",
    }
}

unsupported_flags! {
    /// The KV memory fraction: only `estimate` models it (one batch is
    /// checked against it); the searching verbs keep the backend's default.
    UnsupportedFraction {
        free_gpu_memory_fraction: "free-gpu-memory-fraction" => "the searches use the backend's default KV fraction; `xpyd estimate` takes it",
        prefill_free_gpu_memory_fraction: "prefill-free-gpu-memory-fraction" => "the searches use the backend's default KV fraction; `xpyd estimate` takes it",
        decode_free_gpu_memory_fraction: "decode-free-gpu-memory-fraction" => "the searches use the backend's default KV fraction; `xpyd estimate` takes it",
    }
}

/// A KV memory fraction as the reference accepts it: finite, in (0, 1].
pub fn fraction(v: Option<f64>, flag: &str) -> Result<Option<f64>, String> {
    match v {
        Some(f) if !(f.is_finite() && f > 0.0 && f <= 1.0) => {
            Err(format!("{flag} must be a number in (0, 1], got {f}"))
        }
        other => Ok(other),
    }
}

/// `--nextn` and `--nextn-accepted` checked as the reference checks them:
/// a draft length, and an accepted count in [0, nextn] that is required
/// (never assumed) when the draft length is positive.
pub fn mtp(w: &Workload) -> Result<(u32, f64), String> {
    let nextn = match w.nextn.as_deref().map(str::trim) {
        None => 0,
        Some(s) if s.eq_ignore_ascii_case("auto") => {
            return Err(
                "--nextn auto is not supported: give the draft length (the checkpoint's num_nextn_predict_layers)"
                    .into(),
            )
        }
        Some(s) => s
            .parse::<u32>()
            .map_err(|_| format!("--nextn must be a non-negative integer, got '{s}'"))?,
    };
    if nextn == 0 {
        return Ok((0, 0.0));
    }
    let accepted = w.nextn_accepted.ok_or_else(|| {
        format!("--nextn {nextn} needs --nextn-accepted (average accepted draft tokens per step, measured)")
    })?;
    if !(accepted.is_finite() && (0.0..=nextn as f64).contains(&accepted)) {
        return Err(format!(
            "--nextn-accepted must be within [0, {nextn}], got {accepted}"
        ));
    }
    Ok((nextn, accepted))
}

/// Per-position accept rates whose expectation (Σ_i Π_{j≤i} p_j, the exp
/// file's `nextn_accept_rates`) is exactly `accepted`: certain positions
/// first, then the fractional one, then none.
pub fn accept_rates(nextn: u32, accepted: f64) -> Vec<f64> {
    let whole = accepted.floor();
    (0..nextn)
        .map(|i| {
            let i = f64::from(i);
            if i < whole {
                1.0
            } else if i == whole {
                accepted - whole
            } else {
                0.0
            }
        })
        .collect()
}

/// A database mode as the exp file spells it; the reference's names, any case.
pub fn database_mode(s: Option<&str>, default: &str) -> Result<String, String> {
    let s = s.unwrap_or(default);
    crate::domain::DbMode::parse(&s.to_ascii_uppercase())
        .map(|m| m.name().to_string())
        .ok_or_else(|| format!("--database-mode {s}: use SILICON, HYBRID, EMPIRICAL or SOL"))
}

/// A backend name as the exp file spells it.
pub fn backend(s: Option<&str>) -> Result<String, String> {
    let s = s.unwrap_or("trtllm");
    crate::domain::Backend::parse(s)
        .map(|b| b.name().to_string())
        .ok_or_else(|| format!("--backend {s}: use trtllm, vllm or sglang"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_rates_fold_back_to_the_accepted_count() {
        for (n, a) in [(1, 0.85), (2, 1.15), (3, 2.0), (2, 0.0), (4, 3.7)] {
            let r = accept_rates(n, a);
            let folded = crate::exp::fold_accept_rates(n, &r);
            assert!((folded - a).abs() < 1e-12, "{n} {a} → {r:?} → {folded}");
        }
    }

    #[test]
    fn nextn_needs_an_accepted_count() {
        let w = Workload {
            nextn: Some("2".into()),
            ..Default::default()
        };
        assert!(mtp(&w).is_err());
        let w = Workload {
            nextn: Some("2".into()),
            nextn_accepted: Some(1.15),
            ..Default::default()
        };
        assert_eq!(mtp(&w), Ok((2, 1.15)));
        assert_eq!(mtp(&Workload::default()), Ok((0, 0.0)));
    }
}
