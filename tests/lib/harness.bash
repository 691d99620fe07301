# shellcheck shell=bash
# harness.bash: the one harness for running the proxy and the cache, used by
# the bats suites in tests/, by the grader, by tests/demo.sh and tests/bench.sh.
#
# It starts programs in a private IPC + mount namespace (so their queues and
# segments are exactly listable and vanish with the test), waits for ports and
# queues with bounds, stops programs by the pid it started (never by name),
# and lists leftovers. Environment it reads (all optional):
#   IPCLAB_ROOT           the kit's top folder
#   IPCLAB_BUILD          build folder (default $IPCLAB_ROOT/build)
#   IPCLAB_IMPL           solution (default), starter, or a folder holding
#                         webproxy and simplecached
#   IPCLAB_VARIANT        mqueue (default) or socket: the command channel's
#                         design; picks build/<impl> or build/<impl>-socket
#   IPCLAB_CONTENT        content folder (default $IPCLAB_ROOT/build/content)
#   IPCLAB_TIMEOUT_SCALE  multiplies every time bound (slow machines)
#   IPCLAB_WRAP           command prefix for programs under test (valgrind)
#   IPCLAB_RUN_AS_UID     as root: run programs under test as this uid, with
#                         limits, in a sealed root (bwrap) where it can be made
#   IPCLAB_HIDE           as root: paths (colon-separated) programs under test
#                         must not see (the grader hides the reference, the
#                         hidden tests and its logs)
#   IPCLAB_LOG_MAX        bytes kept of each program's output (default 10 MiB)
#   IPCLAB_TRACE         a folder: programs under test run with the trace
#                         library preloaded and record into it (lab/trace/)
#   IPCLAB_STARTED_LOG    a file to which every process started in the
#                         background is added ("PID STARTTIME"), so that the
#                         runner (tests/run) can stop what an interrupted
#                         test left behind, by its pid

# The sh -c scripts below are single-quoted on purpose: they expand inside.
# shellcheck disable=SC2016
# stop_status is read by the callers.
# shellcheck disable=SC2034

IPCLAB_ROOT=${IPCLAB_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
IPCLAB_BUILD=${IPCLAB_BUILD:-$IPCLAB_ROOT/build}
IPCLAB_IMPL=${IPCLAB_IMPL:-solution}
IPCLAB_VARIANT=${IPCLAB_VARIANT:-mqueue}
IPCLAB_CONTENT=${IPCLAB_CONTENT:-$IPCLAB_ROOT/build/content}
IPCLAB_TIMEOUT_SCALE=${IPCLAB_TIMEOUT_SCALE:-1}
IPCLAB_LOG_MAX=${IPCLAB_LOG_MAX:-10485760}
LAB_BIN=$IPCLAB_BUILD/lab
export IPCLAB_ROOT IPCLAB_BUILD IPCLAB_IMPL IPCLAB_VARIANT IPCLAB_CONTENT IPCLAB_TIMEOUT_SCALE

case $IPCLAB_VARIANT in
mqueue) variant_suffix= ;;
socket) variant_suffix=-socket ;;
*)
	echo "IPCLAB_VARIANT must be mqueue or socket, not \"$IPCLAB_VARIANT\"" >&2
	return 1
	;;
