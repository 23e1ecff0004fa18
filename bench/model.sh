#!/usr/bin/env bash
# Benchmarks of the model: training and evaluation time and peak memory on
# the shared benchmarks (with the quality reached), and pair-scoring
# throughput with the per-entity caches built, and how often an explanation
# of a true pair leads with a true neighbour pair (bench_explain.c). Prints
# one JSON object.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${BENCH_BIN:?BENCH_BIN must name the folder of the benchmark programs}"

json_get() { sed -n "s/.*\"$2\": *\([-0-9.eE]*\).*/\1/p" "$1" | head -1; }

model_bench() { # name format dir
  local name=$1 format=$2 dir=$3 data="$BENCH_TMP/model_$1"
  if ! have_data "$dir"; then
    printf '"%s": {"skipped": "%s not found"}' "$name" "$DATA_DIR/$dir"
    return
  fi
  "$KGALIGN" import --format "$format" "$DATA_DIR/$dir" "$data" >/dev/null
  measure train "$KGALIGN" train "$data" -o "$data/model.kgm"
  measure ev "$KGALIGN" eval "$data" "$data/model.kgm" --json
  local ej="$BENCH_TMP/ev.log"
  "$BENCH_BIN/bench_score" "$data" "$data/model.kgm" 1000000 "$(nproc)" >"$BENCH_TMP/score.json"
  "$BENCH_BIN/bench_explain" "$data" "$data/model.kgm" >"$BENCH_TMP/explain.json"
  printf '"%s": {"train_seconds": %s, "train_peak_rss_mb": %s, "train_target_seconds": 120,
   "eval_wall_seconds": %s, "eval_seconds": %s, "eval_peak_rss_mb": %s, "eval_target_seconds": 10,
   "hits1": %s, "hits10": %s, "mrr": %s, "prauc": %s, "candidate_recall": %s,
   "pair_scoring": %s, "explanations": %s}' \
    "$name" "$train_seconds" "$train_rss_mb" "$ev_seconds" "$(json_get "$ej" eval_seconds)" \
    "$ev_rss_mb" "$(json_get "$ej" hits1)" "$(json_get "$ej" hits10)" "$(json_get "$ej" mrr)" \
    "$(json_get "$ej" prauc)" "$(json_get "$ej" candidate_recall)" "$(cat "$BENCH_TMP/score.json")" \
    "$(cat "$BENCH_TMP/explain.json")"
}

fr=$(model_bench dbp15k_fr_en dbp15k dbp15k_fr_en)
dy=$(model_bench openea_D_Y_15K_V1 openea openea_D_Y_15K_V1)
printf '{"benchmark": "model",\n %s,\n %s}\n' "$fr" "$dy"
