#!/usr/bin/env bash
# Overload benchmark of the HTTP service (not CI, not in the default
# `make bench`): single-pair POST /align on a synthetic model, the server
# with its defaults (threads = cores, max_inflight = 4 x threads).
#   1. The saturating rate: closed-loop wrk runs with 1, 2, 4, ... up to
#      max_inflight connections; the highest accepted rate (see
#      bench/load_lib.sh for how it is chosen).
#   2. Twice that rate, offered at a fixed pace (wrk with a pacing Lua
#      script) over CONNECTIONS connections: accepted requests/s, 503s
#      (all must carry Retry-After), other statuses, p50/p99 of the
#      accepted requests only, and the server's VmRSS before, during (every
#      2 s) and after.
#   3. For comparison, closed loop with twice the saturating connections:
#      every connection sends again as soon as it has an answer, 503 or not.
#
# The server runs with inline_max_us = INLINE_MAX_US (0): every request
# goes through the worker queue, where max_inflight and its 503s act. With
# the default (200), one-pair requests are scored on the HTTP threads as
# they are read and never queue: a client has at most one request out per
# connection, so max_connections bounds the outstanding work, and there is
# nothing to shed (measured: at "twice saturation" 33,233 accepted/s, no
# 503). Set INLINE_MAX_US=200 to see that.
# Prints one JSON object on stdout; progress on stderr.
#
#   BENCHMARKS=bench/overload.sh make bench
#   KGALIGN=./kgalign bash bench/overload.sh        (JSON on stdout only)
#
# Environment: KGALIGN (required), STEP_DURATION (5s, each step of 1),
# OVERLOAD_DURATION (20s), CONNECTIONS (64), WRK_THREADS (2),
# SYNTH_ENTITIES (10000), SYNTH_EPOCHS (1). wrk is installed with apt-get
# when missing. Load generator and server share the machine: at twice
# saturation wrk takes CPU the server would otherwise have, so the
# accepted rate under overload reads low against the saturating rate.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${KGALIGN:?KGALIGN must name the kgalign binary}"
. "$(dirname "$0")/load_lib.sh"

STEP_DURATION=${STEP_DURATION:-5s}
OVERLOAD_DURATION=${OVERLOAD_DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-64}

log() { echo "bench/overload: $*" >&2; }

setup_load --inline-max-us "${INLINE_MAX_US:-0}"
log "server: $threads worker threads, max_inflight $cap"

log "1. saturation: closed loop, 1 to $cap connections, $STEP_DURATION each"
find_saturation "$STEP_DURATION"
rate=$(awk -v s="$saturation_rps" 'BEGIN {printf "%.0f", 2 * s}')
log "saturation: $saturation_rps accepted/s at $saturation_connections connection(s)"

rss_before=$(rss_mb)
log "2. twice saturation: $rate requests/s offered, $CONNECTIONS connections, $OVERLOAD_DURATION"
run_load "$CONNECTIONS" "$OVERLOAD_DURATION" "$rate" 2
overload=$result
during=$rss_samples
during_max=$rss_max
sleep 2
rss_after=$(rss_mb)
inflight_after=$(server_metric kgalign_inflight_requests)
read_timeouts=$(curl -fs "$url/metrics" | awk '/^kgalign_read_timeouts_total/ {n += $2} END {print n + 0}')
accepted=$(json_num "$overload" accepted_per_second)
log "accepted $accepted/s, $(json_num "$overload" rejected_503) x 503, p99 of accepted $(json_num "$overload" accepted_p99_ms) ms"

c2=$((2 * saturation_connections))
log "3. closed loop, $c2 connections, $OVERLOAD_DURATION"
run_load "$c2" "$OVERLOAD_DURATION" 0 0
closed=$result
log "accepted $(json_num "$closed" accepted_per_second)/s, $(json_num "$closed" rejected_503) x 503, p99 of accepted $(json_num "$closed" accepted_p99_ms) ms"
stop_server

printf '{"benchmark": "overload", "cores": %s, "loadavg_at_end": "%s", "wrk_threads": %s,
 "model": {"synthetic_entities": %s, "train_epochs": %s, "train_seconds": %s},
 "server": {"worker_threads": %s, "max_inflight": %s, "inline_max_us": %s, "access_log": false},
 "saturation": {"step_duration": "%s", "accepted_per_second": %s, "connections": %s, "ramp": %s},
 "twice_saturation": {"offered_per_second": %s, "connections": %s, "duration": "%s",
   "accepted_per_second_vs_saturation": %s, "result": %s,
   "inflight_after": %s, "read_timeouts": %s,
   "rss_mb": {"before": %s, "during_max": %s, "after": %s, "during": %s}},
 "twice_connections_closed_loop": {"connections": %s, "duration": "%s", "result": %s}}\n' \
  "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$WRK_THREADS" \
  "$SYNTH_ENTITIES" "$SYNTH_EPOCHS" "$train_seconds" "$threads" "$cap" "$inline_us" \
  "$STEP_DURATION" "$saturation_rps" "$saturation_connections" "$ramp" \
  "$rate" "$CONNECTIONS" "$OVERLOAD_DURATION" \
  "$(awk -v a="$accepted" -v s="$saturation_rps" 'BEGIN {printf "%.3f", (s > 0 ? a / s : 0)}')" \
  "$overload" "$inflight_after" "$read_timeouts" "$rss_before" "$during_max" "$rss_after" "$during" \
  "$c2" "$OVERLOAD_DURATION" "$closed"
