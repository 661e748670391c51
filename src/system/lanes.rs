//! Attention kernel-lane precedence, as the reference resolves it before it
//! serializes the top-level attention ops: the user's `attention_backend`
//! (translated to stored `kernel_source` labels), then the framework default
//! of `attention_lane_defaults.yaml` for (backend, version floor, SM), then the
//! remaining lanes ranked by how much data each carries — lanes of the
//! requested version ahead of lanes inherited from donor versions. Without an
//! override or a map entry the order fails closed to `["default"]`.

use super::quants::probe_engine_with;
use crate::domain::{Backend, DbMode};
use crate::engine::compile::LaneOrders;
use std::collections::BTreeMap;
use std::path::Path;

/// Named lanes of the vocabulary (everything but `default`), sorted.
const KNOWN_LANES: [&str; 5] = ["fa3", "fla", "flashinfer", "triton", "trtllm_mha"];

/// Stored lane labels a user override stands for on a backend.
pub fn override_lanes(backend: Backend, over: &str) -> Result<Vec<&'static str>, String> {
    if over == "default" {
        return Ok(vec!["default"]);
    }
    let lanes: Option<&[&'static str]> = match (backend, over) {
        (Backend::Sglang, "fa3") => Some(&["fa3"]),
        (Backend::Sglang, "triton") => Some(&["triton"]),
        (Backend::Sglang, "trtllm_mha") => Some(&["trtllm_mha"]),
        (Backend::Sglang, "flashinfer") => Some(&["flashinfer"]),
        (Backend::Sglang, "fla") => Some(&["fla"]),
        (Backend::Vllm, "triton") => Some(&["vllm_triton_attn"]),
        (Backend::Vllm, "flashinfer") => Some(&[
            "vllm_flashinfer_trtllmprefill",
            "vllm_flashinfer_trtllmdecode",
            "vllm_flashinfer",
        ]),
        _ => None,
    };
    lanes.map(<[_]>::to_vec).ok_or_else(|| {
        let mut ok: Vec<&str> = match backend {
            Backend::Sglang => vec!["fa3", "fla", "flashinfer", "triton", "trtllm_mha"],
            Backend::Vllm => vec!["flashinfer", "triton"],
            Backend::Trtllm => vec![],
        };
        ok.push("default");
        format!(
            "attention_backend '{over}' is not supported on {backend}; supported: {}",
            ok.join(", ")
        )
    })
}

/// Leading numeric parts of a version ("1.3.0rc23" → [1, 3, 0]).
fn version_parts(v: &str) -> Vec<u64> {
    let mut parts = Vec::new();
    for seg in v.split('.') {
        if let Ok(n) = seg.parse() {
            parts.push(n);
            continue;
        }
        let digits: String = seg.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(n) = digits.parse() {
            parts.push(n);
        }
        break;
    }
    if parts.is_empty() {
        parts.push(0);
    }
    parts
}

type DefaultsMap = BTreeMap<String, BTreeMap<String, BTreeMap<u32, String>>>;

