#!/usr/bin/env bash
# bench/run.sh: how close `pongscan scan` gets to disk speed.
#
# Builds pongscan, readfloor and genbench, generates synthetic
# authoritative-server captures of 1M and 10M packets (kept in bench/out/
# and reused), reads each once so it sits in the page cache, then times in
# one run: pongscan, the read floors (the hand-written loop and the same
# loop over gopacket's pcapgo), tcpdump and tshark (when installed),
# and pongscan on a gzip'd copy of the smallest file. Prints one markdown
# table (also written to bench/out/results.md) and whether the targets are
# met, with a flow-table flood (2 million one-packet flows, bench/flood).
#
# Environment:
#   OUT=bench/out         where binaries, captures and results go
#   SIZES="1000000 10000000"  capture sizes in packets, smallest first
#   SEED=1                generator seed
#   RUNS=1                runs per measurement; the fastest is kept
#   TSHARK=1              1: tshark on the smallest file; all: every file; 0: never
#   TCPDUMP_PRINT=1       0 skips the (slow) printing tcpdump run
#   PROFILE=0             1: also CPU-profile pongscan on the largest file
#   IDLE_WAIT=0           seconds to wait, before each run, for other
#                         processes to leave the CPUs idle (below 20% busy)
#
# The "busy" column is how busy the machine was in the half second before
# the kept run started: other processes competing for the CPUs make wall
# times (and the parallel reader especially) look worse than they are.
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=${OUT:-bench/out}
SIZES=${SIZES:-"1000000 10000000"}
SEED=${SEED:-1}
RUNS=${RUNS:-1}
TSHARK=${TSHARK:-1}
TCPDUMP_PRINT=${TCPDUMP_PRINT:-1}
PROFILE=${PROFILE:-0}
IDLE_WAIT=${IDLE_WAIT:-0}
BIN=$OUT/bin
RES=$OUT/results.tsv
mkdir -p "$BIN"

log() { printf '%s\n' "$*" >&2; }

if [[ ! -x /usr/bin/time ]]; then
	if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
		log "installing GNU time"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
	else
		log "run.sh: /usr/bin/time (GNU time) is needed: apt-get install time"
		exit 2
	fi
fi

log "building pongscan, readfloor, genbench, flood"
go build -o "$BIN/pongscan" ./cmd/pongscan
go build -o "$BIN/readfloor" ./bench/readfloor
go build -o "$BIN/genbench" ./cmd/genbench
go build -o "$BIN/flood" ./bench/flood
PARALLEL_FLAG=0
if "$BIN/pongscan" scan --help 2>&1 | grep -q -- '--parallel'; then
	PARALLEL_FLAG=1
fi
# Older builds (bench/ab.sh compares them) may lack these flags.
RRL_FLAG=0
if "$BIN/pongscan" scan --help 2>&1 | grep -q -- '--rrl'; then
	RRL_FLAG=1
fi
SHARDS_FLAG=0
if "$BIN/pongscan" scan --help 2>&1 | grep -q -- '--shards'; then
	SHARDS_FLAG=1
fi

label() { # 1000000 -> 1m, 200000 -> 200k
	local n=$1
	if ((n % 1000000 == 0)); then echo "$((n / 1000000))m"; elif ((n % 1000 == 0)); then echo "$((n / 1000))k"; else echo "$n"; fi
}

# generate N FILE [flags]: write FILE unless it exists; keep genbench's
# report beside it.
generate() {
	local n=$1 file=$2
	shift 2
	if [[ -s $file && -s $file.gen.txt ]]; then
		log "reusing $file"
	else
		log "generating $file ($n packets)"
		"$BIN/genbench" -packets "$n" -seed "$SEED" -out "$file" "$@" 2>"$file.gen.txt.tmp"
		mv "$file.gen.txt.tmp" "$file.gen.txt"
	fi
	sed 's/^/  /' "$file.gen.txt" >&2
}

