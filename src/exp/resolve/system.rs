//! The systems and backend versions an experiment names: alias folding, the
//! catalog look-up with a did-you-mean, and the version (explicit or default)
//! with its SILICON data check.

use super::Ctx;
use crate::domain::{Backend, DbMode};
use crate::exp::catalog::SystemFacts;
use crate::exp::diag::Diag;
use crate::exp::schema::Sp;
use crate::exp::suggest::did_you_mean;
use crate::exp::yaml::clip;

/// Canonical system name for the catalog (`gb200_sxm` is an alias of `gb200`).
pub fn canonical_system(name: &str) -> &str {
    match name {
        "gb200_sxm" => "gb200",
        "gb300_sxm" => "gb300",
        other => other,
    }
}

pub(super) fn lookup_system(
    cx: &Ctx,
    d: &mut Diag,
    key: &str,
    name: &Sp<String>,
) -> Option<SystemFacts> {
    if let Some(s) = cx.cat.system(canonical_system(&name.v)) {
        return Some(s);
    }
    let names = cx.cat.system_names();
    let hint = match did_you_mean(&name.v, names.iter().map(String::as_str)) {
        Some(h) => format!("{h} known systems: {}", names.join(", ")),
        None => format!("known systems: {}", names.join(", ")),
    };
    d.err(
        cx.exp(),
        key,
        name.pos,
        format!("unknown system '{}'", clip(&name.v)),
        Some(hint),
    );
    None
}

/// The version for (system, backend): the explicit one if available, else the catalog's
/// default. An empty string means "no measured data" (built-in SOL).
pub(super) fn resolve_version(
    cx: &mut Ctx,
    d: &mut Diag,
    sys: &SystemFacts,
    backend: Backend,
) -> Option<String> {
    let (list, default) = cx.cat.versions(&sys.name, backend);
    // SILICON reads only measured tables: with none for this system and
    // backend nothing could be priced. The other modes estimate without them.
    let mode = cx
        .raw
        .database_mode
        .as_ref()
        .map_or(DbMode::Silicon, |s| s.v);
    if list.is_empty() && mode == DbMode::Silicon && cx.cat.has_measured_data() {
        let with_data: Vec<String> = cx
            .cat
            .system_names()
            .into_iter()
            .filter(|s| !cx.cat.versions(s, backend).0.is_empty())
            .collect();
        let (key, pos) = match &cx.raw.backend_name {
            Some(b) => ("backend_name", b.pos),
            None => ("system_name", cx.raw.system_name.pos),
        };
        d.err(
            cx.exp(),
            key,
            pos,
            format!(
                "system {} has no measured data for backend {backend}, and database_mode SILICON reads nothing else",
                sys.name
            ),
            Some(format!(
                "use database_mode: SOL or EMPIRICAL, or a system with {backend} data: {}",
                with_data.join(", ")
            )),
        );
        return None;
    }
    let fallback = default.clone().or_else(|| list.last().cloned());
    let Some(v) = &cx.raw.backend_version else {
        return Some(fallback.unwrap_or_default());
    };
    if v.v == "current" || v.v == "latest" {
        return Some(fallback.unwrap_or_default());
    }
    if list.is_empty() {
        cx.notes.push(format!(
            "backend_version {} for {}/{} could not be checked: no measured data is installed",
            v.v, sys.name, backend
        ));
        return Some(v.v.clone());
    }
    if list.contains(&v.v) {
        return Some(v.v.clone());
    }
    let hint = match did_you_mean(&v.v, list.iter().map(String::as_str)) {
        Some(h) => format!("{h} available: {}", list.join(", ")),
        None => format!("available: {}", list.join(", ")),
    };
    d.err(
        cx.exp(),
        "backend_version",
        v.pos,
        format!(
            "backend_version '{}' has no perf data for system {}, backend {}",
            clip(&v.v),
            sys.name,
            backend
        ),
        Some(hint),
    );
    None
}
