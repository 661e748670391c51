//! Stage 1 of loading: node tree → typed raw experiments, with a position for
//! every key and value. Checks syntax-level facts only (types, ranges, known
//! keys, known enum names, keys that cannot take effect for the serving mode);
//! everything that needs defaults or the catalog happens in `resolve.rs`.

use super::diag::Diag;
use super::suggest::did_you_mean;
use super::yaml::{clip, Entry, Node, Pos, Value};
use crate::domain::{
    Backend, CommQuant, DbMode, FmhaQuant, GemmQuant, KvQuant, MoeQuant, ServingMode,
};
use std::collections::HashMap;

/// A parsed value and where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Sp<T> {
    pub v: T,
    pub pos: Pos,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Patch,
    Replace,
}

/// The six V1 list keys of a worker config, in `Parallel` order (cp has no key).
pub const LIST_KEYS: [&str; 6] = [
    "num_gpu_per_worker",
    "tp_list",
    "pp_list",
    "dp_list",
    "moe_tp_list",
    "moe_ep_list",
];
pub const NUM_GPU: usize = 0;
pub const TP: usize = 1;
pub const DP: usize = 3;
pub const MOE_TP: usize = 4;
pub const MOE_EP: usize = 5;

const QUANT_KEYS: [&str; 5] = [
    "gemm_quant_mode",
    "moe_quant_mode",
    "kvcache_quant_mode",
    "fmha_quant_mode",
    "comm_quant_mode",
];

#[derive(Clone, Debug, Default)]
pub struct RawWorker {
    pub pos: Pos,
    pub gemm: Option<Sp<GemmQuant>>,
    pub moe: Option<Sp<MoeQuant>>,
    pub kvcache: Option<Sp<KvQuant>>,
    pub fmha: Option<Sp<FmhaQuant>>,
    pub comm: Option<Sp<CommQuant>>,
    pub lists: [Option<Sp<Vec<u32>>>; 6],
    pub enable_wideep: Option<Sp<bool>>,
}

#[derive(Clone, Debug, Default)]
pub struct RawReplica {
    pub pos: Pos,
    pub num_gpu_per_replica: Option<Sp<Vec<u32>>>,
    pub max_gpu_per_replica: Option<Sp<u32>>,
    pub max_prefill_worker: Option<Sp<u32>>,
    pub max_decode_worker: Option<Sp<u32>>,
}

#[derive(Clone, Debug, Default)]
pub struct RawTuning {
    pub pos: Pos,
    pub prefill_latency_correction_scale: Option<Sp<f64>>,
    pub decode_latency_correction_scale: Option<Sp<f64>>,
    pub prefill_max_batch_size: Option<Sp<u32>>,
    pub decode_max_batch_size: Option<Sp<u32>>,
}

/// One experiment as written, before defaults.
#[derive(Clone, Debug)]
pub struct RawExp {
    pub name: String,
    /// Position of the experiment's name key.
    pub pos: Pos,
    pub mode: Sp<Mode>,
    pub serving_mode: Sp<ServingMode>,
    pub model_path: Sp<String>,
    pub total_gpus: Sp<u32>,
    pub system_name: Sp<String>,
    pub decode_system_name: Option<Sp<String>>,
    pub backend_name: Option<Sp<Backend>>,
    pub backend_version: Option<Sp<String>>,
    pub database_mode: Option<Sp<DbMode>>,
    pub isl: Option<Sp<u32>>,
    pub osl: Option<Sp<u32>>,
    pub prefix: Option<Sp<u32>>,
    pub ttft: Option<Sp<f64>>,
    pub tpot: Option<Sp<f64>>,
    pub enable_wideep: Option<Sp<bool>>,
    /// The one profile that applies (a second one is an error).
    pub profile: Option<Sp<String>>,
    pub nextn: Option<Sp<u32>>,
    pub nextn_accept_rates: Option<Sp<Vec<f64>>>,
    pub moe_backend: Option<Sp<String>>,
    pub attention_backend: Option<Sp<String>>,
    pub worker: Option<RawWorker>,
    pub prefill: Option<RawWorker>,
    pub decode: Option<RawWorker>,
    pub replica: Option<RawReplica>,
    pub tuning: Option<RawTuning>,
}