read -r -a sizes <<<"$SIZES"
small=${sizes[0]}
large=${sizes[${#sizes[@]}-1]}
files=()
for n in "${sizes[@]}"; do
	f=$OUT/bench-$(label "$n").pcap
	generate "$n" "$f"
	files+=("$f")
done
gz=$OUT/bench-$(label "$small").pcap.gz
generate "$small" "$gz" -gzip

log "reading the captures into the page cache"
for f in "${files[@]}" "$gz"; do cat "$f" >/dev/null; done
tot_mb=$(du -cm "${files[@]}" "$gz" | tail -1 | cut -f1)
avail_mb=$(awk '/MemAvailable/ {print int($2/1024)}' /proc/meminfo)
if ((tot_mb > avail_mb / 2)); then
	log "warning: captures take ${tot_mb} MB, ${avail_mb} MB available: they may not stay cached"
fi

: >"$RES"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
# busy prints the percentage of CPU time all processes used over half a
# second.
busy() {
	local a b
	read -r -a a < <(head -1 /proc/stat)
	sleep 0.5
	read -r -a b < <(head -1 /proc/stat)
	awk -v a="${a[*]}" -v b="${b[*]}" 'BEGIN {
		n = split(a, x); split(b, y); tot = 0
		for (i = 2; i <= n; i++) tot += y[i] - x[i]
		idle = (y[5] - x[5]) + (y[6] - x[6])
		printf "%d", (tot > 0 ? 100 * (tot - idle) / tot : 0) }'
}

# measure TOOL FILE PACKETS OKSTATUS CMD...: time CMD (stdout to
# $OUT/last.out), keep the fastest of RUNS runs and the peak RSS.
measure() {
	local tool=$1 file=$2 packets=$3 ok=$4
	shift 4
	local best="" rss=0 cpu="" load="" t0 t1 secs st kb b waited
	for ((r = 0; r < RUNS; r++)); do
		b=$(busy)
		waited=0
		while ((b >= 20 && waited < IDLE_WAIT)); do
			sleep 2
			waited=$((waited + 3))
			b=$(busy)
		done
		t0=$(date +%s%N)
		set +e
		/usr/bin/time -f '%e %M %U %S' -o "$OUT/time.txt" "$@" >"$OUT/last.out" 2>"$OUT/last.err"
		st=$?
		set -e
		t1=$(date +%s%N)
		if [[ " $ok " != *" $st "* ]]; then
			log "run.sh: $tool on $file exited $st:"
			tail -5 "$OUT/last.err" >&2
			return 1
		fi
		secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b-a)/1e9}')
		kb=$(tail -1 "$OUT/time.txt" | awk '{print $2}')
		if [[ -z $best ]] || awk -v s="$secs" -v b="$best" 'BEGIN {exit !(s < b)}'; then
			best=$secs
			cpu=$(tail -1 "$OUT/time.txt" | awk '{printf "%.2f", $3 + $4}')
			load=$b
		fi
		((kb > rss)) && rss=$kb
	done
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$(basename "$file")" "$packets" "$best" "$rss" "$cpu" "$load" >>"$RES"
	log "  $tool: $best s (CPU $cpu s), $((rss / 1024)) MB; machine ${load}% busy before"
}

# check_pongscan FILE PACKETS: the JSON report of the last run counts
# every packet and finds the planted loops.
check_pongscan() {
	local file=$1 packets=$2 got loops planted
	planted=$(sed -n 's/^genbench: planted \([0-9]*\) loops$/\1/p' "$file.gen.txt")
	if command -v jq >/dev/null; then
		got=$(jq .summary.packets "$OUT/last.out")
		loops=$(jq '.loops | length' "$OUT/last.out")
	else
		got=$(grep -o '"packets": *[0-9]*' "$OUT/last.out" | head -1 | grep -o '[0-9]*$' || true)
		loops=$(grep -o '"loops": *[0-9]*' "$OUT/last.out" | head -1 | grep -o '[0-9]*$' || true)
	fi
	if [[ $got != "$packets" || $loops != "$planted" ]]; then
		log "run.sh: pongscan on $file counted $got packets and $loops loops, want $packets and $planted"
		exit 1
	fi
}

pong=("$BIN/pongscan" scan --format json --progress never)

i=0
for f in "${files[@]}"; do
	n=${sizes[$i]}
	i=$((i + 1))
	log "measuring $f"
	measure pongscan "$f" "$n" "0 1" "${pong[@]}" "$f"
	check_pongscan "$f" "$n"
	if ((RRL_FLAG)); then
		# The rate-limiting what-if reads the file a second time when
		# loops are found; this row is the scan without it.
		measure "pongscan --rrl=false" "$f" "$n" "0 1" "${pong[@]}" --rrl=false "$f"
		check_pongscan "$f" "$n"
	fi
	if ((SHARDS_FLAG)); then
		measure "pongscan --shards 1 --rrl=false" "$f" "$n" "0 1" "${pong[@]}" --shards 1 --rrl=false "$f"
		check_pongscan "$f" "$n"
	fi
	if ((PARALLEL_FLAG)); then
		measure "pongscan --parallel=false" "$f" "$n" "0 1" "${pong[@]}" --parallel=false "$f"
		check_pongscan "$f" "$n"
	fi
	measure readfloor "$f" "$n" 0 "$BIN/readfloor" "$f"
	measure "readfloor -pcapgo" "$f" "$n" 0 "$BIN/readfloor" -pcapgo "$f"
	if command -v tcpdump >/dev/null; then
		measure "tcpdump -w /dev/null 'udp port 53'" "$f" "$n" 0 tcpdump -nr "$f" -w /dev/null 'udp port 53'
		if [[ $TCPDUMP_PRINT != 0 ]]; then
			measure "tcpdump -n 'udp port 53' (printing)" "$f" "$n" 0 tcpdump -nr "$f" 'udp port 53'
		fi
	fi
	if command -v tshark >/dev/null && [[ $TSHARK == all || ($TSHARK != 0 && $n == "$small") ]]; then
		measure "tshark -q -z conv,udp" "$f" "$n" 0 tshark -q -z conv,udp -r "$f"
	fi
