#!/usr/bin/env bats
# tests/run's plan (--list): which suite runs in which variant and track.
# A suite written for one variant must run wherever that variant is
# tested, not only when it happens to be the first named.

setup() {
	load '/usr/lib/bats/bats-support/load'
	load '/usr/lib/bats/bats-assert/load'
	root=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
}

plan() {
	run timeout 30 bash "$root/tests/run" --list "$@"
	assert_success
}

@test "run plan: a suite marked for some variants runs in each of them under test, and in no other" {
	plan --variant "mqueue socket"
	assert_line $'tests/hostile_socket.bats\tsocket'
	refute_line $'tests/hostile_socket.bats\tmqueue'
	assert_line $'tests/hostile_segments.bats\tmqueue'
	assert_line $'tests/hostile_segments.bats\tsocket'
	assert_line $'tests/hostile_peer.bats\tmqueue'
	assert_line $'tests/hostile_locks.bats\tsocket'
	refute_line $'tests/hostile_locks.bats\tmqueue'
	refute_line $'tests/hostile_peer.bats\tsocket'
	plan --variant socket
	assert_line $'tests/hostile_socket.bats\tsocket'
	refute_line --partial 'hostile_peer.bats'
	plan --variant mqueue
	refute_line --partial 'hostile_socket.bats'
}

@test "run plan: the pair suites run in every variant, the other lab suites once" {
	local suite
	plan --variant "mqueue socket"
	for suite in "$root"/tests/solution_*.bats; do
		suite=tests/$(basename "$suite")
		assert_line "$suite"$'\tmqueue'
		assert_line "$suite"$'\tsocket'
	done
	assert_line $'tests/protocol.bats\tmqueue'
	refute_line $'tests/protocol.bats\tsocket'
}

@test "run plan: a suite of one track is not run in the other" {
	IPCLAB_TRACK=design plan --variant mqueue
	refute_line --partial 'hostile_peer.bats'
	IPCLAB_TRACK=design plan --variant socket
	refute_line --partial 'hostile_locks.bats'
	IPCLAB_TRACK=guided plan --variant mqueue
	assert_line $'tests/hostile_peer.bats\tmqueue'
	refute_line $'tests/hostile_locks.bats\tmqueue'
}

@test "run plan: a suite named by a relative path runs in every variant, as by its full path" {
	cd "$root/tests"
	plan --variant "mqueue socket" solution_transfer.bats
	assert_line $'tests/solution_transfer.bats\tmqueue'
	assert_line $'tests/solution_transfer.bats\tsocket'
}
