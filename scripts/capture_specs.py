#!/usr/bin/env python3
"""Capture the exact EngineSpec JSON the reference feeds its engine, as golden
fixtures for xpyd's op-graph compiler (tests/compile_golden.rs).

Two sources:
  * direct `compile_engine(...)` calls over a spread of request points;
  * in-process `aiconfigurator cli exp` runs over the parity YAML cases, so the
    specs the sweep really builds (rust_engine_step path) are covered too.

The reference is used unmodified: `aiconfigurator_core.engine_spec_bincode_from_json`
is replaced by a recorder that stores its argument and calls the original, and
`sdk.engine.build_engine_spec_json` by a wrapper that remembers the model it was
given (for the raw quant names, the MoE options and the memory weights).

Usage: /work/V/bin/python scripts/capture_specs.py OUT_DIR [--no-cli] [--only-cli]
"""
import glob
import hashlib
import json
import os
import sys
import tempfile

import aiconfigurator_core
import aiconfigurator_core.sdk.engine as sdk_engine

SYSTEMS_PLACEHOLDER = "$SYSTEMS"
_orig_bincode = aiconfigurator_core.engine_spec_bincode_from_json
_orig_build = sdk_engine.build_engine_spec_json
_last_model = []
records = []  # (spec_json_str, model or None, origin)


def _recording_build(model, **kw):
    _last_model.append(model)
    return _orig_build(model, **kw)


def _recording_bincode(spec_json):
    # Database probe specs (no ops) go through here too; they must not take the
    # model of the spec being built around them.
    has_ops = bool(json.loads(spec_json).get("context_ops"))
    model = _last_model.pop() if (_last_model and has_ops) else None
    records.append((spec_json, model, ORIGIN[0]))
    return _orig_bincode(spec_json)


aiconfigurator_core.engine_spec_bincode_from_json = _recording_bincode
sdk_engine.build_engine_spec_json = _recording_build
ORIGIN = ["direct"]


def _name(v):
    return None if v is None else getattr(v, "name", str(v))


def request_of(spec, model):
    """Everything xpyd's CompileRequest needs to rebuild this spec."""
    eng = spec["engine"]
    cfg = model.config
    lanes = {}
    for phase in ("context_ops", "generation_ops"):
        for op in spec[phase]:
            (kind, body), = op.items()
            if kind in ("ContextAttention", "GenerationAttention"):
                lanes.setdefault(kind, body["lane_order"])
    pp = max(int(cfg.pp_size or 1), 1)
    return {
        "model": model.model_path,
        "system": eng["system_name"],
        "backend": eng["backend"],
        "backend_version": eng["backend_version"],
        "tp": int(cfg.tp_size), "pp": pp, "dp": int(cfg.attention_dp_size or 1),
        "moe_tp": int(cfg.moe_tp_size or 1), "moe_ep": int(cfg.moe_ep_size or 1),
        "cp": int(getattr(cfg, "cp_size", 1) or 1),
        "gemm": _name(cfg.gemm_quant_mode), "moe": _name(cfg.moe_quant_mode),
        "kvcache": _name(cfg.kvcache_quant_mode), "fmha": _name(cfg.fmha_quant_mode),
        "comm": _name(cfg.comm_quant_mode),
        "nextn": int(getattr(model, "_nextn", 0) or 0),
        "database_mode": eng["database_mode"],
        "systems_path": eng["systems_path"],
        "enable_shared_layer": eng["enable_shared_layer"],
        "moe_backend": getattr(cfg, "moe_backend", None),
        "attention_backend": getattr(cfg, "attention_backend", None),
        "enable_wideep": bool(getattr(cfg, "enable_wideep", False)),
        "moe_comm_backend": getattr(cfg, "moe_comm_backend", None),
        "num_gpus_per_node": getattr(cfg, "num_gpus_per_node", None),
        "lane_orders": lanes,
        "weight_bytes": float(sum(op.get_weights() for op in model.context_ops)) / pp,
    }


def normalize(spec_str, systems_root):
    s = spec_str
    if systems_root:
        s = s.replace(json.dumps(systems_root)[1:-1], SYSTEMS_PLACEHOLDER)
    return json.loads(s)


