#!/usr/bin/env bash
# `kgalign serve` under valgrind memcheck, with the real model: a small
# synthetic pair is generated, imported and trained (few entities, one
# epoch), then the server runs under memcheck while it gets a few hundred
# requests of every kind (/align single, batch and with explanations,
# /match both ways, every error status, /metrics, /healthz, /readyz, reloads
# by POST /admin/reload and SIGHUP, the in-flight cap, a client cut off at
# the read deadline), and SIGTERM. Fails when memcheck reports an invalid
# read or write, a use of uninitialised memory, a bad free, or a definite
# leak (--error-exitcode), or when the server does not drain and exit 0.
#
# Usage: tests/memcheck-server.sh        (from the repository root)
# Environment: KGALIGN (the plain build, default ./kgalign), MEMCHECK_DIR
# (where to keep the work directory and valgrind's log; default a new
# temporary directory, removed on success), MEMCHECK_ENTITIES (400),
# MEMCHECK_ROUNDS (40: each round sends one request of every kind).
# Needs valgrind and curl (installed with apt-get when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
KGALIGN=${KGALIGN:-./kgalign}
ENTITIES=${MEMCHECK_ENTITIES:-400}
ROUNDS=${MEMCHECK_ROUNDS:-40}

say() { echo "memcheck-server: $*" >&2; }
fail() { say "FAIL: $*"; exit 1; }

[ -x "$KGALIGN" ] || fail "$KGALIGN is not built (make)"
need=""
command -v valgrind >/dev/null || need="$need valgrind"
command -v curl >/dev/null || need="$need curl"
if [ -n "$need" ]; then
  say "installing:$need"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >&2
fi

if [ -n "${MEMCHECK_DIR:-}" ]; then
  work=$MEMCHECK_DIR; mkdir -p "$work"; keep=1
else
  work=$(mktemp -d /tmp/kga-memcheck.XXXXXX); keep=""
