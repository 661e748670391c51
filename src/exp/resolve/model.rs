//! The model an experiment names: a HuggingFace id or a local directory,
//! loaded through the catalog.

use super::Ctx;
use crate::exp::catalog::ModelFacts;
use crate::exp::diag::Diag;
use crate::exp::yaml::clip;
use std::path::Path;

pub(super) fn load_model(cx: &Ctx, d: &mut Diag) -> Option<ModelFacts> {
    let mp = &cx.raw.model_path;
    let p = mp.v.as_str();
    if p.trim().is_empty() {
        d.err(cx.exp(), "model_path", mp.pos, "model_path is empty", None);
        return None;
    }
    // Local paths are checked here so the message does not depend on the catalog.
    let local =
        p.starts_with('/') || p.starts_with("./") || p.starts_with("../") || p.starts_with('~');
    if local {
        let path = Path::new(p);
        if !path.exists() {
            d.err(
                cx.exp(),
                "model_path",
                mp.pos,
                format!("local model path '{}' does not exist", clip(p)),
                Some(
                    "use a HuggingFace id like Qwen/Qwen3-32B or a directory with config.json"
                        .into(),
                ),
            );
            return None;
        }
        let cfg = path.join("config.json");
        if let Err(e) = std::fs::read_to_string(&cfg) {
            d.err(
                cx.exp(),
                "model_path",
                mp.pos,
                format!("cannot read '{}': {e}", clip(&cfg.display().to_string())),
                Some("a local model is a directory holding the HuggingFace config.json".into()),
            );
            return None;
        }
    }
    match cx.cat.model(p) {
        Ok(m) => Some(m),
        Err(msg) => {
            d.err(cx.exp(), "model_path", mp.pos, msg, None);
            None
        }
    }
}