DIRECT = [
    # model, system, backend, kwargs
    ("Qwen/Qwen3-32B", "h100_sxm", "trtllm", dict(tp_size=1)),
    ("Qwen/Qwen3-32B", "h100_sxm", "trtllm", dict(tp_size=2)),
    ("Qwen/Qwen3-32B", "h100_sxm", "trtllm", dict(tp_size=4)),
    ("Qwen/Qwen3-32B", "h100_sxm", "trtllm", dict(tp_size=8)),
    ("Qwen/Qwen3-32B", "h100_sxm", "trtllm", dict(tp_size=2, pp_size=2)),
    ("Qwen/Qwen3-32B", "h100_sxm", "vllm", dict(tp_size=4, gemm_quant_mode="fp8_block", kvcache_quant_mode="fp8")),
    ("Qwen/Qwen3-32B", "h200_sxm", "sglang", dict(tp_size=2, gemm_quant_mode="fp8", kvcache_quant_mode="fp8", fmha_quant_mode="fp8")),
    ("Qwen/Qwen3-32B", "b200_sxm", "trtllm", dict(tp_size=2, gemm_quant_mode="nvfp4", kvcache_quant_mode="fp8")),
    ("Qwen/Qwen3-32B", "h100_sxm", "trtllm", dict(tp_size=4, gemm_quant_mode="fp8_static", nextn=2)),
    ("Qwen/Qwen3-8B", "h100_sxm", "trtllm", dict(tp_size=1, nextn=1)),
    ("Qwen/Qwen3-8B", "a100_sxm", "vllm", dict(tp_size=2)),
    ("Qwen/Qwen3-8B", "gb200", "sglang", dict(tp_size=1, gemm_quant_mode="fp8_block")),
    ("meta-llama/Meta-Llama-3.1-70B", "a100_sxm", "trtllm", dict(tp_size=8, pp_size=2)),
    ("meta-llama/Meta-Llama-3.1-70B", "h200_sxm", "vllm", dict(tp_size=4, gemm_quant_mode="fp8")),
    ("meta-llama/Meta-Llama-3.1-405B", "gb200", "trtllm", dict(tp_size=8, gemm_quant_mode="nvfp4", kvcache_quant_mode="fp8")),
    ("meta-llama/Meta-Llama-3.1-405B", "h100_sxm", "trtllm", dict(tp_size=8, pp_size=2, gemm_quant_mode="nvfp4_wo")),
    ("meta-llama/Meta-Llama-3.1-8B", "h100_sxm", "sglang", dict(tp_size=1)),
    ("Qwen/Qwen3-30B-A3B", "h200_sxm", "trtllm", dict(tp_size=2, moe_tp_size=1, moe_ep_size=2)),
    ("Qwen/Qwen3-30B-A3B", "h200_sxm", "trtllm", dict(tp_size=1, attention_dp_size=4, moe_tp_size=1, moe_ep_size=4, moe_quant_mode="fp8_block", gemm_quant_mode="fp8_block")),
    ("Qwen/Qwen3-30B-A3B", "h100_sxm", "vllm", dict(tp_size=4, moe_tp_size=4, moe_ep_size=1)),
    ("Qwen/Qwen3-30B-A3B", "h100_sxm", "sglang", dict(tp_size=2, attention_dp_size=2, moe_tp_size=2, moe_ep_size=2, moe_quant_mode="fp8", gemm_quant_mode="fp8")),
    ("Qwen/Qwen3-30B-A3B", "b200_sxm", "trtllm", dict(tp_size=4, moe_tp_size=2, moe_ep_size=2, moe_quant_mode="nvfp4", gemm_quant_mode="nvfp4", nextn=1)),
    ("Qwen/Qwen3-235B-A22B", "h200_sxm", "trtllm", dict(tp_size=8, moe_tp_size=1, moe_ep_size=8, moe_quant_mode="w4afp8", gemm_quant_mode="fp8")),
    ("Qwen/Qwen3-235B-A22B", "gb200", "sglang", dict(tp_size=4, moe_tp_size=1, moe_ep_size=4, moe_quant_mode="fp8_block", gemm_quant_mode="fp8_block", kvcache_quant_mode="fp8")),
    ("Qwen/Qwen3-235B-A22B", "h100_sxm", "vllm", dict(tp_size=8, moe_tp_size=8, moe_ep_size=1, pp_size=2)),
    ("openai/gpt-oss-120b", "h200_sxm", "trtllm", dict(tp_size=2, moe_tp_size=1, moe_ep_size=2)),
    ("openai/gpt-oss-120b", "b200_sxm", "trtllm", dict(tp_size=1, attention_dp_size=4, moe_tp_size=1, moe_ep_size=4)),
    ("openai/gpt-oss-120b", "h100_sxm", "vllm", dict(tp_size=4, moe_tp_size=4)),
    ("openai/gpt-oss-20b", "h100_sxm", "sglang", dict(tp_size=1)),
    ("openai/gpt-oss-20b", "gb200", "trtllm", dict(tp_size=2, moe_tp_size=2)),
    ("deepseek-ai/DeepSeek-V3", "h200_sxm", "trtllm", dict(tp_size=8, moe_tp_size=1, moe_ep_size=8)),
    ("deepseek-ai/DeepSeek-V3", "h200_sxm", "trtllm", dict(tp_size=1, attention_dp_size=8, moe_tp_size=1, moe_ep_size=8, nextn=1)),
    ("deepseek-ai/DeepSeek-V3", "h100_sxm", "trtllm", dict(tp_size=8, pp_size=2, moe_tp_size=8, nextn=2)),
    ("deepseek-ai/DeepSeek-V3", "h200_sxm", "vllm", dict(tp_size=8, moe_tp_size=1, moe_ep_size=8)),
    ("deepseek-ai/DeepSeek-V3", "h200_sxm", "sglang", dict(tp_size=8, moe_tp_size=1, moe_ep_size=8)),
    ("deepseek-ai/DeepSeek-V3", "b200_sxm", "trtllm", dict(tp_size=4, attention_dp_size=1, moe_tp_size=1, moe_ep_size=4, gemm_quant_mode="nvfp4", moe_quant_mode="nvfp4")),
    ("deepseek-ai/DeepSeek-R1", "gb200", "trtllm", dict(tp_size=1, attention_dp_size=4, moe_tp_size=1, moe_ep_size=4, moe_quant_mode="w4afp8")),
]


