#!/usr/bin/env bash
# bench/followup.sh: pongscan with its DEFAULT flags on the captures where
# the defaults cost the most: many loops, one huge loop, a million short
# loops. Beside it, the same scan with --rrl=false, the read floor and
# tcpdump's BPF filter on the same files.
#
# The captures (generated into $OUT with cmd/genbench, reused when present):
#   busy-many-loops-1m.pcap, -10m.pcap  an authoritative server at 4,000
#       queries/s from 5,000 clients, a new seed-style loop of 6,000 packets
#       every 20 s (53 loops in 10 M packets), each from one of the four
#       busiest resolvers (as in the incident, a busy resolver's query)
#   seed-scale.pcap   11.4 M packets: 4,000 queries/s of background and ONE
#       FORMERR<->TFTP loop at 30,000 packets/s for about 5 minutes
#       (8.9 M loop packets)
#   manyloops-100k.pcap, -1m.pcap   nothing but short seed-style loops
#       (trigger query, answer, 60 loop packets), each on its own 5-tuple,
#       256 at once
#
# Rows for each file: pongscan (default flags: the rate-limiting what-if
# on), pongscan --rrl=false, bench/readfloor, tcpdump -w /dev/null 'udp
# port 53'. Each run is timed with GNU time (wall, user+system CPU, peak
# RSS of the largest process), stopped after $TIMEOUT seconds and when the
# processes it started hold more than $MEM_CAP_MB of RSS together (a
# watchdog polls /proc; no rlimit or cgroup, which pongscan would read and
# adapt its heap to). pongscan's JSON report is read for its packet and
# loop counts, which must match what genbench wrote and planted; the rest
# of the report is only counted (a million loops make gigabytes of it).
#
# Environment:
#   OUT=bench/out          binaries, captures and results
#   SIZES="1000000 10000000"   busy-many-loops sizes in packets ("" skips)
#   LOOP_EVERY=20s         busy-many-loops: a new loop this often
#   LOOP_CLIENTS=4         busy-many-loops: the loops' clients are drawn from
#                          this many of the busiest (0: from all 5,000; the
#                          file is then busy-many-loops-uniform-N.pcap)
#   SEED_PACKETS=11400000  seed-scale size in packets (0 skips)
#   MANY="100000 1000000"  manyloops loop counts ("" skips)
#   SEED=1                 generator seed (seed-scale uses SEED+3, which
#                          gives its loop an IPv4 client as in the incident)
#   ROWS="default norrl readfloor tcpdump"   which rows to run
#   SKIP=""                FILE:ROW pairs not to run, e.g.
#                          "busy-many-loops-10m.pcap:default"
#   TIMEOUT=600            seconds before a run is killed
#   MEM_CAP_MB=12000       RSS before a run is killed
#   MIN_AVAIL_MB=1500      a run is also killed when the machine's
#                          MemAvailable falls below this (other processes
#                          may need the memory too)
#   PONGSCAN, READFLOOR, GENBENCH   binaries to use instead of building
#                          them from this tree (compare a baseline build)
#   IDLE_WAIT=0            seconds to wait, before each run, for other
#                          processes to leave the CPUs idle (below 20% busy)
#   TAG=                   results go to $OUT/followup-$TAG.md (and .tsv)
#                          instead of followup.md
#   STRICT=1               exit 1 when a finished pongscan run counts other
#                          packets or loops than planted
#
# A smoke run, a minute or so:
#   SIZES=200000 SEED_PACKETS=400000 MANY=3000 OUT=/tmp/fu bench/followup.sh
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=${OUT:-bench/out}
SIZES=${SIZES-"1000000 10000000"}
LOOP_EVERY=${LOOP_EVERY:-20s}
LOOP_CLIENTS=${LOOP_CLIENTS:-4}
SEED_PACKETS=${SEED_PACKETS:-11400000}
MANY=${MANY-"100000 1000000"}
SEED=${SEED:-1}
ROWS=${ROWS:-"default norrl readfloor tcpdump"}
SKIP=${SKIP:-}
TIMEOUT=${TIMEOUT:-600}
MEM_CAP_MB=${MEM_CAP_MB:-12000}
MIN_AVAIL_MB=${MIN_AVAIL_MB:-1500}
STRICT=${STRICT:-1}
IDLE_WAIT=${IDLE_WAIT:-0}
BIN=$OUT/bin
RES=$OUT/followup${TAG:+-$TAG}.tsv
mkdir -p "$BIN"

