#!/usr/bin/env bash
# Deployment test (make test-deploy): the files in deploy/ against real
# kgalign replicas, on loopback only.
#
# 1. Static checks: `haproxy -c` on deploy/haproxy.cfg as it is (its
#    ${KGA_...} variables set here; and refused with a replica address
#    unset), `nginx -t` on deploy/nginx.conf filled
#    in, the Kubernetes manifests (tests/deploy/check_k8s.py when python3 has
#    PyYAML, else a structural check), the ConfigMap's kgalign.conf against
#    `kgalign serve --help` (every option, no unknown one), the systemd unit
#    (systemd-analyze verify, when present), and the Dockerfile: its build
#    stage runs `make deps` and `make`, its runtime stage installs the Debian
#    package of every library build/kgalign links.
# 2. A small synthetic pair, imported and trained (a few seconds), unless
#    DEPLOY_DATA names a directory with left.kgs, right.kgs, model.kgm and
#    test_links.tsv (the ids it sends).
# 3. Three `kgalign serve` replicas (the third reads the ConfigMap's
#    kgalign.conf), a few requests through nginx with deploy/nginx.conf,
#    then HAProxy with deploy/haproxy.cfg; through each, POST /admin/reload
#    spelled every way that could slip past a balancer (%61dmin, %2F, %00,
#    dot segments, //...) with the replicas' admin token: all refused, no
#    replica reloads. Then a steady load of POST /align
#    through it: CLIENTS parallel curl loops, some opening a connection per
#    request, some keeping it alive, some sending 100-pair batches; every
#    request and its status are counted. Under that load: SIGTERM to
#    replica 1 (it must drain and exit 0, and HAProxy must take it out
#    before it stops accepting), restart it on the same port until HAProxy
#    has it back, then SIGKILL to replica 2, and a few more seconds of load.
# 4. Failures (any status but 200, or no answer) must be 0 outside the
#    SIGKILL window, and at most the requests that can be in flight on the
#    killed replica inside it (with retry-on, 0 is expected).
#
# Environment: KGALIGN (binary, default ./kgalign), DEPLOY_DATA, CLIENTS (6,
# at least 3), KEEP=1 (keep the work directory). Installs haproxy and nginx
# with apt-get when missing (as root, else with sudo). Every process started
# here is stopped on exit; every loop is bounded. About 25 to 40 s.
# HAPROXY_CFG and REPLICA_ARGS (extra serve flags) exist to see it fail.
set -Eeuo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
KGALIGN=${KGALIGN:-$root/kgalign}
CLIENTS=${CLIENTS:-6}
HAPROXY_CFG=${HAPROXY_CFG:-$root/deploy/haproxy.cfg}
REPLICA_ARGS=${REPLICA_ARGS:-}  # extra `kgalign serve` flags, e.g. to see the test fail
# Each replica: --threads 1 --max-inflight 2, and HAProxy maxconn 2. With 6
# clients and one replica out, HAProxy must queue: a maxconn above the cap
# shows up as 503s from the replicas.
MAXCONN=2
PER_BATCH_KA=20    # requests per curl process on the keep-alive clients
BATCH_PAIRS=100    # pairs per request on the batch clients (about 10 KB)

say() { printf 'deploy: %s\n' "$*"; }
fail() { printf 'deploy: FAIL: %s\n' "$*" >&2; exit 1; }
now_us() { echo "${EPOCHREALTIME/./}"; }
[ "$CLIENTS" -ge 3 ] || fail "CLIENTS must be at least 3"

work=$(mktemp -d /tmp/kga_deploy.XXXXXX)
declare -A rpid=() rport=()
hpid="" npid="" cpids=() policy_made=""

cleanup() {
  local rc=$?
  set +e
  trap - ERR
  touch "$work/stop"
  for p in "${cpids[@]}"; do kill "$p" 2>/dev/null; done
  [ -n "$npid" ] && kill -TERM "$npid" 2>/dev/null
  [ -n "$hpid" ] && kill -TERM "$hpid" 2>/dev/null
  for i in "${!rpid[@]}"; do kill -KILL "${rpid[$i]}" 2>/dev/null; done
  wait 2>/dev/null
  [ -n "$policy_made" ] && rm -f /usr/sbin/policy-rc.d
  if [ "$rc" -ne 0 ]; then
    for f in "$work"/replica*.log "$work"/haproxy.log; do
      [ -s "$f" ] && { echo "--- tail of $f"; tail -n 15 "$f"; }
    done
    echo "deploy: logs kept in $work"
  elif [ "${KEEP:-}" = 1 ]; then
    echo "deploy: work directory kept: $work"
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "deploy: FAIL: command failed at line $LINENO" >&2' ERR
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- tools
sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
missing=()
[ -x "$HAPROXY" ] || missing+=(haproxy)
[ -x "$NGINX" ] || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  # Installed packages must not start their own daemons here.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod 755 /usr/sbin/policy-rc.d
    policy_made=1
  fi
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ -n "$policy_made" ]; then $sudo rm -f /usr/sbin/policy-rc.d; policy_made=""; fi
  HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
  NGINX=$(command -v nginx || echo /usr/sbin/nginx)
