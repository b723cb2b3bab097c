# A small step runner for ./test (source it): one line per step, failures in full, a final tally.
#
#   source scripts/steps.sh
#   step "codegen --check" .venv/bin/python -m codegen --check
#   step -x "setup" scripts/setup.sh          # -x: stop here if this step fails
#   finish                                     # prints the tally; exits non-zero if a step failed
#
# Each step's output goes to a log; a step that passes prints one line (its name, ok, seconds and
# the test counts it reported), one that fails prints its whole log. Counts are read from pytest's
# last line ("12 passed, 1 failed in 3.0s") and node --test's summary ("# pass 12" / "ℹ pass 12").
# The last line is "N passed, N failed" (the tests of every step added up; a failed step that
# reported no failed test counts as one), which CI reads.
# Adding a step to ./test is one line.

STEPS_LOG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/prism-test.XXXXXX")"
STEPS_STARTED=$SECONDS
STEPS_OK=0
STEPS_FAILED=0
STEPS_FAILED_NAMES=()
TESTS_PASSED=0
TESTS_FAILED=0
TESTS_SKIPPED=0

# The counts a step's log reports, as "passed failed skipped" (empty when it reports none).
_step_counts() {
  local log=$1 line passed failed skipped
  line=$(grep -E '^=*[[:space:]]*[0-9]+ (passed|failed|error|errors|skipped|deselected)|no tests ran' "$log" | tail -n 1)
  if [ -n "$line" ]; then
    passed=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+' || true)
    failed=$(grep -oE '[0-9]+ (failed|errors?)' <<<"$line" | awk '{ n += $1 } END { print n + 0 }')
    skipped=$(grep -oE '[0-9]+ skipped' <<<"$line" | grep -oE '[0-9]+' || true)
    echo "${passed:-0} ${failed:-0} ${skipped:-0}"
    return
  fi
  passed=$(grep -E '^(# |ℹ )pass [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+' || true)
  if [ -n "$passed" ]; then
    failed=$(grep -E '^(# |ℹ )fail [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+' || true)
    skipped=$(grep -E '^(# |ℹ )skipped [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+' || true)
    echo "${passed:-0} ${failed:-0} ${skipped:-0}"
  fi
}

step() {
  local stop=0
  if [ "${1:-}" = "-x" ]; then stop=1; shift; fi
  local name=$1; shift
  local log="$STEPS_LOG_DIR/$(tr -c 'A-Za-z0-9' '_' <<<"$name").log"
  local started=$SECONDS rc counts summary="" status
  [ -t 1 ] && printf '%-22s ...' "$name"
  "$@" >"$log" 2>&1 </dev/null
  rc=$?
  counts=$(_step_counts "$log")
  if [ $rc -eq 5 ] && grep -q 'no tests ran' "$log"; then rc=0; fi  # pytest: nothing selected
  if [ -n "$counts" ]; then
    read -r p f s <<<"$counts"
    TESTS_PASSED=$((TESTS_PASSED + p)); TESTS_FAILED=$((TESTS_FAILED + f)); TESTS_SKIPPED=$((TESTS_SKIPPED + s))
    summary="$p passed, $f failed"
    [ "$s" != 0 ] && summary="$summary, $s skipped"
  fi
  if [ $rc -eq 0 ]; then
    status=ok; STEPS_OK=$((STEPS_OK + 1))
  else
    status=FAILED; STEPS_FAILED=$((STEPS_FAILED + 1)); STEPS_FAILED_NAMES+=("$name")
    # a failed step that reported no failed test (a build, a check) still counts as one failure
    if [ -z "$counts" ] || [ "${f:-0}" = 0 ]; then TESTS_FAILED=$((TESTS_FAILED + 1)); fi
  fi
  [ -t 1 ] && printf '\r'
  printf '%-22s %-6s %4ss  %s\n' "$name" "$status" "$((SECONDS - started))" "$summary"
  if [ $rc -ne 0 ]; then
    echo "---- $name: exit $rc; its full output ($*):"
    cat "$log"
    echo "---- end of $name"
    if [ $stop -eq 1 ]; then finish; fi
  fi
}

finish() {
  echo "== $((STEPS_OK + STEPS_FAILED)) steps: $STEPS_OK ok, $STEPS_FAILED failed${STEPS_FAILED_NAMES[*]:+ (${STEPS_FAILED_NAMES[*]})} in $((SECONDS - STEPS_STARTED)) s"
  echo "$TESTS_PASSED passed, $TESTS_FAILED failed"
  rm -rf "$STEPS_LOG_DIR"
  if [ $STEPS_FAILED -ne 0 ]; then exit 1; fi
  exit 0
}