log() { printf '%s\n' "$*" >&2; }

if [[ ! -x /usr/bin/time ]]; then
	if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
		log "installing GNU time"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
	else
		log "followup.sh: /usr/bin/time (GNU time) is needed: apt-get install time"
		exit 2
	fi
fi

if [[ -z ${PONGSCAN:-} ]]; then
	log "building pongscan"
	CGO_ENABLED=0 go build -o "$BIN/pongscan" ./cmd/pongscan
	PONGSCAN=$BIN/pongscan
fi
if [[ -z ${READFLOOR:-} ]]; then
	CGO_ENABLED=0 go build -o "$BIN/readfloor" ./bench/readfloor
	READFLOOR=$BIN/readfloor
fi
if [[ -z ${GENBENCH:-} ]]; then
	CGO_ENABLED=0 go build -o "$BIN/genbench" ./cmd/genbench
	GENBENCH=$BIN/genbench
fi
if ! { "$GENBENCH" -h 2>&1 || true; } | grep -q -- '-many-loops'; then
	log "followup.sh: $GENBENCH lacks -many-loops and -loop-every: build cmd/genbench from a tree that has them"
	exit 2
fi
RRL_FLAG=0
if { "$PONGSCAN" scan --help 2>&1 || true; } | grep -q -- '--rrl'; then
	RRL_FLAG=1
fi

label() { # 1000000 -> 1m, 200000 -> 200k
	local n=$1
	if ((n % 1000000 == 0)); then echo "$((n / 1000000))m"; elif ((n % 1000 == 0)); then echo "$((n / 1000))k"; else echo "$n"; fi
}

# generate FILE GENBENCH-FLAGS...: write FILE unless it exists; keep
# genbench's report beside it.
generate() {
	local file=$1
	shift
	if [[ -s $file && -s $file.gen.txt ]]; then
		log "reusing $file"
	else
		log "generating $file: genbench $*"
		"$GENBENCH" "$@" -out "$file" 2>"$file.gen.txt.tmp"
		mv "$file.gen.txt.tmp" "$file.gen.txt"
	fi
	head -4 "$file.gen.txt" | sed 's/^/  /' >&2
}

planted_of() { sed -n 's/^genbench: planted \([0-9]*\) loops$/\1/p' "$1.gen.txt"; }
packets_of() { sed -n 's/^genbench: wrote \([0-9]*\) packets.*/\1/p' "$1.gen.txt"; }

files=()
for n in $SIZES; do
	f=$OUT/busy-many-loops-$(label "$n").pcap
	((LOOP_CLIENTS > 0)) || f=$OUT/busy-many-loops-uniform-$(label "$n").pcap
	generate "$f" -packets "$n" -seed "$SEED" -qps 4000 -clients 5000 -loop-packets 6000 -loop-every "$LOOP_EVERY" -loop-clients "$LOOP_CLIENTS"
	files+=("$f")
done
if ((SEED_PACKETS > 0)); then
	f=$OUT/seed-scale.pcap
	((SEED_PACKETS == 11400000)) || f=$OUT/seed-scale-$(label "$SEED_PACKETS").pcap
	generate "$f" -packets "$SEED_PACKETS" -seed "$((SEED + 3))" -qps 4000 -clients 5000 \
		-loops 1 -loop-packets 9000000 -loop-interval 66.667us -loop-share 0.8
	files+=("$f")
fi
for n in $MANY; do
	f=$OUT/manyloops-$(label "$n").pcap
	generate "$f" -many-loops "$n" -loop-packets 60 -in-flight 256 -seed "$SEED"
	files+=("$f")
