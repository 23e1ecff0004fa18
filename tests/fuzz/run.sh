#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz/fuzz_*.c) with ASan and UBSan
# into build-fuzz/ and runs each for FUZZ_SECONDS seconds on a copy of its
# seed corpus plus its regression inputs. Exit status 1 when a harness
# crashed (the input is kept in build-fuzz/artifacts/HARNESS/).
#
#   tests/fuzz/run.sh [HARNESS...]     default: every harness
#
# Environment: FUZZ_SECONDS (default 60; 0 = build only), FUZZ_JOBS
# (harnesses run at once, default 1), FUZZ_CC (default clang, installed
# with apt-get when missing), FUZZ_ARGS (extra libFuzzer flags). See
# docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_JOBS=${FUZZ_JOBS:-1}
CC=${FUZZ_CC:-clang}
OUT=build-fuzz
ALL="fuzz_wire fuzz_store fuzz_model fuzz_import_openea fuzz_import_dbp15k
     fuzz_import_records fuzz_import_ntriples fuzz_config fuzz_request_path"
HARNESSES=${*:-$ALL}
mkdir -p "$OUT"

# Whether $CC links a libFuzzer binary with both sanitizers.
fuzzer_links() {
  command -v "$CC" >/dev/null 2>&1 &&
    printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n);\n%s\n' \
      'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return d && n; }' |
    "$CC" -x c -fsanitize=fuzzer,address,undefined - -o "$OUT/.probe" >/dev/null 2>&1
}
if ! fuzzer_links; then
  if [ -n "${FUZZ_CC:-}" ]; then
    echo "run.sh: FUZZ_CC=$CC does not build libFuzzer binaries" \
         "(-fsanitize=fuzzer,address,undefined)" >&2
    exit 1
  fi
  # Debian 12: clang 14; libFuzzer and the sanitizer runtimes are in
  # libclang-rt-dev, only recommended by clang.
  echo "run.sh: installing clang and libclang-rt-dev (libFuzzer)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq clang libclang-rt-dev
  if ! fuzzer_links; then
    echo "run.sh: $CC still does not build libFuzzer binaries" >&2
    exit 1
  fi
fi
rm -f "$OUT/.probe"
case "$FUZZ_SECONDS" in
  ''|*[!0-9]*) echo "run.sh: FUZZ_SECONDS must be a whole number of seconds" >&2
               exit 2 ;;
esac
for h in $HARNESSES; do
  [ -f "tests/fuzz/$h.c" ] || { echo "run.sh: no harness tests/fuzz/$h.c" >&2; exit 2; }
done

SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -pthread -I. -Icore $SAN"
LIBS="-lopenblas -licui18n -licuuc -licudata -ljansson -lz -lm -lpthread"

# ---- build: the library sources once, then one binary per harness ----
mkdir -p "$OUT/obj"
export CC CFLAGS OUT
newest_header=$(ls -t core/*/*.h proto/*.h config/*.h server/request_path.h | head -n 1)
compile() {
  local src=$1 obj
  obj="$OUT/obj/$(echo "${1%.c}" | tr / _).o"
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ "$newest_header" -nt "$obj" ]; then
    # shellcheck disable=SC2086
    $CC $CFLAGS -fsanitize=fuzzer-no-link -c "$src" -o "$obj" || return 1
  fi
}
export -f compile
export newest_header
echo "building the library with $CC (ASan, UBSan, libFuzzer coverage)"
# No main() in these directories; of cli/ and server/ only the pure
# request-path rules are needed.
LIB_SRC="core/*/*.c proto/*.c config/*.c server/request_path.c"
# shellcheck disable=SC2086
if ! printf '%s\n' $LIB_SRC |
     xargs -P "$(nproc)" -I{} bash -c 'compile {}'; then
  echo "run.sh: building the library failed" >&2
  exit 1
fi
# shellcheck disable=SC2086
objs=$(for src in $LIB_SRC; do
         printf '%s/obj/%s.o ' "$OUT" "$(echo "${src%.c}" | tr / _)"
       done)
for h in $HARNESSES; do
  # shellcheck disable=SC2086
  if ! $CC $CFLAGS -fsanitize=fuzzer -Wall -Wextra -Werror -Itests/fuzz \
       "tests/fuzz/$h.c" $objs $LIBS -o "$OUT/$h"; then
    echo "run.sh: building $h failed" >&2
    exit 1
  fi
done
echo "built: $(for h in $HARNESSES; do printf '%s/%s ' "$OUT" "$h"; done)"
[ "$FUZZ_SECONDS" -gt 0 ] || exit 0

# ---- run ----
# The import harnesses write their source trees under this directory.
# tmpfs when there is one: the import fsyncs every file it writes.
if [ -w /dev/shm ]; then tmp_parent=/dev/shm; else tmp_parent=${TMPDIR:-/tmp}; fi
KGA_FUZZ_TMP=$(mktemp -d "$tmp_parent/kga-fuzz-run.XXXXXX")
export KGA_FUZZ_TMP
trap 'rm -rf "$KGA_FUZZ_TMP"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export OPENBLAS_NUM_THREADS=1

run_one() {
  local h=$1 corpus="$OUT/corpus/$1" art="$OUT/artifacts/$1/"
  mkdir -p "$corpus" "$art" "$OUT/logs"
  rm -f "$OUT/logs/$h.log" "$OUT/logs/$h.rc"
  # The repository's seeds are copied: libFuzzer adds new inputs to the
  # first corpus directory, which must not be the repository's.
  if [ -d "tests/fuzz/corpus/$h" ]; then
    cp -n tests/fuzz/corpus/"$h"/* "$corpus"/ 2>/dev/null || true
  fi
  local dirs=("$corpus")
  [ -d "tests/fuzz/regressions/$h" ] && dirs+=("tests/fuzz/regressions/$h")
  local dict=()
  [ -f "tests/fuzz/dict/$h.dict" ] && dict=("-dict=tests/fuzz/dict/$h.dict")
  # shellcheck disable=SC2086
  "$OUT/$h" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 \
    -timeout=30 -rss_limit_mb=2560 -artifact_prefix="$art" "${dict[@]}" \
    ${FUZZ_ARGS:-} "${dirs[@]}" >"$OUT/logs/$h.log" 2>&1
}
export -f run_one
export FUZZ_SECONDS FUZZ_ARGS

echo "fuzzing $FUZZ_SECONDS s per harness, $FUZZ_JOBS at a time; logs in $OUT/logs/"
printf '%s\n' $HARNESSES |
  xargs -P "$FUZZ_JOBS" -I{} bash -c 'run_one {}; echo $? > "$OUT/logs/{}.rc"' || true

status=0
printf '\n%-22s %12s  %s\n' harness executions status
for h in $HARNESSES; do
  rc=$(cat "$OUT/logs/$h.rc" 2>/dev/null || echo 1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/logs/$h.log" | tail -n 1)
  if [ "$rc" = 0 ]; then
    st=ok
  else
    status=1
    crash=$(ls -t "$OUT/artifacts/$h/" 2>/dev/null | head -n 1)
    st="CRASH (exit $rc${crash:+, input $OUT/artifacts/$h/$crash}; see $OUT/logs/$h.log)"
  fi
  printf '%-22s %12s  %s\n' "$h" "${execs:-?}" "$st"
done
exit "$status"
