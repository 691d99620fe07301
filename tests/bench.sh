#!/usr/bin/env bash
# bench.sh (make bench): the servers side by side in one run, loaded by
# gfclient_load, which does no work per byte (it counts bytes and checks
# statuses and lengths), so the servers are what is measured. The servers
# are listed in SERVERS: gfserver_direct, the baseline, and each variant of
# the proxy+cache pair (BENCH_VARIANTS, default "mqueue socket", picks the
# pairs that run; `make bench VARIANT=socket` runs one).
#
# 1. Verify (untimed): every server serves the whole content set, every
#    body checked with SHA-256 against the manifest. A wrong byte fails the
#    bench here.
# 2. Workloads (timed), BENCH_ROUNDS rounds (default 5); in each round the
#    servers take turns:
#      small8    files <= 8 KiB, 8 connections on 8 client threads
#      small500  files <= 8 KiB, 500 connections on 4 client threads
#      large     files >= 1 MiB, 8 connections on 8 client threads
#    Each run records request rate, throughput, p50/p99 latency and the
#    CPU time the server's processes used (so CPU per request and per MB).
# 3. Sweep: each pair's throughput on the large files against segment
#    size (-z 824 B to 1 MiB), drawn with the direct server as a reference
#    line into build/bench/throughput.png.
# 4. Grading time: the wall time of the command BENCH_GRADE_CMD (the kit's
#    `make bench` sets it to a grade of the reference; unset, or with
#    BENCH_GRADE=0, nothing is timed).
#
# Every run is a row of build/bench/results.csv; tests/lib/bench_report.py
# prints the table, the ratios beside the figures a correct design reaches
# (it names those that fell below), the sweep's best -z beside the
# defaults', and writes build/bench/measurements.md, the reflection's
# "Measurements" section ready to paste.
#
# A student's handout runs it too (its `make bench`): IPCLAB_IMPL is then
# the folder of the student's programs, the one pair beside the direct
# server, of the variant IPCLAB_VARIANT; there is no grader to time.
# Exit status: 0 it measured (whatever the figures), 2 the bench itself
# failed (a server did not start, a response was wrong, something was
# left behind).
set -uo pipefail
# Plain `shellcheck` does not follow it; `shellcheck -x` does.
# shellcheck source=tests/lib/harness.bash disable=SC1091
source "$(dirname "$0")/lib/harness.bash"