def run_direct():
    ORIGIN[0] = "direct"
    from aiconfigurator_core.sdk.engine import compile_engine

    for model, system, backend, kw in DIRECT:
        try:
            compile_engine(model, system, backend, **kw)
        except Exception as exc:  # rejected tuples are interesting too, but not as spec goldens
            print(f"direct {model} {system} {backend} {kw}: {type(exc).__name__}: {exc}", file=sys.stderr)


# Large-EP graphs are only built when a MoE comm backend is set on the model
# config (the sweep's resolver does this from data coverage); build those
# models directly so every all-to-all flavor is covered.
LARGE_EP = [
    # model, system, backend, parallel kwargs, {phase: comm backend}, gpus/node, quant kwargs, nextn
    ("deepseek-ai/DeepSeek-V3", "h200_sxm", "sglang", dict(tp_size=1, attention_dp_size=16, moe_tp_size=1, moe_ep_size=16),
     {"context": "deepep_ht", "generation": "deepep_ll"}, 8, {}, 0),
    ("deepseek-ai/DeepSeek-V3", "h200_sxm", "sglang", dict(tp_size=2, attention_dp_size=4, moe_tp_size=1, moe_ep_size=8),
     {"context": "deepep_ht", "generation": "deepep_ll"}, 8, {}, 1),
    ("deepseek-ai/DeepSeek-V3", "h200_sxm", "vllm", dict(tp_size=1, attention_dp_size=8, moe_tp_size=1, moe_ep_size=8),
     {"context": "deepep_ht", "generation": "deepep_ll"}, 8, {}, 0),
    ("deepseek-ai/DeepSeek-R1", "gb200", "trtllm", dict(tp_size=1, attention_dp_size=32, moe_tp_size=1, moe_ep_size=32),
     {"context": "nvlink_two_sided", "generation": "nvlink_two_sided"}, 4,
     dict(gemm_quant_mode="nvfp4", moe_quant_mode="nvfp4"), 2),
    ("Qwen/Qwen3-235B-A22B", "h200_sxm", "sglang", dict(tp_size=1, attention_dp_size=16, moe_tp_size=1, moe_ep_size=16),
     {"context": "deepep_ht", "generation": "deepep_ll"}, 8, dict(gemm_quant_mode="fp8_block", moe_quant_mode="fp8_block"), 0),
    ("Qwen/Qwen3-30B-A3B", "b200_sxm", "trtllm", dict(tp_size=1, attention_dp_size=8, moe_tp_size=1, moe_ep_size=8),
     {"generation": "trtllm_deepep_ll"}, 8, dict(gemm_quant_mode="nvfp4", moe_quant_mode="nvfp4"), 0),
    ("Qwen/Qwen3-235B-A22B", "h100_sxm", "vllm", dict(tp_size=1, attention_dp_size=16, moe_tp_size=1, moe_ep_size=16),
     {"context": "deepep_ht", "generation": "deepep_ll"}, 8, {}, 0),
]

# sglang context parallelism (prefill-only) for each family.
CP = [
    ("Qwen/Qwen3-32B", "h200_sxm", "sglang", dict(tp_size=1, cp_size=4)),
    ("Qwen/Qwen3-30B-A3B", "h200_sxm", "sglang", dict(tp_size=1, moe_tp_size=1, moe_ep_size=2, cp_size=2)),
    ("deepseek-ai/DeepSeek-V3", "h200_sxm", "sglang", dict(tp_size=1, moe_tp_size=1, moe_ep_size=8, cp_size=8)),
]