pub const EXP_KEYS: &[&str] = &[
    "mode",
    "serving_mode",
    "model_path",
    "total_gpus",
    "system_name",
    "decode_system_name",
    "backend_name",
    "backend_version",
    "database_mode",
    "isl",
    "osl",
    "prefix",
    "ttft",
    "tpot",
    "enable_wideep",
    "profiles",
    "config",
    "nextn",
    "nextn_accept_rates",
    "moe_backend",
    "attention_backend",
];
const CONFIG_KEYS: &[&str] = &[
    "nextn",
    "nextn_accept_rates",
    "moe_backend",
    "attention_backend",
    "worker_config",
    "prefill_worker_config",
    "decode_worker_config",
    "replica_config",
    "advanced_tuning_config",
];
const REPLICA_KEYS: &[&str] = &[
    "num_gpu_per_replica",
    "max_gpu_per_replica",
    "max_prefill_worker",
    "max_decode_worker",
];
const TUNING_KEYS: &[&str] = &[
    "prefill_latency_correction_scale",
    "decode_latency_correction_scale",
    "prefill_max_batch_size",
    "decode_max_batch_size",
];
/// Keys the reference knows but xpyd cannot honour: naming them gives a better message.
const UNSUPPORTED_KEYS: &[&str] = &[
    "request_latency",
    "free_gpu_memory_fraction",
    "max_seq_len",
    "enable_chunked_prefill",
    "enable_eplb",
    "wideep_num_slots",
    "engine_step_backend",
    "forward_model",
    "cp_list",
];

pub const PROFILES: &[&str] = &["fp8", "fp8_static", "bfloat16", "nvfp4", "mxfp4"];

fn worker_keys() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = QUANT_KEYS.to_vec();
    v.extend(LIST_KEYS);
    v.push("enable_wideep");
    v
}

// Ranges. Generous, but small enough that products of list values cannot overflow
// and nothing downstream allocates absurd amounts.
pub const MAX_GPUS: u32 = 65_536;
pub const MAX_PARALLEL: u32 = 4_096;
const MAX_SEQ: u32 = 10_000_000;
const MAX_MS: f64 = 1.0e7;
const MAX_LIST_LEN: usize = 256;
const MAX_NEXTN: u32 = 16;

/// Experiment name + key path context for messages.
struct Cx<'a> {
    exp: Option<&'a str>,
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

fn allowed_hint(word: &str, names: &[&str]) -> String {
    let list = names.join(", ");
    match did_you_mean(word, names.iter().copied()) {
        Some(s) => format!("{s} allowed: {list}"),
        None => format!("allowed: {list}"),
    }
}

