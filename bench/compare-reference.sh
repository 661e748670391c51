#!/usr/bin/env bash
# Times the reference (`aiconfigurator cli exp`) and `xpyd run` on the same
# exp YAML files, in one run on this machine, and prints the ratios per file.
# xpyd is timed twice: with empty caches (every table load and every engine
# step, as on first use), and as a rerun of the same file, whose steps come
# from the step store the first run wrote (no table is loaded).
#
# usage: bench/compare-reference.sh [-r RUNS] FILE...
#   REF_VENV  venv holding aiconfigurator==0.12.0 (default: ../V relative to the repo)
#   XPYD      xpyd binary (default: target/release/xpyd, built if missing)
set -euo pipefail
runs=3
if [ "${1:-}" = "-r" ]; then runs=$2; shift 2; fi
[ $# -gt 0 ] || { echo "usage: $0 [-r RUNS] FILE..." >&2; exit 2; }
here=$(cd "$(dirname "$0")/.." && pwd)
ref_venv=${REF_VENV:-$here/../V}
xpyd=${XPYD:-$here/target/release/xpyd}
[ -x "$ref_venv/bin/aiconfigurator" ] || {
  echo "reference not found in $ref_venv: python3 -m venv V && V/bin/pip install aiconfigurator==0.12.0" >&2; exit 2; }
[ -x "$xpyd" ] || (cd "$here" && cargo build --release --quiet)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# Median wall time in seconds of RUNS executions of a command.
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

# xpyd with caches that start empty on every call.
fresh_xpyd() {
  local d
  d=$(mktemp -d -p "$scratch")
  XPYD_META_CACHE=$d/meta XPYD_STEP_CACHE=$d/steps "$xpyd" "$@"
}

printf '%-34s %12s %12s %9s %12s %9s\n' file reference_s xpyd_cold_s speedup xpyd_rerun_s speedup
for f in "$@"; do
  ref=$(median_time "$runs" "$ref_venv/bin/aiconfigurator" cli exp --yaml-path "$f" --save-dir "$scratch/ref")
  cold=$(median_time "$runs" fresh_xpyd run "$f" --format json)
  store=$(mktemp -d -p "$scratch")
  XPYD_STEP_CACHE=$store "$xpyd" run "$f" --format json >/dev/null 2>&1 || true
  rerun=$(median_time "$runs" env XPYD_STEP_CACHE="$store" "$xpyd" run "$f" --format json)
  printf '%-34s %12.3f %12.3f %8.1fx %12.3f %8.1fx\n' "$(basename "$f")" "$ref" "$cold" \
    "$(echo "$ref / $cold" | bc -l)" "$rerun" "$(echo "$ref / $rerun" | bc -l)"
done
