#!/usr/bin/env bash
# The scale benchmark: the whole pipeline on synthetic pairs of growing
# size (`kgalign synth --entities N --seed 5`), as a new user runs it, and
# how each stage's cost grows with the graph. For each N in SIZES (20000
# and 200000; SCALE=2000000 adds that size, most of an hour and about
# 14 GB):
#   synth, import, train (no flags), eval, align: wall and CPU seconds and
#     peak resident memory of each command (GNU time), and train's own
#     stages (its --times-json table: names, features, candidates,
#     Sinkhorn, GNN, calibration, open world, writing), each with wall,
#     CPU and peak memory;
#   serve: seconds from spawn to /readyz 200, resident memory when ready,
#     /match k=10 p99 and /align batches of 256 pairs (pairs/s) under wrk
#     with a constant body, memory after;
#   quality: test Hits@1 and candidate recall (closed protocol, eval).
# Growth, for each pair of consecutive sizes and each stage: the ratio of
# CPU seconds per entity (and of wall seconds per entity), larger over
# smaller; linear cost gives 1 (target: at most 1.5). CPU time is the
# measure that other work on a shared machine does not inflate; the load
# average is recorded at each step.
#
# Prints one JSON object on stdout; progress on stderr.
# Environment: KGALIGN (required), SIZES ("20000 200000"), SCALE (an extra
# size), SEED (5), THREADS (all cores), WRK_SECONDS (5), KEEP (keep the
# data under build/bench/scale).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${KGALIGN:?KGALIGN must name the kgalign binary}"

SIZES=${SIZES:-20000 200000}
[ -z "${SCALE:-}" ] || SIZES="$SIZES $SCALE"
SEED=${SEED:-5}
WRK_SECONDS=${WRK_SECONDS:-5}
KEEP=${KEEP:-}

log() { echo "bench/scale: $*" >&2; }
command -v wrk >/dev/null || {
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >&2
}

work=$BENCH_TMP/scale
server_pid=""
cleanup() { stop_server; [ -n "$KEEP" ] || rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work"

load() { cut -d' ' -f1-3 /proc/loadavg; }

# run NAME CMD...: runs CMD under GNU time; appends to $stages the JSON
# member NAME with wall and CPU seconds, peak MB and the load average.
run() {
  local name=$1; shift
  local t="$work/$name.time" l0
  l0=$(load)
  if ! /usr/bin/time -f '%e %U %S %M' -o "$t" "$@" >"$work/$name.log" 2>&1; then
    log "'$*' failed, see $work/$name.log"; tail -5 "$work/$name.log" >&2; exit 1
  fi
  local wall user sys kb
  read -r wall user sys kb <"$t"
  stages="${stages:+$stages, }\"$name\": {\"wall_seconds\": $wall, \"cpu_seconds\": $(awk -v a="$user" -v b="$sys" 'BEGIN{printf "%.2f", a + b}'), \"peak_mb\": $(awk -v k="$kb" 'BEGIN{printf "%.0f", k / 1024}'), \"load_before\": \"$l0\", \"load_after\": \"$(load)\"}"
}

json_num() { sed -n "s/.*\"$2\": *\([-0-9.eE]*\).*/\1/p" <<<"$1" | head -1; }

# wrk_static URL BODYFILE: one wrk run with a constant POST body (no Lua
# building requests: the client costs nothing per request); prints
# "requests_per_second p99_ms".
wrk_static() {
  local lua="$work/static.lua"
  { echo 'wrk.method = "POST"'
    echo 'wrk.headers["Content-Type"] = "application/json"'
    printf 'wrk.body = [==[%s]==]\n' "$(cat "$2")"; } >"$lua"
  local out
  out=$(wrk -t2 -c8 -d"${WRK_SECONDS}s" --latency -s "$lua" "$1" 2>&1)
  local rps p99
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
         if (u == "us") v /= 1000; else if (u == "s") v *= 1000; print v}' <<<"$out")
  echo "${rps:-0} ${p99:-0}"
}

# serve_stage DATA: start-up, memory and two loads of the service.
serve_stage() {
  local data=$1 t0 port
  t0=$(date +%s.%N)
  "$KGALIGN" serve --data-dir "$data" --listen 127.0.0.1 --port 0 \
    --drain-delay-ms 0 --access-log false 2>"$work/serve.log" &
  server_pid=$!
  port=$(listening_port "$work/serve.log" "$server_pid")
  [ -n "$port" ] || { log "serve did not start"; cat "$work/serve.log" >&2; exit 1; }
  wait_ready "$server_pid" "$port" 36000 || # 12 minutes at most
    { log "serve never became ready"; cat "$work/serve.log" >&2; exit 1; }
  local up rss
  up=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}')
  rss=$(awk '/^VmRSS:/ {printf "%.0f", $2 / 1024}' "/proc/$server_pid/status")
  awk -F'\t' 'NR == 1 { printf "{\"left\": \"%s\", \"k\": 10}", $1 }' \
    "$data/test_links.tsv" >"$work/match.json"
  awk -F'\t' '{ l[NR] = $1; r[NR] = $2 } END {
      printf "{\"pairs\": ["
      for (j = 0; j < 256; j++) printf "%s{\"left\": \"%s\", \"right\": \"%s\"}", j ? ", " : "", l[j % NR + 1], r[(j % 2 ? 7 * j : j) % NR + 1]
      printf "]}" }' "$data/test_links.tsv" >"$work/batch.json"
  local m b
  m=$(wrk_static "http://127.0.0.1:$port/match" "$work/match.json")
  b=$(wrk_static "http://127.0.0.1:$port/align" "$work/batch.json")
  local after
  after=$(awk '/^VmRSS:/ {printf "%.0f", $2 / 1024}' "/proc/$server_pid/status")
  stop_server
  stages="${stages:+$stages, }\"serve\": {\"ready_seconds\": $up, \"rss_ready_mb\": $rss, \"rss_after_mb\": $after, \"match_k10_rps\": ${m% *}, \"match_k10_p99_ms\": ${m#* }, \"align_batch256_pairs_per_second\": $(awk -v r="${b% *}" 'BEGIN{printf "%.0f", r * 256}'), \"align_batch256_p99_ms\": ${b#* }}"
}

