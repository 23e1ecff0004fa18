# Helpers shared by the benchmark scripts. Source it; needs $KGALIGN.

DATA_DIR=${KGA_DATA_DIR:-../shared/data}
BENCH_TMP=${BENCH_TMP:-$(pwd)/build/bench}
mkdir -p "$BENCH_TMP"

# measure NAME CMD...: runs CMD under GNU time and sets NAME_seconds,
# NAME_cpu_seconds and NAME_rss_mb to the wall time, the CPU time (user +
# system) and the peak resident memory. Output of the command goes to
# $BENCH_TMP/NAME.log; a failure aborts the benchmark.
measure() {
  local name=$1; shift
  local tfile="$BENCH_TMP/$name.time"
  if ! /usr/bin/time -f '%e %M %U %S' -o "$tfile" "$@" >"$BENCH_TMP/$name.log" 2>&1; then
    echo "bench: '$*' failed, see $BENCH_TMP/$name.log" >&2
    tail -5 "$BENCH_TMP/$name.log" >&2
    exit 1
  fi
  read -r secs kb usr sys <"$tfile"
  printf -v "${name}_seconds" '%s' "$secs"
  printf -v "${name}_cpu_seconds" '%s' "$(awk -v u="$usr" -v s="$sys" 'BEGIN{printf "%.2f", u+s}')"
  printf -v "${name}_rss_mb" '%s' "$(awk -v k="$kb" 'BEGIN{printf "%.1f", k/1024}')"
}

# best_of N NAME CMD...: like measure, keeping the fastest of N runs.
best_of() {
  local n=$1 name=$2; shift 2
  local best="" best_rss=""
  for _ in $(seq "$n"); do
    measure "$name" "$@"
    local s="${name}_seconds" r="${name}_rss_mb"
    if [ -z "$best" ] || awk -v a="${!s}" -v b="$best" 'BEGIN{exit !(a<b)}'; then
      best=${!s}; best_rss=${!r}
    fi
  done
  printf -v "${name}_seconds" '%s' "$best"
  printf -v "${name}_rss_mb" '%s' "$best_rss"
}

have_data() { [ -d "$DATA_DIR/$1" ]; }

# listening_port LOG PID: the port a `kgalign serve --port 0` started as PID
# logs in LOG once it listens (waits up to 30 s); empty when it exits first.
listening_port() {
  local log=$1 pid=$2 p=""
  for _ in $(seq 600); do
    p=$(sed -n 's/.*"event":"listening".*"port":\([0-9]*\).*/\1/p' "$log" | head -1)
    [ -n "$p" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "$p"
}

# wait_ready PID PORT TRIES: polls http://127.0.0.1:PORT/readyz every 20 ms,
# TRIES times at most, until it answers 200 (returns 0); returns 1 when the
# server started as PID exits first or the tries run out.
wait_ready() {
  local pid=$1 port=$2 tries=$3
  for _ in $(seq "$tries"); do
    curl -fs -o /dev/null "http://127.0.0.1:$port/readyz" && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.02
  done
  return 1
}

# stop_server: SIGTERM to the server started as $server_pid (a benchmark's
# global), SIGKILL after 10 s; clears server_pid. Nothing when none runs.
stop_server() {
  if [ -n "${server_pid:-}" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
