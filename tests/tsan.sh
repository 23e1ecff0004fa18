#!/usr/bin/env bash
# Runs the test programs given as arguments, built with ThreadSanitizer
# (make test-tsan), and fails when any of them fails or when any process,
# the servers they start included, reported a data race. Reports go to
# files in $TSAN_LOGS (one per process), printed here when there are any.
# Environment: KGALIGN (the kgalign binary of the same build), TSAN_LOGS.
set -u
: "${KGALIGN:?KGALIGN must name the ThreadSanitizer build of kgalign}"
logs=${TSAN_LOGS:?TSAN_LOGS must name a directory for the reports}
rm -rf "$logs"
mkdir -p "$logs"
# log_path: the servers' stderr is a log file the tests read as JSON lines.
# Races are reported and the run goes on, so that one run shows them all.
export TSAN_OPTIONS="log_path=$logs/tsan second_deadlock_stack=1 halt_on_error=0 ${TSAN_OPTIONS:-}"
export KGALIGN
# The real-data targets would take far too long here.
export KGA_SKIP_REAL_DATA=1
rc=0
tests/run-tests.sh "$@" || rc=$?
reports=$(find "$logs" -type f -name 'tsan.*' | sort)
if [ -n "$reports" ]; then
  echo
  echo "ThreadSanitizer reports ($(echo "$reports" | wc -l) processes):"
  for f in $reports; do echo "--- $f"; cat "$f"; done
  echo "tsan: FAIL: data races reported (above)"
  exit 1
fi
[ "$rc" -eq 0 ] && echo "tsan: no data race reported"
exit "$rc"
