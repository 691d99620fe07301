#!/usr/bin/env bats
# The harness sets each daemon's NAME_pid and NAME_port; the sh -c
# scripts are single-quoted on purpose.
# shellcheck disable=SC2016,SC2154
# tests/run runs it in the socket variant only:
# ipclab-variants: socket
# A hostile process of the same user attacks the socket variant's command
# socket (tests/fixtures/hostile_socket.c): junk, connections that hold
# still or dribble, and the socket's file removed or replaced. Neither program may crash or hang, the
# log stays readable, and valid requests keep being served.

setup() {
	load '/usr/lib/bats/bats-support/load'
	load '/usr/lib/bats/bats-assert/load'
	load 'lib/harness'
	load 'lib/hostile'
	hostile_setup hostile_socket
	[ "$IPCLAB_VARIANT" = socket ] || skip "attacks the socket variant's command socket"
}

teardown() {
	harness_teardown
}

# start_attack NAME ARGS...: the attacker with ARGS in the background, as
# a process group of its own (start_daemon; its output in NAME.log), so
# that stop_attack ends all of it.
start_attack() {
	local name=$1
	shift
	sandbox_prefix "${IPCLAB_RUN_AS_UID:-}"
	start_daemon "$name" timeout "$(scaled 60)" "${sandbox_cmd[@]}" "$attacker_bin" "$@"
}

# stop_attack NAME...: ends each attacker's process group. (Killing the
# shell that ran an attack left the attacker holding its connections
# through the checks after it: a busy cache then dropped a proxy's request
# as the oldest of 256 pending.)
stop_attack() {
	local name pidvar
	for name in "$@"; do
		pidvar=${name}_pid
		kill -KILL -- "-${!pidvar}" 2>/dev/null
		wait "${!pidvar}" 2>/dev/null || true
	done
}

# p99_ms: the 99th percentile latency, in ms, of 400 requests for a small
# file through the proxy, 4 at a time.
p99_ms() {
	local workload=$BATS_TEST_TMPDIR/small.txt out us
	for _ in $(seq 400); do echo /files/size-4096.bin; done >"$workload"
	out=$(cd "$BATS_TEST_TMPDIR" && timeout "$(scaled 120)" "$LAB_BIN/gfclient_measure" \
		-p "$proxy_port" -t 4 -w "$workload" -V "$IPCLAB_CONTENT/manifest.sha256")
	grep -q '^failures 0$' <<<"$out" || { echo "failed requests: $out" >&2; return 1; }
	us=$(awk '$1 == "latency_p99_us" { print $2 }' <<<"$out")
	echo $((us / 1000))
}

# socket_path: the command socket's path, in the test's namespace.
socket_path() {
	ipc_objects | awk '$1 == "sock" { print $2; exit }'
}

@test "junk on the socket: refused, logged at most once a second, and the pair serves on" {
	junk_logged_at_most_once_a_second "$attacker_bin" junk 3000
}

@test "1,000 idle and 64 dribbling connections add at most 100 ms to valid requests' p99" {
	start_cache -c "$IPCLAB_CONTENT/locals.txt" -t 4
	start_proxy -n 4 -z 8192
	base=$(p99_ms)
	hold=$(scaled 30)
	start_attack a1 hold 500 0 "$hold"
	start_attack a2 hold 500 0 "$hold"
	start_attack a3 hold 0 64 "$hold"
	sleep 1	# the connections are made and held
	under=$(p99_ms)
	still=0
	is_running "$a1_pid" && is_running "$a3_pid" && still=1
	stop_attack a1 a2 a3
	echo "# p99 ${base} ms alone, ${under} ms beside 1,000 idle and 64 dribbling connections" >&3
	[ "$still" = 1 ] || { echo "the attack ended before the measurement did"; false; }
	[ "$under" -le $((base + $(scaled 100))) ]
	serves_normally
}

# socket_replaced HOW: replaces the socket's file (HOW: remove, file,
# symlink); the cache must notice within 2 s, say why, and serve again.
socket_replaced() {
	start_cache
	start_proxy -n 2
	path=$(socket_path)
	[ -n "$path" ] || { echo "no socket file"; false; }
	# As the programs' user: /dev/shm is sticky, and the attacker is theirs.
	case $1 in
	remove) attacker rm -f "$path" ;;
	file) attacker sh -c 'rm -f "$1" && echo junk >"$1"' _ "$path" ;;
	symlink) attacker sh -c 'rm -f "$1" && ln -s /nonexistent/socket "$1"' _ "$path" ;;
	esac
	start=$(now_ms)
	# The old listener still shows its path until the cache closes it:
	# what counts is a socket at the path again.
	wait_until 2 in_ns test -S "$path" || { dump_logs; false; }
	echo "# listening again after $(($(now_ms) - start)) ms" >&3
	grep -q "$path" "$IPCLAB_LOGDIR/cache.log"
	serves_normally
}

@test "the socket's file removed: the cache binds again within 2 s, says why, and serves" {
	socket_replaced remove
}

@test "the socket's file replaced by a regular file: the cache binds again within 2 s and serves" {
	socket_replaced file
}

@test "the socket's file replaced by a dangling symlink: the cache binds again within 2 s and serves" {
	socket_replaced symlink
}