results=""
for n in $SIZES; do
  d=$work/n$n
  rm -rf "$d"
  stages=""
  log "N=$n: synth"
  run synth "$KGALIGN" synth --entities "$n" --seed "$SEED" "$d/src"
  log "N=$n: import"
  run import "$KGALIGN" import --format openea "$d/src" "$d/data"
  rm -rf "$d/src"
  ent=$(( $("$KGALIGN" info "$d/data/left.kgs" --json | sed -n 's/.*"entities": \([0-9]*\).*/\1/p') +
          $("$KGALIGN" info "$d/data/right.kgs" --json | sed -n 's/.*"entities": \([0-9]*\).*/\1/p') ))
  log "N=$n: train ($ent entities)"
  run train "$KGALIGN" train "$d/data" -o "$d/data/model.kgm" --times-json "$d/times.json"
  log "N=$n: eval"
  run eval "$KGALIGN" eval "$d/data" "$d/data/model.kgm" --json
  ev=$(cat "$work/eval.log")
  log "N=$n: align"
  run align "$KGALIGN" align "$d/data" "$d/data/model.kgm" -o "$d/matches.tsv"
  log "N=$n: serve"
  serve_stage "$d/data"
  results="${results:+$results,
  }\"$n\": {\"entities\": $ent, \"hits1\": $(json_num "$ev" hits1), \"candidate_recall\": $(json_num "$ev" candidate_recall), \"commands\": {$stages}, \"train_stages\": $(cat "$d/times.json")}"
  echo "{$results}" >"$work/results.partial.json"
  [ -n "$KEEP" ] || rm -rf "$d/data"
done

# Growth between consecutive sizes, from the per-size JSON: for each
# command and each group of train stages, (cost / entities) at the larger
# size over the same at the smaller.
growth=$(python3 - "$work/results.partial.json" <<'EOF'
import json, re, sys
r = json.load(open(sys.argv[1]))
sizes = sorted(r, key=int)
groups = [("names", r"^fusion: name"), ("features", r"structural features|features of the best"),
          ("candidates", r"projection and index|candidate search|kept round"),
          ("sinkhorn", r"Sinkhorn"), ("gnn", r"^GNN"), ("calibration", r"^calibration"),
          ("open_world", r"^open world"), ("writing", r"^writing")]
def stage_costs(x):
    c = {k: {"wall": v["wall_seconds"], "cpu": v["cpu_seconds"]} for k, v in x["commands"].items() if "cpu_seconds" in v}
    for g, pat in groups:
        w = sum(s["wall_seconds"] for s in x["train_stages"]["stages"] if re.search(pat, s["name"]))
        u = sum(s["cpu_seconds"] for s in x["train_stages"]["stages"] if re.search(pat, s["name"]))
        c["train/" + g] = {"wall": w, "cpu": u}
    c["serve_ready"] = {"wall": x["commands"]["serve"]["ready_seconds"], "cpu": None}
    return c
out = []
for a, b in zip(sizes, sizes[1:]):
    ca, cb = stage_costs(r[a]), stage_costs(r[b])
    ea, eb = r[a]["entities"], r[b]["entities"]
    ratios = {}
    for k in ca:
        if k not in cb:
            continue
        e = {}
        for m in ("cpu", "wall"):
            if ca[k][m] and cb[k][m] is not None and ca[k][m] > 0:
                e[m + "_per_entity_ratio"] = round((cb[k][m] / eb) / (ca[k][m] / ea), 3)
        ratios[k] = e
    out.append({"from": int(a), "to": int(b), "entities_ratio": round(eb / ea, 3), "stages": ratios})
print(json.dumps(out))
EOF
)

printf '{"benchmark": "scale", "cores": %s, "seed": %s, "loadavg_at_end": "%s",\n "sizes": {%s},\n "growth": %s,\n "targets": {"growth_per_entity_max": 1.5, "import_2M_seconds": 180, "train_2M_seconds": 2700, "peak_mb": 16384, "eval_align_2M_seconds": 600, "serve_ready_seconds": 30, "serve_rss_mb": 8192, "match_p99_ms": 50, "align_pairs_per_second": 100000}}\n' \
  "$(nproc)" "$SEED" "$(load)" "$results" "$growth"