fi
command -v curl >/dev/null || fail "curl is missing (make deps installs it)"
[ -x "$KGALIGN" ] || fail "no kgalign binary at $KGALIGN (run make)"
# Every replica runs this copy, even if the tree is rebuilt meanwhile.
BIN=$work/kgalign
cp "$(readlink -f "$KGALIGN")" "$BIN"

# Free loopback ports below the ephemeral range, so that no outgoing
# connection takes replica 1's port while it restarts. Sets $port.
read -r eph_low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || eph_low=32768
[ "$eph_low" -gt 12000 ] || eph_low=61000
used_ports=" "
free_port() {
  local p _
  for _ in $(seq 500); do
    p=$((10000 + RANDOM % (eph_low - 10000)))
    case "$used_ports" in *" $p "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      used_ports="$used_ports$p "
      port=$p
      return 0
    fi
  done
  fail "no free port"
}

# ---------------------------------------------------------------- 1. static checks
say "static checks"
# Dockerfile: the README's targets in the build stage, the runtime
# libraries of the binary in the runtime stage.
dockerfile=$root/Dockerfile
grep -qx 'RUN make deps' "$dockerfile" || fail "Dockerfile: the build stage does not run 'make deps'"
grep -Eq '^RUN make( &&|$)' "$dockerfile" || fail "Dockerfile: the build stage does not run 'make'"
grep -q '^ENTRYPOINT \["kgalign", "serve", "--data", "/data", "--listen", "0.0.0.0"\]' "$dockerfile" ||
  fail "Dockerfile: unexpected ENTRYPOINT"
runtime_stage=$(awk '/^FROM /{n++} n==2' "$dockerfile")
if command -v readelf >/dev/null && command -v dpkg >/dev/null; then
  for so in $(readelf -d "$BIN" | sed -n 's/.*Shared library: \[\(.*\)\].*/\1/p'); do
    path=$(ldd "$BIN" | awk -v so="$so" '$1 == so && $3 ~ /^\// {print $3}')
    [ -n "$path" ] || fail "Dockerfile check: cannot resolve $so"
    real=$(readlink -f "$path")
    pkg=""  # dpkg knows /lib/... or, for alternatives, the target (merged /usr)
    for p in "$path" "$real" "${real#/usr}"; do
      pkg=$(dpkg -S "$p" 2>/dev/null | head -n1 | cut -d: -f1) || true
      [ -n "$pkg" ] && break
    done
    [ -n "$pkg" ] || fail "Dockerfile check: no Debian package owns $path"
    case "$pkg" in
      libc6|libgcc-s1) continue ;;        # in debian:12-slim
      libasan*|libubsan*) continue ;;     # a SANITIZER= build, never shipped
    esac
    grep -qw -- "$pkg" <<<"$runtime_stage" ||
      fail "Dockerfile: the runtime stage does not install $pkg (for $so)"
  done
fi

# HAProxy: this very file; its variables point at ports chosen now.
free_port; lb_port=$port
free_port; stats_port=$port
for i in 1 2 3; do free_port; rport[$i]=$port; done
export KGA_BIND=127.0.0.1:$lb_port KGA_STATS_BIND=127.0.0.1:$stats_port \
       KGA_STATS_SOCKET=$work/haproxy.sock KGA_MAXCONN=$MAXCONN \
       KGA_SERVER_1=127.0.0.1:${rport[1]} KGA_SERVER_2=127.0.0.1:${rport[2]} \
       KGA_SERVER_3=127.0.0.1:${rport[3]}
