# shellcheck shell=bash
# Helpers of the load benchmarks (bench/overload.sh, bench/soak.sh). Source
# it after bench/lib.sh; needs $KGALIGN. Sets an EXIT trap that stops the
# server started here and removes $work.
#
# The load is single-pair POST /align on a synthetic model, cycling through
# its test links, driven by wrk with a Lua script (written by
# write_load_script) that:
#   - paces the requests when KGA_RATE (requests/s over all connections) is
#     set: each wrk thread hands its connections send times KGA_WRK_THREADS
#     / KGA_RATE seconds apart, through wrk's delay() (wrk2's constant
#     throughput is not packaged; this is the same idea, without wrk2's
#     correction of the latency for requests sent late). Without KGA_RATE
#     every connection sends its next request as soon as it has an answer;
#   - separates the answers: 200, 503 (and whether it carried
#     Retry-After), others by status;
#   - times accepted (200) requests from the moment wrk writes them to
#     their answer, matched by an X-Request-Id the server echoes, in a
#     histogram with 1% buckets, for percentiles of accepted requests only.
# Its done() prints one line "RESULT {json}".

WRK_THREADS=${WRK_THREADS:-2}
SYNTH_ENTITIES=${SYNTH_ENTITIES:-10000}
SYNTH_EPOCHS=${SYNTH_EPOCHS:-1}

if ! command -v wrk >/dev/null; then
  echo "bench: installing wrk" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >&2
fi

work=$(mktemp -d "$BENCH_TMP/load.XXXXXX")
server_pid=""
trap 'stop_server; rm -rf "$work"' EXIT

json_num() { sed -n "s/.*\"$2\": *\([-0-9.eE]*\).*/\1/p" <<<"$1" | head -1; }

# make_model: a synthetic pair in $work/data, imported and trained; sets
# train_seconds.
make_model() {
  "$KGALIGN" synth --entities "$SYNTH_ENTITIES" --seed 1 "$work/src" >/dev/null
  "$KGALIGN" import --format openea "$work/src" "$work/data" >/dev/null
  measure load_train "$KGALIGN" train "$work/data" -o "$work/data/model.kgm" \
    --epochs "$SYNTH_EPOCHS"
  train_seconds=$load_train_seconds
  rm -rf "$work/src"
}

# write_load_script: $work/load.lua, single-pair /align bodies from
# $work/data/test_links.tsv.
write_load_script() {
  awk -F'\t' -v n=2000 '
    function esc(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return s }
    BEGIN { print "path = \"/align\"\nbodies = {" }
    NR <= n { printf "[==[{\"left\": \"%s\", \"right\": \"%s\"}]==],\n", esc($1), esc($2) }
    END { print "}" }' "$work/data/test_links.tsv" >"$work/load.lua"
  cat >>"$work/load.lua" <<'EOF'
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } kga_timespec_t;
int clock_gettime(int clk, kga_timespec_t *ts);
]]
local ts = ffi.new("kga_timespec_t")
local function now_us()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
end
local LOG_STEP = math.log(1.01)

-- Main state: the threads, for done().
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

-- Thread state.
local rate = tonumber(os.getenv("KGA_RATE") or "0") or 0
local nthreads = tonumber(os.getenv("KGA_WRK_THREADS") or "1") or 1
local interval_us = rate > 0 and nthreads * 1e6 / rate or 0
local next_us = nil
local i, seq = 0, 0
local sent = {}
hist, others = {}, {}
n200, n503, n503_bare = 0, 0, 0

if interval_us > 0 then
  function delay()
    local now = now_us()
    if next_us == nil then next_us = now end
    next_us = next_us + interval_us
    -- After a stall, catch up at most one second's worth in a burst.
    if next_us < now - 1e6 then next_us = now - 1e6 end
    local ms = (next_us - now) / 1000
    return ms > 0 and ms or 0
  end
end

