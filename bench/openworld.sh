#!/usr/bin/env bash
# The open-world targets of the model: the default `import`, `train` and
# `align` (no flags) on partly overlapping pairs, `align` matched against
# gold by bench/open_world.py. Three constructions:
#   fr_en_minus20: DBP15K fr_en with the right entities of 20% of the test
#                  links removed (entity lines, triples, links);
#   d_y_minus20:   the same on OpenEA D-Y-15K V1 (no names);
#   synth50k:      `kgalign synth --entities 50000 --one-sided 0.3`.
# For each: precision and recall of the `match` rows over the test domain
# (test links plus the left entities without counterpart), the share of
# those without counterpart matched, the calibration table and its ECE,
# and the same with --gnn and --no-gnn beside it (the GNN's ablation). Also the
# closed-protocol Hits@1 of each default model. Long (about 15 minutes on
# two cores): BENCHMARKS=bench/openworld.sh make bench.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
OW="python3 $(dirname "$0")/open_world.py"
SYNTH_N=${OPENWORLD_SYNTH_N:-50000}

json_get() { sed -n "s/.*\"$2\": *\([-0-9.eE]*\).*/\1/p" "$1" | head -1; }

# run NAME SRC FORMAT: one construction, the defaults, --gnn, --no-gnn.
run() {
  local name=$1 src=$2 format=$3 data="$BENCH_TMP/ow_$1" sep=""
  measure "${name}_import" "$KGALIGN" import --format "$format" "$src" "$data"
  printf '"%s": {' "$name"
  for v in "defaults:" "gnn:--gnn" "no_gnn:--no-gnn"; do
    local label=${v%%:*} flag=${v#*:}
    # shellcheck disable=SC2086
    measure train "$KGALIGN" train "$data" -o "$data/$label.kgm" $flag
    measure align "$KGALIGN" align "$data" "$data/$label.kgm" -o "$data/$label.tsv"
    local score closed
    score=$($OW score "$data/$label.tsv" "$src")
    "$KGALIGN" eval "$data" "$data/$label.kgm" --json >"$BENCH_TMP/ow_closed.json"
    closed=$(json_get "$BENCH_TMP/ow_closed.json" hits1)
    printf '%s"%s": {"open_world": %s, "closed_hits1": %s, "train_seconds": %s, "align_seconds": %s}' \
      "$sep" "$label" "$score" "$closed" "$train_seconds" "$align_seconds"
    sep=", "
  done
  printf '}'
}

parts=()
if have_data dbp15k_fr_en; then
  $OW make "$DATA_DIR/dbp15k_fr_en" "$BENCH_TMP/ow_src_fr" --format dbp15k --remove 0.2 2>/dev/null
  parts+=("$(run fr_en_minus20 "$BENCH_TMP/ow_src_fr" dbp15k)")
else
  parts+=("\"fr_en_minus20\": {\"skipped\": \"$DATA_DIR/dbp15k_fr_en not found\"}")
fi
if have_data openea_D_Y_15K_V1; then
  $OW make "$DATA_DIR/openea_D_Y_15K_V1" "$BENCH_TMP/ow_src_dy" --format openea --remove 0.2 2>/dev/null
  parts+=("$(run d_y_minus20 "$BENCH_TMP/ow_src_dy" openea)")
else
  parts+=("\"d_y_minus20\": {\"skipped\": \"$DATA_DIR/openea_D_Y_15K_V1 not found\"}")
fi
"$KGALIGN" synth --entities "$SYNTH_N" --one-sided 0.3 --seed 1 "$BENCH_TMP/ow_src_synth" >/dev/null
$OW gold "$BENCH_TMP/ow_src_synth" "$BENCH_TMP/ow_src_synth" 2>/dev/null
parts+=("$(run synth50k "$BENCH_TMP/ow_src_synth" openea)")
printf '{"benchmark": "openworld",\n'
sep=" "
for p in "${parts[@]}"; do printf '%s%s\n' "$sep" "$p"; sep=","; done
printf '}\n'