# The servers, one a line: NAME KIND [BINARY FOLDER]. KIND direct is
# gfserver_direct; KIND pair is a simplecached + webproxy from the folder,
# and NAME is its variant. Adding a variant of the pair is one line here.
ALL_SERVERS=(
	"direct direct"
	"mqueue pair $IPCLAB_BUILD/$IPCLAB_IMPL"
	"socket pair $IPCLAB_BUILD/$IPCLAB_IMPL-socket"
)
if [[ $IPCLAB_IMPL == /* ]]; then
	# A folder of programs (a student's): one pair, of the variant's design.
	ALL_SERVERS=("direct direct" "$IPCLAB_VARIANT pair $IPCLAB_IMPL")
	BENCH_VARIANTS=$IPCLAB_VARIANT
fi
SERVERS=()
for s in "${ALL_SERVERS[@]}"; do
	case $s in
	"direct "*) SERVERS+=("$s") ;;
	*) [[ " ${BENCH_VARIANTS:-mqueue socket} " == *" ${s%% *} "* ]] && SERVERS+=("$s") ;;
	esac
done

# The timed workloads: NAME FILES CONNECTIONS THREADS REQUESTS.
WORKLOADS=(
	"small8 small 8 8 20000"
	"small500 small 500 4 20000"
	"large large 8 8 600"	# about 3.8 GB a run
)

ROUNDS=${BENCH_ROUNDS:-5}
BENCH_Z=65536
PROXY_ARGS=(-t 8 -n 8 -z "$BENCH_Z")
# webproxy's own default -z (lab/cmdline.c), the one the handouts' command
# lines use; the sweep measures it too, to set it beside the best.
WEBPROXY_Z=5712
CACHE_THREADS=8
SWEEP_REQUESTS=48	# about 300 MB a run
SWEEP_ROUNDS=3
SWEEP_SIZES="824 4096 $WEBPROXY_Z 16384 $BENCH_Z 262144 1048576"
OUT=$IPCLAB_BUILD/bench
CSV=$OUT/results.csv
PLOT=$OUT/throughput.png
MANIFEST=$IPCLAB_CONTENT/manifest.sha256
LOCALS=$IPCLAB_CONTENT/locals.txt
CLK_TCK=$(getconf CLK_TCK)

fail() {
	echo "bench: $*" >&2
	dump_logs >&2
	exit 2	# the EXIT trap stops everything
}

# make_workload MIN MAX FILE: "<key> <bytes>" for each file of the cache
# list with MIN to MAX bytes (gfclient_load checks each OK length).
make_workload() {
	local min=$1 max=$2 key path size
	while read -r key path; do
		case $key in '' | '#'*) continue ;; esac
		size=$(stat -c %s "$IPCLAB_CONTENT/$path") || return 1
		if [ "$size" -ge "$min" ] && [ "$size" -le "$max" ]; then
			echo "$key $size"
		fi
	done <"$LOCALS" >"$3"
	[ -s "$3" ]
}

# ---- the servers ----

# start_server NAME KIND [FOLDER]: starts it; sets NAME_port and NAME_pids
# (the processes whose CPU time counts).
start_server() {
	local name=$1 kind=$2
	case $kind in
	direct)
		start_direct -c "$LOCALS" -t 8 || return 1
		printf -v "${name}_port" '%s' "$direct_port"
		# shellcheck disable=SC2154  # set by start_daemon
		printf -v "${name}_pids" '%s' "$direct_pid"
		;;
	pair)
		start_pair "$name" "$3" "${PROXY_ARGS[@]}" || return 1
		;;
	esac
}

# pair_prefix NAME: the IPC prefix of pair NAME, its own so that pairs
# never share a queue.
pair_prefix() {
	echo "${IPCLAB_PREFIX:-/ipclab}.bench-$1"
}

# pair_ipcls NAME [--clean]: ipcls on pair NAME's prefix. (Inside a private
# namespace the harness sees every object anyway; with prefix isolation
# only this finds, and cleans, what a pair left.)
pair_ipcls() {
	in_ns env "IPCLAB_PREFIX=$(pair_prefix "$1")" "$LAB_BIN/ipcls" "${@:2}"
}

# start_pair NAME FOLDER PROXY_ARGS...: a cache and a proxy of their own.
start_pair() {
	local name=$1 dir=$2 cache_pid_var pid_var
	shift 2
	start_daemon "${name}_cache" env "IPCLAB_PREFIX=$(pair_prefix "$name")" \
		"$dir/simplecached" -c "$LOCALS" -t "$CACHE_THREADS"
	start_pair_proxy "$name" "$name" "$dir" "$@" || return 1
	cache_pid_var=${name}_cache_pid pid_var=${name}_pid
	printf -v "${name}_pids" '%s %s' "${!pid_var}" "${!cache_pid_var}"
}

# start_pair_proxy PROC PAIR FOLDER PROXY_ARGS...: a webproxy of pair PAIR
# (its prefix, so its cache) on a free port, started as PROC; sets
# PROC_port and waits for the port.
start_pair_proxy() {
	local proc=$1 pair=$2 dir=$3 port
	shift 3
	port=$(free_port)
	printf -v "${proc}_port" '%s' "$port"
	start_daemon "$proc" env "IPCLAB_PREFIX=$(pair_prefix "$pair")" "$dir/webproxy" -p "$port" "$@"
	wait_port "$port" 10 || { echo "the $pair proxy ($*) did not open port $port" >&2; return 1; }
}

stop_server() {
	local name=$1 kind=$2
	case $kind in
	direct) stop_daemon direct TERM 2 ;;
	pair) stop_daemon "$name" TERM 2 && stop_daemon "${name}_cache" TERM 2 ;;
	esac
}

# server_port NAME / server_pids NAME
server_port() { local v=${1}_port; echo "${!v}"; }
server_pids() { local v=${1}_pids; echo "${!v}"; }

# ---- measuring ----

# cpu_ms PID...: CPU time (user + system, ms) the processes used so far.
cpu_ms() {
	local pid ticks=0
	for pid in "$@"; do
		ticks=$((ticks + $(proc_cpu_ticks "$pid")))
	done
	echo $((ticks * 1000 / CLK_TCK))
}

# verify NAME PORT: the whole workload, every body hashed and compared
# with the manifest. Untimed; any wrong response fails.
verify() {
	local out
	out=$(timeout "$(scaled 120)" "$LAB_BIN/gfclient_measure" -p "$2" -t 8 \
		-w "$IPCLAB_CONTENT/workload.txt" -V "$MANIFEST" 2>&1) || {
		echo "verification of $1 failed:" >&2
		echo "$out" | grep -m 5 FAIL >&2
		return 1
	}
}

# measure EXPERIMENT SERVER SEGMENT ROUND PORT FILES CONNS THREADS REQUESTS
# PID...: one gfclient_load run; appends its CSV row with the CPU time the
# server's processes (PID...) spent meanwhile. Fails on any failed request.
measure() {
	local out cpu
	cpu=$(cpu_ms "${@:10}")
	out=$(timeout "$(scaled 120)" "$LAB_BIN/gfclient_load" -p "$5" \
		-w "$WORK/$6.txt" -c "$7" -t "$8" -r "$9" 2>&1) || {
		echo "gfclient_load against $2 ($1) failed:" >&2
		echo "$out" | tail -n 5 >&2
		return 1
	}
	cpu=$(($(cpu_ms "${@:10}") - cpu))
	awk -v e="$1" -v s="$2" -v z="$3" -v r="$4" -v c="$7" -v cpu="$cpu" '
		{ v[$1] = $2 }
		END {
			printf "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", e, s, z, r, c,
				v["requests"], v["bytes"], v["seconds"],
				v["throughput_MBps"], v["requests_per_s"],
				v["latency_p50_us"], v["latency_p99_us"], cpu
		}' <<<"$out" >>"$CSV"
}

# workloads: every workload, ROUNDS rounds, the servers taking turns in
# each round (pairing the runs of a round cancels most of the load other
# programs put on the machine).
workloads() {
	local w name files conns threads requests round s sname
	for w in "${WORKLOADS[@]}"; do
		read -r name files conns threads requests <<<"$w"
		echo "$name: $(wc -l <"$WORK/$files.txt") files, $conns connections on $threads threads, $requests requests a run, $ROUNDS rounds"
		echo "$name: gfclient_load -p PORT -w WORKLOAD -c $conns -t $threads -r $requests (WORKLOAD: the $files files, $(wc -l <"$WORK/$files.txt") of them)" >>"$OUT/commands.txt"
		for round in $(seq 1 "$ROUNDS"); do
			for s in "${SERVERS[@]}"; do
				sname=${s%% *}
				# shellcheck disable=SC2046  # the pids are words
				measure "$name" "$sname" 0 "$round" "$(server_port "$sname")" \
					"$files" "$conns" "$threads" "$requests" \
					$(server_pids "$sname") || return 1
			done
		done
	done
}

# sweep: each pair on the large files at each segment size, one proxy at a
# time against the pair's running cache, and the direct server once, in
# each of SWEEP_ROUNDS passes. Each proxy is verified before it is timed.
# shellcheck disable=SC2154  # sweep_port and sweep_pid: start_pair_proxy sets them
sweep() {
	local z round s name kind dir cache_pid_var
	for round in $(seq 1 "$SWEEP_ROUNDS"); do
		measure sweep direct 0 "$round" "$(server_port direct)" large 8 8 \
			"$SWEEP_REQUESTS" "$(server_pids direct)" || return 1
		for s in "${SERVERS[@]}"; do
			read -r name kind dir <<<"$s"
			[ "$kind" = pair ] || continue
			cache_pid_var=${name}_cache_pid
			for z in $SWEEP_SIZES; do
				start_pair_proxy sweep "$name" "$dir" -t 8 -n 8 -z "$z" || return 1
				if [ "$round" = 1 ]; then
					verify "$name -z $z" "$sweep_port" || return 1
				fi
				measure sweep "$name" "$z" "$round" "$sweep_port" large 8 8 \
					"$SWEEP_REQUESTS" "$sweep_pid" "${!cache_pid_var}" || return 1
				stop_daemon sweep TERM 2 || return 1
			done
		done
	done
}

# plot: throughput against segment size, one line per pair.
plot() {
	local s name kind lines="" direct
	if ! command -v gnuplot >/dev/null; then
		echo "gnuplot is missing, no plot; install it with: apt-get install -y gnuplot-nox"
		return 0
	fi
	direct=$(python3 "$REPORT" "$CSV" --sweep-median direct 0) || return 1
	for s in "${SERVERS[@]}"; do
		read -r name kind _ <<<"$s"
		[ "$kind" = pair ] || continue
		python3 "$REPORT" "$CSV" --sweep-table "$name" "$SWEEP_SIZES" >"$WORK/sweep-$name.dat" || return 1
		lines+="'$WORK/sweep-$name.dat' using 1:2 with linespoints title 'proxy + cache ($name)', "
	done
	gnuplot <<-EOF || { echo "gnuplot failed" >&2; return 1; }
		set terminal png size 800,500 noenhanced
		set output '$PLOT'
		set title 'ipclab: throughput against segment size (files >= 1 MiB, 8 connections)'
		set logscale x 2
		set xrange [600:1500000]
		set xtics ('824' 824, '4 KiB' 4096, '16 KiB' 16384, '64 KiB' 65536, '256 KiB' 262144, '1 MiB' 1048576)
		set xlabel 'segment size (bytes, -z)'
		set ylabel 'throughput (MB/s)'
		set yrange [0:*]
		set offsets 0, 0, graph 0.1, 0
		set key bottom right
		set grid
		plot $lines $direct with lines dashtype 2 title 'gfserver_direct'
	EOF
	echo "plot: $PLOT"
}

# grade_time: the wall time of BENCH_GRADE_CMD, which prints one line
# "NAME<TAB>SCORE<TAB>MAX", in seconds.
grade_time() {
	local started line
	started=$(now_ms)
	line=$(bash -c "$BENCH_GRADE_CMD" 2>"$OUT/grade.log") ||
		{ echo "the timed grade failed (see $OUT/grade.log)" >&2; return 1; }
	echo "grade,$(($(now_ms) - started)),$(awk -F'\t' '{ print $2 "/" $3 }' <<<"$line")" >"$OUT/grade.csv"
}

stop_all() {
	local s name kind left
	for s in "${SERVERS[@]}"; do
		read -r name kind _ <<<"$s"
		stop_server "$name" "$kind" || return 1
		if [ "$kind" = pair ] && ! pair_ipcls "$name" | grep -q '^no ipclab objects'; then
			echo "$name left IPC objects behind:" >&2
			pair_ipcls "$name" >&2
			return 1
		fi
	done
	left=$(ipc_leftovers)
	[ -z "$left" ] || { echo "IPC objects left behind: $left" >&2; return 1; }
}

# clean_up (on exit): everything stopped, whatever was left removed.
clean_up() {
	local s name kind
	kill_all_started
	for s in "${SERVERS[@]}"; do
		read -r name kind _ <<<"$s"
		[ "$kind" = pair ] && pair_ipcls "$name" --clean >/dev/null 2>&1
	done
	harness_teardown
	rm -rf "$WORK"
}

main() {
	local started rc=0 verdict s name kind dir
	started=$(now_ms)
	REPORT=$(dirname "$0")/lib/bench_report.py
	harness_setup
	WORK=$BATS_TMP_ROOT
	trap clean_up EXIT
	mkdir -p "$OUT" || fail "cannot create $OUT"
	rm -f "$OUT/grade.csv" "$OUT/commands.txt"
	make_workload 1048576 1000000000000 "$WORK/large.txt" || fail "no file >= 1 MiB in $LOCALS"
	make_workload 0 8192 "$WORK/small.txt" || fail "no file <= 8 KiB in $LOCALS"
	echo "experiment,server,segment_bytes,round,connections,requests,bytes,seconds,throughput_MBps,requests_per_s,latency_p50_us,latency_p99_us,server_cpu_ms" >"$CSV"

	echo "servers: ${SERVERS[*]}; isolation: $IPCLAB_ISOLATION; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
	for s in "${SERVERS[@]}"; do
		read -r name kind dir <<<"$s"
		start_server "$name" "$kind" "$dir" || fail "$name did not start"
		verify "$name" "$(server_port "$name")" || fail "$name sent a wrong response"
	done
	echo "verified: every server sent every file of the content set right"
	workloads || fail "a measurement failed"
	echo "sweep: segment sizes $SWEEP_SIZES"
	sweep || fail "segment-size sweep failed"
	stop_all || fail "shutdown was not clean"
	if [ "${BENCH_GRADE:-1}" != 0 ] && [ -n "${BENCH_GRADE_CMD:-}" ]; then
		echo "grading the reference (BENCH_GRADE=0 skips this)"
		grade_time || rc=2
	fi

	echo
	echo "sweep: gfclient_load -p PORT -w WORKLOAD -c 8 -t 8 -r $SWEEP_REQUESTS (the large files), webproxy -t 8 -n 8 -z SIZE" >>"$OUT/commands.txt"
	local -a grade=()
	[ -f "$OUT/grade.csv" ] && grade=(--grade "$OUT/grade.csv")
	python3 "$REPORT" "$CSV" "${grade[@]}" --sweep-sizes "$SWEEP_SIZES" \
		--default-z "bench $BENCH_Z" --default-z "webproxy $WEBPROXY_Z" \
		--measurements "$OUT/measurements.md" --commands "$OUT/commands.txt"
	verdict=$?
	[ "$verdict" -le "$rc" ] || rc=$verdict
	plot || rc=2
	echo "results: $CSV"
	echo "bench took $((($(now_ms) - started) / 1000)) s; load average now $(cut -d' ' -f1-3 /proc/loadavg)"
	return "$rc"
}

main "$@"