function request()
  i = i + 1
  if i > #bodies then i = 1 end
  seq = seq + 1
  local id = "w" .. tid .. "-" .. seq
  sent[id] = now_us()
  return wrk.format("POST", path, {["Content-Type"] = "application/json",
                                   ["X-Request-Id"] = id}, bodies[i])
end

function response(status, headers, body)
  local id = headers["X-Request-Id"]
  local t0 = id and sent[id]
  if t0 then sent[id] = nil end
  if status == 200 then
    n200 = n200 + 1
    if t0 then
      local us = now_us() - t0
      if us < 1 then us = 1 end
      local b = math.floor(math.log(us) / LOG_STEP)
      hist[b] = (hist[b] or 0) + 1
    end
  elseif status == 503 then
    n503 = n503 + 1
    if headers["Retry-After"] == nil then n503_bare = n503_bare + 1 end
  else
    others[status] = (others[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local h, ok, busy, bare, other, nother = {}, 0, 0, 0, {}, 0
  for _, t in ipairs(threads) do
    for b, n in pairs(t:get("hist")) do h[b] = (h[b] or 0) + n end
    for s, n in pairs(t:get("others")) do
      other[s] = (other[s] or 0) + n
      nother = nother + n
    end
    ok = ok + t:get("n200")
    busy = busy + t:get("n503")
    bare = bare + t:get("n503_bare")
  end
  local keys, timed = {}, 0
  for b, n in pairs(h) do keys[#keys + 1] = b; timed = timed + n end
  table.sort(keys)
  -- Upper bound of the bucket holding the p-th percentile, in ms.
  local function pct(p)
    local want, acc = math.ceil(timed * p / 100), 0
    for _, b in ipairs(keys) do
      acc = acc + h[b]
      if acc >= want then return math.exp((b + 1) * LOG_STEP) / 1000 end
    end
    return 0
  end
  local parts = {}
  for s, n in pairs(other) do parts[#parts + 1] = string.format("\"%d\": %d", s, n) end
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "RESULT {\"seconds\": %.3f, \"requests\": %d, \"requests_per_second\": %.1f, " ..
    "\"accepted\": %d, \"accepted_per_second\": %.1f, \"rejected_503\": %d, " ..
    "\"rejected_503_without_retry_after\": %d, \"other_status\": %d, \"other_by_status\": {%s}, " ..
    "\"socket_errors\": %d, \"timeouts\": %d, " ..
    "\"accepted_p50_ms\": %.3f, \"accepted_p90_ms\": %.3f, \"accepted_p99_ms\": %.3f, \"accepted_max_ms\": %.3f}\n",
    secs, summary.requests, summary.requests / secs, ok, ok / secs, busy, bare,
    nother, table.concat(parts, ", "), e.connect + e.read + e.write, e.timeout,
    pct(50), pct(90), pct(99), pct(100)))
end
EOF
}

# start_server [FLAGS...]: kgalign serve on $work/data, a free loopback
# port; sets server_pid, port, url.
start_server() {
  "$KGALIGN" serve --data-dir "$work/data" --listen 127.0.0.1 --port 0 \
    --drain-delay-ms 0 --access-log false "$@" 2>"$work/server.log" &
  server_pid=$!
  port=$(listening_port "$work/server.log" "$server_pid")
  [ -n "$port" ] || { echo "bench: the server did not start:" >&2; cat "$work/server.log" >&2; exit 1; }
  url=http://127.0.0.1:$port
  wait_ready "$server_pid" "$port" 6000 && return 0
  echo "bench: the server never became ready:" >&2; cat "$work/server.log" >&2; exit 1
}

# The server's setting of KEY, from its "listening" log line.
server_setting() {
  sed -n "s/.*\"event\":\"listening\".*\"$1\":\([0-9]*\).*/\1/p" "$work/server.log" | head -1
}

rss_mb() { awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$server_pid/status"; }

# Value of a sample of the server's /metrics, or "null".
server_metric() {
  local v
  v=$(curl -fs "$url/metrics" | awk -v s="$1" '$1 == s {print $2; exit}')
  echo "${v:-null}"
}

# run_load CONNECTIONS DURATION RATE SAMPLE_EVERY: one wrk run (RATE 0 =
# closed loop). Sets result (the RESULT json), rss_samples (a JSON list of
# {"t": seconds, "rss_mb": ...}, one every SAMPLE_EVERY seconds while wrk
# runs; empty when 0) and rss_max (their largest, "null" when none).
run_load() {
  local c=$1 d=$2 rate=$3 every=$4 wpid t0 t rss nt=$WRK_THREADS
  local samples=()
  rss_max=null
  [ "$c" -ge "$nt" ] || nt=$c # wrk wants a connection per thread at least
  KGA_RATE=$rate KGA_WRK_THREADS=$nt \
    wrk -t"$nt" -c"$c" -d"$d" --timeout 10s -s "$work/load.lua" "$url" \
    >"$work/wrk.out" 2>&1 &
  wpid=$!
  t0=$(date +%s.%N)
  if [ "$every" != 0 ]; then
    while kill -0 "$wpid" 2>/dev/null; do
      sleep "$every"
      kill -0 "$wpid" 2>/dev/null || break
      t=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.0f", b - a}')
      rss=$(rss_mb)
      samples+=("{\"t\": $t, \"rss_mb\": $rss}")
      if [ "$rss_max" = null ] || awk -v a="$rss" -v b="$rss_max" 'BEGIN {exit !(a > b)}'; then
        rss_max=$rss
      fi
    done
  fi
  wait "$wpid" || { echo "bench: wrk failed:" >&2; cat "$work/wrk.out" >&2; exit 1; }
  result=$(sed -n 's/^RESULT //p' "$work/wrk.out" | tail -1)
  [ -n "$result" ] || { echo "bench: no RESULT from wrk:" >&2; cat "$work/wrk.out" >&2; exit 1; }
  rss_samples="[$(IFS=,; echo "${samples[*]}")]"
}

# find_saturation STEP_DURATION: closed-loop runs with 1, 2, 4, ... up to
# max_inflight connections (never more in flight than the cap, so no 503);
# the saturating rate is the highest accepted rate seen, reached when
# doubling the connections gains less than 5%. Sets saturation_rps,
# saturation_connections and ramp (a JSON list).
find_saturation() {
  local d=$1 cap c=1 best=0 rps steps=()
  cap=$(server_setting max_inflight)
  saturation_connections=1
  while [ "$c" -le "$cap" ]; do
    run_load "$c" "$d" 0 0
    rps=$(json_num "$result" accepted_per_second)
    echo "bench: $c connection(s): $rps accepted/s, p99 $(json_num "$result" accepted_p99_ms) ms" >&2
    steps+=("{\"connections\": $c, \"accepted_per_second\": $rps, \"accepted_p99_ms\": $(json_num "$result" accepted_p99_ms), \"rejected_503\": $(json_num "$result" rejected_503)}")
    if awk -v a="$rps" -v b="$best" 'BEGIN {exit !(a > b)}'; then
      local gain
      gain=$(awk -v a="$rps" -v b="$best" 'BEGIN {print (b > 0 && a < b * 1.05) ? 0 : 1}')
      best=$rps
      [ "$gain" = 1 ] && saturation_connections=$c
    fi
    c=$((c * 2))
  done
  saturation_rps=$best
  ramp="[$(IFS=,; echo "${steps[*]}")]"
}

# setup_load [FLAGS...]: the synthetic model, the load script and the
# server (given FLAGS), as both load benchmarks start; sets threads, cap and
# inline_us (the server's worker threads, max_inflight and inline_max_us)
# besides what start_server sets.
setup_load() {
  log "synthetic model: $SYNTH_ENTITIES entities, $SYNTH_EPOCHS epoch(s)"
  make_model
  write_load_script
  start_server "$@"
  threads=$(server_setting worker_threads)
  cap=$(server_setting max_inflight)
  inline_us=$(server_setting inline_max_us)
}
