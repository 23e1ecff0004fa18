#!/usr/bin/env bash
# Load test of the HTTP service with wrk: single-pair POST /align with
# keep-alive, and (when nginx is installed) nginx answering a fixed body of
# the same size on the same machine, as the yardstick. Runs the rounds
# interleaved so that both see the same background load, and prints one
# JSON object per round plus a summary line.
#
# By default the server is the test program with the fake aligner
# (build/tests/test_server serve ...) on a small generated fixture, which
# measures the HTTP layer alone. To measure the real service:
#   SERVER="./kgalign serve" DATA_DIR=/path/with/stores-and-model \
#   LEFT_ID='http://...' RIGHT_ID='http://...' tests/server_bench.sh
#
# Environment: BUILD (build), DURATION (10s), CONNECTIONS (64), THREADS
# (wrk threads, 2), ROUNDS (3), PORT (18090), NGINX_PORT (18091),
# SERVER_ARGS (extra flags for the server).
# Traffic goes to 127.0.0.1 only; every process started here is stopped.
set -euo pipefail

BUILD=${BUILD:-build}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
PORT=${PORT:-18090}
NGINX_PORT=${NGINX_PORT:-18091}
SERVER=${SERVER:-$BUILD/tests/test_server serve}
LEFT_ID=${LEFT_ID:-L:e1}
RIGHT_ID=${RIGHT_ID:-R:e1}

command -v wrk >/dev/null || { echo "server_bench: wrk is not installed" >&2; exit 1; }
work=$(mktemp -d /tmp/kga_server_bench.XXXXXX)
server_pid="" nginx_started=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ -n "$nginx_started" ]; then
    nginx -c "$work/nginx.conf" -p "$work" -s stop 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ -z "${DATA_DIR:-}" ]; then
  DATA_DIR=$work/data
  "$BUILD/tests/test_server" fixture "$DATA_DIR"
fi

body=$(printf '{"left": "%s", "right": "%s"}' "$LEFT_ID" "$RIGHT_ID")
cat >"$work/align.lua" <<EOF
wrk.method = "POST"
wrk.body   = '$body'
wrk.headers["Content-Type"] = "application/json"
EOF

# shellcheck disable=SC2086
$SERVER --data-dir "$DATA_DIR" --listen 127.0.0.1 --port "$PORT" \
  --access-log false --drain-delay-ms 0 --max-inflight 1024 ${SERVER_ARGS:-} \
  2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null || { cat "$work/server.log" >&2; exit 1; }
response=$(curl -fs -X POST -d "$body" "http://127.0.0.1:$PORT/align")

if command -v nginx >/dev/null; then
  mkdir -p "$work/logs"
  printf '%s' "$response" >"$work/body.json"
  cat >"$work/nginx.conf" <<EOF
worker_processes 2;
pid $work/nginx.pid;
error_log $work/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / { default_type application/json; alias $work/body.json; }
  }
}
EOF
  nginx -c "$work/nginx.conf" -p "$work" && nginx_started=1
fi

rps() { wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -s "$work/align.lua" "$1" |
        awk '/Requests\/sec/ {print $2}'; }
ours_all="" ngx_all=""
for round in $(seq "$ROUNDS"); do
  ours=$(rps "http://127.0.0.1:$PORT/align")
  ours_all="$ours_all $ours"
  ngx=null
  if [ -n "$nginx_started" ]; then
    ngx=$(rps "http://127.0.0.1:$NGINX_PORT/")
    ngx_all="$ngx_all $ngx"
  fi
  printf '{"round": %d, "align_rps": %s, "nginx_rps": %s, "load": "%s"}\n' \
    "$round" "$ours" "$ngx" "$(cut -d' ' -f1-3 /proc/loadavg)"
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR ? a[int((NR+1)/2)] : "null")}'; }
m_ours=$(echo "$ours_all" | median)
m_ngx=$(echo "$ngx_all" | median)
ratio=null
[ "$m_ngx" != null ] && ratio=$(awk -v a="$m_ours" -v b="$m_ngx" 'BEGIN {printf "%.2f", a / b}')
printf '{"summary": true, "connections": %s, "duration": "%s", "align_rps_median": %s, "nginx_rps_median": %s, "ratio": %s}\n' \
  "$CONNECTIONS" "$DURATION" "$m_ours" "$m_ngx" "$ratio"