fi
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill -KILL "$server_pid" 2>/dev/null || true; fi
  if [ -z "$keep" ] && [ "${ok:-}" = 1 ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

say "model: $ENTITIES entities, one epoch, in $work"
"$KGALIGN" synth --entities "$ENTITIES" --seed 3 "$work/src" >/dev/null
"$KGALIGN" import --format openea "$work/src" "$work/data" >/dev/null
"$KGALIGN" train "$work/data" -o "$work/data/model.kgm" --epochs 1 --rounds 1 \
  --threads 2 >"$work/train.log" 2>&1 || { tail "$work/train.log" >&2; fail "train"; }

# OpenBLAS picks its kernels from CPUID, which valgrind answers for the CPU
# it emulates; nothing to set. Threads: memcheck runs one at a time anyway,
# two keep the pool's hand-offs in play.
say "starting kgalign serve under valgrind"
valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \
  --show-leak-kinds=definite --errors-for-leak-kinds=definite \
  --track-origins=yes --num-callers=30 --log-file="$work/valgrind.log" \
  "$KGALIGN" serve --data-dir "$work/data" --listen 127.0.0.1 --port 0 \
  --threads 2 --max-inflight 2 --drain-delay-ms 0 --request-read-timeout-s 2 \
  --request-deadline-ms 30000 --max-body-bytes 64KiB --max-pairs 64 \
  --admin-token memcheck-token 2>"$work/server.log" &
server_pid=$!

port=""
for _ in $(seq 600); do
  port=$(sed -n 's/.*"event":"listening".*"port":\([0-9]*\).*/\1/p' "$work/server.log" | head -1)
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$port" ] || { cat "$work/server.log" "$work/valgrind.log" >&2; fail "the server did not start"; }
url=http://127.0.0.1:$port
for _ in $(seq 1200); do # 2 minutes: loading under memcheck is slow
  curl -fs -o /dev/null "$url/readyz" && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
curl -fs -o /dev/null "$url/readyz" || { tail "$work/server.log" >&2; fail "never ready"; }

# Ids from the test links: known pairs, and a batch of mismatches.
mapfile -t L < <(cut -f1 "$work/data/test_links.tsv" | head -20)
mapfile -t R < <(cut -f2 "$work/data/test_links.tsv" | head -20)
batch='{"pairs": ['
for i in $(seq 0 15); do
  batch+="{\"left\": \"${L[$i]}\", \"right\": \"${R[$(( (i * 7) % 20 ))]}\"},"
done
batch+='{"left": "no such id", "right": "nor this"}]}'
big_batch='{"pairs": ['
for i in $(seq 0 99); do big_batch+="{\"left\": \"a\", \"right\": \"b\"},"; done
big_batch+='{"left": "a", "right": "b"}]}'
head -c 70000 /dev/zero | tr '\0' ' ' >"$work/too_big.json"

declare -A got
# req EXPECTED_STATUS CURL_ARGS...: one request; counts it, fails on
# another status.
req() {
  local want=$1; shift
  local st
  st=$(curl -s -o /dev/null -w '%{http_code}' "$@") || true
  [ "$st" = "$want" ] || fail "curl $* answered $st, expected $want"
  got[$want]=$(( ${got[$want]:-0} + 1 ))
}
post() { req "$1" -X POST -H 'Content-Type: application/json' --data-binary "$3" "$url$2"; }

say "$ROUNDS rounds of every kind of request"
for round in $(seq "$ROUNDS"); do
  i=$(( round % 20 ))
  post 200 /align "{\"left\": \"${L[$i]}\", \"right\": \"${R[$i]}\"}"
  post 200 /align "{\"left\": \"${L[$i]}\", \"right\": \"${R[$i]}\", \"explain\": true}"
  post 200 /align "$batch"
  post 200 /align "${batch%]\}}], \"explain\": true}"
  post 200 /match "{\"left\": \"${L[$i]}\", \"k\": 5}"
  post 200 /match "{\"right\": \"${R[$i]}\", \"k\": 3}"
  post 400 /align '{"left": "x", "right": 3}'
  post 400 /align '{"left": "x", "right": "y", "explian": true}'
  post 400 /align '{not json'
  post 400 /match "{\"left\": \"${L[$i]}\", \"k\": -1}"
  post 413 /align "$big_batch"
  req 413 -X POST --data-binary @"$work/too_big.json" "$url/align"
  req 404 "$url/nowhere"
  req 405 "$url/align"
  req 405 -X POST "$url/metrics"
  req 200 "$url/healthz"
  req 200 "$url/readyz"
  req 200 "$url/metrics"
  req 200 -H "X-Request-Id: memcheck-$round" "$url/healthz"
  if (( round % 10 == 0 )); then
    req 200 -X POST -H 'Authorization: Bearer memcheck-token' "$url/admin/reload"
    req 403 -X POST "$url/admin/reload"
    loads=$(grep -c '"event":"snapshot_loaded"' "$work/server.log")
    kill -HUP "$server_pid"
    for _ in $(seq 600); do
      [ "$(grep -c '"event":"snapshot_loaded"' "$work/server.log")" -gt "$loads" ] && break
      sleep 0.1
    done
  fi
done

say "the in-flight cap: 8 batches with explanations at once"
pids=()
for k in $(seq 8); do
  curl -s -o /dev/null -w '%{http_code}\n' -X POST --data-binary "${batch%]\}}], \"explain\": true}" \
    "$url/align" >"$work/burst.$k" &
  pids+=($!)
done
wait "${pids[@]}"
cat "$work"/burst.* | sort | uniq -c >&2
grep -qvx -e 200 -e 503 "$work"/burst.* && fail "the burst got answers other than 200 and 503"

say "a client trickling its body, cut off at the read deadline"
trap '' PIPE # the server closes while we write
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'POST /align HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{' >&3
for _ in $(seq 30); do printf ' ' >&3 2>/dev/null || break; sleep 0.2; done
exec 3>&-
grep -q '"event":"read_timeout"' "$work/server.log" || fail "no read_timeout in the log"
curl -s "$url/metrics" | grep -q '^kgalign_read_timeouts_total{phase="body"} 1$' ||
  fail "kgalign_read_timeouts_total{phase=\"body\"} is not 1"

total=0; for k in "${!got[@]}"; do total=$(( total + got[$k] )); done
say "$total requests answered as expected ($(for k in $(printf '%s\n' "${!got[@]}" | sort); do printf '%s x %s, ' "${got[$k]}" "$k"; done | sed 's/, $//'))"

say "SIGTERM"
kill -TERM "$server_pid"
rc=0
wait "$server_pid" || rc=$?
server_pid=""
grep -E 'ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|still reachable' "$work/valgrind.log" >&2 || true
if [ "$rc" = 99 ]; then
  say "memcheck found errors; the log: $work/valgrind.log"
  keep=1
  sed -n '/^==[0-9]*== [A-Z]/,$p' "$work/valgrind.log" | head -150 >&2
  exit 1
fi
[ "$rc" = 0 ] || { keep=1; tail -20 "$work/server.log" >&2; fail "the server exited with status $rc (log in $work)"; }
grep -q '"event":"drained"' "$work/server.log" || fail "the server did not log 'drained'"
ok=1
say "ok: no memory errors, no definite leaks, clean exit"