"$HAPROXY" -c -q -f "$HAPROXY_CFG" || fail "haproxy -c $HAPROXY_CFG"
# The replica addresses are required: without one HAProxy refuses to start
# and says which is missing.
for v in KGA_SERVER_1 KGA_SERVER_2 KGA_SERVER_3; do
  if out=$(env -u "$v" "$HAPROXY" -c -f "$HAPROXY_CFG" 2>&1); then
    fail "haproxy -c accepts $HAPROXY_CFG without $v"
  fi
  grep -q "$v is not set" <<<"$out" || fail "haproxy without $v does not name it: $out"
done

# nginx: the placeholders filled in, logs and pid under a temporary prefix.
free_port; ngx_port=$port
mkdir -p "$work/nginx"
sed -e "s/\${KGA_LISTEN}/127.0.0.1:$ngx_port/g" -e "s/\${KGA_MAXCONN}/$MAXCONN/g" \
    -e "s/\${KGA_SERVER_1}/127.0.0.1:${rport[1]}/g" -e "s/\${KGA_SERVER_2}/127.0.0.1:${rport[2]}/g" \
    -e "s/\${KGA_SERVER_3}/127.0.0.1:${rport[3]}/g" -e "s#/var/log/nginx/#$work/nginx/#g" \
    "$root/deploy/nginx.conf" >"$work/nginx/nginx.conf"
if grep -v '^[[:space:]]*#' "$work/nginx/nginx.conf" | grep -q '\${KGA_'; then
  fail "deploy/nginx.conf: a placeholder the test does not fill"
fi
ngx_g="pid $work/nginx/nginx.pid; error_log $work/nginx/error.log;"
"$NGINX" -q -t -p "$work/nginx/" -c "$work/nginx/nginx.conf" -g "$ngx_g" ||
  fail "nginx -t deploy/nginx.conf"

# Kubernetes manifests.
k8s=$root/deploy/k8s
for f in "$k8s"/*.yaml; do
  ! grep -q "$(printf '\t')" "$f" || fail "$f: contains a tab"
  awk '/^---/ {if (!(a && k)) bad = 1; a = k = 0; next}
       /^apiVersion: / {a = 1} /^kind: / {k = 1}
       END {if (bad || !(a && k)) exit 1}' "$f" || fail "$f: a document without apiVersion or kind"
done
if python3 -c 'import yaml' 2>/dev/null; then
  python3 "$root/tests/deploy/check_k8s.py" "$k8s" "$dockerfile" || fail "deploy/k8s"
else
  say "python3 has no PyYAML: deploy/k8s checked for structure only"
fi
# The ConfigMap's kgalign.conf: every option of `kgalign serve`, no other.
awk '/^  kgalign.conf: \|/ {on = 1; next} on && /^    / {print substr($0, 5); next}
     on && /^[^ ]/ {exit} on && /^$/ {print ""}' "$k8s/configmap.yaml" >"$work/k8s-kgalign.conf"
conf_keys=$(sed -n 's/^\([a-z_]*\) *=.*/\1/p' "$work/k8s-kgalign.conf" | sort)
opt_keys=$("$BIN" serve --help | sed -n 's/^  --\([a-z-]*\) .*/\1/p' | tr - _ |
           grep -vx -e config -e help | sort)
[ -n "$opt_keys" ] || fail "cannot read the options from kgalign serve --help"
[ "$conf_keys" = "$opt_keys" ] || {
  diff <(echo "$opt_keys") <(echo "$conf_keys") >&2 || true
  fail "deploy/k8s/configmap.yaml: kgalign.conf keys differ from kgalign serve --help"
}
# systemd unit (ExecStart pointed at this binary: verify wants it to exist).
if command -v systemd-analyze >/dev/null; then
  sed "s#/usr/local/bin/kgalign#$BIN#" "$root/deploy/kgalign.service" >"$work/kgalign.service"
  out=$(systemd-analyze verify "$work/kgalign.service" 2>&1 | grep -v -e "^$" -e "Failed to connect" -e "not running" || true)
  [ -z "$out" ] || { echo "$out" >&2; fail "deploy/kgalign.service"; }
fi

# ---------------------------------------------------------------- 2. data
if [ -n "${DEPLOY_DATA:-}" ]; then
  DATA=$DEPLOY_DATA
else
  say "training a small model"
  "$BIN" synth --entities 3000 --seed 5 "$work/src" >/dev/null
  "$BIN" import --format openea "$work/src" "$work/data" >/dev/null
  "$BIN" train "$work/data" -o "$work/data/model.kgm" --epochs 1 >/dev/null 2>&1 ||
    fail "kgalign train"
  DATA=$work/data
