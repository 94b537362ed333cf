#!/usr/bin/env bash
# Runs every native Go fuzz target under pkg/ for $FUZZTIME each (default
# 20s), one target per `go test -fuzz` invocation: go test fuzzes one target
# of one package at a time. Targets are found with `go test -list`, so new
# ones join without editing this script. Exits non-zero if listing fails,
# no target is found or any target fails; a failing input is left in the
# package's testdata/fuzz/<FuzzName>/ for `go test -run=<FuzzName>/<file>`.
#
# $FUZZMINIMIZETIME (default 100x: a hundred runs) bounds the minimizing
# of each new input: go's default of 60s spends most of a short run
# shrinking the inputs of the slower targets instead of fuzzing (FuzzScan
# ran 8k executions in 120s with it, 60k with 100x).
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=${FUZZTIME:-20s}
minimize=${FUZZMINIMIZETIME:-100x}

# `go test -list` prints a package's matching names, then "ok <package>".
listing=$(go test -list '^Fuzz' ./pkg/...)
targets=()
names=()
while read -r first second _; do
  case "$first" in
    Fuzz*) names+=("$first") ;;
    ok)
      for n in ${names[@]+"${names[@]}"}; do targets+=("$second $n"); done
      names=()
      ;;
  esac
done <<<"$listing"

if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz.sh: no fuzz target found under ./pkg" >&2
  exit 1
fi

# Go 1.26's fuzz coordinator can end a clean run with a bare "context
# deadline exceeded" when -fuzztime expires while a worker is mid-call
# (golang/go#75804, fixed in Go 1.27). A real finding always prints
# "Failing input written to" and a reproducer. So a failure whose log holds
# only that deadline message is run again, up to three attempts; anything
# else fails at once.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
run_target() {
  go test -run '^$' -fuzz "^${2}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" "$1" 2>&1 | tee "$log"
  return "${PIPESTATUS[0]}"
}
deadline_flake() {
  grep -q 'context deadline exceeded' "$log" &&
    ! grep -Eq 'Failing input written|panic:|fuzz_test.go:[0-9]+:|_test.go:[0-9]+:' "$log"
}

failed=()
for t in "${targets[@]}"; do
  read -r pkg name <<<"$t"
  echo "-- $name ($pkg) for $fuzztime"
  ok=0
  for attempt in 1 2 3; do
    if run_target "$pkg" "$name"; then
      ok=1
      break
    fi
    deadline_flake || break
    echo "fuzz.sh: $name: bare 'context deadline exceeded' (golang/go#75804), no failing input (attempt $attempt)"
  done
  ((ok)) || failed+=("$name")
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets passed"