fn load_defaults(systems_dir: &Path) -> Result<DefaultsMap, String> {
    let path = systems_dir.join("attention_lane_defaults.yaml");
    if !path.is_file() {
        return Ok(DefaultsMap::new());
    }
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    if text.trim().is_empty() {
        return Ok(DefaultsMap::new());
    }
    serde_saphyr::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The resolver's (pinned head, framework default matched) for a context.
pub fn pinned_lanes(
    defaults: &DefaultsMap,
    backend: Backend,
    version: &str,
    sm_version: Option<u32>,
    over: Option<&str>,
) -> Result<(Vec<String>, bool), String> {
    let mut listed: Vec<String> = Vec::new();
    if let Some(o) = over {
        listed.extend(override_lanes(backend, o)?.into_iter().map(String::from));
    }
    let mut matched = false;
    if let Some(by_version) = defaults.get(backend.name()) {
        let want = version_parts(version);
        let best = by_version
            .keys()
            .filter(|k| version_parts(k) <= want)
            .max_by(|a, b| version_parts(a).cmp(&version_parts(b)));
        // A system without an SM version never matches an entry.
        let lane = best.and_then(|k| by_version.get(k)?.get(&sm_version?));
        if let Some(lane) = lane {
            matched = true;
            if !listed.contains(lane) {
                listed.push(lane.clone());
            }
        }
    }
    listed.retain(|l| l != "default");
    Ok((listed, matched))
}

/// Lanes ranked by (slices desc, rows desc, name).
fn ranked<'a>(
    lanes: impl Iterator<Item = &'a str>,
    density: &BTreeMap<String, (u32, u32)>,
) -> Vec<String> {
    let mut v: Vec<&str> = lanes.collect();
    v.sort_by_key(|l| {
        let (s, r) = density.get(*l).copied().unwrap_or((0, 0));
        (std::cmp::Reverse(s), std::cmp::Reverse(r), l.to_string())
    });
    v.into_iter().map(String::from).collect()
}

/// Pinned, then donors by density, `default`, then table-only lanes.
fn walk_order(density: &BTreeMap<String, (u32, u32)>, pinned: &[String]) -> Vec<String> {
    let donors: Vec<&str> = KNOWN_LANES
        .iter()
        .copied()
        .filter(|l| !pinned.iter().any(|p| p == l))
        .collect();
    let mut out: Vec<String> = pinned.to_vec();
    if density.is_empty() {
        out.extend(donors.iter().map(|s| s.to_string()));
        out.push("default".into());
        return out;
    }
    out.extend(ranked(donors.iter().copied(), density));
    out.push("default".into());
    let leftovers = density
        .keys()
        .map(String::as_str)
        .filter(|l| !out.iter().any(|o| o == l));
    let leftovers = ranked(leftovers, density);
    out.extend(leftovers);
    out
}

/// Requested-version lanes ahead of lanes only inherited from donors.
pub fn tiered_order(
    shared: &BTreeMap<String, (u32, u32)>,
    primary: &BTreeMap<String, (u32, u32)>,
    pinned: &[String],
) -> Vec<String> {
    let shared_order = walk_order(shared, pinned);
    if primary.is_empty() {
        return shared_order;
    }
    let mut out = pinned.to_vec();
    let is_pinned = |l: &String| pinned.contains(l);
    out.extend(
        walk_order(primary, pinned)
            .into_iter()
            .filter(|l| primary.contains_key(l) && !is_pinned(l)),
    );
    out.extend(
        shared_order
            .into_iter()
            .filter(|l| !primary.contains_key(l) && !is_pinned(l)),
    );
    out
}

/// (context, generation) lane density of one table view.
type Density = (BTreeMap<String, (u32, u32)>, BTreeMap<String, (u32, u32)>);

fn density(
    systems_dir: &Path,
    system: &str,
    backend: Backend,
    version: &str,
    shared: bool,
) -> Result<Density, String> {
    let engine = probe_engine_with(
        systems_dir,
        system,
        backend,
        version,
        "SILICON",
        Some(shared),
    )?;
    let db = engine.database();
    let to_map = |v: Vec<(String, u32, u32)>| v.into_iter().map(|(l, s, r)| (l, (s, r))).collect();
    // A table with no data has no lanes (the reference reads it as empty).
    let ctx = db.attention.context_lanes().unwrap_or_default();
    let gen = db.attention.generation_lanes().unwrap_or_default();
    Ok((to_map(ctx), to_map(gen)))
}

