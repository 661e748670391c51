//! One experiment: its top-level keys, the `config:` section, the settings
//! allowed in either place (`Globals`), the profile, and the keys that cannot
//! take effect for the serving mode.

use super::blocks::{parse_replica, parse_tuning, parse_worker};
use super::keys::{
    worker_keys, CONFIG_KEYS, EXP_KEYS, MAX_GPUS, MAX_MS, MAX_NEXTN, MAX_SEQ, PROFILES,
    REPLICA_KEYS, TUNING_KEYS,
};
use super::raw::{Mode, RawExp, RawWorker, Sp};
use super::reader::{allowed_hint, join, Cx};
use crate::domain::{Backend, DbMode, ServingMode};
use crate::exp::diag::Diag;
use crate::exp::suggest::did_you_mean;
use crate::exp::yaml::{clip, Entry, Node, Pos, Value};
use std::collections::HashMap;

fn db_parse(s: &str) -> Option<DbMode> {
    DbMode::parse(s)
}

pub(super) fn parse_exp(e: &Entry, d: &mut Diag) -> Option<RawExp> {
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

    // Keys that are valid but cannot take effect for the serving mode: the
    // reference runs such an experiment and ignores them, and so does xpyd,
    // saying so (a warning, never a blank experiment).
    if let Some(sm) = &serving_mode {
        let misplaced = |w: &Option<RawWorker>| w.as_ref().map(|w| w.pos);
        match sm.v {
            ServingMode::Agg => {
                for (w, key) in [
                    (&prefill, "prefill_worker_config"),
                    (&decode, "decode_worker_config"),
                ] {
                    if let Some(pos) = misplaced(w) {
                        d.warn(
                            Some(name),
                            &format!("config.{key}"),
                            pos,
                            "ignored: serving_mode is agg, which searches config.worker_config only",
                            Some("move the lists to config.worker_config, or set serving_mode: disagg".into()),
                        );
                    }
                }
                if let Some(ds) = &decode_system_name {
                    d.warn(
                        Some(name),
                        "decode_system_name",
                        key_pos(entries, "decode_system_name").unwrap_or(ds.pos),
                        "ignored: serving_mode is agg, where one system serves prefill and decode",
                        Some("remove it, or set serving_mode: disagg".into()),
                    );
                }
                if let Some(r) = &replica {
                    d.warn(
                        Some(name),
                        "config.replica_config",
                        r.pos,
                        "ignored: replica_config shapes xPyD replicas, and serving_mode is agg",
                        Some("remove it, or set serving_mode: disagg".into()),
                    );
                }
                if let Some(t) = &tuning {
                    d.warn(
                        Some(name),
                        "config.advanced_tuning_config",
                        t.pos,
                        "ignored: advanced_tuning_config tunes disaggregated rate matching, and serving_mode is agg",
                        Some("remove it, or set serving_mode: disagg".into()),
                    );
                }
            }
            ServingMode::Disagg => {
                if let Some(pos) = misplaced(&worker) {
                    d.warn(
                        Some(name),
                        "config.worker_config",
                        pos,
                        "ignored: serving_mode is disagg, which searches config.prefill_worker_config and config.decode_worker_config",
                        Some("move the lists there, or set serving_mode: agg".into()),
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
