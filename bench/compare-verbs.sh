#!/usr/bin/env bash
# Times the reference (`aiconfigurator cli VERB ...`) and `xpyd VERB ...` on
# the same command lines, side by side in one run, and prints the ratios.
# xpyd is timed cold (empty step store and database-fact cache, as on first
# use) and as a rerun (steps from the store the first run wrote).
#
# usage: bench/compare-verbs.sh [-r RUNS]      (the built-in list of command lines)
#   REF_VENV  venv holding aiconfigurator==0.12.0 (default: ../V relative to the repo)
#   XPYD      xpyd binary (default: target/release/xpyd, built if missing)
set -euo pipefail
runs=3
if [ "${1:-}" = "-r" ]; then runs=$2; shift 2; fi
here=$(cd "$(dirname "$0")/.." && pwd)
ref_venv=${REF_VENV:-$here/../V}
xpyd=${XPYD:-$here/target/release/xpyd}
[ -x "$ref_venv/bin/aiconfigurator" ] || {
  echo "reference not found in $ref_venv: python3 -m venv V && V/bin/pip install aiconfigurator==0.12.0" >&2; exit 2; }
[ -x "$xpyd" ] || (cd "$here" && cargo build --release --quiet)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

cases=(
  "default --model Qwen/Qwen3-32B --system h200_sxm --backend trtllm --total-gpus 16"
  "default --model deepseek-ai/DeepSeek-V3 --system h200_sxm --backend trtllm --total-gpus 32"
  "estimate --model Qwen/Qwen3-32B --system h200_sxm --tp 2 --bs 64 --isl 4000 --osl 1000"
  "estimate --model Qwen/Qwen3-32B --system h200_sxm --estimate-mode disagg --p-tp 2 --p-bs 1 --p-workers 2 --d-tp 4 --d-bs 64 --d-workers 1 --isl 4000 --osl 1000"
  "recommend --model Qwen/Qwen3-32B --system h200_sxm --target-request-rate 10"
  "recommend --model meta-llama/Meta-Llama-3.1-8B --system h100_sxm --backend vllm --target-request-rate 50 --isl 2000 --osl 500 --ttft 1000 --tpot 20"
)

median_time() {
  local n=$1; shift
  local ts=()
  for _ in $(seq "$n"); do
    local s e
    s=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || true
    e=$(date +%s.%N)
    ts+=("$(echo "$e - $s" | bc -l)")
  done
  printf '%s\n' "${ts[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

fresh_xpyd() {
  local d
  d=$(mktemp -d -p "$scratch")
  XPYD_META_CACHE=$d/meta XPYD_STEP_CACHE=$d/steps "$xpyd" "$@"
}

printf '%-10s %-40s %11s %11s %8s %11s %8s\n' verb case reference_s xpyd_cold_s speedup xpyd_rerun_s speedup
for c in "${cases[@]}"; do
  # shellcheck disable=SC2086
  set -- $c
  ref=$(median_time "$runs" "$ref_venv/bin/aiconfigurator" cli "$@")
  cold=$(median_time "$runs" fresh_xpyd "$@")
  store=$(mktemp -d -p "$scratch")
  XPYD_STEP_CACHE=$store "$xpyd" "$@" >/dev/null 2>&1 || true
  rerun=$(median_time "$runs" env XPYD_STEP_CACHE="$store" "$xpyd" "$@")
  label=$(echo "$c" | cut -d' ' -f2- | sed 's/--model //; s/--system //; s/ --/ /g' | cut -c1-40)
  printf '%-10s %-40s %11.3f %11.3f %7.1fx %11.3f %7.1fx\n' "$1" "$label" "$ref" "$cold" \
    "$(echo "$ref / $cold" | bc -l)" "$rerun" "$(echo "$ref / $rerun" | bc -l)"
done
