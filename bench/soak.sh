#!/usr/bin/env bash
# Soak benchmark of the HTTP service (not CI, not in the default
# `make bench`): single-pair POST /align on a synthetic model at about 80%
# of the saturating rate for SOAK_SECONDS (10 minutes), offered at a fixed
# pace (see bench/load_lib.sh), the server with its defaults. Reports:
#   - the server's VmRSS every 10 s (the list), the post-warm-up value (the
#     first sample at or after SOAK_WARMUP_SECONDS) and the largest
#     deviation from it after the warm-up, in percent (target: within 10%);
#   - answers other than 200 and 503, and socket errors (target: 0); the
#     503s (expected few: 80% leaves headroom, but the pacing sends in
#     bursts when it catches up);
#   - accepted requests/s and p50/p99 of the accepted requests.
# The saturating rate is measured first as in bench/overload.sh (closed
# loop, 1 to max_inflight connections), unless SATURATION_RPS gives it.
# Prints one JSON object on stdout; progress on stderr.
#
#   BENCHMARKS=bench/soak.sh make bench
#   SOAK_SECONDS=120 BENCHMARKS=bench/soak.sh make bench    (a short check)
#
# Environment: KGALIGN (required), SOAK_SECONDS (600), SOAK_WARMUP_SECONDS
# (60, or a quarter of a soak shorter than 4 minutes), SOAK_LOAD (0.8),
# SATURATION_RPS (measured when unset), STEP_DURATION (5s), CONNECTIONS
# (the server's max_inflight), WRK_THREADS (2), SYNTH_ENTITIES (10000),
# SYNTH_EPOCHS (1).
#
# Why max_inflight connections by default: wrk's delay() counts whole
# milliseconds, so the paced requests leave in bursts on each millisecond
# tick; with more connections than the cap, a burst alone overruns it and
# much of an 80% load comes back 503 (with 64 connections, 42% did), which
# is overload, not a soak. With max_inflight connections the generator
# never has more in flight than the server accepts.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${KGALIGN:?KGALIGN must name the kgalign binary}"
. "$(dirname "$0")/load_lib.sh"

SOAK_SECONDS=${SOAK_SECONDS:-600}
if [ "$SOAK_SECONDS" -ge 240 ]; then default_warmup=60; else default_warmup=$((SOAK_SECONDS / 4)); fi
SOAK_WARMUP_SECONDS=${SOAK_WARMUP_SECONDS:-$default_warmup}
SOAK_LOAD=${SOAK_LOAD:-0.8}
STEP_DURATION=${STEP_DURATION:-5s}
SAMPLE_EVERY=10

log() { echo "bench/soak: $*" >&2; }

setup_load
CONNECTIONS=${CONNECTIONS:-$cap}
log "server: $threads worker threads, max_inflight $cap"

if [ -n "${SATURATION_RPS:-}" ]; then
  saturation_rps=$SATURATION_RPS saturation_connections=null ramp=null
  saturation_source=given
else
  log "saturation: closed loop, 1 to $cap connections, $STEP_DURATION each"
  find_saturation "$STEP_DURATION"
  saturation_source=measured
fi
rate=$(awk -v s="$saturation_rps" -v f="$SOAK_LOAD" 'BEGIN {printf "%.0f", s * f}')
rss_start=$(rss_mb)
log "soak: $rate requests/s ($SOAK_LOAD x $saturation_rps), $CONNECTIONS connections, for $SOAK_SECONDS s, VmRSS every $SAMPLE_EVERY s"
run_load "$CONNECTIONS" "${SOAK_SECONDS}s" "$rate" "$SAMPLE_EVERY"
soak=$result
sleep 1
rss_end=$(rss_mb)
inflight_after=$(server_metric kgalign_inflight_requests)
stop_server

# The post-warm-up value and the largest deviation from it afterwards.
read -r rss_base max_dev <<<"$(grep -o '"t": [0-9]*, "rss_mb": [0-9.]*' <<<"$rss_samples" |
  awk -v w="$SOAK_WARMUP_SECONDS" '{t = $2 + 0; r = $4 + 0}
    t >= w && base == "" {base = r}
    base != "" {d = (r - base) / base * 100; if (d < 0) d = -d; if (d > m) m = d}
    END {if (base == "") print "null null"; else printf "%.1f %.2f\n", base, m}')"
other=$(json_num "$soak" other_status)
sockerr=$(json_num "$soak" socket_errors)
timeouts=$(json_num "$soak" timeouts)
within=$(awk -v d="$max_dev" 'BEGIN {print (d != "null" && d <= 10) ? "true" : "false"}')
clean=$([ "$other" = 0 ] && [ "$sockerr" = 0 ] && [ "$timeouts" = 0 ] && echo true || echo false)
log "accepted $(json_num "$soak" accepted_per_second)/s, $(json_num "$soak" rejected_503) x 503, $other other, VmRSS $rss_base MB after warm-up, largest deviation $max_dev%"

printf '{"benchmark": "soak", "cores": %s, "loadavg_at_end": "%s", "wrk_threads": %s,
 "model": {"synthetic_entities": %s, "train_epochs": %s, "train_seconds": %s},
 "server": {"worker_threads": %s, "max_inflight": %s, "access_log": false},
 "saturation": {"source": "%s", "accepted_per_second": %s, "connections": %s, "ramp": %s},
 "soak": {"seconds": %s, "load": %s, "offered_per_second": %s, "connections": %s, "result": %s,
   "non_2xx_other_than_503": %s, "non_2xx_other_than_503_target": 0, "no_errors": %s,
   "inflight_after": %s,
   "rss_mb": {"start": %s, "post_warmup": %s, "warmup_seconds": %s, "max_deviation_percent": %s,
     "max_deviation_target_percent": 10, "within_target": %s, "end": %s,
     "every_seconds": %s, "samples": %s}}}\n' \
  "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$WRK_THREADS" \
  "$SYNTH_ENTITIES" "$SYNTH_EPOCHS" "$train_seconds" "$threads" "$cap" \
  "$saturation_source" "$saturation_rps" "$saturation_connections" "$ramp" \
  "$SOAK_SECONDS" "$SOAK_LOAD" "$rate" "$CONNECTIONS" "$soak" \
  "$other" "$clean" "$inflight_after" \
  "$rss_start" "$rss_base" "$SOAK_WARMUP_SECONDS" "$max_dev" "$within" "$rss_end" \
  "$SAMPLE_EVERY" "$rss_samples"
