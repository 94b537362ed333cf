#!/usr/bin/env bash
# bench/pair.sh FILE [ROUNDS] [PONGSCAN]: alternate pongscan with default
# flags and with --rrl=false on FILE, ROUNDS times (default 8), and print
# each round's wall seconds and peak RSS (KB), then the median of the
# per-round ratios default / --rrl=false. Alternating pairs see the same
# phases of a machine whose speed moves; single runs do not.
set -euo pipefail
f=$1
n=${2:-8}
ps=${3:-pongscan}
ratios=()
for i in $(seq "$n"); do
	a=$({ /usr/bin/time -f "%e %M" "$ps" scan --format json --progress never "$f" >/dev/null || true; } 2>&1 | tail -1)
	b=$({ /usr/bin/time -f "%e %M" "$ps" scan --rrl=false --format json --progress never "$f" >/dev/null || true; } 2>&1 | tail -1)
	echo "round $i: default ${a% *} s ${a#* } KB; --rrl=false ${b% *} s ${b#* } KB"
	ratios+=("$(awk -v x="${a% *}" -v y="${b% *}" 'BEGIN { printf "%.4f", x / y }')")
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "paired median ratio %.3f (min %.3f, max %.3f, %d rounds)\n", m, v[1], v[NR], NR }'
