#!/usr/bin/env bash
# bench/ab.sh: compare two pongscan binaries on one capture by alternating
# their runs, so that both see the same phases of a noisy machine.
#
#   bench/ab.sh OLD NEW [RUNS] [FILE] [SCAN FLAGS...]
#
# RUNS (default 6) runs of each, A (OLD) and B (NEW) in turn, on FILE
# (default bench/out/bench-10m.pcap, from bench/run.sh). Prints the
# fastest and median wall time and CPU time (user + system) of each. On
# the 2-core VM this project was built on, the same binary's wall time on
# the same file moved between 1.3 s and 2.1 s from one minute to the next:
# compare A and B only within one call, and trust differences only when
# minimum and median agree.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $# -lt 2 ]]; then
	sed -n '4,5p' "$0" | sed 's/^# *//' >&2
	exit 2
fi
A=$1 B=$2
N=${3:-6}
F=${4:-bench/out/bench-10m.pcap}
shift $(($# < 4 ? $# : 4))
T=$(mktemp)
trap 'rm -f "$T"' EXIT
for ((i = 0; i < N; i++)); do
	for x in A B; do
		bin=$A
		[[ $x == B ]] && bin=$B
		/usr/bin/time -f "$x %e %U %S" -a -o "$T" "$bin" scan --format json --progress never "$@" "$F" >/dev/null 2>&1 || true
	done
done
python3 - "$T" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l[:2] in ("A ", "B ")]
for x in "AB":
    w = sorted(float(r[1]) for r in rows if r[0] == x)
    c = sorted(float(r[2]) + float(r[3]) for r in rows if r[0] == x)
    print(f"{x} wall min {w[0]:.2f} med {statistics.median(w):.2f}   cpu min {c[0]:.2f} med {statistics.median(c):.2f}")
PY
