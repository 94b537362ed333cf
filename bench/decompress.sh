#!/usr/bin/env bash
# bench/decompress.sh: compressed input, pongscan's decompression against
# the command-line tools.
#
#   bench/decompress.sh [FILE] [RUNS]
#
# FILE (default bench/out/bench-1m.pcap) is compressed with gzip -6,
# zstd -3, lz4 -1, xz -6 and bzip2 -9 (kept beside it, reused). For each,
# the fastest of RUNS (default 3) runs of:
#   tool      TOOL -dc F > /dev/null            the tool alone
#   tool+floor TOOL -dc F | readfloor -         the tool into the read floor
#   go        readfloor -capture F              pkg/capture: Go library and record walk
#   stdlib    readfloor F (gzip only)           compress/gzip and the record walk
#   scan      pongscan scan F                   end to end
#   scan pipe TOOL -dc F | pongscan scan -      end to end through the tool
# Wall seconds, with CPU seconds (user+system) in brackets; a table on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
F=${1:-bench/out/bench-1m.pcap}
N=${2:-3}
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/pongscan" ./cmd/pongscan
go build -o "$bin/readfloor" ./bench/readfloor
declare -A EXT=([gzip]=gz [zstd]=zst [lz4]=lz4 [xz]=xz [bzip2]=bz2)
declare -A LEVEL=([gzip]=-6 [zstd]=-3 [lz4]=-1 [xz]=-6 [bzip2]=-9)
best() { # best "cmd": fastest wall of N runs, "wall (cpu)"
	local t out=""
	t=$(mktemp)
	for ((i = 0; i < N; i++)); do
		/usr/bin/time -f "%e %U %S" -o "$t" bash -c "$1" >/dev/null 2>&1 || true
		out+="$(cat "$t")"$'\n'
	done
	rm -f "$t"
	echo "$out" | awk 'NF==3 { c=$2+$3; if (!n || $1<w) { w=$1; cw=c }; n++ } END { printf "%.3f (%.2f)", w, cw }'
}
cat "$F" >/dev/null
echo "| format | size MB | tool -dc | tool -dc into read floor | pkg/capture read floor | stdlib read floor | pongscan scan FILE | tool -dc \\| pongscan scan - |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for fmt in gzip zstd lz4 xz bzip2; do
	c="$F.${EXT[$fmt]}"
	[[ -s $c ]] || $fmt ${LEVEL[$fmt]} -c "$F" >"$c"
	cat "$c" >/dev/null
	size=$(awk -v s="$(stat -c %s "$c")" 'BEGIN { printf "%.1f", s/1e6 }')
	std="-"
	[[ $fmt == gzip ]] && std=$(best "$bin/readfloor $c")
	echo "| $fmt ${LEVEL[$fmt]} | $size | $(best "$fmt -dc $c") | $(best "$fmt -dc $c | $bin/readfloor -") | $(best "$bin/readfloor -capture $c") | $std | $(best "$bin/pongscan scan -f json --progress never $c") | $(best "$fmt -dc $c | $bin/pongscan scan -f json --progress never -") |"
done
echo
echo "uncompressed: read floor $(best "$bin/readfloor $F"), pongscan scan $(best "$bin/pongscan scan -f json --progress never $F")"
