#!/usr/bin/env bash
# Record matching on the DeepMatcher / Magellan sets in ../shared/data/records
# (iTunes-Amazon, DBLP-ACM, Beer): import with the defaults, train, and the
# labelled-pair protocol on the test pairs (eval --json): F1, precision,
# recall, PRAUC at the model's own threshold, with the training time (wall
# and CPU) and the published F1 of each set's README beside them. Each set
# runs plain and, where a column is plainly an entity, with
# --entity-columns. Not part of `make bench` by default:
# BENCHMARKS=bench/records.sh make bench.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

json_get() { sed -n "s/.*\"$2\": *\([-0-9.eE]*\).*/\1/p" "$1" | head -1; }

# run NAME SET [IMPORT OPTIONS...]
run() {
  local name=$1 set=$2; shift 2
  local src="$DATA_DIR/records/$set" data="$BENCH_TMP/records_$name"
  if ! have_data "records/$set"; then
    printf '"%s": {"skipped": "%s not found"}' "$name" "$src"
    return
  fi
  rm -rf "$data"
  "$KGALIGN" import --format records "$src" "$data" "$@" >"$BENCH_TMP/records_import.log"
  measure train "$KGALIGN" train "$data" -o "$data/model.kgm"
  "$KGALIGN" eval "$data" "$data/model.kgm" --json >"$BENCH_TMP/records.json"
  local j="$BENCH_TMP/records.json"
  printf '"%s": {"set": "%s", "import_options": "%s", "f1": %s, "precision": %s, "recall": %s, "prauc": %s, "recall_at_p95": %s, "threshold": %s, "train_seconds": %s, "train_cpu_seconds": %s, "train_rss_mb": %s}' \
    "$name" "$set" "$*" "$(json_get "$j" f1)" "$(json_get "$j" precision)" \
    "$(json_get "$j" recall)" "$(json_get "$j" prauc)" "$(json_get "$j" recall_at_p95)" \
    "$(json_get "$j" threshold)" "$train_seconds" "$train_cpu_seconds" "$train_rss_mb"
}

printf '{"benchmark": "records", "load_average": "%s",\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
printf ' "published_f1": {"iTunes-Amazon": {"deepmatcher": 88.5, "ditto": 97.06, "tfidf_floor": 60.0}, "DBLP-ACM": {"deepmatcher": 98.4, "ditto": 98.99, "tfidf_floor": 91.4}, "Beer": {"deepmatcher": 72.7, "ditto": 94.37, "tfidf_floor": 86.7}},\n'
printf ' %s,\n' "$(run itunes_amazon iTunes-Amazon)"
printf ' %s,\n' "$(run itunes_amazon_entities iTunes-Amazon --entity-columns Artist_Name,Album_Name)"
printf ' %s,\n' "$(run dblp_acm DBLP-ACM)"
printf ' %s,\n' "$(run beer Beer)"
printf ' %s}\n' "$(run beer_entities Beer --entity-columns Brew_Factory_Name)"
