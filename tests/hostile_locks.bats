#!/usr/bin/env bats
# The harness sets each daemon's NAME_pid and NAME_port.
# shellcheck disable=SC2034,SC2154
# tests/run runs it in the socket variant, whose segments hold a robust
# mutex and two condition variables:
# ipclab-variants: socket
# and in the guided track only: a design-track student publishes a layout of their own.
# ipclab-track: guided
# A hostile process of the same user (tests/fixtures/hostile_peer.c) takes
# the names an idle segment's replacement would get, dies holding every
# segment's lock, or writes into the condition variables' words, idle or
# during transfers. The pool must renew what was spoiled and never shrink,
# the cache must keep no descriptor of a segment the pool replaced,
# and SIGTERM must still end both programs within 2 s, names removed, even
# with a thread stuck inside glibc's wake-up.

setup() {
	load '/usr/lib/bats/bats-support/load'
	load '/usr/lib/bats/bats-assert/load'
	load 'lib/harness'
	load 'lib/hostile'
	hostile_setup hostile_peer
	[ "$IPCLAB_VARIANT" = socket ] || skip "the socket variant's segment layout"
}

teardown() {
	harness_teardown
}

@test "replacement names taken, then every lock left by a dead owner: the pool never shrinks" {
	start_cache
	start_proxy -n 2 -z 4096
	run peer squat "$proxy_pid" 2 6
	assert_success
	run peer lock-die
	assert_success
	echo "# $output" >&3
	serves_normally
	pool_holds 2 4096
}

@test "4 bytes written into an idle segment's condition variable: it is renewed, and the pair serves on" {
	start_cache
	start_proxy -n 2 -z 4096
	run peer poke 60
	assert_success
	echo "# $output" >&3
	start=$(now_ms)
	serves_normally
	echo "# the workload took $(($(now_ms) - start)) ms" >&3
	pool_holds 2 4096
}

# fds_at_most PID LIMIT: PID has at most LIMIT descriptors open.
fds_at_most() {
	[ "$(fd_count "$1")" -le "$2" ]
}

@test "segments renewed round after round: the cache keeps no descriptor of a removed one" {
	local first round
	start_cache -c "$IPCLAB_CONTENT/locals.txt" -t 4
	start_proxy -n 2 -z 4096
	serves_normally
	first=$(fd_count "$cache_pid")
	# Each round spoils both idle segments, so the pool renews them: new
	# objects under new names, the old ones removed. A worker may keep
	# the live segments it mapped, with their descriptors (at most -t x -n,
	# 4 x 2), never a removed one: more traffic adds no descriptor.
	for round in 1 2 3 4 5; do
		run peer poke 60
		assert_success
		serves_normally
	done
	wait_until 5 fds_at_most "$cache_pid" $((first + 4 * 2)) || {
		echo "simplecached had $first descriptors open after its first round and $(fd_count "$cache_pid") after 5 rounds of renewed segments"
		dump_logs
		false
	}
	echo "# simplecached: $first descriptors after its first round, $(fd_count "$cache_pid") after 5 rounds of renewed segments" >&3
}

@test "condition variables scribbled during transfers: SIGTERM still ends both within 2 s, names removed" {
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