def _build(model_path, system, backend, par, quant, nextn, comm=None, gpn=None):
    from aiconfigurator_core.sdk import perf_database
    from aiconfigurator_core.sdk.config_builders import apply_nextn, build_model_config
    from aiconfigurator_core.sdk.models import get_model

    cfg = build_model_config(
        tp_size=par.get("tp_size", 1), pp_size=par.get("pp_size", 1),
        attention_dp_size=par.get("attention_dp_size", 1), moe_tp_size=par.get("moe_tp_size", 1),
        moe_ep_size=par.get("moe_ep_size", 1), **quant)
    cfg.cp_size = par.get("cp_size", 1)
    if comm:
        cfg.moe_comm_backend = comm
        cfg.num_gpus_per_node = gpn
    apply_nextn(cfg, nextn)
    model = get_model(model_path, cfg, backend)
    version = perf_database.resolve_query_version(system, backend, "current")
    db = sdk_engine._maybe_load_database(system, backend, version, None)
    spec = sdk_engine.build_engine_spec_json(model, model_path=model_path, system=system, backend=backend,
                                             backend_version=version, kv_block_size=None, systems_path=None,
                                             nextn=cfg.nextn, database=db)
    aiconfigurator_core.engine_spec_bincode_from_json(spec)


def run_built():
    ORIGIN[0] = "built"
    for model, system, backend, par, comm, gpn, quant, nextn in LARGE_EP:
        try:
            _build(model, system, backend, par, quant, nextn, comm, gpn)
        except Exception as exc:
            print(f"large-ep {model} {system} {backend} {par} {comm}: {type(exc).__name__}: {exc}", file=sys.stderr)
    for model, system, backend, par in CP:
        try:
            _build(model, system, backend, par, {}, 0)
        except Exception as exc:
            print(f"cp {model} {system} {backend} {par}: {type(exc).__name__}: {exc}", file=sys.stderr)


def run_cli(case_glob):
    from aiconfigurator import main as aic_main

    for yml in sorted(glob.glob(case_glob)):
        ORIGIN[0] = "cli:" + os.path.basename(os.path.dirname(yml))
        with tempfile.TemporaryDirectory() as tmp:
            try:
                aic_main.main(["cli", "exp", "--yaml-path", yml, "--save-dir", tmp, "--log-level", "ERROR"])
            except SystemExit:
                pass
            except Exception as exc:
                print(f"cli {yml}: {type(exc).__name__}: {exc}", file=sys.stderr)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    args = set(sys.argv[2:])
    if "--only-cli" not in args:
        run_direct()
        run_built()
    if "--no-cli" not in args:
        here = os.path.dirname(os.path.abspath(__file__))
        default = os.path.join(here, "..", "tests", "fixtures", "parity_cases", "*", "input.yaml")
        run_cli(os.environ.get("CASES", default))
    from aiconfigurator_core.sdk import perf_database

    roots = [p for p in perf_database.get_systems_paths() if os.path.exists(p)]
    root = os.path.abspath(roots[0]) if roots else None
    limit = int(os.environ.get("MAX_SPECS", "70"))
    seen = set()
    seen_sig = set()
    kept = 0
    for spec_str, model, origin in records:
        spec = normalize(spec_str, root)
        # Database probe specs carry no ops (and no model of their own).
        if model is None or not spec["context_ops"]:
            continue
        key = hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]
        if key in seen:
            continue
        seen.add(key)
        req = request_of(spec, model)
        # Keep one spec per coarse shape class so the set stays small but representative.
        # Hand-picked points keep their exact layout; sweep-captured ones one per case/regime.
        if origin.startswith("cli:"):
            sig = (origin, req["model"], req["system"], req["backend"], req["database_mode"], req["gemm"],
                   req["kvcache"], req["nextn"], bool(req["moe_comm_backend"]), req["dp"] > 1)
        else:
            sig = (req["model"], req["system"], req["backend"], req["tp"], req["pp"], req["dp"], req["moe_tp"],
                   req["moe_ep"], req["cp"], req["gemm"], req["moe"], req["kvcache"], req["nextn"])
        if sig in seen_sig or kept >= limit:
            continue
        seen_sig.add(sig)
        if req["systems_path"]:
            req["systems_path"] = req["systems_path"].replace(root or "\0", SYSTEMS_PLACEHOLDER)
        stem = "{}_{}_{}_{}tp{}pp{}dp{}etp{}ep{}cp{}_{}_n{}_{}".format(
            origin.split(":")[-1], req["model"].split("/")[-1], req["system"], req["backend"], req["tp"], req["pp"],
            req["dp"], req["moe_tp"], req["moe_ep"], req["cp"], req["gemm"], req["nextn"], key[:6])
        with open(os.path.join(out, stem + ".json"), "w") as f:
            json.dump({"origin": origin, "request": req, "spec": spec}, f, separators=(",", ":"))
        kept += 1
    print(f"{len(records)} specs recorded, {kept} unique written to {out}")


if __name__ == "__main__":
    main()