done
log "measuring $gz"
measure pongscan "$gz" "$small" "0 1" "${pong[@]}" "$gz"
check_pongscan "$gz" "$small"
if ((PARALLEL_FLAG)); then
	measure "pongscan --parallel=false" "$gz" "$small" "0 1" "${pong[@]}" --parallel=false "$gz"
fi
measure "readfloor (gunzip)" "$gz" "$small" 0 "$BIN/readfloor" "$gz"

if [[ $PROFILE != 0 ]]; then
	prof=$OUT/cpu-$(label "$large").prof
	log "profiling pongscan on ${files[-1]} into $prof"
	"$BIN/pongscan" scan --format json --progress never --cpuprofile "$prof" "${files[-1]}" >/dev/null || true
	go tool pprof -top -nodecount 15 "$BIN/pongscan" "$prof" 2>/dev/null | sed 's/^/  /' >&2 || true
	go tool pprof -top -cum -nodecount 15 "$BIN/pongscan" "$prof" 2>/dev/null | sed 's/^/  /' >&2 || true
fi

# ---- flow-table flood: 2 million one-packet flows ----
flood=$OUT/flood-2m.pcap
if [[ ! -s $flood ]]; then
	log "generating $flood"
	"$BIN/flood" -flows 2000000 -rate 1000000 -out "$flood"
fi
log "measuring $flood"
measure pongscan "$flood" 2000000 "0 1" "${pong[@]}" "$flood"

# ---- report ----
{
	echo
	echo "pongscan $(git describe --always --dirty 2>/dev/null || echo '?'), $(go version | cut -d' ' -f3), $(nproc) cores, $(uname -sr); load average $LOAD0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
	echo "captures in the page cache; seconds are the wall time of the whole process, the fastest of $RUNS run(s); packets/s = packets / seconds; CPU s = user + system time of that run; busy = CPU use of the whole machine in the half second before it"
	echo
	echo "| tool | file | packets | seconds | packets/s | peak RSS MB | pongscan pps / tool pps | CPU s | busy before |"
	echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	awk -F'\t' '
		{ tool[NR]=$1; file[NR]=$2; pk[NR]=$3; s[NR]=$4; kb[NR]=$5; cpu[NR]=$6; busy[NR]=$7
		  pps[NR] = ($4 > 0) ? $3/$4 : 0
		  if ($1 == "pongscan") ref[$2] = pps[NR] }
		END { for (i = 1; i <= NR; i++) {
			ratio = (pps[i] > 0 && (file[i] in ref)) ? sprintf("%.2f", ref[file[i]]/pps[i]) : "-"
			printf "| %s | %s | %d | %.3f | %.0f | %.1f | %s | %s | %s%% |\n", tool[i], file[i], pk[i], s[i], pps[i], kb[i]/1024, ratio, cpu[i], busy[i] } }' "$RES"
	echo
	awk -F'\t' -v small="bench-$(label "$small").pcap" -v large="bench-$(label "$large").pcap" '
		$1 == "pongscan" { pps[$2] = $3/$4; rss[$2] = $5/1024 }
		$1 == "readfloor" { floor[$2] = $3/$4 }
		$1 == "readfloor -pcapgo" { gofloor[$2] = $3/$4 }
		END {
			for (f in gofloor) if (f in pps) {
				r = pps[f]/gofloor[f]
				printf "- target pongscan >= 25%% of the read floor (issue 3: a bare pcapgo ZeroCopyReadPacketData loop) on %s: %.1f%% (%.0f vs %.0f packets/s): %s\n", f, 100*r, pps[f], gofloor[f], (r >= 0.25 ? "MET" : "NOT MET")
			}
			for (f in floor) if (f in pps) {
				r = pps[f]/floor[f]
				printf "- stricter: pongscan >= 25%% of the hand-written read floor (bufio Peek/Discard) on %s: %.1f%% (%.0f vs %.0f packets/s): %s\n", f, 100*r, pps[f], floor[f], (r >= 0.25 ? "MET" : "NOT MET")
			}
			printf "- target pongscan peak RSS <= 256 MB on %s: %.1f MB: %s\n", large, rss[large], (rss[large] <= 256 ? "MET" : "NOT MET")
			printf "- target pongscan peak RSS on %s <= 1.5x that on %s: %.1f MB vs %.1f MB (%.2fx): %s\n", large, small, rss[large], rss[small], rss[large]/rss[small], (rss[large] <= 1.5*rss[small] ? "MET" : "NOT MET")
			printf "- target pongscan peak RSS <= 256 MB on 2 million one-packet flows: %.1f MB: %s\n", rss["flood-2m.pcap"], (rss["flood-2m.pcap"] <= 256 ? "MET" : "NOT MET")
		}' "$RES" | sort
} | tee "$OUT/results.md"
