#!/usr/bin/env bash
# Runs each Check test program given as an argument and prints one summary
# line. Exit status is non-zero when any program fails.
set -u
# In sanitizer builds (make test SANITIZER=...): a stack with each UBSan
# report. LeakSanitizer needs no suppressions (docs/fuzzing.md).
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
passed=0 failed=0 failed_names=()
for t in "$@"; do
  name=$(basename "$t")
  start=$(date +%s)
  if "$t"; then
    passed=$((passed + 1))
    echo "ok   $name ($(( $(date +%s) - start )) s)"
  else
    failed=$((failed + 1)); failed_names+=("$name")
    echo "FAIL $name"
  fi
done
echo
[ ${#failed_names[@]} -eq 0 ] || echo "failed programs: ${failed_names[*]}"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
