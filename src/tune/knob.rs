//! The explorer's knobs: the fields of one experiment a user tunes most,
//! where each lives in the exp file, and what one step of each means.
//!
//! A knob never writes anything itself: it turns a step or a typed value
//! into the YAML text of the new value, and the caller hands that to
//! [`crate::edit::set_file`] like `xpyd set` does.

use crate::domain::{Backend, DbMode};
use crate::exp::vary::VaryKey;
use crate::report::{ExperimentReport, RoleLists};

/// How a knob steps.
#[derive(Clone, Debug, PartialEq)]
pub enum KnobKind {
    /// A sequence length (isl, osl): doubled or halved.
    Length,
    /// Prefix tokens: doubled or halved, from 0 to a quarter of isl and back.
    Prefix { isl: u32 },
    /// An SLA target in ms: 10% up or down.
    Sla,
    /// The GPU budget: the next multiple of the smallest count every role
    /// can fill with one worker.
    Gpus { unit: u32 },
    /// One of a fixed set of names, in order.
    Choice(Vec<String>),
    /// A parallel list whose values are toggled on and off.
    List { candidates: Vec<u32> },
}

/// A knob's value as shown and written.
#[derive(Clone, Debug, PartialEq)]
pub enum KnobValue {
    Num(f64),
    Text(String),
    List(Vec<u32>),
}

impl KnobValue {
    /// The value as YAML text for `xpyd set` (flow list for lists).
    pub fn yaml(&self) -> String {
        match self {
            KnobValue::Num(v) => fmt_num(*v),
            KnobValue::Text(s) => s.clone(),
            KnobValue::List(l) => {
                let items: Vec<String> = l.iter().map(u32::to_string).collect();
                format!("[{}]", items.join(", "))
            }
        }
    }
}

impl std::fmt::Display for KnobValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.yaml())
    }
}

/// Whole numbers without a fraction; others to 0.1 (the steps round there).
fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// One tunable field of one experiment.
#[derive(Clone, Debug, PartialEq)]
pub struct Knob {
    /// As the panel names it (`isl`, `decode tp_list`).
    pub label: String,
    /// The key path inside the experiment (`isl`, `config.worker_config.tp_list`).
    pub key: String,
    pub kind: KnobKind,
    pub value: KnobValue,
}

/// The worker-config section of a role, as the file names it.
fn section(role: &str) -> &'static str {
    match role {
        "prefill" => "prefill_worker_config",
        "decode" => "decode_worker_config",
        _ => "worker_config",
    }
}

/// Values a list knob offers: powers of two up to 64, and whatever the list
/// holds besides.
fn list_candidates(current: &[u32]) -> Vec<u32> {
    let mut c: Vec<u32> = (0..7).map(|i| 1u32 << i).collect();
    c.extend(current.iter().copied());
    c.sort_unstable();
    c.dedup();
    c
}

/// The knobs of `exp` in panel order: workload and SLA, GPU budget, backend,
/// system, database mode, then each role's parallel lists.
pub fn knobs(exp: &ExperimentReport) -> Vec<Knob> {
    let num = |label: &str, kind: KnobKind, v: f64| Knob {
        label: label.into(),
        key: label.into(),
        kind,
        value: KnobValue::Num(v),
    };
    let choice = |label: &str, key: &str, names: Vec<String>, v: &str| Knob {
        label: label.into(),
        key: key.into(),
        kind: KnobKind::Choice(names),
        value: KnobValue::Text(v.into()),
    };
    let roles = exp
        .resolved
        .as_ref()
        .map(|r| r.roles.as_slice())
        .unwrap_or(&[]);
    let unit = roles
        .iter()
        .filter_map(|r| r.search.num_gpu_per_worker.iter().min().copied())
        .max()
        .unwrap_or(1);
    let db_mode = exp
        .resolved
        .as_ref()
        .map_or(exp.database_mode.as_str(), |r| r.database_mode.as_str());
    let names = |v: Vec<&'static str>| v.into_iter().map(String::from).collect();
    let mut out = vec![
        num("isl", KnobKind::Length, exp.isl.into()),
        num("osl", KnobKind::Length, exp.osl.into()),
        num(
            "prefix",
            KnobKind::Prefix { isl: exp.isl },
            exp.prefix.into(),
        ),
        num("ttft", KnobKind::Sla, exp.ttft),
        num("tpot", KnobKind::Sla, exp.tpot),
        num("total_gpus", KnobKind::Gpus { unit }, exp.total_gpus.into()),
        choice(
            "backend",
            "backend_name",
            names(Backend::names()),
            &exp.backend,
        ),
        choice(
            "system",
            "system_name",
            crate::system::spec::builtin_system_names(),
            &exp.system,
        ),
        choice(
            "database mode",
            "database_mode",
            names(DbMode::names()),
            db_mode,
        ),
    ];
    for role in roles {
        let lists: [(&str, &Vec<u32>); 6] = lists_of(&role.search);
        // Attention DP and the MoE lists mean nothing to a dense model.
        let shown = if role.is_moe { 6 } else { 3 };
        for (name, list) in lists.into_iter().take(shown) {
            let label = if role.role == "worker" {
                name.to_string()
            } else {
                format!("{} {name}", role.role)
            };
            out.push(Knob {
                label,
                key: format!("config.{}.{name}", section(&role.role)),
                kind: KnobKind::List {
                    candidates: list_candidates(list),
                },
                value: KnobValue::List(list.clone()),
            });
        }
    }
    out
}