esac
if [[ $IPCLAB_IMPL == /* ]]; then
	IMPL_BIN=$IPCLAB_IMPL
else
	IMPL_BIN=$IPCLAB_BUILD/$IPCLAB_IMPL$variant_suffix
fi

# Uids, limits, hidden paths and the scaling of time bounds: the sandbox,
# shared with the grader.
# shellcheck source=tests/lib/sandbox.bash
source "$IPCLAB_ROOT/tests/lib/sandbox.bash"

# Pids started in this test (each is also its process group) and the holder
# of the test's namespaces.
started_pids=()
declare -gA started_prog=()
ns_holder=
seal_monitor=
IPCLAB_ISOLATION=

# now_ms: milliseconds since the epoch, from bash's own clock (no process
# started: every bounded wait reads it at each poll).
now_ms() {
	local t=${EPOCHREALTIME:-}
	if [ -n "$t" ]; then
		t=${t/[.,]/}
		echo $((10#$t / 1000))
		return
	fi
	t=$(date +%s%N)
	echo $((t / 1000000))
}

# wait_until SECONDS CMD...: polls CMD every 50 ms until it succeeds; fails
# with a message after the (scaled) bound.
wait_until() {
	local limit deadline
	limit=$(scaled "$1")
	shift
	deadline=$(($(now_ms) + limit * 1000))
	until "$@" 2>/dev/null; do
		if [ "$(now_ms)" -ge "$deadline" ]; then
			echo "timed out after ${limit}s waiting for: $*" >&2
			return 1
		fi
		sleep 0.05
	done
}

# ---- Isolation ----

# ipc_ns_create: a holder process owning a private IPC and mount namespace
# with a fresh /dev/shm and /dev/mqueue. Falls back to a unique prefix.
ipc_ns_create() {
	if [ -n "${IPCLAB_RUN_AS_UID:-}" ] && seal_usable; then
		sealed_ns_create
	elif [ "$(id -u)" -eq 0 ] && unshare --ipc --mount true 2>/dev/null; then
		IPCLAB_ISOLATION=namespace
		setsid unshare --ipc --mount --propagation private sh -c "$(sandbox_hide_script)"'
			mkdir -p /dev/mqueue &&
			mount -t mqueue none /dev/mqueue &&
			mount -t tmpfs -o mode=1777,size=256m none /dev/shm &&
			chmod 1777 /dev/mqueue &&
			touch /dev/mqueue/.ipclab-ready 2>/dev/null
			exec sleep 100000' </dev/null >/dev/null 2>&1 3>&- 4>&- &
		ns_holder=$!
		record_started "$ns_holder"
		if ! wait_until 5 ns_mounted; then
			echo "could not set up a private namespace" >&2
			return 1
		fi
	else
		IPCLAB_ISOLATION=prefix
		IPCLAB_PREFIX=/ipclab.t$$.$RANDOM
		export IPCLAB_PREFIX
	fi
	export IPCLAB_ISOLATION
}

# sealed_ns_create: under the grader (IPCLAB_RUN_AS_UID), the holder is a
# sealed root (tests/lib/sandbox.bash, seal_prefix) holding only what the
# programs of a test need: their build, the kit's tools and the test
# content, read-only, and the test's own folder. The programs and the
# harness's probes enter it by nsenter, which keeps their pids.
sealed_ns_create() {
	local content_real
	IPCLAB_ISOLATION=sealed
	content_real=$(readlink -f "$IPCLAB_CONTENT/locals.txt" 2>/dev/null)
	# A traced run (IPCLAB_TRACE) writes its records from inside the root.
	local writable=$BATS_TMP_ROOT
	if [ -n "${IPCLAB_TRACE:-}" ]; then
		mkdir -p "$(trace_folder)" && chmod 1777 "$(trace_folder)"
		writable+=":$(cd "$(trace_folder)" && pwd)"
	fi
	seal_prefix "$IMPL_BIN:$LAB_BIN:$IPCLAB_BUILD/fixtures:$IPCLAB_CONTENT:${content_real%/*}" "$writable"
	setsid "${seal_cmd[@]}" sh -c 'chmod 1777 /dev/shm /dev/mqueue && exec sleep 100000' \
		</dev/null >/dev/null 2>&1 3>&- 4>&- &
	seal_monitor=$!
	record_started "$seal_monitor"
	# bwrap stays outside as the monitor of the child that holds the root.
	if ! wait_until 5 sealed_child || ! wait_until 5 ns_mounted; then
		echo "could not set up a sealed root (bwrap)" >&2
		return 1
	fi
}

# sealed_child: sets ns_holder to the child bwrap started.
sealed_child() {
	ns_holder=$(cat "/proc/$seal_monitor/task/$seal_monitor/children" 2>/dev/null)
	ns_holder=${ns_holder%% *}
	[ -n "$ns_holder" ]
}

# ns_enter: sets the array ns to the prefix that runs a command in the
# test's namespaces, in the current folder (in a sealed root, where it is
# not there, in /, and with the root's own /tmp; nsenter's --wd would reach
# outside the root).
ns_enter() {
	ns=()
	[ -n "$ns_holder" ] || return 0
	if [ "$IPCLAB_ISOLATION" = sealed ]; then
		ns=(nsenter -t "$ns_holder" --ipc --mount -- sh -c \
			'cd "$0" 2>/dev/null || cd /; TMPDIR=/tmp; export TMPDIR; exec "$@"' "$PWD")
	else
		ns=(nsenter -t "$ns_holder" --ipc --mount "--wd=$PWD" --)
	fi
}

# The holder is ready once its /dev/shm is a tmpfs of its own.
ns_mounted() {
	[ "$(readlink "/proc/$ns_holder/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ] &&
		nsenter -t "$ns_holder" --mount sh -c \
			'[ "$(stat -f -c %T /dev/shm)" = tmpfs ] && [ "$(stat -f -c %T /dev/mqueue)" = mqueue ]'
}

ipc_ns_destroy() {
	if [ -n "$ns_holder" ]; then
		kill -KILL "$ns_holder" 2>/dev/null
		wait "$ns_holder" 2>/dev/null || true
	fi
	if [ -n "${seal_monitor:-}" ]; then
		kill -KILL "$seal_monitor" 2>/dev/null
		wait "$seal_monitor" 2>/dev/null || true
		seal_monitor=
	fi
	ns_holder=
	if [ "$IPCLAB_ISOLATION" = prefix ]; then
		"$LAB_BIN/ipcls" --clean >/dev/null 2>&1
	fi
}

# in_ns CMD...: runs CMD inside the test's namespaces.
in_ns() {
	local -a ns
	ns_enter
	"${ns[@]}" "$@"
}

# ipc_objects: one line per IPC object: "shm NAME BYTES", "mq NAME" or
# "sock PATH" (a socket file in /dev/shm).
ipc_objects() {
	if [ -n "$ns_holder" ]; then
		in_ns sh -c '
			for f in /dev/shm/*; do
				if [ -S "$f" ]; then
					echo "sock $f"
				elif [ -e "$f" ]; then
					echo "shm /${f#/dev/shm/} $(stat -c %s "$f")"
				fi
			done
			for f in /dev/mqueue/*; do
				[ -e "$f" ] && echo "mq /${f#/dev/mqueue/}"
			done; true'
	else
		"$LAB_BIN/ipcls" 2>/dev/null |
			awk '$1 == "shm" { print "shm", $2, $3 } $1 == "mq" || $1 == "sock" { print $1, $2 }'
	fi
}

ipc_leftovers() {
	ipc_objects
}

shm_count() {
	ipc_objects | grep -c '^shm ' || true
}

# channel_kind: the word ipc_objects uses for this variant's channel.
channel_kind() {
	if [ "$IPCLAB_VARIANT" = socket ]; then echo sock; else echo mq; fi
}

# channel_exists: the cache's command channel of this variant exists: its
# queue, or its socket with the cache listening on it (a socket file alone
# may be what a killed cache left behind).
channel_exists() {
	if [ "$IPCLAB_VARIANT" = socket ]; then
		cache_sockets | grep -q '^LISTEN '
	else
		ipc_objects | grep -q "^$(channel_kind) "
	fi
}

# cache_sockets: "STATE RECV-Q" of each of the cache's Unix sockets at the
# command channel's path (socket variant): its listener, whose Recv-Q counts
# the connections not yet accepted, and any connection it accepted, whose
# Recv-Q counts the bytes sent to it and not yet read (a design may keep a
# connection open per proxy). Found by the inodes of the cache's
# descriptors: another test's cache may listen on the same path in its own
# mount namespace.
cache_sockets() {
	local inodes
	# shellcheck disable=SC2154  # set by start_daemon
	inodes=$(find "/proc/$cache_pid/fd" -lname 'socket:*' -printf '%l\n' 2>/dev/null | tr -dc '0-9\n')
	[ -n "$inodes" ] || return 0
	in_ns ss -xanH 2>/dev/null | awk -v ids="$inodes" '
		BEGIN { n = split(ids, a, "\n"); for (i = 1; i <= n; i++) want[a[i]] = 1 }
		($6 in want) && $5 ~ /ipclab/ { print $2, $3 }'
}

# ---- Processes ----

# The command that runs a program under test: wrapper, user and limits.
program_prefix() {
	sandbox_prefix "${IPCLAB_RUN_AS_UID:-}"
	prefix=("${sandbox_cmd[@]}")
	# The trace library goes to the program, through a wrapper (valgrind).
	if [ -n "${IPCLAB_TRACE:-}" ]; then
		# The folder is made here so that any test, grade or demo can trace;
		# a program run as the test uid must be able to write in it.
		local dir
		dir=$(trace_folder)
		mkdir -p "$dir" && chmod 1777 "$dir"
		prefix+=(env "LD_PRELOAD=$LAB_BIN/libipclab_trace.so${LD_PRELOAD:+:$LD_PRELOAD}"
			"IPCLAB_TRACE=$(cd "$dir" && pwd)")
	fi
	if [ -n "${IPCLAB_WRAP:-}" ]; then
		local -a wrap
		read -r -a wrap <<<"$IPCLAB_WRAP"
		prefix+=("${wrap[@]}")
	fi
}

# trace_folder: where this run's programs record with IPCLAB_TRACE set: a
# folder per bats test (a test's trace must not hold an earlier test's
# killed waits), IPCLAB_TRACE itself elsewhere.
trace_folder() {
	if [ -n "${BATS_TEST_NAME:-}" ]; then
		echo "$IPCLAB_TRACE/$BATS_TEST_NAME"
	else
		echo "$IPCLAB_TRACE"
	fi
}

# trace_hang_report: with IPCLAB_TRACE set, one line naming the wait that
# never ended in this run's trace (lab/trace/render.py --hang) in a program
# still running, for the reason of a test that ended at a limit; nothing
# otherwise. Call it before the teardown stops the programs.
trace_hang_report() {
	[ -n "${IPCLAB_TRACE:-}" ] && [ -d "$(trace_folder)" ] || return 0
	local pid alive=()
	for pid in "${started_pids[@]}"; do
		is_running "$pid" && alive+=("$pid")
	done
	[ ${#alive[@]} -gt 0 ] || return 0
	timeout 60 python3 "$IPCLAB_ROOT/lab/trace/render.py" --hang "$(trace_folder)" "${alive[@]}" 2>/dev/null || true
}

# sandboxed CMD...: runs a program under test in the foreground (bad flags,
# usage lines) the way start_daemon runs it: in the test's namespaces, as
# the test uid, with the limits.
sandboxed() {
	local -a prefix
	program_prefix
	in_ns "${prefix[@]}" "$@"
}

# start_daemon NAME CMD...: starts CMD in the namespace, in its own process
# group, with stdin from /dev/null and fds 3 and 4 closed (bats waits for
# them otherwise), output to $IPCLAB_LOGDIR/NAME.log. Sets NAME_pid.
# (Untrusted programs get RLIMIT_FSIZE from program_prefix, capping the log.)
start_daemon() {
	local name=$1 log
	shift
	log=$IPCLAB_LOGDIR/$name.log
	local -a ns
	ns_enter
	# Background jobs of a script ignore SIGINT; env puts the default back.
	setsid "${ns[@]}" env --default-signal=INT "$@" </dev/null >>"$log" 2>&1 3>&- 4>&- &
	local pid=$! word prog=$name
	printf -v "${name}_pid" '%s' "$pid"
	started_pids+=("$pid")
	record_started "$pid"
	for word in "$@"; do
		[[ $word == "$IMPL_BIN"/* ]] && prog=$(basename "$word")
	done
	started_prog[$pid]=$prog
}

# is_gone PID: not is_running (tests/lib/sandbox.bash: alive and not a
# zombie).
is_gone() {
	! is_running "$1"
}

# stop_daemon NAME [SIGNAL] [SECONDS]: signals the process and waits, with a
# bound, for it to exit. Sets stop_status to its exit status; after the bound
# kills its whole process group and returns 1.
stop_daemon() {
	local name=$1 sig=${2:-TERM} limit=${3:-2} pidvar pid
	pidvar=${name}_pid
	pid=${!pidvar:-}
	stop_status=
	[ -n "$pid" ] || return 1
	kill "-$sig" "$pid" 2>/dev/null
	if wait_until "$limit" is_gone "$pid" 2>/dev/null; then
		stop_status=0
		wait "$pid" 2>/dev/null || stop_status=$?
		return 0
	fi
	kill -KILL -- "-$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true
	stop_status=timeout
	echo "$name did not exit within ${limit}s of SIG$sig" >&2
	return 1
}

# crash_signal PID: prints SIGSEGV (or another crash signal) when the
# program PID has ended of one; fails otherwise.
crash_signal() {
	local st=0 sig
	is_gone "$1" || return 1
	wait "$1" 2>/dev/null || st=$?
	((st > 128)) || return 1
	sig=$(kill -l $((st - 128)) 2>/dev/null)
	case $sig in
	SEGV | ABRT | BUS | FPE | ILL | TRAP | SYS) echo "SIG$sig" ;;
	*) return 1 ;;
	esac
}

# report_crashes: names each program of the test that died of a crash
# signal, so that a crash reads as one ("simplecached crashed: SIGSEGV"),
# not as the shell's job line or as a hang. Fails if one did.
report_crashes() {
	local pid sig status=0
	for pid in "${started_pids[@]}"; do
		sig=$(crash_signal "$pid") || continue
		echo "${started_prog[$pid]:-a program} crashed: $sig"
		status=1
	done
	return "$status"
}

kill_all_started() {
	local pid
	# The test's own background jobs too (a client it started with &): a
	# test that failed before waiting for them would leave them running.
	# Not the jobs bats had before setup (the watchdog of BATS_TEST_TIMEOUT,
	# which the grader sets): killed, the watchdog leaves its sleep holding
	# the test's output, and bats waits it out.
	for pid in $(jobs -p); do
		[[ " $bats_jobs " == *" $pid "* ]] || kill -KILL "$pid" 2>/dev/null
	done
	for pid in "${started_pids[@]}"; do
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
	done
	for pid in "${started_pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	started_pids=()
	sandbox_kill "${IPCLAB_RUN_AS_UID:-}"
	return 0
}

# free_port: a TCP port nobody listens on now, below Linux's ephemeral
# range (32768-60999): a port some client connection holds as its local
# port cannot be bound, so a busy machine would make a daemon fail at start.
# Within IPCLAB_PORT_COUNT ports from IPCLAB_PORT_BASE when set (tests/run
# gives each suite running beside others a block of its own).
free_port() {
	local port
	while :; do
		port=$((${IPCLAB_PORT_BASE:-20000} + RANDOM % ${IPCLAB_PORT_COUNT:-12768}))
		if ! port_open "$port"; then
			echo "$port"
			return
		fi
	done
}

# port_open PORT: something listens on PORT.
port_open() {
	(: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# wait_port PORT [SECONDS]
wait_port() {
	wait_until "${2:-5}" port_open "$1"
}

# start_cache [ARGS...]: simplecached of the chosen implementation; waits
# for its queue. Default arguments serve the content set with 8 workers.
start_cache() {
	local -a args=("$@") prefix
	[ ${#args[@]} -gt 0 ] || args=(-c "$IPCLAB_CONTENT/locals.txt" -t 8)
	program_prefix
	smoke_gate || return 1
	start_daemon cache "${prefix[@]}" "$IMPL_BIN/simplecached" "${args[@]}"
	[ -n "${NO_WAIT:-}" ] || cache_started 5
}

# channel_name: what the cache's command channel is called in messages.
channel_name() {
	if [ "$IPCLAB_VARIANT" = socket ]; then echo "request socket"; else echo "request queue"; fi
}

# cache_started SECONDS: waits for the cache's command channel, but no
# longer than the cache lives, and says which of the two went wrong (a
# student's first failure is usually one of these).
cache_started() {
	if ! wait_until "$1" queue_or_gone cache; then
		echo "rule 1: the cache creates its command channel at start" \
			"(simplecached runs but made no $(channel_name) within $(scaled "$1")s)" >&2
		return 1
	fi
	channel_exists && return 0
	exited_before cache simplecached "making its $(channel_name)"
}

# exited_before NAME PROGRAM WHAT: says that program NAME (a PROGRAM)
# ended before WHAT, of which crash signal if it crashed, and shows the end
# of its output. Fails.
exited_before() {
	local pidvar=${1}_pid sig
	sig=$(crash_signal "${!pidvar}") && echo "$2 crashed: $sig" >&2
	echo "$2 exited before $3; the end of its output:" >&2
	tail -n 5 "$IPCLAB_LOGDIR/$1.log" >&2
	return 1
}

# queue_or_gone NAME: the command channel exists, or program NAME is no
# longer running.
queue_or_gone() {
	local pidvar=${1}_pid
	channel_exists || is_gone "${!pidvar}"
}

# port_or_gone PORT NAME: PORT is open, or program NAME is no longer running.
port_or_gone() {
	local pidvar=${2}_pid
	port_open "$1" || is_gone "${!pidvar}"
}

# With IPCLAB_SMOKE_FAILED set (tests/run sets it to what its smoke check of
# the pair found), a test that needs the pair is skipped at once rather than
# waiting out its bounds against programs known not to work yet.
smoke_gate() {
	[ -z "${IPCLAB_SMOKE_FAILED:-}" ] && return 0
	if declare -F skip >/dev/null; then
		skip "the smoke check failed (see its messages above)"
	fi
	echo "the smoke check failed: $IPCLAB_SMOKE_FAILED" >&2
	return 1
}

# start_proxy_named NAME [ARGS...]: a webproxy on a free port; sets
# NAME_port and waits for the port.
start_proxy_named() {
	local name=$1 port
	shift
	local -a prefix
	port=$(free_port)
	printf -v "${name}_port" '%s' "$port"
	program_prefix
	smoke_gate || return 1
	start_daemon "$name" "${prefix[@]}" "$IMPL_BIN/webproxy" -p "$port" "$@"
	wait_until 10 port_or_gone "$port" "$name" || return 1
	port_open "$port" && return 0
	exited_before "$name" webproxy "listening on port $port"
}

start_proxy() {
	start_proxy_named proxy "$@"
}

# start_direct [ARGS...]: gfserver_direct on a free port; sets direct_port.
start_direct() {
	direct_port=$(free_port)
	start_daemon direct "$LAB_BIN/gfserver_direct" -p "$direct_port" "$@"
	wait_port "$direct_port" 5
}

# ---- Clients ----

# gf_raw PORT BYTES [SECONDS]: sends BYTES, prints the whole reply.
gf_raw() {
	timeout "$(scaled "${3:-10}")" bash -c '
		exec 5<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf "%b" "$2" >&5
		cat <&5' _ "$1" "$2"
}

# gf_get PATH [PORT] [SECONDS]: prints the response header line.
gf_get() {
	gf_raw "${2:-$proxy_port}" "GETFILE GET $1\r\n\r\n" "${3:-20}" | head -n 1 | tr -d '\r'
}

# download_verify [ARGS...]: the whole workload through the proxy, every
# body checked against the manifest, within 60 s (scaled). Extra args go to
# gfclient_download (-w FILE for another workload).
download_verify() {
	download_within 60 "$@"
}

# download_within SECONDS [ARGS...]: download_verify within SECONDS (scaled);
# says so when the downloads took longer.
download_within() {
	local limit dir rc
	limit=$(scaled "$1")
	shift
	dir=$(mktemp -d "$BATS_TMP_ROOT/dl.XXXXXX")
	(cd "$dir" && timeout "$limit" "$LAB_BIN/gfclient_download" \
		-p "${port:-$proxy_port}" -w "$IPCLAB_CONTENT/workload.txt" \
		-V "$IPCLAB_CONTENT/manifest.sha256" "$@")
	rc=$?
	rm -rf "$dir"
	if ((rc == 124)); then
		echo "the downloads took more than ${limit}s"
	fi
	return "$rc"
}

# stall_transfer PORT PATH: asks the server on PORT for PATH on fd 5 of the
# test shell and reads only the first 100 KB, so the transfer stays in
# flight behind a client that stops reading. The test closes fd 5.
stall_transfer() {
	exec 5<>"/dev/tcp/127.0.0.1/$1"
	printf 'GETFILE GET %s\r\n\r\n' "$2" >&5
	head -c 100000 <&5 >/dev/null
}

# stalled_on PORT PATH: stall_transfer, then waits (20 s, scaled) until the
# transfer has stalled (transfer_stalled). Only then do both programs wait
# on each other with no lock held: a test that kills one of them sees what
# the other's bounded wait does. While the buffers still fill, the two hand
# chunks back and forth, and a side killed mid-hand-off (holding the
# socket design's robust lock, say) ends the transfer through a path of its
# own, whatever the peer's wait: on a busy machine the buffers fill slowly,
# and a test that did not wait here passed an unbounded wait.
stalled_on() {
	stall_transfer "$1" "$2"
	wait_until 20 transfer_stalled "$1" || {
		echo "expected the transfer of $2 to stall behind a client that stops reading; it never did"
		return 1
	}
}

# trickle_transfer PORT PATH: stall_transfer, then one reader process in
# the background reads the rest at about 640 KB/s (64 KB every 0.1 s),
# noting in $trickle_count how many bytes it has read. Each turn of the
# transfer then waits for the client about 2 s (the proxy's kernel send
# buffer, up to 4 MiB here, wakes it once a third of it has drained), well
# under the cache's 5 s bounded wait, and 16 MiB take some 25 s: whatever
# the transfer holds, it keeps holding. A test measures other requests
# meanwhile, then checks trickle_in_flight: requests served only once the
# transfer had (nearly) all gone through were held up by it, however long
# the limit is scaled. harness_teardown stops the reader (a job of the test).
trickle_transfer() {
	trickle_count=$BATS_TMP_ROOT/trickle.count
	echo 0 >"$trickle_count"
	stall_transfer "$1" "$2"
	python3 -c '
import os, sys, time
total = 0
while (got := os.read(5, 65536)):
    total += len(got)
    with open(sys.argv[1] + ".new", "w") as f:
        f.write(str(total))
    os.replace(sys.argv[1] + ".new", sys.argv[1])
    time.sleep(0.1)
' "$trickle_count" 3>&- 4>&- &
}

# trickle_in_flight: the client of trickle_transfer has read less than
# half of the 16 MiB: the cache cannot have sent all of it yet (the socket
# buffers between them hold a few MiB at most).
trickle_in_flight() {
	[ "$(cat "$trickle_count")" -lt 8388608 ]
}

# send_queue PORT: the bytes waiting in the kernel's send buffers of the
# connections the server on PORT accepted (IPv4 and IPv6 tables alike).
send_queue() {
	awk -v port="$(printf ':%04X' "$1")" '
		function hex(s,   i, v) {
			for (i = 1; i <= length(s); i++)
				v = v * 16 + index("0123456789ABCDEF", toupper(substr(s, i, 1))) - 1
			return v
		}
		# Columns: sl local remote state tx_queue:rx_queue ...; 01 = ESTABLISHED.
		$4 == "01" && substr($2, length($2) - 4) == port {
			split($5, q, ":")
			total += hex(q[1])
		}
		END { print total + 0 }' /proc/net/tcp /proc/net/tcp6
}

# transfer_stalled PORT: the proxy's send buffers hold data and have not
# changed over two looks 300 ms apart each (a proxy merely descheduled on a
# loaded machine is rarely held up that long): its transfer can go no
# further until the client reads.
transfer_stalled() {
	local before
	before=$(send_queue "$1")
	[ "$before" -gt 0 ] || return 1
	sleep 0.3
	[ "$(send_queue "$1")" -eq "$before" ] || return 1
	sleep 0.3
	[ "$(send_queue "$1")" -eq "$before" ]
}

# proc_cpu_ticks PID: user+system CPU ticks used so far.
proc_cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# cpu_permille SECONDS PID...: CPU used by each PID over the same SECONDS,
# one line each, in tenths of a percent of one CPU (a clock tick is 10 ms,
# so over a short window whole percents would round a single tick of a
# runtime's own housekeeping up to 1%). The sleep is the measurement.
cpu_permille() {
	local secs=$1 hz pid before=() i=0
	shift
	hz=$(getconf CLK_TCK)
	for pid in "$@"; do before+=("$(proc_cpu_ticks "$pid")"); done
	sleep "$secs"
	for pid in "$@"; do
		echo $((($(proc_cpu_ticks "$pid") - before[i]) * 1000 / (hz * secs)))
		i=$((i + 1))
	done
}

# stalled_cpu_permille PORT SECONDS PID...: waits (20 s, scaled) for the
# transfer the server on PORT sends to stall (its send buffers unchanged
# over three looks 300 ms apart), then prints the CPU each PID used over
# SECONDS counted from the first of those looks, as cpu_permille does.
# Counted from there, however long the looks took on a busy machine: a
# wait that polls burns CPU from the moment the transfer stopped until it
# gives up (the reference's cache after 5 s), and a window opened only
# once the stall was seen could miss all of it. Fails if it never stalled.
stalled_cpu_permille() {
	local port=$1 secs=$2 hz deadline t0 q0 pid i elapsed
	local -a before
	shift 2
	hz=$(getconf CLK_TCK)
	deadline=$(($(now_ms) + $(scaled 20) * 1000))
	while [ "$(now_ms)" -lt "$deadline" ]; do
		t0=$(now_ms)
		q0=$(send_queue "$port")
		before=()
		for pid in "$@"; do before+=("$(proc_cpu_ticks "$pid")"); done
		sleep 0.3
		if [ "$q0" -eq 0 ] || [ "$(send_queue "$port")" -ne "$q0" ]; then continue; fi
		sleep 0.3
		[ "$(send_queue "$port")" -eq "$q0" ] || continue
		elapsed=$(($(now_ms) - t0))
		((elapsed >= secs * 1000)) || sleep "$(((secs * 1000 - elapsed) / 1000)).$(printf '%03d' $(((secs * 1000 - elapsed) % 1000)))"
		elapsed=$(($(now_ms) - t0))
		i=0
		for pid in "$@"; do
			echo $((($(proc_cpu_ticks "$pid") - before[i]) * 1000 * 1000 / (hz * elapsed)))
			i=$((i + 1))
		done
		return 0
	done
	return 1
}

# fd_count PID: the descriptors PID has open now.
fd_count() {
	find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l
}

# snapshot_programs: what the programs this test started and that still
# run are doing (tests/lib/snapshot.py: each thread's wait, CPU and stack),
# bounded in time.
snapshot_programs() {
	local pid
	local -a alive=()
	for pid in "${started_pids[@]}"; do
		[ -n "${started_prog[$pid]:-}" ] && is_running "$pid" && alive+=("$pid")
	done
	[ ${#alive[@]} -gt 0 ] || return 0
	echo "---- what the programs were doing"
	timeout 15 python3 "$IPCLAB_ROOT/tests/lib/snapshot.py" --no-logs "${alive[@]}" 2>&1
}

# trace_report: with IPCLAB_TRACE set, the wait this test's trace shows
# never ended, and the timeline drawn from that trace (lab/trace/render.py),
# named by its path. Call it while the programs still run.
trace_report() {
	[ -n "${IPCLAB_TRACE:-}" ] && [ -d "$(trace_folder)" ] || return 0
	local hang
	hang=$(trace_hang_report)
	[ -z "$hang" ] || echo "---- the trace: $hang"
	timeout 60 python3 "$IPCLAB_ROOT/lab/trace/render.py" "$(trace_folder)" "$(trace_folder)/timeline" >/dev/null 2>&1 &&
		echo "---- timeline: $(trace_folder)/timeline/timeline.html"
}

# dump_logs: what a failed test shows below its message: the programs'
# threads while they still run, what the trace saw (IPCLAB_TRACE), then the
# last lines of each one's output.
dump_logs() {
	local f
	snapshot_programs
	trace_report
	for f in "$IPCLAB_LOGDIR"/*.log; do
		[ -f "$f" ] || continue
		echo "---- $(basename "$f") (last 20 lines)"
		tail -n 20 "$f"
	done
}

# ---- Per test ----

harness_setup() {
	BATS_TMP_ROOT=${BATS_TEST_TMPDIR:-$(mktemp -d)}
	IPCLAB_LOGDIR=$BATS_TMP_ROOT/logs
	mkdir -p "$IPCLAB_LOGDIR"
	chmod 1777 "$IPCLAB_LOGDIR" "$BATS_TMP_ROOT"
	started_pids=()
	started_prog=()
	bats_jobs=$(jobs -p | tr '\n' ' ')
	sanitizer_logs_to "$IPCLAB_LOGDIR/sanitizer"
	ipc_ns_create
}

# sanitizer_logs_to STEM: sanitizer builds (make SAN=...) write each report
# to STEM.<pid> instead of mixing it into a program's output, where a test
# that only looks at exit statuses would miss it. Harmless for other builds.
sanitizer_logs_to() {
	export ASAN_OPTIONS="log_path=$1:detect_leaks=1:abort_on_error=0"
	export UBSAN_OPTIONS="log_path=$1:print_stacktrace=1"
	export TSAN_OPTIONS="log_path=$1:second_deadlock_stack=1"
}

# require_valgrind: skips the test when valgrind cannot check these builds:
# it is not installed, or the binaries carry a sanitizer runtime (make
# SAN=...), whose shadow memory valgrind cannot run.
require_valgrind() {
	command -v valgrind >/dev/null || skip "valgrind is not installed"
	if grep -qaE '__(asan|tsan)_init' "$IMPL_BIN/simplecached"; then
		skip "valgrind does not run sanitizer builds"
	fi
}

# sanitizer_reports: fails, printing them, if any sanitizer report was written.
sanitizer_reports() {
	local f status=0
	for f in "$IPCLAB_LOGDIR"/sanitizer.*; do
		[ -f "$f" ] || continue
		echo "---- sanitizer report $(basename "$f")"
		head -n 40 "$f"
		status=1
	done
	return "$status"
}

# Stops everything the test started; the test fails if a program crashed
# or a sanitizer spoke.
harness_teardown() {
	local status=0
	report_crashes || status=1
	kill_all_started
	ipc_ns_destroy
	sanitizer_reports || status=1
	return "$status"
}
