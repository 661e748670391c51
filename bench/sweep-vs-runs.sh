#!/usr/bin/env bash
# Times one `xpyd sweep` over N values of a key against separate cold
# `xpyd run`s, in one run on this machine, with empty caches each time (no
# step store, no cached database facts): what a sweep saves by sharing one
# session (tables, engines, step memo) across its values.
#
# usage: bench/sweep-vs-runs.sh FILE KEY=SPEC [RUNS]
#   e.g. bench/sweep-vs-runs.sh examples/qwen3_32b.yaml isl=1000:10000:1000 3
#   XPYD  xpyd binary (default: target/release/xpyd, built if missing)
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 FILE KEY=SPEC [RUNS]" >&2; exit 2; }
file=$1; vary=$2; runs=${3:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
xpyd=${XPYD:-$here/target/release/xpyd}
[ -x "$xpyd" ] || (cd "$here" && cargo build --release --quiet)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

cold() { # a fresh cache folder per command
  local d; d=$(mktemp -d -p "$scratch")
  XPYD_STEP_CACHE=off XPYD_META_CACHE="$d/meta" "$@" >/dev/null
}
t0=$(date +%s.%N)
cold "$xpyd" sweep "$file" --vary "$vary" --format json
t1=$(date +%s.%N)
for _ in $(seq "$runs"); do cold "$xpyd" run "$file" --format json; done
t2=$(date +%s.%N)
awk -v f="$file" -v v="$vary" -v n="$runs" -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN {
  s = b - a; r = c - b
  printf "%s, --vary %s\n  one sweep, cold: %.2f s\n  %d separate cold runs: %.2f s (%.2f s each)\n  ratio (runs / sweep): %.2f\n", f, v, s, n, r, r / n, r / s
}'
