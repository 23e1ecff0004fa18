#!/usr/bin/env bash
# Benchmark of the HTTP service with the real model, under wrk, on a
# synthetic pair and (when $DATA_DIR/dbp15k_fr_en exists) on DBP15K fr_en:
#   (a) single-pair POST /align, keep-alive: requests/s, p50 and p99, side by
#       side with nginx answering a fixed JSON body of the same size on the
#       same machine in the same run (target: ratio >= 0.5);
#   (b) POST /align with batches of 256 pairs: pairs/s (target >= 100,000);
#   (c) POST /match k=10: requests/s and p99;
#   (d) resident memory of the server with the stores and the model loaded
#       (VmRSS), and the time from spawn to /readyz 200.
# Requests cycle through the test links (wrk Lua scripts). Prints one JSON
# object on stdout; progress on stderr.
#
# Environment: KGALIGN (required), KGA_DATA_DIR (../shared/data), DURATION
# (10s), ROUNDS (3: alternating runs of ours and nginx in (a)),
# CONNECTIONS (64), WRK_THREADS (2), MATCH_CONNECTIONS (2 x cores),
# SYNTH_ENTITIES (10000), SYNTH_EPOCHS (1), ACCESS_LOG (false: the server's
# per-request log line).
# wrk and nginx are installed with apt-get when missing (as make deps does).
# Traffic goes to 127.0.0.1 only; nginx runs from a temporary prefix as the
# current user's process; everything started here is stopped on exit.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${KGALIGN:?KGALIGN must name the kgalign binary}"

DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}
WRK_THREADS=${WRK_THREADS:-2}
# /match costs milliseconds: 64 connections would only measure the queue
# (and run into the 2 s request deadline); two per core keep it busy.
MATCH_CONNECTIONS=${MATCH_CONNECTIONS:-$((2 * $(nproc)))}
SYNTH_ENTITIES=${SYNTH_ENTITIES:-10000}
SYNTH_EPOCHS=${SYNTH_EPOCHS:-1}
ACCESS_LOG=${ACCESS_LOG:-false}
BATCH=256

log() { echo "bench/server: $*" >&2; }

need=""
command -v wrk >/dev/null || need="$need wrk"
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need="$need nginx"
if [ -n "$need" ]; then
  log "installing:$need"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >&2
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

work=$(mktemp -d "$BENCH_TMP/server.XXXXXX")
server_pid="" nginx_conf=""
stop_nginx() {
  if [ -n "$nginx_conf" ]; then
    "$NGINX" -p "$work/nginx" -c "$nginx_conf" -e "$work/nginx/error.log" -s stop 2>/dev/null || true
    for _ in $(seq 50); do [ -e "$work/nginx/nginx.pid" ] || break; sleep 0.1; done
    nginx_conf=""
  fi
}
cleanup() { stop_server; stop_nginx; rm -rf "$work"; }
trap cleanup EXIT

now() { date +%s.%N; }

# JSON string of the tab-separated columns of a links file, as awk emits:
# escapes backslash and double quote (ids are URIs: nothing else needs it).
AWK_ESC='function esc(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return s }'

