#!/usr/bin/env bash
# Runs each Check test program given as an argument under valgrind memcheck
# (`make memcheck`), in one process (CK_FORK=no: memcheck then sees every
# test, and counts leaks at the program's exit), with the real-data tests
# left out (KGA_SKIP_REAL_DATA=1). A program fails when one of its tests
# fails or when memcheck reports an invalid read or write, a use of an
# uninitialised value, a bad free or a definite leak. Installs valgrind with
# apt-get when it is missing.
#
#   tests/memcheck.sh PROGRAM...
#
# Environment: MEMCHECK_JOBS (programs at once, default 2), MEMCHECK_LOGS
# (each program's output NAME.out and valgrind's log NAME.log, default
# build/memcheck), VALGRIND_ARGS (extra valgrind flags).
set -uo pipefail
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null 2>&1; then
  echo "memcheck: installing valgrind"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  if ! { $SUDO apt-get update -qq &&
         DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq valgrind; }; then
    echo "memcheck: cannot install valgrind" >&2
    exit 1
  fi
fi
[ $# -gt 0 ] || { echo "usage: tests/memcheck.sh PROGRAM..." >&2; exit 2; }

MEMCHECK_LOGS=${MEMCHECK_LOGS:-build/memcheck}
mkdir -p "$MEMCHECK_LOGS"
export MEMCHECK_LOGS VALGRIND_ARGS=${VALGRIND_ARGS:-}
export CK_FORK=no KGA_SKIP_REAL_DATA=1

run_one() {
  local t=$1 name
  name=$(basename "$t")
  local start=$SECONDS
  # shellcheck disable=SC2086
  valgrind --tool=memcheck --error-exitcode=1 --leak-check=full \
    --show-leak-kinds=definite --errors-for-leak-kinds=definite \
    --num-callers=30 --log-file="$MEMCHECK_LOGS/$name.log" $VALGRIND_ARGS \
    "$t" >"$MEMCHECK_LOGS/$name.out" 2>&1
  echo "$? $((SECONDS - start))" >"$MEMCHECK_LOGS/$name.rc"
}
export -f run_one

for t in "$@"; do rm -f "$MEMCHECK_LOGS/$(basename "$t")".{out,log,rc}; done
echo "memcheck: ${#} programs, ${MEMCHECK_JOBS:-2} at a time; logs in $MEMCHECK_LOGS/"
printf '%s\n' "$@" | xargs -P "${MEMCHECK_JOBS:-2}" -I{} bash -c 'run_one {}'

passed=0 failed=0 failed_names=()
for t in "$@"; do
  name=$(basename "$t")
  read -r rc seconds <"$MEMCHECK_LOGS/$name.rc" 2>/dev/null || { rc=?; seconds=?; }
  errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' \
             "$MEMCHECK_LOGS/$name.log" 2>/dev/null | tail -n 1)
  if [ "$rc" = 0 ] && [ "${errors:-}" = 0 ]; then
    passed=$((passed + 1))
    echo "ok   $name ($seconds s)"
  else
    failed=$((failed + 1)); failed_names+=("$name")
    echo "FAIL $name (exit $rc, ${errors:-?} memcheck errors)"
    echo "---- $MEMCHECK_LOGS/$name.out"
    tail -n 40 "$MEMCHECK_LOGS/$name.out"
    echo "---- $MEMCHECK_LOGS/$name.log"
    grep -v -e '^==[0-9]*== *$' "$MEMCHECK_LOGS/$name.log" | head -n 300
  fi
done
echo
[ ${#failed_names[@]} -eq 0 ] || echo "failed under memcheck: ${failed_names[*]}"
echo "memcheck: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