fn lists_of(l: &RoleLists) -> [(&'static str, &Vec<u32>); 6] {
    [
        ("num_gpu_per_worker", &l.num_gpu_per_worker),
        ("tp_list", &l.tp_list),
        ("pp_list", &l.pp_list),
        ("dp_list", &l.dp_list),
        ("moe_tp_list", &l.moe_tp_list),
        ("moe_ep_list", &l.moe_ep_list),
    ]
}

impl Knob {
    /// The sweep key this knob is, if a sweep can vary it.
    pub fn vary_key(&self) -> Option<VaryKey> {
        VaryKey::parse(&self.key).ok()
    }

    /// The value after one step from `from` (`up` = `+`/Right). For lists,
    /// `up` turns the candidate at `cursor` on and `!up` turns it off.
    /// `None` when the step leads nowhere (already at an end).
    pub fn step(&self, from: &KnobValue, up: bool, cursor: usize) -> Option<KnobValue> {
        let next = match (&self.kind, from) {
            (KnobKind::Length, KnobValue::Num(v)) => KnobValue::Num(if up {
                v * 2.0
            } else {
                (v / 2.0).floor().max(1.0)
            }),
            (KnobKind::Prefix { isl }, KnobValue::Num(v)) => KnobValue::Num(match (up, *v) {
                (true, v) if v < 1.0 => (f64::from(*isl) / 4.0).floor().max(1.0),
                (true, v) => v * 2.0,
                (false, v) if v <= 1.0 => 0.0,
                (false, v) => (v / 2.0).floor(),
            }),
            (KnobKind::Sla, KnobValue::Num(v)) => {
                let f = if up { 1.1 } else { 0.9 };
                KnobValue::Num(((v * f) * 10.0).round().max(1.0) / 10.0)
            }
            (KnobKind::Gpus { unit }, KnobValue::Num(v)) => {
                let u = f64::from((*unit).max(1));
                let k = (v / u).floor();
                let n = if up {
                    (k + 1.0) * u
                } else if v % u != 0.0 {
                    k * u
                } else {
                    (k - 1.0) * u
                };
                KnobValue::Num(n.max(u))
            }
            (KnobKind::Choice(names), KnobValue::Text(cur)) => {
                let i = names.iter().position(|n| n == cur);
                let n = names.len();
                if n == 0 {
                    return None;
                }
                let j = match (i, up) {
                    (Some(i), true) => (i + 1) % n,
                    (Some(i), false) => (i + n - 1) % n,
                    (None, _) => 0,
                };
                KnobValue::Text(names[j].clone())
            }
            (KnobKind::List { candidates }, KnobValue::List(cur)) => {
                let c = *candidates.get(cursor)?;
                let mut l = cur.clone();
                if up {
                    l.push(c);
                } else {
                    l.retain(|&x| x != c);
                }
                l.sort_unstable();
                l.dedup();
                KnobValue::List(l)
            }
            _ => return None,
        };
        (next != *from).then_some(next)
    }

    /// A value typed after Enter: a number, a name, or a list such as `1,2,4`
    /// or `[1, 2, 4]`. The loader validates it before anything is written.
    pub fn parse(&self, text: &str) -> Result<KnobValue, String> {
        let t = text.trim();
        match &self.kind {
            KnobKind::Choice(_) if !t.is_empty() => Ok(KnobValue::Text(t.into())),
            KnobKind::Choice(_) => Err(format!("{}: type a name", self.label)),
            KnobKind::List { .. } => {
                let inner = t.trim_start_matches('[').trim_end_matches(']');
                inner
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        s.parse::<u32>()
                            .map_err(|_| format!("{}: '{s}' is not a whole number", self.label))
                    })
                    .collect::<Result<Vec<u32>, String>>()
                    .map(KnobValue::List)
            }
            _ => t
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map(KnobValue::Num)
                .ok_or_else(|| format!("{}: '{t}' is not a number", self.label)),
        }
    }
}