# write_scripts DATA: Lua scripts for wrk in $work: align1.lua (one pair per
# request), batch.lua ($BATCH pairs), match.lua (/match k=10), each cycling
# through bodies built from DATA/test_links.tsv. Every script ends with a
# done() that prints one JSON line.
write_scripts() {
  local links=$1/test_links.tsv
  local done_fn='
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT {\"requests\": %d, \"seconds\": %.3f, \"requests_per_second\": %.1f, \"p50_ms\": %.3f, \"p90_ms\": %.3f, \"p99_ms\": %.3f, \"max_ms\": %.3f, \"non_2xx\": %d, \"socket_errors\": %d}\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, e.status, e.connect + e.read + e.write + e.timeout))
end'
  local head='
local i = 0
request = function()
  i = i + 1
  if i > #bodies then i = 1 end
  return wrk.format("POST", path, {["Content-Type"] = "application/json"}, bodies[i])
end'
  # Lua long brackets: the bodies need no escaping (they never hold "]==]").
  awk -F'\t' -v n=2000 "$AWK_ESC"'
    BEGIN { print "path = \"/align\"\nbodies = {" }
    NR <= n { printf "[==[{\"left\": \"%s\", \"right\": \"%s\"}]==],\n", esc($1), esc($2) }
    END { print "}" }' "$links" >"$work/align1.lua"
  awk -F'\t' -v b=$BATCH -v nb=16 "$AWK_ESC"'
    { l[NR] = esc($1); r[NR] = esc($2) }
    END {
      print "path = \"/align\"\nbodies = {"
      for (k = 0; k < nb; k++) {
        printf "[==[{\"pairs\": ["
        for (j = 0; j < b; j++) {
          x = (k * b + j) % NR + 1
          # every other pair a mismatch: a realistic mix of scores
          y = j % 2 ? (x * 7) % NR + 1 : x
          printf "%s{\"left\": \"%s\", \"right\": \"%s\"}", j ? ", " : "", l[x], r[y]
        }
        print "]}]==],"
      }
      print "}"
    }' "$links" >"$work/batch.lua"
  awk -F'\t' -v n=2000 "$AWK_ESC"'
    BEGIN { print "path = \"/match\"\nbodies = {" }
    NR <= n { printf "[==[{\"left\": \"%s\", \"k\": 10}]==],\n", esc($1) }
    END { print "}" }' "$links" >"$work/match.lua"
  local f
  for f in align1 batch match; do
    printf '%s\n%s\n' "$head" "$done_fn" >>"$work/$f.lua"
  done
}

# run_wrk SCRIPT URL [CONNECTIONS]: the done() JSON of one wrk run, with
# the connections used.
run_wrk() {
  local out c=${3:-$CONNECTIONS}
  out=$(wrk -t"$WRK_THREADS" -c"$c" -d"$DURATION" --latency -s "$1" "$2" 2>&1) || {
    log "wrk failed: $out"; exit 1; }
  echo "$out" | sed -n 's/^RESULT {/{"connections": '"$c"', /p' | tail -1
}

json_num() { sed -n "s/.*\"$2\": *\([-0-9.eE]*\).*/\1/p" <<<"$1" | head -1; }

# start_server DATA: spawns kgalign serve on a free loopback port; sets
# server_pid, port, startup_seconds, rss_mb.
start_server() {
  local data=$1 t0
  t0=$(now)
  "$KGALIGN" serve --data-dir "$data" --listen 127.0.0.1 --port 0 \
    --max-inflight 1024 --drain-delay-ms 0 --access-log "$ACCESS_LOG" \
    2>"$work/server.log" &
  server_pid=$!
  port=$(listening_port "$work/server.log" "$server_pid")
  [ -n "$port" ] || { log "the server did not start:"; cat "$work/server.log" >&2; exit 1; }
  wait_ready "$server_pid" "$port" 6000 || # 2 minutes at most
    { log "the server never became ready:"; cat "$work/server.log" >&2; exit 1; }
  startup_seconds=$(awk -v a="$t0" -v b="$(now)" 'BEGIN {printf "%.3f", b - a}')
  rss_mb=$(awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$server_pid/status")
}

# start_nginx BODYFILE: nginx answering the body to every request on a free
# loopback port (tried until one binds); sets nginx_port.
start_nginx() {
  mkdir -p "$work/nginx/logs"
  local body
  body=$(sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g" "$1")
  for _ in $(seq 20); do
    nginx_port=$((20000 + RANDOM % 40000))
    nginx_conf=$work/nginx/nginx.conf
    local user=""
    [ "$(id -u)" != 0 ] || user="user $(id -un) $(id -gn);"
    cat >"$nginx_conf" <<EOF
$user
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 100000000;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    location / { default_type application/json; return 200 '$body'; }
  }
}
EOF
    if "$NGINX" -p "$work/nginx" -c "$nginx_conf" -e "$work/nginx/error.log" 2>>"$work/nginx/start.log"; then
      for _ in $(seq 50); do
        curl -fs -o /dev/null -X POST -d '{}' "http://127.0.0.1:$nginx_port/" && return 0
        sleep 0.05
      done
    fi
    nginx_conf=""
  done
  log "nginx did not start:"; cat "$work/nginx/start.log" "$work/nginx/error.log" >&2 2>/dev/null || true
  exit 1
}

# server_bench NAME DATA EXTRA_JSON: (a) to (d) on one data directory; the
# JSON member goes to $part (not a subshell: the EXIT trap must see the
# processes started here).
server_bench() {
  local name=$1 data=$2 extra=$3
  write_scripts "$data"
  log "$name: starting the server"
  start_server "$data"
  local url="http://127.0.0.1:$port"
  # The nginx body: a real single-pair answer, so that both send the same
  # size; from a link without characters nginx would interpret ($, ', \).
  awk -F'\t' "$AWK_ESC"' !/[$\047\\]/ { printf "{\"left\": \"%s\", \"right\": \"%s\"}", esc($1), esc($2); exit }' \
    "$data/test_links.tsv" >"$work/one.json"
  curl -fs -X POST --data-binary @"$work/one.json" "$url/align" >"$work/answer.json"
  start_nginx "$work/answer.json"

  # Ours and nginx alternate, ROUNDS times each: a burst of load from
  # elsewhere on a shared machine then hits both alike, and the ratio is
  # the median of the rounds' ratios.
  log "$name: (a) single-pair /align vs nginx (fixed body of $(wc -c <"$work/answer.json") bytes), $CONNECTIONS connections, $ROUNDS x $DURATION each"
  local ours ngx batch match ratios="" r o n
  for r in $(seq "$ROUNDS"); do
    o=$(run_wrk "$work/align1.lua" "$url")
    n=$(run_wrk "$work/align1.lua" "http://127.0.0.1:$nginx_port")
    ratios="$ratios $(awk -v a="$(json_num "$o" requests_per_second)" -v b="$(json_num "$n" requests_per_second)" \
      'BEGIN {printf "%.3f", (b > 0 ? a / b : 0)}')"
    ours="${ours:+$ours, }$o"
    ngx="${ngx:+$ngx, }$n"
    log "$name: (a) round $r: ratio $(echo "$ratios" | awk '{print $NF}')"
  done
  ours="[$ours]"
  ngx="[$ngx]"
  stop_nginx
  log "$name: (b) /align with $BATCH pairs per request"
  batch=$(run_wrk "$work/batch.lua" "$url")
  log "$name: (c) /match k=10, $MATCH_CONNECTIONS connections"
  match=$(run_wrk "$work/match.lua" "$url" "$MATCH_CONNECTIONS")
  local rss_after
  rss_after=$(awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$server_pid/status")
  stop_server

  local ratio pairs_s
  ratio=$(echo "$ratios" | tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
  pairs_s=$(awk -v a="$(json_num "$batch" requests_per_second)" -v b=$BATCH 'BEGIN {printf "%.0f", a * b}')
  printf -v part '"%s": {%s"startup_to_ready_seconds": %s, "rss_ready_mb": %s, "rss_after_load_mb": %s,
   "align_single": %s,
   "nginx_fixed_body": %s,
   "align_single_body_bytes": %s, "ratio_rounds": [%s], "ratio_to_nginx": %s, "ratio_target": 0.5,
   "align_batch": %s,
   "batch_pairs": %d, "pairs_per_second": %s, "pairs_per_second_target": 100000,
   "match_k10": %s}' \
    "$name" "$extra" "$startup_seconds" "$rss_mb" "$rss_after" "$ours" "$ngx" \
    "$(wc -c <"$work/answer.json")" "$(echo $ratios | tr ' ' ',')" "$ratio" "$batch" "$BATCH" "$pairs_s" "$match"
}

# Synthetic pair.
syn=$work/synthetic
log "synthetic: $SYNTH_ENTITIES entities, training $SYNTH_EPOCHS epoch(s)"
"$KGALIGN" synth --entities "$SYNTH_ENTITIES" --seed 1 "$syn/src" >/dev/null
"$KGALIGN" import --format openea "$syn/src" "$syn/data" >/dev/null
measure syn_train "$KGALIGN" train "$syn/data" -o "$syn/data/model.kgm" --epochs "$SYNTH_EPOCHS"
server_bench synthetic "$syn/data" \
  "\"entities\": $SYNTH_ENTITIES, \"train_epochs\": $SYNTH_EPOCHS, \"train_seconds\": $syn_train_seconds, "
part_syn=$part
rm -rf "$syn"

# DBP15K fr_en, imported and trained with the defaults.
if have_data dbp15k_fr_en; then
  fr=$work/fr_en
  log "dbp15k_fr_en: import and train (about 2 minutes)"
  measure fr_import "$KGALIGN" import --format dbp15k "$DATA_DIR/dbp15k_fr_en" "$fr"
  measure fr_train "$KGALIGN" train "$fr" -o "$fr/model.kgm"
  server_bench dbp15k_fr_en "$fr" \
    "\"import_seconds\": $fr_import_seconds, \"train_seconds\": $fr_train_seconds, \"stores_and_model_mb\": $(du -cm "$fr"/*.kgs "$fr"/model.kgm | tail -1 | cut -f1), "
  part_fr=$part
else
  part_fr="\"dbp15k_fr_en\": {\"skipped\": \"$DATA_DIR/dbp15k_fr_en not found\"}"
fi

printf '{"benchmark": "server", "cores": %s, "loadavg_at_end": "%s", "duration": "%s", "connections": %s, "wrk_threads": %s,
 "server": {"threads": "all cores", "max_inflight": 1024, "access_log": %s},
 %s,
 %s}\n' "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$DURATION" "$CONNECTIONS" "$WRK_THREADS" "$ACCESS_LOG" "$part_syn" "$part_fr"
