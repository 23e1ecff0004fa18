#!/usr/bin/env bash
# `make bench`: runs every benchmark and writes one JSON document to stdout
# and to build/bench/results.json. Benchmarks compare side by side in one run;
# they are not tests and assert nothing.
#
# BENCHMARKS picks others. Left out of the default list, being long and
# meant for a quiet machine: bench/overload.sh (twice the saturating load,
# about 75 s) and bench/soak.sh (SOAK_SECONDS at 80% of it, 10 minutes by
# default), e.g. `BENCHMARKS=bench/soak.sh make bench`; and the model's
# quality runs, bench/ablation.sh and bench/records.sh (F1 on the record
# matching sets).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${KGALIGN:?KGALIGN must name the kgalign binary}"
mkdir -p build/bench
out=build/bench/results.json
parts=()
for b in ${BENCHMARKS:-bench/store.sh bench/model.sh bench/server.sh}; do
  echo "bench: running $b" >&2
  parts+=("$(bash "$b")")
done
{
  printf '{"machine": {"cores": %s, "date": "%s"},\n "results": [\n' "$(nproc)" "$(date -u +%FT%TZ)"
  sep=""
  for p in "${parts[@]}"; do printf '%s%s\n' "$sep" "$p"; sep=","; done
  printf ']}\n'
} >"$out"
cat "$out"