impl Cx<'_> {
    fn string(&self, d: &mut Diag, path: &str, n: &Node) -> Option<Sp<String>> {
        match &n.value {
            Value::Scalar { text, .. } => Some(Sp {
                v: text.clone(),
                pos: n.pos,
            }),
            _ => {
                d.err(
                    self.exp,
                    path,
                    n.pos,
                    format!("expected a string, found {}", n.kind_name()),
                    None,
                );
                None
            }
        }
    }

    /// Optional string: `null` means "not set" (the seed writes `moe_backend: null`).
    fn opt_string(&self, d: &mut Diag, path: &str, n: &Node) -> Option<Option<Sp<String>>> {
        if n.value == Value::Null {
            return Some(None);
        }
        self.string(d, path, n).map(Some)
    }

    fn choice<T>(
        &self,
        d: &mut Diag,
        path: &str,
        n: &Node,
        what: &str,
        names: &[&str],
        parse: impl Fn(&str) -> Option<T>,
    ) -> Option<Sp<T>> {
        let s = self.string(d, path, n)?;
        match parse(&s.v) {
            Some(v) => Some(Sp { v, pos: s.pos }),
            None => {
                d.err(
                    self.exp,
                    path,
                    s.pos,
                    format!("unknown {what} '{}'", clip(&s.v)),
                    Some(allowed_hint(&s.v, names)),
                );
                None
            }
        }
    }

    fn int(&self, d: &mut Diag, path: &str, n: &Node, min: u32, max: u32) -> Option<Sp<u32>> {
        let text = match &n.value {
            Value::Scalar { text, plain: true } => text.trim(),
            _ => {
                d.err(
                    self.exp,
                    path,
                    n.pos,
                    format!("expected a whole number, found {}", n.kind_name()),
                    None,
                );
                return None;
            }
        };
        let parsed = text.parse::<i64>().ok();
        let digits = text.trim_start_matches(['+', '-']);
        let too_long = !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit());
        let v = match parsed {
            Some(v) => v,
            // All digits but beyond i64: report it as out of range, not as a type error.
            None if too_long => {
                let msg = if text.starts_with('-') {
                    format!("must be at least {min}, got {}", clip(text))
                } else {
                    format!("must be at most {max}, got {}", clip(text))
                };
                d.err(self.exp, path, n.pos, msg, None);
                return None;
            }
            None => {
                let msg = if text.parse::<f64>().is_ok() {
                    format!("expected a whole number, found {}", clip(text))
                } else {
                    format!("expected a whole number, found the string '{}'", clip(text))
                };
                d.err(self.exp, path, n.pos, msg, None);
                return None;
            }
        };
        if v < i64::from(min) {
            d.err(
                self.exp,
                path,
                n.pos,
                format!("must be at least {min}, got {v}"),
                None,
            );
            return None;
        }
        if v > i64::from(max) {
            d.err(
                self.exp,
                path,
                n.pos,
                format!("must be at most {max}, got {v}"),
                None,
            );
            return None;
        }
        // In range of u32 by the checks above.
        Some(Sp {
            v: v as u32,
            pos: n.pos,
        })
    }

    /// A finite number in `(0, max]` (or `[0, max]` when `zero_ok`).
    fn float(
        &self,
        d: &mut Diag,
        path: &str,
        n: &Node,
        zero_ok: bool,
        max: f64,
    ) -> Option<Sp<f64>> {
        let text = match &n.value {
            Value::Scalar { text, plain: true } => text.trim(),
            _ => {
                d.err(
                    self.exp,
                    path,
                    n.pos,
                    format!("expected a number, found {}", n.kind_name()),
                    None,
                );
                return None;
            }
        };
        let v = match text.parse::<f64>() {
            Ok(v) if v.is_finite() => v,
            Ok(_) => {
                d.err(
                    self.exp,
                    path,
                    n.pos,
                    format!("expected a finite number, found {}", clip(text)),
                    None,
                );
                return None;
            }
            Err(_) => {
                d.err(
                    self.exp,
                    path,
                    n.pos,
                    format!("expected a number, found the string '{}'", clip(text)),
                    None,
                );
                return None;
            }
        };
        let low_bad = if zero_ok { v < 0.0 } else { v <= 0.0 };
        if low_bad {
            let need = if zero_ok {
                "at least 0"
            } else {
                "greater than 0"
            };
            d.err(
                self.exp,
                path,
                n.pos,
                format!("must be {need}, got {text}"),
                None,
            );
            return None;
        }
        if v > max {
            d.err(
                self.exp,
                path,
                n.pos,
                format!("must be at most {max}, got {text}"),
                None,
            );
            return None;
        }
        Some(Sp { v, pos: n.pos })
    }

    fn boolean(&self, d: &mut Diag, path: &str, n: &Node) -> Option<Sp<bool>> {
        let v = match &n.value {
            Value::Scalar { text, plain: true } => match text.as_str() {
                "true" | "True" | "TRUE" => Some(true),
                "false" | "False" | "FALSE" => Some(false),
                _ => None,
            },
            _ => None,
        };
        match v {
            Some(v) => Some(Sp { v, pos: n.pos }),
            None => {
                d.err(
                    self.exp,
                    path,
                    n.pos,
                    format!("expected true or false, found {}", n.kind_name()),
                    None,
                );
                None
            }
        }
    }

    fn seq<'n>(&self, d: &mut Diag, path: &str, n: &'n Node, example: &str) -> Option<&'n [Node]> {
        match &n.value {
            Value::Seq(items) => {
                if items.is_empty() {
                    d.err(self.exp, path, n.pos, "list must not be empty", None);
                    return None;
                }
                if items.len() > MAX_LIST_LEN {
                    d.err(
                        self.exp,
                        path,
                        n.pos,
                        format!(
                            "list has {} entries; at most {MAX_LIST_LEN} are allowed",
                            items.len()
                        ),
                        None,
                    );
                    return None;
                }
                Some(items)
            }
            _ => {
                d.err(
                    self.exp,
                    path,
                    n.pos,
                    format!("expected a list like {example}, found {}", n.kind_name()),
                    None,
                );
                None
            }
        }
    }

    /// A list of whole numbers in `[min, max]`; repeated values are dropped with a warning.
    fn int_list(
        &self,
        d: &mut Diag,
        path: &str,
        n: &Node,
        min: u32,
        max: u32,
    ) -> Option<Sp<Vec<u32>>> {
        let items = self.seq(d, path, n, "[1, 2, 4]")?;
        let mut out: Vec<u32> = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, it) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            match self.int(d, &p, it, min, max) {
                Some(v) => {
                    if out.contains(&v.v) {
                        d.warn(
                            self.exp,
                            &p,
                            it.pos,
                            format!("value {} is listed twice; it is used once", v.v),
                            None,
                        );
                    } else {
                        out.push(v.v);
                    }
                }
                None => ok = false,
            }
        }
        ok.then_some(Sp { v: out, pos: n.pos })
    }

    fn map<'n>(&self, d: &mut Diag, path: &str, n: &'n Node) -> Option<&'n [Entry]> {
        match &n.value {
            Value::Map(e) => Some(e),
            // `config:` with nothing under it: treat as an empty section.
            Value::Null => Some(&[]),
            _ => {
                d.err(
                    self.exp,
                    path,
                    n.pos,
                    format!("expected a mapping of keys, found {}", n.kind_name()),
                    None,
                );
                None
            }
        }
    }

    /// Report duplicate keys; returns false for the second and later occurrences.
    fn first_time(
        &self,
        d: &mut Diag,
        seen: &mut HashMap<String, Pos>,
        path: &str,
        e: &Entry,
    ) -> bool {
        if let Some(first) = seen.get(&e.key) {
            d.err(
                self.exp,
                &join(path, &e.key),
                e.key_pos,
                format!("key is defined twice (first at line {})", first.line),
                Some("remove one of them".into()),
            );
            return false;
        }
        seen.insert(e.key.clone(), e.key_pos);
        true
    }

    fn unknown(
        &self,
        d: &mut Diag,
        path: &str,
        e: &Entry,
        here: &[&str],
        elsewhere: &[(&[&str], &str)],
    ) {
        let hint = if let Some(s) = did_you_mean(&e.key, here.iter().copied()) {
            Some(s)
        } else if let Some((_, place)) = elsewhere
            .iter()
            .find(|(keys, _)| keys.contains(&e.key.as_str()))
        {
            Some(format!("it belongs {place}"))
        } else if UNSUPPORTED_KEYS.contains(&e.key.as_str()) {
            Some("xpyd does not support this setting; remove it".into())
        } else {
            let mut hint = None;
            for (keys, place) in elsewhere {
                if let Some(s) = did_you_mean(&e.key, keys.iter().copied()) {
                    hint = Some(format!("{s} it belongs {place}"));
                    break;
                }
            }
            hint
        };
        d.err(
            self.exp,
            &join(path, &e.key),
            e.key_pos,
            "unknown key",
            hint,
        );
    }
}

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