fi
for f in left.kgs right.kgs model.kgm test_links.tsv; do
  [ -s "$DATA/$f" ] || fail "$DATA/$f is missing"
done

# Request bodies: one pair each for the single-pair clients, and a batch.
mkdir -p "$work/bodies"
awk -F'\t' -v dir="$work/bodies" 'NR <= 16 {
  printf "{\"left\": \"%s\", \"right\": \"%s\"}", $1, $2 > (dir "/single" NR ".json") }' "$DATA/test_links.tsv"
awk -F'\t' -v n="$BATCH_PAIRS" 'NR <= n {
  printf "%s{\"left\": \"%s\", \"right\": \"%s\"}", (NR > 1 ? ", " : "{\"pairs\": ["), $1, $2 }
  END { printf "], \"explain\": true}" }' "$DATA/test_links.tsv" >"$work/bodies/batch.json"

# ---------------------------------------------------------------- 3. replicas
# Every replica has an admin token, so that an admin request a balancer
# let through would reload it (and the test would see it in its log).
ADMIN_TOKEN=deploy-test-admin-token
start_replica() { # index; port from rport
  local i=$1 extra=()
  # The third replica reads the Kubernetes ConfigMap's file (flags win).
  [ "$i" = 3 ] && extra=(--config "$work/k8s-kgalign.conf")
  KGALIGN_ADMIN_TOKEN=$ADMIN_TOKEN \
  "$BIN" serve "${extra[@]}" --data "$DATA" --listen 127.0.0.1 --port "${rport[$i]}" \
    --threads 1 --max-inflight "$MAXCONN" --access-log false $REPLICA_ARGS 2>>"$work/replica$i.log" &
  rpid[$i]=$!
}
wait_ready() { # index
  local i=$1 _
  for _ in $(seq 150); do
    curl -fs -o /dev/null "http://127.0.0.1:${rport[$i]}/readyz" && return 0
    kill -0 "${rpid[$i]}" 2>/dev/null || fail "replica $i exited while starting"
    sleep 0.1
  done
  fail "replica $i not ready after 15 s"
}
for i in 1 2 3; do start_replica "$i"; done
for i in 1 2 3; do wait_ready "$i"; done
say "replicas ready on ports ${rport[1]} ${rport[2]} ${rport[3]}"

# The admin route through a balancer: every spelling of it, with the
# replicas' own token, must be refused by the balancer or the replica (any
# status but 200), and no replica may reload. A kgalign that normalises
# differently from the balancer, or a balancer that denies only the raw
# path, shows up here as a 200 and an admin reload in a replica's log.
admin_paths=(/admin/reload /%61dmin/reload /admin%2freload /admin%2Freload
             /admin%5creload /admin/reload%00junk /x/../admin/reload
             //admin/reload /./admin/reload /admin/./reload /ADMIN/reload
             /%2e%2e/admin/reload /%2e/admin/reload /admin%252freload /%zz)
admin_reloads() {
  cat "$work"/replica*.log | grep -c '"event":"reload_started","trigger":"admin"' || true
}
probe_admin() { # balancer-name port
  local p st
  for p in "${admin_paths[@]}"; do
    st=$(curl --path-as-is -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST \
         -H "Authorization: Bearer $ADMIN_TOKEN" "http://127.0.0.1:$2$p") || true
    case "$st" in
      4??) ;;
      *) fail "$1: POST $p answered $st, not refused" ;;
    esac
  done
  [ "$(admin_reloads)" = 0 ] || fail "$1: an admin request reached a replica and reloaded it"
}

# A few requests through nginx: keep-alive to the replicas, round robin.
"$NGINX" -p "$work/nginx/" -c "$work/nginx/nginx.conf" -g "$ngx_g daemon off;" 2>>"$work/nginx/stderr.log" &
npid=$!
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$ngx_port") 2>/dev/null && break
  sleep 0.1
done
ngx_args=()
for _ in $(seq 30); do ngx_args+=("http://127.0.0.1:$ngx_port/align" -o /dev/null); done
ngx_codes=$(curl -s --max-time 10 -X POST --data-binary @"$work/bodies/single1.json" \
            -w '%{http_code}\n' "${ngx_args[@]}" | sort | uniq -c | tr -s ' ')
