#!/usr/bin/env bash
# Benchmarks of the foundation: import of the shared datasets, synthetic
# generation, import and store opening at one million entities per side.
# Prints one JSON object. SYNTH_ENTITIES overrides the size.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
N=${SYNTH_ENTITIES:-1000000}

json_dataset() { # name format dir
  local name=$1 format=$2 dir=$3
  if ! have_data "$dir"; then
    printf '"%s": {"skipped": "%s not found"}' "$name" "$DATA_DIR/$dir"
    return
  fi
  best_of 3 imp "$KGALIGN" import --format "$format" "$DATA_DIR/$dir" "$BENCH_TMP/$name"
  printf '"%s": {"import_seconds": %s, "import_peak_rss_mb": %s, "target_seconds": 2}' \
    "$name" "$imp_seconds" "$imp_rss_mb"
}

fr=$(json_dataset dbp15k_fr_en dbp15k dbp15k_fr_en)
dy=$(json_dataset openea_D_Y_15K_V1 openea openea_D_Y_15K_V1)

rm -rf "$BENCH_TMP/synth_src" "$BENCH_TMP/synth"
measure gen "$KGALIGN" synth --entities "$N" --seed 1 "$BENCH_TMP/synth_src"
measure imp "$KGALIGN" import --format openea "$BENCH_TMP/synth_src" "$BENCH_TMP/synth"
best_of 3 open "$KGALIGN" info "$BENCH_TMP/synth/left.kgs"
entities=$("$KGALIGN" info --json "$BENCH_TMP/synth/left.kgs" | sed -n 's/.*"entities": *\([0-9]*\).*/\1/p')
bytes=$(stat -c %s "$BENCH_TMP/synth/left.kgs")
rm -rf "$BENCH_TMP/synth_src"

cat <<JSON
{"benchmark": "store",
 $fr,
 $dy,
 "synthetic": {"entities_requested": $N, "left_entities": ${entities:-0}, "left_store_bytes": $bytes,
   "generate_seconds": $gen_seconds, "generate_peak_rss_mb": $gen_rss_mb,
   "import_seconds": $imp_seconds, "import_peak_rss_mb": $imp_rss_mb,
   "import_target_seconds": 60, "import_target_rss_mb": 4096,
   "open_validate_seconds": $open_seconds, "open_validate_target_seconds": 1}}
JSON