fn db_parse(s: &str) -> Option<DbMode> {
    DbMode::parse(s)
}

/// Parse the whole file: run order and the raw experiments. Experiments with any
/// error are left out (their errors are in `d`).
pub fn parse_file(root: Option<&Node>, d: &mut Diag) -> Vec<RawExp> {
    let top = Cx { exp: None };
    let Some(root) = root else {
        d.err(
            None,
            "",
            Pos::default(),
            "file is empty: expected a mapping of experiment names to experiments",
            None,
        );
        return Vec::new();
    };
    let entries = match &root.value {
        Value::Map(e) => e,
        _ => {
            d.err(
                None,
                "",
                root.pos,
                format!(
                    "top level must be a mapping of experiment names to experiments, found {}",
                    root.kind_name()
                ),
                None,
            );
            return Vec::new();
        }
    };

    let mut seen: HashMap<String, Pos> = HashMap::new();
    let mut exps_node: Option<&Node> = None;
    let mut defined: Vec<&Entry> = Vec::new();
    for e in entries {
        if let Some(first) = seen.get(&e.key) {
            let msg = if e.key == "exps" {
                format!("'exps' is defined twice (first at line {})", first.line)
            } else {
                format!(
                    "experiment '{}' is defined twice (first at line {})",
                    clip(&e.key),
                    first.line
                )
            };
            d.err(
                None,
                &e.key,
                e.key_pos,
                msg,
                Some("experiment names must be unique".into()),
            );
            continue;
        }
        seen.insert(e.key.clone(), e.key_pos);
        if e.key == "exps" {
            exps_node = Some(&e.value);
        } else {
            defined.push(e);
        }
    }

    // Run order: `exps` when given, else file order.
    let mut order: Vec<&Entry> = Vec::new();
    if let Some(n) = exps_node {
        if let Some(items) = top.seq(d, "exps", n, "[exp_a, exp_b]") {
            let names: Vec<&str> = defined.iter().map(|e| e.key.as_str()).collect();
            for (i, it) in items.iter().enumerate() {
                let p = format!("exps[{i}]");
                let Some(name) = top.string(d, &p, it) else {
                    continue;
                };
                match defined.iter().find(|e| e.key == name.v) {
                    Some(e) => {
                        if order.iter().any(|o| o.key == name.v) {
                            d.warn(
                                None,
                                &p,
                                name.pos,
                                format!(
                                    "experiment '{}' is listed twice; it runs once",
                                    clip(&name.v)
                                ),
                                None,
                            );
                        } else {
                            order.push(e);
                        }
                    }
                    None => {
                        let hint = did_you_mean(&name.v, names.iter().copied()).or_else(|| {
                            if names.is_empty() {
                                None
                            } else {
                                Some(format!("defined experiments: {}", names.join(", ")))
                            }
                        });
                        d.err(
                            None,
                            &p,
                            name.pos,
                            format!("experiment '{}' is not defined in this file", clip(&name.v)),
                            hint,
                        );
                    }
                }
            }
            for e in &defined {
                if !order.iter().any(|o| o.key == e.key) && !items.is_empty() {
                    d.warn(
                        None,
                        &e.key,
                        e.key_pos,
                        format!(
                            "experiment '{}' is not listed in exps and will not run",
                            clip(&e.key)
                        ),
                        None,
                    );
                }
            }
        }
    } else {
        order = defined.clone();
    }

    if defined.is_empty() {
        d.err(
            None,
            "",
            root.pos,
            "no experiments defined: add a top-level key per experiment",
            None,
        );
        return Vec::new();
    }

    let mut out = Vec::new();
    for e in order {
        let before = d.errors.len();
        let raw = parse_exp(e, d);
        if d.errors.len() == before {
            if let Some(r) = raw {
                out.push(r);
            }
        }
    }
    out
}