done
if ((${#files[@]} == 0)); then
	log "followup.sh: no captures asked for"
	exit 2
fi

tot_mb=$(du -cm "${files[@]}" | tail -1 | cut -f1)
avail_mb=$(awk '/MemAvailable/ {print int($2/1024)}' /proc/meminfo)
log "reading the captures into the page cache ($tot_mb MB, $avail_mb MB available)"
for f in "${files[@]}"; do cat "$f" >/dev/null; done
if ((tot_mb + MEM_CAP_MB > avail_mb)); then
	log "warning: captures ($tot_mb MB) and a run at the cap ($MEM_CAP_MB MB) exceed the $avail_mb MB available: some reads may come from disk"
fi

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

# descendants PID: every process below PID, deepest last.
descendants() {
	local c
	for c in $(pgrep -P "$1" || true); do
		echo "$c"
		descendants "$c"
	done
}

# sample PID: the RSS of every process below PID, summed (into tree_kb),
# and each one's largest RSS and CPU ticks so far (into one_kb, ticks[]):
# GNU time cannot report a process its child did not reap.
declare -A ticks
sample() {
	local p kb t
	tree_kb=0
	for p in $(descendants "$1"); do
		kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
		t=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || true)
		tree_kb=$((tree_kb + ${kb:-0}))
		((${kb:-0} > one_kb)) && one_kb=$kb
		[[ -n $t ]] && ((t > ${ticks[$p]:-0})) && ticks[$p]=$t
	done
	return 0
}

# stop PID: SIGKILL the processes below PID, deepest first, each time
# waiting up to 30 s for its parent to reap it (freeing gigabytes takes
# the kernel a while), so that GNU time still sees its peak RSS and CPU.
stop() {
	local pids p i t
	mapfile -t pids < <(descendants "$1")
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		p=${pids[$i]}
		kill -KILL "$p" 2>/dev/null || continue
		for ((t = 0; t < 120; t++)); do
			[[ -e /proc/$p ]] || break
			sleep 0.25
		done
	done
}

: >"$RES"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
mismatch=0

# measure ROW TOOL FILE CMD...: run CMD under GNU time and the watchdog,
# its stdout counted (the first 256 KiB kept in $OUT/last.head); append a
# row to $RES.
measure() {
	local row=$1 tool=$2 file=$3
	shift 3
	local base packets planted st status cpu wall kb b0 fifo wpid cpid t0 now kbt found="-" got="-" outmb="-"
	base=$(basename "$file")
	packets=$(packets_of "$file")
	planted=$(planted_of "$file")
	if [[ " $ROWS " != *" $row "* || " $SKIP " == *" $base:$row "* ]]; then
		return
	fi
	b0=$(busy)
	local waited=0
	while ((b0 >= 20 && waited < IDLE_WAIT)); do
		sleep 2
		waited=$((waited + 3))
		b0=$(busy)
	done
	fifo=$OUT/.followup.fifo
	rm -f "$fifo" "$OUT/.killed"
	mkfifo "$fifo"
	{
		head -c 262144 >"$OUT/last.head"
		wc -c >"$OUT/last.rest"
	} <"$fifo" &
	cpid=$!
	/usr/bin/time -f '%e %M %U %S' -o "$OUT/time.txt" "$@" >"$fifo" 2>"$OUT/last.err" &
	wpid=$!
	t0=$(date +%s)
	ticks=()
	one_kb=0
	while kill -0 "$wpid" 2>/dev/null; do
		sleep 0.25
		sample "$wpid"
		kbt=$tree_kb
		now=$(date +%s)
		if ((kbt > MEM_CAP_MB * 1024)); then
			echo "memcap" >"$OUT/.killed"
			stop "$wpid"
			break
		fi
		if (($(awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo) < MIN_AVAIL_MB)); then
			echo "lowmem $((kbt / 1024))" >"$OUT/.killed"
			stop "$wpid"
			break
		fi
		if ((now - t0 >= TIMEOUT)); then
			echo "timeout" >"$OUT/.killed"
			stop "$wpid"
			break
		fi
	done
	set +e
	wait "$wpid"
	st=$?
	wait "$cpid"
	set -e
	rm -f "$fifo"
	read -r wall kb ucpu scpu < <(tail -1 "$OUT/time.txt" | awk 'NF == 4 {print} NF != 4 {print "- 0 0 0"}')
	[[ $wall == - ]] && wall=$(($(date +%s) - t0))
	# A process killed before its parent reaped it is missing from GNU
	# time's figures: take the watchdog's samples when they are larger.
	((one_kb > kb)) && kb=$one_kb
	local sampled=0 p
	for p in "${!ticks[@]}"; do sampled=$((sampled + ticks[$p])); done
	cpu=$(awk -v u="$ucpu" -v s="$scpu" -v t="$sampled" -v hz="$(getconf CLK_TCK)" 'BEGIN {c = u + s; if (t / hz > c) c = t / hz; printf "%.2f", c}')
	status="ok"
	if [[ -s $OUT/.killed ]]; then
		case $(cat "$OUT/.killed") in
		timeout) status="did not finish in $TIMEOUT s" ;;
		memcap) status="killed at the ${MEM_CAP_MB} MB RSS cap" ;;
		lowmem*) status="killed at $(cut -d' ' -f2 "$OUT/.killed") MB RSS: the machine had under ${MIN_AVAIL_MB} MB available" ;;
		esac
	elif [[ $row == default || $row == norrl ]]; then
		[[ $st == 0 || $st == 1 ]] || status="exit $st"
	elif [[ $st != 0 ]]; then
		status="exit $st"
	fi
	if [[ $row == default || $row == norrl ]]; then
		outmb=$(awk -v a="$(wc -c <"$OUT/last.head")" -v b="$(cat "$OUT/last.rest")" 'BEGIN {printf "%.2f", (a + b) / 1e6}')
		if [[ $status == ok ]]; then
			got=$(sed -n '/^  "summary": {/,/^  }/p' "$OUT/last.head" | grep -o '"packets": [0-9]*' | head -1 | grep -o '[0-9]*$' || true)
			found=$(sed -n '/^  "summary": {/,/^  }/p' "$OUT/last.head" | grep -o '"loops": [0-9]*' | head -1 | grep -o '[0-9]*$' || true)
			if [[ $got != "$packets" || $found != "$planted" ]]; then
				log "followup.sh: $tool on $base counted ${got:-?} packets and ${found:-?} loops, want $packets and $planted"
				status="MISMATCH"
				mismatch=1
			fi
		fi
	fi
	if [[ $status != ok ]]; then
		tail -3 "$OUT/last.err" | sed 's/^/    /' >&2
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$base" "$packets" "$wall" "$cpu" "$kb" "$found" "$planted" "$status" "$outmb" "$b0" >>"$RES"
	log "  $tool: $wall s, CPU $cpu s, $((kb / 1024)) MB peak RSS; loops $found of $planted; $status (machine ${b0}% busy before)"
}

