#!/usr/bin/env bash
# bench.sh (make bench): the proxy+cache pair against gfserver_direct, side
# by side in one run, both serving the same cache list, both loaded by
# gfclient_measure with 8 threads and every body checked against the
# manifest. Three measurements:
#   large  files >= 1 MiB, proxy -z 65536: throughput ratio proxy/direct,
#          floor 0.8
#   small  files <= 8 KiB: request-rate ratio proxy/direct, floor 0.5
#   sweep  proxy throughput on the large files against segment size, from
#          824 B to 1 MiB, drawn with the direct throughput as a reference
#          line into build/bench/throughput.png
# Every measurement is a row of build/bench/results.csv. For large and small
# the two servers take turns, BENCH_ROUNDS times (default 5), and the ratio
# is the median of the rounds' ratios (see verdict).
# Exit status: 0 both ratios at or above their floors, 1 a ratio below its
# floor, 2 the bench itself failed (a server did not start, a download was
# wrong, something was left behind).
set -uo pipefail
# Plain `shellcheck` does not follow it; `shellcheck -x` does.
# shellcheck source=tests/lib/harness.bash disable=SC1091
source "$(dirname "$0")/lib/harness.bash"

ROUNDS=${BENCH_ROUNDS:-5}
THREADS=8
LARGE_FLOOR=0.8
SMALL_FLOOR=0.5
LARGE_REQUESTS=24	# about 150 MB a round
SMALL_REQUESTS=4000
SWEEP_REQUESTS=12
SWEEP_ROUNDS=3
SWEEP_SIZES="824 4096 16384 65536 262144 1048576"
OUT=$IPCLAB_BUILD/bench
CSV=$OUT/results.csv
PLOT=$OUT/throughput.png
MANIFEST=$IPCLAB_CONTENT/manifest.sha256
CLK_TCK=$(getconf CLK_TCK)
LOCALS=$IPCLAB_CONTENT/locals.txt

fail() {
	echo "bench: $*" >&2
	dump_logs >&2
	exit 2	# the EXIT trap stops everything
}

# make_workload MIN MAX FILE: the cache list's keys whose files have MIN to
# MAX bytes, one a line.
make_workload() {
	local min=$1 max=$2 key path size
	while read -r key path; do
		case $key in '' | '#'*) continue ;; esac
		size=$(stat -c %s "$IPCLAB_CONTENT/$path") || return 1
		if [ "$size" -ge "$min" ] && [ "$size" -le "$max" ]; then
			echo "$key"
		fi
	done <"$LOCALS" >"$3"
	[ -s "$3" ]
}

# cpu_ms PID...: CPU time (user + system, ms) the processes used so far.
cpu_ms() {
	local pid ticks=0
	for pid in "$@"; do
		ticks=$((ticks + $(proc_cpu_ticks "$pid")))
	done
	echo $((ticks * 1000 / CLK_TCK))
}

# measure EXPERIMENT SERVER SEGMENT ROUND PORT WORKLOAD REQUESTS PID...: one
# gfclient_measure run; appends its CSV row, with the CPU time the server's
# processes (PID...) spent on it. Fails on any failed request.
measure() {
	local out cpu
	cpu=$(cpu_ms "${@:8}")
	out=$(timeout "$(scaled 60)" "$LAB_BIN/gfclient_measure" -p "$5" \
		-t "$THREADS" -w "$6" -r "$7" -V "$MANIFEST" 2>&1) || {
		echo "gfclient_measure against $2 failed:" >&2
		echo "$out" | tail -n 5 >&2
		return 1
	}
	cpu=$(($(cpu_ms "${@:8}") - cpu))
	awk -v e="$1" -v s="$2" -v z="$3" -v r="$4" -v cpu="$cpu" '
		{ v[$1] = $2 }
		END {
			printf "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", e, s, z, r,
				v["requests"], v["bytes"], v["seconds"],
				v["throughput_MBps"], v["requests_per_s"],
				v["latency_p50_us"], v["latency_p99_us"], cpu
		}' <<<"$out" >>"$CSV"
}