fn parse_exp(e: &Entry, d: &mut Diag) -> Option<RawExp> {
    let name = e.key.as_str();
    let cx = Cx { exp: Some(name) };
    let entries = match &e.value.value {
        Value::Map(m) => m,
        _ => {
            let hint = did_you_mean(name, ["exps"]);
            d.err(
                Some(name),
                "",
                e.value.pos,
                format!(
                    "an experiment must be a mapping of settings, found {}",
                    e.value.kind_name()
                ),
                hint,
            );
            return None;
        }
    };

    let mut seen = HashMap::new();
    let mut mode = None;
    let mut serving_mode = None;
    let mut model_path = None;
    let mut total_gpus = None;
    let mut system_name = None;
    let mut decode_system_name = None;
    let mut backend_name = None;
    let mut backend_version = None;
    let mut database_mode = None;
    let mut isl = None;
    let mut osl = None;
    let mut prefix = None;
    let mut ttft = None;
    let mut tpot = None;
    let mut enable_wideep = None;
    let mut profile = None;
    let mut config: Option<&Entry> = None;
    // Globals that may sit at the top or under `config:`: (value, where).
    let mut globals: Globals = Globals::default();

    let wk = worker_keys();
    for f in entries {
        if !cx.first_time(d, &mut seen, "", f) {
            continue;
        }
        let p = f.key.as_str();
        let n = &f.value;
        match p {
            "mode" => {
                mode = cx.choice(d, p, n, "mode", &["patch", "replace"], |s| match s {
                    "patch" => Some(Mode::Patch),
                    "replace" => Some(Mode::Replace),
                    _ => None,
                })
            }
            "serving_mode" => {
                serving_mode = cx.choice(
                    d,
                    p,
                    n,
                    "serving_mode",
                    &ServingMode::names(),
                    ServingMode::parse,
                )
            }
            "model_path" => model_path = cx.string(d, p, n),
            "total_gpus" => total_gpus = cx.int(d, p, n, 1, MAX_GPUS),
            "system_name" => system_name = cx.string(d, p, n),
            "decode_system_name" => decode_system_name = cx.string(d, p, n),
            "backend_name" => {
                backend_name = cx.choice(d, p, n, "backend", &Backend::names(), Backend::parse)
            }
            "backend_version" => backend_version = cx.opt_string(d, p, n).flatten(),
            "database_mode" => {
                let mut names = DbMode::names();
                names.push("SOL_FULL");
                if let Value::Scalar { text, .. } = &n.value {
                    if text == "SOL_FULL" {
                        d.err(
                            Some(name),
                            p,
                            n.pos,
                            "SOL_FULL is a per-configuration diagnostic view, not a database mode for an experiment",
                            Some("use SOL".into()),
                        );
                        continue;
                    }
                }
                database_mode = cx.choice(d, p, n, "database_mode", &DbMode::names(), db_parse)
            }
            "isl" => isl = cx.int(d, p, n, 1, MAX_SEQ),
            "osl" => osl = cx.int(d, p, n, 2, MAX_SEQ),
            "prefix" => prefix = cx.int(d, p, n, 0, MAX_SEQ),
            "ttft" => ttft = cx.float(d, p, n, false, MAX_MS),
            "tpot" => tpot = cx.float(d, p, n, false, MAX_MS),
            "enable_wideep" => enable_wideep = cx.boolean(d, p, n),
            "profiles" => profile = parse_profiles(&cx, d, n),
            "config" => config = Some(f),
            "nextn" | "nextn_accept_rates" | "moe_backend" | "attention_backend" => {
                globals.parse(&cx, d, "", f)
            }
            _ => cx.unknown(
                d,
                "",
                f,
                EXP_KEYS,
                &[
                    (CONFIG_KEYS, "under 'config:'"),
                    (
                        &wk,
                        "under 'config.worker_config:' (or prefill_/decode_worker_config)",
                    ),
                ],
            ),
        }
    }

    let mut worker = None;
    let mut prefill = None;
    let mut decode = None;
    let mut replica = None;
    let mut tuning = None;
    if let Some(cfg) = config {
        if let Some(centries) = cx.map(d, "config", &cfg.value) {
            let mut cseen = HashMap::new();
            for f in centries {
                if !cx.first_time(d, &mut cseen, "config", f) {
                    continue;
                }
                match f.key.as_str() {
                    "nextn" | "nextn_accept_rates" | "moe_backend" | "attention_backend" => {
                        globals.parse(&cx, d, "config", f)
                    }
                    "worker_config" => worker = parse_worker(&cx, d, "worker_config", f),
                    "prefill_worker_config" => {
                        prefill = parse_worker(&cx, d, "prefill_worker_config", f)
                    }
                    "decode_worker_config" => {
                        decode = parse_worker(&cx, d, "decode_worker_config", f)
                    }
                    "replica_config" => replica = parse_replica(&cx, d, f),
                    "advanced_tuning_config" => tuning = parse_tuning(&cx, d, f),
                    _ => cx.unknown(
                        d,
                        "config",
                        f,
                        CONFIG_KEYS,
                        &[
                            (
                                &wk,
                                "under 'config.worker_config:' (or prefill_/decode_worker_config)",
                            ),
                            (
                                EXP_KEYS,
                                "at the experiment's top level, not under 'config:'",
                            ),
                            (REPLICA_KEYS, "under 'config.replica_config:'"),
                            (TUNING_KEYS, "under 'config.advanced_tuning_config:'"),
                        ],
                    ),
                }
            }
        }
    }

    // Required keys.
    let required: [(&str, bool, &str); 5] = [
        (
            "mode",
            mode.is_some() || seen.contains_key("mode"),
            "patch or replace",
        ),
        (
            "serving_mode",
            serving_mode.is_some() || seen.contains_key("serving_mode"),
            "agg or disagg",
        ),
        (
            "model_path",
            model_path.is_some() || seen.contains_key("model_path"),
            "a HuggingFace model id or a local path",
        ),
        (
            "total_gpus",
            total_gpus.is_some() || seen.contains_key("total_gpus"),
            "total GPUs available",
        ),
        (
            "system_name",
            system_name.is_some() || seen.contains_key("system_name"),
            "GPU system, e.g. h200_sxm",
        ),
    ];
    for (key, present, what) in required {
        if !present {
            d.err(
                Some(name),
                key,
                e.key_pos,
                "missing required key",
                Some(what.to_string()),
            );
        }
    }

    // Keys that cannot take effect for the serving mode.
    if let Some(sm) = &serving_mode {
        let misplaced = |w: &Option<RawWorker>| w.as_ref().map(|w| w.pos);
        match sm.v {
            ServingMode::Agg => {
                for (w, key) in [
                    (&prefill, "prefill_worker_config"),
                    (&decode, "decode_worker_config"),
                ] {
                    if let Some(pos) = misplaced(w) {
                        d.err(
                            Some(name),
                            &format!("config.{key}"),
                            pos,
                            "has no effect with serving_mode: agg",
                            Some("use config.worker_config, or set serving_mode: disagg".into()),
                        );
                    }
                }
                if let Some(ds) = &decode_system_name {
                    d.err(
                        Some(name),
                        "decode_system_name",
                        key_pos(entries, "decode_system_name").unwrap_or(ds.pos),
                        "decode_system_name applies only to serving_mode: disagg",
                        Some("remove it, or set serving_mode: disagg".into()),
                    );
                }
                if let Some(r) = &replica {
                    d.err(
                        Some(name),
                        "config.replica_config",
                        r.pos,
                        "replica_config applies only to serving_mode: disagg",
                        None,
                    );
                }
                if let Some(t) = &tuning {
                    d.err(
                        Some(name),
                        "config.advanced_tuning_config",
                        t.pos,
                        "advanced_tuning_config applies only to serving_mode: disagg",
                        None,
                    );
                }
            }
            ServingMode::Disagg => {
                if let Some(pos) = misplaced(&worker) {
                    d.err(
                        Some(name),
                        "config.worker_config",
                        pos,
                        "has no effect with serving_mode: disagg",
                        Some(
                            "use config.prefill_worker_config and config.decode_worker_config"
                                .into(),
                        ),
                    );
                }
            }
        }
    }

    Some(RawExp {
        name: name.to_string(),
        pos: e.key_pos,
        mode: mode?,
        serving_mode: serving_mode?,
        model_path: model_path?,
        total_gpus: total_gpus?,
        system_name: system_name?,
        decode_system_name,
        backend_name,
        backend_version,
        database_mode,
        isl,
        osl,
        prefix,
        ttft,
        tpot,
        enable_wideep,
        profile: profile.flatten(),
        nextn: globals.nextn.map(|x| x.0),
        nextn_accept_rates: globals.rates.map(|x| x.0),
        moe_backend: globals.moe_backend.and_then(|x| x.0),
        attention_backend: globals.attention_backend.and_then(|x| x.0),
        worker,
        prefill,
        decode,
        replica,
        tuning,
    })
}