/// Values a sweep of `key` visits around `current`: nine points from a
/// quarter to four times it on a √2 ladder for lengths and SLA targets,
/// every multiple of `unit` up to twice the budget for GPUs, and a ladder from
/// 0 to most of `isl` for the prefix. Always sorted, distinct, and holding
/// `current`.
pub fn sweep_values(key: VaryKey, current: f64, unit: u32, isl: u32) -> Vec<f64> {
    let ladder = [0.25, 0.354, 0.5, 0.707, 1.0, 1.414, 2.0, 2.828, 4.0];
    let mut v: Vec<f64> = match key {
        VaryKey::Isl | VaryKey::Osl => ladder
            .iter()
            .map(|f| (current * f).round().max(1.0))
            .collect(),
        VaryKey::Ttft | VaryKey::Tpot => ladder
            .iter()
            .map(|f| ((current * f) * 10.0).round().max(1.0) / 10.0)
            .collect(),
        VaryKey::TotalGpus => {
            let u = f64::from(unit.max(1));
            let top = (current * 2.0).max(u);
            let n = (top / u).floor() as u32;
            // At most 16 points: coarser multiples on large budgets.
            let stride = n.div_ceil(16).max(1);
            (1..=n)
                .filter(|k| k % stride == 0 || *k == 1)
                .map(|k| f64::from(k) * u)
                .collect()
        }
        VaryKey::Prefix => {
            let top = f64::from(isl.saturating_sub(1));
            [0.0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875]
                .iter()
                .map(|f| (top * f).floor())
                .collect()
        }
    };
    v.push(current);
    v.retain(|x| key.check(*x).is_ok());
    v.sort_by(f64::total_cmp);
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{ResolvedRole, ResolvedSettings};

    fn exp(moe: bool, roles: &[&str]) -> ExperimentReport {
        let lists = RoleLists {
            num_gpu_per_worker: vec![2, 4],
            tp_list: vec![2, 4],
            pp_list: vec![1],
            dp_list: vec![1],
            moe_tp_list: vec![1],
            moe_ep_list: vec![1],
        };
        ExperimentReport {
            name: "e".into(),
            backend: "trtllm".into(),
            system: "h200_sxm".into(),
            database_mode: "SILICON".into(),
            isl: 4000,
            osl: 1000,
            prefix: 0,
            ttft: 1000.0,
            tpot: 40.0,
            total_gpus: 16,
            resolved: Some(ResolvedSettings {
                database_mode: "SILICON".into(),
                roles: roles
                    .iter()
                    .map(|r| ResolvedRole {
                        role: (*r).into(),
                        is_moe: moe,
                        gemm_explicit: false,
                        search: lists.clone(),
                    })
                    .collect(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn labels(k: &[Knob]) -> Vec<&str> {
        k.iter().map(|k| k.label.as_str()).collect()
    }

    #[test]
    fn panel_order_and_keys() {
        let k = knobs(&exp(false, &["worker"]));
        assert_eq!(
            labels(&k),
            [
                "isl",
                "osl",
                "prefix",
                "ttft",
                "tpot",
                "total_gpus",
                "backend",
                "system",
                "database mode",
                "num_gpu_per_worker",
                "tp_list",
                "pp_list"
            ]
        );
        assert_eq!(k[6].key, "backend_name");
        assert_eq!(k[10].key, "config.worker_config.tp_list");
        let k = knobs(&exp(true, &["prefill", "decode"]));
        assert_eq!(k.len(), 9 + 12);
        assert_eq!(k[9 + 6 + 5].label, "decode moe_ep_list");
        assert_eq!(k[9 + 6 + 5].key, "config.decode_worker_config.moe_ep_list");
    }

    fn step(k: &Knob, up: bool) -> Option<String> {
        k.step(&k.value, up, 0).map(|v| v.yaml())
    }

    #[test]
    fn lengths_double_and_halve() {
        let k = &knobs(&exp(false, &["worker"]))[0];
        assert_eq!(step(k, true).as_deref(), Some("8000"));
        assert_eq!(step(k, false).as_deref(), Some("2000"));
    }

    #[test]
    fn sla_targets_move_ten_percent() {
        let k = &knobs(&exp(false, &["worker"]))[3];
        assert_eq!(step(k, true).as_deref(), Some("1100"));
        assert_eq!(step(k, false).as_deref(), Some("900"));
        let tpot = &knobs(&exp(false, &["worker"]))[4];
        let v = tpot.step(&KnobValue::Num(33.0), true, 0).map(|v| v.yaml());
        assert_eq!(v.as_deref(), Some("36.3"));
    }

    #[test]
    fn prefix_starts_at_a_quarter_of_isl_and_returns_to_zero() {
        let k = &knobs(&exp(false, &["worker"]))[2];
        assert_eq!(step(k, true).as_deref(), Some("1000"));
        assert_eq!(step(k, false), None);
        let v = k.step(&KnobValue::Num(1.0), false, 0);
        assert_eq!(v, Some(KnobValue::Num(0.0)));
    }

    #[test]
    fn gpu_budget_moves_to_the_next_count_every_role_can_fill() {
        // Smallest worker is 2 GPUs: 16 → 18 / 14; an odd budget snaps.
        let k = &knobs(&exp(false, &["worker"]))[5];
        assert_eq!(step(k, true).as_deref(), Some("18"));
        assert_eq!(step(k, false).as_deref(), Some("14"));
        let v = k.step(&KnobValue::Num(15.0), false, 0).map(|v| v.yaml());
        assert_eq!(v.as_deref(), Some("14"));
        assert_eq!(k.step(&KnobValue::Num(2.0), false, 0), None);
    }

    #[test]
    fn choices_cycle() {
        let k = &knobs(&exp(false, &["worker"]))[6];
        assert_eq!(step(k, true).as_deref(), Some("vllm"));
        assert_eq!(step(k, false).as_deref(), Some("sglang"));
        let db = &knobs(&exp(false, &["worker"]))[8];
        assert_eq!(step(db, true).as_deref(), Some("HYBRID"));
    }

    #[test]
    fn list_values_toggle_on_and_off() {
        let k = &knobs(&exp(false, &["worker"]))[10];
        let KnobKind::List { candidates } = &k.kind else {
            panic!("tp_list is a list knob")
        };
        assert_eq!(candidates, &[1, 2, 4, 8, 16, 32, 64]);
        let on = k.step(&k.value, true, 3).map(|v| v.yaml());
        assert_eq!(on.as_deref(), Some("[2, 4, 8]"));
        let off = k.step(&k.value, false, 1).map(|v| v.yaml());
        assert_eq!(off.as_deref(), Some("[4]"));
        // Turning on what is on already changes nothing.
        assert_eq!(k.step(&k.value, true, 1), None);
    }

    #[test]
    fn typed_values() {
        let k = knobs(&exp(false, &["worker"]));
        assert_eq!(k[0].parse(" 6000 "), Ok(KnobValue::Num(6000.0)));
        assert!(k[0].parse("lots").is_err());
        assert_eq!(k[10].parse("[1, 8]"), Ok(KnobValue::List(vec![1, 8])));
        assert_eq!(k[10].parse("2,4"), Ok(KnobValue::List(vec![2, 4])));
        assert!(k[10].parse("2,x").is_err());
        assert_eq!(
            k[7].parse("b200_sxm"),
            Ok(KnobValue::Text("b200_sxm".into()))
        );
    }

    #[test]
    fn sweep_values_hold_the_current_value() {
        let v = sweep_values(VaryKey::Isl, 4000.0, 1, 4000);
        assert_eq!(v.first(), Some(&1000.0));
        assert_eq!(v.last(), Some(&16000.0));
        assert!(v.contains(&4000.0));
        assert_eq!(v.len(), 9);
        let g = sweep_values(VaryKey::TotalGpus, 16.0, 2, 4000);
        assert_eq!(g.first(), Some(&2.0));
        assert_eq!(g.last(), Some(&32.0));
        assert!(g.contains(&16.0));
        let p = sweep_values(VaryKey::Prefix, 0.0, 1, 4000);
        assert!(p.iter().all(|x| *x < 4000.0) && p.contains(&0.0));
        let t = sweep_values(VaryKey::Tpot, 33.0, 1, 4000);
        assert!(t.contains(&33.0) && t.iter().all(|x| *x > 0.0));
    }
}