pong=("$PONGSCAN" scan --format json --progress never)
for f in "${files[@]}"; do
	log "measuring $f ($(packets_of "$f") packets, $(planted_of "$f") loops planted)"
	measure default "pongscan (default flags)" "$f" "${pong[@]}" "$f"
	if ((RRL_FLAG)); then
		measure norrl "pongscan --rrl=false" "$f" "${pong[@]}" --rrl=false "$f"
	fi
	measure readfloor "readfloor" "$f" "$READFLOOR" "$f"
	if command -v tcpdump >/dev/null; then
		measure tcpdump "tcpdump -w /dev/null 'udp port 53'" "$f" tcpdump -nr "$f" -w /dev/null 'udp port 53'
	fi
done

{
	echo
	echo "pongscan $("$PONGSCAN" --version 2>/dev/null | head -1 || echo '?') ($PONGSCAN), tree $(git describe --always --dirty 2>/dev/null || echo '?'), $(go version | cut -d' ' -f3), $(nproc) cores, $(uname -sr); load average $LOAD0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
	echo "captures in the page cache; wall and CPU (user + system) seconds and peak RSS (largest process) from GNU time; runs stopped after ${TIMEOUT} s or above ${MEM_CAP_MB} MB of RSS; report MB = size of pongscan's JSON report; busy = CPU use of the whole machine in the half second before the run"
	echo
	echo "| tool, flags | file | packets | wall s | CPU s | peak RSS MB | loops found / planted | status | report MB | busy before |"
	echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |"
	awk -F'\t' '{
		loops = ($7 == "-") ? "- / " $8 : $7 " / " $8
		if ($1 !~ /^pongscan/) loops = "-"
		printf "| %s | %s | %d | %s | %s | %.0f | %s | %s | %s | %s%% |\n", $1, $2, $3, $4, $5, $6/1024, loops, $9, $10, $11 }' "$RES"
} | tee "${RES%.tsv}.md"

if ((mismatch && STRICT)); then
	exit 1
fi