fn key_pos(entries: &[Entry], key: &str) -> Option<Pos> {
    entries.iter().find(|e| e.key == key).map(|e| e.key_pos)
}

/// `nextn`, `nextn_accept_rates`, `moe_backend`, `attention_backend`: allowed at the
/// experiment's top level (as the reference does) or under `config:`, but not both.
#[derive(Default)]
struct Globals {
    nextn: Option<(Sp<u32>, Pos)>,
    rates: Option<(Sp<Vec<f64>>, Pos)>,
    moe_backend: Option<(Option<Sp<String>>, Pos)>,
    attention_backend: Option<(Option<Sp<String>>, Pos)>,
    seen: Vec<(String, Pos)>,
}

impl Globals {
    fn parse(&mut self, cx: &Cx, d: &mut Diag, parent: &str, f: &Entry) {
        let path = join(parent, &f.key);
        if let Some((_, first)) = self.seen.iter().find(|(k, _)| *k == f.key) {
            d.err(
                cx.exp,
                &path,
                f.key_pos,
                format!("also set at line {}; set it once", first.line),
                None,
            );
            return;
        }
        self.seen.push((f.key.clone(), f.key_pos));
        let n = &f.value;
        match f.key.as_str() {
            "nextn" => {
                if let Some(v) = cx.int(d, &path, n, 0, MAX_NEXTN) {
                    self.nextn = Some((v, f.key_pos));
                }
            }
            "nextn_accept_rates" => {
                let Some(items) = cx.seq(d, &path, n, "[0.85, 0.3, 0, 0, 0]") else {
                    return;
                };
                let mut out = Vec::new();
                let mut ok = true;
                for (i, it) in items.iter().enumerate() {
                    let p = format!("{path}[{i}]");
                    match cx.float(d, &p, it, true, f64::MAX) {
                        Some(v) if v.v > 1.0 => {
                            d.err(
                                cx.exp,
                                &p,
                                it.pos,
                                format!("an accept rate is a probability in [0, 1], got {}", v.v),
                                None,
                            );
                            ok = false;
                        }
                        Some(v) => out.push(v.v),
                        None => ok = false,
                    }
                }
                if ok {
                    self.rates = Some((Sp { v: out, pos: n.pos }, f.key_pos));
                }
            }
            "moe_backend" => {
                if let Some(v) = cx.opt_string(d, &path, n) {
                    self.moe_backend = Some((v, f.key_pos));
                }
            }
            _ => {
                if let Some(v) = cx.opt_string(d, &path, n) {
                    self.attention_backend = Some((v, f.key_pos));
                }
            }
        }
    }
}