# side_by_side EXPERIMENT WORKLOAD REQUESTS: direct and proxy take turns.
# shellcheck disable=SC2154  # ports and pids: set by the harness
side_by_side() {
	local round
	for round in $(seq 1 "$ROUNDS"); do
		measure "$1" direct 0 "$round" "$direct_port" "$2" "$3" \
			"$direct_pid" || return 1
		measure "$1" proxy 65536 "$round" "$proxy_port" "$2" "$3" \
			"$proxy_pid" "$cache_pid" || return 1
	done
}

# verdict NAME UNIT COLUMN FLOOR: the ratio proxy/direct of a CSV column (8
# throughput, 9 requests per second) in each round, and their median, which
# is judged against FLOOR (returns 1 below it). Pairing the two runs of a
# round cancels most of the load that other programs put on the machine;
# the median drops rounds where it changed between the two.
verdict() {
	awk -F, -v e="$1" -v u="$2" -v c="$3" -v f="$4" '
		$1 == e && $2 == "direct" { d[$4] = $c }
		$1 == e && $2 == "proxy" { p[$4] = $c }
		END {
			n = 0
			for (r in d)
				if (r in p && d[r] > 0)
					ratio[++n] = p[r] / d[r]
			for (i = 2; i <= n; i++)	# insertion sort: n is small
				for (j = i; j > 1 && ratio[j - 1] > ratio[j]; j--) {
					t = ratio[j]; ratio[j] = ratio[j - 1]; ratio[j - 1] = t
				}
			m = n % 2 ? ratio[(n + 1) / 2] : (ratio[n / 2] + ratio[n / 2 + 1]) / 2
			rounds = ""
			for (r = 1; r in d; r++)
				rounds = rounds sprintf(" %.0f/%.0f", p[r], d[r])
			printf "%-6s proxy/direct %s by round:%s\n", e, u, rounds
			printf "%-6s ratio %.3f (median of %d rounds, floor %.1f) %s\n",
				e, m, n, f, (n > 0 && m >= f ? "PASS" : "BELOW FLOOR")
			exit !(n > 0 && m >= f)
		}' "$CSV"
}

# cpu_cost EXPERIMENT SERVER COLUMN SCALE: the servers' CPU time
# over all rounds of one side, in us per request (column 5) or per MB
# (column 6, scale 1e6). Other load on the machine barely changes it.
cpu_cost() {
	awk -F, -v e="$1" -v s="$2" -v c="$3" -v k="$4" '
		$1 == e && $2 == s { cpu += $12; n += $c }
		END { printf "%.0f\n", (n > 0 ? cpu * 1000 / (n / k) : 0) }' "$CSV"
}

# cpu_report EXPERIMENT UNIT COLUMN SCALE
cpu_report() {
	printf '%-6s server CPU: proxy+cache %s us/%s, direct %s us/%s\n' "$1" \
		"$(cpu_cost "$1" proxy "$3" "$4")" "$2" \
		"$(cpu_cost "$1" direct "$3" "$4")" "$2"
}

# sweep: the proxy on the large files at each segment size, one proxy at a
# time, and the direct server once, in each of SWEEP_ROUNDS passes.
sweep() {
	local z round
	for round in $(seq 1 "$SWEEP_ROUNDS"); do
		measure sweep direct 0 "$round" "$direct_port" "$WORK/large.txt" \
			"$SWEEP_REQUESTS" "$direct_pid" || return 1
		for z in $SWEEP_SIZES; do
			start_proxy_named sweep -n 8 -z "$z" -t "$THREADS" ||
				{ echo "the proxy with -z $z did not start" >&2; return 1; }
			# shellcheck disable=SC2154  # set by start_proxy_named
			measure sweep proxy "$z" "$round" "$sweep_port" \
				"$WORK/large.txt" "$SWEEP_REQUESTS" "$sweep_pid" \
				"$cache_pid" || return 1
			stop_daemon sweep TERM 2 || return 1
		done
	done
}

