#!/usr/bin/env bash
# Ablation of the model on the shared benchmarks: the defaults, then one
# part switched off at a time. Not part of `make bench` by default (it trains
# twenty-one models); run it as BENCHMARKS=bench/ablation.sh make bench.
# ABLATION_SETS picks sets (default: all three): dbp15k_fr_en,
# openea_D_Y_15K_V1, itunes_amazon. itunes_amazon is the record set with its
# artists and albums as nodes (the CG-MuAlign paper's own setting: songs,
# artists and albums in one multi-type graph), measured by the labelled-pair
# protocol (F1, precision, recall, PRAUC on the test pairs); the other two
# by the ranking protocol.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

json_get() { sed -n "s/.*\"$2\": *\([-0-9.eE]*\).*/\1/p" "$1" | head -1; }

# The defaults train the GNN only where names are not used (docs/model.md);
# here it is forced on and off, and its own parts are ablated with it on.
variants=("defaults:" "no_context:--no-context" "gnn:--gnn" "no_gnn:--no-gnn" "gnn_no_cross_attention:--gnn --no-cross-attention"
          "gnn_no_self_attention:--gnn --no-self-attention"
          "gnn_uniform_sampling:--gnn --uniform-sampling"
          "gnn_no_hard_negatives:--gnn --no-hard-negatives")

ablate() { # name format dir [import options...]
  local name=$1 format=$2 dir=$3 data="$BENCH_TMP/ablation_$1" sep=""
  shift 3
  if ! have_data "$dir"; then
    printf '"%s": {"skipped": "%s not found"}' "$name" "$DATA_DIR/$dir"
    return
  fi
  rm -rf "$data"
  "$KGALIGN" import --format "$format" "$DATA_DIR/$dir" "$data" "$@" >/dev/null
  printf '"%s": {' "$name"
  for v in "${variants[@]}"; do
    local label=${v%%:*} flag=${v#*:}
    # shellcheck disable=SC2086
    measure train "$KGALIGN" train "$data" -o "$data/$label.kgm" $flag
    "$KGALIGN" eval "$data" "$data/$label.kgm" --json >"$BENCH_TMP/ablation.json"
    local j="$BENCH_TMP/ablation.json"
    if grep -q '"protocol": "labelled pairs"' "$j"; then
      printf '%s"%s": {"f1": %s, "precision": %s, "recall": %s, "prauc": %s, "train_seconds": %s, "train_cpu_seconds": %s}' \
        "$sep" "$label" "$(json_get "$j" f1)" "$(json_get "$j" precision)" \
        "$(json_get "$j" recall)" "$(json_get "$j" prauc)" "$train_seconds" "$train_cpu_seconds"
    else
      printf '%s"%s": {"hits1": %s, "hits10": %s, "mrr": %s, "prauc": %s, "train_seconds": %s, "train_cpu_seconds": %s}' \
        "$sep" "$label" "$(json_get "$j" hits1)" "$(json_get "$j" hits10)" "$(json_get "$j" mrr)" \
        "$(json_get "$j" prauc)" "$train_seconds" "$train_cpu_seconds"
    fi
    sep=", "
  done
  printf '}'
}

parts=()
for s in ${ABLATION_SETS:-dbp15k_fr_en openea_D_Y_15K_V1 itunes_amazon}; do
  case $s in
    dbp15k_fr_en) parts+=("$(ablate dbp15k_fr_en dbp15k dbp15k_fr_en)") ;;
    openea_D_Y_15K_V1) parts+=("$(ablate openea_D_Y_15K_V1 openea openea_D_Y_15K_V1)") ;;
    itunes_amazon) parts+=("$(ablate itunes_amazon records records/iTunes-Amazon \
                                --entity-columns Artist_Name,Album_Name)") ;;
    *) echo "ablation.sh: unknown set '$s' (dbp15k_fr_en, openea_D_Y_15K_V1, itunes_amazon)" >&2
       exit 2 ;;
  esac
done
printf '{"benchmark": "ablation"'
for p in "${parts[@]}"; do printf ',\n %s' "$p"; done
printf '}\n'