ngx_ok=$(awk '$2 == 200 {print $1}' <<<"$ngx_codes")
[ "${ngx_ok:-0}" = 30 ] || fail "nginx: not 30 x 200 but: $ngx_codes"
ngx_upstreams=$(grep -o 'upstream=[0-9.:]*' "$work/nginx/kgalign.access.log" | sort -u | wc -l)
[ "$ngx_upstreams" = 3 ] || fail "nginx: requests went to $ngx_upstreams replicas, not 3"
probe_admin nginx "$ngx_port"
kill -TERM "$npid"; wait "$npid" 2>/dev/null || true; npid=""
say "nginx: 30 requests, 30 x 200, over 3 replicas; ${#admin_paths[@]} spellings of /admin/reload refused"

# HAProxy, in the foreground, logging to its stderr.
"$HAPROXY" -db -f "$HAPROXY_CFG" 2>"$work/haproxy.log" &
hpid=$!
stats_url="http://127.0.0.1:$stats_port/stats;csv"
server_field() { # server column: the server's value in the stats CSV
  curl -s --max-time 2 "$stats_url" | awk -F, -v s="$1" -v col="$2" '
    NR == 1 {for (i = 1; i <= NF; i++) if ($i == col) c = i; next}
    $1 == "kgalign" && $2 == s {print $c}'
}
wait_status() { # server UP|DOWN seconds
  local _ st=""
  for _ in $(seq $(($3 * 20))); do
    st=$(server_field "$1" status) || true
    case "$st" in "$2"*) return 0 ;; esac
    kill -0 "$hpid" 2>/dev/null || fail "haproxy exited"
    sleep 0.05
  done
  fail "haproxy: $1 is '$st', not $2 after $3 s"
}
for s in kga1 kga2 kga3; do wait_status "$s" UP 10; done
say "haproxy on 127.0.0.1:$lb_port sees 3 replicas UP"
probe_admin haproxy "$lb_port"
# The token does reload a replica asked directly: the probes above would
# have been seen.
st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST \
     -H "Authorization: Bearer $ADMIN_TOKEN" "http://127.0.0.1:${rport[3]}/admin/reload") || true
[ "$st" = 200 ] || fail "POST /admin/reload with the token to replica 3 answered $st, not 200"
[ "$(admin_reloads)" = 1 ] || fail "the direct admin reload is not in replica 3's log"
say "haproxy: ${#admin_paths[@]} spellings of /admin/reload refused; the token reloads a replica asked directly"

# ---------------------------------------------------------------- load
url="http://127.0.0.1:$lb_port/align"
hard_end=$(( $(now_us) + 120000000 ))  # no client runs past 2 minutes
client() { # n body requests-per-curl
  local n=$1 body=$2 per=$3 k i=0 args=()
  for ((k = 0; k < per; k++)); do args+=("$url" -o /dev/null); done
  while [ ! -e "$work/stop" ] && [ "$i" -lt 20000 ] && [ "$(now_us)" -lt "$hard_end" ]; do
    echo "B $(now_us)"
    curl -s --max-time 10 -H 'Content-Type: application/json' -X POST \
      --data-binary @"$body" -w '%{http_code}\n' "${args[@]}" || true
    echo "E $(now_us)"
    i=$((i + 1))
  done >"$work/client$n.log"
}
event() { echo "$1 $(now_us)" >>"$work/events"; }

event load_start
for ((n = 1; n <= CLIENTS; n++)); do
  case $((n % 3)) in
    1) client "$n" "$work/bodies/single$n.json" 1 & ;;             # a connection per request
    2) client "$n" "$work/bodies/single$n.json" "$PER_BATCH_KA" & ;; # keep-alive
    0) client "$n" "$work/bodies/batch.json" 5 & ;;                  # 100-pair batches
  esac
  cpids+=($!)
done
sleep 4

# SIGTERM: drain replica 1 under load.
event term
t_term=$(now_us)
kill -TERM "${rpid[1]}"
wait_status kga1 DOWN 5
t_down=$(now_us)
down_ms=$(( (t_down - t_term) / 1000 ))
drain_ms=$(sed -n 's/.*"event":"drain_started".*"drain_delay_ms":\([0-9]*\).*/\1/p' "$work/replica1.log" | tail -n1)
[ -n "$drain_ms" ] || fail "replica 1 did not log drain_started"
[ "$down_ms" -lt "$drain_ms" ] ||
  fail "haproxy took replica 1 out after $down_ms ms, not before its drain delay ($drain_ms ms)"