# median EXPERIMENT SERVER SEGMENT COLUMN: the median of a CSV column over
# the rounds of one measurement.
median() {
	awk -F, -v e="$1" -v s="$2" -v z="$3" -v c="$4" \
		'$1 == e && $2 == s && $3 == z { print $c }' "$CSV" |
		sort -n | awk '{ v[NR] = $1 }
			END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

# sweep_table: "SEGMENT_BYTES MBps" per segment size, the median pass.
sweep_table() {
	local z
	for z in $SWEEP_SIZES; do
		echo "$z $(median sweep proxy "$z" 8)"
	done
}

plot() {
	local direct data=$WORK/sweep.dat
	if ! command -v gnuplot >/dev/null; then
		echo "gnuplot is missing, no plot; install it with: apt-get install -y gnuplot-nox"
		return 0
	fi
	direct=$(median sweep direct 0 8)
	sweep_table >"$data"
	gnuplot <<-EOF || { echo "gnuplot failed" >&2; return 1; }
		set terminal png size 800,500 noenhanced
		set output '$PLOT'
		set title 'ipclab: proxy+cache throughput against segment size (files >= 1 MiB, $THREADS client threads)'
		set logscale x 2
		set xrange [600:1500000]
		set xtics ('824' 824, '4 KiB' 4096, '16 KiB' 16384, '64 KiB' 65536, '256 KiB' 262144, '1 MiB' 1048576)
		set xlabel 'segment size (bytes, -z)'
		set ylabel 'throughput (MB/s)'
		set yrange [0:*]
		set key bottom right
		set grid
		plot '$data' using 1:2 with linespoints title 'proxy + cache', \
			$direct with lines dashtype 2 title 'gfserver_direct'
	EOF
	echo "plot: $PLOT"
}

# stop_all: every program with SIGTERM, then nothing may be left.
stop_all() {
	local name left
	for name in proxy cache direct; do
		stop_daemon "$name" TERM 2 || return 1
	done
	left=$(ipc_leftovers)
	[ -z "$left" ] || { echo "IPC objects left behind: $left" >&2; return 1; }
}

main() {
	local started rc=0
	started=$(now_ms)
	harness_setup
	WORK=$BATS_TMP_ROOT
	trap 'harness_teardown; rm -rf "$WORK"' EXIT
	mkdir -p "$OUT" || fail "cannot create $OUT"
	make_workload 1048576 1000000000000 "$WORK/large.txt" || fail "no file >= 1 MiB in $LOCALS"
	make_workload 0 8192 "$WORK/small.txt" || fail "no file <= 8 KiB in $LOCALS"
	echo "experiment,server,segment_bytes,round,requests,bytes,seconds,throughput_MBps,requests_per_s,latency_p50_us,latency_p99_us,server_cpu_ms" >"$CSV"

	echo "implementation: $IMPL_BIN; isolation: $IPCLAB_ISOLATION; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
	start_cache -c "$LOCALS" -t "$THREADS" || fail "the cache did not create its $(channel_name)"
	start_direct -c "$LOCALS" -t "$THREADS" || fail "gfserver_direct did not start"
	start_proxy -n 8 -z 65536 -t "$THREADS" || fail "the proxy did not start"
	echo "large: $(wc -l <"$WORK/large.txt") files >= 1 MiB, $LARGE_REQUESTS requests a round, $ROUNDS rounds a side"
	side_by_side large "$WORK/large.txt" "$LARGE_REQUESTS" || fail "large-file measurement failed"
	echo "small: $(wc -l <"$WORK/small.txt") files <= 8 KiB, $SMALL_REQUESTS requests a round, $ROUNDS rounds a side"
	side_by_side small "$WORK/small.txt" "$SMALL_REQUESTS" || fail "small-file measurement failed"
	echo "sweep: segment sizes $SWEEP_SIZES"
	sweep || fail "segment-size sweep failed"
	stop_all || fail "shutdown was not clean"

	echo
	echo "(Other programs share this machine: the ratios pair each proxy run with a"
	echo " direct run; the servers' CPU time per request or per MB is the steadiest figure.)"
	verdict large MB/s 8 "$LARGE_FLOOR" || rc=1
	verdict small req/s 9 "$SMALL_FLOOR" || rc=1
	cpu_report large MB 6 1000000
	cpu_report small request 5 1
	sweep_table | awk '{ printf "sweep  proxy -z %-8s %7.1f MB/s\n", $1, $2 }'
	printf 'sweep  direct           %7.1f MB/s (median of %d passes each)\n' \
		"$(median sweep direct 0 8)" "$SWEEP_ROUNDS"
	plot || rc=2
	echo "results: $CSV"
	echo "bench took $((($(now_ms) - started) / 1000)) s; load average now $(cut -d' ' -f1-3 /proc/loadavg)"
	return "$rc"
}

main "$@"
