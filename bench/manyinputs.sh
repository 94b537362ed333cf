#!/usr/bin/env bash
# bench/manyinputs.sh: memory and time of scans of many inputs.
#
#   bench/manyinputs.sh [N] [OLD_BINARY]
#
# Writes N (default 3000) pcap files of 4 records of 256 KiB each with
# bench/manyinputs, twice: rotated (one after another in time) and
# overlapping (all covering the same 4 seconds), under bench/out/many
# (reused), then scans them with /usr/bin/time: one stream of the rotated
# files, one stream of the overlapping files, and the overlapping ones
# with --each. Prints wall and CPU seconds and peak RSS. OLD_BINARY, when
# given, is run the same way for comparison (e.g. a build of main).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-3000}
OLD=${2:-}
D=bench/out/many
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/pongscan" ./cmd/pongscan
go build -o "$bin/manyinputs" ./bench/manyinputs
mkdir -p "$D"
for kind in rot ovl; do
	if [[ ! -s $D/$kind-$N.list ]]; then
		flag=""
		[[ $kind == ovl ]] && flag=-overlap
		"$bin/manyinputs" -n "$N" $flag -out "$D/$kind-$N" >"$D/$kind-$N.list.tmp"
		mv "$D/$kind-$N.list.tmp" "$D/$kind-$N.list"
	fi
	cat $(cat "$D/$kind-$N.list") >/dev/null
done
run() { # label binary args...
	local label=$1 b=$2
	shift 2
	/usr/bin/time -f "%e %U %S %M" -o "$bin/t" "$b" scan -f json --progress never "$@" >"$bin/out.json" 2>"$bin/err" || true
	read -r w u s m <"$bin/t"
	local pk
	pk=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["packets"])' "$bin/out.json" 2>/dev/null || echo "-")
	printf '| %s | %s | %.2f | %.2f | %.0f | %s |\n' "$label" "$N" "$w" "$(echo "$u + $s" | bc)" "$(echo "$m / 1024" | bc)" "$pk"
}
echo "| scan | inputs | wall s | CPU s | peak RSS MB | packets |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
run "rotated, one stream" "$bin/pongscan" --files-from "$D/rot-$N.list"
run "overlapping, one stream" "$bin/pongscan" --files-from "$D/ovl-$N.list"
run "overlapping, --each" "$bin/pongscan" --each --files-from "$D/ovl-$N.list"
if [[ -n $OLD ]]; then
	run "OLD rotated, one stream" "$OLD" $(cat "$D/rot-$N.list")
	run "OLD overlapping, one stream" "$OLD" $(cat "$D/ovl-$N.list")
fi