for _ in $(seq 150); do kill -0 "${rpid[1]}" 2>/dev/null || break; sleep 0.1; done
kill -0 "${rpid[1]}" 2>/dev/null && fail "replica 1 still running 15 s after SIGTERM"
rc1=0; wait "${rpid[1]}" || rc1=$?
[ "$rc1" = 0 ] || fail "replica 1 exited $rc1 after SIGTERM, not 0"
grep -q '"event":"drained"' "$work/replica1.log" || fail "replica 1 did not log its drain"
t_exit=$(now_us)
say "SIGTERM: haproxy took replica 1 out after $down_ms ms; it exited 0 after $(( (t_exit - t_term) / 1000 )) ms"
start_replica 1
wait_ready 1
wait_status kga1 UP 10
event term_end
say "replica 1 restarted on port ${rport[1]}, UP again in haproxy"
sleep 3

# SIGKILL: replica 2 dies with whatever it was running.
event kill
t_kill=$(now_us)
kill -KILL "${rpid[2]}"
wait "${rpid[2]}" 2>/dev/null || true
unset 'rpid[2]'
wait_status kga2 DOWN 5
say "SIGKILL: haproxy took replica 2 out after $(( ($(now_us) - t_kill) / 1000 )) ms"
sleep 5
event load_end
touch "$work/stop"
for p in "${cpids[@]}"; do wait "$p" || true; done
cpids=()

kill -TERM "$hpid"; wait "$hpid" 2>/dev/null || true; hpid=""
# Requests HAProxy sent again (its log's retries field, "+N" when it went to
# another replica): those the failed replicas would have lost.
replayed=$(awk '$3 == "kgalign_in" {split($11, a, "/"); if (a[5] != "0") n++} END {print n + 0}' "$work/haproxy.log")

# ---------------------------------------------------------------- 4. counts
ev() { awk -v e="$1" '$1 == e {print $2}' "$work/events"; }
read -r total ok n_term f_term n_kill f_kill n_rest f_rest codes < <(
  cat "$work"/client*.log | awk -v tt="$(ev term)" -v te="$(ev term_end)" -v tk="$(ev kill)" '
    # Each request is taken to span its whole curl run (B to E): a window
    # holds every request that may have overlapped it.
    $1 == "B" {start = $2; n = 0; next}
    $1 == "E" {
      for (j = 1; j <= n; j++) {
        st = s[j]; total++; ok += (st == "200"); bad = (st != "200"); code[st]++
        if ($2 >= tk) {n_kill++; f_kill += bad}
        else if ($2 >= tt && start <= te) {n_term++; f_term += bad}
        else {n_rest++; f_rest += bad}
      }
      next
    }
    {s[++n] = $1}
    END {
      out = ""; for (c in code) out = out (out == "" ? "" : ",") c "x" code[c]
      printf "%d %d %d %d %d %d %d %d %s\n", total, ok, n_term, f_term, n_kill, f_kill, n_rest, f_rest, out
    }')
# In flight on the killed replica: at most one request per client, and at
# most its maxconn.
bound=$(( CLIENTS < MAXCONN ? CLIENTS : MAXCONN ))
say "requests: $total total, $ok x 200; statuses: $codes"
say "SIGTERM window: $n_term requests, $f_term failed (must be 0)"
say "SIGKILL window: $n_kill requests, $f_kill failed (must be <= $bound in flight on that replica)"
say "rest of the run: $n_rest requests, $f_rest failed (must be 0)"
say "haproxy replayed $replayed requests on another replica (retry-on, redispatch)"
status=0
[ "$total" -ge 300 ] || { say "FAIL: only $total requests: the load did not run"; status=1; }
[ "$n_term" -gt 0 ] && [ "$n_kill" -gt 0 ] || { say "FAIL: no requests in a window"; status=1; }
[ "$f_term" = 0 ] || { say "FAIL: $f_term requests failed across the SIGTERM drain"; status=1; }
[ "$f_rest" = 0 ] || { say "FAIL: $f_rest requests failed outside the SIGTERM and SIGKILL windows"; status=1; }
[ "$f_kill" -le "$bound" ] || { say "FAIL: $f_kill requests failed across the SIGKILL, more than $bound"; status=1; }
if [ "$f_kill" -gt 0 ] && [ "$f_kill" -le "$bound" ]; then
  say "note: with retry-on and redispatch, 0 failures are expected across the SIGKILL"
fi
if [ "$status" != 0 ]; then
  grep -v ' 200 ' "$work/haproxy.log" | grep -E '" *$|HTTP/1' | head -n 20 >&2 || true
fi
echo "deploy: $ok passed, $((total - ok)) failed"
exit "$status"
