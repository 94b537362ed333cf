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

failed=()
for t in "${targets[@]}"; do
  read -r pkg name <<<"$t"
  echo "-- $name ($pkg) for $fuzztime"
  if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" "$pkg"; then
    failed+=("$name")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets passed"
