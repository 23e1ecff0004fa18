#!/usr/bin/env bash
# New entities without retraining (issue 15). For each pair, 10% of the
# test links' left entities are removed before import, with all their
# triples, attributes and links (bench/inductive.py make); one model is
# trained without them and one with them. Hits@1 of those entities, by the
# open-world decision against all right entities in no known link (the
# first candidate of `kgalign align`, which /match gives alike):
#   full    the model trained with them present (`align`);
#   inline  the model trained without them, each entity described inline
#           in a /match request (one at a time; latency percentiles);
#   add     the same model on the store's next generation, the entities
#           brought back with `kgalign add` (`align`).
# With $BENCH_BIN (make bench), also the work of each inline /match
# without HTTP, wall and CPU time, beside /match by id (bench_inline.c).
# Pairs: `kgalign synth --entities 30000 --seed 21` and DBP15K fr_en (when
# present). Then `kgalign add` of about 10,000 entities to a store of
# about 200,000 (synth, the same removal): wall and CPU time.
# Long (about an hour on two shared cores):
#   BENCHMARKS=bench/inductive.sh make bench
# INDUCTIVE_PARTS picks some of "synth30k fr_en add_speed".
set -euo pipefail
. "$(dirname "$0")/lib.sh"
IND="python3 $(dirname "$0")/inductive.py"
SYNTH_N=${INDUCTIVE_SYNTH_N:-30000}
ADD_N=${INDUCTIVE_ADD_N:-240000}
PARTS=${INDUCTIVE_PARTS:-synth30k fr_en add_speed}
want() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }

server_pid=""
trap stop_server EXIT

# serve_match DATA MODEL REQUESTS LINKS: /match with every request, one at
# a time, against `kgalign serve` on DATA and MODEL; prints the JSON.
serve_match() {
  local log="$BENCH_TMP/inductive_serve.log"
  # A generous deadline: on a shared machine a request may wait long for a
  # core, and the latencies are what is measured.
  "$KGALIGN" serve --data-dir "$1" --model "$2" --port 0 --http-threads 1 \
    --request-deadline-ms 60000 >"$log" 2>&1 &
  server_pid=$!
  local port
  port=$(listening_port "$log" "$server_pid")
  [ -n "$port" ] || { echo "bench: serve did not start, see $log" >&2; exit 1; }
  for _ in $(seq 600); do
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.2
  done
  $IND match "http://127.0.0.1:$port/match" "$3" "$4"
  stop_server
}

# run NAME SRC FORMAT: the three measures on one pair.
run() {
  local name=$1 src=$2 format=$3 dir="$BENCH_TMP/ind_$1"
  rm -rf "$dir"
  mkdir -p "$dir"
  $IND make "$src" "$dir/src" --format "$format" --remove 0.1 --seed 1 2>/dev/null
  local removed="$dir/src/removed"
  measure "${name}_import_full" "$KGALIGN" import --format "$format" "$src" "$dir/full"
  measure "${name}_import" "$KGALIGN" import --format "$format" "$dir/src" "$dir/red"
  measure "${name}_train_full" "$KGALIGN" train "$dir/full" -o "$dir/full.kgm"
  measure "${name}_train" "$KGALIGN" train "$dir/red" -o "$dir/red.kgm"
  measure "${name}_align_full" "$KGALIGN" align "$dir/full" "$dir/full.kgm" -o "$dir/full.tsv"
  local full inline add
  full=$($IND hits-align "$dir/full.tsv" "$removed/links.tsv")
  inline=$(serve_match "$dir/red" "$dir/red.kgm" "$removed/requests.jsonl" "$removed/links.tsv")
  local cpu="null"
  if [ -x "${BENCH_BIN:-}/bench_inline" ]; then
    cpu=$("$BENCH_BIN/bench_inline" "$dir/red" "$dir/red.kgm" "$removed/requests.jsonl")
  fi
  cp -r "$dir/red" "$dir/added"
  local attrs=()
  [ -f "$removed/attr_triples" ] && attrs=(--attributes "$removed/attr_triples")
  measure "${name}_add" "$KGALIGN" add "$dir/added" --side left \
    --triples "$removed/rel_triples" "${attrs[@]}"
  measure "${name}_align_add" "$KGALIGN" align "$dir/added" "$dir/red.kgm" -o "$dir/added.tsv"
  add=$($IND hits-align "$dir/added.tsv" "$removed/links.tsv")
  local t="${name}_train_seconds" tf="${name}_train_full_seconds"
  printf '"%s": {"full": %s, "inline": %s, "add": %s, "inline_work": %s, "train_seconds": %s, "train_full_seconds": %s}' \
    "$name" "$full" "$inline" "$add" "$cpu" "${!t}" "${!tf}"
}

# add_speed: `kgalign add` of about 10,000 entities to a store of about
# 200,000; prints the JSON.
add_speed() {
  local big="$BENCH_TMP/ind_big"
  rm -rf "$big"
  "$KGALIGN" synth --entities "$ADD_N" --seed 21 "$big/full" >/dev/null
  $IND make "$big/full" "$big/src" --format openea --remove 0.1 --seed 1 2>/dev/null
  "$KGALIGN" import --format openea "$big/src" "$big/data" >/dev/null
  local before after wall user sys kb
  before=$("$KGALIGN" info "$big/data/left.kgs" --json | sed -n 's/.*"entities": \([0-9]*\).*/\1/p')
  /usr/bin/time -f '%e %U %S %M' -o "$big/add.time" "$KGALIGN" add "$big/data" --side left \
    --triples "$big/src/removed/rel_triples" --attributes "$big/src/removed/attr_triples" \
    >"$big/add.log"
  after=$("$KGALIGN" info "$big/data/left.kgs" --json | sed -n 's/.*"entities": \([0-9]*\).*/\1/p')
  read -r wall user sys kb <"$big/add.time"
  printf '"add_speed": {"entities_before": %s, "entities_after": %s, "wall_seconds": %s, "cpu_seconds": %s, "rss_mb": %s}' \
    "$before" "$after" "$wall" "$(awk -v u="$user" -v s="$sys" 'BEGIN{print u+s}')" \
    "$(awk -v k="$kb" 'BEGIN{printf "%.1f", k/1024}')"
}

parts=()
if want synth30k; then
  "$KGALIGN" synth --entities "$SYNTH_N" --seed 21 "$BENCH_TMP/ind_synth_src" >/dev/null
  parts+=("$(run synth30k "$BENCH_TMP/ind_synth_src" openea)")
fi
if want fr_en && have_data dbp15k_fr_en; then
  parts+=("$(run fr_en "$DATA_DIR/dbp15k_fr_en" dbp15k)")
elif want fr_en; then
  parts+=("\"fr_en\": {\"skipped\": \"$DATA_DIR/dbp15k_fr_en not found\"}")
fi
want add_speed && parts+=("$(add_speed)")

printf '{"benchmark": "inductive", "load_average": "%s",\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
sep=" "
for p in "${parts[@]}"; do
  printf '%s%s\n' "$sep" "$p"
  sep=","
done
printf '}\n'