fn parse_profiles(cx: &Cx, d: &mut Diag, n: &Node) -> Option<Option<Sp<String>>> {
    if n.value == Value::Null {
        return Some(None);
    }
    let items = match &n.value {
        Value::Seq(items) => items,
        _ => {
            d.err(
                cx.exp,
                "profiles",
                n.pos,
                format!("expected a list like [fp8], found {}", n.kind_name()),
                None,
            );
            return None;
        }
    };
    let mut chosen: Option<Sp<String>> = None;
    let mut ok = true;
    for (i, it) in items.iter().enumerate() {
        let p = format!("profiles[{i}]");
        // Empty entries are skipped, like the reference does.
        if it.value == Value::Null {
            continue;
        }
        let Some(s) = cx.string(d, &p, it) else {
            ok = false;
            continue;
        };
        if s.v.is_empty() {
            continue;
        }
        if !PROFILES.contains(&s.v.as_str()) {
            d.err(
                cx.exp,
                &p,
                s.pos,
                format!("unknown profile '{}'", clip(&s.v)),
                Some(allowed_hint(&s.v, PROFILES)),
            );
            ok = false;
            continue;
        }
        if let Some(first) = &chosen {
            d.err(
                cx.exp,
                &p,
                s.pos,
                format!(
                    "only one profile can apply; '{}' is already selected",
                    first.v
                ),
                Some("keep a single profile".into()),
            );
            ok = false;
            continue;
        }
        chosen = Some(s);
    }
    ok.then_some(chosen)
}

fn parse_worker(cx: &Cx, d: &mut Diag, key: &'static str, f: &Entry) -> Option<RawWorker> {
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

fn parse_replica(cx: &Cx, d: &mut Diag, f: &Entry) -> Option<RawReplica> {
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

fn parse_tuning(cx: &Cx, d: &mut Diag, f: &Entry) -> Option<RawTuning> {
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