/// The lane orders the reference writes into the attention ops of one
/// (system, backend, version, attention_backend) in `mode`. Errors only for
/// an explicit override the data cannot serve.
pub fn resolve_lane_orders(
    systems_dir: &Path,
    system: &str,
    sm_version: Option<u32>,
    backend: Backend,
    version: &str,
    attention_backend: Option<&str>,
    mode: DbMode,
) -> Result<LaneOrders, String> {
    let fallback = || LaneOrders {
        context: vec!["default".into()],
        generation: vec!["default".into()],
    };
    let named = attention_backend.is_some_and(|o| o != "default");
    let defaults = match load_defaults(systems_dir) {
        Ok(d) => d,
        Err(e) if named => return Err(e),
        Err(_) => return Ok(fallback()),
    };
    let (pinned, matched) =
        pinned_lanes(&defaults, backend, version, sm_version, attention_backend)?;
    if pinned.is_empty() && !matched {
        return Ok(fallback());
    }
    let shared_on = matches!(mode, DbMode::Silicon | DbMode::Hybrid);
    let all = density(systems_dir, system, backend, version, shared_on);
    let own = density(systems_dir, system, backend, version, false);
    let ((s_ctx, s_gen), (p_ctx, p_gen)) = match (all, own) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) if named => return Err(e),
        _ => return Ok(fallback()),
    };
    if let Some(o) = attention_backend.filter(|o| *o != "default") {
        let lanes = override_lanes(backend, o)?;
        for (phase, d) in [("context", &s_ctx), ("generation", &s_gen)] {
            if !lanes.iter().any(|l| d.contains_key(*l)) {
                return Err(format!(
                    "attention_backend '{o}' has no {phase} attention measurements for {system} \
                     {backend} {version}; available lanes: {}",
                    d.keys().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    Ok(LaneOrders {
        context: tiered_order(&s_ctx, &p_ctx, &pinned),
        generation: tiered_order(&s_gen, &p_gen, &pinned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> DefaultsMap {
        serde_saphyr::from_str(
            "sglang:\n  \"0.5.14\":\n    90: fa3\n    100: triton\nvllm:\n  \"0.24.0\":\n    90: default\n",
        )
        .unwrap()
    }

    #[test]
    fn version_floor_and_sm_pick_the_framework_default() {
        let d = defaults();
        let p = pinned_lanes(&d, Backend::Sglang, "0.5.14.post1", Some(100), None).unwrap();
        assert_eq!(p, (vec!["triton".to_string()], true));
        let p = pinned_lanes(&d, Backend::Sglang, "0.5.9", Some(100), None).unwrap();
        assert_eq!(p, (vec![], false));
        let p = pinned_lanes(&d, Backend::Vllm, "0.24.0", Some(90), None).unwrap();
        assert_eq!(p, (vec![], true));
        let p = pinned_lanes(&d, Backend::Sglang, "0.5.14", Some(90), Some("flashinfer")).unwrap();
        assert_eq!(p.0, ["flashinfer", "fa3"]);
        assert!(pinned_lanes(&d, Backend::Trtllm, "1.0", Some(90), Some("fa3")).is_err());
        assert_eq!(version_parts("1.3.0rc23"), [1, 3, 0]);
    }

    #[test]
    fn density_ranks_donors_and_requested_version_first() {
        let m = |v: &[(&str, u32, u32)]| -> BTreeMap<String, (u32, u32)> {
            v.iter()
                .map(|(l, s, r)| (l.to_string(), (*s, *r)))
                .collect()
        };
        let shared = m(&[
            ("trtllm_mha", 64, 100),
            ("flashinfer", 10, 5),
            ("fa3", 3, 3),
        ]);
        let primary = m(&[("flashinfer", 10, 5)]);
        let order = tiered_order(&shared, &primary, &["triton".to_string()]);
        assert_eq!(
            order,
            [
                "triton",
                "flashinfer",
                "trtllm_mha",
                "fa3",
                "fla",
                "default"
            ]
        );
        let order = tiered_order(&m(&[("vllm_x", 1, 1)]), &BTreeMap::new(), &[]);
        assert_eq!(
            order,
            [
                "fa3",
                "fla",
                "flashinfer",
                "triton",
                "trtllm_mha",
                "default",
                "vllm_x"
            ]
        );
    }
}
