#!/usr/bin/env bats
# The harness sets each daemon's NAME_pid and NAME_port.
# shellcheck disable=SC2034,SC2154
# tests/run runs it in each variant (the socket variant's locks: hostile_locks.bats):
# ipclab-variants: mqueue socket
# A hostile process of the same user (tests/fixtures/hostile_peer.c) spoils
# the proxy's segments: under a cache worker, or while they sit idle in the
# proxy's pool, it truncates them. The pool must renew what was spoiled and
# never shrink, and neither program may die. And a thread that
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

@test "idle segments truncated in the pool: no SIGBUS, they are renewed, and the pair serves on" {
	start_cache
	start_proxy -n 2 -z 4096
	run peer truncate
	assert_success
	echo "# $output" >&3
	serves_normally
	pool_holds 2 4096
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
	# Two workers, each 1.5 s a lookup: four files, one of them 257
	# chunks, not the whole workload's 23 files (17 s).
	printf '/files/%s\n' size-0.bin size-1.bin size-825.bin size-1048577.bin >"$BATS_TEST_TMPDIR/four.txt"
	serves_normally -w "$BATS_TEST_TMPDIR/four.txt"
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
