#!/usr/bin/env bats
# The harness sets each daemon's NAME_pid and NAME_port.
# shellcheck disable=SC2034,SC2154
# tests/run runs it in each variant (the socket layout's tests skip in the other):
# ipclab-variants: mqueue socket
# A hostile process of the same user (tests/fixtures/hostile_peer.c) spoils
# the proxy's segments: under a cache worker, it truncates them; while they
# sit idle in the proxy's pool, it truncates them,
# takes the names their replacements would get, dies holding their locks,
# or writes into their condition variables. The pool must renew what was
# spoiled and never shrink, and neither program may die. And a thread that
# never returns from a wake-up (tests/fixtures/preload_stuck_wake.c) may not
# keep either program from exiting within 2 s of SIGTERM, its names
# removed.

setup() {
	load '/usr/lib/bats/bats-support/load'
	load '/usr/lib/bats/bats-assert/load'
	load 'lib/harness'
	load 'lib/hostile'
	hostile_setup hostile_peer
}

teardown() {
	harness_teardown
}

peer() {
	attacker "$attacker_bin" "$@"
}

socket_only() {
	[ "$IPCLAB_VARIANT" = socket ] || skip "the socket variant's segment layout"
}

# live_segments SIZE: how many segments of SIZE bytes exist.
live_segments() {
	ipc_objects | awk -v z="$1" '$1 == "shm" && $3 == z' | wc -l
}

@test "idle segments truncated in the pool: no SIGBUS, they are renewed, and the pair serves on" {
	start_cache
	start_proxy -n 2 -z 4096
	run peer truncate
	assert_success
	echo "# $output" >&3
	serves_normally
	assert_equal "$(live_segments 4096)" 2
}

@test "replacement names taken, then every lock left by a dead owner: the pool never shrinks" {
	socket_only
	start_cache
	start_proxy -n 2 -z 4096
	run peer squat "$proxy_pid" 2 6
	assert_success
	run peer lock-die
	assert_success
	echo "# $output" >&3
	serves_normally
	assert_equal "$(live_segments 4096)" 2
}

@test "4 bytes written into an idle segment's condition variable: it is renewed, and the pair serves on" {
	socket_only
	start_cache
	start_proxy -n 2 -z 4096
	run peer poke 60
	assert_success
	echo "# $output" >&3
	start=$(now_ms)
	serves_normally
	echo "# the workload took $(($(now_ms) - start)) ms" >&3
	assert_equal "$(live_segments 4096)" 2
}

# stops_within_2s: SIGTERM to both; each is gone within 2 s with every
# name removed. Prints each exit status.
stops_within_2s() {
	local name pidvar start took
	kill -TERM "$cache_pid" "$proxy_pid"
	start=$(now_ms)
	for name in proxy cache; do
		pidvar=${name}_pid
		wait_until 2 is_gone "${!pidvar}" || { dump_logs; return 1; }
		took=$(($(now_ms) - start))
		status=0
		wait "${!pidvar}" 2>/dev/null || status=$?
		echo "# $name gone after ${took} ms, status $status" >&3
		[ "$status" -lt 128 ] || { dump_logs; return 1; }
	done
	[ -z "$(ipc_objects)" ] || { ipc_objects; dump_logs; return 1; }
}

@test "a segment truncated under a cache worker, before it takes its turn, costs neither process" {
	start_cache -c "$IPCLAB_CONTENT/locals.txt" -t 2 -d 1500000
	start_proxy -n 2 -z 4096
	# Forged requests reach two workers, which sleep in the -d delay
	# holding checked mappings; meanwhile the segments shrink to nothing.
	if [ "$IPCLAB_VARIANT" = socket ]; then
		run attacker "$IPCLAB_BUILD/fixtures/hostile_socket" forge-truncate /files/size-1.bin 500
	else
		run peer forge-truncate /files/size-1.bin 500
	fi
	assert_success
	echo "# $output" >&3
	sleep "$(scaled 2)"	# the workers wake from -d and find the change
	both_alive
	serves_normally
}

@test "a thread stuck for good in a wake-up of the other process: SIGTERM still ends both within 2 s, names removed" {
	grep -qaE '__(asan|tsan)_init' "$IMPL_BIN/simplecached" &&
		skip "a preloaded library cannot come before a sanitizer's runtime"
	IPCLAB_WRAP="env LD_PRELOAD=$IPCLAB_BUILD/fixtures/preload_stuck_wake.so"
	start_cache
	start_proxy -n 2 -z 4096
	# A request whose transfer gets a thread stuck in each program.
	(cd "$BATS_TEST_TMPDIR" && timeout "$(scaled 10)" "$LAB_BIN/gfclient_download" \
		-p "$proxy_port" -t 2 -w "$IPCLAB_CONTENT/workload.txt" >/dev/null 2>&1) &
	client=$!
	sleep 1
	stops_within_2s
	kill "$client" 2>/dev/null || true
	grep -h "did not return" "$IPCLAB_LOGDIR/cache.log" "$IPCLAB_LOGDIR/proxy.log" >&3 || true
}

@test "condition variables scribbled during transfers: SIGTERM still ends both within 2 s, names removed" {
	socket_only
	start_cache -c "$IPCLAB_CONTENT/locals.txt" -t 4
	start_proxy -n 4 -z 4096
	(cd "$BATS_TEST_TMPDIR" && timeout "$(scaled 30)" "$LAB_BIN/gfclient_download" \
		-p "$proxy_port" -t 4 -r 400 -w "$IPCLAB_CONTENT/workload.txt" >/dev/null 2>&1) &
	client=$!
	# Words 56..63 of each segment: inside the first condition variable.
	peer scribble 3 56 64 >/dev/null
	stops_within_2s
	kill "$client" 2>/dev/null || true
}
